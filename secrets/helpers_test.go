package secrets

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/ocs-go/identity/internal/harness/mocktest"
)

const (
	testClient = "c0ffee00-0000-4000-8000-000000000001"
	// testValue is the secret value of every mocked add: no output may show it.
	testValue = "s3cr3t-VALUE-never-print-7Hq"
)

// testNow is the clock of every unit test.
var testNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// secretsURL is the URL of the test client's secrets, or of one secret.
func secretsURL(kind Kind, id ...string) string {
	u := mocktest.TenantURL + "/" + string(kind) + "/" + testClient + "/Secrets"
	for _, s := range id {
		u += "/" + s
	}
	return u
}

// fixture is a secrets Client over a mock transport that records every request, in
// order, as "METHOD path-after-the-tenant[?query][ body]"; Store functions of rotation
// tests record "STORE <id>" into the same log.
type fixture struct {
	t  *testing.T
	c  *Client
	mt *httpmock.MockTransport

	mu  sync.Mutex
	log []string
}

func newFixture(t *testing.T, kind Kind) *fixture {
	t.Helper()
	return newFixtureAttempts(t, kind, 0)
}

// newFixtureAttempts is newFixture with Retry.MaxAttempts set (0: the default).
func newFixtureAttempts(t *testing.T, kind Kind, attempts int) *fixture {
	t.Helper()
	cfg, mt := mocktest.Config()
	cfg.Retry.MaxAttempts = attempts
	c, err := New(cfg, kind)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return testNow }
	// Deterministic markers: the largest offset, one hour earlier on a year-long secret.
	c.randN = func(n int) int { return n - 1 }
	return &fixture{t: t, c: c, mt: mt}
}

func (f *fixture) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, s)
}

func (f *fixture) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

// reply is one canned answer.
type reply struct {
	status int
	body   string
	header []string // name, value pairs
}

func ok(body string, header ...string) reply { return reply{status: 200, body: body, header: header} }

// on registers a responder for method and url that records the request, checks its
// Authorization header, and gives the replies in turn (the last one again and again).
func (f *fixture) on(method, url string, replies ...reply) {
	var mu sync.Mutex
	n := 0
	f.onFunc(method, url, func(*http.Request) reply {
		mu.Lock()
		defer mu.Unlock()
		r := replies[min(n, len(replies)-1)]
		n++
		return r
	})
}

// onFunc is on with the reply chosen by answer.
func (f *fixture) onFunc(method, url string, answer func(*http.Request) reply) {
	f.mt.RegisterResponder(method, url, func(req *http.Request) (*http.Response, error) {
		if got := req.Header.Get("Authorization"); got != "Bearer "+mocktest.Token {
			f.t.Errorf("%s %s: Authorization %q", req.Method, req.URL.Path, got)
		}
		if req.Header.Get("Accept") != "application/json" {
			f.t.Errorf("%s %s: Accept %q", req.Method, req.URL.Path, req.Header.Get("Accept"))
		}
		line := req.Method + " " + strings.TrimPrefix(req.URL.EscapedPath(), "/api/v1/Tenants/"+mocktest.TenantID+"/")
		if req.URL.RawQuery != "" {
			line += "?" + req.URL.RawQuery
		}
		if req.Body != nil {
			b, _ := io.ReadAll(req.Body)
			if len(b) > 0 {
				line += " " + string(b)
				if ct := req.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					f.t.Errorf("%s: Content-Type %q", line, ct)
				}
			}
		}
		f.record(line)
		r := answer(req)
		resp := httpmock.NewStringResponse(r.status, r.body)
		resp.Header.Set("Content-Type", "application/json; charset=utf-8")
		for i := 0; i+1 < len(r.header); i += 2 {
			resp.Header.Set(r.header[i], r.header[i+1])
		}
		return resp, nil
	})
}

// secretJSON is a ClientSecret body: expiration "" means never (Expires false, null).
func secretJSON(id int, desc, expiration string) string {
	if expiration == "" {
		return `{"Id":` + itoa(id) + `,"Description":"` + desc + `","Expires":false,"Expiration":null}`
	}
	return `{"Id":` + itoa(id) + `,"Description":"` + desc + `","Expires":true,"Expiration":"` + expiration + `"}`
}

// addedJSON is a ClientSecretResponse body holding testValue.
func addedJSON(id int, desc, expiration string) string {
	s := secretJSON(id, desc, expiration)
	return s[:len(s)-1] + `,"Secret":"` + testValue + `"}`
}

// list is a JSON array of ClientSecret bodies, with its Total-Count.
func list(items ...string) reply {
	return ok("["+strings.Join(items, ",")+"]", "Total-Count", itoa(len(items)))
}

func itoa(n int) string { return strconv.Itoa(n) }
