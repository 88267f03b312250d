package secrets

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/clock"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/telemetry"
	"github.com/ocs-go/identity/internal/transport"
	"github.com/ocs-go/identity/internal/validate"
)

// route is the collection whose clients' secrets a Client manages: the service has the
// same secrets routes for hybrid clients and for client-credential clients.
type route string

const (
	hybridRoute           route = "HybridClients"
	clientCredentialRoute route = "ClientCredentialClients"
)

// pkgName starts the text of every error this package's functions and methods return
// (see the identity package's Errors section).
const pkgName = "secrets"

// MaxPerClient is the service's limit of secrets per client.
const MaxPerClient = 10

// Client calls the secrets routes of one tenant's hybrid clients (New) or client-credential
// clients (NewForClientCredentialClients). Every operation needs the Tenant Administrator
// role. It is safe for concurrent use. Make one with New (or hybridclients.Client.Secrets):
// a zero or nil Client sends nothing, and every call returns an error matching
// identity.ErrInvalidInput that says so.
type Client struct {
	t    *transport.Client
	kind route
	now  func() time.Time // Config.Clock's Now: defaults, expiry checks, rotation and grace periods
	// clk is Config.Clock, which the waits of a rotation's proof wait on (clock.Wait).
	clk identity.Clock
	// tokenURL is the token endpoint that discovery named, read once, for the proofs.
	tokenURL atomic.Pointer[string]
	// randN returns a random number in [0, n): it picks each add's marker; tests set it.
	randN func(int) int
	// claims are the markers of this Client's adds still in flight, so that two
	// concurrent adds through one Client never carry the same marker.
	claims *claims
	// probeBound is probeTimeout; tests set it.
	probeBound time.Duration
}

// New returns a Client for the secrets of cfg's tenant's hybrid clients. It validates cfg
// and makes no network call. hybridclients.Client.Secrets returns one that shares the
// hybrid clients' connections and token.
func New(cfg identity.Config) (*Client, error) {
	v, err := newClient(cfg, hybridRoute)
	return v, rules.Prefixed(pkgName, err)
}

// NewForClientCredentialClients returns a Client for the secrets of cfg's tenant's
// client-credential clients: the service's twin routes
// (/ClientCredentialClients/{clientId}/Secrets), with the same operations and rules as
// those of hybrid clients. It validates cfg and makes no network call.
func NewForClientCredentialClients(cfg identity.Config) (*Client, error) {
	v, err := newClient(cfg, clientCredentialRoute)
	return v, rules.Prefixed(pkgName, err)
}

func newClient(cfg identity.Config, kind route) (*Client, error) {
	t, err := transport.New(cfg)
	if err != nil {
		return nil, err
	}
	clk := clock.Of(cfg.Clock)
	return &Client{t: t, kind: kind, now: clk.Now, clk: clk, randN: rand.IntN, claims: &claims{}, probeBound: probeTimeout}, nil
}

// CloseIdleConnections closes idle connections of the Client, as
// http.Client.CloseIdleConnections does.
func (c *Client) CloseIdleConnections() {
	if c.ready() == nil {
		c.t.CloseIdleConnections()
	}
}

// ready refuses a Client that New did not make: a zero Client has no transport, and a
// call would otherwise panic.
func (c *Client) ready() error {
	if c != nil && c.t != nil && c.now != nil && c.clk != nil && (c.kind == hybridRoute || c.kind == clientCredentialRoute) {
		return nil
	}
	v := "zero Client"
	if c == nil {
		v = "nil *Client"
	}
	return &identity.ValidationError{Field: "secrets.Client", Rule: "must be made with secrets.New or hybridclients.Client.Secrets; a zero or nil Client cannot send requests", Value: v}
}

// path returns the route segments of a client's secrets, or of one secret for each id
// given, after checking the Client and the ids: every broken rule at once, joined.
func (c *Client) path(clientID string, secretID ...int) ([]string, error) {
	ready := c.ready()
	errs := []error{ready, validate.GUID("ClientID", clientID)}
	var p []string
	if ready == nil {
		p = []string{string(c.kind), clientID, "Secrets"}
	}
	for _, n := range secretID {
		if n <= 0 || n > 1<<31-1 {
			errs = append(errs, &identity.ValidationError{Field: "SecretID", Rule: "must be a positive 32-bit integer", Value: n})
		}
		p = append(p, strconv.Itoa(n))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// prepare checks a write's request body together with the errors of path (pathErr), so
// that a bad client id is reported with the request's other broken rules, as the
// hybridclients package does. wire builds the body at the Client's clock.
func (c *Client) prepare(pathErr error, wire func(now time.Time) (*wireWrite, error)) (*wireWrite, error) {
	now := time.Now
	if c.ready() == nil {
		now = c.now
	}
	body, err := wire(now())
	if err := errors.Join(pathErr, err); err != nil {
		return nil, err
	}
	return body, nil
}

// tel is the Client's telemetry (nil: none, or a zero or nil Client).
func (c *Client) tel() *telemetry.Telemetry {
	if c == nil {
		return nil
	}
	return c.t.Telemetry()
}
