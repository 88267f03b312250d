package hybridclients

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocs-go/identity/internal/pager"

	"github.com/google/go-cmp/cmp"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/harness/mocktest"
	"github.com/ocs-go/identity/secrets"
)

const (
	clientID = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
	base     = mocktest.TenantURL + "/HybridClients"
	// oneTimeValue is the secret value the mock service returns; it must never leak.
	oneTimeValue = "one-time-SECRET-value-9c1d"
)

const clientJSON = `{"Id":"` + clientID + `","Name":"Billing","Enabled":true,"AccessTokenLifetime":1800,
"Tags":["prod"],"RedirectUris":["https://app.example.com/cb"],"PostLogoutRedirectUris":["https://app.example.com/"],
"ClientUri":"https://app.example.com","LogoUri":"https://app.example.com/logo.png","AllowOfflineAccess":true,
"AllowAccessTokensViaBrowser":false}`

var wantClient = HybridClient{
	ID: clientID, Name: "Billing", Enabled: true, AccessTokenLifetime: 30 * time.Minute,
	Tags: []string{"prod"}, RedirectURIs: []string{"https://app.example.com/cb"},
	PostLogoutRedirectURIs: []string{"https://app.example.com/"}, ClientURI: "https://app.example.com",
	LogoURI: "https://app.example.com/logo.png", AllowRefreshTokens: true,
}

// newTest returns a Client on a new rig, with a fixed id and marker for requests that
// need them.
func newTest(t *testing.T) (*Client, *mocktest.Rig) {
	t.Helper()
	rig := mocktest.New(t, mocktest.Options{})
	c, err := New(rig.Config)
	if err != nil {
		t.Fatal(err)
	}
	c.newID = func() string { return clientID }
	c.randN = func(n int) int { return n - 1 } // the largest marker: an hour earlier on a year
	return c, rig
}

// loopbackClient is a Client of a loopback server running h (mocktest.Loopback): for
// cut connections and services that page however the test likes.
func loopbackClient(t *testing.T, h http.Handler) *Client {
	t.Helper()
	c, err := New(mocktest.Loopback(t, h))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestGet(t *testing.T) {
	c, rig := newTest(t)
	rig.On("GET", base+"/"+clientID, mocktest.Want{}, mocktest.Reply{Status: 200, Body: clientJSON})
	got, err := c.Get(context.Background(), clientID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantClient, *got); diff != "" {
		t.Fatalf("Get mismatch (-want +got):\n%s", diff)
	}
}

func TestExists(t *testing.T) {
	for status, want := range map[int]bool{200: true, 404: false} {
		c, rig := newTest(t)
		rig.On("HEAD", base+"/"+clientID, mocktest.Want{}, mocktest.Reply{Status: status})
		got, err := c.Exists(context.Background(), clientID)
		if err != nil || got != want {
			t.Fatalf("status %d: %v %v", status, got, err)
		}
	}
	c, rig := newTest(t)
	rig.On("HEAD", base+"/"+clientID, mocktest.Want{}, mocktest.Reply{Status: 403})
	if ok, err := c.Exists(context.Background(), clientID); ok || !errors.Is(err, identity.ErrForbidden) {
		t.Fatalf("403: %v %v", ok, err)
	}
}

func TestDelete(t *testing.T) {
	c, rig := newTest(t)
	rig.On("DELETE", base+"/"+clientID, mocktest.Want{}, mocktest.Reply{Status: 204})
	if err := c.Delete(context.Background(), clientID); err != nil {
		t.Fatal(err)
	}
	c, rig = newTest(t)
	rig.On("DELETE", base+"/"+clientID, mocktest.Want{}, mocktest.Reply{Status: 404, Body: mocktest.ErrorBody})
	if err := c.Delete(context.Background(), clientID); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("first-attempt 404 must be an error, got %v", err)
	}
}

func TestDeleteRetriedAfterUnknownOutcomeMeets404(t *testing.T) {
	c, rig := newTest(t)
	rig.On("DELETE", base+"/"+clientID, mocktest.Want{},
		mocktest.Reply{Status: 502, Body: "<html>bad gateway</html>"},
		mocktest.Reply{Status: 404, Body: mocktest.ErrorBody})
	if err := c.Delete(context.Background(), clientID); err != nil {
		t.Fatalf("a 404 after an unknown outcome means done; got %v", err)
	}
	if n := rig.Total(); n != 2 {
		t.Fatalf("calls = %d", n)
	}
}

