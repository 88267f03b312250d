package faulttest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	hct "github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// lateAdd holds back the first POST of a secret once armed: the SDK sees it time out with
// its context, and the service receives it only after the SDK's next listing of secrets
// was answered, as a request still in flight when its caller gave up can land after the
// caller looked.
type lateAdd struct {
	base http.RoundTripper

	mu     sync.Mutex
	armed  bool
	held   *http.Request // the POST held back, with its body and a context of its own
	landed error         // the held POST's outcome once sent
	sent   bool
}

func (l *lateAdd) RoundTrip(req *http.Request) (*http.Response, error) {
	isSecrets := strings.HasSuffix(req.URL.Path, "/Secrets")
	l.mu.Lock()
	if l.armed && req.Method == http.MethodPost && isSecrets {
		l.armed = false
		body, err := io.ReadAll(req.Body)
		if err != nil {
			l.mu.Unlock()
			return nil, err
		}
		held := req.Clone(context.WithoutCancel(req.Context()))
		held.Body = io.NopCloser(bytes.NewReader(body))
		held.ContentLength = int64(len(body))
		l.held = held
		l.mu.Unlock()
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	held := l.held
	if held != nil && req.Method == http.MethodGet && isSecrets {
		l.held = nil
	} else {
		held = nil
	}
	l.mu.Unlock()
	resp, err := l.base.RoundTrip(req)
	if held != nil {
		// The listing was answered: now the held POST lands.
		hr, herr := l.base.RoundTrip(held)
		if herr == nil {
			_, _ = io.Copy(io.Discard, hr.Body)
			_ = hr.Body.Close()
			if hr.StatusCode != http.StatusCreated && hr.StatusCode != http.StatusOK {
				herr = errors.New(hr.Status)
			}
		}
		l.mu.Lock()
		l.landed, l.sent = herr, true
		l.mu.Unlock()
	}
	return resp, err
}

// TestChaosModelLateAdd: an Add whose POST is still in flight when the caller's deadline
// ends, and lands after the SDK's naming look, leaves a secret that no error can name by
// id (it did not exist when the error was made). The SDK's error says so and names the
// client; the chaos soak's bookkeeping must count that secret as named (by client and
// description), and nothing else: before mayLand it counted it as "neither held nor
// named", the rare failure of TestChaos.
func TestChaosModelLateAdd(t *testing.T) {
	srv := hct.NewServer(t, nil)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	late := &lateAdd{base: tr}
	cfg := srv.Config()
	cfg.HTTPClient = &http.Client{Transport: tokenSpy{late}}
	rec.instrument(&cfg)
	rec.secret(srv.Admin.Secret.Reveal())
	cfg.Retry = identity.RetryPolicy{MinWait: 2 * time.Millisecond, MaxWait: 10 * time.Millisecond, MaxRetryAfter: 2 * time.Second}
	hc, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sec := hc.Secrets()
	created, err := hc.Create(context.Background(), hybridclients.CreateRequest{
		Name: "late", RedirectURIs: []string{"https://app.example.com/cb"}, SecretDescription: "initial",
	})
	if err != nil {
		t.Fatal(err)
	}
	rec.secret(created.Secret.Value.Reveal())
	rec.see(created)
	client := created.Client.ID

	late.mu.Lock()
	late.armed = true
	late.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	a, err := sec.Add(ctx, client, secrets.AddRequest{Description: "in flight", Expiry: secrets.ExpiresIn(72 * time.Hour)})
	rec.see(a, err)
	late.mu.Lock()
	landed, sent := late.landed, late.sent
	late.mu.Unlock()
	if !sent || landed != nil {
		t.Fatalf("the held POST was not sent after the naming look (sent %v, %v); Add: %v", sent, landed, err)
	}
	var oe *identity.OutcomeError
	if !errors.As(err, &oe) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Add: %v; want an *identity.OutcomeError after the deadline ended", err)
	}
	if oe.ClientID != client || !strings.Contains(err.Error(), "or may still be") {
		t.Errorf("the error must name client %s and say a secret may still be added: %v", client, err)
	}
	ids := srv.SecretIDs(client)
	if len(ids) != 2 {
		t.Fatalf("secrets %v: want the initial one and the one the late POST added", ids)
	}
	lateID := ids[1]
	if slices.Contains(oe.Orphans, lateID) || slices.Contains(oe.Unclaimed, lateID) {
		t.Fatalf("secret %d named by id (%v): the test no longer shows a late landing", lateID, err)
	}

	check := func(record bool, descriptionSent string) verdict {
		m := newChaosModel()
		m.addClient(client, 0, nil)
		m.hold(client, created.Secret.ID, created.Secret.Value, 0)
		if record {
			m.mayLand(err, descriptionSent)
		}
		m.result("add", client, err, nil)
		return m.verify(srv, m.pendingSecrets(srv, sec))
	}
	if v := check(true, "in flight"); v.unaccounted != 0 || v.late != 1 || v.rejected != 0 {
		t.Errorf("with the late write recorded: unaccounted %d, late %d, rejected %d; want 0, 1, 0 (%v)", v.unaccounted, v.late, v.rejected, v.details)
	}
	// Without the record, or with another description, the secret stays unaccounted.
	if v := check(false, ""); v.unaccounted != 1 || v.late != 0 {
		t.Errorf("without the record: unaccounted %d, late %d; want 1, 0", v.unaccounted, v.late)
	}
	if v := check(true, "someone else's"); v.unaccounted != 1 || v.late != 0 {
		t.Errorf("with another description: unaccounted %d, late %d; want 1, 0", v.unaccounted, v.late)
	}
	// The expiry the error gives (the call's marker) must match too.
	m := newChaosModel()
	m.mayLand(err, "in flight")
	ws := m.pending[client]
	if len(ws) != 1 || ws[0].expiry.IsZero() {
		t.Fatalf("recorded %+v, want one write with the expiry the error gives", ws)
	}
	s := listByID(t, sec, client)[lateID]
	if !ws[0].matches(s) {
		t.Errorf("%+v does not match the late secret %+v", ws[0], s)
	}
	if other := (pendingWrite{"in flight", ws[0].expiry.Add(time.Hour)}); other.matches(s) {
		t.Errorf("%+v matches the late secret %+v: another expiry", other, s)
	}
}

// listByID lists client's secrets by id.
func listByID(t *testing.T, sec *secrets.Client, client string) map[int]secrets.ClientSecret {
	t.Helper()
	p, err := sec.List(context.Background(), client, secrets.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]secrets.ClientSecret{}
	for _, s := range p.Secrets {
		out[s.ID] = s
	}
	return out
}
