package hybridclients

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// redirectURIsAccepted are redirect URIs of native and web apps (RFC 8252): each is
// accepted in RedirectURIs and PostLogoutRedirectURIs, on create and on update.
var redirectURIsAccepted = []string{
	// Private-use schemes (7.1), reverse-domain as advised, or not.
	"com.example.app:/oauth2redirect",
	"com.example.app:/oauth2redirect/example-provider",
	"com.googleusercontent.apps.1234-abcd:/oauth2redirect",
	"COM.Example.App:/cb",
	"com.example.app://callback",
	"com.example.app:/cb?tenant=a",
	"com.example.app:///cb",
	"myapp://callback",
	"my-app+dev://cb",
	"x.y:/z",
	// Loopback (7.3): registered with the port the app listens on.
	"http://127.0.0.1:8400/callback",
	"http://[::1]:8400/callback",
	"http://localhost:8400/callback",
	"http://127.0.0.1:65535/",
	"http://127.0.0.1/callback",
	// Claimed https (7.2) and web apps.
	"https://app.example.com/oauth2redirect",
	"HTTPS://APP.EXAMPLE.COM/cb",
	"https://app.example.com:8443/cb?x=1",
	// Plain http beyond loopback, for development.
	"http://dev.example.com:5000/signin-oidc",
}

func TestRedirectURIsAcceptNativeAndWebApps(t *testing.T) {
	for _, u := range redirectURIsAccepted {
		req := CreateRequest{Name: "n", RedirectURIs: []string{u}, PostLogoutRedirectURIs: []string{u}}
		if _, err := req.validate(time.Now(), func() string { return clientID }); err != nil {
			t.Errorf("create with %s refused: %v", u, err)
		}
		if _, err := (UpdateRequest{RedirectURIs: []string{u}, PostLogoutRedirectURIs: []string{u}}).validate(); err != nil {
			t.Errorf("update with %s refused: %v", u, err)
		}
	}
}

// redirectURIsRefused: each URI, the word its rule must hold, and the Value the error
// must show (user info masked).
var redirectURIsRefused = []struct{ uri, rule, value string }{
	// Schemes that run or show something in the browser or the device itself.
	{"javascript:alert(document.cookie)", "runs or shows", ""},
	{"JavaScript:alert(1)", "runs or shows", ""},
	{"vbscript:msgbox(1)", "runs or shows", ""},
	{"data:text/html;base64,PHNjcmlwdD4=", "runs or shows", ""},
	{"blob:https://app.example.com/5d7c7c1e", "runs or shows", ""},
	{"about:blank", "runs or shows", ""},
	{"file:///etc/passwd", "runs or shows", ""},
	{"filesystem:https://app.example.com/temporary/x", "runs or shows", ""},
	{"view-source:https://app.example.com/", "runs or shows", ""},
	{"intent://scan/?x=1", "runs or shows", ""},
	// Schemes of other protocols.
	{"ftp://files.example.com/cb", "another protocol", ""},
	{"ws://127.0.0.1:8400/cb", "another protocol", ""},
	{"WSS://app.example.com/cb", "another protocol", ""},
	{"ssh://host.example.com/cb", "another protocol", ""},
	{"mailto:admin@example.com", "another protocol", ""},
	{"tel:+15551234567", "another protocol", ""},
	{"urn:ietf:wg:oauth:2.0:oob", "another protocol", ""},
	// Look-alikes of http and https: private-use schemes nobody meant.
	{"htps://app.example.com/cb", "looks like http", ""},
	{"htp://app.example.com/cb", "looks like http", ""},
	{"httpss://app.example.com/cb", "looks like http", ""},
	{"htpts://app.example.com/cb", "looks like http", ""},
	{"ttps://app.example.com/cb", "looks like http", ""},
	{"http2://app.example.com/cb", "looks like http", ""},
	{"https-dev://app.example.com/cb", "looks like http", ""},
	{"shttp://app.example.com/cb", "looks like http", ""},
	{"hxxps://app.example.com/cb", "looks like http", ""},
	{"Https.example.app:/cb", "looks like http", ""},
	// Scheme syntax (RFC 3986 3.1) and absolute form.
	{"my_app://cb", "RFC 3986", ""},
	{"1app:/cb", "RFC 3986", ""},
	{"-app:/cb", "RFC 3986", ""},
	{"äpp:/cb", "RFC 3986", ""},
	{"127.0.0.1:8400/callback", "RFC 3986", ""},
	{":/cb", "absolute", ""},
	{"/relative/cb", "absolute", ""},
	{"//app.example.com/cb", "absolute", ""},
	{"callback", "absolute", ""},
	// Form: a host for http(s), a path for private-use schemes (a forgotten http://).
	{"https:///cb", "host", ""},
	{"https://:443/cb", "host", ""},
	{"https:app.example.com/cb", "host", ""},
	{"http:/cb", "host", ""},
	{"com.example.app:", `continue with "/"`, ""},
	{"com.example.app:oauth2redirect", `continue with "/"`, ""},
	{"localhost:8400/callback", `continue with "/"`, ""},
	{"app.example.com:443/cb", `continue with "/"`, ""},
	{"myapp://", `continue with "/"`, ""},
	// Ports.
	{"http://127.0.0.1:0/callback", "port", ""},
	{"http://127.0.0.1:65536/callback", "port", ""},
	{"com.example.app://cb:99999999999999999999/x", "port", ""},
	{"http://127.0.0.1:80a/cb", "well-formed", ""},
	{"com.example.app:/cb%zz", "well-formed", ""},
	// User info, masked, for every scheme.
	{"https://user:hunter2-pw@app.example.com/cb", "user info", "https://user:xxxxx@app.example.com/cb"},
	{"com.example.app://user:hunter2-pw@cb/x", "user info", "com.example.app://user:xxxxx@cb/x"},
	{"myapp://admin@callback", "user info", ""},
	{"http://u:hunter2-pw@127.0.0.1:8400/cb", "user info", "http://u:xxxxx@127.0.0.1:8400/cb"},
	// What no redirect URI may hold, whatever its scheme.
	{"com.example.app:/cb#frag", "fragment", ""},
	{"com.example.app:/*", `"*"`, ""},
	{`com.example.app:/a\b`, `"\"`, ""},
	{"com.example.app:/c b", "whitespace", ""},
	{"com.example.app:/cb\u202e", "whitespace", ""},
	{"com.example.app:/cb\n", "whitespace", ""},
	{"http://127.0.0.1:8400/cb\x00", "whitespace", ""},
	{"", "empty", ""},
}

