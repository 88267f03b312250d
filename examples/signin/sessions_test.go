package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ocs-go/identity/hybridclients"
)

// TestSignInRenewsTheSessionID: an attacker starts a sign-in, plants its cookies in the
// victim's browser and has the victim sign in with the attacker's authorization URL. The
// victim is signed in, under a session id the attacker never saw: the attacker's cookies
// do not find the victim's session.
func TestSignInRenewsTheSessionID(t *testing.T) {
	r := newRig(t, rigOptions{})
	attacker := newHTTPDriver(t)
	authURL, planted := r.startLogin(attacker.c.Jar)
	if len(planted) == 0 {
		t.Fatal("/login set no cookie")
	}

	victim := newHTTPDriver(t)
	appURL, _ := url.Parse(r.app.URL)
	victim.c.Jar.SetCookies(appURL, planted)
	back, err := r.fake.SignIn(t.Context(), authURL.String(), ada)
	if err != nil {
		t.Fatal(err)
	}
	wantSignedIn(t, r, victim.open(t, back.String()), ada)
	wantSignedIn(t, r, victim.open(t, r.home()), ada)

	// The attacker sends every planted cookie, whatever its path, to every page.
	var header []string
	for _, c := range planted {
		header = append(header, c.Name+"="+c.Value)
	}
	for _, path := range []string{"/", "/callback?" + back.RawQuery} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, r.app.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Cookie", strings.Join(header, "; "))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		p := readPage(t, resp)
		if p.has("user-name") || strings.Contains(p.html, ada) {
			t.Errorf("the planted session id is signed in as the victim at %s: %s", withoutQuery(path), p.describe())
		}
	}
}

func readPage(t *testing.T, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return page{url: resp.Request.URL.String(), html: string(b)}
}

// TestLoginFloodLeavesSignedInUsersSignedIn: anyone can start sign-ins, as many as they
// like; more of them than the application keeps pushes out only other sign-ins in
// progress, never a signed-in user.
func TestLoginFloodLeavesSignedInUsersSignedIn(t *testing.T) {
	r := newRig(t, rigOptions{})
	d := newHTTPDriver(t)
	wantSignedIn(t, r, d.signIn(t, r.app.URL, ada), ada)

	h := *r.handler.Load()
	flood := max(maxPending, maxSessions) + 1
	for i := range flood {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
		if rec.Code != http.StatusFound {
			t.Fatalf("anonymous /login %d: status %d", i, rec.Code)
		}
	}
	wantSignedIn(t, r, d.open(t, r.home()), ada)
	p := d.press(t, "logout") // and the session still works
	if p.has("user-name") {
		t.Fatalf("after logout: %s", p.describe())
	}
}

// TestPendingSignInExpires: a sign-in not finished within pendingTTL is forgotten; the
// browser is told to start again.
func TestPendingSignInExpires(t *testing.T) {
	r := newRig(t, rigOptions{})
	d := newHTTPDriver(t)
	authURL, _ := r.startLogin(d.c.Jar)
	r.clock.Advance(pendingTTL + time.Minute)
	back, err := r.fake.SignIn(t.Context(), authURL.String(), ada)
	if err != nil {
		t.Fatal(err)
	}
	p := d.open(t, back.String())
	wantAppError(t, r, p, "no sign-in in progress")
	if r.codes.Load() != 1 {
		t.Errorf("%d codes reached the application, want 1", r.codes.Load())
	}
}

// TestStoreBoundsAndExpiry: the store holds at most its capacity, evicting the least
// recently used, and forgets what was not used within its ttl.
func TestStoreBoundsAndExpiry(t *testing.T) {
	c := &clock{}
	s := newStore[int](3, time.Minute, c.Now)
	s.put("a", 1)
	s.put("b", 2)
	s.put("c", 3)
	if v, ok := s.get("a"); !ok || v != 1 { // a is now the most recently used
		t.Fatalf("get a: %d %t", v, ok)
	}
	s.put("d", 4) // evicts b
	if _, ok := s.get("b"); ok {
		t.Error("b survived although it was the least recently used")
	}
	for _, id := range []string{"a", "c", "d"} {
		if _, ok := s.get(id); !ok {
			t.Errorf("%s was evicted", id)
		}
	}
	if s.len() != 3 {
		t.Errorf("len %d, want 3", s.len())
	}
	if v, ok := s.take("c"); !ok || v != 3 {
		t.Errorf("take c: %d %t", v, ok)
	}
	if _, ok := s.take("c"); ok {
		t.Error("c taken twice")
	}

	c.Advance(30 * time.Second)
	s.get("a") // used: lives on
	c.Advance(45 * time.Second)
	if _, ok := s.get("d"); ok {
		t.Error("d outlived its ttl")
	}
	if _, ok := s.get("a"); !ok {
		t.Error("a expired although used within its ttl")
	}
	s.put("e", 5) // drops what expired
	c.Advance(2 * time.Minute)
	if _, ok := s.take("e"); ok {
		t.Error("an expired value was taken")
	}
	s.put("f", 6)
	if s.len() != 1 {
		t.Errorf("len %d after everything else expired, want 1", s.len())
	}

	// A capacity below one still keeps the latest value.
	one := newStore[int](0, time.Minute, c.Now)
	one.put("x", 1)
	one.put("y", 2)
	if _, ok := one.get("y"); !ok || one.len() != 1 {
		t.Errorf("capacity 0: len %d", one.len())
	}
}

