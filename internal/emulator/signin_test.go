package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

func TestSignInDiscoveryAndJWKS(t *testing.T) {
	h := newHarness(t, Options{})
	d := decode[map[string]any](t, h.do(http.MethodGet, "/identity/.well-known/openid-configuration", "", nil).want(t, http.StatusOK))
	base := h.srv.URL + "/identity"
	for k, want := range map[string]string{
		"issuer":                 base,
		"authorization_endpoint": base + "/connect/authorize",
		"token_endpoint":         base + "/connect/token",
		"userinfo_endpoint":      base + "/connect/userinfo",
		"end_session_endpoint":   base + "/connect/endsession",
		"jwks_uri":               base + "/.well-known/openid-configuration/jwks",
	} {
		if d[k] != want {
			t.Errorf("%s = %v, want %s", k, d[k], want)
		}
	}
	list := func(k string) []string {
		var out []string
		for _, v := range d[k].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if got := list("code_challenge_methods_supported"); !slices.Equal(got, []string{"S256"}) {
		t.Errorf("code_challenge_methods_supported %v", got)
	}
	if got := list("id_token_signing_alg_values_supported"); !slices.Equal(got, []string{"RS256"}) {
		t.Errorf("id_token_signing_alg_values_supported %v", got)
	}
	for k, want := range map[string][]string{
		"scopes_supported":         {"openid", "ocsapi", "offline_access"},
		"response_types_supported": {"code", "code id_token", "code id_token token"},
		"grant_types_supported":    {"authorization_code", "refresh_token", "client_credentials"},
	} {
		for _, w := range want {
			if !slices.Contains(list(k), w) {
				t.Errorf("%s lacks %q", k, w)
			}
		}
	}

	jwks := decode[struct {
		Keys []map[string]any `json:"keys"`
	}](t, h.do(http.MethodGet, "/identity/.well-known/openid-configuration/jwks", "", nil).want(t, http.StatusOK))
	if len(jwks.Keys) != 1 {
		t.Fatalf("%d keys", len(jwks.Keys))
	}
	k := jwks.Keys[0]
	if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" || k["kid"] == "" || k["n"] == nil || k["e"] == nil {
		t.Errorf("key %v", k)
	}
	if _, private := k["d"]; private {
		t.Fatal("the JWKS publishes the private key")
	}
	// go-oidc accepts the discovery document (it checks the issuer).
	if _, err := oidc.NewProvider(oidc.ClientContext(context.Background(), h.hc), base); err != nil {
		t.Fatal(err)
	}
}

func TestSignInCodeFlow(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(nil)
	ada := h.e.Users(h.tenant)[0]

	p := a.open(a.authParams())
	if p.status != http.StatusOK || !p.has("signin") || !p.has("submit") {
		t.Fatalf("sign-in page: status %d", p.status)
	}
	if got := p.text("client-name"); got != "Web app" {
		t.Errorf("client-name %q", got)
	}
	if got := p.options()[ada.Subject]; got != "Ada Lovelace <ada@example.com>" {
		t.Errorf("default user option %q", got)
	}
	cb := callback(a.arrive(a.submit(p, url.Values{"user": {ada.Subject}})))
	if cb.Get("state") != "st-42" || cb.Get("code") == "" || cb.Get("id_token") != "" || cb.Get("access_token") != "" {
		t.Fatalf("callback carries state %q, code %t, id_token %t, access_token %t",
			cb.Get("state"), cb.Get("code") != "", cb.Get("id_token") != "", cb.Get("access_token") != "")
	}

	tr := a.redeem(cb.Get("code"), nil).ok(t)
	if tr.TokenType != "Bearer" || tr.ExpiresIn != 120 || tr.RefreshToken != "" || tr.Scope != "ocsapi openid" {
		t.Errorf("token_type %q, expires_in %d, refresh token %t, scope %q", tr.TokenType, tr.ExpiresIn, tr.RefreshToken != "", tr.Scope)
	}
	tok, claims := a.idToken(tr.IDToken)
	if tok.Subject != ada.Subject || tok.Nonce != "n-0S6_WzA2Mj" || claims["name"] != "Ada Lovelace" || claims["email"] != "ada@example.com" {
		t.Errorf("ID token sub %q nonce %q name %v email %v", tok.Subject, tok.Nonce, claims["name"], claims["email"])
	}
	if !slices.Equal(tok.Audience, []string{a.id}) || tok.Issuer != h.srv.URL+"/identity" {
		t.Errorf("aud %v iss %q", tok.Audience, tok.Issuer)
	}
	if claims["auth_time"] == nil || !tok.IssuedAt.Equal(h.clock.Now()) || !tok.Expiry.Equal(h.clock.Now().Add(IDTokenLifetime)) {
		t.Errorf("auth_time %v iat %v exp %v", claims["auth_time"], tok.IssuedAt, tok.Expiry)
	}
	if err := tok.VerifyAccessToken(tr.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}

	status, info := h.userinfo(tr.AccessToken)
	if status != http.StatusOK || info["sub"] != ada.Subject || info["name"] != "Ada Lovelace" || info["email"] != "ada@example.com" {
		t.Errorf("userinfo %d %v", status, info)
	}
	if status, _ := h.userinfo("not-a-token"); status != http.StatusUnauthorized {
		t.Errorf("userinfo with a bad token: %d", status)
	}
	if status, _ := h.userinfo(h.admin); status != http.StatusForbidden {
		t.Errorf("userinfo with a client-credentials token: %d", status)
	}
	// The default user has no role: the user's token is refused by the management API.
	h.do(http.MethodGet, h.api("/HybridClients"), tr.AccessToken, nil).want(t, http.StatusForbidden)
}

