package hybridclients_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/internal/harness/mocktest"
	"github.com/ocs-go/identity/secrets"
)

// stallProbesOf takes the token requests of one client and never answers them (until the
// request's context ends); every other request goes through.
type stallProbesOf struct {
	clientID string
	base     http.RoundTripper
}

func (s *stallProbesOf) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && r.URL.Path == "/identity/connect/token" && r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		if form, _ := url.ParseQuery(string(b)); form.Get("client_id") == s.clientID {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}
	}
	return s.base.RoundTrip(r)
}

// A token endpoint that never answers the probes of one client does not hold up the run:
// each probe has its own bound, so the other client is rotated and the stalled one ends
// with a *secrets.ProofError at its deadline, within seconds.
func TestApplyRotationsIsNotHeldUpByAProbeThatGetsNoAnswer(t *testing.T) {
	srv := hybridclientstest.NewServer(t, nil)
	admin, err := hybridclients.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.CloseIdleConnections()
	ids := map[string]string{}
	for _, name := range []string{"stalled", "answered"} {
		c, err := admin.Create(context.Background(), hybridclients.CreateRequest{Name: name, RedirectURIs: []string{"https://app.example.com/cb"}, SecretExpiry: secrets.ExpiresIn(10 * day)})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = c.Client.ID
	}
	cfg := srv.Config()
	cfg.HTTPClient = &http.Client{Transport: &stallProbesOf{clientID: ids["stalled"], base: http.DefaultTransport}}
	clients, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer clients.CloseIdleConnections()
	policy := func(hybridclients.HybridClient) (secrets.Policy, bool) {
		return secrets.Policy{ProofTimeout: time.Second}, true
	}
	store := func(context.Context, string, secrets.Added) error { return nil }
	var rs []hybridclients.Result[hybridclients.RotationOutcome]
	var errs []error
	mocktest.ReturnsWithin(t, 10*time.Second, func() {
		rs, errs = drain(hybridclients.ApplyRotations(context.Background(), clients, policy, store, hybridclients.ScanOptions{Concurrency: 2}))
	})
	got := byName(rs)
	if len(errs) != 0 || len(got) != 2 {
		t.Fatalf("results %v, errors %v", rs, errs)
	}
	if r := got["answered"]; r.Err != nil || r.Value.Rotation == nil || r.Value.Rotation.Step != secrets.StepDone {
		t.Errorf("answered: %+v, %v; want it rotated", r.Value.Rotation, r.Err)
	}
	if r := got["stalled"]; !errors.Is(r.Err, secrets.ErrNotProven) {
		t.Errorf("stalled: %v; want a *secrets.ProofError", r.Err)
	}
}
