package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/idserver"
	"golang.org/x/oauth2"
)

// idServer is a fake identity service: OpenID discovery and a client-credentials token
// endpoint that checks how the client authenticates.
type idServer struct {
	t   *testing.T
	srv *httptest.Server

	discoveries atomic.Int32
	tokens      atomic.Int32
	others      atomic.Int32

	// tokenEndpoint, when set, is what discovery announces.
	tokenEndpoint string
	// discoveryStatus, when set, is answered by discovery instead of the document.
	discoveryStatus atomic.Int32
	// refuse makes the token endpoint answer 400 invalid_client.
	refuse bool
	// expiresIn is the lifetime of issued tokens; 0 means 3600.
	expiresIn int
}

// newIDServer starts a fake identity service; configure, when not nil, sets its fields
// before it serves (it may read s.srv.Listener for the address).
func newIDServer(t *testing.T, configure func(s *idServer)) *idServer {
	s := &idServer{t: t}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if configure != nil {
		configure(s)
	}
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *idServer) resource() *url.URL {
	u, err := url.Parse(s.srv.URL)
	if err != nil {
		s.t.Fatal(err)
	}
	return u
}

func (s *idServer) request() identity.TokenRequest {
	return roadTo(s.resource(), s.srv.Client())
}

// roadTo is the TokenRequest of resource, reached through hc's Transport and Timeout,
// without retries.
func roadTo(resource *url.URL, hc *http.Client) identity.TokenRequest {
	return identity.TokenRequest{Resource: resource, Endpoint: idserver.New(resource, hc, nil, 1<<20)}
}