func TestSignInRedirectURIExactMatch(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(map[string]any{"RedirectUris": []string{appCallback, "https://app.example.com/*"}})
	for _, uri := range []string{
		appCallback + "/", "https://app.example.com/Callback", "https://APP.example.com/callback",
		appCallback + "?x=1", "http://app.example.com/callback", "https://app.example.com/callback2",
		"https://app.example.com/other", "https://evil.example.com/callback", "",
	} {
		t.Run(uri, func(t *testing.T) {
			q := a.authParams()
			q.Set("redirect_uri", uri)
			p := a.open(q)
			if p.status != http.StatusBadRequest || p.location != "" || !p.has("error") {
				t.Fatalf("status %d, location %q; want the 400 error page", p.status, p.location)
			}
			want := "unauthorized_client"
			if uri == "" {
				want = "invalid_request"
			}
			if got := p.text("error-code"); got != want {
				t.Errorf("error-code %q, want %q", got, want)
			}
		})
	}
	// Registered, including the one with a literal '*'.
	for _, uri := range []string{appCallback, "https://app.example.com/*"} {
		q := a.authParams()
		q.Set("redirect_uri", uri)
		if u := a.signIn(q); u.Scheme+"://"+u.Host+u.Path != uri {
			t.Errorf("sent to %s, want %s", u.Redacted(), uri)
		}
	}
	// A form tampered with after the page was shown is checked again.
	p := a.open(a.authParams())
	tampered := a.authParams()
	tampered.Set("redirect_uri", "https://evil.example.com/callback")
	p.body = hiddenRequest.ReplaceAllString(p.body, `name="request" value="`+tampered.Encode()+`"`)
	if got := a.submit(p, nil); got.status != http.StatusBadRequest || got.location != "" {
		t.Errorf("tampered form: status %d, location %q", got.status, got.location)
	}
	// Removing a URI from the client stops it at once (no propagation delay).
	a.update(map[string]any{"RedirectUris": []string{"https://app.example.com/*"}})
	if p := a.open(a.authParams()); p.status != http.StatusBadRequest || p.location != "" {
		t.Errorf("after removal: status %d", p.status)
	}
}

func TestSignInDisabledClient(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(map[string]any{"AllowOfflineAccess": true})
	q := a.authParams()
	q.Set("scope", "openid offline_access")
	tr := a.redeem(a.code(q), nil).ok(t)
	code := a.code(a.authParams())

	a.update(map[string]any{"Enabled": false})
	p := a.open(a.authParams())
	if p.status != http.StatusBadRequest || p.location != "" || p.text("error-code") != "unauthorized_client" {
		t.Errorf("authorize: status %d, location %q, error %q", p.status, p.location, p.text("error-code"))
	}
	a.redeem(code, nil).fails(t, "invalid_client")
	a.refresh(tr.RefreshToken).fails(t, "invalid_client")

	a.update(map[string]any{"Enabled": true})
	a.refresh(tr.RefreshToken).ok(t)
}

func TestSignInRefreshTokensNeedOfflineAccess(t *testing.T) {
	h := newHarness(t, Options{})
	off := h.newApp(nil)
	q := off.authParams()
	q.Set("scope", "openid ocsapi offline_access")
	p := off.open(q)
	if p.status != http.StatusFound {
		t.Fatalf("status %d, want a redirect with the error", p.status)
	}
	cb := callback(off.arrive(p))
	if cb.Get("error") != "invalid_scope" || cb.Get("state") != "st-42" || cb.Get("code") != "" {
		t.Errorf("error %q state %q code %t", cb.Get("error"), cb.Get("state"), cb.Get("code") != "")
	}

	on := h.newApp(map[string]any{"AllowOfflineAccess": true})
	if tr := on.redeem(on.code(on.authParams()), nil).ok(t); tr.RefreshToken != "" {
		t.Error("a refresh token without offline_access")
	}
	q = on.authParams()
	q.Set("scope", "openid ocsapi offline_access")
	tr := on.redeem(on.code(q), nil).ok(t)
	if tr.RefreshToken == "" {
		t.Fatal("no refresh token with offline_access on an AllowOfflineAccess client")
	}
	h.clock.Add(time.Minute)
	next := on.refresh(tr.RefreshToken).ok(t)
	if next.RefreshToken == "" || next.RefreshToken == tr.RefreshToken || next.AccessToken == tr.AccessToken || next.ExpiresIn != 120 {
		t.Errorf("refresh: new refresh token %t, new access token %t, expires_in %d",
			next.RefreshToken != "" && next.RefreshToken != tr.RefreshToken, next.AccessToken != tr.AccessToken, next.ExpiresIn)
	}
	idt, _ := on.idToken(next.IDToken)
	if idt.Nonce != "" {
		t.Error("a refreshed ID token repeats the nonce")
	}
	on.refresh(tr.RefreshToken).fails(t, "invalid_grant") // one time only
	off.refresh(next.RefreshToken).fails(t, "invalid_grant")

	// Turning Allow Refresh Token off stops existing refresh tokens.
	on.update(map[string]any{"AllowOfflineAccess": false})
	on.refresh(next.RefreshToken).fails(t, "invalid_grant")
}

