package hybridclients

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/harness/mocktest"
	"golang.org/x/oauth2"
)

// A SignIn that Client.SignIn or DiscoverSignIn did not make, a nil Client, and a nil
// context: an error from every method, never a panic, never a silent bad value, and
// nothing sent.
func TestSignInZeroNilAndNilContextAreErrors(t *testing.T) {
	p := newIDP(t)
	var nilCtx context.Context
	verifier := oauth2.GenerateVerifier()
	tok := &oauth2.Token{AccessToken: "a", RefreshToken: "rt-0"}

	noPanic := func(name string, f func() error) {
		t.Helper()
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panicked: %v", r)
				}
			}()
			err = f()
		}()
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), "panicked") {
			t.Errorf("%s: %v", name, err)
		}
	}

	var nilClient *Client
	noPanic("(*Client)(nil).SignIn", func() error {
		_, err := nilClient.SignIn(context.Background(), signinHC(false), identity.NewSecret(signinSecret), redirect)
		return err
	})
	noPanic("Client{}.SignIn", func() error {
		_, err := (&Client{}).SignIn(context.Background(), signinHC(false), identity.NewSecret(signinSecret), redirect)
		return err
	})
	noPanic("DiscoverSignIn(nil ctx)", func() error {
		_, err := DiscoverSignIn(nilCtx, p.config(), signinHC(false), identity.NewSecret(signinSecret), redirect)
		if !errors.Is(err, identity.ErrInvalidInput) {
			return fmt.Errorf("panicked or wrong error: %v, want ErrInvalidInput", err)
		}
		return err
	})

	s := newSignIn(t, p, signinHC(true))
	noPanic("Exchange(nil ctx)", func() error {
		_, err := s.Exchange(nilCtx, "code", verifier)
		if !errors.Is(err, identity.ErrInvalidInput) {
			return fmt.Errorf("panicked or wrong error: %v, want ErrInvalidInput", err)
		}
		return err
	})
	noPanic("Refresh(nil ctx)", func() error {
		_, err := s.Refresh(nilCtx, tok)
		if !errors.Is(err, identity.ErrInvalidInput) {
			return fmt.Errorf("panicked or wrong error: %v, want ErrInvalidInput", err)
		}
		return err
	})

	var nilSignIn *SignIn
	for name, si := range map[string]*SignIn{"SignIn{}": {}, "(*SignIn)(nil)": nilSignIn} {
		noPanic(name+".AuthCodeURL", func() error {
			u, err := si.AuthCodeURL("state", "nonce", verifier)
			if u != "" {
				return fmt.Errorf("URL %q (err %v), want none", u, err)
			}
			return err
		})
		noPanic(name+".Exchange", func() error { _, err := si.Exchange(context.Background(), "code", verifier); return err })
		noPanic(name+".Refresh", func() error { _, err := si.Refresh(context.Background(), tok); return err })
		noPanic(name+".LogoutURL", func() error { _, err := si.LogoutURL("", "", ""); return err })
		noPanic(name+".HTTPClient", func() error {
			hc := si.HTTPClient()
			if hc == nil {
				return errors.New("nil *http.Client: go-oidc would fall back to http.DefaultClient, which follows redirects")
			}
			resp, err := hc.Get(p.URL + "/identity/.well-known/openid-configuration")
			if err == nil {
				resp.Body.Close()
				return errors.New("a request went through")
			}
			return err
		})
		noPanic(name+" accessors", func() error {
			if c := si.OAuth2Config(); c == nil || c.ClientSecret != "" || c.Endpoint.TokenURL != "" {
				return fmt.Errorf("OAuth2Config = %+v", c)
			}
			if si.ClientID() != "" || si.RedirectURI() != "" || si.Issuer() != "" || si.Endpoints() != (Endpoints{}) {
				return errors.New("accessors of a zero SignIn are not empty")
			}
			return errors.New("ok") // an error is what noPanic wants; the checks above are the test
		})
		if ve := identity.ValidationErrors(func() error { _, err := si.Exchange(context.Background(), "code", verifier); return err }()); len(ve) != 1 || !strings.Contains(ve[0].Error(), "DiscoverSignIn") {
			t.Errorf("%s.Exchange: %v, want one ValidationError saying how to make a SignIn", name, ve)
		}
	}
	if n := p.requests.Load(); n != 1 { // the discovery of s
		t.Errorf("%d requests sent, want 1 (the discovery of the good SignIn)", n)
	}
}

