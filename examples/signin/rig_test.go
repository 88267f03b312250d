package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// The test rig: the fake service with a clock, a hybrid client made through the SDK, and
// the example application on loopback, whose handler a test can redeploy (with another
// secret, or another view of the client) at the same address.

// clock is the fake's clock, which tests move forward. The application checks ID tokens
// against it too.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

type rigOptions struct {
	refresh      bool          // the client's AllowRefreshTokens
	lifetime     time.Duration // the client's AccessTokenLifetime; zero: 1h
	noPostLogout bool          // register no post-logout URI
	delay        time.Duration // the fake's PropagationDelay
	withhold     bool          // the fake's WithholdRefreshTokens
}

type rig struct {
	t       *testing.T
	clock   *clock
	fake    *hybridclientstest.Server
	clients *hybridclients.Client
	app     *httptest.Server
	handler atomic.Pointer[http.Handler]
	// codes counts requests that reached the application's /callback with a code.
	codes atomic.Int64

	client hybridclients.HybridClient // as created
	secret identity.Secret            // the first secret
	logs   syncBuffer                 // what the application logged
}

// syncBuffer is a bytes.Buffer for a logger that handlers on several goroutines share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	r := &rig{t: t, clock: &clock{}}
	r.fake = hybridclientstest.NewServer(t, &hybridclientstest.Options{
		Now: r.clock.Now, PropagationDelay: o.delay, WithholdRefreshTokens: o.withhold,
	})
	var err error
	if r.clients, err = hybridclients.New(r.fake.Config()); err != nil {
		t.Fatal(err)
	}
	r.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/callback" && req.URL.Query().Get("code") != "" {
			r.codes.Add(1)
		}
		(*r.handler.Load()).ServeHTTP(w, req)
	}))
	t.Cleanup(r.app.Close)

	req := hybridclients.CreateRequest{
		Name:                "signin test",
		RedirectURIs:        []string{r.callback()},
		AllowRefreshTokens:  o.refresh,
		AccessTokenLifetime: o.lifetime,
	}
	if !o.noPostLogout {
		req.PostLogoutRedirectURIs = []string{r.home()}
	}
	created, err := r.clients.Create(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	r.client, r.secret = created.Client, created.Secret.Value
	// With a propagation delay, sign-in learns of the new client only after it.
	r.clock.Advance(o.delay)
	r.deploy(&r.client, r.secret)
	return r
}

func (r *rig) callback() string { return r.app.URL + "/callback" }
func (r *rig) home() string     { return r.app.URL + "/" }

// deploy (re)starts the application at the same address with the SignIn of hc (the client
// as the application believes it is registered) and secret.
func (r *rig) deploy(hc *hybridclients.HybridClient, secret identity.Secret) {
	r.t.Helper()
	si, err := r.clients.SignIn(r.t.Context(), hc, secret, r.callback())
	if err != nil {
		r.t.Fatal(err)
	}
	h, err := newApp(r.t.Context(), appConfig{SignIn: si, PostLogoutURI: r.home(), Now: r.clock.Now,
		Logger: slog.New(slog.NewTextHandler(&r.logs, nil))})
	if err != nil {
		r.t.Fatal(err)
	}
	r.handler.Store(&h)
}

// update changes the client through the management API, as an administrator would while
// the application runs.
func (r *rig) update(req hybridclients.UpdateRequest) {
	r.t.Helper()
	if _, err := r.clients.Update(r.t.Context(), r.client.ID, req); err != nil {
		r.t.Fatal(err)
	}
}

// page is where a browser ended: its URL and its HTML.
type page struct {
	url, html string
}

// on reports whether the page is served from base.
func (p page) on(base string) bool { return strings.HasPrefix(p.url, base+"/") || p.url == base }