func TestList(t *testing.T) {
	c, rig := newTest(t)
	other := "00000000-0000-4000-8000-000000000001"
	rig.On("GET", base, mocktest.Want{Query: "count=2&id=" + clientID + "&id=" + other + "&skip=4&tag=prod&tag=blue+team"},
		mocktest.Reply{Status: 200, Body: "[" + clientJSON + "]", Header: http.Header{"Total-Count": {"17"}}})
	p, err := c.List(context.Background(), ListOptions{IDs: []string{clientID, other}, Tags: []string{"prod", "blue team"}, Skip: 4, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 17 || len(p.Clients) != 1 || p.Clients[0].ID != clientID {
		t.Fatalf("%+v", p)
	}
	c, rig = newTest(t)
	rig.On("GET", base, mocktest.Want{}, mocktest.Reply{Status: 200, Body: "[]", Header: http.Header{"Total-Count": {"0"}}})
	if p, err := c.List(context.Background(), ListOptions{}); err != nil || p.Total != 0 || len(p.Clients) != 0 {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestListValidation(t *testing.T) {
	c, rig := newTest(t)
	_, err := c.List(context.Background(), ListOptions{IDs: []string{clientID, " "}, Tags: []string{""}, Skip: -1, PageSize: -5})
	for _, f := range []string{"IDs[1]", "Tags[0]", "Skip", "PageSize"} {
		if !strings.Contains(fmt.Sprint(err), f) {
			t.Errorf("%s not named in %v", f, err)
		}
	}
	if rig.Total() != 0 {
		t.Fatal("request sent")
	}
}

func TestAllPagesLazily(t *testing.T) {
	c, rig := newTest(t)
	page := func(from, n int) string {
		var parts []string
		for i := from; i < from+n; i++ {
			parts = append(parts, fmt.Sprintf(`{"Id":"c%03d","Name":"n"}`, i))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	pages := map[string]string{"count=2": page(0, 2), "count=2&skip=2": page(2, 2), "count=2&skip=4": page(4, 1)}
	rig.OnFunc("GET", base, func(r *http.Request) mocktest.Reply {
		body, ok := pages[r.URL.RawQuery]
		if !ok {
			t.Errorf("unexpected query %q", r.URL.RawQuery)
		}
		return mocktest.Reply{Status: 200, Body: body, Header: http.Header{"Total-Count": {"5"}}}
	})
	var ids []string
	for hc, err := range c.All(context.Background(), ListOptions{PageSize: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, hc.ID)
	}
	if strings.Join(ids, ",") != "c000,c001,c002,c003,c004" || rig.Total() != 3 {
		t.Fatalf("ids %v after %d calls", ids, rig.Total())
	}

	// Breaking out early fetches no further page.
	c, rig = newTest(t)
	rig.On("GET", base, mocktest.Want{Query: "count=2"}, mocktest.Reply{Status: 200, Body: page(0, 2), Header: http.Header{"Total-Count": {"5"}}})
	for range c.All(context.Background(), ListOptions{PageSize: 2}) {
		break
	}
	if rig.Total() != 1 {
		t.Fatalf("calls = %d after break", rig.Total())
	}

	// An error is yielded once and ends the loop.
	c, rig = newTest(t)
	rig.On("GET", base, mocktest.Want{Query: "count=100"}, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
	n := 0
	for _, err := range c.All(context.Background(), ListOptions{}) {
		n++
		if !errors.Is(err, identity.ErrForbidden) {
			t.Fatalf("err = %v", err)
		}
	}
	if n != 1 {
		t.Fatalf("yielded %d times", n)
	}
}

// sameClientsForever ignores skip: every list answer is the same full page, with a
// Total-Count that never ends the loop.
func sameClientsForever(requests *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		count, _ := strconv.Atoi(r.URL.Query().Get("count"))
		page := make([]map[string]any, count)
		for i := range page {
			page[i] = map[string]any{"Id": fmt.Sprintf("00000000-0000-0000-0000-%012d", i), "Name": "c"}
		}
		w.Header().Set("Total-Count", "10000000")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	})
}

func TestAllStopsWhenTheServiceIgnoresSkip(t *testing.T) {
	var requests atomic.Int32
	c := loopbackClient(t, sameClientsForever(&requests))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got int
	var last error
	for _, err := range c.All(ctx, ListOptions{PageSize: 10}) {
		if err != nil {
			last = err
			break
		}
		got++
	}
	var re *identity.ResponseError
	if !errors.Is(last, identity.ErrInvalidResponse) || !errors.As(last, &re) {
		t.Fatalf("All ended with %v, want an *identity.ResponseError (ErrInvalidResponse)", last)
	}
	if got != 10 {
		t.Errorf("All yielded %d clients, want the 10 distinct ones once each", got)
	}
	if n := requests.Load(); n > 5 {
		t.Errorf("%d list requests before stopping", n)
	}
}

// clientsFrom serves a tenant of total clients with distinct ids, paged by skip and count
// (total < 0: new clients without end, whatever the skip).
func clientsFrom(total int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		skip, _ := strconv.Atoi(q.Get("skip"))
		count, _ := strconv.Atoi(q.Get("count"))
		n := count
		if total >= 0 {
			n = max(0, min(count, total-skip))
		}
		page := make([]map[string]any, n)
		for i := range page {
			page[i] = map[string]any{"Id": fmt.Sprintf("00000000-0000-0000-0000-%012d", skip+i), "Name": "c"}
		}
		w.Header().Set("Total-Count", strconv.Itoa(max(total, 1<<30)))
		if total >= 0 {
			w.Header().Set("Total-Count", strconv.Itoa(total))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	})
}

// TestAllCapStopsAnEndlessListButNotATenantSlightlyOverTheLimit: the cap on a walk stops a list that never
// ends, but does not cut short a tenant that holds a few more clients than the service's
// limit (a fake seeded past it, or clients created while the walk runs).
func TestAllCapStopsAnEndlessListButNotATenantSlightlyOverTheLimit(t *testing.T) {
	ctx := context.Background()
	walk := func(c *Client) (n int, last error) {
		for _, err := range c.All(ctx, ListOptions{PageSize: 1000}) {
			if err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	}
	if n, err := walk(loopbackClient(t, clientsFrom(50_004))); err != nil || n != 50_004 {
		t.Errorf("a tenant of 50,004 clients: listed %d, err %v; want all, no error", n, err)
	}
	n, err := walk(loopbackClient(t, clientsFrom(-1)))
	if !errors.Is(err, identity.ErrInvalidResponse) || n > 100_000+1000 || n < 50_001 { // the page that passes the cap is yielded
		t.Errorf("a list without end: listed %d, err %v; want a stop by 100,000 (and the page that passes it) with ErrInvalidResponse", n, err)
	}
}

func TestCount(t *testing.T) {
	c, rig := newTest(t)
	rig.On("HEAD", base, mocktest.Want{Query: "id=" + clientID + "&tag=prod"}, mocktest.Reply{Status: 200, Header: http.Header{"Total-Count": {"3"}}})
	if n, err := c.Count(context.Background(), CountOptions{IDs: []string{clientID}, Tags: []string{"prod"}}); err != nil || n != 3 {
		t.Fatalf("%d %v", n, err)
	}
	c, rig = newTest(t)
	rig.On("HEAD", base, mocktest.Want{}, mocktest.Reply{Status: 200})
	if _, err := c.Count(context.Background(), CountOptions{}); !errors.Is(err, identity.ErrInvalidResponse) {
		t.Fatalf("missing Total-Count: %v", err)
	}
}

const createdJSON = `{"Secret":"` + oneTimeValue + `","Id":1,"Description":"first","ExpirationDate":"2027-11-25T10:00:00Z","Client":` + clientJSON + `}`

func TestCreate(t *testing.T) {
	c, rig := newTest(t)
	exp := time.Date(2027, 11, 25, 10, 0, 0, 0, time.UTC)
	rig.On("POST", base, mocktest.Want{JSONBody: `{"Id":"` + clientID + `","Name":"Billing","Enabled":true,"AccessTokenLifetime":1800,
		"Tags":["prod"],"RedirectUris":["https://app.example.com/cb"],"PostLogoutRedirectUris":["https://app.example.com/"],
		"ClientUri":"https://app.example.com","LogoUri":"https://app.example.com/logo.png","AllowOfflineAccess":true,
		"AllowAccessTokensViaBrowser":false,"SecretDescription":"first","SecretExpirationDate":"2027-11-25T09:00:00Z"}`},
		mocktest.Reply{Status: 201, Body: createdJSON})
	got, err := c.Create(context.Background(), CreateRequest{
		Name: "Billing", AllowRefreshTokens: true, RedirectURIs: []string{"https://app.example.com/cb"},
		PostLogoutRedirectURIs: []string{"https://app.example.com/"}, AccessTokenLifetime: 30 * time.Minute,
		Tags: []string{"prod"}, ClientURI: "https://app.example.com", LogoURI: "https://app.example.com/logo.png",
		SecretDescription: "first", SecretExpiry: secrets.ExpiresAt(exp),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Client.ID != clientID || got.Secret.ID != 1 || got.Secret.Description != "first" ||
		got.Secret.Value.Reveal() != oneTimeValue || got.Secret.Expiry.String() != "2027-11-25T10:00:00Z" {
		t.Fatalf("%+v", got)
	}
	for _, s := range []string{fmt.Sprint(got), fmt.Sprintf("%+v", got), fmt.Sprintf("%#v", got), fmt.Sprintf("%+v", *got)} {
		if strings.Contains(s, oneTimeValue) {
			t.Fatalf("the secret value leaked into %s", s)
		}
	}
	if b, _ := json.Marshal(got); strings.Contains(string(b), oneTimeValue) {
		t.Fatal("the secret value leaked into JSON")
	}
}

func TestCreateDefaults(t *testing.T) {
	c, rig := newTest(t)
	var sent map[string]any
	rig.OnFunc("POST", base, func(r *http.Request) mocktest.Reply {
		_ = json.NewDecoder(r.Body).Decode(&sent)
		return mocktest.Reply{Status: 201, Body: createdJSON}
	})
	before := time.Now()
	if _, err := c.Create(context.Background(), CreateRequest{Name: "n", RedirectURIs: []string{"https://app.example.com/cb"}}); err != nil {
		t.Fatal(err)
	}
	if sent["Id"] != clientID || sent["AccessTokenLifetime"] != 3600.0 || sent["Enabled"] != true || sent["AllowOfflineAccess"] != false {
		t.Fatalf("defaults not sent: %v", sent)
	}
	exp, err := time.Parse(time.RFC3339, fmt.Sprint(sent["SecretExpirationDate"]))
	// One year ahead, less this call's marker (at most an hour).
	if err != nil || exp.Before(before.AddDate(1, 0, 0).Add(-time.Hour-time.Second)) || exp.After(time.Now().AddDate(1, 0, 0).Add(-time.Second)) {
		t.Fatalf("SecretExpirationDate %v: want one year ahead, less up to an hour", sent["SecretExpirationDate"])
	}
	for _, k := range []string{"ClientUri", "LogoUri", "Tags", "PostLogoutRedirectUris", "SecretDescription"} {
		if _, ok := sent[k]; ok {
			t.Errorf("%s sent although not set", k)
		}
	}

	// Never expires is explicit, and becomes null on the wire.
	c, rig = newTest(t)
	rig.OnFunc("POST", base, func(r *http.Request) mocktest.Reply {
		sent = nil
		_ = json.NewDecoder(r.Body).Decode(&sent)
		return mocktest.Reply{Status: 201, Body: strings.Replace(createdJSON, `"2027-11-25T10:00:00Z"`, "null", 1)}
	})
	got, err := c.Create(context.Background(), CreateRequest{Name: "n", RedirectURIs: []string{"https://a/"}, SecretExpiry: secrets.NeverExpires()})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := sent["SecretExpirationDate"]; !ok || v != nil {
		t.Fatalf("SecretExpirationDate = %v (present %v), want null", v, ok)
	}
	if !got.Secret.Expiry.Never() {
		t.Fatalf("expiry %v, want never", got.Secret.Expiry)
	}
}

func TestCreateResponseWithoutSecret(t *testing.T) {
	c, rig := newTest(t)
	rig.On("POST", base, mocktest.Any, mocktest.Reply{Status: 201, Body: `{"Id":1,"Client":` + clientJSON + `}`})
	// The service acted, so Create recovers the secret; here reading the client is refused
	// (a lasting 403), which ends the recovery and its naming look at once.
	rig.On("GET", base+"/"+clientID, mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
	rig.On("GET", base+"/"+clientID+"/Secrets", mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
	if _, err := c.Create(context.Background(), CreateRequest{Name: "n", RedirectURIs: []string{"https://a/"}}); !errors.Is(err, identity.ErrInvalidResponse) {
		t.Fatalf("err = %v", err)
	}
}

func TestCreateValidation(t *testing.T) {
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("https://app.example.com/cb%d", i)
		}
		return out
	}
	ok := CreateRequest{Name: "n", RedirectURIs: []string{"https://app.example.com/cb"}}
	cases := []struct {
		name  string
		mod   func(*CreateRequest)
		field string // "" means accepted
	}{
		{"minimal", func(*CreateRequest) {}, ""},
		{"native app schemes", func(r *CreateRequest) { r.RedirectURIs = []string{"com.example.app:/oauth2redirect", "myapp://cb"} }, ""},
		{"loopback redirect", func(r *CreateRequest) { r.RedirectURIs = []string{"http://127.0.0.1:8080/cb"} }, ""},
		{"10 redirects", func(r *CreateRequest) { r.RedirectURIs = many(10) }, ""},
		{"10 post-logout", func(r *CreateRequest) { r.PostLogoutRedirectURIs = many(10) }, ""},
		{"given GUID", func(r *CreateRequest) { r.ID = "0f8fad5b-d9cb-469f-a165-70867728950e" }, ""},
		{"lifetime 60s", func(r *CreateRequest) { r.AccessTokenLifetime = time.Minute }, ""},
		{"lifetime 3600s", func(r *CreateRequest) { r.AccessTokenLifetime = time.Hour }, ""},
		{"never expires", func(r *CreateRequest) { r.SecretExpiry = secrets.NeverExpires() }, ""},
		{"expires in 30 days", func(r *CreateRequest) { r.SecretExpiry = secrets.ExpiresIn(30 * 24 * time.Hour) }, ""},
		{"blank name", func(r *CreateRequest) { r.Name = "  " }, "Name"},
		{"no redirect", func(r *CreateRequest) { r.RedirectURIs = nil }, "RedirectURIs"},
		{"11 redirects", func(r *CreateRequest) { r.RedirectURIs = many(11) }, "RedirectURIs"},
		{"11 post-logout", func(r *CreateRequest) { r.PostLogoutRedirectURIs = many(11) }, "PostLogoutRedirectURIs"},
		{"relative redirect", func(r *CreateRequest) { r.RedirectURIs = []string{"/cb"} }, "RedirectURIs[0]"},
		{"wildcard redirect", func(r *CreateRequest) { r.RedirectURIs = []string{"https://*.example.com/cb"} }, "RedirectURIs[0]"},
		{"fragment", func(r *CreateRequest) { r.RedirectURIs = []string{"https://a.example.com/cb#x"} }, "RedirectURIs[0]"},
		{"whitespace", func(r *CreateRequest) { r.RedirectURIs = []string{"https://a.example.com/c b"} }, "RedirectURIs[0]"},
		{"empty redirect", func(r *CreateRequest) { r.RedirectURIs = []string{""} }, "RedirectURIs[0]"},
		{"duplicate", func(r *CreateRequest) { r.RedirectURIs = []string{"https://a/", "https://a/"} }, "RedirectURIs[1]"},
		{"bad post-logout", func(r *CreateRequest) { r.PostLogoutRedirectURIs = []string{"nope"} }, "PostLogoutRedirectURIs[0]"},
		{"client uri not http", func(r *CreateRequest) { r.ClientURI = "ftp://a.example.com" }, "ClientURI"},
		{"logo uri relative", func(r *CreateRequest) { r.LogoURI = "logo.png" }, "LogoURI"},
		{"lifetime 59s", func(r *CreateRequest) { r.AccessTokenLifetime = 59 * time.Second }, "AccessTokenLifetime"},
		{"lifetime 3601s", func(r *CreateRequest) { r.AccessTokenLifetime = 3601 * time.Second }, "AccessTokenLifetime"},
		{"lifetime fraction", func(r *CreateRequest) { r.AccessTokenLifetime = 90*time.Second + time.Millisecond }, "AccessTokenLifetime"},
		{"negative lifetime", func(r *CreateRequest) { r.AccessTokenLifetime = -time.Hour }, "AccessTokenLifetime"},
		{"id not GUID", func(r *CreateRequest) { r.ID = "my-client" }, "ID"},
		{"blank tag", func(r *CreateRequest) { r.Tags = []string{"a", ""} }, "Tags[1]"},
		{"past expiry", func(r *CreateRequest) { r.SecretExpiry = secrets.ExpiresAt(time.Now().Add(-time.Hour)) }, "SecretExpiry"},
		{"zero expiry time", func(r *CreateRequest) { r.SecretExpiry = secrets.ExpiresAt(time.Time{}) }, "SecretExpiry"},
		{"negative duration", func(r *CreateRequest) { r.SecretExpiry = secrets.ExpiresIn(-time.Hour) }, "SecretExpiry"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := ok
			tc.mod(&req)
			_, err := req.validate(time.Now(), func() string { return clientID })
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ve *identity.ValidationError
			if !errors.Is(err, identity.ErrInvalidInput) || !errors.As(err, &ve) || !strings.HasPrefix(ve.Field, tc.field) {
				t.Fatalf("err = %v, want a ValidationError on %s", err, tc.field)
			}
			if ve.Rule == "" || !strings.Contains(err.Error(), "got ") {
				t.Fatalf("message %q must say rule and value", err)
			}
		})
	}

	// Every broken rule at once, and nothing sent.
	c, rig := newTest(t)
	_, err := c.Create(context.Background(), CreateRequest{ID: "x", AccessTokenLifetime: time.Second, RedirectURIs: []string{"*"}})
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 4 {
		t.Fatalf("want 4 joined errors (ID, Name, RedirectURIs[0], AccessTokenLifetime), got %v", err)
	}
	if rig.Total() != 0 {
		t.Fatal("request sent")
	}
}

func TestNamesAndTagsWithControlOrBidiCharactersAreRefused(t *testing.T) {
	c, rig := newTest(t)
	ctx := context.Background()
	bad := map[string]string{
		"newline":        "Billing\nERROR: forged log line",
		"carriage":       "Billing\r",
		"tab":            "Bil\tling",
		"ANSI escape":    "\x1b[2J\x1b[31mBilling",
		"NUL":            "Billing\x00",
		"C1 CSI":         "Billing\u009b31m",
		"line separator": "Billing\u2028portal",
		"RLO override":   "Billing \u202Egnp.exe",
		"bidi isolate":   "\u2067Billing\u2069",
	}
	for name, v := range bad {
		_, err := c.Create(ctx, CreateRequest{Name: v, Tags: []string{"ok", v}, RedirectURIs: []string{"https://app.example.com/cb"}, SecretDescription: v})
		refusedField(t, "Create Name "+name, err, "Name", "control characters", "")
		refusedField(t, "Create Tags "+name, err, "Tags[1]", "control characters", "")
		refusedField(t, "Create SecretDescription "+name, err, "SecretDescription", "control characters", "")
		_, err = c.Update(ctx, clientID, UpdateRequest{Name: &v, Tags: []string{v}})
		refusedField(t, "Update Name "+name, err, "Name", "control characters", "")
		refusedField(t, "Update Tags "+name, err, "Tags[0]", "control characters", "")
		_, err = c.List(ctx, ListOptions{Tags: []string{v}})
		refusedField(t, "List Tags "+name, err, "Tags[0]", "control characters", "")
		_, err = c.Count(ctx, CountOptions{Tags: []string{"a", v}})
		refusedField(t, "Count Tags "+name, err, "Tags[1]", "control characters", "")
		_, err = c.List(ctx, ListOptions{IDs: []string{v}})
		refusedField(t, "List IDs "+name, err, "IDs[0]", "must be a GUID", "") // which no control character is
	}
	if n := rig.Total(); n != 0 {
		t.Fatalf("%d requests sent for refused input", n)
	}
	// Still accepted: letters of any script, punctuation, emoji with joiners.
	for _, v := range []string{"Zahlungsportal – Über", "請求ポータル", "👩‍💻 dev team", "billing (prod, eu)"} {
		req := CreateRequest{Name: v, Tags: []string{v}, RedirectURIs: []string{"https://app.example.com/cb"}, SecretDescription: v}
		if _, err := req.validate(time.Now(), func() string { return clientID }); err != nil {
			t.Errorf("%q refused: %v", v, err)
		}
	}
}

func TestUpdate(t *testing.T) {
	c, rig := newTest(t)
	rig.On("PUT", base+"/"+clientID, mocktest.Want{JSONBody: `{"Name":"New","Enabled":false,"AccessTokenLifetime":120,"Tags":[]}`}, mocktest.Reply{Status: 200, Body: clientJSON})
	got, err := c.Update(context.Background(), clientID, UpdateRequest{
		Name: identity.Ptr("New"), Enabled: identity.Ptr(false), AccessTokenLifetime: identity.Ptr(2 * time.Minute), Tags: []string{},
	})
	if err != nil || got.ID != clientID {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestUpdateValidation(t *testing.T) {
	cases := []struct {
		name  string
		req   UpdateRequest
		field string
	}{
		{"one field", UpdateRequest{Enabled: identity.Ptr(true)}, ""},
		{"clear tags", UpdateRequest{Tags: []string{}}, ""},
		{"clear post-logout", UpdateRequest{PostLogoutRedirectURIs: []string{}}, ""},
		{"clear client uri", UpdateRequest{ClientURI: identity.Ptr("")}, ""},
		{"nothing", UpdateRequest{}, "UpdateRequest"},
		{"empty redirects", UpdateRequest{RedirectURIs: []string{}}, "RedirectURIs"},
		{"blank name", UpdateRequest{Name: identity.Ptr("")}, "Name"},
		{"lifetime", UpdateRequest{AccessTokenLifetime: identity.Ptr(2 * time.Hour)}, "AccessTokenLifetime"},
		{"wildcard", UpdateRequest{RedirectURIs: []string{"https://a/*"}}, "RedirectURIs[0]"},
		{"logo", UpdateRequest{LogoURI: identity.Ptr("javascript:alert(1)")}, "LogoURI"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.req.validate()
			var ve *identity.ValidationError
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if !errors.As(err, &ve) || !strings.HasPrefix(ve.Field, tc.field) {
				t.Fatalf("err = %v, want %s", err, tc.field)
			}
		})
	}
}

// Every operation that takes a hybrid client id refuses one that is not a GUID before any
// request, with the rule Create applies to CreateRequest.ID: the service's ids are GUIDs,
// so a non-GUID could only meet 404 (or, with "/" or "..", another route).
func TestNonGUIDClientIDsAreRefusedBeforeAnyRequest(t *testing.T) {
	c, rig := newTest(t)
	ctx := context.Background()
	_, err := c.Create(ctx, CreateRequest{ID: "not-a-guid", Name: "n", RedirectURIs: []string{"https://app.example.com/cb"}})
	var createRule *identity.ValidationError
	if !errors.As(err, &createRule) || createRule.Field != "ID" {
		t.Fatalf("Create with a non-GUID ID: %v", err)
	}
	sc := c.Secrets()
	secret := identity.NewSecret("s")
	for _, id := range []string{"", "..", "a\x00", "not-a-guid", "../../x", "x/y", "{" + clientID + "}", clientID + " ", clientID[:35]} {
		for _, call := range []struct {
			name, field string
			err         error
		}{
			{"Get", "ID", func() error { _, err := c.Get(ctx, id); return err }()},
			{"Exists", "ID", func() error { _, err := c.Exists(ctx, id); return err }()},
			{"Delete", "ID", c.Delete(ctx, id)},
			{"Update", "ID", func() error { _, err := c.Update(ctx, id, UpdateRequest{Enabled: identity.Ptr(true)}); return err }()},
			{"List", "IDs[1]", func() error { _, err := c.List(ctx, ListOptions{IDs: []string{clientID, id}}); return err }()},
			{"Count", "IDs[0]", func() error { _, err := c.Count(ctx, CountOptions{IDs: []string{id}}); return err }()},
			{"SignIn", "Client.ID", func() error {
				_, err := c.SignIn(ctx, &HybridClient{ID: id, Enabled: true, RedirectURIs: []string{"https://app.example.com/cb"}}, secret, "https://app.example.com/cb")
				return err
			}()},
			{"Secrets().List", "ClientID", func() error { _, err := sc.List(ctx, id, secrets.ListOptions{}); return err }()},
			{"Secrets().Get", "ClientID", func() error { _, err := sc.Get(ctx, id, 1); return err }()},
			{"Secrets().Delete", "ClientID", sc.Delete(ctx, id, 1)},
		} {
			if id == "" && (call.name == "List" || call.name == "Count") {
				continue // a blank filter has its own rule (the service would ignore it)
			}
			var ve *identity.ValidationError
			if !errors.As(call.err, &ve) || ve.Field != call.field || ve.Rule != createRule.Rule || ve.Value != id {
				t.Errorf("%s(%q) = %v, want field %s, Create's rule %q, value %q", call.name, id, call.err, call.field, createRule.Rule, id)
			}
		}
	}
	if n := rig.Total(); n != 0 {
		t.Fatalf("%d requests sent for refused ids", n)
	}
}

func TestZeroOrNilClientReturnsErrorsNotPanics(t *testing.T) {
	ctx := context.Background()
	for name, c := range map[string]*Client{"zero": {}, "nil": nil} {
		check := func(method string, err error) {
			t.Helper()
			if !errors.Is(err, identity.ErrInvalidInput) || !strings.Contains(fmtErr(err), "hybridclients.New") {
				t.Errorf("%s Client.%s: err = %v, want ErrInvalidInput saying to use hybridclients.New", name, method, err)
			}
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s Client panicked: %v", name, r)
				}
			}()
			_, err := c.Get(ctx, clientID)
			check("Get", err)
			_, err = c.Exists(ctx, clientID)
			check("Exists", err)
			check("Delete", c.Delete(ctx, clientID))
			_, err = c.Update(ctx, clientID, UpdateRequest{Enabled: identity.Ptr(true)})
			check("Update", err)
			_, err = c.List(ctx, ListOptions{})
			check("List", err)
			n := 0
			for _, err := range c.All(ctx, ListOptions{}) {
				n++
				check("All", err)
			}
			if n != 1 {
				t.Errorf("%s Client.All yielded %d times, want once (the error)", name, n)
			}
			_, err = c.Count(ctx, CountOptions{})
			check("Count", err)
			_, err = c.Create(ctx, CreateRequest{Name: "n", RedirectURIs: []string{"https://app.example.com/cb"}})
			check("Create", err)
			c.CloseIdleConnections()
			if s := c.Secrets(); s != nil {
				t.Errorf("%s Client.Secrets() = %v, want nil", name, s)
			} else if _, err := s.List(ctx, clientID, secrets.ListOptions{}); !errors.Is(err, identity.ErrInvalidInput) {
				t.Errorf("%s Client.Secrets().List: %v", name, err)
			}
			// Other broken rules come with it.
			_, err = c.Update(ctx, "", UpdateRequest{})
			if got := len(identity.ValidationErrors(err)); got != 3 {
				t.Errorf("%s Client.Update(\"\", {}): %d rules, want 3 (client, ID, UpdateRequest): %v", name, got, err)
			}
		}()
	}
}

// Every public call given a nil context returns an error and sends nothing.
func TestEveryCallGivenANilContextIsAnErrorAndSendsNothing(t *testing.T) {
	var requests atomic.Int32
	c := loopbackClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "unexpected", http.StatusTeapot)
	}))
	var nilCtx context.Context
	const id = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
	name := "n"
	sc := c.Secrets()
	calls := map[string]func() error{
		"Get":    func() error { _, err := c.Get(nilCtx, id); return err },
		"Exists": func() error { _, err := c.Exists(nilCtx, id); return err },
		"List":   func() error { _, err := c.List(nilCtx, ListOptions{}); return err },
		"All": func() error {
			for _, err := range c.All(nilCtx, ListOptions{}) {
				return err
			}
			return nil
		},
		"Count":  func() error { _, err := c.Count(nilCtx, CountOptions{}); return err },
		"Update": func() error { _, err := c.Update(nilCtx, id, UpdateRequest{Name: &name}); return err },
		"Delete": func() error { return c.Delete(nilCtx, id) },
		"Create": func() error {
			_, err := c.Create(nilCtx, CreateRequest{Name: "n", RedirectURIs: []string{"https://app.example.com/cb"}})
			return err
		},
		"Secrets.List":   func() error { _, err := sc.List(nilCtx, id, secrets.ListOptions{}); return err },
		"Secrets.Count":  func() error { _, err := sc.Count(nilCtx, id); return err },
		"Secrets.Get":    func() error { _, err := sc.Get(nilCtx, id, 1); return err },
		"Secrets.Exists": func() error { _, err := sc.Exists(nilCtx, id, 1); return err },
		"Secrets.Add":    func() error { _, err := sc.Add(nilCtx, id, secrets.AddRequest{Description: "d"}); return err },
		"Secrets.Update": func() error {
			_, err := sc.Update(nilCtx, id, 1, secrets.UpdateRequest{Description: &name})
			return err
		},
		"Secrets.Delete": func() error { return sc.Delete(nilCtx, id, 1) },
		"Secrets.Rotate": func() error { _, err := sc.Rotate(nilCtx, id, secrets.RotateRequest{Description: "d"}); return err },
		"Secrets.CheckExpiry": func() error {
			_, err := sc.CheckExpiry(nilCtx, id, time.Hour)
			return err
		},
	}
	for op, call := range calls {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s(nil ctx) panicked: %v", op, r)
				}
			}()
			if err := call(); !errors.Is(err, identity.ErrInvalidInput) {
				t.Errorf("%s(nil ctx) = %v, want ErrInvalidInput", op, err)
			}
		}()
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("%d requests sent with a nil context", n)
	}
}

