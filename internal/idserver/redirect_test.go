package idserver_test

// Every *http.Client the SDK builds refuses a redirect: the API client, the client of
// discovery and token requests, sign-in's, and the one SignIn.HTTPClient hands to go-oidc.
// Each is driven here the way the SDK (or go-oidc) drives it, against a server that answers
// 307 to a second server that records whether it was reached; once with no
// Config.HTTPClient and once with a caller's client whose CheckRedirect follows and whose
// cookie jar is set, neither of which may be used (only its Transport and Timeout).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"golang.org/x/oauth2"
)

const (
	tenant   = "11111111-2222-3333-4444-555555555555"
	clientID = "0b1c2d3e-4f50-4617-8283-949596979899"
	secret   = "road-test-SECRET-4471"
	callback = "http://127.0.0.1:8080/callback"
	// anIDToken is shaped like a JWS (go-oidc parses it before it fetches keys).
	anIDToken = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJ4In0.c2ln"
)

// elsewhere is the other origin: it answers whatever it is asked as if it were the
// identity server and the API, so that a client that followed a redirect would succeed.
type elsewhere struct {
	*httptest.Server
	hits    atomic.Int32
	secrets atomic.Int32 // requests that carried the client secret
}

func newElsewhere(t *testing.T) *elsewhere {
	e := &elsewhere{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), secret) {
			e.secrets.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "token-of-elsewhere", "token_type": "Bearer", "expires_in": 3600, "id_token": anIDToken,
			"issuer": "http://" + r.Host + "/identity", "token_endpoint": "http://" + r.Host + "/identity/connect/token",
			"keys": []any{}, "Id": clientID, "Name": "stolen",
		})
	}))
	t.Cleanup(e.Close)
	return e
}

// idp is the Resource: discovery, token endpoint, JWKS and one API route, any of which
// answers 307 to elsewhere when redirect names it. Every answer sets a cookie.
type idp struct {
	*httptest.Server
	redirect  atomic.Value // string: "discovery", "token", "jwks", "api" or ""
	cookies   atomic.Int32 // requests that carried a Cookie header
	requests  atomic.Int32
	elsewhere *elsewhere
}

func newIDP(t *testing.T) *idp {
	p := &idp{elsewhere: newElsewhere(t)}
	p.redirect.Store("")
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		if r.Header.Get("Cookie") != "" {
			p.cookies.Add(1)
		}
		http.SetCookie(w, &http.Cookie{Name: "idp-session", Value: "s1", Path: "/"})
		base := "http://" + r.Host
		var what string
		switch {
		case r.URL.Path == "/identity/.well-known/openid-configuration":
			what = "discovery"
		case r.URL.Path == "/identity/.well-known/openid-configuration/jwks":
			what = "jwks"
		case r.URL.Path == "/identity/connect/token":
			what = "token"
		case strings.HasPrefix(r.URL.Path, "/api/"):
			what = "api"
		default:
			http.NotFound(w, r)
			return
		}
		if p.redirect.Load() == what {
			http.Redirect(w, r, p.elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch what {
		case "discovery":
			_ = json.NewEncoder(w).Encode(map[string]string{
				"issuer":                 base + "/identity",
				"authorization_endpoint": base + "/identity/connect/authorize",
				"token_endpoint":         base + "/identity/connect/token",
				"jwks_uri":               base + "/identity/.well-known/openid-configuration/jwks",
			})
		case "jwks":
			_, _ = io.WriteString(w, `{"keys":[]}`)
		case "token":
			fmt.Fprintf(w, `{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"id_token":%q,"refresh_token":"rt-1"}`, anIDToken)
		case "api":
			fmt.Fprintf(w, `{"Id":%q,"Name":"web","Enabled":true}`, clientID)
		}
	}))
	t.Cleanup(p.Close)
	return p
}

// countingTransport counts the requests that went through the caller's Transport.
type countingTransport struct {
	http.RoundTripper
	n atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.RoundTripper.RoundTrip(r)
}

// caller is what Config.HTTPClient holds in the second run.
type caller struct {
	hc *http.Client
	tr *countingTransport
}

func newCaller(t *testing.T) *caller {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &countingTransport{RoundTripper: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(tr.RoundTripper.(*http.Transport).CloseIdleConnections)
	return &caller{tr: tr, hc: &http.Client{
		Transport:     tr,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return nil }, // follow anything
	}}
}

func hybridClient() *hybridclients.HybridClient {
	return &hybridclients.HybridClient{ID: clientID, Name: "web", Enabled: true, RedirectURIs: []string{callback}, AllowRefreshTokens: true}
}

func signIn(ctx context.Context, cfg identity.Config) (*hybridclients.SignIn, error) {
	return hybridclients.DiscoverSignIn(ctx, cfg, hybridClient(), identity.NewSecret(secret), callback)
}