// elementRE finds an element by id and what follows its start tag.
func elementRE(id string) *regexp.Regexp {
	return regexp.MustCompile(`<([a-zA-Z0-9]+)\b([^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*)>`)
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// text returns the text of the element with the id (its content up to its end tag, tags
// removed), and whether the page has it.
func (p page) text(id string) (string, bool) {
	m := elementRE(id).FindStringSubmatchIndex(p.html)
	if m == nil {
		return "", false
	}
	tag := p.html[m[2]:m[3]]
	rest := p.html[m[1]:]
	if end := strings.Index(rest, "</"+tag+">"); end >= 0 {
		rest = rest[:end]
	}
	return strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(rest, " "))), " "), true
}

func (p page) has(id string) bool { _, ok := p.text(id); return ok }

// attr returns an attribute of the element with the id.
func (p page) attr(id, name string) string {
	m := elementRE(id).FindStringSubmatch(p.html)
	if m == nil {
		return ""
	}
	a := regexp.MustCompile(`\b` + name + `="([^"]*)"`).FindStringSubmatch(m[2])
	if a == nil {
		return ""
	}
	return html.UnescapeString(a[1])
}

// describe is a page in a failure message: its URL and its visible text, shortened.
func (p page) describe() string {
	s := strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(
		regexp.MustCompile(`(?s)<(style|script)[^>]*>.*?</(style|script)>`).ReplaceAllString(p.html, ""), " "))), " ")
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return withoutQuery(p.url) + ": " + s
}

// withoutQuery is u for a failure message: a query may hold an authorization code.
func withoutQuery(u string) string {
	if before, _, found := strings.Cut(u, "?"); found {
		return before + "?[query omitted]"
	}
	return u
}

// driver is a browser: a real one (chromedp) or an http.Client with a cookie jar.
type driver interface {
	// signIn opens the application's home page, follows its Sign in link and, when the
	// identity server's sign-in page shows, types user's name and submits. It returns
	// the page it ends on.
	signIn(t *testing.T, appURL, user string) page
	// cancelSignIn opens the application's home page, follows its Sign in link and
	// presses Cancel on the identity server's sign-in page. It returns the page it ends on.
	cancelSignIn(t *testing.T, appURL string) page
	// press presses the button with the id on the current page.
	press(t *testing.T, id string) page
	// open goes to a URL.
	open(t *testing.T, u string) page
	// screenshot saves the current page as a PNG named name, where the test keeps them.
	screenshot(t *testing.T, name string)
}

// httpDriver walks the pages with net/http: what a browser does, without the browser.
type httpDriver struct {
	c    *http.Client
	last page
}