// The issuer and the endpoints are compared with the Resource as URLs: scheme and host in
// any case, the default port written or not.
func TestSignInComparesIssuerAndEndpointsNormalised(t *testing.T) {
	for _, tc := range []struct {
		name, resource, named string // named: how the document spells the origin
		ok                    bool
	}{
		{"upper-case host and :443 in the Resource", "https://ID.Example.COM:443", "https://id.example.com", true},
		{"upper-case host and :443 in the document", "https://id.example.com", "https://ID.EXAMPLE.com:443", true},
		{"another port", "https://id.example.com", "https://id.example.com:8443", false},
		{"another host", "https://id.example.com", "https://id.example.net", false},
		{"plain http", "https://id.example.com", "http://id.example.com", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]string{
					"issuer": tc.named + "/identity", "authorization_endpoint": tc.named + "/identity/connect/authorize",
					"token_endpoint": tc.named + "/identity/connect/token", "jwks_uri": tc.named + "/identity/jwks",
				})
			})
			cfg := identity.Config{Resource: tc.resource, TenantID: signinTenant, HTTPClient: &http.Client{Transport: mocktest.RouteTo{Handler: h}}}
			s, err := DiscoverSignIn(context.Background(), cfg, signinHC(false), identity.NewSecret(signinSecret), redirect)
			if !tc.ok {
				var re *identity.ResponseError
				if !errors.As(err, &re) {
					t.Fatalf("err = %v, want a ResponseError refusing the document", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Issuer() != tc.named+"/identity" {
				t.Errorf("Issuer() = %q, want the document's %q (go-oidc compares it exactly)", s.Issuer(), tc.named+"/identity")
			}
		})
	}
}

// Sign-in's network failures are *identity.ConnectionError, like every other call's.
func TestSignInNetworkErrorsAreConnectionErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	_, err = DiscoverSignIn(context.Background(), identity.Config{Resource: "http://" + closed, TenantID: signinTenant, Retry: identity.RetryPolicy{MaxAttempts: 1}},
		signinHC(false), identity.NewSecret(signinSecret), redirect)
	var ce *identity.ConnectionError
	if !errors.Is(err, identity.ErrUnreachable) || !errors.As(err, &ce) || ce.Sent || ce.Method != http.MethodGet {
		t.Errorf("discovery on a closed port: %v, want an unsent *identity.ConnectionError", err)
	}

	p := newIDP(t)
	s := newSignIn(t, p, signinHC(true))
	var cuts atomic.Int32
	p.token = func(w http.ResponseWriter, _ url.Values) {
		cuts.Add(1)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}
	for name, call := range grantsOf(s) {
		before := cuts.Load()
		err := call()
		var ce *identity.ConnectionError
		if !errors.Is(err, identity.ErrUnreachable) || !errors.As(err, &ce) || !ce.Sent || ce.Method != http.MethodPost || ce.Path != "/identity/connect/token" {
			t.Errorf("%s cut off: %v, want a sent *identity.ConnectionError of POST /identity/connect/token", name, err)
		}
		if n := cuts.Load() - before; n != 1 {
			t.Errorf("%s: %d attempts, want 1: a code or refresh token is sent once", name, n)
		}
		if err != nil && strings.Contains(err.Error(), signinSecret) {
			t.Errorf("%s: the error shows the secret", name)
		}
	}
}

// Discovery is retried after a 5xx as the Config's Retry says; a code and a refresh token
// are sent once, whatever the retry policy.
func TestSignInRetriesDiscoveryButSendsGrantsOnce(t *testing.T) {
	p := newIDP(t)
	var discoveries atomic.Int32
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/identity/.well-known/openid-configuration" && discoveries.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		p.Config.Handler.ServeHTTP(w, r)
	}))
	defer busy.Close()
	cfg := identity.Config{Resource: busy.URL, TenantID: signinTenant,
		Retry: identity.RetryPolicy{MaxAttempts: 3, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond}}
	s, err := DiscoverSignIn(context.Background(), cfg, signinHC(true), identity.NewSecret(signinSecret), redirect)
	if err != nil || discoveries.Load() != 2 {
		t.Fatalf("discovery after one 503: %v after %d tries, want success after 2", err, discoveries.Load())
	}
	var tokenRequests atomic.Int32
	p.token = func(w http.ResponseWriter, _ url.Values) {
		tokenRequests.Add(1)
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}
	for name, call := range grantsOf(s) {
		before := tokenRequests.Load()
		if err := call(); !errors.Is(err, identity.ErrServer) {
			t.Errorf("%s: %v, want ErrServer", name, err)
		}
		if n := tokenRequests.Load() - before; n != 1 {
			t.Errorf("%s: %d requests, want 1", name, n)
		}
	}
}

// grantsOf are the token requests of s, by method name.
func grantsOf(s *SignIn) map[string]func() error {
	return map[string]func() error{
		"Exchange": func() error {
			_, err := s.Exchange(context.Background(), "code", oauth2.GenerateVerifier())
			return err
		},
		"Refresh": func() error {
			_, err := s.Refresh(context.Background(), &oauth2.Token{RefreshToken: "rt-0"})
			return err
		},
	}
}