// TestDocumentedErrors maps every documented status of every route to its sentinel.
func TestDocumentedErrors(t *testing.T) {
	ctx := context.Background()
	routes := []struct {
		method, url string
		call        func(*Client) error
	}{
		{"GET", base, func(c *Client) error { _, err := c.List(ctx, ListOptions{}); return err }},
		{"HEAD", base, func(c *Client) error { _, err := c.Count(ctx, CountOptions{}); return err }},
		{"POST", base, func(c *Client) error {
			_, err := c.Create(ctx, CreateRequest{Name: "n", RedirectURIs: []string{"https://a/"}})
			return err
		}},
		{"GET", base + "/" + clientID, func(c *Client) error { _, err := c.Get(ctx, clientID); return err }},
		{"HEAD", base + "/" + clientID, func(c *Client) error { _, err := c.Exists(ctx, clientID); return err }},
		{"PUT", base + "/" + clientID, func(c *Client) error {
			_, err := c.Update(ctx, clientID, UpdateRequest{Enabled: identity.Ptr(true)})
			return err
		}},
		{"DELETE", base + "/" + clientID, func(c *Client) error { return c.Delete(ctx, clientID) }},
	}
	for _, rt := range routes {
		for _, st := range mocktest.Statuses {
			if rt.method == "HEAD" && rt.url != base && st.Status == 404 {
				continue // Exists: 404 is false, nil
			}
			t.Run(fmt.Sprintf("%s %s %d", rt.method, strings.TrimPrefix(rt.url, base), st.Status), func(t *testing.T) {
				c, rig := newTest(t)
				body := mocktest.ErrorBody
				if rt.method == "HEAD" {
					body = ""
				}
				rig.On(rt.method, rt.url, mocktest.Any, mocktest.Reply{Status: st.Status, Body: body})
				if rt.method == "POST" {
					// After an unknown outcome (408, 5xx), Create looks: the client is absent.
					rig.On("HEAD", base+"/"+clientID, mocktest.Any, mocktest.Reply{Status: 404})
				}
				err := rt.call(c)
				if !errors.Is(err, st.Sentinel) {
					t.Fatalf("err = %v, want %v", err, st.Sentinel)
				}
				var e *identity.Error
				if !errors.As(err, &e) || e.StatusCode != st.Status || e.Method != rt.method {
					t.Fatalf("err = %#v", err)
				}
				if rt.method != "HEAD" && e.OperationID != "op-1" {
					t.Fatalf("ErrorResponse not decoded: %#v", e)
				}
			})
		}
	}
}

