// Package hybridclientstest runs a faithful in-memory fake of the Hybrid Clients and
// Secrets API on a loopback port, for testing code that uses this SDK, in the manner of
// net/http/httptest and google-cloud-go's pstest.
//
// The fake serves OpenID discovery, the token endpoint (client-credentials grant) and every
// v1 hybrid-client and secrets route with the service's status codes, Total-Count headers,
// limits, roles, partial updates and one-time secret values (kept only as hashes). It was
// written from the API reference, independently of the SDK, so it catches a wrong route or
// JSON name instead of mirroring it.
//
//	func TestProvisioner(t *testing.T) {
//		srv := hybridclientstest.NewServer(t, nil)
//		clients, _ := hybridclients.New(srv.Config())
//		... exercise your code with clients ...
//		if !srv.CheckSecret(id, value) { t.Fatal("the stored secret does not work") }
//	}
package hybridclientstest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/emulator"
)

// Options tune a Server; nil or the zero value means the service's defaults.
type Options struct {
	// MaxClients caps the clients of the tenant (the service allows 50,000).
	MaxClients int
	// TokenLifetime of issued access tokens; zero means one hour.
	TokenLifetime time.Duration
	// Now is the fake's clock, for testing expiry; nil means time.Now.
	Now func() time.Time
}

// Identity is a client-credential client of the fake tenant, for signing in.
type Identity struct {
	ClientID string
	Secret   identity.Secret
}

// Role is what an identity may do in the tenant.
type Role int

// Roles of an identity.
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
	Admin, Member Identity

	em    *emulator.Emulator
	srv   *httptest.Server
	conns atomic.Int64
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
	var o emulator.Options
	if opts != nil {
		o = emulator.Options{MaxClients: opts.MaxClients, TokenLifetime: opts.TokenLifetime, Now: opts.Now}
	}
	s := &Server{em: emulator.New(o)}
	s.TenantID = s.em.AddTenant()
	s.Admin = s.AddIdentity(RoleAdmin)
	s.Member = s.AddIdentity(RoleMember)
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

// Close stops the Server and closes its connections.
func (s *Server) Close() { s.srv.Close() }

// Config returns a Config that signs in to the fake as its Tenant Administrator.
func (s *Server) Config() identity.Config { return s.ConfigFor(s.Admin) }

// MemberConfig returns a Config that signs in as a Tenant Member.
func (s *Server) MemberConfig() identity.Config { return s.ConfigFor(s.Member) }

// ConfigFor returns a Config that signs in to the fake as id.
func (s *Server) ConfigFor(id Identity) identity.Config {
	return identity.Config{
		Resource:    s.URL,
		TenantID:    s.TenantID,
		Credentials: identity.NewClientCredentials(id.ClientID, id.Secret, nil),
	}
}

// AddIdentity adds a client-credential client with the given role and one secret.
func (s *Server) AddIdentity(role Role) Identity {
	id, secret := s.em.AddIdentity(s.TenantID, emulator.Role(role))
	return Identity{ClientID: id, Secret: identity.NewSecret(secret)}
}

// IssueToken returns a bearer token of a new identity with the given role, for
// identity.NewStaticToken.
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

// SeedClients adds n hybrid clients (named seed-000001, ...; no secrets) without HTTP.
func (s *Server) SeedClients(n int) error { return s.em.SeedClients(s.TenantID, n) }

// Client is the fake's view of one hybrid client, for assertions.
type Client struct {
	ID, Name               string
	Enabled                bool
	Tags                   []string
	SecretIDs              []int
	AllowRefreshTokens     bool
	AccessTokenLifetime    time.Duration
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
}

// Clients returns the tenant's hybrid clients in creation order.
func (s *Server) Clients() []Client {
	in := s.em.Clients(s.TenantID)
	out := make([]Client, len(in))
	for i, c := range in {
		out[i] = Client{
			ID: c.ID, Name: c.Name, Enabled: c.Enabled, Tags: c.Tags, SecretIDs: c.SecretIDs,
			AllowRefreshTokens: c.AllowOfflineAccess, AccessTokenLifetime: time.Duration(c.AccessTokenLifetime) * time.Second,
			RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		}
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
}

// Stats returns the request and connection counters.
func (s *Server) Stats() Stats {
	st := s.em.Stats()
	out := Stats{TokenRequests: st.TokenRequests, Requests: map[Op]int{}, Connections: int(s.conns.Load())}
	for op, n := range st.Requests {
		out.Requests[Op(op)] = n
	}
	return out
}

// String describes the Server without its identities' secrets.
func (s *Server) String() string {
	return fmt.Sprintf("hybridclientstest.Server{URL: %s, TenantID: %s}", s.URL, s.TenantID)
}
