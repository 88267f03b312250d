package transport

// Regression tests of the transport: token and discovery requests refuse redirects, shared
// credentials keep a token per Resource, waits keep MinWait, nil contexts are refused, and
// a cut or refused connection is a ConnectionError that says whether it was sent. Each
// failed on the code before its fix; the number in TestFindingNN is the finding's number in the security review, kept so a
// test can be traced to it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/ocs-go/identity"
	"golang.org/x/oauth2"
)

const (
	findingTenant = "11111111-2222-3333-4444-555555555555"
	findingSecret = "cl13nt-s3cr3t-never-shown"
)

// loopbackConfig is a Config for a real loopback server at resource.
func loopbackConfig(resource string, creds identity.Credentials) identity.Config {
	return identity.Config{
		Resource:    resource,
		TenantID:    findingTenant,
		Credentials: creds,
		Retry:       identity.RetryPolicy{MaxAttempts: 2, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond},
	}
}

func newLoopbackClient(t *testing.T, cfg identity.Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
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

// idService is a loopback identity service and API: discovery, a token endpoint, and an
// API route that records the bearer it got.
type idService struct {
	srv     *httptest.Server
	name    string
	tokens  atomic.Int32
	mu      sync.Mutex
	bearers []string
	// tokenHandler, when set, answers token requests instead.
	tokenHandler http.HandlerFunc
	// discoveryHandler, when set, answers discovery instead.
	discoveryHandler http.HandlerFunc
}

func newIDService(t *testing.T, name string, configure func(*idService)) *idService {
	s := &idService{name: name}
	if configure != nil {
		configure(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/identity/.well-known/openid-configuration":
			if s.discoveryHandler != nil {
				s.discoveryHandler(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"token_endpoint": s.srv.URL + "/identity/connect/token"})
		case r.URL.Path == "/identity/connect/token":
			if s.tokenHandler != nil {
				s.tokenHandler(w, r)
				return
			}
			n := s.tokens.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("token-of-%s-%d", s.name, n), "token_type": "Bearer", "expires_in": 3600})
		default:
			s.mu.Lock()
			s.bearers = append(s.bearers, r.Header.Get("Authorization"))
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, "{}")
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *idService) gotBearers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bearers...)
}

// other is a server that must never be reached: it records what it receives and answers
// with a token of its own.
type other struct {
	srv      *httptest.Server
	requests atomic.Int32
	sawSec   atomic.Bool
}

func newOther(t *testing.T) *other {
	o := &other{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), findingSecret) || strings.Contains(r.URL.RawQuery, findingSecret) {
			o.sawSec.Store(true)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "token-of-the-other-origin", "token_type": "Bearer", "expires_in": 3600,
			"token_endpoint": o.srv.URL + "/identity/connect/token"})
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func TestFinding03_TokenRequestRefusesRedirect(t *testing.T) {
	o := newOther(t)
	a := newIDService(t, "a", func(s *idService) {
		s.tokenHandler = func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, o.srv.URL+"/steal", http.StatusTemporaryRedirect)
		}
	})
	creds := identity.NewClientCredentials("cid", identity.NewSecret(findingSecret), nil)
	c := newLoopbackClient(t, loopbackConfig(a.srv.URL, creds))
	err := get(c, context.Background())
	if n := o.requests.Load(); n != 0 || o.sawSec.Load() {
		t.Fatalf("the other origin got %d requests (secret seen: %v)", n, o.sawSec.Load())
	}
	for _, b := range a.gotBearers() {
		if strings.Contains(b, "other-origin") {
			t.Fatalf("the resource got the other origin's token: %q", b)
		}
	}
	if !errors.Is(err, identity.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	var ae *identity.AuthError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("err = %#v, want an *identity.AuthError with status 307", err)
	}
	if msg := err.Error(); strings.Contains(msg, findingSecret) || !strings.Contains(msg, "redirect") {
		t.Fatalf("err = %q: want the redirect named, without the secret", msg)
	}
	if n := len(a.gotBearers()); n != 0 {
		t.Fatalf("the API got %d calls without a valid token", n)
	}
}