func TestCutConnectionsAreUnreachableAndWritesOutcomeUnknown(t *testing.T) {
	var n atomic.Int32
	c := loopbackClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	ctx := context.Background()
	const id = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
	name := "renamed"
	for _, tc := range []struct {
		op    string
		write bool
		call  func() error
	}{
		{"Get", false, func() error { _, err := c.Get(ctx, id); return err }},
		{"Update", true, func() error { _, err := c.Update(ctx, id, UpdateRequest{Name: &name}); return err }},
		{"Delete", true, func() error { return c.Delete(ctx, id) }},
		{"Secrets().Delete", true, func() error { return c.Secrets().Delete(ctx, id, 3) }},
	} {
		err := tc.call()
		var ce *identity.ConnectionError
		if !errors.Is(err, identity.ErrUnreachable) || !errors.As(err, &ce) || !ce.Sent {
			t.Errorf("%s: err = %v, want a sent *identity.ConnectionError (ErrUnreachable)", tc.op, err)
		}
		if got := errors.Is(err, identity.ErrOutcomeUnknown); got != tc.write {
			t.Errorf("%s: errors.Is(err, ErrOutcomeUnknown) = %v, want %v", tc.op, got, tc.write)
		}
	}
	if n.Load() == 0 {
		t.Fatal("no request reached the server")
	}
}

// TestDefaultPageSizeIsThePagersDefault: the documented constant is a literal (go doc shows
// it), and a zero PageSize must mean the same page size everywhere.
func TestDefaultPageSizeIsThePagersDefault(t *testing.T) {
	if DefaultPageSize != pager.DefaultPageSize {
		t.Fatalf("DefaultPageSize = %d, the pager's default is %d", DefaultPageSize, pager.DefaultPageSize)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