// TestSignInWithholdRefreshTokens: with the option, a client that allows refresh tokens and
// is granted offline_access gets no refresh token, as from a service that does not issue
// them to hybrid clients; the scope is still granted and the sign-in otherwise works.
func TestSignInWithholdRefreshTokens(t *testing.T) {
	h := newHarness(t, Options{WithholdRefreshTokens: true})
	a := h.newApp(map[string]any{"AllowOfflineAccess": true})
	q := a.authParams()
	q.Set("scope", "openid ocsapi offline_access")
	tr := a.redeem(a.code(q), nil).ok(t)
	if tr.RefreshToken != "" {
		t.Error("a refresh token although the emulator withholds them")
	}
	if tr.AccessToken == "" || tr.IDToken == "" || tr.Scope != "ocsapi offline_access openid" {
		t.Errorf("access token %t, ID token %t, scope %q; want both and offline_access granted", tr.AccessToken != "", tr.IDToken != "", tr.Scope)
	}
	if len(h.e.refresh) != 0 {
		t.Errorf("%d refresh grants kept for tokens never handed out", len(h.e.refresh))
	}
}

func TestSignInAccessTokenLifetime(t *testing.T) {
	h := newHarness(t, Options{TokenLifetime: time.Hour})
	a := h.newApp(nil) // AccessTokenLifetime 120
	tr := a.redeem(a.code(a.authParams()), nil).ok(t)
	if tr.ExpiresIn != 120 {
		t.Errorf("expires_in %d, want 120", tr.ExpiresIn)
	}
	h.clock.Add(119 * time.Second)
	if status, _ := h.userinfo(tr.AccessToken); status != http.StatusOK {
		t.Errorf("userinfo before expiry: %d", status)
	}
	h.clock.Add(time.Second)
	if status, _ := h.userinfo(tr.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("userinfo at expiry: %d", status)
	}
	a.update(map[string]any{"AccessTokenLifetime": 3600})
	if tr := a.redeem(a.code(a.authParams()), nil).ok(t); tr.ExpiresIn != 3600 {
		t.Errorf("expires_in %d after the update, want 3600", tr.ExpiresIn)
	}
}

func TestSignInTokensViaBrowser(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(nil)
	for _, rt := range []string{"code token", "code id_token token", "token code id_token"} {
		q := a.authParams()
		q.Set("response_type", rt)
		cb := callback(a.arrive(a.open(q)))
		if cb.Get("error") != "unauthorized_client" || cb.Get("state") != "st-42" {
			t.Errorf("%q without AllowAccessTokensViaBrowser: error %q state %q", rt, cb.Get("error"), cb.Get("state"))
		}
	}
	// code id_token needs no access token in the browser; the ID token comes in the fragment.
	q := a.authParams()
	q.Set("response_type", "code id_token")
	u := a.signIn(q)
	if u.RawQuery != "" || u.Fragment == "" {
		t.Fatalf("hybrid response not in the fragment")
	}
	cb := callback(u)
	idt, claims := a.idToken(cb.Get("id_token"))
	if idt.Nonce != "n-0S6_WzA2Mj" || claims["c_hash"] == nil || cb.Get("access_token") != "" {
		t.Errorf("front-channel ID token nonce %q c_hash %v access_token %t", idt.Nonce, claims["c_hash"], cb.Get("access_token") != "")
	}
	a.redeem(cb.Get("code"), nil).ok(t)

	a.update(map[string]any{"AllowAccessTokensViaBrowser": true})
	q.Set("response_type", "code id_token token")
	cb = callback(a.signIn(q))
	if cb.Get("access_token") == "" || cb.Get("expires_in") != "120" || cb.Get("token_type") != "Bearer" {
		t.Fatalf("no access token in the fragment: expires_in %q", cb.Get("expires_in"))
	}
	idt, _ = a.idToken(cb.Get("id_token"))
	if err := idt.VerifyAccessToken(cb.Get("access_token")); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	if status, _ := h.userinfo(cb.Get("access_token")); status != http.StatusOK {
		t.Errorf("userinfo with the browser's access token: %d", status)
	}
}

func TestSignInNonce(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(nil)
	q := a.authParams()
	q.Set("nonce", "a-nonce-of-the-app")
	idt, _ := a.idToken(a.redeem(a.code(q), nil).ok(t).IDToken)
	if idt.Nonce != "a-nonce-of-the-app" {
		t.Errorf("nonce %q", idt.Nonce)
	}
	q.Del("nonce")
	idt, claims := a.idToken(a.redeem(a.code(q), nil).ok(t).IDToken)
	if _, has := claims["nonce"]; has || idt.Nonce != "" {
		t.Error("a nonce in the ID token of a request without one")
	}
	// The front channel needs one.
	q.Set("response_type", "code id_token")
	if cb := callback(a.arrive(a.open(q))); cb.Get("error") != "invalid_request" {
		t.Errorf("code id_token without nonce: error %q", cb.Get("error"))
	}
}

