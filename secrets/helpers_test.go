package secrets

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
