package hybridclients

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"

	"github.com/google/uuid"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/clientinfo"
	"github.com/ocs-go/identity/internal/clock"
	"github.com/ocs-go/identity/internal/idserver"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/telemetry"
	"github.com/ocs-go/identity/internal/transport"
	"github.com/ocs-go/identity/internal/validate"
	"github.com/ocs-go/identity/secrets"
)

// Client calls the Hybrid Clients routes of one tenant. It is safe for concurrent use;
// make one per tenant with New and share it. A zero or nil Client sends nothing: every
// call returns an error matching identity.ErrInvalidInput that says to use New.
type Client struct {
	t       *transport.Client
	secrets *secrets.Client
	newID   func() string
	randN   func(int) int   // random in [0, n): picks the first secret's marker; tests set it
	cfg     identity.Config // for SignIn: resource, tenant, base HTTP client
}

// New returns a Client for cfg. It validates cfg (every broken rule at once) and makes no
// network call: the first token is fetched by the first call.
func New(cfg identity.Config) (*Client, error) {
	v, err := newClient(cfg)
	return v, rules.Prefixed(pkgName, err)
}

func newClient(cfg identity.Config) (*Client, error) {
	// One base transport for both packages, so they share connections as well as the
	// token (which the Credentials value caches). Only its Transport and Timeout are used.
	cfg.HTTPClient = idserver.NewClient(idserver.Base(cfg.HTTPClient))
	t, err := transport.New(cfg)
	if err != nil {
		return nil, err
	}
	s, err := secrets.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{t: t, secrets: s, newID: uuid.NewString, randN: rand.IntN, cfg: cfg}, nil
}

// CloseIdleConnections closes idle connections of the Client (and of its Secrets client,
// which shares them). Call it when you are done with a Client you made without your own
// Config.HTTPClient, so its pooled connections do not wait for their idle timeout.
func (c *Client) CloseIdleConnections() {
	if c.ready() == nil {
		c.t.CloseIdleConnections()
	}
}

// Secrets returns the client of the hybrid clients' secrets routes, sharing this Client's
// connections and token. For a zero or nil Client it is nil, whose calls return errors.
func (c *Client) Secrets() *secrets.Client {
	if c == nil {
		return nil
	}
	return c.secrets
}

// ready refuses a Client that New did not make: a zero Client has no transport, and a
// call would otherwise panic.
func (c *Client) ready() error {
	if c != nil && c.t != nil && c.secrets != nil && c.newID != nil {
		return nil
	}
	v := "zero Client"
	if c == nil {
		v = "nil *Client"
	}
	return &identity.ValidationError{Field: "hybridclients.Client", Rule: "must be made with hybridclients.New; a zero or nil Client cannot send requests", Value: v}
}

const collection = "HybridClients"

// pkgName starts the text of every error this package's functions and methods return
// (see the identity package's Errors section).
const pkgName = "hybridclients"

// Get returns the hybrid client with the given id (a GUID). A missing client is an error
// matching identity.ErrNotFound.
func (c *Client) Get(ctx context.Context, id string) (*HybridClient, error) {
	ctx, op := c.tel().Start(ctx, "hybridclients.Get", id)
	v, err := c.get(ctx, id)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return v, err
}

func (c *Client) get(ctx context.Context, id string) (*HybridClient, error) {
	if err := errors.Join(c.ready(), validate.GUID("ID", id)); err != nil {
		return nil, err
	}
	var w wireClient
	if _, err := c.t.Do(ctx, transport.Request{Method: http.MethodGet, Path: []string{collection, id}}, &w); err != nil {
		return nil, err
	}
	hc := w.toClient()
	return &hc, nil
}

// Exists reports whether the hybrid client with the given id exists (HEAD, no body).
// A missing client is false with a nil error. A HEAD answer has no body, so a 404 cannot
// tell a missing client from an unknown tenant: with a mistyped TenantID, Exists reports
// false, and every other call fails with identity.ErrNotFound.
func (c *Client) Exists(ctx context.Context, id string) (bool, error) {
	ctx, op := c.tel().Start(ctx, "hybridclients.Exists", id)
	v, err := c.exists(ctx, id)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return v, err
}

func (c *Client) exists(ctx context.Context, id string) (bool, error) {
	if err := errors.Join(c.ready(), validate.GUID("ID", id)); err != nil {
		return false, err
	}
	_, err := c.t.Do(ctx, transport.Request{Method: http.MethodHead, Path: []string{collection, id}}, nil)
	if errors.Is(err, identity.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Delete removes the hybrid client with the given id and its secrets. Its access tokens
// stay valid until they expire, its refresh tokens for up to an hour. A missing client is
// an error matching identity.ErrNotFound, except when a retry of this same call meets
// it: then an earlier attempt did the deletion, and Delete returns nil.
func (c *Client) Delete(ctx context.Context, id string) error {
	ctx, op := c.tel().Start(ctx, "hybridclients.Delete", id)
	err := rules.Prefixed(pkgName, c.delete(ctx, id))
	op.End(err)
	return err
}

func (c *Client) delete(ctx context.Context, id string) error {
	if err := errors.Join(c.ready(), validate.GUID("ID", id)); err != nil {
		return err
	}
	resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodDelete, Path: []string{collection, id}}, nil)
	if errors.Is(err, identity.ErrNotFound) && resp != nil && resp.EarlierAttemptMayHaveActed {
		return nil
	}
	return err
}

func init() {
	clientinfo.Of = func(v any) clientinfo.Info {
		c, _ := v.(*Client)
		info := clientinfo.Info{Clock: clock.System{}, Telemetry: c.tel()}
		if c != nil {
			info.Clock = clock.Of(c.cfg.Clock)
			info.TenantID, info.Resource = c.cfg.TenantID, c.cfg.Resource
		}
		return info
	}
}

// tel is the Client's telemetry (nil: none, or a zero or nil Client).
func (c *Client) tel() *telemetry.Telemetry {
	if c == nil {
		return nil
	}
	return c.t.Telemetry()
}
