package hybridclients

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ocs-go/identity"
	"golang.org/x/oauth2"
)

const (
	signinSecret = "hybrid-SECRET-value-77e1"
	signinTenant = "11111111-2222-3333-4444-555555555555"
	signinClient = "0b1c2d3e-4f50-4617-8283-949596979899"
	redirect     = "http://127.0.0.1:8080/callback"
	home         = "http://127.0.0.1:8080/"
	idToken      = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln" // opaque to the SDK: go-oidc checks it
)

// idp is a scripted identity server on loopback: discovery, and a token endpoint whose
// answer the test sets.
type idp struct {
	*httptest.Server
	requests atomic.Int64
	doc      func(base string) map[string]any // the discovery document
	token    func(w http.ResponseWriter, form url.Values)
	forms    []url.Values
	authz    []string // Authorization headers seen at the token endpoint
}

func newIDP(t *testing.T) *idp {
	t.Helper()
	p := &idp{}
	p.doc = func(base string) map[string]any {
		return map[string]any{
			"issuer":                 base + "/identity",
			"authorization_endpoint": base + "/identity/connect/authorize",
			"token_endpoint":         base + "/identity/connect/token",
			"jwks_uri":               base + "/identity/.well-known/openid-configuration/jwks",
			"userinfo_endpoint":      base + "/identity/connect/userinfo",
			"end_session_endpoint":   base + "/identity/connect/endsession",
		}
	}
	p.token = func(w http.ResponseWriter, form url.Values) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"at-%s","token_type":"Bearer","expires_in":1800,"id_token":%q,"refresh_token":"rt-1"}`, form.Get("grant_type"), idToken)
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		switch r.URL.Path {
		case "/identity/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(p.doc("http://" + r.Host))
		case "/identity/connect/token":
			_ = r.ParseForm()
			p.forms = append(p.forms, r.PostForm)
			p.authz = append(p.authz, r.Header.Get("Authorization"))
			p.token(w, r.PostForm)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *idp) config() identity.Config {
	return identity.Config{Resource: p.URL, TenantID: signinTenant}
}

func signinHC(refresh bool) *HybridClient {
	return &HybridClient{ID: signinClient, Name: "web", Enabled: true, RedirectURIs: []string{"https://elsewhere.example/cb", redirect},
		PostLogoutRedirectURIs: []string{home}, AllowRefreshTokens: refresh}
}

func newSignIn(t *testing.T, p *idp, hc *HybridClient) *SignIn {
	t.Helper()
	s, err := DiscoverSignIn(context.Background(), p.config(), hc, identity.NewSecret(signinSecret), redirect)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignInBuildsTheOAuth2Config(t *testing.T) {
	p := newIDP(t)
	for _, refresh := range []bool{false, true} {
		s := newSignIn(t, p, signinHC(refresh))
		c := s.OAuth2Config()
		want := []string{"openid", "ocsapi"}
		if refresh {
			want = append(want, "offline_access")
		}
		if !slices.Equal(c.Scopes, want) {
			t.Errorf("AllowRefreshTokens=%v: scopes %q, want %q", refresh, c.Scopes, want)
		}
		if c.ClientID != signinClient || c.ClientSecret != signinSecret || c.RedirectURL != redirect {
			t.Errorf("client id %q, redirect %q, secret set: %v", c.ClientID, c.RedirectURL, c.ClientSecret == signinSecret)
		}
		if c.Endpoint.AuthStyle != oauth2.AuthStyleInParams {
			t.Errorf("AuthStyle %v, want AuthStyleInParams", c.Endpoint.AuthStyle)
		}
		eps := s.Endpoints()
		if eps.Authorization != p.URL+"/identity/connect/authorize" || eps.Token != p.URL+"/identity/connect/token" ||
			eps.JWKS != p.URL+"/identity/.well-known/openid-configuration/jwks" || eps.UserInfo != p.URL+"/identity/connect/userinfo" ||
			eps.EndSession != p.URL+"/identity/connect/endsession" {
			t.Errorf("endpoints %+v", eps)
		}
		if s.Issuer() != p.URL+"/identity" || s.ClientID() != signinClient || s.RedirectURI() != redirect {
			t.Errorf("issuer %q client %q redirect %q", s.Issuer(), s.ClientID(), s.RedirectURI())
		}
		// The copy is the caller's: changing it changes nothing the SignIn sends.
		c.RedirectURL = "https://evil.example/cb"
		c.Scopes[0] = "x"
		u, _ := s.AuthCodeURL("st", "no", oauth2.GenerateVerifier())
		if q := mustQuery(t, u); q.Get("redirect_uri") != redirect || !strings.HasPrefix(q.Get("scope"), "openid ") {
			t.Errorf("the SignIn changed with its OAuth2Config copy: %s", u)
		}
	}
}

func TestSignInThroughClient(t *testing.T) {
	p := newIDP(t)
	cfg := p.config()
	cfg.Credentials = identity.NewStaticToken(identity.NewSecret("management-token"))
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.SignIn(context.Background(), signinHC(true), identity.NewSecret(signinSecret), redirect)
	if err != nil {
		t.Fatal(err)
	}
	if s.Issuer() != p.URL+"/identity" {
		t.Errorf("issuer %q", s.Issuer())
	}
}

func validationFields(err error) []string {
	var f []string
	for _, ve := range identity.ValidationErrors(err) {
		f = append(f, ve.Field)
	}
	return f
}

func TestSignInRefusesBeforeSending(t *testing.T) {
	p := newIDP(t)
	disabled := signinHC(false)
	disabled.Enabled = false
	for _, tc := range []struct {
		name        string
		hc          *HybridClient
		secret      identity.Secret
		redirectURI string
		cfg         func(*identity.Config)
		fields      []string
		inMessage   string
	}{
		{"unregistered redirect URI", signinHC(false), identity.NewSecret(signinSecret), "http://127.0.0.1:8080/callback/", nil,
			[]string{"RedirectURI"}, `must be one of the client's RedirectURIs, exactly`},
		{"redirect URI differing in case", signinHC(false), identity.NewSecret(signinSecret), "http://127.0.0.1:8080/Callback", nil,
			[]string{"RedirectURI"}, `"http://127.0.0.1:8080/Callback"`},
		{"disabled client", disabled, identity.NewSecret(signinSecret), redirect, nil,
			[]string{"Client.Enabled"}, "a disabled client cannot sign users in"},
		{"no secret", signinHC(false), identity.Secret{}, redirect, nil, []string{"Secret"}, "current secrets"},
		{"no client", nil, identity.NewSecret(signinSecret), redirect, nil, []string{"Client"}, "must be set"},
		{"everything at once", &HybridClient{}, identity.Secret{}, "x", func(c *identity.Config) { c.TenantID = "t"; c.Resource = "http://example.com" },
			[]string{"Resource", "TenantID", "Secret", "Client.ID", "Client.Enabled", "RedirectURI"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := p.config()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			before := p.requests.Load()
			s, err := DiscoverSignIn(context.Background(), cfg, tc.hc, tc.secret, tc.redirectURI)
			if s != nil || !errors.Is(err, identity.ErrInvalidInput) {
				t.Fatalf("got %v, %v; want an ErrInvalidInput", s, err)
			}
			if got := validationFields(err); !slices.Equal(got, tc.fields) {
				t.Errorf("fields %q, want %q (%v)", got, tc.fields, err)
			}
			if !strings.Contains(err.Error(), tc.inMessage) || strings.Contains(err.Error(), signinSecret) {
				t.Errorf("message %q lacks %q or shows the secret", err, tc.inMessage)
			}
			if n := p.requests.Load() - before; n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

func TestSignInDiscoveryRefusesUntrustedDocuments(t *testing.T) {
	p := newIDP(t)
	for _, tc := range []struct {
		name string
		edit func(base string, d map[string]any)
		want string
	}{
		{"token endpoint on another host", func(_ string, d map[string]any) { d["token_endpoint"] = "http://127.0.0.2:1/identity/connect/token" }, "token_endpoint"},
		{"authorization endpoint on https", func(base string, d map[string]any) {
			d["authorization_endpoint"] = strings.Replace(base, "http:", "https:", 1) + "/a"
		}, "authorization_endpoint"},
		{"end session with user info", func(base string, d map[string]any) {
			d["end_session_endpoint"] = strings.Replace(base, "http://", "http://u:p@", 1) + "/e"
		}, "end_session_endpoint"},
		{"no jwks_uri", func(_ string, d map[string]any) { delete(d, "jwks_uri") }, "no jwks_uri"},
		{"another issuer", func(base string, d map[string]any) { d["issuer"] = base + "/identity/" }, "issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := p.doc
			defer func() { p.doc = orig }()
			p.doc = func(base string) map[string]any { d := orig(base); tc.edit(base, d); return d }
			_, err := DiscoverSignIn(context.Background(), p.config(), signinHC(false), identity.NewSecret(signinSecret), redirect)
			var re *identity.ResponseError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a ResponseError about %s", err, tc.want)
			}
		})
	}

	// Bad answers: a typed error each, no panic.
	for _, tc := range []struct {
		name   string
		status int
		body   string
		check  func(error) bool
	}{
		{"404", 404, "not here", func(err error) bool { return errors.Is(err, identity.ErrNotFound) }},
		{"HTML", 200, "<html>gateway</html>", func(err error) bool { var re *identity.ResponseError; return errors.As(err, &re) }},
		{"huge", 200, `{"issuer":"` + strings.Repeat("x", 2<<20) + `"}`, func(err error) bool {
			var re *identity.ResponseError
			return errors.As(err, &re) && re.TooLarge
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			_, err := DiscoverSignIn(context.Background(), identity.Config{Resource: srv.URL, TenantID: signinTenant},
				signinHC(false), identity.NewSecret(signinSecret), redirect)
			if err == nil || !tc.check(err) {
				t.Errorf("got %v (%T)", err, err)
			}
		})
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func TestSignInAuthCodeURL(t *testing.T) {
	p := newIDP(t)
	s := newSignIn(t, p, signinHC(true))
	verifier := oauth2.GenerateVerifier()
	raw, err := s.AuthCodeURL("state-1", "nonce-1", verifier)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(raw, p.URL+"/identity/connect/authorize?") {
		t.Errorf("URL %s", raw)
	}
	sum := sha256.Sum256([]byte(verifier))
	want := url.Values{
		"response_type": {"code"}, "client_id": {signinClient}, "redirect_uri": {redirect},
		"scope": {"openid ocsapi offline_access"}, "state": {"state-1"}, "nonce": {"nonce-1"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"acr_values": {"tenant:" + signinTenant},
	}
	if got := mustQuery(t, raw); got.Encode() != want.Encode() {
		t.Errorf("query\n got %s\nwant %s", got.Encode(), want.Encode())
	}
	if strings.Contains(raw, signinSecret) || strings.Contains(raw, verifier) {
		t.Error("the URL holds the secret or the verifier")
	}

	_, err = s.AuthCodeURL("", "", "short")
	if got := validationFields(err); !slices.Equal(got, []string{"State", "Nonce", "Verifier"}) {
		t.Errorf("fields %q (%v)", got, err)
	}
	_, err = s.AuthCodeURL("s", "n", strings.Repeat("a", 42)+"/")
	if got := validationFields(err); !slices.Equal(got, []string{"Verifier"}) {
		t.Errorf("a verifier with '/' passed: %v", err)
	}
}

func TestSignInExchange(t *testing.T) {
	p := newIDP(t)
	s := newSignIn(t, p, signinHC(true))
	verifier := oauth2.GenerateVerifier()
	tok, err := s.Exchange(context.Background(), "code-1", verifier)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "at-authorization_code" || tok.Extra("id_token") != idToken || tok.RefreshToken != "rt-1" || tok.ExpiresIn != 1800 {
		t.Errorf("token %+v", tok)
	}
	want := url.Values{"grant_type": {"authorization_code"}, "code": {"code-1"}, "redirect_uri": {redirect},
		"code_verifier": {verifier}, "client_id": {signinClient}, "client_secret": {signinSecret}}
	if got := p.forms[len(p.forms)-1]; got.Encode() != want.Encode() {
		t.Errorf("form\n got %s\nwant %s", got.Encode(), want.Encode())
	}
	if a := p.authz[len(p.authz)-1]; a != "" {
		t.Errorf("Authorization header %q: the secret belongs in the form only", a)
	}

	if _, err := s.Exchange(context.Background(), "", "x"); !slices.Equal(validationFields(err), []string{"Code", "Verifier"}) {
		t.Errorf("empty code and bad verifier: %v", err)
	}
}

func TestSignInTokenErrors(t *testing.T) {
	p := newIDP(t)
	s := newSignIn(t, p, signinHC(true))
	for _, tc := range []struct {
		name   string
		status int
		body   string
		check  func(error) bool
	}{
		{"invalid_client", 400, `{"error":"invalid_client"}`, func(err error) bool {
			var ae *identity.AuthError
			return errors.As(err, &ae) && ae.Code == "invalid_client" && errors.Is(err, identity.ErrUnauthorized)
		}},
		{"invalid_grant", 400, `{"error":"invalid_grant","error_description":"code used"}`, func(err error) bool {
			var ae *identity.AuthError
			return errors.As(err, &ae) && ae.Code == "invalid_grant" && strings.Contains(err.Error(), "code used")
		}},
		{"500", 500, `oops`, func(err error) bool { return errors.Is(err, identity.ErrServer) }},
		{"no id_token", 200, `{"access_token":"a","token_type":"Bearer","expires_in":60}`, func(err error) bool {
			var re *identity.ResponseError
			return errors.As(err, &re) && strings.Contains(err.Error(), "id_token")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.token = func(w http.ResponseWriter, _ url.Values) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}
			_, err := s.Exchange(context.Background(), "code", oauth2.GenerateVerifier())
			if err == nil || !tc.check(err) {
				t.Errorf("got %v (%T)", err, err)
			}
			if err != nil && strings.Contains(err.Error(), signinSecret) {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

func TestSignInRefresh(t *testing.T) {
	p := newIDP(t)
	s := newSignIn(t, p, signinHC(true))
	tok, err := s.Refresh(context.Background(), &oauth2.Token{AccessToken: "still-valid", RefreshToken: "rt-0"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "at-refresh_token" {
		t.Errorf("access token %q: Refresh must refresh even a valid token", tok.AccessToken)
	}
	want := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt-0"}, "client_id": {signinClient}, "client_secret": {signinSecret}}
	if got := p.forms[len(p.forms)-1]; got.Encode() != want.Encode() {
		t.Errorf("form\n got %s\nwant %s", got.Encode(), want.Encode())
	}
	before := p.requests.Load()
	if _, err := s.Refresh(context.Background(), &oauth2.Token{AccessToken: "a"}); !errors.Is(err, ErrNoRefreshToken) || !strings.Contains(err.Error(), "offline_access") {
		t.Errorf("no refresh token: %v, want ErrNoRefreshToken naming offline_access", err)
	}
	if _, err := s.Refresh(context.Background(), nil); !slices.Equal(validationFields(err), []string{"Token"}) {
		t.Errorf("nil token: %v", err)
	}
	if p.requests.Load() != before {
		t.Error("a request was sent without a refresh token")
	}
}

func TestSignInLogoutURL(t *testing.T) {
	p := newIDP(t)
	s := newSignIn(t, p, signinHC(false))
	raw, err := s.LogoutURL(idToken, home, "st")
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {home}, "state": {"st"}}
	if !strings.HasPrefix(raw, p.URL+"/identity/connect/endsession?") || mustQuery(t, raw).Encode() != want.Encode() {
		t.Errorf("logout URL %s", raw)
	}
	if raw, err := s.LogoutURL("", "", ""); err != nil || raw != p.URL+"/identity/connect/endsession" {
		t.Errorf("bare logout: %q, %v", raw, err)
	}
	_, err = s.LogoutURL(idToken, "http://127.0.0.1:8080/bye", "st")
	if got := validationFields(err); !slices.Equal(got, []string{"PostLogoutRedirectURI"}) || !strings.Contains(err.Error(), `"http://127.0.0.1:8080/bye"`) {
		t.Errorf("unregistered post-logout URI: %v", err)
	}
	if strings.Contains(err.Error(), idToken) {
		t.Error("the error shows the ID token")
	}
	if _, err := s.LogoutURL("", home, "st"); !slices.Equal(validationFields(err), []string{"IDTokenHint"}) {
		t.Errorf("post-logout URI without a hint: %v", err)
	}

	orig := p.doc
	defer func() { p.doc = orig }()
	p.doc = func(base string) map[string]any { d := orig(base); delete(d, "end_session_endpoint"); return d }
	s = newSignIn(t, p, signinHC(false))
	if _, err := s.LogoutURL(idToken, home, "st"); err == nil || !strings.Contains(err.Error(), "end_session_endpoint") {
		t.Errorf("no end session endpoint: %v", err)
	}
}

// A SignIn holds the secret; no rendering path may show it.
func TestSignInNeverPrintsTheSecret(t *testing.T) {
	p := newIDP(t)
	s := newSignIn(t, p, signinHC(true))
	type holder struct {
		s  *SignIn
		v  SignIn
		Pv SignIn
	}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		out = append(out, fmt.Sprintf(verb, s), fmt.Sprintf(verb, *s), fmt.Sprintf(verb, holder{s, *s, *s}), fmt.Sprintf(verb, []any{s, *s}))
	}
	out = append(out, s.String(), s.GoString(), fmt.Sprint(s), fmt.Sprintln(*s))
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("signin", "s", s, "v", *s)
	}
	out = append(out, buf.String())
	for _, v := range []any{s, *s, holder{s, *s, *s}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	for _, o := range out {
		if strings.Contains(o, signinSecret) || strings.Contains(o, hexOf(signinSecret)) || strings.Contains(o, fmt.Sprintf("%X", signinSecret)) {
			t.Fatalf("the secret shows in %q", o)
		}
	}
	if !strings.Contains(s.String(), signinClient) || !strings.Contains(s.String(), identity.Redacted) {
		t.Errorf("String %q should name the client and [REDACTED]", s.String())
	}
	if !strings.Contains(buf.String(), signinClient) {
		t.Errorf("slog record lacks the client id: %s", buf.String())
	}
	// The one place it goes: the token endpoint's form.
	if c := s.OAuth2Config(); c.ClientSecret != signinSecret {
		t.Error("OAuth2Config lost the secret")
	}
}

func hexOf(s string) string { return fmt.Sprintf("%x", s) }
