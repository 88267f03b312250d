// Package hybridclientstest runs a faithful in-memory fake of the Hybrid Clients and
// Secrets API on a loopback port, for testing code that uses this SDK, in the manner of
// net/http/httptest and google-cloud-go's pstest.
//
// The fake serves OpenID discovery, the token endpoint, the sign-in endpoints (see
// "Signing users in" below) and every v1 hybrid-client and secrets route with the
// service's status codes, Total-Count headers, limits, roles, partial updates and one-time
// secret values (kept only as hashes). It was written from the API reference,
// independently of the SDK, so it catches a wrong route or JSON name instead of mirroring
// it.
//
//	func TestProvisioner(t *testing.T) {
//		srv := hybridclientstest.NewServer(t, nil)
//		clients, _ := hybridclients.New(srv.Config())
//		... exercise your code with clients ...
//		if !srv.CheckSecret(id, value) { t.Fatal("the stored secret does not work") }
//	}
//
// # Signing users in
//
// The fake is also the identity server a hybrid client signs users in with, so a test can
// create a client and then sign a user in with it, in a browser or with [Server.SignIn]
// ([Server.CancelSignIn] presses Cancel instead). To test your own web handler, start its
// server unstarted (httptest.NewUnstartedServer) to know its URL, create the client with
// that URL's callback as redirect URI, build the SignIn and the handler, then start
// serving: the webHandler example shows it.
// Every client setting counts there: RedirectURIs and PostLogoutRedirectURIs (matched
// exactly; a native app's private-use scheme such as com.example.app:/oauth2redirect or a
// loopback http://127.0.0.1:{port}/callback is sent back to like an https URL; logout
// returns to a post-logout URI only with an id_token_hint, the ID token of the sign-in, as
// the service does: client_id alone gets the signed-out page), Enabled,
// AllowRefreshTokens (refresh tokens only with the offline_access scope),
// AllowAccessTokensViaBrowser (response types with token), AccessTokenLifetime
// (expires_in) and the secrets with their expiry. PKCE S256 is required, nonce is echoed
// in the ID token, acr_values=tenant:{TenantID} must name the fake's tenant, and codes are
// single use. [Options.WithholdRefreshTokens] answers no refresh token even when
// offline_access was granted, as a service that does not issue them to hybrid clients
// would. [Options.PropagationDelay] makes changes reach sign-in late, as the service warns
// they can (up to an hour): what a change grants arrives after the delay, what it takes
// away applies at once. Then a secret rotation without a grace period locks an application
// out for the whole delay (the old secret is gone, the new one not yet known), while a
// grace longer than the delay keeps the old secret working meanwhile. With [Options.Clock]
// set to a [Clock], the fake and the SDK share a clock the test moves: [Clock.Run] runs
// code that waits on it (the SDK's rotation waits for its new secret to work) through the
// hour of delay in a millisecond.
//
// Discovery at Issuer()+"/.well-known/openid-configuration" announces the endpoints:
//
//	{URL}/identity/connect/authorize    the sign-in page (GET or POST)
//	{URL}/identity/connect/token        authorization_code, refresh_token, client_credentials
//	{URL}/identity/connect/userinfo     the user's claims for a Bearer access token
//	{URL}/identity/connect/endsession   logout: id_token_hint, post_logout_redirect_uri, state
//	{URL}/identity/.well-known/openid-configuration/jwks   the RS256 key of the ID tokens
//
// ID tokens are RS256 JWTs (iss = Issuer(), aud = client id, sub, nonce, name, email and
// the user's Claims); verify them with github.com/coreos/go-oidc/v3. The token endpoint
// takes client_id and client_secret in the form body only (x/oauth2's AuthStyleInParams).
//
// The sign-in page lists the users ([Server.Users]; the first is DefaultUserName,
// DefaultUserEmail; [Server.AddUser] adds more) and has stable element ids for browser
// tests: form#signin, select#user (option values are subjects; an authorization request's
// login_hint preselects the user it names), input#username (type a
// name or email instead), button#submit and button#cancel, p#signin-error. A request the
// fake cannot send back (unknown or disabled client, unregistered redirect URI) gets the
// error page, status 400: h1#error, code#error-code (e.g. unauthorized_client),
// #error-description. Logout without an accepted post-logout URI, or without a valid
// id_token_hint, shows h1#signed-out (and p#logout-error with code#error-code when a
// redirect was refused). Other errors go back to
// the redirect URI as error=... with state, as OAuth 2.0 prescribes.
//
// Where the service's reference is silent the fake follows OpenID Connect, OAuth 2.0 and
// IdentityServer's defaults:
//
//   - There is no sign-in session: every authorization request shows the sign-in page, and
//     prompt=none answers login_required. Nothing asks for a password.
//   - Without acr_values the client's own tenant signs in.
//   - A Basic Authorization header at the token endpoint is refused (invalid_client);
//     token errors are status 400 with an OAuth error code.
//   - Codes are valid 5 minutes and burnt by their first redemption attempt, a failed one
//     included; a replayed code also revokes the tokens issued from it.
//   - Refresh tokens are one time only (each refresh answers a new one) and live 30 days
//     from sign-in at most. A deleted or disabled client's refresh tokens stop at once;
//     access tokens stay valid until they expire.
//   - ID tokens live 5 minutes and always carry name, email and the user's Claims.
//   - Users' access tokens granted the ocsapi scope work on the management API with the
//     user's Role.
//   - Redirect and post-logout URIs that the SDK refuses before sending (see
//     hybridclients.CreateRequest.RedirectURIs) are answered 400, except a "*" (kept as a
//     literal character), a fragment, and whitespace, control or formatting characters
//     beyond ASCII.
package hybridclientstest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/emulator"
)

