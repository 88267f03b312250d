package identity_test

// Regression tests for Config and Credentials: redirects never carry credentials, the token
// URL is checked, typed-nil credentials and nil contexts are refused, a Resource with a
// path is refused. Each failed on the code before its fix; the number in TestFindingNN is the finding's number in the security review, kept so a
// test can be traced to it.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ocs-go/identity"
	"golang.org/x/oauth2"
)

func TestFinding03_CredentialsNeverFollowRedirects(t *testing.T) {
	// Even with an HTTPClient that follows redirects (the caller's own), the secret never
	// goes to the place a redirect names.
	var other atomic.Int32
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"stolen","token_type":"Bearer","expires_in":3600}`))
	}))
	defer o.Close()
	s := newIDServer(t, func(s *idServer) {
		s.tokenEndpoint = o.URL + "/identity/connect/token" // ignored: TokenURL is set
	})
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, o.URL+"/identity/connect/token", http.StatusPermanentRedirect)
	}))
	defer redir.Close()
	creds := newClientCreds(&identity.ClientCredentialsOptions{TokenURL: redir.URL + "/identity/connect/token"})
	following := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	tok, err := creds.Token(context.Background(), roadTo(s.resource(), following))
	if other.Load() != 0 {
		t.Fatalf("the redirect's target got %d requests", other.Load())
	}
	if tok != nil || !errors.Is(err, identity.ErrUnauthorized) || strings.Contains(err.Error(), clientSecret) {
		t.Fatalf("Token = %v, %v: want ErrUnauthorized without the secret", tok, err)
	}
}

func TestFinding09_TokenURLChecked(t *testing.T) {
	cases := []struct {
		tokenURL string
		ok       bool
	}{
		{"https://login.example.com/connect/token", true},
		{"http://127.0.0.1:9/identity/connect/token", true},
		{"http://localhost/token", true},
		{"http://login.example.com/connect/token", false},
		{"https://user:hunter2-password@login.example.com/token", false},
		{"https://login.example.com/token#frag", false},
		{"ftp://login.example.com/token", false},
		{"/relative/token", false},
	}
	for _, tc := range cases {
		cfg := validConfig()
		cfg.Credentials = newClientCreds(&identity.ClientCredentialsOptions{TokenURL: tc.tokenURL})
		err := cfg.Validate()
		if tc.ok {
			if err != nil {
				t.Errorf("TokenURL %q: %v", tc.tokenURL, err)
			}
			continue
		}
		if got := fields(t, err); len(got) != 1 || got[0] != "TokenURL" {
			t.Errorf("TokenURL %q: fields %v (err %v), want [TokenURL]", tc.tokenURL, got, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("TokenURL %q: the password is in %q", tc.tokenURL, err)
		}
	}

	// Used without a Config, the credentials refuse it too, before sending anything.
	s := newIDServer(t, nil)
	creds := newClientCreds(&identity.ClientCredentialsOptions{TokenURL: "http://user:hunter2-password@login.example.com/token"})
	_, err := creds.Token(context.Background(), s.request())
	if !errors.Is(err, identity.ErrInvalidInput) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Token = %v, want ErrInvalidInput without the password", err)
	}
	if n := s.tokens.Load() + s.discoveries.Load() + s.others.Load(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestFinding12_TypedNilCredentialsRefused(t *testing.T) {
	var cc *identity.ClientCredentials
	var ts *identity.TokenSourceCredentials
	var st *identity.StaticToken
	for _, creds := range []identity.Credentials{cc, ts, st, &identity.TokenSourceCredentials{}, &identity.StaticToken{}} {
		cfg := validConfig()
		cfg.Credentials = creds
		err := cfg.Validate()
		if got := fields(t, err); len(got) != 1 || got[0] != "Credentials" {
			t.Errorf("%T: fields %v (err %v), want [Credentials]", creds, got, err)
		}
		noPanic(t, "Token", func() {
			if _, err := creds.Token(context.Background(), identity.TokenRequest{}); err == nil {
				t.Errorf("%T: Token gave no error", creds)
			}
			creds.Invalidate(&oauth2.Token{AccessToken: "x"})
		})
	}
}

func TestFinding12_NilContextIsAnError(t *testing.T) {
	s := newIDServer(t, nil)
	var nilCtx context.Context
	for _, creds := range []identity.Credentials{
		newClientCreds(nil),
		identity.NewStaticToken(identity.NewSecret("tok")),
		identity.NewTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "tok"})),
	} {
		noPanic(t, "Token", func() {
			if _, err := creds.Token(nilCtx, s.request()); !errors.Is(err, identity.ErrInvalidInput) {
				t.Errorf("%T: Token(nil ctx) = %v, want ErrInvalidInput", creds, err)
			}
		})
	}
	if n := s.tokens.Load() + s.discoveries.Load(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestFinding13_ResourceWithPathRefused(t *testing.T) {
	for _, r := range []string{
		"https://uswe.datahub.connect.aveva.com/api/v1",
		"https://uswe.datahub.connect.aveva.com/api/v1/",
		"http://127.0.0.1:8080/base",
		"https://example.com/?x=1",
		"https://example.com/#top",
		"https://example.com/%2F",
	} {
		cfg := validConfig()
		cfg.Resource = r
		if got := fields(t, cfg.Validate()); len(got) != 1 || got[0] != "Resource" {
			t.Errorf("Resource %q: fields %v, want [Resource]", r, got)
		}
	}
	for _, r := range []string{"https://example.com", "https://example.com/", identity.RegionEUWest + "//"} {
		cfg := validConfig()
		cfg.Resource = r
		if err := cfg.Validate(); err != nil {
			t.Errorf("Resource %q: %v", r, err)
		}
	}
}

// noPanic runs f and turns a panic into a test failure.
func noPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", what, r)
		}
	}()
	f()
}
