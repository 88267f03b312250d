package hybridclients

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/transport"
	"github.com/ocs-go/identity/secrets"
)

// CreateRequest describes a new hybrid client and its first secret: what a Tenant
// Administrator enters in the portal's Add Client and Add Secret windows.
type CreateRequest struct {
	// ID is the client id to use, a GUID. Empty means the SDK generates one, so that a
	// retried create can be recognised.
	ID string
	// Name identifies the application; required. Like Tags and SecretDescription it must
	// not hold control characters (newlines, tabs, ANSI escapes), U+2028, U+2029 or
	// bidirectional formatting characters: names reach terminals, portals and logs.
	Name string
	// Disabled creates the client disabled; by default it is enabled.
	Disabled bool
	// AllowRefreshTokens lets the application use refresh tokens (offline_access); off
	// unless chosen, as in the portal.
	AllowRefreshTokens bool
	// RedirectURIs: 1 to 10 URLs, matched exactly at sign-in. Each must be an absolute
	// https URL with a host, or http on any host: the service may accept plain http for
	// development, but outside loopback (localhost, 127.0.0.1, [::1]) it exposes the
	// authorization code on the network, so use https in production. A hybrid client is a
	// server-side web app, so javascript:, data:, file: and private-use schemes of native
	// apps (com.example.app:/cb) are refused, as are user info (user:password@), a
	// fragment, a "*" (not a pattern), a backslash, whitespace and control characters.
	RedirectURIs []string
	// PostLogoutRedirectURIs: up to 10 URLs, matched exactly, under the rules of
	// RedirectURIs.
	PostLogoutRedirectURIs []string
	// AccessTokenLifetime: whole seconds from 1 minute to 1 hour; zero means 1 hour.
	AccessTokenLifetime time.Duration
	// Tags are described by the service as for its internal use; each must be non-blank text
	// under the rules of Name.
	Tags []string
	// ClientURI and LogoURI: absolute http(s) URLs without user info, optional.
	ClientURI                   string
	LogoURI                     string
	AllowAccessTokensViaBrowser bool

	// SecretDescription describes the first secret; text under the rules of Name.
	SecretDescription string
	// SecretExpiry is when the first secret expires: the zero value means one year from
	// now (the portal's default); secrets.NeverExpires() is the explicit alternative.
	SecretExpiry secrets.Expiry
}

// validate reports every broken rule and returns the wire body to send, with the defaults
// filled in.
func (r CreateRequest) validate(now time.Time, newID func() string) (*wireCreate, error) {
	var v rules
	if r.ID != "" {
		if err := identity.ValidateGUID("ID", r.ID); err != nil {
			v = append(v, err)
		}
	}
	v.name("Name", r.Name)
	v.redirects("RedirectURIs", r.RedirectURIs, 1, MaxRedirectURIs)
	v.redirects("PostLogoutRedirectURIs", r.PostLogoutRedirectURIs, 0, MaxPostLogoutRedirectURIs)
	lifetime := r.AccessTokenLifetime
	if lifetime == 0 {
		lifetime = DefaultAccessTokenLifetime
	}
	v.lifetime("AccessTokenLifetime", lifetime)
	v.tags("Tags", r.Tags)
	if r.ClientURI != "" {
		v.webURI("ClientURI", r.ClientURI)
	}
	if r.LogoURI != "" {
		v.webURI("LogoURI", r.LogoURI)
	}
	v.text("SecretDescription", r.SecretDescription)
	at, never, err := r.SecretExpiry.Resolve("SecretExpiry", now, secrets.ExpiresAt(now.AddDate(1, 0, 0)))
	if err != nil {
		v = append(v, err)
	}
	if err := errors.Join(v...); err != nil {
		return nil, err
	}
	id := r.ID
	if id == "" {
		id = newID()
	}
	secs := int32(lifetime / time.Second)
	w := &wireCreate{
		wireClient: wireClient{
			ID:                          &id,
			Name:                        &r.Name,
			Enabled:                     identity.Ptr(!r.Disabled),
			AccessTokenLifetime:         &secs,
			Tags:                        r.Tags,
			RedirectURIs:                r.RedirectURIs,
			PostLogoutRedirectURIs:      r.PostLogoutRedirectURIs,
			AllowOfflineAccess:          &r.AllowRefreshTokens,
			AllowAccessTokensViaBrowser: &r.AllowAccessTokensViaBrowser,
		},
		SecretDescription: r.SecretDescription,
	}
	if r.ClientURI != "" {
		w.ClientURI = &r.ClientURI
	}
	if r.LogoURI != "" {
		w.LogoURI = &r.LogoURI
	}
	if !never {
		w.SecretExpirationDate = &at
	}
	return w, nil
}

