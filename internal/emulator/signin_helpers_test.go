package emulator

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
)

// The app's registered URIs in the sign-in tests.
const (
	appCallback  = "https://app.example.com/callback"
	appLoggedOut = "https://app.example.com/signed-out"
)

// app is a relying party: a hybrid client and a browser-like HTTP client (cookie jar,
// redirects followed except to the app itself, whose URL the test reads instead).
type app struct {
	h        *harness
	id       string
	secret   string
	browser  *http.Client
	verifier string // PKCE code_verifier of the current flow
}

// newApp creates a hybrid client (extra overrides the defaults) and its browser.
func (h *harness) newApp(extra map[string]any) *app {
	h.t.Helper()
	body := newClient("Web app", map[string]any{
		"RedirectUris":           []string{appCallback},
		"PostLogoutRedirectUris": []string{appLoggedOut},
		"AccessTokenLifetime":    120,
	})
	for k, v := range extra {
		body[k] = v
	}
	created := h.create(body)
	jar, _ := cookiejar.New(nil)
	return &app{
		h: h, id: created.Client.ID, secret: created.Secret,
		browser: &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if !strings.HasPrefix(req.URL.String(), h.srv.URL) {
				return http.ErrUseLastResponse // arriving at the app: stop and let the test look
			}
			return nil
		}},
		verifier: "verifier-0123456789-0123456789-0123456789-0123456789",
	}
}

func challengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authParams is a valid code-flow authorization request of the app.
func (a *app) authParams() url.Values {
	return url.Values{
		"client_id":             {a.id},
		"redirect_uri":          {appCallback},
		"response_type":         {"code"},
		"scope":                 {"openid ocsapi"},
		"state":                 {"st-42"},
		"nonce":                 {"n-0S6_WzA2Mj"},
		"code_challenge":        {challengeOf(a.verifier)},
		"code_challenge_method": {"S256"},
		"acr_values":            {"tenant:" + a.h.tenant},
	}
}

// page is a received page or redirect.
type page struct {
	status   int
	location string // the Location of a redirect to the app, else ""
	body     string
}

func (a *app) do(req *http.Request) page {
	a.h.t.Helper()
	res, err := a.browser.Do(req)
	if err != nil {
		a.h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, location: res.Header.Get("Location"), body: string(b)}
}

// open opens the authorization endpoint with the parameters, as a browser would.
func (a *app) open(q url.Values) page {
	a.h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.h.srv.URL+"/identity/connect/authorize?"+q.Encode(), nil)
	return a.do(req)
}

var (
	hiddenRequest = regexp.MustCompile(`name="request" value="([^"]*)"`)
	optionRE      = regexp.MustCompile(`<option value="([^"]*)"( selected)?>([^<]*)`)
	idRE          = func(id string) *regexp.Regexp { return regexp.MustCompile(`id="` + id + `"[^>]*>([^<]*)<`) }
)

