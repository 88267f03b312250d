// Package emulator is an in-memory, faithful fake of the CONNECT data services (formerly
// OCS) Identity API for hybrid clients and their secrets, written from the public API
// reference alone. It serves OpenID discovery, a client-credentials token endpoint and every
// Hybrid Clients and Secrets route, with the service's status codes, limits, roles and
// one-time secret values (kept only as salted hashes), and lets tests inject faults.
//
// It deliberately imports no package of the SDK, so that the SDK cannot pass by sharing a
// mistake with its own fake.
//
// # Sign-in
//
// Beside the management API the emulator is the identity server a hybrid client signs users
// in with (OpenID Connect authorization-code flow with PKCE; hybrid response types too). It
// reads the same client records, so a setting changed through the API changes sign-in,
// after Options.PropagationDelay. Endpoints, under {base}/identity as IdentityServer has them
// and as discovery announces them:
//
//	GET       /identity/.well-known/openid-configuration       discovery
//	GET       /identity/.well-known/openid-configuration/jwks  the RS256 public key (kid)
//	GET, POST /identity/connect/authorize                       the sign-in page
//	POST      /identity/account/login                           the sign-in page's form
//	POST      /identity/connect/token                           client_credentials, authorization_code, refresh_token
//	GET, POST /identity/connect/userinfo                        the user's claims (Bearer access token)
//	GET, POST /identity/connect/endsession                      RP-initiated logout
//
// The pages are plain HTML whose element ids are stable, for browser tests:
//
//	sign-in page (200): form#signin with select#user (name "user", one option per user,
//	  value = subject, the default user first; login_hint preselects), input#username
//	  (name "username": a name, email or subject typed in; wins over the select),
//	  button#submit, button#cancel; #client-name, #client-id, #tenant; p#signin-error
//	  when the user was not found.
//	error page (400, never a redirect): h1#error, code#error-code (the OAuth error code),
//	  #error-description.
//	signed-out page (200): h1#signed-out; when a post-logout redirect was refused also
//	  p#logout-error with code#error-code and #error-description.
//	form_post page (200): form#form-post, submitted by a script.
//
// Every tenant starts with one user, DefaultUserName <DefaultUserEmail>; AddUser adds more.
//
// # What the sign-in plane enforces
//
//   - client_id must name a hybrid client sign-in knows and that is Enabled, and
//     redirect_uri must equal one of its RedirectUris exactly (no wildcard, case or
//     trailing-slash leniency); otherwise the error page (unauthorized_client, or
//     invalid_request for a missing or repeated parameter), never a redirect. Every later
//     error goes back to the redirect URI with error, error_description and state.
//   - response_type code, "code id_token", "code token" or "code id_token token" (any
//     order); anything with token needs AllowAccessTokensViaBrowser (else
//     unauthorized_client); others are unsupported_response_type. Code answers go in the
//     query, hybrid ones in the fragment; response_mode fragment or form_post may be asked,
//     query only for code.
//   - scope must hold openid (invalid_scope); known scopes are openid, profile, email,
//     ocsapi, offline_access (others: invalid_scope); offline_access needs
//     AllowOfflineAccess (invalid_scope).
//   - PKCE is required: code_challenge (43 to 128 characters) with code_challenge_method
//     S256; plain or a missing method is invalid_request. The token request's
//     code_verifier must hash to it (invalid_grant).
//   - nonce is required when the response type has id_token (invalid_request) and is
//     echoed in every ID token of the sign-in (not in those of refreshes).
//   - acr_values tenant:{id} must name the client's tenant (case-insensitive), else
//     invalid_request.
//   - Codes live CodeLifetime, are bound to the client, redirect URI, challenge, nonce,
//     scopes and user, and work once: a second redemption is invalid_grant and revokes
//     the tokens issued from the code (RFC 6749 4.1.2).
//   - The token endpoint authenticates a hybrid client with client_id and client_secret in
//     the form body against its current, unexpired secrets, as sign-in sees them; an
//     unknown, deleted or disabled client or a wrong, deleted or expired secret is 400
//     invalid_client.
//   - expires_in (and the access token's real lifetime) is the client's
//     AccessTokenLifetime when the token is issued.
//   - A refresh token is issued only when offline_access was granted and the client
//     allows it when the code is redeemed (and never with Options.WithholdRefreshTokens); refreshing needs the client still enabled
//     (else invalid_client) and still AllowOfflineAccess (else invalid_grant).
//   - post_logout_redirect_uri is honoured only with a valid id_token_hint (this server's
//     signature and issuer; an expired hint is fine), whose audience names the client, as
//     IdentityServer4 does: client_id alone, or a client_id other than the hint's audience,
//     gets the signed-out page. The URI must equal one of that client's
//     PostLogoutRedirectUris; otherwise the signed-out page, no redirect. state is echoed.
//
// # Choices where the API reference is silent
//
// Where API.md says nothing, the emulator does what OpenID Connect, OAuth 2.0 or
// IdentityServer (the server behind the service) do, and says so here:
//
//   - No sign-in session cookie: every authorization request shows the sign-in page (as
//     with prompt=login), prompt=none answers login_required, and end session has no
//     session to end; it only validates and redirects.
//   - Without acr_values the client's own tenant is used: a client belongs to one tenant.
//     Values other than tenant:… are ignored.
//   - Only client_secret_post is accepted, as API.md describes the token request; a Basic
//     header is refused with invalid_client (400, IdentityServer's status for it), which
//     proves a caller sends the secret in the body.
//   - Errors at the token endpoint are 400 with an RFC 6749 error code, as IdentityServer
//     answers; error_description never holds a secret, code or token.
//   - A code is burnt by its first redemption attempt, even a failed one (IdentityServer
//     removes it before validating). CodeLifetime, IDTokenLifetime and
//     RefreshTokenLifetime are IdentityServer's defaults (5 min, 5 min, 30 days absolute).
//   - Refresh tokens are one time only (IdentityServer's RefreshTokenUsage.OneTimeOnly):
//     each refresh answers a new refresh token with the same absolute expiry and the old
//     one is invalid_grant. An optional scope may narrow, never widen (invalid_scope).
//   - ID tokens always carry name, email and the user's Claims, besides iss, aud (the
//     client id), sub, iat, nbf, exp, auth_time, amr, idp, nonce and at_hash/c_hash. They
//     are signed RS256 with a 2048-bit key made on first use (not in New, so emulators that
//     never sign stay cheap) and published with its kid (the JWK thumbprint).
//   - Access tokens of users are opaque; userinfo takes them in the Authorization header.
//     They outlive a deleted client until they expire, as API.md says of the service's,
//     and a disabled one likewise.
//     With the ocsapi scope they work on the management API with the user's Role (none by
//     default: 403).
//   - The issuer is scheme://host/identity of the request, so discovery, tokens and go-oidc
//     agree on whatever loopback address the caller used.
//   - Propagation delay: while a change spreads, the service's sign-in may answer from the
//     old state or the new one. The emulator answers as the least favourable of every
//     state the client had during the last PropagationDelay (a timestamped history per
//     client, by Options.Now): what a change grants (a new client, secret, redirect or
//     post-logout URI, Enabled, AllowOfflineAccess, AllowAccessTokensViaBrowser, a longer
//     lifetime or expiry) counts only once it is older than the delay; what a change
//     takes away (a deleted secret or client, a removed URI, a disabled client, a shorter
//     lifetime or expiry) counts at once. So a rotation without grace locks the
//     application out for the whole delay, whichever secret it uses, and a rotation whose
//     grace outlasts the delay keeps the old secret working until the new one arrives:
//     why the default grace exists. The secrets of client-credential clients propagate
//     the same way to their client_credentials grant (API.md says "secret changes", of
//     any client); an identity added by AddIdentity is known from the start. The lenient side of the service (a disabled client or
//     deleted secret still accepted for a while) is not modelled: nothing should rely on
//     it. A deleted client's refresh tokens (API.md: "up to one hour") stop at once, its
//     access tokens live on until they expire. The display name is the latest.
//   - Sign-in has no tenant in its requests, so it finds a client by id alone; client ids
//     are GUIDs and unique across the emulator's tenants in practice.
//   - Redirect and post-logout redirect URIs: API.md names the forms of RFC 8252
//     (private-use schemes such as com.example.app:/oauth2redirect, loopback http with a
//     port, claimed https) and the schemes that are never redirect URIs; the emulator
//     accepts the first and answers 400 to the second, and also to schemes of other
//     protocols (ws:, ftp:, mailto:, urn:, ...), look-alikes of http(s) (htps:, httpss:),
//     schemes outside RFC 3986's syntax, a private-use URI without "/" after its scheme
//     (localhost:8400/cb), user info and ports outside 1 to 65535, as the SDK does. Plain
//     http on any host is accepted, as the service may for development. A "*" is kept as
//     a literal character, matched exactly like the rest. The authorize endpoint sends
//     the browser to a private-use URI exactly as to an https one.
package emulator

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Role is what an identity may do in its tenant.
type Role int