func TestSignInPKCE(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(nil)
	for name, mutate := range map[string]func(url.Values){
		"no challenge":   func(q url.Values) { q.Del("code_challenge") },
		"plain":          func(q url.Values) { q.Set("code_challenge_method", "plain"); q.Set("code_challenge", a.verifier) },
		"no method":      func(q url.Values) { q.Del("code_challenge_method") },
		"short":          func(q url.Values) { q.Set("code_challenge", "abc") },
		"twice the same": func(q url.Values) { q.Add("code_challenge", q.Get("code_challenge")) },
	} {
		t.Run(name, func(t *testing.T) {
			q := a.authParams()
			mutate(q)
			cb := callback(a.arrive(a.open(q)))
			if cb.Get("error") != "invalid_request" || cb.Get("code") != "" {
				t.Errorf("error %q", cb.Get("error"))
			}
		})
	}
	// Wrong verifier, then the right one: the failed attempt burnt the code.
	code := a.code(a.authParams())
	a.redeem(code, func(f url.Values) { f.Set("code_verifier", strings.Repeat("x", 50)) }).fails(t, "invalid_grant")
	a.redeem(code, nil).fails(t, "invalid_grant")
	a.redeem(a.code(a.authParams()), func(f url.Values) { f.Del("code_verifier") }).fails(t, "invalid_grant")
	a.redeem(a.code(a.authParams()), nil).ok(t)
}

func TestSignInClientSecret(t *testing.T) {
	h := newHarness(t, Options{TokenLifetime: 24 * time.Hour}) // the admin's token outlives the clock moves
	a := h.newApp(map[string]any{"SecretExpirationDate": h.clock.Now().Add(time.Hour)})
	secrets := h.api("/HybridClients/" + a.id + "/Secrets")
	second := decode[map[string]any](t, h.do(http.MethodPost, secrets, h.admin,
		map[string]any{"Description": "second", "Expires": false}).want(t, http.StatusCreated))
	secondValue := second["Secret"].(string)

	a.redeem(a.code(a.authParams()), nil).ok(t)
	a.redeem(a.code(a.authParams()), func(f url.Values) { f.Set("client_secret", secondValue) }).ok(t)
	a.redeem(a.code(a.authParams()), func(f url.Values) { f.Set("client_secret", a.secret+"x") }).fails(t, "invalid_client")
	a.redeem(a.code(a.authParams()), func(f url.Values) { f.Del("client_secret") }).fails(t, "invalid_client")
	a.redeem(a.code(a.authParams()), func(f url.Values) { f.Set("client_id", newGUID()) }).fails(t, "invalid_client")

	// Credentials in a Basic header are refused: the API takes them in the form body.
	code := a.code(a.authParams())
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/identity/connect/token", strings.NewReader(url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {appCallback}, "code_verifier": {a.verifier},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(a.id, a.secret)
	res, err := h.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("Basic credentials: status %d", res.StatusCode)
	}

	h.clock.Add(time.Hour) // the first secret expires
	a.redeem(a.code(a.authParams()), nil).fails(t, "invalid_client")
	a.redeem(a.code(a.authParams()), func(f url.Values) { f.Set("client_secret", secondValue) }).ok(t)

	h.do(http.MethodDelete, secrets+"/2", h.admin, nil).want(t, http.StatusNoContent)
	a.redeem(a.code(a.authParams()), func(f url.Values) { f.Set("client_secret", secondValue) }).fails(t, "invalid_client")
}

func TestSignInCodeSingleUseAndShortLived(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(nil)
	other := h.newApp(nil)

	code := a.code(a.authParams())
	first := a.redeem(code, nil).ok(t)
	a.redeem(code, nil).fails(t, "invalid_grant")
	if status, _ := h.userinfo(first.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("the access token of a replayed code still works: %d", status)
	}

	code = a.code(a.authParams())
	h.clock.Add(CodeLifetime)
	a.redeem(code, nil).fails(t, "invalid_grant")

	code = a.code(a.authParams())
	other.redeem(code, nil).fails(t, "invalid_grant") // bound to the client
	code = a.code(a.authParams())
	a.redeem(code, func(f url.Values) { f.Set("redirect_uri", appCallback+"/") }).fails(t, "invalid_grant")
	code = a.code(a.authParams())
	a.redeem(code, func(f url.Values) { f.Del("redirect_uri") }).fails(t, "invalid_grant")
	a.redeem("", nil).fails(t, "invalid_request")
	a.redeem("made-up", nil).fails(t, "invalid_grant")
	h.clock.Add(CodeLifetime - time.Second)
	a.redeem(a.code(a.authParams()), nil).ok(t) // a code just issued works
}

func TestSignInTenantACR(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(nil)
	otherTenant := h.e.AddTenant()
	for _, acr := range []string{"tenant:" + otherTenant, "tenant:" + newGUID(), "idp:x tenant:nope"} {
		q := a.authParams()
		q.Set("acr_values", acr)
		if cb := callback(a.arrive(a.open(q))); cb.Get("error") != "invalid_request" || cb.Get("state") != "st-42" {
			t.Errorf("acr_values %q: error %q state %q", acr, cb.Get("error"), cb.Get("state"))
		}
	}
	for _, acr := range []string{"", "tenant:" + strings.ToUpper(h.tenant), "idp:x tenant:" + h.tenant} {
		q := a.authParams()
		q.Set("acr_values", acr)
		if acr == "" {
			q.Del("acr_values")
		}
		a.code(q)
	}
}

