package hybridclients

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/clock"
	"github.com/ocs-go/identity/internal/marker"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/settle"
	"github.com/ocs-go/identity/internal/telemetry"
	"github.com/ocs-go/identity/internal/transport"
	"github.com/ocs-go/identity/internal/validate"
	"github.com/ocs-go/identity/secrets"
)

// CreateRequest describes a new hybrid client and its first secret: what a Tenant
// Administrator enters in the portal's Add Client and Add Secret windows.
type CreateRequest struct {
	// ID is the client id to use, a GUID. Empty means the SDK generates one, so that a
	// retried create can be recognised as this call's. With an ID of your own, Create
	// first checks (HEAD) that no such client exists, and refuses (identity.ErrConflict)
	// when one does, never touching it: see Create.
	ID string
	// Name identifies the application; required. Like Tags and SecretDescription it must
	// not hold control characters (newlines, tabs, ANSI escapes), U+2028, U+2029 or
	// bidirectional formatting characters: names reach terminals, portals and logs.
	Name string
	// Enabled says whether the client may sign users in; nil (the zero value) creates it
	// enabled, identity.Ptr(false) creates it disabled. A pointer, as in UpdateRequest, so
	// that the zero CreateRequest still creates an enabled client.
	Enabled *bool
	// AllowRefreshTokens lets the application use refresh tokens (offline_access); off
	// unless chosen, as in the portal.
	AllowRefreshTokens bool
	// RedirectURIs: 1 to 10 URIs, matched exactly at sign-in (a "*" is not a pattern), in
	// the forms of web apps and of native apps (RFC 8252, OAuth 2.0 for Native Apps):
	//
	//   - https://host/path: a web app, or a native app's claimed https URL;
	//   - http://127.0.0.1:{port}/path (or [::1], localhost): a native app's loopback
	//     listener, registered with the port it listens on, as the service matches exactly;
	//   - com.example.app:/path: a native app's private-use scheme, best a domain you own
	//     in reverse order (RFC 8252 7.1); schemes without a period (myapp://callback) are
	//     accepted too;
	//   - http on any other host: for development only, as it shows the code on the network.
	//
	// Refused: schemes that run or show something in the browser or device (javascript:,
	// vbscript:, data:, blob:, file:, filesystem:, about:, view-source:, intent:), those
	// of other protocols (ftp:, ftps:, sftp:, tftp:, ws:, wss:, ssh:, telnet:, gopher:,
	// ldap:, ldaps:, smb:, nfs:, mailto:, tel:, sms:, news:, nntp:, irc:, urn:), look-alikes
	// of http and https (a scheme starting with http or hxxp, or one letter off: htps:,
	// httpss:, hxxps:), a scheme outside RFC 3986's syntax, http(s) without a host, a
	// private-use URI without "/" after its scheme (localhost:8400/cb is a forgotten
	// http://), user info (user:password@), a port outside 1 to 65535, a fragment, a "*",
	// a backslash, whitespace and control characters.
	RedirectURIs []string
	// PostLogoutRedirectURIs: up to 10 URIs, matched exactly, under the rules of
	// RedirectURIs (a native app's com.example.app:/signed-out, too).
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
	// now (the portal's default); secrets.NeverExpires() is the explicit alternative. The
	// expiry stored may be up to an hour (at most a tenth of the lifetime) earlier than
	// asked: it marks the secret as this call's (see "How Create settles a lost answer"
	// in the package doc). Created.Secret holds the expiry as stored.
	SecretExpiry secrets.Expiry
}

// Validate reports every broken rule of the request at once, as Create does before it
// sends anything: nil, or *identity.ValidationError values joined (errors.Is(err,
// identity.ErrInvalidInput); identity.ValidationErrors lists them). It makes no call, so
// a tool can check many requests (a desired-state file) before changing anything.
func (r CreateRequest) Validate() error {
	_, err := r.validate(time.Now(), func() string { return "" })
	return rules.Prefixed(pkgName, err)
}