// text returns the text of the element with that id, or "" if there is none.
func (p page) text(id string) string {
	m := idRE(id).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// has reports whether the page has an element with that id.
func (p page) has(id string) bool { return strings.Contains(p.body, `id="`+id+`"`) }

// options returns the sign-in page's users: subject -> label.
func (p page) options() map[string]string {
	out := map[string]string{}
	for _, m := range optionRE.FindAllStringSubmatch(p.body, -1) {
		out[html.UnescapeString(m[1])] = html.UnescapeString(m[3])
	}
	return out
}

// submit posts the sign-in form of page p with the fields, as a browser would.
func (a *app) submit(p page, fields url.Values) page {
	a.h.t.Helper()
	m := hiddenRequest.FindStringSubmatch(p.body)
	if m == nil || !p.has("signin") {
		a.h.t.Fatalf("not a sign-in page (status %d)", p.status)
	}
	form := url.Values{"request": {html.UnescapeString(m[1])}, "action": {"signin"}}
	// A select sends its selected option, else its first.
	for i, m := range optionRE.FindAllStringSubmatch(p.body, -1) {
		if i == 0 || m[2] != "" {
			form.Set("user", html.UnescapeString(m[1]))
		}
	}
	for k, vs := range fields {
		form[k] = vs
	}
	req, _ := http.NewRequest(http.MethodPost, a.h.srv.URL+"/identity/account/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return a.do(req)
}

// signIn walks the pages: opens the authorization request, picks the first (default)
// user and returns where the browser was sent (the app's URL).
func (a *app) signIn(q url.Values) *url.URL {
	a.h.t.Helper()
	p := a.open(q)
	if p.status != http.StatusOK {
		a.h.t.Fatalf("authorize: status %d, error %q", p.status, p.text("error-code"))
	}
	return a.arrive(a.submit(p, nil))
}

// arrive checks that p redirects to the app and returns that URL.
func (a *app) arrive(p page) *url.URL {
	a.h.t.Helper()
	if p.status != http.StatusFound || p.location == "" {
		a.h.t.Fatalf("no redirect to the app: status %d, error %q %q", p.status, p.text("error-code"), p.text("signin-error"))
	}
	u, err := url.Parse(p.location)
	if err != nil {
		a.h.t.Fatal(err)
	}
	return u
}

// callback returns the authorization response parameters (query or fragment).
func callback(u *url.URL) url.Values {
	if u.Fragment != "" {
		v, _ := url.ParseQuery(u.Fragment)
		return v
	}
	return u.Query()
}

// code signs the default user in with q and returns the code, checking state.
func (a *app) code(q url.Values) string {
	a.h.t.Helper()
	cb := callback(a.signIn(q))
	if cb.Get("error") != "" {
		a.h.t.Fatalf("authorization error %s: %s", cb.Get("error"), cb.Get("error_description"))
	}
	if cb.Get("state") != q.Get("state") {
		a.h.t.Fatalf("state %q, want %q", cb.Get("state"), q.Get("state"))
	}
	return cb.Get("code")
}

// tokenResponse is a token endpoint answer. Its fields are never printed by the tests:
// error and error_description only.
type tokenResponse struct {
	status       int
	Error        string `json:"error"`
	Description  string `json:"error_description"`
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

func (h *harness) tokenRequest(form url.Values) tokenResponse {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/identity/connect/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := h.hc.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(res.Body).Decode(&tr); err != nil {
		h.t.Fatalf("token response: %v", err)
	}
	tr.status = res.StatusCode
	return tr
}

// redeem exchanges a code with the app's secret and the usual parameters; mutate may change
// the form.
func (a *app) redeem(code string, mutate func(url.Values)) tokenResponse {
	a.h.t.Helper()
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {appCallback},
		"code_verifier": {a.verifier}, "client_id": {a.id}, "client_secret": {a.secret},
	}
	if mutate != nil {
		mutate(form)
	}
	return a.h.tokenRequest(form)
}

func (a *app) refresh(rt string) tokenResponse {
	a.h.t.Helper()
	return a.h.tokenRequest(url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {a.id}, "client_secret": {a.secret},
	})
}

// ok fails unless the token response is a success.
func (tr tokenResponse) ok(t *testing.T) tokenResponse {
	t.Helper()
	if tr.status != http.StatusOK || tr.AccessToken == "" {
		t.Fatalf("token request: status %d, error %q (%s)", tr.status, tr.Error, tr.Description)
	}
	return tr
}

// fails fails unless the token response is the OAuth error code (status 400).
func (tr tokenResponse) fails(t *testing.T, code string) {
	t.Helper()
	if tr.status != http.StatusBadRequest || tr.Error != code || tr.AccessToken != "" {
		t.Fatalf("token request: status %d, error %q (%s); want 400 %s", tr.status, tr.Error, tr.Description, code)
	}
}

// verifier verifies ID tokens of the app with go-oidc, through discovery and the JWKS, by
// the harness's clock.
func (a *app) oidcVerifier() *oidc.IDTokenVerifier {
	a.h.t.Helper()
	ctx := oidc.ClientContext(context.Background(), a.h.hc)
	p, err := oidc.NewProvider(ctx, a.h.srv.URL+"/identity")
	if err != nil {
		a.h.t.Fatalf("discovery: %v", err)
	}
	return p.Verifier(&oidc.Config{ClientID: a.id, Now: a.h.clock.Now})
}

// idToken verifies a raw ID token and returns it with its claims.
func (a *app) idToken(raw string) (*oidc.IDToken, map[string]any) {
	a.h.t.Helper()
	tok, err := a.oidcVerifier().Verify(context.Background(), raw)
	if err != nil {
		a.h.t.Fatalf("ID token does not verify: %v", err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		a.h.t.Fatal(err)
	}
	return tok, claims
}

// userinfo calls the userinfo endpoint with an access token.
func (h *harness) userinfo(accessToken string) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/identity/connect/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	res, err := h.hc.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// update changes the app's client through the management API.
func (a *app) update(body map[string]any) {
	a.h.t.Helper()
	a.h.do(http.MethodPut, a.h.api("/HybridClients/"+a.id), a.h.admin, body).want(a.h.t, http.StatusOK)
}

// mustSubject returns the subject of the verified ID token of a token response.
func (a *app) mustSubject(tr tokenResponse) string {
	a.h.t.Helper()
	tok, _ := a.idToken(tr.IDToken)
	return tok.Subject
}
