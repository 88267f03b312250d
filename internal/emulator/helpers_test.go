package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is an emulator behind a loopback HTTP server, with one tenant and a token per role.
type harness struct {
	t                   *testing.T
	e                   *Emulator
	srv                 *httptest.Server
	hc                  *http.Client
	clock               *clock
	tenant              string
	admin, member, none string
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	e := New(opts)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	h := &harness{
		t: t, e: e, srv: srv, clock: clk,
		// No keep-alive: net/http would otherwise silently replay an idempotent request
		// whose reused connection we cut, hiding what the fault did.
		hc:     &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second},
		tenant: e.AddTenant(),
	}
	h.admin = e.IssueToken(h.tenant, RoleAdmin)
	h.member = e.IssueToken(h.tenant, RoleMember)
	h.none = e.IssueToken(h.tenant, RoleNone)
	return h
}

// resp is a received response.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// api is the path of an API route of the harness's tenant.
func (h *harness) api(rest string) string { return "/api/v1/Tenants/" + h.tenant + rest }

// send sends a request; body is nil, a string (sent raw) or a value encoded as JSON.
// Any body goes with Content-Type application/json.
func (h *harness) send(method, path, token string, body any) (resp, error) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := h.hc.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: raw}, err
}

// do is send that fails the test on a transport error.
func (h *harness) do(method, path, token string, body any) resp {
	h.t.Helper()
	r, err := h.send(method, path, token, body)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// want fails the test unless the response has the status.
func (r resp) want(t *testing.T, status int) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

func decode[T any](t *testing.T, r resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return v
}

// jsonMap decodes an object body into raw properties, to check exact names.
func jsonMap(t *testing.T, r resp) map[string]json.RawMessage {
	t.Helper()
	return decode[map[string]json.RawMessage](t, r)
}

// newClient is a minimal valid HybridClientCreate body.
func newClient(name string, extra map[string]any) map[string]any {
	b := map[string]any{"Name": name, "RedirectUris": []string{"https://app.example.com/callback"}}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// create creates a client as admin and returns the decoded 201 body.
func (h *harness) create(body map[string]any) createdBody {
	h.t.Helper()
	return decode[createdBody](h.t, h.do(http.MethodPost, h.api("/HybridClients"), h.admin, body).want(h.t, http.StatusCreated))
}

// createdBody is HybridClientCreateResponse as the tests read it.
type createdBody struct {
	Secret         string
	ID             int32 `json:"Id"`
	Description    string
	ExpirationDate *time.Time
	Client         clientOut
}

// errorBody checks a JSON ErrorResponse with every required property non-empty.
func errorBody(t *testing.T, r resp) errorOut {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
	m := jsonMap(t, r)
	for _, k := range []string{"OperationId", "Error", "Reason", "Resolution", "EventId"} {
		var s string
		if err := json.Unmarshal(m[k], &s); err != nil || s == "" {
			t.Fatalf("ErrorResponse property %s missing or empty in %s", k, r.body)
		}
	}
	e := decode[errorOut](t, r)
	if !isGUID(e.OperationID) {
		t.Fatalf("OperationId %q is not a GUID", e.OperationID)
	}
	return e
}