// A discovery document that redirects to another origin is not followed either: the
// token endpoint it would announce is never asked.
func TestFinding03_DiscoveryRefusesRedirect(t *testing.T) {
	o := newOther(t)
	a := newIDService(t, "a", func(s *idService) {
		s.discoveryHandler = func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, o.srv.URL+"/identity/.well-known/openid-configuration", http.StatusFound)
		}
	})
	creds := identity.NewClientCredentials("cid", identity.NewSecret(findingSecret), nil)
	c := newLoopbackClient(t, loopbackConfig(a.srv.URL, creds))
	err := get(c, context.Background())
	if n := o.requests.Load(); n != 0 {
		t.Fatalf("the other origin got %d requests", n)
	}
	if n := a.tokens.Load(); n != 0 {
		t.Fatalf("%d token requests after a redirected discovery", n)
	}
	if !errors.Is(err, identity.ErrUnauthorized) || strings.Contains(err.Error(), findingSecret) {
		t.Fatalf("err = %v, want ErrUnauthorized without the secret", err)
	}
}

func TestFinding08_SharedCredentialsTokenPerResource(t *testing.T) {
	a := newIDService(t, "a", nil)
	b := newIDService(t, "b", nil)
	creds := identity.NewClientCredentials("cid", identity.NewSecret(findingSecret), nil)
	ca := newLoopbackClient(t, loopbackConfig(a.srv.URL, creds))
	cb := newLoopbackClient(t, loopbackConfig(b.srv.URL, creds))
	for range 2 {
		if err := get(ca, context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := get(cb, context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*idService{a, b} {
		got := s.gotBearers()
		if len(got) != 2 {
			t.Fatalf("%s: %d API calls, want 2", s.name, len(got))
		}
		for _, h := range got {
			if h != "Bearer token-of-"+s.name+"-1" {
				t.Errorf("host %s got %q, want its own token", s.name, h)
			}
		}
		if n := s.tokens.Load(); n != 1 {
			t.Errorf("host %s issued %d tokens, want 1 (cached)", s.name, n)
		}
	}
	// A 401 on one host drops that host's token only.
	creds.Invalidate(&oauth2.Token{AccessToken: "token-of-a-1"})
	if err := get(cb, context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := b.tokens.Load(); n != 1 {
		t.Errorf("invalidating host a's token made host b fetch again (%d tokens)", n)
	}
}

func TestFinding10_RetryAfterZeroKeepsMinWait(t *testing.T) {
	for _, ra := range []string{"0", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)} {
		t.Run(ra, func(t *testing.T) {
			const minWait = 80 * time.Millisecond
			c, mt := newClient(t, func(cfg *identity.Config) {
				cfg.Retry = identity.RetryPolicy{MaxAttempts: 3, MinWait: minWait, MaxWait: 2 * minWait}
			})
			var mu sync.Mutex
			var at []time.Time
			mt.RegisterResponder("GET", itemURL, func(*http.Request) (*http.Response, error) {
				mu.Lock()
				at = append(at, time.Now())
				mu.Unlock()
				r := httpmock.NewStringResponse(503, "busy")
				r.Header.Set("Retry-After", ra)
				return r, nil
			})
			if err := get(c, context.Background()); !errors.Is(err, identity.ErrServer) {
				t.Fatalf("err = %v", err)
			}
			if len(at) != 3 {
				t.Fatalf("%d attempts, want 3", len(at))
			}
			for i := 1; i < len(at); i++ {
				if gap := at[i].Sub(at[i-1]); gap < minWait {
					t.Errorf("attempt %d came %v after the one before, less than MinWait %v", i+1, gap, minWait)
				}
			}
		})
	}
}

func TestFinding10_WaitKeepsMinWait(t *testing.T) {
	const minWait = 40 * time.Millisecond
	c, _ := newClient(t, func(cfg *identity.Config) {
		cfg.Retry = identity.RetryPolicy{MaxAttempts: 3, MinWait: minWait, MaxWait: 4 * minWait}
	})
	for _, err := range []error{
		&identity.Error{StatusCode: 503},
		&identity.Error{StatusCode: 429},
	} {
		for range 4 {
			start := time.Now()
			if werr := c.Wait(context.Background(), 1, err); werr != nil {
				t.Fatal(werr)
			}
			if d := time.Since(start); d < minWait {
				t.Fatalf("Wait after %v slept %v, less than MinWait %v", err, d, minWait)
			}
		}
	}
}

func TestFinding12_NilContextIsAnError(t *testing.T) {
	c, mt := newClient(t, nil)
	mt.RegisterResponder("GET", itemURL, httpmock.NewStringResponder(200, "{}"))
	var nilCtx context.Context
	noPanic(t, "Do", func() {
		if _, err := c.Do(nilCtx, Request{Method: http.MethodGet, Path: []string{"HybridClients", "x"}}, nil); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("Do(nil ctx) = %v, want ErrInvalidInput", err)
		}
	})
	noPanic(t, "Wait", func() {
		if err := c.Wait(nilCtx, 1, errors.New("x")); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("Wait(nil ctx) = %v, want ErrInvalidInput", err)
		}
	})
	if n := mt.GetTotalCallCount(); n != 0 {
		t.Fatalf("%d requests sent with a nil context", n)
	}
}

// cutEverything is a server that reads each request and then closes the connection
// without answering.
func cutEverything(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		_ = conn.Close()
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestFinding16_CutConnectionIsConnectionError(t *testing.T) {
	srv, n := cutEverything(t)
	c := newLoopbackClient(t, loopbackConfig(srv.URL, identity.NewStaticToken(identity.NewSecret("tok"))))
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPost} {
		before := n.Load()
		var body any
		if m == http.MethodPut || m == http.MethodPost {
			body = map[string]string{"Name": "x"}
		}
		_, err := c.Do(context.Background(), Request{Method: m, Path: []string{"HybridClients", "x"}, Body: body}, nil)
		var ce *identity.ConnectionError
		if !errors.Is(err, identity.ErrUnreachable) || !errors.As(err, &ce) || !ce.Sent || ce.Method != m {
			t.Fatalf("%s: err = %v (%#v), want a sent *identity.ConnectionError matching ErrUnreachable", m, err, ce)
		}
		write := m != http.MethodGet && m != http.MethodHead
		if errors.Is(err, identity.ErrOutcomeUnknown) != write {
			t.Errorf("%s: errors.Is(err, ErrOutcomeUnknown) = %v, want %v", m, !write, write)
		}
		if want := Unknown; OutcomeOf(err) != want {
			t.Errorf("%s: OutcomeOf = %v, want %v", m, OutcomeOf(err), want)
		}
		if strings.Contains(err.Error(), "identity:") {
			t.Errorf("%s: %q has a package prefix: the package the caller called adds it", m, err)
		}
		if got := n.Load() - before; m != http.MethodPost && got != 2 {
			t.Errorf("%s: %d attempts, want 2", m, got)
		}
	}
}

func TestFinding16_RefusedConnectionIsNotSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	c := newLoopbackClient(t, loopbackConfig("http://"+addr, identity.NewStaticToken(identity.NewSecret("tok"))))
	for _, m := range []string{http.MethodGet, http.MethodDelete, http.MethodPost} {
		_, err := c.Do(context.Background(), Request{Method: m, Path: []string{"HybridClients", "x"}}, nil)
		var ce *identity.ConnectionError
		if !errors.As(err, &ce) || ce.Sent || !errors.Is(err, identity.ErrUnreachable) {
			t.Fatalf("%s: err = %v, want an unsent *identity.ConnectionError", m, err)
		}
		if errors.Is(err, identity.ErrOutcomeUnknown) || OutcomeOf(err) != NotActed {
			t.Errorf("%s: a refused connection reads as an unknown outcome: %v", m, err)
		}
		if !strings.Contains(err.Error(), "check Config.Resource (OCS_RESOURCE in the examples)") {
			t.Errorf("%s: %q has no hint at the Resource", m, err)
		}
	}
}

