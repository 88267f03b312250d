package faulttest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// fixture is a fake service with one hybrid client (and its one secret) made, and SDK
// clients that log into rec and whose tokens rec learns.
type fixture struct {
	t        testing.TB
	srv      *hybridclientstest.Server
	cfg      identity.Config
	hc       *hybridclients.Client
	sec      *secrets.Client
	clientID string
	secretID int
	// elsewhere, once redirectTokens made the token endpoint redirect, is its target.
	elsewhere *elsewhere
}

// newFixture starts a fake with fast retries. Its connections are closed when the test
// ends, so goleak sees no goroutine left.
func newFixture(t *testing.T, opts *hybridclientstest.Options) *fixture {
	t.Helper()
	srv := hybridclientstest.NewServer(t, opts)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	cfg := srv.Config()
	cfg.HTTPClient = &http.Client{Transport: tokenSpy{tr}}
	rec.instrument(&cfg)
	cfg.Retry = identity.RetryPolicy{MinWait: 2 * time.Millisecond, MaxWait: 10 * time.Millisecond, MaxRetryAfter: 2 * time.Second}
	rec.secret(srv.Admin.Secret.Reveal())
	rec.secret(srv.Member.Secret.Reveal())
	hc, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	fx := &fixture{t: t, srv: srv, cfg: cfg, hc: hc, sec: hc.Secrets()}
	created, err := hc.Create(context.Background(), hybridclients.CreateRequest{
		Name: "fixture", RedirectURIs: []string{"https://app.example.com/cb"}, SecretDescription: "initial",
	})
	if err != nil {
		t.Fatal(err)
	}
	rec.secret(created.Secret.Value.Reveal())
	rec.see(created)
	fx.clientID, fx.secretID = created.Client.ID, created.Secret.ID
	return fx
}

// valueOf returns the one-time value in an SDK result, if it holds one.
func valueOf(v any) (identity.Secret, bool) {
	switch x := v.(type) {
	case *hybridclients.Created:
		if x != nil {
			return x.Secret.Value, true
		}
	case *secrets.Added:
		if x != nil {
			return x.Value, true
		}
	}
	return identity.Secret{}, false
}