// Options tune a Server; nil or the zero value means the service's defaults.
type Options struct {
	// MaxClients caps the clients of all types in the tenant; zero means 50,000, the
	// service's limit. The fake's two accounts (Admin and Member, client-credential
	// clients) count towards it: seeding 50,000 hybrid clients needs 50,002.
	MaxClients int
	// TokenLifetime of issued access tokens; zero means one hour.
	TokenLifetime time.Duration
	// Now is the fake's clock, for testing expiry; nil means time.Now. The Server's Config
	// reads it too, but its waits are on the system clock: use Clock to move the time of
	// waits as well.
	Now func() time.Time
	// Clock, when set, is the fake's clock instead of Now (set one or the other), and the
	// Server's Config carries it: the SDK decides expiries by its Now and waits on its
	// After (for a rotation's proof). A *Clock moves only when the test moves it.
	Clock identity.Clock
	// PropagationDelay is how long a change to a hybrid client or its secrets takes to
	// reach sign-in, and a change to a client-credential client's secrets its
	// client_credentials grant; zero means at once. The service documents up to one hour.
	// The fake takes the application's worst case: what a change grants (a new secret, a
	// redirect URI, Enabled, ...) works only after the delay, what it takes away (a
	// deleted secret, a removed URI, a disabled client, ...) applies at once. Accounts
	// (Admin, Member, AddAccount) work at once. Measured by Now.
	PropagationDelay time.Duration
	// WithholdRefreshTokens makes sign-in answer no refresh token even when the client
	// allows refresh tokens and the offline_access scope was granted. The service's API
	// reference says refresh tokens are not supported for hybrid clients while its portal
	// offers Allow Refresh Token: test that your application copes with a token response
	// without one (hybridclients.SignIn.Refresh then returns ErrNoRefreshToken).
	WithholdRefreshTokens bool

	// Latency delays every request this long, plus a random part of up to LatencyJitter
	// (seeded with Seed): a distant service. The delay is a timer, not busy work.
	Latency, LatencyJitter time.Duration
	// RateLimit, when positive, limits the API calls to this many requests per second
	// (a token bucket holding RateBurst; 0 means a tenth of a second's worth): past it
	// the fake answers 429 with Retry-After and does nothing. Stats.Throttled counts them.
	RateLimit float64
	RateBurst int
	// Seed seeds the latency's jitter.
	Seed int64
}

// Account is a client-credential client of the fake tenant, for signing in.
type Account struct {
	ClientID string
	Secret   identity.Secret
}

// Role is what an Account, a User or an issued token may do in the tenant.
type Role int

// Roles in the tenant.
const (
	// RoleAdmin is a Tenant Administrator: every operation.
	RoleAdmin Role = iota + 1
	// RoleMember is a Tenant Member: reading hybrid clients only.
	RoleMember
	// RoleNone has no role in the tenant: every API call is 403.
	RoleNone
)

// Server is a running fake service with one tenant, an administrator and a member.
type Server struct {
	// URL is the fake's base URL (http://127.0.0.1:port): use it as Config.Resource.
	URL string
	// TenantID is the id of the fake's tenant.
	TenantID string
	// Admin signs in as a Tenant Administrator, Member as a Tenant Member.
	Admin, Member Account

	em    *emulator.Emulator
	srv   *httptest.Server
	conns atomic.Int64
	clock identity.Clock // Options.Clock, or Options.Now's, or nil
}

// NewServer starts a Server for the test t and stops it when the test ends.
func NewServer(t testing.TB, opts *Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("hybridclientstest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a Server outside a test (an example program, a local demo). Call Close
// when done.
func Start(opts *Options) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Server{em: emulator.New(opts.toEmulator())}
	switch {
	case opts == nil:
	case opts.Clock != nil:
		s.clock = opts.Clock
	case opts.Now != nil:
		s.clock = fakeClock(opts.Now)
	}
	s.TenantID = s.em.AddTenant()
	s.Admin = s.AddAccount(RoleAdmin)
	s.Member = s.AddAccount(RoleMember)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("hybridclientstest: listening on loopback: %w", err)
	}
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: s.em}}
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.Start()
	s.URL = s.srv.URL
	return s, nil
}