func TestSignInScopeAndResponseType(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(nil)
	for _, tc := range []struct{ param, value, want string }{
		{"scope", "ocsapi", "invalid_scope"},
		{"scope", "openid unknown", "invalid_scope"},
		{"response_type", "token", "unsupported_response_type"},
		{"response_type", "id_token", "unsupported_response_type"},
		{"response_type", "", "invalid_request"},
		{"response_mode", "query", ""}, // allowed for code
		{"response_mode", "bogus", "invalid_request"},
		{"prompt", "none", "login_required"},
	} {
		q := a.authParams()
		q.Set(tc.param, tc.value)
		p := a.open(q)
		if tc.want == "" {
			if p.status != http.StatusOK {
				t.Errorf("%s=%q: status %d", tc.param, tc.value, p.status)
			}
			continue
		}
		if cb := callback(a.arrive(p)); cb.Get("error") != tc.want {
			t.Errorf("%s=%q: error %q, want %q", tc.param, tc.value, cb.Get("error"), tc.want)
		}
	}
	// form_post: an auto-submitting form to the redirect URI.
	q := a.authParams()
	q.Set("response_mode", "form_post")
	p := a.submit(a.open(q), nil)
	if p.status != http.StatusOK || !p.has("form-post") || !strings.Contains(p.body, `action="`+appCallback+`"`) ||
		!strings.Contains(p.body, `name="code"`) || !strings.Contains(p.body, `name="state" value="st-42"`) {
		t.Errorf("form_post page: status %d", p.status)
	}
}