// validate reports every broken rule and returns the wire body to send, with the defaults
// filled in.
func (r CreateRequest) validate(now time.Time, newID func() string) (*wireCreate, error) {
	var v validate.Errors
	if r.ID != "" {
		if err := validate.GUID("ID", r.ID); err != nil {
			v = append(v, err)
		}
	}
	v.Name("Name", r.Name)
	v.Redirects("RedirectURIs", r.RedirectURIs, 1, MaxRedirectURIs)
	v.Redirects("PostLogoutRedirectURIs", r.PostLogoutRedirectURIs, 0, MaxPostLogoutRedirectURIs)
	lifetime := r.AccessTokenLifetime
	if lifetime == 0 {
		lifetime = DefaultAccessTokenLifetime
	}
	v.Lifetime("AccessTokenLifetime", lifetime, MinAccessTokenLifetime, MaxAccessTokenLifetime)
	v.Tags("Tags", r.Tags)
	if r.ClientURI != "" {
		v.WebURI("ClientURI", r.ClientURI)
	}
	if r.LogoURI != "" {
		v.WebURI("LogoURI", r.LogoURI)
	}
	v.Text("SecretDescription", r.SecretDescription)
	exp := r.SecretExpiry
	if exp.IsZero() {
		exp = secrets.ExpiresAt(now.AddDate(1, 0, 0))
	}
	at, never, err := validate.ExpiryAt("SecretExpiry", exp, now)
	v.Append(err)
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
			Enabled:                     identity.Ptr(r.Enabled == nil || *r.Enabled),
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
// error matching identity.ErrConflict, and that client and its secrets are left alone.
//
// Create is safe to retry, and retries itself, although the service's create is not
// idempotent: it sends at most RetryPolicy.MaxAttempts POSTs, and after a lost answer it
// ends with the client and one secret whose value it returns, or with an
// *identity.OutcomeError (identity.ErrOutcomeUnknown) whose ClientMayExist, Orphans and
// Unclaimed say what may be left. It deletes a secret only with proof that this call made
// it, and never touches a client or secret that may be someone else's. "How Create
// settles a lost answer" in the package doc tells how.
func (c *Client) Create(ctx context.Context, req CreateRequest) (*Created, error) {
	ctx, op := c.tel().Start(ctx, "hybridclients.Create", req.ID)
	v, err := c.create(ctx, req, op)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return v, err
}

func (c *Client) create(ctx context.Context, req CreateRequest, op *telemetry.Op) (*Created, error) {
	if err := c.ready(); err != nil {
		return nil, err
	}
	now := clock.Of(c.cfg.Clock).Now()
	body, err := req.validate(now, c.newID)
	if err != nil {
		return nil, err
	}
	op.Client(*body.ID)
	st := c.mark(body, req.ID != "", now)
	if st.callerID {
		if err := c.absent(ctx, *body.ID); err != nil {
			return nil, err
		}
	}
	posted := settle.Repeat(ctx, c.t, func(ctx context.Context, b *transport.Budget) (*Created, error) {
		return c.post(ctx, st, b) // a repeat meets 409: the client id tells
	})
	if !posted.Unsettled {
		return posted.Value, posted.Err
	}
	return c.settle(ctx, st, posted.Err, posted.Acted)
}

// absent makes sure that no client with a caller's id exists before anything is sent:
// the id may be an older client's (a re-run provisioning script), and a later 409 after
// a lost answer must not be taken for this call's.
func (c *Client) absent(ctx context.Context, id string) error {
	exists, err := c.exists(ctx, id)
	if err != nil {
		return fmt.Errorf("checking whether client %s exists before creating it (nothing was created): %w", id, err)
	}
	if exists {
		return fmt.Errorf("client %s exists already; nothing was sent to create it, and it was left as it is: %w", id, identity.ErrConflict)
	}
	return nil
}

// post sends the create once.
func (c *Client) post(ctx context.Context, st *createState, b *transport.Budget) (*Created, error) {
	var w wireCreated
	resp, err := c.t.Do(ctx, transport.Request{Method: http.MethodPost, Path: []string{collection}, Body: st.body, Budget: b}, &w)
	if err != nil {
		return nil, err
	}
	return w.toCreated(resp)
}

// settle settles a create whose answer was lost or unusable (failure), after the POSTs:
// if no attempt created the client, failure stands; if one did, its first secret's value
// was lost, and replaceFirstSecret replaces that secret when it is provably this call's.
// acted: a 2xx answered this very POST, so the client is this call's.
func (c *Client) settle(ctx context.Context, st *createState, failure error, acted bool) (*Created, error) {
	if acted {
		return c.replaceFirstSecret(ctx, st, true, failure)
	}
	exists, err := c.exists(ctx, *st.body.ID)
	if err != nil {
		return nil, c.left(ctx, st, !st.callerID, errors.Join(failure, err))
	}
	if !exists {
		return nil, transport.Settled(failure) // looked: nothing was created
	}
	// A generated id is known to nobody else: the client is this call's. A caller's id
	// was absent before the first POST, but another caller may have created it since.
	return c.replaceFirstSecret(ctx, st, !st.callerID, failure)
}

const opCreate = "create hybrid client"

// createState is what Create knows about its request while it settles a lost answer.
type createState struct {
	body     *wireCreate
	callerID bool       // the id came from the caller: its client may be someone else's
	asked    *time.Time // the first secret's expiry as asked (nil: never expires)
	proof    bool       // the first secret carries a marker that proves it this call's
}

// mark moves body's secret expiry to this call's marker (see CreateRequest.SecretExpiry)
// and returns what Create knows about its request.
func (c *Client) mark(body *wireCreate, callerID bool, now time.Time) *createState {
	st := &createState{body: body, callerID: callerID}
	if at := body.SecretExpirationDate; at != nil {
		asked := *at
		st.asked = &asked
		marked, ok := marker.Mark(asked, now, nil, c.randN)
		body.SecretExpirationDate, st.proof = &marked, ok
	}
	return st
}

// replaceFirstSecret handles a client that an attempt of this call probably created but
// whose first secret's value was lost: when the secret is provably this call's (see
// Create) it deletes it and adds a fresh one with the requested description and expiry,
// through secrets.Client.Add, which settles its own lost answers. ours says whether the
// client is provably this call's.
func (c *Client) replaceFirstSecret(ctx context.Context, st *createState, ours bool, cause error) (*Created, error) {
	id := *st.body.ID
	hc, err := settle.Read(ctx, c.t, func(ctx context.Context) (*HybridClient, error) { return c.get(ctx, id) })
	if err != nil {
		return nil, c.left(ctx, st, ours, errors.Join(cause, err))
	}
	// A client id given by the caller may belong to another client: never touch one that
	// is not what this call asked for.
	if !ours && (hc.Name != *st.body.Name || !slices.Equal(hc.RedirectURIs, st.body.RedirectURIs)) {
		return nil, fmt.Errorf("%w: client %s exists but is not the one this call tried to create; it was left as it is: %w", cause, id, identity.ErrConflict)
	}
	page, err := settle.Read(ctx, c.t, func(ctx context.Context) (*secrets.Page, error) {
		p, err := c.secrets.List(ctx, id, secrets.ListOptions{PageSize: secrets.MaxPerClient})
		return p, rules.Unprefixed(err)
	})
	if err != nil {
		return nil, c.left(ctx, st, ours, errors.Join(cause, err))
	}
	mine, others := st.sort(ours, page.Secrets)
	if len(mine) != 1 {
		// Nothing proves which secret (if any) is this call's: delete nothing.
		return nil, &identity.OutcomeError{Op: opCreate, ClientID: id, ClientMayExist: true, Unclaimed: append(mine, others...), Err: fmt.Errorf(
			"%w; the client exists, but none of its secrets can be proven to be this call's, so none was deleted", cause)}
	}
	if err := rules.Unprefixed(c.secrets.Delete(ctx, id, mine[0])); err != nil {
		return nil, &identity.OutcomeError{Op: opCreate, ClientID: id, ClientMayExist: true, Orphans: mine, Unclaimed: others, Err: errors.Join(cause, err)}
	}
	exp := secrets.NeverExpires()
	if st.asked != nil {
		exp = secrets.ExpiresAt(*st.asked)
	}
	added, err := c.secrets.Add(ctx, id, secrets.AddRequest{Description: st.body.SecretDescription, Expiry: exp})
	if err := rules.Unprefixed(err); err != nil {
		oe := &identity.OutcomeError{Op: opCreate, ClientID: id, ClientMayExist: true, Unclaimed: others, Err: errors.Join(cause,
			fmt.Errorf("the client exists; its first secret %d, whose value was lost, was deleted; adding a fresh one failed: %w", mine[0], err))}
		var ae *identity.OutcomeError
		if errors.As(err, &ae) {
			oe.Orphans, oe.Unclaimed = ae.Orphans, append(oe.Unclaimed, ae.Unclaimed...)
		}
		return nil, oe
	}
	return &Created{Client: *hc, Secret: *added}, nil
}

// sort splits the secrets of the client into the one(s) provably this call's first secret
// and the others. With a client provably this call's, its secret with the requested
// description and (marked) expiry is. Otherwise (a caller's id) only a marker is proof,
// and only on the client's sole secret: a client someone else made meanwhile could hold
// a look-alike.
func (st *createState) sort(clientOurs bool, ss []secrets.ClientSecret) (mine, others []int) {
	for _, s := range ss {
		if st.matches(s) && (clientOurs || (st.proof && len(ss) == 1)) {
			mine = append(mine, s.ID)
		} else {
			others = append(others, s.ID)
		}
	}
	return mine, others
}

// matches reports whether s has the first secret's description and expiry as sent.
func (st *createState) matches(s secrets.ClientSecret) bool {
	return marker.Carries(s.Description, s.Expiry.At(), st.body.SecretDescription, st.body.SecretExpirationDate)
}

// left is the error of a create that failed (err) once its client may exist: an
// *identity.OutcomeError with ClientMayExist set, naming the client's secrets as far as
// one more listing can tell. That listing runs under settle.NamingContext: past ctx's end
// if need be, bounded, and never deleting.
func (c *Client) left(ctx context.Context, st *createState, clientOurs bool, err error) error {
	id := *st.body.ID
	oe := &identity.OutcomeError{Op: opCreate, ClientID: id, ClientMayExist: true, Err: err}
	lctx, cancel := settle.NamingContext(ctx)
	defer cancel()
	page, lerr := settle.ReadPatiently(lctx, c.t, func(ctx context.Context) (*secrets.Page, error) {
		return c.secrets.List(ctx, id, secrets.ListOptions{PageSize: secrets.MaxPerClient})
	})
	if lerr == nil {
		mine, others := st.sort(clientOurs, page.Secrets)
		if len(mine) == 1 {
			oe.Orphans, oe.Unclaimed = mine, others
		} else {
			oe.Unclaimed = append(mine, others...)
		}
	}
	return oe
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
			ClientSecret: secrets.ClientSecret{ID: int(*w.ID), Description: deref(w.Description), Expiry: exp},
			Value:        identity.NewSecret(*w.Secret),
		},
	}, nil
}