func newHTTPDriver(t *testing.T) *httpDriver {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &httpDriver{c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (d *httpDriver) do(t *testing.T, method, u string, form url.Values) page {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := d.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, withoutQuery(u), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	d.last = page{url: resp.Request.URL.String(), html: string(b)}
	return d.last
}

func (d *httpDriver) resolve(t *testing.T, ref string) string {
	t.Helper()
	base, err := url.Parse(d.last.url)
	if err != nil {
		t.Fatal(err)
	}
	u, err := base.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

func (d *httpDriver) signIn(t *testing.T, appURL, user string) page {
	t.Helper()
	return d.submitSignIn(t, appURL, url.Values{"username": {user}, "action": {"signin"}})
}

func (d *httpDriver) cancelSignIn(t *testing.T, appURL string) page {
	t.Helper()
	return d.submitSignIn(t, appURL, url.Values{"action": {"cancel"}})
}

// submitSignIn follows the home page's Sign in link and submits the identity server's
// sign-in form with fields (the request it carries added).
func (d *httpDriver) submitSignIn(t *testing.T, appURL string, form url.Values) page {
	t.Helper()
	home := d.open(t, appURL+"/")
	href := home.attr("signin", "href")
	if href == "" {
		t.Fatalf("no Sign in link on %s", home.describe())
	}
	p := d.open(t, d.resolve(t, href))
	if !p.has("submit") {
		return p // not the sign-in page: an error page
	}
	request := regexp.MustCompile(`name="request" value="([^"]*)"`).FindStringSubmatch(p.html)
	if request == nil {
		t.Fatalf("the sign-in form carries no request: %s", p.describe())
	}
	form.Set("request", html.UnescapeString(request[1]))
	return d.do(t, http.MethodPost, d.resolve(t, p.attr("signin", "action")), form)
}

// formRE finds the form around a button: the application's buttons each sit alone in a
// POST form.
func formRE(id string) *regexp.Regexp {
	return regexp.MustCompile(`<form[^>]*\baction="([^"]*)"[^>]*>\s*<button[^>]*\bid="` + regexp.QuoteMeta(id) + `"`)
}

func (d *httpDriver) press(t *testing.T, id string) page {
	t.Helper()
	m := formRE(id).FindStringSubmatch(d.last.html)
	if m == nil {
		t.Fatalf("no button %q in a form on %s", id, d.last.describe())
	}
	return d.do(t, http.MethodPost, d.resolve(t, html.UnescapeString(m[1])), url.Values{})
}

func (d *httpDriver) open(t *testing.T, u string) page {
	t.Helper()
	return d.do(t, http.MethodGet, u, nil)
}

func (d *httpDriver) screenshot(*testing.T, string) {}

// wantSignedIn fails unless p is the application's signed-in page for user.
func wantSignedIn(t *testing.T, r *rig, p page, user string) {
	t.Helper()
	if got, _ := p.text("user-name"); !p.on(r.app.URL) || got != user {
		t.Fatalf("not signed in as %q; at %s", user, p.describe())
	}
}

// wantAppError fails unless p is the application's error page naming what.
func wantAppError(t *testing.T, r *rig, p page, what string) {
	t.Helper()
	msg, _ := p.text("app-error")
	detail, _ := p.text("app-error-detail")
	if !p.on(r.app.URL) || !strings.Contains(msg+" "+detail, what) {
		t.Fatalf("want the application's error page about %q; at %s", what, p.describe())
	}
}

// wantServerError fails unless p is the identity server's error page with the code: it
// did not send the browser back to the application.
func wantServerError(t *testing.T, r *rig, p page, code string) {
	t.Helper()
	got, _ := p.text("error-code")
	if !p.on(r.fake.URL) || !p.has("error") || got != code {
		t.Fatalf("want the identity server's error page with %q; at %s", code, p.describe())
	}
}

const ada = "Ada Lovelace" // the fake's test user

// The rules of signing in with a hybrid client (the user's name, the token lifetime,
// refresh, redirect URIs, a disabled client, rotation, propagation, logout), each written
// once and run by both drivers.
var rules = []struct {
	name string
	run  func(t *testing.T, d driver)
}{
	{"SignInShowsTheUsersName", ruleSignInShowsName},
	{"TokenLifetimeIsTheClients", ruleTokenLifetime},
	{"RefreshOnlyWithAllowRefreshTokens", ruleRefresh},
	{"NoRefreshTokenIssuedKeepsTheUserSignedIn", ruleRefreshWithheld},
	{"CancelledSignInSaysWhy", ruleCancelled},
	{"UnregisteredRedirectURIShowsTheErrorPage", ruleUnregisteredRedirect},
	{"DisabledClientIsRefused", ruleDisabled},
	{"RotationWithGrace", ruleRotationWithGrace},
	{"PropagationDelayWithoutGraceLocksOut", rulePropagationWithoutGrace},
	{"LogoutLandsOnThePostLogoutURIOnlyWhenRegistered", ruleLogout},
}

// TestRules runs every rule with an http.Client walking the pages: fast, no browser.
func TestRules(t *testing.T) {
	for _, rule := range rules {
		t.Run(rule.name, func(t *testing.T) { rule.run(t, newHTTPDriver(t)) })
	}
}

func ruleSignInShowsName(t *testing.T, d driver) {
	r := newRig(t, rigOptions{refresh: true})
	p := d.signIn(t, r.app.URL, ada)
	wantSignedIn(t, r, p, ada)
	if email, _ := p.text("user-email"); email != "ada@example.com" {
		t.Errorf("email %q", email)
	}
	if got, _ := p.text("client-id"); got != r.client.ID {
		t.Errorf("client id %q, want %q", got, r.client.ID)
	}
	d.screenshot(t, "signed-in")
	if r.codes.Load() != 1 {
		t.Errorf("%d codes reached the application, want 1", r.codes.Load())
	}
	// Tokens stay on the server: not on the page, not in the log (ID tokens are JWTs,
	// "eyJ..."), and neither is the secret.
	p = d.press(t, "refresh")
	wantSignedIn(t, r, p, ada)
	logs := r.logs.String()
	if !strings.Contains(logs, "signed in") || !strings.Contains(logs, "refreshed") {
		t.Errorf("the log lacks the sign-in and the refresh:\n%s", logs)
	}
	for _, where := range []string{p.html, logs} {
		if strings.Contains(where, "eyJ") || strings.Contains(where, r.secret.Reveal()) {
			t.Errorf("a token or the secret shows in:\n%s", where)
		}
	}
}

func ruleTokenLifetime(t *testing.T, d driver) {
	for _, lifetime := range []time.Duration{time.Minute, 17 * time.Minute} {
		r := newRig(t, rigOptions{lifetime: lifetime})
		p := d.signIn(t, r.app.URL, ada)
		wantSignedIn(t, r, p, ada)
		if got, want := func() string { s, _ := p.text("token-lifetime"); return s }(), itoa(int(lifetime.Seconds())); got != want {
			t.Errorf("AccessTokenLifetime %s: the page shows %q s, want %s", lifetime, got, want)
		}
	}
}

func ruleRefresh(t *testing.T, d driver) {
	t.Run("allowed", func(t *testing.T) {
		r := newRig(t, rigOptions{refresh: true, lifetime: 5 * time.Minute})
		p := d.signIn(t, r.app.URL, ada)
		wantSignedIn(t, r, p, ada)
		if !p.has("refresh") {
			t.Fatalf("no Refresh button with AllowRefreshTokens: %s", p.describe())
		}
		for i := 1; i <= 2; i++ {
			p = d.press(t, "refresh")
			wantSignedIn(t, r, p, ada)
			if got, _ := p.text("refresh-count"); got != itoa(i) {
				t.Fatalf("after %d refreshes the page shows %q: %s", i, got, p.describe())
			}
		}
		if got, _ := p.text("token-lifetime"); got != "300" {
			t.Errorf("refreshed token lifetime %q, want 300", got)
		}
	})
	t.Run("not allowed", func(t *testing.T) {
		r := newRig(t, rigOptions{refresh: false})
		p := d.signIn(t, r.app.URL, ada)
		wantSignedIn(t, r, p, ada)
		if p.has("refresh") {
			t.Errorf("a Refresh button without AllowRefreshTokens: %s", p.describe())
		}
		if got, _ := p.text("refresh-token"); !strings.HasPrefix(got, "none") {
			t.Errorf("refresh token %q, want none", got)
		}
	})
	t.Run("turned off while the application runs", func(t *testing.T) {
		// The application still believes it may ask for offline_access; the identity
		// server refuses the sign-in and says why, at the application's redirect URI.
		r := newRig(t, rigOptions{refresh: true})
		r.update(hybridclients.UpdateRequest{AllowRefreshTokens: ptr(false)})
		p := d.signIn(t, r.app.URL, ada)
		wantAppError(t, r, p, "invalid_scope")
		if r.codes.Load() != 0 {
			t.Errorf("%d codes reached the application", r.codes.Load())
		}
	})
}

// ruleRefreshWithheld: the client allows refresh tokens, the sign-in asks for
// offline_access, but the identity server issues no refresh token (the service's
// reference says it does not support them for hybrid clients). The user is signed in, the
// page says no refresh token was issued, and Refresh says why it cannot refresh, leaving
// the user signed in.
func ruleRefreshWithheld(t *testing.T, d driver) {
	r := newRig(t, rigOptions{refresh: true, withhold: true})
	p := d.signIn(t, r.app.URL, ada)
	wantSignedIn(t, r, p, ada)
	if got, _ := p.text("refresh-token"); !strings.Contains(got, "no refresh token was issued") {
		t.Errorf("refresh token %q, want it to say that no refresh token was issued", got)
	}
	if !p.has("refresh") {
		t.Fatalf("no Refresh button although offline_access was asked for: %s", p.describe())
	}
	p = d.press(t, "refresh")
	wantSignedIn(t, r, p, ada)
	if got, _ := p.text("notice"); !strings.Contains(got, "no refresh token was issued") {
		t.Errorf("after Refresh, the notice is %q; want why it cannot refresh: %s", got, p.describe())
	}
	if got, _ := p.text("refresh-count"); got != "0" {
		t.Errorf("refreshes %q, want 0", got)
	}
	// The notice is shown once; the user is still signed in and can log out.
	p = d.open(t, r.home())
	wantSignedIn(t, r, p, ada)
	if p.has("notice") {
		t.Errorf("the notice shows again: %s", p.describe())
	}
	if logs := r.logs.String(); !strings.Contains(logs, "cannot refresh") || strings.Contains(logs, "sign-in failed") {
		t.Errorf("the log does not say the refresh was impossible, or calls it a failure:\n%s", logs)
	}
	p = d.press(t, "logout")
	if !p.has("signin") {
		t.Errorf("after logout: %s", p.describe())
	}
}

// ruleCancelled: the user cancels on the identity server's sign-in page; the application
// shows the server's error code and description, and logs the code.
func ruleCancelled(t *testing.T, d driver) {
	r := newRig(t, rigOptions{})
	p := d.cancelSignIn(t, r.app.URL)
	wantAppError(t, r, p, "refused the sign-in")
	if got, _ := p.text("app-error-detail"); got != "access_denied: The user cancelled the sign-in." {
		t.Errorf("error detail %q, want %q", got, "access_denied: The user cancelled the sign-in.")
	}
	if logs := r.logs.String(); !strings.Contains(logs, "code=access_denied") {
		t.Errorf("the log lacks the code:\n%s", logs)
	}
	if p.has("user-name") || r.codes.Load() != 0 {
		t.Errorf("signed in anyway (%d codes)", r.codes.Load())
	}
}

func ruleUnregisteredRedirect(t *testing.T, d driver) {
	r := newRig(t, rigOptions{})
	// The SDK refuses it before any browser sees it.
	_, err := r.clients.SignIn(t.Context(), &r.client, r.secret, r.app.URL+"/callback/")
	var ve *identity.ValidationError
	if !errors.As(err, &ve) || ve.Field != "RedirectURI" || ve.Value != r.app.URL+"/callback/" {
		t.Fatalf("SignIn with an unregistered redirect URI: %v", err)
	}
	// An administrator registers another URI while the application runs: the identity
	// server shows its error page and never sends a code to the unregistered URI.
	r.update(hybridclients.UpdateRequest{RedirectURIs: []string{r.app.URL + "/signin-oidc"}})
	p := d.signIn(t, r.app.URL, ada)
	wantServerError(t, r, p, "unauthorized_client")
	if desc, _ := p.text("error-description"); !strings.Contains(desc, r.callback()) {
		t.Errorf("the error page does not name the redirect URI: %q", desc)
	}
	d.screenshot(t, "error")
	if r.codes.Load() != 0 {
		t.Errorf("%d codes reached the application", r.codes.Load())
	}
}

func ruleDisabled(t *testing.T, d driver) {
	r := newRig(t, rigOptions{refresh: true})
	p := d.signIn(t, r.app.URL, ada)
	wantSignedIn(t, r, p, ada)

	r.update(hybridclients.UpdateRequest{Enabled: ptr(false)})
	// The SDK refuses the client as it now is.
	hc, err := r.clients.Get(t.Context(), r.client.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.clients.SignIn(t.Context(), hc, r.secret, r.callback())
	var ve *identity.ValidationError
	if !errors.As(err, &ve) || ve.Field != "Client.Enabled" {
		t.Fatalf("SignIn of a disabled client: %v", err)
	}
	// The running application is refused: its refresh token, and a new sign-in.
	p = d.press(t, "refresh")
	wantAppError(t, r, p, "refresh failed")
	p = newDriverLike(t, d).signIn(t, r.app.URL, ada)
	wantServerError(t, r, p, "unauthorized_client")
	if r.codes.Load() != 1 {
		t.Errorf("%d codes reached the application, want 1 (before the client was disabled)", r.codes.Load())
	}
}

// rotate adds a new secret and retires the others: deleted, or with grace kept working
// until the grace ends.
func (r *rig) rotate(grace time.Duration) identity.Secret {
	r.t.Helper()
	var value identity.Secret
	// Rotate ends the grace by the fake's clock, which the fake's Config carries.
	_, err := r.clients.Secrets().Rotate(r.t.Context(), r.client.ID, secretsRotate(grace, &value))
	if err != nil {
		r.t.Fatal(err)
	}
	return value
}

func ruleRotationWithGrace(t *testing.T, d driver) {
	r := newRig(t, rigOptions{})
	old := r.secret
	fresh := r.rotate(2 * time.Hour)
	signInWith := func(secret identity.Secret) page {
		r.deploy(&r.client, secret)
		return newDriverLike(t, d).signIn(t, r.app.URL, ada)
	}
	wantSignedIn(t, r, signInWith(old), ada)
	wantSignedIn(t, r, signInWith(fresh), ada)
	r.clock.Advance(2*time.Hour + time.Minute)
	wantAppError(t, r, signInWith(old), "invalid_client")
	wantSignedIn(t, r, signInWith(fresh), ada)
}

func rulePropagationWithoutGrace(t *testing.T, d driver) {
	const delay = time.Hour
	r := newRig(t, rigOptions{delay: delay})
	signInWith := func(secret identity.Secret) page {
		r.deploy(&r.client, secret)
		return newDriverLike(t, d).signIn(t, r.app.URL, ada)
	}
	old := r.secret
	wantSignedIn(t, r, signInWith(old), ada)

	// Without grace: the old secret is deleted at once and the new one deployed at once,
	// but the new one reaches sign-in only after the delay (the fake assumes the least
	// favourable order: a removal at once, an addition late), so neither works: the
	// application is locked out, for up to an hour on the real service.
	fresh := r.rotate(0)
	wantAppError(t, r, signInWith(fresh), "invalid_client")
	wantAppError(t, r, signInWith(old), "invalid_client")
	r.clock.Advance(delay / 2)
	wantAppError(t, r, signInWith(fresh), "invalid_client")
	r.clock.Advance(delay/2 + time.Second)
	wantSignedIn(t, r, signInWith(fresh), ada)
	wantAppError(t, r, signInWith(old), "invalid_client")

	// With a grace longer than the delay (the SDK advises an hour or more), the old
	// secret keeps working until the new one has reached sign-in: no lockout.
	newer := r.rotate(2 * delay)
	wantSignedIn(t, r, signInWith(fresh), ada)
	r.clock.Advance(delay + time.Second)
	wantSignedIn(t, r, signInWith(fresh), ada)
	wantSignedIn(t, r, signInWith(newer), ada)
	r.clock.Advance(delay + time.Minute)
	wantAppError(t, r, signInWith(fresh), "invalid_client")
	wantSignedIn(t, r, signInWith(newer), ada)
}

func ruleLogout(t *testing.T, d driver) {
	t.Run("registered", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		wantSignedIn(t, r, d.signIn(t, r.app.URL, ada), ada)
		p := d.press(t, "logout")
		if !strings.HasPrefix(p.url, r.home()) || !p.has("signin") {
			t.Fatalf("after logout: %s, want the application's home %s", p.describe(), r.home())
		}
		if got, _ := p.text("notice"); !strings.Contains(got, "signed out") {
			t.Errorf("after logout the home page says %q, want that the user is signed out", got)
		}
		// Signed out of the application too, and told so only once.
		if p := d.open(t, r.home()); p.has("user-name") || p.has("notice") {
			t.Errorf("after logout, the home page again: %s", p.describe())
		}
	})
	t.Run("not registered", func(t *testing.T) {
		r := newRig(t, rigOptions{noPostLogout: true})
		wantSignedIn(t, r, d.signIn(t, r.app.URL, ada), ada)
		p := d.press(t, "logout")
		if p.on(r.app.URL) || !p.on(r.fake.URL) || !p.has("signed-out") {
			t.Fatalf("after logout: %s, want the identity server's signed-out page", p.describe())
		}
	})
}

func ptr[T any](v T) *T { return &v }

func itoa(n int) string { return strconv.Itoa(n) }

// secretsRotate are the options of a rotation that puts the new value in *value, and
// retires the other secrets: deleted at once (grace 0, the explicit RetireAtOnce) or kept
// working for grace.
func secretsRotate(grace time.Duration, value *identity.Secret) secrets.RotateRequest {
	return secrets.RotateRequest{
		Description:  "rotated",
		Grace:        grace,
		RetireAtOnce: grace == 0,
		// The grace alone: these rules show what the application sees as the fake's
		// clock is moved by hand; Rotate's wait for the new secret to work (its proof)
		// is the secrets package's to test.
		SkipProof: grace != 0,
		Store: func(_ context.Context, s secrets.Added) error {
			*value = s.Value
			return nil
		},
	}
}

// newDriverLike returns a fresh driver of d's kind: a new browser session, so that each
// sign-in starts from nothing.
func newDriverLike(t *testing.T, d driver) driver {
	if _, ok := d.(*httpDriver); ok {
		return newHTTPDriver(t)
	}
	return d.(interface{ fresh(*testing.T) driver }).fresh(t)
}

// startLogin does GET /login as the browser with jar would, without following the redirect:
// the authorization URL, and the cookies the application set.
func (r *rig) startLogin(jar http.CookieJar) (*url.URL, []*http.Cookie) {
	r.t.Helper()
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(r.app.URL + "/login")
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		r.t.Fatalf("/login: %d %q %v", resp.StatusCode, resp.Header.Get("Location"), err)
	}
	return u, resp.Cookies()
}

// TestCallbackChecks tampers with the authorization request the application sends, as an
// attacker in the middle or a confused browser could, and checks that the application (or
// the identity server, for PKCE and the tenant) refuses each change.
func TestCallbackChecks(t *testing.T) {
	otherVerifier := strings.Repeat("x", 43)
	sum := sha256.Sum256([]byte(otherVerifier))
	for _, tc := range []struct {
		name   string
		tamper func(q url.Values)
		want   string // on the application's error page; empty: signed in
	}{
		{"untouched", func(url.Values) {}, ""},
		{"nonce", func(q url.Values) { q.Set("nonce", "replayed-nonce") }, "nonce"},
		{"state", func(q url.Values) { q.Set("state", "forged-state") }, "state does not match"},
		{"PKCE challenge", func(q url.Values) {
			q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
		}, "invalid_grant"},
		{"tenant", func(q url.Values) { q.Set("acr_values", "tenant:00000000-0000-4000-8000-000000000000") }, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			d := newHTTPDriver(t)
			authURL, _ := r.startLogin(d.c.Jar)
			q := authURL.Query()
			tc.tamper(q)
			authURL.RawQuery = q.Encode()
			back, err := r.fake.SignIn(t.Context(), authURL.String(), ada)
			if err != nil {
				t.Fatalf("signing in on the fake: %v", err)
			}
			p := d.open(t, back.String())
			if tc.want == "" {
				wantSignedIn(t, r, p, ada)
				return
			}
			wantAppError(t, r, p, tc.want)
			if p.has("user-name") {
				t.Error("signed in anyway")
			}
		})
	}
}
