package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFaultStatus(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.Inject(Fault{Op: OpCreateClient, Status: http.StatusServiceUnavailable, RetryAfter: 1500 * time.Millisecond})
	r := h.do(http.MethodPost, h.api("/HybridClients"), h.admin, newClient("a", nil)).want(t, http.StatusServiceUnavailable)
	errorBody(t, r)
	if got := r.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After %q, want 2 (rounded up)", got)
	}
	if n := len(h.e.Clients(h.tenant)); n != 0 {
		t.Fatal("a Status fault acted")
	}
	// The fault is for one route only.
	h.do(http.MethodGet, h.api("/HybridClients"), h.admin, nil).want(t, http.StatusOK)
	// HEAD gets the status without a body.
	h.e.Inject(Fault{Op: OpCountClients, Status: http.StatusTooManyRequests})
	if r := h.do(http.MethodHead, h.api("/HybridClients"), h.admin, nil).want(t, http.StatusTooManyRequests); len(r.body) != 0 {
		t.Error("HEAD fault answered a body")
	}
}

func TestFaultHTML(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.Inject(Fault{Status: http.StatusBadGateway, HTML: true})
	r := h.do(http.MethodGet, h.api("/HybridClients"), h.admin, nil).want(t, http.StatusBadGateway)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || json.Valid(r.body) || !strings.Contains(string(r.body), "<html>") {
		t.Fatalf("Content-Type %q body %s", ct, r.body)
	}
}

func TestFaultEmptyOpSparesDiscoveryAndToken(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.Inject(Fault{Status: http.StatusInternalServerError})
	h.do(http.MethodGet, "/identity/.well-known/openid-configuration", "", nil).want(t, http.StatusOK)
	if status, _ := h.postToken(nil, nil); status != http.StatusBadRequest {
		t.Fatalf("token endpoint status %d, want its own 400", status)
	}
	h.do(http.MethodGet, h.api("/HybridClients"), h.admin, nil).want(t, http.StatusInternalServerError)
	h.e.Inject(Fault{Op: OpToken, Status: http.StatusServiceUnavailable})
	if status, _ := h.postToken(nil, nil); status != http.StatusServiceUnavailable {
		t.Fatalf("token endpoint status %d, want the injected 503", status)
	}
}