func (s *idServer) serve(w http.ResponseWriter, r *http.Request) {
	t := s.t
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/identity/.well-known/openid-configuration":
		s.discoveries.Add(1)
		if st := s.discoveryStatus.Load(); st != 0 {
			http.Error(w, "unavailable", int(st))
			return
		}
		ep := s.tokenEndpoint
		if ep == "" {
			ep = s.srv.URL + "/identity/connect/token"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": s.srv.URL + "/identity", "token_endpoint": ep})
	case r.Method == http.MethodPost && r.URL.Path == "/identity/connect/token":
		n := s.tokens.Add(1)
		if h := r.Header.Get("Authorization"); h != "" {
			t.Errorf("token request carries an Authorization header %q; credentials belong in the form body", h)
		}
		if _, _, ok := r.BasicAuth(); ok {
			t.Error("token request uses Basic authentication")
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			t.Errorf("token request Content-Type = %q", ct)
		}
		if len(r.URL.RawQuery) != 0 {
			t.Errorf("token request has a query %q", r.URL.RawQuery)
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("ParseForm: %v", err)
		}
		want := map[string]string{"grant_type": "client_credentials", "client_id": testClientID, "client_secret": clientSecret}
		for k, v := range want {
			if got := r.PostForm.Get(k); got != v {
				t.Errorf("form %s = %q, want %q", k, got, v)
			}
		}
		if s.refuse {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"bad client"}`))
			return
		}
		exp := s.expiresIn
		if exp == 0 {
			exp = 3600
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": fmt.Sprintf("access-token-%d", n),
			"token_type":   "Bearer",
			"expires_in":   exp,
		})
	default:
		s.others.Add(1)
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

func newClientCreds(opts *identity.ClientCredentialsOptions) *identity.ClientCredentials {
	return identity.NewClientCredentials(testClientID, identity.NewSecret(clientSecret), opts)
}

func TestClientCredentialsDiscoveryOnceAndFormAuth(t *testing.T) {
	s := newIDServer(t, nil)
	cc := newClientCreds(nil)
	ctx := context.Background()

	tok, err := cc.Token(ctx, s.request())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if tok.AccessToken != "access-token-1" || !strings.EqualFold(tok.TokenType, "Bearer") {
		t.Errorf("token = %+v", tok)
	}
	if d := time.Until(tok.Expiry); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("token expires in %v, want about 1h", d)
	}
	again, err := cc.Token(ctx, s.request())
	if err != nil || again.AccessToken != tok.AccessToken {
		t.Fatalf("second Token = %v, %v; want the cached token", again, err)
	}
	if n := s.tokens.Load(); n != 1 {
		t.Errorf("token fetches = %d, want 1", n)
	}

	cc.Invalidate(tok)
	third, err := cc.Token(ctx, s.request())
	if err != nil || third.AccessToken != "access-token-2" {
		t.Fatalf("Token after Invalidate = %v, %v; want a new token", third, err)
	}
	if n := s.discoveries.Load(); n != 1 {
		t.Errorf("discoveries = %d, want 1 (cached)", n)
	}
	if n := s.tokens.Load(); n != 2 {
		t.Errorf("token fetches = %d, want 2", n)
	}
}

func TestClientCredentialsShortLivedTokenReusedThenRefetched(t *testing.T) {
	// expires_in 2: the margin scales with the lifetime (a tenth, 0.2 s), so a short-lived
	// token is reused while fresh instead of fetched for every call, and replaced once its
	// refresh time (a quarter of its life before expiry) has passed.
	s := newIDServer(t, func(s *idServer) { s.expiresIn = 2 })
	cc := newClientCreds(nil)
	for i := range 3 {
		tok, err := cc.Token(context.Background(), s.request())
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken != "access-token-1" {
			t.Errorf("call %d got %q, want the first token reused", i, tok.AccessToken)
		}
	}
	time.Sleep(1600 * time.Millisecond) // past the refresh time (1.5 s)
	tok, err := cc.Token(context.Background(), s.request())
	if err != nil || tok.AccessToken != "access-token-2" {
		t.Fatalf("after 1.6 s: %v, %v; want a new token", tok, err)
	}
	if d := s.discoveries.Load(); d != 1 {
		t.Errorf("discoveries = %d, want 1", d)
	}
}

func TestClientCredentialsConcurrentFirstFetch(t *testing.T) {
	s := newIDServer(t, nil)
	cc := newClientCreds(nil)
	const n = 64
	var wg sync.WaitGroup
	start := make(chan struct{})
	got := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			tok, err := cc.Token(context.Background(), s.request())
			errs[i] = err
			if tok != nil {
				got[i] = tok.AccessToken
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != "access-token-1" {
			t.Fatalf("caller %d: %q, %v", i, got[i], errs[i])
		}
	}
	if d, k := s.discoveries.Load(), s.tokens.Load(); d != 1 || k != 1 {
		t.Errorf("discoveries = %d, token fetches = %d; want 1 and 1", d, k)
	}
}

func TestClientCredentialsRefused(t *testing.T) {
	s := newIDServer(t, func(s *idServer) { s.refuse = true })
	cc := newClientCreds(nil)
	tok, err := cc.Token(context.Background(), s.request())
	if err == nil {
		t.Fatalf("Token = %v, want an error", tok)
	}
	var ae *identity.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %T %v, want *identity.AuthError", err, err)
	}
	if ae.StatusCode != 400 || ae.Code != "invalid_client" || ae.Description != "bad client" {
		t.Errorf("AuthError = %+v", ae)
	}
	if !errors.Is(err, identity.ErrUnauthorized) {
		t.Error("errors.Is(err, ErrUnauthorized) = false")
	}
	for _, other := range []error{identity.ErrBadRequest, identity.ErrServer, identity.ErrInvalidInput} {
		if errors.Is(err, other) {
			t.Errorf("errors.Is(err, %v) = true", other)
		}
	}
	for _, out := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(out, clientSecret) {
			t.Errorf("error leaks the client secret: %s", out)
		}
	}
	if !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("error %q does not say invalid_client", err)
	}
}

func TestClientCredentialsForeignTokenEndpoint(t *testing.T) {
	other := newIDServer(t, nil) // a host that must never see the secret
	s := newIDServer(t, func(s *idServer) { s.tokenEndpoint = other.srv.URL + "/identity/connect/token" })

	cc := newClientCreds(nil)
	tok, err := cc.Token(context.Background(), s.request())
	if err == nil {
		t.Fatalf("Token = %v, want a refusal of the foreign token endpoint", tok)
	}
	if strings.Contains(err.Error(), clientSecret) {
		t.Errorf("error leaks the secret: %v", err)
	}
	if !strings.Contains(err.Error(), "TokenURL") {
		t.Errorf("error %q does not point at ClientCredentialsOptions.TokenURL", err)
	}
	if n := other.tokens.Load() + other.discoveries.Load() + other.others.Load(); n != 0 {
		t.Errorf("the foreign host saw %d requests", n)
	}
	if n := s.tokens.Load(); n != 0 {
		t.Errorf("the resource's own token endpoint saw %d requests", n)
	}

	// Same host, other scheme: refused as well.
	s2 := newIDServer(t, func(s *idServer) {
		s.tokenEndpoint = "https://" + s.srv.Listener.Addr().String() + "/identity/connect/token"
	})
	if _, err := newClientCreds(nil).Token(context.Background(), s2.request()); err == nil {
		t.Error("a token endpoint with another scheme was accepted")
	}

	// Naming the endpoint explicitly trusts it and skips discovery.
	trusting := newClientCreds(&identity.ClientCredentialsOptions{TokenURL: other.srv.URL + "/identity/connect/token"})
	s.discoveries.Store(0)
	tok, err = trusting.Token(context.Background(), s.request())
	if err != nil || tok.AccessToken != "access-token-1" {
		t.Fatalf("Token with TokenURL = %v, %v", tok, err)
	}
	if n := other.tokens.Load(); n != 1 {
		t.Errorf("explicit token endpoint saw %d token requests, want 1", n)
	}
	if n := s.discoveries.Load(); n != 0 {
		t.Errorf("discovery ran %d times although TokenURL was set", n)
	}
}

func TestClientCredentialsNeverSendTheSecretWhereARedirectPoints(t *testing.T) {
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

func TestClientCredentialsDiscoveryFailures(t *testing.T) {
	t.Run("status", func(t *testing.T) {
		s := newIDServer(t, nil)
		s.discoveryStatus.Store(503)
		cc := newClientCreds(nil)
		_, err := cc.Token(context.Background(), s.request())
		var ie *identity.Error
		if !errors.As(err, &ie) || ie.StatusCode != 503 || !errors.Is(err, identity.ErrServer) {
			t.Fatalf("err = %v, want *identity.Error 503", err)
		}
		// A failed discovery is not cached.
		s.discoveryStatus.Store(0)
		if _, err := cc.Token(context.Background(), s.request()); err != nil {
			t.Fatalf("Token after recovery: %v", err)
		}
		if n := s.discoveries.Load(); n != 2 {
			t.Errorf("discoveries = %d, want 2", n)
		}
	})
	t.Run("no token endpoint", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet {
				t.Errorf("unexpected %s %s", r.Method, r.URL)
			}
			_, _ = w.Write([]byte(`{"issuer":"x"}`))
		}))
		defer srv.Close()
		u, _ := url.Parse(srv.URL)
		_, err := newClientCreds(nil).Token(context.Background(), roadTo(u, srv.Client()))
		if !errors.Is(err, identity.ErrInvalidResponse) {
			t.Fatalf("err = %v, want ErrInvalidResponse", err)
		}
	})
	t.Run("missing id or secret", func(t *testing.T) {
		s := newIDServer(t, nil)
		for _, cc := range []*identity.ClientCredentials{
			identity.NewClientCredentials("", identity.NewSecret(clientSecret), nil),
			identity.NewClientCredentials(testClientID, identity.Secret{}, nil),
		} {
			_, err := cc.Token(context.Background(), s.request())
			if !errors.Is(err, identity.ErrInvalidInput) {
				t.Errorf("err = %v, want ErrInvalidInput", err)
			}
		}
		if n := s.discoveries.Load() + s.tokens.Load(); n != 0 {
			t.Errorf("%d requests were sent for unusable credentials", n)
		}
	})
}

// countingSource is an oauth2.TokenSource that counts its calls and, when gate is set,
// waits on it before answering.
type countingSource struct {
	calls   atomic.Int32
	expiry  func() time.Time
	entered chan struct{} // receives once per call, when set
	gate    chan struct{} // closed to let calls answer, when set
	err     error
}

func (s *countingSource) Token() (*oauth2.Token, error) {
	n := s.calls.Add(1)
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.gate != nil {
		<-s.gate
	}
	if s.err != nil {
		return nil, s.err
	}
	tok := &oauth2.Token{AccessToken: fmt.Sprintf("ts-token-%d", n), TokenType: "Bearer"}
	if s.expiry != nil {
		tok.Expiry = s.expiry()
	}
	return tok, nil
}

func inOneHour() time.Time { return time.Now().Add(time.Hour) }

var noReq = identity.TokenRequest{}

func TestTokenSourceConcurrentCallersOneFetch(t *testing.T) {
	src := &countingSource{expiry: inOneHour, gate: make(chan struct{})}
	creds := identity.NewTokenSource(src)
	const n = 64
	var wg sync.WaitGroup
	results := make(chan string, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := creds.Token(context.Background(), noReq)
			if err != nil {
				t.Error(err)
				return
			}
			results <- tok.AccessToken
		}()
	}
	close(src.gate)
	wg.Wait()
	close(results)
	for got := range results {
		if got != "ts-token-1" {
			t.Errorf("a caller got %q", got)
		}
	}
	if c := src.calls.Load(); c != 1 {
		t.Errorf("source called %d times, want 1", c)
	}
}

func TestTokenSourceCaching(t *testing.T) {
	ctx := context.Background()
	t.Run("long-lived token reused", func(t *testing.T) {
		src := &countingSource{expiry: inOneHour}
		creds := identity.NewTokenSource(src)
		for range 5 {
			tok, err := creds.Token(ctx, noReq)
			if err != nil || tok.AccessToken != "ts-token-1" {
				t.Fatalf("Token = %v, %v", tok, err)
			}
		}
		if c := src.calls.Load(); c != 1 {
			t.Errorf("source called %d times", c)
		}
	})
	t.Run("token without expiry reused", func(t *testing.T) {
		src := &countingSource{}
		creds := identity.NewTokenSource(src)
		for range 3 {
			if _, err := creds.Token(ctx, noReq); err != nil {
				t.Fatal(err)
			}
		}
		if c := src.calls.Load(); c != 1 {
			t.Errorf("source called %d times", c)
		}
	})
	t.Run("token about to expire not reused", func(t *testing.T) {
		// 300 ms of life: once inside the last quarter (and then its margin, a tenth), the
		// cache must not hand it out again.
		src := &countingSource{expiry: func() time.Time { return time.Now().Add(300 * time.Millisecond) }}
		creds := identity.NewTokenSource(src)
		if tok, err := creds.Token(ctx, noReq); err != nil || tok.AccessToken != "ts-token-1" {
			t.Fatalf("first: %v, %v", tok, err)
		}
		time.Sleep(280 * time.Millisecond)
		if tok, err := creds.Token(ctx, noReq); err != nil || tok.AccessToken != "ts-token-2" {
			t.Fatalf("20 ms before expiry: %v, %v; want a fresh fetch", tok, err)
		}
	})
	t.Run("expired token never returned", func(t *testing.T) {
		src := &countingSource{expiry: func() time.Time { return time.Now().Add(-time.Minute) }}
		creds := identity.NewTokenSource(src)
		for range 2 {
			tok, err := creds.Token(ctx, noReq)
			if err == nil {
				t.Fatalf("Token returned an expired token %+v", tok)
			}
		}
	})
	t.Run("Invalidate", func(t *testing.T) {
		src := &countingSource{expiry: inOneHour}
		creds := identity.NewTokenSource(src)
		first, _ := creds.Token(ctx, noReq)
		creds.Invalidate(&oauth2.Token{AccessToken: "some-other-token"})
		creds.Invalidate(nil)
		if tok, _ := creds.Token(ctx, noReq); tok.AccessToken != first.AccessToken || src.calls.Load() != 1 {
			t.Fatalf("Invalidate of another token dropped the cached one: got %q, %d calls", tok.AccessToken, src.calls.Load())
		}
		creds.Invalidate(&oauth2.Token{AccessToken: first.AccessToken}) // compared by value
		second, err := creds.Token(ctx, noReq)
		if err != nil || second.AccessToken != "ts-token-2" {
			t.Fatalf("Token after Invalidate = %v, %v", second, err)
		}
		creds.Invalidate(first) // stale: the cached one is now another
		if tok, _ := creds.Token(ctx, noReq); tok.AccessToken != "ts-token-2" || src.calls.Load() != 2 {
			t.Errorf("Invalidate of a stale token dropped the current one")
		}
	})
	t.Run("source error", func(t *testing.T) {
		boom := errors.New("boom")
		creds := identity.NewTokenSource(&countingSource{err: boom})
		if _, err := creds.Token(ctx, noReq); !errors.Is(err, boom) {
			t.Errorf("err = %v, want boom", err)
		}
	})
	t.Run("empty token", func(t *testing.T) {
		creds := identity.NewTokenSource(oauth2.StaticTokenSource(&oauth2.Token{}))
		if tok, err := creds.Token(ctx, noReq); err == nil {
			t.Errorf("Token = %+v, want an error for an empty token", tok)
		}
	})
	t.Run("oauth2.StaticTokenSource", func(t *testing.T) {
		creds := identity.NewTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: staticToken, Expiry: inOneHour()}))
		tok, err := creds.Token(ctx, noReq)
		if err != nil || tok.AccessToken != staticToken {
			t.Errorf("Token = %v, %v", tok, err)
		}
	})
	t.Run("nil source", func(t *testing.T) {
		creds := identity.NewTokenSource(nil)
		_, err := creds.Token(ctx, noReq)
		var ve *identity.ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("err = %v, want a *ValidationError", err)
		}
	})
}

func TestTokenWaitHonoursContext(t *testing.T) {
	src := &countingSource{expiry: inOneHour, entered: make(chan struct{}, 1), gate: make(chan struct{})}
	creds := identity.NewTokenSource(src)

	first := make(chan error, 1)
	go func() {
		_, err := creds.Token(context.Background(), noReq)
		first <- err
	}()
	<-src.entered // the first caller is fetching and holds the slot

	// Already cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if tok, err := creds.Token(ctx, noReq); !errors.Is(err, context.Canceled) || tok != nil {
		t.Errorf("Token with cancelled context = %v, %v; want context.Canceled", tok, err)
	}

	// Cancelled while waiting.
	ctx2, cancel2 := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() {
		_, err := creds.Token(ctx2, noReq)
		waiting <- err
	}()
	cancel2()
	select {
	case err := <-waiting:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("waiter err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiter whose context ended kept waiting")
	}

	// Deadline while waiting.
	ctx3, cancel3 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel3()
	if _, err := creds.Token(ctx3, noReq); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}

	close(src.gate)
	if err := <-first; err != nil {
		t.Fatalf("first caller: %v", err)
	}
	if c := src.calls.Load(); c != 1 {
		t.Errorf("source called %d times, want 1", c)
	}
}

func TestStaticToken(t *testing.T) {
	creds := identity.NewStaticToken(identity.NewSecret(staticToken))
	for range 2 {
		tok, err := creds.Token(context.Background(), noReq)
		if err != nil || tok.AccessToken != staticToken || tok.TokenType != "Bearer" || !tok.Expiry.IsZero() {
			t.Fatalf("Token = %+v, %v", tok, err)
		}
	}
	creds.Invalidate(&oauth2.Token{AccessToken: staticToken})
	if tok, err := creds.Token(context.Background(), noReq); err != nil || tok.AccessToken != staticToken {
		t.Errorf("Token after Invalidate = %v, %v", tok, err)
	}
	for _, empty := range []identity.Secret{{}, identity.NewSecret("")} {
		_, err := identity.NewStaticToken(empty).Token(context.Background(), noReq)
		var ve *identity.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("empty static token: err = %v, want *ValidationError", err)
		}
	}
}

func TestCredentialsTokenWithANilContextIsAnError(t *testing.T) {
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

func TestCredentialsPrintNoSecret(t *testing.T) {
	s := newIDServer(t, nil)
	cc := newClientCreds(nil)
	if _, err := cc.Token(context.Background(), s.request()); err != nil {
		t.Fatal(err)
	}
	st := identity.NewStaticToken(identity.NewSecret(staticToken))
	ts := identity.NewTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: staticToken}))
	for _, c := range []identity.Credentials{st, ts} {
		if _, err := c.Token(context.Background(), noReq); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name  string
		v     any
		hide  []string
		shows string
	}{
		{"ClientCredentials", cc, []string{clientSecret, "access-token-1"}, testClientID},
		{"StaticToken", st, []string{staticToken}, "StaticToken"},
		{"TokenSourceCredentials", ts, []string{staticToken}, "TokenSource"},
		{"StaticToken value", *st, []string{staticToken}, ""},
		{"TokenSourceCredentials value", *ts, []string{staticToken}, ""},
		{"Credentials in a struct", struct{ C identity.Credentials }{cc}, []string{clientSecret}, testClientID},
	}
	for _, c := range cases {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			t.Run(c.name+"/"+verb, func(t *testing.T) {
				out := fmt.Sprintf(verb, c.v)
				for _, h := range c.hide {
					if strings.Contains(out, h) || strings.Contains(out, fmt.Sprintf("%x", h)) {
						t.Errorf("%s leaks %q: %s", verb, h, out)
					}
				}
				if c.shows != "" && verb != "%x" && !strings.Contains(out, c.shows) {
					t.Errorf("%s = %s, want it to name %q", verb, out, c.shows)
				}
			})
		}
		if b, err := json.Marshal(c.v); err == nil {
			for _, h := range c.hide {
				if strings.Contains(string(b), h) {
					t.Errorf("json of %s leaks %q: %s", c.name, h, b)
				}
			}
		}
	}
}

func TestAuthErrorMessage(t *testing.T) {
	cases := []struct {
		e    identity.AuthError
		want []string
	}{
		{identity.AuthError{StatusCode: 401, Code: "invalid_client"}, []string{"401", "Unauthorized", "invalid_client"}},
		{identity.AuthError{StatusCode: 400, Code: "unauthorized_client", Description: "client disabled"}, []string{"400", "unauthorized_client", "client disabled"}},
	}
	for _, c := range cases {
		msg := c.e.Error()
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("Error() = %q, want %q", msg, w)
			}
		}
		if !errors.Is(&c.e, identity.ErrUnauthorized) {
			t.Errorf("%v does not match ErrUnauthorized", &c.e)
		}
	}
	long := identity.AuthError{StatusCode: 400, Code: "x", Description: strings.Repeat("d\n", 5000)}
	if msg := long.Error(); len(msg) > 400 || strings.Contains(msg, "\n") {
		t.Errorf("long description gives a %d-byte message: %q", len(msg), msg[:min(len(msg), 80)])
	}
}