func TestFinding16_DeadlineKeepsContextError(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := newLoopbackClient(t, loopbackConfig(srv.URL, identity.NewStaticToken(identity.NewSecret("tok"))))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Do(ctx, Request{Method: http.MethodPut, Path: []string{"HybridClients", "x"}, Body: map[string]string{}}, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, identity.ErrUnreachable) || !errors.Is(err, identity.ErrOutcomeUnknown) {
		t.Fatalf("err = %v: want DeadlineExceeded, ErrUnreachable and ErrOutcomeUnknown", err)
	}
}

func TestTrial_TokenErrorsReadOnceWithResourceHint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	for _, tc := range []struct {
		name, resource string
		sentinel       error
	}{
		{"refused", "http://" + addr, identity.ErrUnreachable},
		{"discovery 404", notFound.URL, identity.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creds := identity.NewClientCredentials("cid", identity.NewSecret(findingSecret), nil)
			c := newLoopbackClient(t, loopbackConfig(tc.resource, creds))
			err := get(c, context.Background())
			msg := fmt.Sprint(err)
			if !errors.Is(err, tc.sentinel) || OutcomeOf(err) != NotActed {
				t.Fatalf("err = %v, want %v and not acted", err, tc.sentinel)
			}
			if strings.Contains(msg, "identity:") || !strings.Contains(msg, "check Config.Resource (OCS_RESOURCE in the examples)") || strings.Contains(msg, findingSecret) {
				t.Fatalf("err = %q: want no prefix (the package the caller called adds it) and a hint at the Resource", msg)
			}
		})
	}
}