const (
	// RoleAdmin is a Tenant Administrator: every operation.
	RoleAdmin Role = iota + 1
	// RoleMember is a Tenant Member: only list, count, get and exists of hybrid clients.
	RoleMember
	// RoleNone is a valid identity with no role in the tenant: 403 everywhere.
	RoleNone
)

// Options tune an Emulator. The zero value is the service's defaults.
type Options struct {
	// MaxClients caps the clients (of all types) per tenant; 0 means 50,000.
	MaxClients int
	// TokenLifetime is the lifetime of issued access tokens; 0 means one hour.
	TokenLifetime time.Duration
	// Now is the clock; nil means time.Now. Tests move time with it.
	Now func() time.Time
	// PropagationDelay is how long a change to a hybrid client or its secrets, or to the
	// secrets of a client-credential client, takes to reach sign-in and the token endpoint
	// (the service documents up to one hour); zero means at once. They answer as the least
	// favourable state of the client during that time, by the clock Now: what a change
	// grants arrives after the delay, what it takes away applies at once. Identities added
	// with AddIdentity work at once; their later secret changes propagate.
	PropagationDelay time.Duration
	// WithholdRefreshTokens makes the token endpoint answer no refresh_token even when
	// offline_access was granted: the API reference says refresh tokens are not supported
	// for hybrid clients, while the portal offers Allow Refresh Token, so an application
	// must cope with either answer.
	WithholdRefreshTokens bool

	// Latency delays every request this long before it is handled, plus a random part of
	// up to LatencyJitter drawn from a source seeded with Seed: a distant service. The
	// wait is a timer; a caller that gives up ends it.
	Latency, LatencyJitter time.Duration
	// RateLimit, when positive, limits the API routes (not discovery or the token
	// endpoint) to this many requests per second, with a token bucket holding RateBurst
	// (0 means a tenth of a second's worth, at least 1). A request past the limit is
	// answered 429 with Retry-After (whole seconds, rounded up) and not acted on;
	// Stats.Throttled counts them.
	RateLimit float64
	RateBurst int
	// Seed seeds the latency's jitter.
	Seed int64
}