// paths are the ways the SDK reaches a server; each redirects one route and reports the
// error of the SDK's call (nil when the call succeeded).
var paths = []struct {
	name     string
	redirect string
	// signInFirst: the SignIn is made before the redirect starts (the redirect is on a
	// request that comes later).
	signInFirst bool
	run         func(ctx context.Context, cfg identity.Config, si *hybridclients.SignIn) error
	// auth: the error must be an *identity.AuthError for the 307 (ErrUnauthorized).
	auth bool
}{
	{name: "API call", redirect: "api", run: func(ctx context.Context, cfg identity.Config, _ *hybridclients.SignIn) error {
		cfg.Credentials = identity.NewStaticToken(identity.NewSecret("a-bearer-token-of-the-test"))
		return get(ctx, cfg)
	}},
	{name: "discovery of client credentials", redirect: "discovery", auth: true, run: func(ctx context.Context, cfg identity.Config, _ *hybridclients.SignIn) error {
		return get(ctx, cfg)
	}},
	{name: "client-credentials token request", redirect: "token", auth: true, run: func(ctx context.Context, cfg identity.Config, _ *hybridclients.SignIn) error {
		return get(ctx, cfg)
	}},
	{name: "sign-in discovery", redirect: "discovery", auth: true, run: func(ctx context.Context, cfg identity.Config, _ *hybridclients.SignIn) error {
		_, err := signIn(ctx, cfg)
		return err
	}},
	{name: "SignIn.Exchange", redirect: "token", signInFirst: true, auth: true, run: func(ctx context.Context, _ identity.Config, si *hybridclients.SignIn) error {
		_, err := si.Exchange(ctx, "a-code", oauth2.GenerateVerifier())
		return err
	}},
	{name: "SignIn.Refresh", redirect: "token", signInFirst: true, auth: true, run: func(ctx context.Context, _ identity.Config, si *hybridclients.SignIn) error {
		_, err := si.Refresh(ctx, &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0"})
		return err
	}},
	{name: "SignIn.HTTPClient: go-oidc fetching the keys", redirect: "jwks", signInFirst: true, run: func(ctx context.Context, _ identity.Config, si *hybridclients.SignIn) error {
		keys := oidc.NewRemoteKeySet(oidc.ClientContext(ctx, si.HTTPClient()), si.Endpoints().JWKS)
		_, err := keys.VerifySignature(ctx, anIDToken)
		return err
	}},
	{name: "SignIn.HTTPClient: go-oidc discovery", redirect: "discovery", signInFirst: true, run: func(ctx context.Context, _ identity.Config, si *hybridclients.SignIn) error {
		_, err := oidc.NewProvider(oidc.ClientContext(ctx, si.HTTPClient()), si.Issuer())
		return err
	}},
}

func get(ctx context.Context, cfg identity.Config) error {
	c, err := hybridclients.New(cfg)
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	_, err = c.Get(ctx, clientID)
	return err
}

func TestEveryHTTPClientOfTheSDKRefusesARedirect(t *testing.T) {
	for _, withCaller := range []bool{false, true} {
		for _, p := range paths {
			name := p.name
			if withCaller {
				name += ", Config.HTTPClient following redirects with a cookie jar"
			}
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				srv := newIDP(t)
				cfg := identity.Config{Resource: srv.URL, TenantID: tenant,
					Credentials: identity.NewClientCredentials(clientID, identity.NewSecret(secret), nil),
					Retry:       identity.RetryPolicy{MaxAttempts: 2, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond}}
				var c *caller
				if withCaller {
					c = newCaller(t)
					cfg.HTTPClient = c.hc
				}
				var si *hybridclients.SignIn
				if p.signInFirst {
					var err error
					if si, err = signIn(ctx, cfg); err != nil {
						t.Fatal(err)
					}
				}
				srv.redirect.Store(p.redirect)
				err := p.run(ctx, cfg, si)
				if n := srv.elsewhere.hits.Load(); n != 0 {
					t.Errorf("the redirect was followed: the other origin got %d requests (%d with the client secret)", n, srv.elsewhere.secrets.Load())
				}
				if err == nil {
					t.Fatal("the call succeeded through a redirect")
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows the secret: %v", err)
				}
				if p.auth {
					var ae *identity.AuthError
					if !errors.As(err, &ae) || ae.StatusCode != http.StatusTemporaryRedirect || !errors.Is(err, identity.ErrUnauthorized) {
						t.Errorf("err = %v, want an *identity.AuthError for the 307 (ErrUnauthorized)", err)
					} else if !strings.Contains(err.Error(), srv.elsewhere.URL) || strings.Contains(err.Error(), srv.elsewhere.URL+"/") {
						t.Errorf("err = %v, want the redirect's target named by its origin only", err)
					}
				}
				if !withCaller {
					return
				}
				if n := srv.cookies.Load(); n != 0 {
					t.Errorf("%d requests carried a cookie: the caller's Jar was used", n)
				}
				if u, _ := url.Parse(srv.URL); len(c.hc.Jar.Cookies(u)) != 0 {
					t.Error("the caller's Jar holds the server's cookie")
				}
				if c.tr.n.Load() == 0 {
					t.Error("the caller's Transport was not used")
				}
			})
		}
	}
}

// The API client's refusal is the service's 3xx as an *identity.Error, naming where the
// redirect pointed by its origin only.
func TestAPICallRedirectIsAnError(t *testing.T) {
	srv := newIDP(t)
	srv.redirect.Store("api")
	err := get(context.Background(), identity.Config{Resource: srv.URL, TenantID: tenant,
		Credentials: identity.NewStaticToken(identity.NewSecret("a-bearer-token-of-the-test"))})
	var ie *identity.Error
	if !errors.As(err, &ie) || ie.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("err = %v, want an *identity.Error with status 307", err)
	}
	if !strings.Contains(err.Error(), srv.elsewhere.URL) || strings.Contains(err.Error(), srv.elsewhere.URL+"/") {
		t.Errorf("err = %v, want the redirect's target named by its origin only", err)
	}
	if n := srv.elsewhere.hits.Load(); n != 0 {
		t.Errorf("the other origin got %d requests", n)
	}
}

// Config.HTTPClient's Timeout bounds sign-in's requests too.
func TestConfigHTTPClientTimeoutBoundsSignIn(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	start := time.Now()
	_, err := signIn(context.Background(), identity.Config{Resource: slow.URL, TenantID: tenant,
		HTTPClient: &http.Client{Timeout: 100 * time.Millisecond},
		Retry:      identity.RetryPolicy{MaxAttempts: 1}})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("DiscoverSignIn = %v after %v, want an error within the 100 ms timeout", err, time.Since(start))
	}
}