// Create adds a hybrid client with its first secret, as the portal's Add Client does, and
// returns both. The secret's value is in the result only: the service never shows it
// again, so store it at once (Created.Secret.Value.WriteFile, or your vault).
//
// The request is checked first: every broken rule comes back at once (errors.Is(err,
// identity.ErrInvalidInput)) and nothing is sent. A client id that exists already is an
// error matching identity.ErrConflict.
//
// Create is safe to retry although the service's create is not idempotent: it always
// sends a client id, so when an attempt's answer is lost (connection cut after sending,
// 408, 5xx) and a retry meets 409, or the answer came without a usable secret, Create
// knows the client was made and its one-time secret lost on the way. It then deletes that
// orphan secret, adds a fresh one with the same description and expiry, and returns the
// client with the fresh value. You end with exactly one usable secret, or with an error
// matching identity.ErrOutcomeUnknown (an *identity.OutcomeError naming the client and any
// secret left behind) when that cannot be established before ctx ends.
func (c *Client) Create(ctx context.Context, req CreateRequest) (*Created, error) {
	if err := c.ready(); err != nil {
		return nil, err
	}
	body, err := req.validate(time.Now(), c.newID)
	if err != nil {
		return nil, err
	}
	uncertain := false // an earlier attempt may have created the client
	for attempt := 1; ; attempt++ {
		var w wireCreated
		resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodPost, Path: []string{collection}, Body: body}, &w)
		if err == nil {
			if created, cerr := w.toCreated(resp); cerr == nil {
				return created, nil
			} else {
				err = cerr
			}
		}
		switch transport.OutcomeOf(err) {
		case transport.ActedUnreadable:
			return c.recoverSecret(ctx, body, err)
		case transport.NotActed:
			if !uncertain {
				return nil, err
			}
			return c.settle(ctx, body, err) // e.g. 409: did an earlier attempt create it?
		}
		uncertain = true
		if attempt >= c.t.MaxAttempts() || c.t.Wait(ctx, attempt, err) != nil {
			return c.settle(ctx, body, err)
		}
	}
}

const opCreate = "create hybrid client"

// settle finds out whether an earlier attempt, whose answer was lost, created the client:
// if not, failure stands; if so, its secret is recovered.
func (c *Client) settle(ctx context.Context, body *wireCreate, failure error) (*Created, error) {
	id := *body.ID
	exists, err := c.Exists(ctx, id)
	if err != nil {
		return nil, &identity.OutcomeError{Op: opCreate, ClientID: id, ClientMayExist: true, Err: errors.Join(failure, err)}
	}
	if !exists {
		return nil, transport.Settled(failure) // looked: nothing was created
	}
	return c.recoverSecret(ctx, body, failure)
}

// recoverSecret handles a client that this call created but whose first secret's value
// was lost: it deletes the client's secrets (nobody holds their values) and adds a fresh
// one with the requested description and expiry.
func (c *Client) recoverSecret(ctx context.Context, body *wireCreate, cause error) (*Created, error) {
	id := *body.ID
	fail := func(left []int, err error) (*Created, error) {
		return nil, &identity.OutcomeError{Op: opCreate, ClientID: id, Orphans: left, Err: errors.Join(cause, err)}
	}
	hc, err := c.Get(ctx, id)
	if err != nil {
		return fail(nil, err)
	}
	// A client id given by the caller may belong to an older client: never touch one that
	// is not what this call asked for.
	if hc.Name != *body.Name || !slices.Equal(hc.RedirectURIs, body.RedirectURIs) {
		return nil, fmt.Errorf("%w: client %s exists but is not the one this call tried to create", cause, id)
	}
	sec := c.secrets
	page, err := sec.List(ctx, id, secrets.ListOptions{Count: secrets.MaxPerClient})
	if err != nil {
		return fail(nil, err)
	}
	orphans := make([]int, 0, len(page.Secrets))
	for _, s := range page.Secrets {
		orphans = append(orphans, s.ID)
	}
	for i, sid := range orphans {
		if err := sec.Delete(ctx, id, sid); err != nil {
			return fail(orphans[i:], err)
		}
	}
	exp := secrets.NeverExpires()
	if body.SecretExpirationDate != nil {
		exp = secrets.ExpiresAt(*body.SecretExpirationDate)
	}
	added, err := sec.Add(ctx, id, secrets.AddRequest{Description: body.SecretDescription, Expiry: exp})
	if err != nil {
		return fail(nil, err)
	}
	return &Created{Client: *hc, Secret: *added}, nil
}

// toCreated checks that the answer holds what the caller needs: a value and a client id.
func (w *wireCreated) toCreated(resp *transport.Response) (*Created, error) {
	if w.Secret == nil || *w.Secret == "" || w.ID == nil || w.Client.ID == nil {
		return nil, &identity.ResponseError{StatusCode: resp.StatusCode, Method: resp.Method, Path: resp.Path,
			Err: errors.New("the answer lacks the secret's value, its id or the client id")}
	}
	exp := secrets.NeverExpires()
	if w.ExpirationDate != nil {
		exp = secrets.ExpiresAt(*w.ExpirationDate)
	}
	return &Created{
		Client: w.Client.toClient(),
		Secret: secrets.Added{
			Metadata: secrets.Metadata{ID: int(*w.ID), Description: deref(w.Description), Expiry: exp},
			Value:    identity.NewSecret(*w.Secret),
		},
	}, nil
}