// TestCookiesAreSecureWhenTheRedirectURIIsHTTPS: behind a TLS-terminating proxy the
// requests arrive as plain http, but the browser talks https (the redirect URI says so):
// every cookie the application sets, or clears, is Secure. (Over plain http, as in the
// other tests, a Secure cookie would never come back, and they would fail.)
func TestCookiesAreSecureWhenTheRedirectURIIsHTTPS(t *testing.T) {
	const base = "https://app.example.com"
	r := newRig(t, rigOptions{})
	created, err := r.clients.Create(t.Context(), hybridclients.CreateRequest{
		Name: "behind a proxy", RedirectURIs: []string{base + "/callback"}, PostLogoutRedirectURIs: []string{base + "/"},
	})
	if err != nil {
		t.Fatal(err)
	}
	si, err := r.clients.SignIn(t.Context(), &created.Client, created.Secret.Value, base+"/callback")
	if err != nil {
		t.Fatal(err)
	}
	h, err := newApp(t.Context(), appConfig{SignIn: si, PostLogoutURI: base + "/", Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	// serve sends a request the proxy passes on as plain http, with the cookies so far.
	jar := map[string]string{}
	serve := func(method, target string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, nil)
		for name, value := range jar {
			req.AddCookie(&http.Cookie{Name: name, Value: value})
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		set := rec.Result().Cookies()
		if len(set) == 0 && method != http.MethodGet {
			t.Errorf("%s %s set no cookie", method, req.URL.Path)
		}
		for _, c := range set {
			if !c.Secure || !c.HttpOnly {
				t.Errorf("%s %s: cookie %s: Secure %t, HttpOnly %t", method, req.URL.Path, c.Name, c.Secure, c.HttpOnly)
			}
			if c.MaxAge < 0 {
				delete(jar, c.Name)
			} else {
				jar[c.Name] = c.Value
			}
		}
		return rec
	}

	login := serve(http.MethodGet, "/login")
	back, err := r.fake.SignIn(t.Context(), login.Header().Get("Location"), ada)
	if err != nil {
		t.Fatal(err)
	}
	if cb := serve(http.MethodGet, back.RequestURI()); cb.Code != http.StatusSeeOther {
		t.Fatalf("callback: status %d: %s", cb.Code, cb.Body)
	}
	if home := serve(http.MethodGet, "/"); !strings.Contains(home.Body.String(), ada) {
		t.Fatalf("not signed in: %s", home.Body)
	}
	if out := serve(http.MethodPost, "/logout"); out.Code != http.StatusFound {
		t.Fatalf("logout: status %d", out.Code)
	}
}

// TestSessionsNeverShowTheirSecrets: a sign-in in progress holds the PKCE verifier, a
// session the tokens; no fmt verb or slog record of them, or of their store, shows one.
func TestSessionsNeverShowTheirSecrets(t *testing.T) {
	const verifier, access, refresh, idToken = "verifier-value-0123456789", "access-token-value", "refresh-token-value", "id-token-value"
	p := &pendingSignIn{state: "s", nonce: "n", verifier: verifier}
	s := &session{token: &oauth2.Token{AccessToken: access, RefreshToken: refresh}, idToken: idToken, name: "Ada"}
	st := newStore[*session](2, time.Hour, time.Now)
	st.put("id", s)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var rendered []string
	for _, v := range []any{p, *p, s, *s, st, *st} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			rendered = append(rendered, fmt.Sprintf(verb, v))
		}
		log.Info("value", "v", v)
	}
	rendered = append(rendered, logs.String())
	for _, r := range rendered {
		for _, secret := range []string{verifier, access, refresh, idToken} {
			if strings.Contains(r, secret) {
				t.Errorf("a rendering shows a secret: %s", r)
			}
		}
	}
}