// Emulator is the whole fake service. It is an http.Handler; all its methods are safe for
// concurrent use.
type Emulator struct {
	opts Options

	mu         sync.Mutex // guards everything below
	tenants    map[string]*tenant
	identities map[string]*client // client-credential clients of every tenant, for the token endpoint
	tokens     map[string]token
	faults     []*faultRule
	tokenReqs  int
	requests   map[Op]int
	seq        uint64 // creation order of clients

	// The sign-in plane (signin.go).
	codes   map[string]*authCode     // authorization codes, used ones kept until they expire
	refresh map[string]*refreshGrant // live refresh tokens
	history map[string][]version     // key(client id): states for PropagationDelay
	pages   *template.Template

	keyOnce   sync.Once
	sigKey    *signingKey
	distance  *distance // Options.Latency; nil: none
	throttle  *throttle // Options.RateLimit; nil: none
	throttled int       // 429s of the rate limit
}

// tenant holds one tenant's clients. Hybrid clients are kept both in a map (lookups) and in
// a slice in creation order, so a page at any skip costs only the page.
type tenant struct {
	id      string
	clients map[string]*client // hybrid, by key(id)
	order   []*client          // hybrid, creation order
	cc      map[string]*client // client-credential, by key(id)
	seeded  int                // names handed out by SeedClients so far
	users   []*User            // who can sign in, in the order added
}

// client is a hybrid or client-credential client.
type client struct {
	id       string
	hybrid   bool
	tenantID string // client-credential clients only: the tenant its tokens are for
	role     Role   // client-credential clients only: what its tokens may do
	seq      uint64
	name     string
	enabled  bool
	lifetime int32
	tags     []string
	redirect []string
	logout   []string
	uri      *string
	logo     *string
	offline  bool
	browser  bool
	secrets  []*secret // increasing id
	nextID   int32     // last secret id handed out; ids are never reused
}