func TestRedirectURIsRefuseWhatNoAppReceivesASignInAt(t *testing.T) {
	c, rig := newTest(t)
	ctx := context.Background()
	for _, b := range redirectURIsRefused {
		want := b.value
		if want == "" {
			want = b.uri
		}
		for _, field := range []string{"RedirectURIs", "PostLogoutRedirectURIs"} {
			req, up := secondRedirect(field, "com.example.app:/ok", b.uri)
			_, err := c.Create(ctx, req)
			refusedRedirect(t, "Create", err, field+"[1]", b.rule, want)
			_, err = c.Update(ctx, clientID, up)
			refusedRedirect(t, "Update", err, field+"[1]", b.rule, want)
		}
	}
	if n := rig.Total(); n != 0 {
		t.Fatalf("%d requests sent for refused redirect URIs", n)
	}
}

func TestRedirectURIsRefusedBeforeAnyRequestWithThePasswordMasked(t *testing.T) {
	c, rig := newTest(t)
	ctx := context.Background()
	bad := []struct{ uri, rule, hidden string }{
		{"javascript:alert(document.cookie)", "runs or shows", ""},
		{"JavaScript:alert(1)", "runs or shows", ""},
		{"data:text/html;base64,PHNjcmlwdD4=", "runs or shows", ""},
		{"file:///etc/passwd", "runs or shows", ""},
		{"ftp://files.example.com/cb", "another protocol", ""},
		{"https://user:hunter2-pw@app.example.com/cb", "user info", "hunter2-pw"},
		{"https://admin@app.example.com/cb", "user info", ""},
		{`https://evil.example.com\@app.example.com/cb`, `"\"`, ""},
		{"https:///cb", "host", ""},
		{"https://:443/cb", "host", ""},
	}
	for _, b := range bad {
		for _, field := range []string{"RedirectURIs", "PostLogoutRedirectURIs"} {
			req, up := secondRedirect(field, "https://app.example.com/cb", b.uri)
			_, err := c.Create(ctx, req)
			refusedField(t, "Create "+field+" "+b.uri, err, field+"[1]", b.rule, b.hidden)
			_, err = c.Update(ctx, clientID, up)
			refusedField(t, "Update "+field+" "+b.uri, err, field+"[1]", b.rule, b.hidden)
		}
	}
	// ClientURI and LogoURI with user info are refused too, without the password.
	_, err := c.Update(ctx, clientID, UpdateRequest{ClientURI: identity.Ptr("https://u:hunter2-pw@app.example.com/")})
	refusedField(t, "Update ClientURI with user info", err, "ClientURI", "user info", "hunter2-pw")
	if n := rig.Total(); n != 0 {
		t.Fatalf("%d requests sent for refused input", n)
	}

	// Accepted: https anywhere; http on loopback and (for development) on any host.
	for _, u := range []string{"https://app.example.com/signin-oidc", "https://app.example.com:8443/cb?tenant=a", "HTTPS://APP.EXAMPLE.COM/cb",
		"http://localhost:5000/signin-oidc", "http://127.0.0.1:8080/cb", "http://[::1]/cb", "http://dev.example.com/cb"} {
		req := CreateRequest{Name: "n", RedirectURIs: []string{u}, PostLogoutRedirectURIs: []string{u}}
		if _, err := req.validate(time.Now(), func() string { return clientID }); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
		if _, err := (UpdateRequest{RedirectURIs: []string{u}, PostLogoutRedirectURIs: []string{u}}).validate(); err != nil {
			t.Errorf("update %s refused: %v", u, err)
		}
	}
}

