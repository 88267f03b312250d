// Package emulator is an in-memory, faithful fake of the CONNECT data services (formerly
// OCS) Identity API for hybrid clients and their secrets, written from the public API
// reference alone. It serves OpenID discovery, a client-credentials token endpoint and every
// Hybrid Clients and Secrets route, with the service's status codes, limits, roles and
// one-time secret values (kept only as salted hashes), and lets tests inject faults.
//
// It deliberately imports no package of the SDK, so that the SDK cannot pass by sharing a
// mistake with its own fake.
package emulator

import (
	"errors"
	"fmt"
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
}

// tenant holds one tenant's clients. Hybrid clients are kept both in a map (lookups) and in
// a slice in creation order, so a page at any skip costs only the page.
type tenant struct {
	id      string
	clients map[string]*client // hybrid, by key(id)
	order   []*client          // hybrid, creation order
	cc      map[string]*client // client-credential, by key(id)
	seeded  int                // names handed out by SeedClients so far
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
	t := &tenant{id: id, clients: map[string]*client{}, cc: map[string]*client{}}
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
		return fmt.Errorf("emulator: unknown tenant %q", tenantID)
	}
	if n < 0 || e.full(t, n) {
		return fmt.Errorf("emulator: seeding %d clients would pass the cap of %d", n, e.opts.MaxClients)
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
}

// Stats returns a copy of the request counters.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := make(map[Op]int, len(e.requests))
	for k, v := range e.requests {
		m[k] = v
	}
	return Stats{TokenRequests: e.tokenReqs, Requests: m}
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