// New returns an empty emulator: add tenants and identities before use.
func New(opts Options) *Emulator {
	if opts.MaxClients <= 0 {
		opts.MaxClients = 50_000
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Emulator{
		opts:       opts,
		tenants:    map[string]*tenant{},
		identities: map[string]*client{},
		tokens:     map[string]token{},
		requests:   map[Op]int{},
		codes:      map[string]*authCode{},
		refresh:    map[string]*refreshGrant{},
		history:    map[string][]version{},
		pages:      parsePages(),
		distance:   newDistance(opts),
		throttle:   newThrottle(opts),
	}
}

func (e *Emulator) now() time.Time { return e.opts.Now() }

// AddTenant creates a tenant and returns its id, a new GUID.
func (e *Emulator) AddTenant() string {
	id := newGUID()
	e.AddTenantWithID(id)
	return id
}

// AddTenantWithID creates a tenant with a fixed id; it does nothing if the tenant exists.
func (e *Emulator) AddTenantWithID(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tenantLocked(id)
}

// tenantLocked returns the tenant, creating it if needed.
func (e *Emulator) tenantLocked(id string) *tenant {
	if t := e.tenants[key(id)]; t != nil {
		return t
	}
	t := &tenant{id: id, clients: map[string]*client{}, cc: map[string]*client{},
		users: []*User{{Subject: newGUID(), Name: DefaultUserName, Email: DefaultUserEmail, Role: RoleNone}}}
	e.tenants[key(id)] = t
	return t
}

// full reports whether the tenant has reached the client cap (hybrid and client-credential).
func (e *Emulator) full(t *tenant, adding int) bool {
	return len(t.clients)+len(t.cc)+adding > e.opts.MaxClients
}

// SeedClients adds n hybrid clients named "seed-000001", "seed-000002", ... (numbering
// continues across calls), each with one redirect URI and no secrets, without HTTP. It
// adds none and returns an error if the tenant is unknown or n would pass MaxClients.
func (e *Emulator) SeedClients(tenantID string, n int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tenants[key(tenantID)]
	if t == nil {
		return fmt.Errorf("unknown tenant %q", tenantID)
	}
	if n < 0 || e.full(t, n) {
		return fmt.Errorf("seeding %d clients would pass the cap of %d clients", n, e.opts.MaxClients)
	}
	t.order = slices.Grow(t.order, n)
	for range n {
		t.seeded++
		e.seq++
		c := &client{
			id: newGUID(), hybrid: true, seq: e.seq,
			name: fmt.Sprintf("seed-%06d", t.seeded), enabled: true, lifetime: 3600,
			tags: []string{}, redirect: []string{"https://localhost/callback"}, logout: []string{},
		}
		t.clients[key(c.id)] = c
		t.order = append(t.order, c)
		e.changedLocked(t, c)
	}
	return nil
}

// ClientInfo is a snapshot of one hybrid client, for test assertions.
type ClientInfo struct {
	ID, Name               string
	Enabled                bool
	Tags                   []string
	SecretIDs              []int // increasing; never includes a deleted secret
	AllowOfflineAccess     bool  // the wire's AllowOfflineAccess ("Allow Refresh Token")
	AccessTokenLifetime    int   // seconds
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
}

// Clients returns a snapshot of the tenant's hybrid clients in list (creation) order; nil
// if the tenant is unknown.
func (e *Emulator) Clients(tenantID string) []ClientInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tenants[key(tenantID)]
	if t == nil {
		return nil
	}
	out := make([]ClientInfo, 0, len(t.order))
	for _, c := range t.order {
		out = append(out, ClientInfo{
			ID: c.id, Name: c.name, Enabled: c.enabled, Tags: slices.Clone(c.tags),
			SecretIDs: c.secretIDs(), AllowOfflineAccess: c.offline,
			AccessTokenLifetime: int(c.lifetime), RedirectURIs: slices.Clone(c.redirect),
			PostLogoutRedirectURIs: slices.Clone(c.logout),
		})
	}
	return out
}