// validate refuses Options the fake cannot follow: two clocks.
func (o *Options) validate() error {
	if o == nil {
		return nil
	}
	if o.Clock != nil && o.Now != nil {
		return errors.New("hybridclientstest: set Options.Clock or Options.Now, not both")
	}
	if v := reflect.ValueOf(o.Clock); o.Clock != nil && v.Kind() == reflect.Pointer && v.IsNil() {
		return fmt.Errorf("hybridclientstest: Options.Clock is a nil %T", o.Clock)
	}
	return nil
}

// Close stops the Server and closes its connections.
func (s *Server) Close() { s.srv.Close() }

// Config returns a Config that signs in to the fake as its Tenant Administrator. When
// Options.Clock or Options.Now is set, the Config's Clock is the fake's, so the SDK
// decides expiries by the fake's time (and, with Options.Clock, waits on it).
func (s *Server) Config() identity.Config { return s.ConfigFor(s.Admin) }

// MemberConfig returns a Config that signs in as a Tenant Member.
func (s *Server) MemberConfig() identity.Config { return s.ConfigFor(s.Member) }

// ConfigFor returns a Config that signs in to the fake as a (with the fake's clock, as
// Config).
func (s *Server) ConfigFor(a Account) identity.Config {
	return identity.Config{
		Resource:    s.URL,
		TenantID:    s.TenantID,
		Credentials: identity.NewClientCredentials(a.ClientID, a.Secret, nil),
		Clock:       s.clock,
	}
}

// fakeClock is an identity.Clock reading Options.Now. Its After waits on the system
// clock: Options.Now is a function, with no timers of its own.
type fakeClock func() time.Time

func (c fakeClock) Now() time.Time                         { return c() }
func (c fakeClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// AddAccount adds a client-credential client with the given role and one secret.
func (s *Server) AddAccount(role Role) Account {
	id, secret := s.em.AddIdentity(s.TenantID, emulator.Role(role))
	return Account{ClientID: id, Secret: identity.NewSecret(secret)}
}

// IssueToken returns a bearer token of a new client-credential client with the given
// role, for identity.NewStaticToken.
func (s *Server) IssueToken(role Role) identity.Secret {
	return identity.NewSecret(s.em.IssueToken(s.TenantID, emulator.Role(role)))
}

// RevokeTokens makes every token issued so far answer 401, as if it had been revoked:
// the SDK must fetch a new one.
func (s *Server) RevokeTokens() { s.em.RevokeTokens() }

// CheckSecret reports whether value would authenticate the client clientID now: the
// client exists, one of its secrets has that value, and that secret has not expired.
func (s *Server) CheckSecret(clientID string, value identity.Secret) bool {
	return s.em.CheckSecret(s.TenantID, clientID, value.Reveal())
}

// SecretIDs returns the ids of the secrets of a client (hybrid or client-credential);
// nil when it does not exist.
func (s *Server) SecretIDs(clientID string) []int { return s.em.SecretIDs(s.TenantID, clientID) }

// SeedClients adds n hybrid clients (named seed-000001, ...; no secrets) without HTTP. It
// adds none, and returns an error, when n would pass Options.MaxClients (which the fake's
// accounts count towards).
func (s *Server) SeedClients(n int) error {
	if err := s.em.SeedClients(s.TenantID, n); err != nil {
		return fmt.Errorf("hybridclientstest: SeedClients: %w", err)
	}
	return nil
}

// ClientRecord is the fake's record of one hybrid client, as [Server.Clients] reports it
// for assertions: what the fake stores, read without the API.
type ClientRecord struct {
	ID, Name               string
	Enabled                bool
	Tags                   []string
	SecretIDs              []int
	AllowRefreshTokens     bool
	AccessTokenLifetime    time.Duration
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
}

// Clients returns the records of the tenant's hybrid clients in creation order.
func (s *Server) Clients() []ClientRecord {
	in := s.em.Clients(s.TenantID)
	out := make([]ClientRecord, len(in))
	for i, c := range in {
		out[i] = recordFrom(c)
	}
	return out
}

// Stats are the fake's request counters.
type Stats struct {
	// TokenRequests counts requests to the token endpoint.
	TokenRequests int
	// Requests counts requests per operation, faulted ones included.
	Requests map[Op]int
	// Connections counts TCP connections the fake accepted.
	Connections int
	// Throttled counts the requests answered 429 by Options.RateLimit (they are in
	// Requests too).
	Throttled int
}

// Stats returns the request and connection counters.
func (s *Server) Stats() Stats {
	return statsFrom(s.em.Stats(), int(s.conns.Load()))
}

// String describes the Server without its accounts' secrets.
func (s *Server) String() string {
	return fmt.Sprintf("hybridclientstest.Server{URL: %s, TenantID: %s}", s.URL, s.TenantID)
}
