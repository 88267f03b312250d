// Package integration drives the real SDK (hybridclients and secrets) against the
// emulator (hybridclients/hybridclientstest) over loopback HTTP, for every operation of
// both packages: roles, limits, conflicts, paging, partial updates, rotation, expiry and
// token handling. Nothing here talks to anything but 127.0.0.1.
package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// fakeClock is the emulator's clock: real time plus an offset a test moves forward, so
// that secrets (and tokens) expire on the service's side without waiting.
type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *fakeClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// env is one running fake tenant and an administrator's SDK clients.
type env struct {
	srv     *hybridclientstest.Server
	clients *hybridclients.Client
	clock   *fakeClock
}

// newEnv starts a fake of its own for the test (so tests can run in parallel and count
// requests), with a clock the test can move, and an administrator's hybrid clients client.
func newEnv(t *testing.T, opts *hybridclientstest.Options) *env {
	t.Helper()
	clock := &fakeClock{}
	o := hybridclientstest.Options{}
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = clock.Now
	}
	srv := hybridclientstest.NewServer(t, &o)
	return &env{srv: srv, clients: newClients(t, srv.Config()), clock: clock}
}

// newClients returns a hybrid clients client for cfg, closed when the test ends.
func newClients(t *testing.T, cfg identity.Config) *hybridclients.Client {
	t.Helper()
	c, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatalf("hybridclients.New: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// newSecrets returns a secrets client made by newc (secrets.New or
// secrets.NewForClientCredentialClients) for cfg, closed when the test ends.
func newSecrets(t *testing.T, cfg identity.Config, newc func(identity.Config) (*secrets.Client, error)) *secrets.Client {
	t.Helper()
	c, err := newc(cfg)
	if err != nil {
		t.Fatalf("secrets.New: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// testCtx bounds every call of a test: nothing here should take more than a few seconds.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// create makes a minimal hybrid client with the SDK and fails the test if it cannot.
func create(t *testing.T, ctx context.Context, c *hybridclients.Client, name string) *hybridclients.Created {
	t.Helper()
	created, err := c.Create(ctx, hybridclients.CreateRequest{
		Name:         name,
		RedirectURIs: []string{"https://" + name + ".example.com/callback"},
	})
	if err != nil {
		t.Fatalf("Create(%s): %v", name, err)
	}
	return created
}

// fakeView returns the emulator's view of a hybrid client.
func fakeView(t *testing.T, srv *hybridclientstest.Server, id string) hybridclientstest.ClientRecord {
	t.Helper()
	for _, c := range srv.Clients() {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("the fake has no hybrid client %s", id)
	return hybridclientstest.ClientRecord{}
}

// fakeIDs returns the ids of the fake's hybrid clients in creation order.
func fakeIDs(srv *hybridclientstest.Server) []string {
	var ids []string
	for _, c := range srv.Clients() {
		ids = append(ids, c.ID)
	}
	return ids
}

// diffClient lists the differences between two hybrid clients; nil and empty slices are
// the same (the wire cannot tell them apart).
func diffClient(got, want hybridclients.HybridClient) string {
	var d []string
	f := func(name string, g, w any) {
		if g != w {
			d = append(d, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	s := func(name string, g, w []string) {
		if !slices.Equal(g, w) {
			d = append(d, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
	}
	f("ID", got.ID, want.ID)
	f("Name", got.Name, want.Name)
	f("Enabled", got.Enabled, want.Enabled)
	f("AccessTokenLifetime", got.AccessTokenLifetime, want.AccessTokenLifetime)
	s("Tags", got.Tags, want.Tags)
	s("RedirectURIs", got.RedirectURIs, want.RedirectURIs)
	s("PostLogoutRedirectURIs", got.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs)
	f("ClientURI", got.ClientURI, want.ClientURI)
	f("LogoURI", got.LogoURI, want.LogoURI)
	f("AllowRefreshTokens", got.AllowRefreshTokens, want.AllowRefreshTokens)
	f("AllowAccessTokensViaBrowser", got.AllowAccessTokensViaBrowser, want.AllowAccessTokensViaBrowser)
	return strings.Join(d, "; ")
}

// diffFake lists the differences between the fake's view of a client and what the SDK
// says it is.
func diffFake(got hybridclientstest.ClientRecord, want hybridclients.HybridClient) string {
	return diffClient(hybridclients.HybridClient{
		ID: got.ID, Name: got.Name, Enabled: got.Enabled, AccessTokenLifetime: got.AccessTokenLifetime,
		Tags: got.Tags, RedirectURIs: got.RedirectURIs, PostLogoutRedirectURIs: got.PostLogoutRedirectURIs,
		AllowRefreshTokens: got.AllowRefreshTokens,
		// The fake's view has no URIs or browser flag: compare what it has.
		ClientURI: want.ClientURI, LogoURI: want.LogoURI, AllowAccessTokensViaBrowser: want.AllowAccessTokensViaBrowser,
	}, want)
}

// expiryNear fails the test unless e is a time within a second (the service's resolution
// of what the SDK sends) of [lo, hi].
func expiryNear(t *testing.T, what string, e secrets.Expiry, lo, hi time.Time) {
	t.Helper()
	at := e.At()
	if at.IsZero() {
		t.Errorf("%s: expiry %v, want a time in [%s, %s]", what, e, lo.Format(time.RFC3339), hi.Format(time.RFC3339))
		return
	}
	if at.Before(lo.Add(-time.Second)) || at.After(hi.Add(time.Second)) {
		t.Errorf("%s: expires %s, want in [%s, %s]", what, at.Format(time.RFC3339Nano), lo.Format(time.RFC3339Nano), hi.Format(time.RFC3339Nano))
	}
}

// expiryMarked is expiryNear for the expiry of a new secret, which the SDK moves up to an
// hour earlier than asked as the add's marker (secrets.AddRequest.Expiry).
func expiryMarked(t *testing.T, what string, e secrets.Expiry, lo, hi time.Time) {
	t.Helper()
	at := e.At()
	if at.IsZero() {
		t.Errorf("%s: expiry %v, want a time in [%s, %s]", what, e, lo.Format(time.RFC3339), hi.Format(time.RFC3339))
		return
	}
	if lo = lo.Add(-time.Hour); at.Before(lo.Add(-time.Second)) || at.After(hi.Add(time.Second)) {
		t.Errorf("%s: expires %s, want in [%s, %s]", what, at.Format(time.RFC3339Nano), lo.Format(time.RFC3339Nano), hi.Format(time.RFC3339Nano))
	}
}

// metaIDs returns the ids of secrets' metadata.
func metaIDs(ms []secrets.ClientSecret) []int {
	out := make([]int, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// requests returns how many requests of op the fake has received.
func requests(srv *hybridclientstest.Server, op hybridclientstest.Op) int {
	return srv.Stats().Requests[op]
}

// collectClients runs All and returns the ids it yields, failing on an error.
func collectClients(t *testing.T, ctx context.Context, c *hybridclients.Client, opts hybridclients.ListOptions) []string {
	t.Helper()
	var ids []string
	for hc, err := range c.All(ctx, opts) {
		if err != nil {
			t.Fatalf("All(%+v): %v", opts, err)
		}
		ids = append(ids, hc.ID)
	}
	return ids
}

// distinct reports whether ids holds no duplicate.
func distinct(ids []string) bool {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return false
		}
		seen[id] = true
	}
	return true
}
