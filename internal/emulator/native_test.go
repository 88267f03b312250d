package emulator

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestRedirectURIsOfNativeAppsAreAccepted: the forms of RFC 8252 (private-use schemes,
// loopback http with a port, claimed https) are accepted in both lists, on create and
// update, and stored as sent.
func TestRedirectURIsOfNativeAppsAreAccepted(t *testing.T) {
	h := newHarness(t, Options{})
	for _, u := range []string{
		"com.example.app:/oauth2redirect",
		"com.example.app:/oauth2redirect/example-provider?x=1",
		"Com.Example.App:/cb",
		"com.example.app://callback",
		"com.example.app:///cb",
		"myapp://callback",
		"my-app+dev:/cb",
		"http://127.0.0.1:8400/callback",
		"http://[::1]:8400/callback",
		"http://localhost:65535/",
		"https://app.example.com/oauth2redirect",
		"http://dev.example.com/cb",
	} {
		created := h.create(newClient("native", map[string]any{"RedirectUris": []string{u}, "PostLogoutRedirectUris": []string{u}}))
		if c := created.Client; !slices.Equal(c.RedirectUris, []string{u}) || !slices.Equal(c.PostLogoutRedirectUris, []string{u}) {
			t.Errorf("created with %s: stored %q and %q", u, c.RedirectUris, c.PostLogoutRedirectUris)
		}
		path := h.api("/HybridClients/" + created.Client.ID)
		h.do(http.MethodPut, path, h.admin, map[string]any{"RedirectUris": []string{"https://app.example.com/cb", u}}).want(t, http.StatusOK)
	}
}

// TestRedirectURIsNoAppReceivesASignInAtAreRefused: 400 naming the entry, for schemes
// that run something in the browser, belong to another protocol or look like http(s),
// for a scheme outside RFC 3986's syntax, a private-use URI without "/" after its scheme
// (a forgotten http://), a port outside 1 to 65535 and user info.
func TestRedirectURIsNoAppReceivesASignInAtAreRefused(t *testing.T) {
	h := newHarness(t, Options{})
	path := h.api("/HybridClients/" + h.create(newClient("existing", nil)).Client.ID)
	for u, why := range map[string]string{
		"vbscript:msgbox(1)":                   "runs or shows",
		"blob:https://app.example.com/5d7c":    "runs or shows",
		"about:blank":                          "runs or shows",
		"View-Source:https://app.example.com/": "runs or shows",
		"intent://scan/?x=1":                   "runs or shows",
		"ws://127.0.0.1:8400/cb":               "another protocol",
		"ftp://files.example.com/cb":           "another protocol",
		"urn:ietf:wg:oauth:2.0:oob":            "another protocol",
		"htps://app.example.com/cb":            "looks like http",
		"httpss://app.example.com/cb":          "looks like http",
		"htpts://app.example.com/cb":           "looks like http",
		"hxxps://app.example.com/cb":           "looks like http",
		"my_app://cb":                          "RFC 3986",
		"127.0.0.1:8400/cb":                    "RFC 3986",
		"localhost:8400/cb":                    "path after the scheme",
		"com.example.app:":                     "path after the scheme",
		"com.example.app:cb":                   "path after the scheme",
		"myapp://":                             "path after the scheme",
		"myapp://?x=1":                         "path after the scheme",
		"http://127.0.0.1:0/cb":                "port",
		"http://127.0.0.1:65536/cb":            "port",
		"com.example.app://u:pw@cb/x":          "user info",
		"http:/cb":                             "host",
	} {
		for _, field := range []string{"RedirectUris", "PostLogoutRedirectUris"} {
			e := errorBody(t, h.do(http.MethodPost, h.api("/HybridClients"), h.admin, newClient("bad", map[string]any{field: []string{u}})).want(t, http.StatusBadRequest))
			if msg := e.Reason + e.Error; !strings.Contains(msg, field+"[0]") || !strings.Contains(msg, why) {
				t.Errorf("create with %s %q: error %+v, want %s[0] and %q", field, u, e, field, why)
			}
			e = errorBody(t, h.do(http.MethodPut, path, h.admin, map[string]any{field: []string{"com.example.app:/ok", u}}).want(t, http.StatusBadRequest))
			if msg := e.Reason + e.Error; !strings.Contains(msg, field+"[1]") || !strings.Contains(msg, why) {
				t.Errorf("update with %s %q: error %+v, want %s[1] and %q", field, u, e, field, why)
			}
		}
	}
}

// TestAuthorizeRedirectsToNativeAppURIs: the sign-in comes back to a private-use or
// loopback redirect URI exactly as to an https one (code and state in the query, or the
// fragment of a hybrid response), and the code is redeemed with that URI.
func TestAuthorizeRedirectsToNativeAppURIs(t *testing.T) {
	h := newHarness(t, Options{})
	uris := []string{"com.example.app:/oauth2redirect", "myapp://callback", "http://127.0.0.1:8400/callback", "http://[::1]:8400/callback"}
	a := h.newApp(map[string]any{"RedirectUris": uris, "AllowAccessTokensViaBrowser": true})
	for _, uri := range uris {
		q := a.authParams()
		q.Set("redirect_uri", uri)
		back := a.signIn(q)
		if !strings.HasPrefix(back.String(), uri+"?") {
			t.Errorf("sent to %s, want %s?code=...", back.Redacted(), uri)
		}
		cb := back.Query()
		if cb.Get("state") != "st-42" || cb.Get("code") == "" || cb.Has("error") {
			t.Errorf("%s: query has %v, want code and state", uri, slices.Sorted(maps.Keys(cb)))
		}
		a.redeem(cb.Get("code"), func(f url.Values) { f.Set("redirect_uri", uri) }).ok(t)

		// A hybrid response goes in the fragment of the private-use URI.
		q.Set("response_type", "code id_token")
		back = a.signIn(q)
		if frag := callback(back); back.RawQuery != "" || frag.Get("code") == "" || frag.Get("id_token") == "" || frag.Get("state") != "st-42" {
			t.Errorf("%s, hybrid: query %q, fragment keys %v", uri, back.RawQuery, slices.Sorted(maps.Keys(frag)))
		}
	}
	// An error after the client and redirect URI are trusted goes back there too.
	q := a.authParams()
	q.Set("redirect_uri", uris[0])
	q.Set("scope", "openid nonsense")
	if back := a.arrive(a.open(q)); !strings.HasPrefix(back.String(), uris[0]+"?") || back.Query().Get("error") != "invalid_scope" {
		t.Errorf("error sent to %s, want %s?error=invalid_scope", back.Redacted(), uris[0])
	}
}