// SecretIDs returns the secret ids of any client (hybrid or client-credential) in
// increasing order, or nil if the tenant or client does not exist.
func (e *Emulator) SecretIDs(tenantID, clientID string) []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.anyClient(tenantID, clientID)
	if c == nil {
		return nil
	}
	return c.secretIDs()
}

func (e *Emulator) anyClient(tenantID, clientID string) *client {
	t := e.tenants[key(tenantID)]
	if t == nil {
		return nil
	}
	if c := t.clients[key(clientID)]; c != nil {
		return c
	}
	return t.cc[key(clientID)]
}

func (c *client) secretIDs() []int {
	ids := make([]int, 0, len(c.secrets))
	for _, s := range c.secrets {
		ids = append(ids, int(s.id))
	}
	return ids
}

// Stats counts the requests received, faulted ones included.
type Stats struct {
	// TokenRequests counts requests to the token endpoint.
	TokenRequests int
	// Requests counts requests per route (unknown routes and wrong methods are not counted).
	Requests map[Op]int
	// Throttled counts the requests answered 429 by the rate limit (Options.RateLimit);
	// they are in Requests too.
	Throttled int
}

// Stats returns a copy of the request counters.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := make(map[Op]int, len(e.requests))
	for k, v := range e.requests {
		m[k] = v
	}
	return Stats{TokenRequests: e.tokenReqs, Requests: m, Throttled: e.throttled}
}

// maxBody bounds request bodies; the largest valid one is a few kilobytes.
const maxBody = 1 << 20

// ServeHTTP serves the whole service: discovery, the token endpoint and every API route.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tgt, status, allow := route(r.Method, r.URL.Path)
	if status != 0 {
		if allow != "" {
			w.Header().Set("Allow", allow)
		}
		errReply(status, "The route or method is not supported.").write(w, r, false)
		return
	}

	// Read the body first: only then does net/http watch the connection, so that a
	// caller who gives up during a Delay cancels r.Context().
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if !e.distance.wait(r) {
		return // the caller gave up
	}
	if rep, ok := e.admit(tgt.op); !ok {
		rep.write(w, r, false)
		return
	}

	f := e.arrive(tgt.op)
	if f != nil && f.Delay > 0 && !sleep(r, f.Delay) {
		return // the caller gave up; there is nobody to answer
	}
	if f != nil && f.ResetBeforeAct {
		abort(w)
		return
	}
	if f != nil && f.Status != 0 {
		faultReply(f).write(w, r, false)
		return
	}

	var rep reply
	if readErr != nil {
		rep = errReply(http.StatusBadRequest, "The request body could not be read.")
		var tooBig *http.MaxBytesError
		if errors.As(readErr, &tooBig) {
			rep = errReply(http.StatusRequestEntityTooLarge, "The request body is too large.")
		}
	} else {
		rep = e.handleLocked(tgt, r, body)
	}

	if f != nil && f.CutAfterCommit {
		abort(w)
		return
	}
	rep.write(w, r, f != nil && f.Truncate)
}

// arrive counts a request and picks the fault that fires for it, if any.
func (e *Emulator) arrive(op Op) *Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests[op]++
	if op == OpToken {
		e.tokenReqs++
	}
	return e.pickFaultLocked(op)
}

// handleLocked runs handle under the lock; the reply is written after it is released, so
// a slow reader never holds up other requests.
func (e *Emulator) handleLocked(tgt target, r *http.Request, body []byte) reply {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.handle(tgt, r, body)
}

// handle acts on a routed request; e.mu is held.
func (e *Emulator) handle(tgt target, r *http.Request, body []byte) reply {
	switch tgt.op {
	case OpDiscovery:
		return discovery(r)
	case OpToken:
		return e.token(r, body)
	case OpJWKS:
		return reply{status: http.StatusOK, header: http.Header{}, contentType: "application/json; charset=utf-8", body: e.signingKey().jwks}
	case OpAuthorize:
		return e.authorizeEndpoint(r, body)
	case OpSignIn:
		return e.signIn(r, body)
	case OpUserInfo:
		return e.userinfo(r)
	case OpEndSession:
		return e.endSession(r, body)
	}
	t, rep := e.authorize(r, tgt)
	if t == nil {
		return rep
	}
	if tgt.secretsOf == "" {
		return e.handleClients(t, tgt, r, body)
	}
	return e.handleSecrets(t, tgt, r, body)
}
