package mocktest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jarcoal/httpmock"
	"github.com/ocs-go/identity"
)

// Options change the Config of a Rig.
type Options struct {
	// MaxAttempts is the retry policy's MaxAttempts; 0 keeps the SDK's default.
	MaxAttempts int
}

// Rig is the unit-test rig of the SDK's sibling packages: a Config whose requests end in a
// mock transport, routes that check every request in one place, and a log of the calls.
//
// Every request a route answers must carry the test token, Accept: application/json and
// the SDK's User-Agent; one with a body must say it is JSON; GET, HEAD and DELETE must
// carry none. Beyond that a route checks what its Want asks.
type Rig struct {
	// Config is the SDK configuration to build the client under test from.
	Config identity.Config
	// Transport is the base transport of Config, for what the rig does not wrap.
	Transport *httpmock.MockTransport

	t   testing.TB
	mu  sync.Mutex
	log []string
}

// New returns a Rig for the test t.
func New(t testing.TB, opts Options) *Rig {
	t.Helper()
	cfg, mt := Config()
	cfg.Retry.MaxAttempts = opts.MaxAttempts
	return &Rig{Config: cfg, Transport: mt, t: t}
}

// Want is what a route checks of each request beyond the common headers. The zero Want
// asks for no query and no body; Any asks for nothing more.
type Want struct {
	// Query is the exact raw query ("count=2&skip=4"); "" means none.
	Query string
	// JSONBody is the JSON the body must hold, compared as decoded values; "" means none.
	JSONBody string

	any bool
}

// Any is the Want of a route whose query and body the test checks otherwise, usually
// through Calls.
var Any = Want{any: true}

// Reply is one canned answer. Its Content-Type is JSON unless Header says otherwise.
type Reply struct {
	Status int
	Body   string
	Header http.Header
}

// On answers requests of method to url with the replies in turn, the last one again and
// again, after checking each request against the common rules and want.
func (r *Rig) On(method, url string, want Want, replies ...Reply) {
	r.t.Helper()
	if len(replies) == 0 {
		r.t.Fatalf("On %s %s: no reply", method, url)
	}
	var mu sync.Mutex
	n := 0
	r.OnFunc(method, url, func(req *http.Request) Reply {
		r.checkWant(req, want)
		mu.Lock()
		defer mu.Unlock()
		reply := replies[min(n, len(replies)-1)]
		n++
		return reply
	})
}

// OnFunc is On with the reply chosen by answer, which may check the request further; its
// body is still there to read.
func (r *Rig) OnFunc(method, url string, answer func(*http.Request) Reply) {
	r.Transport.RegisterResponder(method, url, func(req *http.Request) (*http.Response, error) {
		r.check(req)
		reply := answer(req)
		resp := httpmock.NewStringResponse(reply.Status, reply.Body)
		resp.Header.Set("Content-Type", "application/json; charset=utf-8")
		for k, v := range reply.Header {
			resp.Header[http.CanonicalHeaderKey(k)] = v
		}
		return resp, nil
	})
}

// userAgent is the User-Agent the SDK sends with the test Config (no UserAgent suffix).
var userAgent = "ocs-go-identity/" + identity.Version + " (" + runtime.Version() + ")"

// check applies the rules every request must meet, logs the request and leaves its body
// readable again.
func (r *Rig) check(req *http.Request) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	line := req.Method + " " + strings.TrimPrefix(req.URL.EscapedPath(), "/api/v1/Tenants/"+TenantID+"/")
	if req.URL.RawQuery != "" {
		line += "?" + req.URL.RawQuery
	}
	if len(body) > 0 {
		line += " " + string(body)
	}
	r.Record(line)

	where := req.Method + " " + req.URL.Path
	// Never print the header: a wrong one could hold a real token.
	if req.Header.Get("Authorization") != "Bearer "+Token {
		r.t.Errorf("%s: Authorization is not the test token's", where)
	}
	if got := req.Header.Get("Accept"); got != "application/json" {
		r.t.Errorf("%s: Accept %q, want application/json", where, got)
	}
	if got := req.Header.Get("User-Agent"); got != userAgent {
		r.t.Errorf("%s: User-Agent %q, want %q", where, got, userAgent)
	}
	switch {
	case len(body) > 0 && !strings.HasPrefix(req.Header.Get("Content-Type"), "application/json"):
		r.t.Errorf("%s: a body with Content-Type %q", where, req.Header.Get("Content-Type"))
	case len(body) > 0 && (req.Method == http.MethodGet || req.Method == http.MethodHead || req.Method == http.MethodDelete):
		r.t.Errorf("%s: a body %s", where, body)
	}
}

// checkWant checks the query and the JSON body against want.
func (r *Rig) checkWant(req *http.Request, want Want) {
	if want.any {
		return
	}
	where := req.Method + " " + req.URL.Path
	if got := req.URL.RawQuery; got != want.Query {
		r.t.Errorf("%s: query %q, want %q", where, got, want.Query)
	}
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	switch {
	case want.JSONBody == "" && len(body) == 0:
		return
	case want.JSONBody == "":
		r.t.Errorf("%s: a body %s, want none", where, body)
		return
	case len(body) == 0:
		r.t.Errorf("%s: no body, want %s", where, want.JSONBody)
		return
	}
	var got, wantV any
	if err := json.Unmarshal([]byte(want.JSONBody), &wantV); err != nil {
		r.t.Errorf("%s: the wanted body is not JSON: %v", where, err)
		return
	}
	if err := json.Unmarshal(body, &got); err != nil {
		r.t.Errorf("%s: body %q is not JSON: %v", where, body, err)
		return
	}
	if diff := cmp.Diff(wantV, got); diff != "" {
		r.t.Errorf("%s: body mismatch (-want +got):\n%s", where, diff)
	}
}

// Record adds an entry to the call log, e.g. a step of the test between two requests.
func (r *Rig) Record(entry string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, entry)
}

// Calls returns the log in order: each request as "METHOD path[?query][ body]", its path
// after the test tenant's, and what Record added.
func (r *Rig) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

// ClearCalls empties the log.
func (r *Rig) ClearCalls() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = nil
}

// WantCalls reports a test error unless the log is exactly want.
func (r *Rig) WantCalls(want ...string) {
	r.t.Helper()
	if diff := cmp.Diff(want, r.Calls(), cmpopts.EquateEmpty()); diff != "" {
		r.t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
}

// Count returns how many requests of method reached the route of url.
func (r *Rig) Count(method, url string) int {
	return r.Transport.GetCallCountInfo()[method+" "+url]
}

// Total returns how many requests reached the transport, with a route or without.
func (r *Rig) Total() int { return r.Transport.GetTotalCallCount() }