// secondRedirect returns a create and an update request whose field (RedirectURIs or
// PostLogoutRedirectURIs) holds first, then u at index 1.
func secondRedirect(field, first, u string) (CreateRequest, UpdateRequest) {
	req := CreateRequest{Name: "n", RedirectURIs: []string{"https://app.example.com/cb"}}
	var up UpdateRequest
	if field == "RedirectURIs" {
		req.RedirectURIs = []string{first, u}
		up.RedirectURIs = req.RedirectURIs
	} else {
		req.PostLogoutRedirectURIs = []string{first, u}
		up.PostLogoutRedirectURIs = req.PostLogoutRedirectURIs
	}
	return req, up
}

// refusedRedirect checks that err refuses exactly one entry, field, with a rule holding
// ruleWord and value as its Value, and shows no password.
func refusedRedirect(t *testing.T, op string, err error, field, ruleWord, value string) {
	t.Helper()
	ves := identity.ValidationErrors(err)
	if len(ves) != 1 {
		t.Errorf("%s with %s = %q: %d broken rules, want 1: %v", op, field, value, len(ves), err)
		return
	}
	ve := ves[0]
	if ve.Field != field || !strings.Contains(ve.Rule, ruleWord) || ve.Value != value {
		t.Errorf("%s with %s = %q: refused as %s: %q (value %#v), want %s with a rule saying %q", op, field, value, ve.Field, ve.Rule, ve.Value, field, ruleWord)
	}
	if strings.Contains(err.Error(), "hunter2-pw") {
		t.Errorf("%s with %s: the error shows the password: %v", op, field, err)
	}
}

// TestFakeTakesTheRedirectURIsTheSDKTakes: hybridclientstest, written apart from the SDK
// as the service's stand-in, accepts what the SDK accepts and answers 400 to what it
// refuses, so a test that sends its own requests meets the same rules. The SDK alone
// refuses a "*" (the service takes it literally), a fragment and non-ASCII formatting
// characters.
func TestFakeTakesTheRedirectURIsTheSDKTakes(t *testing.T) {
	srv := hybridclientstest.NewServer(t, nil)
	token := srv.IssueToken(hybridclientstest.RoleAdmin)
	create := func(u string) int {
		body, _ := json.Marshal(map[string]any{"Name": "n", "RedirectUris": []string{u}, "PostLogoutRedirectUris": []string{u}})
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/api/v1/Tenants/"+srv.TenantID+"/HybridClients", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token.Reveal())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
		_ = res.Body.Close()
		return res.StatusCode
	}
	for _, u := range redirectURIsAccepted {
		if status := create(u); status != http.StatusCreated {
			t.Errorf("the fake answers %d to %s, which the SDK sends", status, u)
		}
	}
	for _, b := range redirectURIsRefused {
		if b.rule == "fragment" || b.rule == `"*"` || strings.ContainsRune(b.uri, '\u202e') {
			continue
		}
		if status := create(b.uri); status != http.StatusBadRequest {
			t.Errorf("the fake answers %d to %q, which the SDK refuses (%s)", status, b.uri, b.rule)
		}
	}
}

// refusedField checks that err is a refusal naming field with a rule containing ruleWord,
// and that it does not show hidden.
func refusedField(t *testing.T, what string, err error, field, ruleWord, hidden string) {
	t.Helper()
	if !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("%s: err = %v, want a refusal (ErrInvalidInput)", what, err)
		return
	}
	for _, ve := range identity.ValidationErrors(err) {
		if ve.Field == field {
			if !strings.Contains(ve.Rule, ruleWord) {
				t.Errorf("%s: %s refused with rule %q, want one saying %q", what, field, ve.Rule, ruleWord)
			}
			if hidden != "" && strings.Contains(err.Error(), hidden) {
				t.Errorf("%s: the error shows %q: %v", what, hidden, err)
			}
			return
		}
	}
	t.Errorf("%s: no ValidationError on %s in %v", what, field, err)
}
