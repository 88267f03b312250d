package secrets

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jarcoal/httpmock"
	"github.com/ocs-go/identity"
	hct "github.com/ocs-go/identity/hybridclients/hybridclientstest"
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
func secretsURL(kind route, id ...string) string {
	u := mocktest.TenantURL + "/" + string(kind) + "/" + testClient + "/Secrets"
	for _, s := range id {
		u += "/" + s
	}
	return u
}

// fixture is a secrets Client on a mocktest rig, whose call log records every request in
// order; Store functions of rotation tests Record "STORE <id>" into the same log.
type fixture struct {
	*mocktest.Rig
	c *Client
}

func newFixture(t *testing.T, kind route) *fixture {
	t.Helper()
	return newFixtureAttempts(t, kind, 0)
}

// newFixtureAttempts is newFixture with Retry.MaxAttempts set (0: the default).
func newFixtureAttempts(t *testing.T, kind route, attempts int) *fixture {
	t.Helper()
	rig := mocktest.New(t, mocktest.Options{MaxAttempts: attempts})
	c, err := newClient(rig.Config, kind)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return testNow }
	// Deterministic markers: the largest offset, one hour earlier on a year-long secret.
	c.randN = func(n int) int { return n - 1 }
	f := &fixture{Rig: rig, c: c}
	f.proofAnswers(mocktest.Reply{Status: 400, Body: `{"error":"invalid_grant"}`})
	return f
}

// tokenURL is the token endpoint of the rig's identity server.
const tokenURL = mocktest.Resource + "/identity/connect/token"

// proofAnswers makes the rig's identity server answer a rotation's proof: discovery, and
// the token endpoint with the replies in turn (the last again and again). Each token
// request is logged as "PROBE <grant_type>". They carry no bearer token, so they bypass
// the rig's checks of API calls.
func (f *fixture) proofAnswers(replies ...Reply) {
	f.Transport.RegisterResponder(http.MethodGet, mocktest.Resource+"/identity/.well-known/openid-configuration",
		httpmock.NewStringResponder(200, `{"issuer":"`+mocktest.Resource+`/identity","token_endpoint":"`+tokenURL+`"}`))
	n := 0
	f.Transport.RegisterResponder(http.MethodPost, tokenURL, func(req *http.Request) (*http.Response, error) {
		_ = req.ParseForm()
		f.Record("PROBE " + req.PostForm.Get("grant_type"))
		r := replies[min(n, len(replies)-1)]
		n++
		resp := httpmock.NewStringResponse(r.Status, r.Body)
		for k, v := range r.Header {
			resp.Header[k] = v
		}
		resp.Header.Set("Content-Type", "application/json")
		return resp, nil
	})
}

// Reply is one canned answer of the rig.
type Reply = mocktest.Reply

// ok is a 200 reply with header name, value pairs.
func ok(body string, header ...string) mocktest.Reply {
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return mocktest.Reply{Status: 200, Body: body, Header: h}
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
func list(items ...string) mocktest.Reply {
	return ok("["+strings.Join(items, ",")+"]", "Total-Count", itoa(len(items)))
}

// cmpExpiry lets cmp.Diff look into an Expiry, and tells times apart by their location as
// well as their instant, as %#v does.
var cmpExpiry = cmp.Options{
	cmp.AllowUnexported(Expiry{}),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) && a.Location().String() == b.Location().String() }),
}

func itoa(n int) string { return strconv.Itoa(n) }

// emu is a fake service with one client-credential client (the subject, whose secrets the
// tests manage) and an administrator's secrets client with quick retries.
type emu struct {
	srv     *hct.Server
	c       *Client
	subject hct.Account
}

func newEmu(t *testing.T) *emu {
	t.Helper()
	srv := hct.NewServer(t, nil)
	return &emu{srv: srv, c: emuClient(t, srv), subject: srv.AddAccount(hct.RoleMember)}
}

// emuClient is another caller: an administrator's secrets client of its own.
func emuClient(t *testing.T, srv *hct.Server) *Client {
	t.Helper()
	cfg := srv.Config()
	cfg.Retry = identity.RetryPolicy{MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond}
	c, err := NewForClientCredentialClients(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// rawAdd adds a secret to the subject with plain HTTP, as another tool (or an SDK without
// markers) would: exactly the description and expiry given (nil: never expires). It runs
// in other goroutines too, so it reports with t.Error, not t.Fatal.
func (e *emu) rawAdd(t *testing.T, desc string, at *time.Time) (int, identity.Secret) {
	t.Helper()
	body := map[string]any{"Description": desc, "Expires": at != nil, "Expiration": nil}
	if at != nil {
		body["Expiration"] = at.UTC().Format(time.RFC3339)
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/Tenants/"+e.srv.TenantID+"/ClientCredentialClients/"+e.subject.ClientID+"/Secrets", strings.NewReader(string(b)))
	if err != nil {
		t.Error(err)
		return 0, identity.Secret{}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.srv.IssueToken(hct.RoleAdmin).Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, identity.Secret{}
	}
	defer resp.Body.Close()
	var out struct {
		Id     int
		Secret string
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		t.Errorf("raw add: %d %v", resp.StatusCode, err)
	}
	return out.Id, identity.NewSecret(out.Secret)
}

// waitRequests waits until the fake has received n requests of op.
func (e *emu) waitRequests(t *testing.T, op hct.Op, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.srv.Stats().Requests[op] < n {
		if time.Now().After(deadline) {
			t.Errorf("waited in vain for %d %s requests", n, op)
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func fields(err error) []string {
	var out []string
	for _, ve := range identity.ValidationErrors(err) {
		out = append(out, ve.Field)
	}
	return out
}