func TestSignInUsers(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(nil)
	if _, err := h.e.AddUser(h.tenant, User{Name: "x", Claims: map[string]any{"sub": "forged"}}); err == nil {
		t.Error("a reserved claim was accepted")
	}
	if _, err := h.e.AddUser(h.tenant, User{}); err == nil {
		t.Error("a user without a name was accepted")
	}
	grace, err := h.e.AddUser(h.tenant, User{Name: "Grace Hopper", Email: "grace@example.com",
		Claims: map[string]any{"department": "Navy", "groups": []string{"admins"}}, Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.AddUser(h.tenant, User{Subject: grace.Subject, Name: "dup"}); err == nil {
		t.Error("a duplicate subject was accepted")
	}

	p := a.open(a.authParams())
	if len(p.options()) != 2 || p.options()[grace.Subject] == "" {
		t.Fatalf("options %v", p.options())
	}
	for _, fields := range []url.Values{{"user": {grace.Subject}}, {"username": {"GRACE@example.com"}}, {"username": {"grace hopper"}}} {
		cb := callback(a.arrive(a.submit(a.open(a.authParams()), fields)))
		tr := a.redeem(cb.Get("code"), nil).ok(t)
		idt, claims := a.idToken(tr.IDToken)
		if idt.Subject != grace.Subject || claims["name"] != "Grace Hopper" || claims["department"] != "Navy" {
			t.Errorf("%v: sub %q name %v department %v", fields, idt.Subject, claims["name"], claims["department"])
		}
		_, info := h.userinfo(tr.AccessToken)
		if info["department"] != "Navy" || info["email"] != "grace@example.com" {
			t.Errorf("userinfo %v", info)
		}
		// Grace is a Tenant Administrator: her token (scope ocsapi) works on the API.
		h.do(http.MethodGet, h.api("/HybridClients"), tr.AccessToken, nil).want(t, http.StatusOK)
	}
	// Without the ocsapi scope the API refuses her token.
	q := a.authParams()
	q.Set("scope", "openid")
	cb := callback(a.arrive(a.submit(a.open(q), url.Values{"user": {grace.Subject}})))
	h.do(http.MethodGet, h.api("/HybridClients"), a.redeem(cb.Get("code"), nil).ok(t).AccessToken, nil).want(t, http.StatusForbidden)

	// login_hint preselects a user.
	q = a.authParams()
	q.Set("login_hint", "grace@example.com")
	if p := a.open(q); !strings.Contains(p.body, `value="`+grace.Subject+`" selected`) {
		t.Error("login_hint did not preselect the user")
	} else if cb := callback(a.arrive(a.submit(p, nil))); a.mustSubject(a.redeem(cb.Get("code"), nil).ok(t)) != grace.Subject {
		t.Error("the preselected user was not the one signed in")
	}

	if p := a.submit(a.open(a.authParams()), url.Values{"username": {"nobody"}}); p.status != http.StatusOK || p.location != "" || !p.has("signin-error") {
		t.Errorf("unknown typed user: status %d, location %q", p.status, p.location)
	}
	if p := a.submit(a.open(a.authParams()), url.Values{"user": {"no-such-subject"}}); p.location != "" || !p.has("signin-error") {
		t.Errorf("unknown subject: status %d, location %q", p.status, p.location)
	}
	cb = callback(a.arrive(a.submit(a.open(a.authParams()), url.Values{"action": {"cancel"}})))
	if cb.Get("error") != "access_denied" || cb.Get("code") != "" || cb.Get("state") != "st-42" {
		t.Errorf("cancel: error %q", cb.Get("error"))
	}
	// Users of another tenant cannot sign in to this tenant's client.
	stranger, _ := h.e.AddUser(h.e.AddTenant(), User{Name: "Stranger"})
	if p := a.submit(a.open(a.authParams()), url.Values{"user": {stranger.Subject}}); p.location != "" {
		t.Error("a user of another tenant signed in")
	}
}

func TestSignInEndSession(t *testing.T) {
	h := newHarness(t, Options{TokenLifetime: 24 * time.Hour})
	a := h.newApp(nil)
	tr := a.redeem(a.code(a.authParams()), nil).ok(t)
	endsession := func(q url.Values) page {
		req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/identity/connect/endsession?"+q.Encode(), nil)
		return a.do(req)
	}

	p := endsession(url.Values{"id_token_hint": {tr.IDToken}, "post_logout_redirect_uri": {appLoggedOut}, "state": {"bye"}})
	if p.status != http.StatusFound || p.location != appLoggedOut+"?state=bye" {
		t.Errorf("registered: status %d, location %q", p.status, p.location)
	}
	p = endsession(url.Values{"id_token_hint": {tr.IDToken}, "client_id": {a.id}, "post_logout_redirect_uri": {appLoggedOut}})
	if p.status != http.StatusFound || p.location != appLoggedOut {
		t.Errorf("hint and its client_id: status %d, location %q", p.status, p.location)
	}
	for name, q := range map[string]url.Values{
		"unregistered":   {"id_token_hint": {tr.IDToken}, "post_logout_redirect_uri": {appLoggedOut + "/"}},
		"redirect URI":   {"id_token_hint": {tr.IDToken}, "post_logout_redirect_uri": {appCallback}},
		"no client":      {"post_logout_redirect_uri": {appLoggedOut}},
		"forged hint":    {"id_token_hint": {tr.IDToken[:len(tr.IDToken)-4] + "AAAA"}, "post_logout_redirect_uri": {appLoggedOut}},
		"other audience": {"id_token_hint": {tr.IDToken}, "client_id": {newGUID()}, "post_logout_redirect_uri": {appLoggedOut}},
	} {
		p := endsession(q)
		if p.status != http.StatusOK || p.location != "" || !p.has("signed-out") || !p.has("logout-error") || p.text("error-code") == "" {
			t.Errorf("%s: status %d, location %q, error-code %q", name, p.status, p.location, p.text("error-code"))
		}
	}
	if p := endsession(url.Values{"id_token_hint": {tr.IDToken}}); p.status != http.StatusOK || !p.has("signed-out") || p.has("logout-error") {
		t.Errorf("no redirect asked: status %d", p.status)
	}
	// An expired ID token is still a valid hint (RP-Initiated Logout 1.0).
	h.clock.Add(IDTokenLifetime + time.Hour)
	if p := endsession(url.Values{"id_token_hint": {tr.IDToken}, "post_logout_redirect_uri": {appLoggedOut}}); p.status != http.StatusFound {
		t.Errorf("expired hint: status %d", p.status)
	}
	a.update(map[string]any{"PostLogoutRedirectUris": []string{}})
	if p := endsession(url.Values{"id_token_hint": {tr.IDToken}, "post_logout_redirect_uri": {appLoggedOut}}); p.location != "" {
		t.Errorf("removed URI still redirects")
	}
}

// TestEndSessionWithoutIDTokenHintNeverRedirects: IdentityServer4 reads the client of a
// logout from id_token_hint alone, so an application that logs out with client_id (and no
// hint) is left on the service's signed-out page; the fake must not send it back.
func TestEndSessionWithoutIDTokenHintNeverRedirects(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(nil)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		q := url.Values{"client_id": {a.id}, "post_logout_redirect_uri": {appLoggedOut}, "state": {"bye"}}
		var req *http.Request
		if method == http.MethodGet {
			req, _ = http.NewRequest(method, h.srv.URL+"/identity/connect/endsession?"+q.Encode(), nil)
		} else {
			req, _ = http.NewRequest(method, h.srv.URL+"/identity/connect/endsession", strings.NewReader(q.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		p := a.do(req)
		if p.status != http.StatusOK || p.location != "" || !p.has("signed-out") {
			t.Errorf("%s with client_id alone: status %d, location %q; want the signed-out page", method, p.status, p.location)
		}
		if !strings.Contains(p.text("error-description"), "id_token_hint") {
			t.Errorf("%s: the signed-out page does not say the hint is missing: %q", method, p.text("error-description"))
		}
	}
}

// TestSignInPropagationDelay shows the service's "changes take up to an hour to reach
// sign-in": what a change grants arrives only after the delay, what it takes away applies
// at once, so a rotation without grace locks the app out and one with grace does not.
func TestSignInPropagationDelay(t *testing.T) {
	const delay = time.Hour
	h := newHarness(t, Options{PropagationDelay: delay, TokenLifetime: 24 * time.Hour})
	a := h.newApp(map[string]any{"AllowOfflineAccess": true})
	secrets := h.api("/HybridClients/" + a.id + "/Secrets")
	addSecret := func() string {
		added := decode[map[string]any](t, h.do(http.MethodPost, secrets, h.admin, map[string]any{"Expires": false}).want(t, http.StatusCreated))
		return added["Secret"].(string)
	}
	with := func(secret string) func(url.Values) { return func(f url.Values) { f.Set("client_secret", secret) } }

	if p := a.open(a.authParams()); p.status != http.StatusBadRequest || p.text("error-code") != "unauthorized_client" {
		t.Fatalf("a client created just now is known to sign-in: status %d", p.status)
	}
	h.clock.Add(delay)
	q := a.authParams()
	q.Set("scope", "openid offline_access")
	tr := a.redeem(a.code(q), nil).ok(t)

	// Rotation without grace: a new secret, the old one deleted at once. The old one is
	// refused at once and the new one is not known yet: no secret works for an hour.
	second := addSecret()
	h.do(http.MethodDelete, secrets+"/1", h.admin, nil).want(t, http.StatusNoContent)
	h.clock.Add(time.Minute)
	a.redeem(a.code(a.authParams()), nil).fails(t, "invalid_client")
	a.redeem(a.code(a.authParams()), with(second)).fails(t, "invalid_client")
	h.clock.Add(delay - time.Minute - time.Second)
	a.redeem(a.code(a.authParams()), with(second)).fails(t, "invalid_client")
	h.clock.Add(time.Second)
	a.redeem(a.code(a.authParams()), with(second)).ok(t)

	// Rotation with a grace of two delays: the old secret's expiry is shortened, not deleted.
	third := addSecret()
	graceEnd := h.clock.Now().Add(2 * delay)
	h.do(http.MethodPut, secrets+"/2", h.admin, map[string]any{"Expiration": graceEnd}).want(t, http.StatusOK)
	h.clock.Add(time.Minute)
	a.redeem(a.code(a.authParams()), with(second)).ok(t) // the app keeps working meanwhile
	a.redeem(a.code(a.authParams()), with(third)).fails(t, "invalid_client")
	h.clock.Add(delay)
	a.redeem(a.code(a.authParams()), with(second)).ok(t)
	a.redeem(a.code(a.authParams()), with(third)).ok(t) // both work until the grace ends
	h.clock.Add(graceEnd.Sub(h.clock.Now()))
	a.redeem(a.code(a.authParams()), with(second)).fails(t, "invalid_client")
	a.redeem(a.code(a.authParams()), with(third)).ok(t)
	a.secret = third

	// Settings: a longer lifetime and a new redirect URI arrive after the delay.
	a.update(map[string]any{"AccessTokenLifetime": 600, "RedirectUris": []string{appCallback, appCallback + "/v2"}})
	h.clock.Add(delay - time.Second)
	if got := a.redeem(a.code(a.authParams()), nil).ok(t); got.ExpiresIn != 120 {
		t.Errorf("expires_in %d before the change reached sign-in, want 120", got.ExpiresIn)
	}
	v2 := a.authParams()
	v2.Set("redirect_uri", appCallback+"/v2")
	if p := a.open(v2); p.status != http.StatusBadRequest {
		t.Errorf("a redirect URI added less than the delay ago: status %d", p.status)
	}
	h.clock.Add(time.Second)
	if got := a.redeem(a.code(a.authParams()), nil).ok(t); got.ExpiresIn != 600 {
		t.Errorf("expires_in %d after the delay, want 600", got.ExpiresIn)
	}
	a.code(v2)
	// What a change takes away applies at once.
	a.update(map[string]any{"AccessTokenLifetime": 60, "RedirectUris": []string{appCallback}})
	if got := a.redeem(a.code(a.authParams()), nil).ok(t); got.ExpiresIn != 60 {
		t.Errorf("expires_in %d right after shortening, want 60", got.ExpiresIn)
	}
	if p := a.open(v2); p.status != http.StatusBadRequest {
		t.Errorf("a removed redirect URI: status %d", p.status)
	}
	a.update(map[string]any{"Enabled": false})
	if p := a.open(a.authParams()); p.status != http.StatusBadRequest {
		t.Errorf("a client disabled just now: status %d", p.status)
	}
	a.update(map[string]any{"Enabled": true})
	h.clock.Add(delay - time.Second)
	if p := a.open(a.authParams()); p.status != http.StatusBadRequest {
		t.Errorf("re-enabled less than the delay ago: status %d", p.status)
	}
	h.clock.Add(time.Second)

	// Deleting the client stops its refresh tokens at once.
	tr = a.refresh(tr.RefreshToken).ok(t)
	h.do(http.MethodDelete, h.api("/HybridClients/"+a.id), h.admin, nil).want(t, http.StatusNoContent)
	a.refresh(tr.RefreshToken).fails(t, "invalid_client")
	h.clock.Add(2 * delay)
	a.refresh(tr.RefreshToken).fails(t, "invalid_client")
}

func TestSignInPropagationHistoryIsBounded(t *testing.T) {
	const delay = time.Minute
	h := newHarness(t, Options{PropagationDelay: delay})
	a := h.newApp(nil)
	for i := range 50 {
		a.update(map[string]any{"Name": fmt.Sprint("v", i)})
		h.clock.Add(delay / 2)
	}
	if n := len(h.e.history[key(a.id)]); n > 3 {
		t.Errorf("history keeps %d states with changes every half delay, want at most 3", n)
	}
	if p := a.open(a.authParams()); p.status != http.StatusOK || p.text("client-name") != "v49" {
		t.Errorf("sign-in page: status %d, client name %q, want the latest (v49)", p.status, p.text("client-name"))
	}
}

func TestSignInZeroDelayIsImmediate(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(map[string]any{"AllowOfflineAccess": true})
	q := a.authParams()
	q.Set("scope", "openid offline_access")
	tr := a.redeem(a.code(q), nil).ok(t)
	h.do(http.MethodDelete, h.api("/HybridClients/"+a.id), h.admin, nil).want(t, http.StatusNoContent)
	a.refresh(tr.RefreshToken).fails(t, "invalid_client")
	if len(h.e.history) != 0 {
		t.Errorf("history kept without a delay: %d clients", len(h.e.history))
	}
}

func TestSignInRoutesAndFaults(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(nil)
	// A fault on every API route leaves sign-in alone.
	h.e.Inject(Fault{Status: http.StatusInternalServerError})
	tr := a.redeem(a.code(a.authParams()), nil).ok(t)
	if status, _ := h.userinfo(tr.AccessToken); status != http.StatusOK {
		t.Errorf("userinfo under an API fault: %d", status)
	}
	h.e.ClearFaults()
	h.do(http.MethodGet, "/identity/account/login", "", nil).want(t, http.StatusMethodNotAllowed)
	h.do(http.MethodPost, "/identity/.well-known/openid-configuration/jwks", "", nil).want(t, http.StatusMethodNotAllowed)
	st := h.e.Stats()
	for _, op := range []Op{OpAuthorize, OpSignIn, OpUserInfo, OpToken} {
		if st.Requests[op] == 0 {
			t.Errorf("no %s request counted", op)
		}
	}
}

// TestSignInSecretsNotInErrors checks that error answers of the sign-in plane never echo
// a secret, a code or a token.
func TestSignInSecretsNotInErrors(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(nil)
	code := a.code(a.authParams())
	tr := a.redeem(code, nil).ok(t)
	answers := []tokenResponse{
		a.redeem(code, nil),
		a.redeem(code, func(f url.Values) { f.Set("client_secret", a.secret+"x") }),
		a.refresh(tr.AccessToken),
	}
	for _, ans := range answers {
		raw, _ := json.Marshal(ans)
		for _, s := range []string{code, a.secret, tr.AccessToken} {
			if strings.Contains(string(raw)+ans.Description, s) {
				t.Error("an error answer echoes a secret, code or token")
			}
		}
	}
}

// An expiry shortened less than the delay ago applies at once: the application must not
// count on the old expiry while the change spreads.
func TestSignInPropagationShortenedExpiry(t *testing.T) {
	const delay = time.Hour
	h := newHarness(t, Options{PropagationDelay: delay, TokenLifetime: 24 * time.Hour})
	a := h.newApp(map[string]any{"SecretExpirationDate": h.clock.Now().Add(10 * delay)})
	h.clock.Add(delay)
	a.redeem(a.code(a.authParams()), nil).ok(t)
	h.do(http.MethodPut, h.api("/HybridClients/"+a.id+"/Secrets/1"), h.admin,
		map[string]any{"Expiration": h.clock.Now().Add(time.Minute)}).want(t, http.StatusOK)
	a.redeem(a.code(a.authParams()), nil).ok(t)
	h.clock.Add(time.Minute)
	a.redeem(a.code(a.authParams()), nil).fails(t, "invalid_client")
	// Lengthening it again arrives only after the delay.
	h.do(http.MethodPut, h.api("/HybridClients/"+a.id+"/Secrets/1"), h.admin,
		map[string]any{"Expiration": h.clock.Now().Add(10 * delay)}).want(t, http.StatusOK)
	a.redeem(a.code(a.authParams()), nil).fails(t, "invalid_client")
	h.clock.Add(delay)
	a.redeem(a.code(a.authParams()), nil).ok(t)
}

func TestSignInRefreshTokenAbsoluteLifetime(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(map[string]any{"AllowOfflineAccess": true})
	q := a.authParams()
	q.Set("scope", "openid offline_access")
	tr := a.redeem(a.code(q), nil).ok(t)
	h.clock.Add(RefreshTokenLifetime - time.Hour)
	tr = a.refresh(tr.RefreshToken).ok(t) // its successor keeps the original expiry
	h.clock.Add(time.Hour)
	a.refresh(tr.RefreshToken).fails(t, "invalid_grant")
}

func TestSignInPageEscapes(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.newApp(map[string]any{"Name": `<script>alert("app")</script>`})
	if _, err := h.e.AddUser(h.tenant, User{Name: `<img src=x onerror=alert(1)>`}); err != nil {
		t.Fatal(err)
	}
	p := a.open(a.authParams())
	if strings.Contains(p.body, "<script>alert") || strings.Contains(p.body, "<img src=x") {
		t.Error("the sign-in page does not escape a client or user name")
	}
	if got := p.text("client-name"); got != `<script>alert("app")</script>` {
		t.Errorf("client-name %q", got)
	}
}