func TestFaultRedirect(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.Inject(Fault{Op: OpToken, Status: http.StatusTemporaryRedirect, Location: "http://127.0.0.2:1/steal"})
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/identity/connect/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "http://127.0.0.2:1/steal" {
		t.Fatalf("status %d, Location %q; want 307 to the injected Location", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestFaultDelay(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.Inject(Fault{Op: OpListClients, Delay: 100 * time.Millisecond})
	start := time.Now()
	h.do(http.MethodGet, h.api("/HybridClients"), h.admin, nil).want(t, http.StatusOK)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("answered after %v, before the delay", d)
	}

	// A caller that gives up ends the delay, and nothing is done.
	h.e.Inject(Fault{Op: OpCreateClient, Delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+h.api("/HybridClients"), strings.NewReader(`{"Name":"a","RedirectUris":["https://x"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+h.admin)
	if _, err := h.hc.Do(req); err == nil {
		t.Fatal("the request did not time out")
	}
	h.srv.Close() // waits for the handler, which must return well before the minute
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the delay ignored the request's context (%v)", d)
	}
	if n := len(h.e.Clients(h.tenant)); n != 0 {
		t.Fatal("a cancelled delayed create acted")
	}
}

func TestFaultTruncate(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.Inject(Fault{Op: OpCreateClient, Truncate: true})
	r := h.do(http.MethodPost, h.api("/HybridClients"), h.admin, newClient("a", nil)).want(t, http.StatusCreated)
	if json.Valid(r.body) || len(r.body) == 0 || r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
		t.Fatalf("truncated body %q Content-Length %s", r.body, r.header.Get("Content-Length"))
	}
	if n := len(h.e.Clients(h.tenant)); n != 1 {
		t.Fatal("a Truncate fault did not commit")
	}
}

func TestFaultCutAfterCommit(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.Inject(Fault{Op: OpCreateClient, CutAfterCommit: true})
	if _, err := h.send(http.MethodPost, h.api("/HybridClients"), h.admin, newClient("a", nil)); err == nil {
		t.Fatal("the response was not cut")
	}
	if n := len(h.e.Clients(h.tenant)); n != 1 {
		t.Fatal("a CutAfterCommit fault did not commit")
	}
}

func TestFaultResetBeforeAct(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.Inject(Fault{Op: OpCreateClient, ResetBeforeAct: true})
	if _, err := h.send(http.MethodPost, h.api("/HybridClients"), h.admin, newClient("a", nil)); err == nil {
		t.Fatal("the connection was not reset")
	}
	if n := len(h.e.Clients(h.tenant)); n != 0 {
		t.Fatal("a ResetBeforeAct fault acted")
	}
	if got := h.e.Stats().Requests[OpCreateClient]; got != 1 {
		t.Fatalf("Stats counted %d faulted creates, want 1", got)
	}
}

// pattern sends n list requests and returns which ones were faulted (x) or not (.).
func (h *harness) pattern(n int) string {
	var b strings.Builder
	for range n {
		if h.do(http.MethodGet, h.api("/HybridClients"), h.admin, nil).status == http.StatusOK {
			b.WriteByte('.')
		} else {
			b.WriteByte('x')
		}
	}
	return b.String()
}

func TestFaultSchedules(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
		want  string
	}{
		{"always", Fault{}, "xxxxxx"},
		{"one-shot", Fault{Times: 1}, "x....."},
		{"twice", Fault{Times: 2}, "xx...."},
		{"every third", Fault{EveryNth: 3}, "..x..x"},
		{"every second, once", Fault{EveryNth: 2, Times: 1}, ".x...."},
		{"probability 1", Fault{Probability: 1}, "xxxxxx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			tc.fault.Status = http.StatusInternalServerError
			h.e.Inject(tc.fault)
			if got := h.pattern(len(tc.want)); got != tc.want {
				t.Fatalf("pattern %s, want %s", got, tc.want)
			}
		})
	}
}

func TestFaultProbabilityIsReproducible(t *testing.T) {
	run := func(seed int64) string {
		h := newHarness(t, Options{})
		h.e.Inject(Fault{Status: http.StatusServiceUnavailable, Probability: 0.5, Seed: seed})
		return h.pattern(40)
	}
	a, b := run(42), run(42)
	if a != b {
		t.Fatalf("same seed, different patterns:\n%s\n%s", a, b)
	}
	if !strings.Contains(a, "x") || !strings.Contains(a, ".") {
		t.Fatalf("probability 0.5 gave %s", a)
	}
	if c := run(7); c == a {
		t.Errorf("seeds 42 and 7 gave the same 40-request pattern %s", a)
	}
}

func TestFaultOrderRemoveAndClear(t *testing.T) {
	h := newHarness(t, Options{})
	list := h.api("/HybridClients")
	remove := h.e.Inject(Fault{Op: OpListClients, Status: http.StatusBadGateway})
	h.e.Inject(Fault{Status: http.StatusServiceUnavailable})
	h.do(http.MethodGet, list, h.admin, nil).want(t, http.StatusBadGateway)
	remove()
	remove() // harmless
	h.do(http.MethodGet, list, h.admin, nil).want(t, http.StatusServiceUnavailable)
	h.e.ClearFaults()
	h.do(http.MethodGet, list, h.admin, nil).want(t, http.StatusOK)
	if got := h.e.Stats().Requests[OpListClients]; got != 3 {
		t.Fatalf("Stats counted %d lists, want 3", got)
	}
}
