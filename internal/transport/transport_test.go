package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/harness/mocktest"
	"golang.org/x/oauth2"
)

func newClient(t *testing.T, mod func(*identity.Config)) (*Client, *httpmock.MockTransport) {
	t.Helper()
	cfg, mt := mocktest.Config()
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, mt
}

const itemURL = mocktest.TenantURL + "/HybridClients/x"

func get(c *Client, ctx context.Context) error {
	_, err := c.Do(ctx, Request{Method: http.MethodGet, Path: []string{"HybridClients", "x"}}, nil)
	return err
}

func TestRetryPolicyByMethodAndStatus(t *testing.T) {
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	readErr := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
	cases := []struct {
		method string
		status int   // 0: the responder returns err
		err    error // with status 0
		calls  int   // with MaxAttempts 3
	}{
		{"GET", 500, nil, 3}, {"GET", 502, nil, 3}, {"GET", 503, nil, 3}, {"GET", 504, nil, 3},
		{"GET", 408, nil, 3}, {"GET", 429, nil, 3}, {"GET", 0, readErr, 3}, {"GET", 0, dialErr, 3},
		{"GET", 400, nil, 1}, {"GET", 401, nil, 1}, {"GET", 403, nil, 1}, {"GET", 404, nil, 1},
		{"GET", 409, nil, 1}, {"GET", 501, nil, 1},
		{"HEAD", 503, nil, 3}, {"PUT", 500, nil, 3}, {"DELETE", 504, nil, 3}, {"PUT", 0, readErr, 3},
		{"POST", 429, nil, 3}, {"POST", 0, dialErr, 3},
		{"POST", 500, nil, 1}, {"POST", 502, nil, 1}, {"POST", 503, nil, 1}, {"POST", 408, nil, 1},
		{"POST", 0, readErr, 1}, {"POST", 400, nil, 1},
	}
	for _, tc := range cases {
		name := tc.method + " " + http.StatusText(tc.status)
		if tc.err != nil {
			name = tc.method + " " + tc.err.Error()
		}
		t.Run(name, func(t *testing.T) {
			c, mt := newClient(t, func(cfg *identity.Config) { cfg.Retry.MaxAttempts = 3 })
			mt.RegisterResponder(tc.method, itemURL, func(*http.Request) (*http.Response, error) {
				if tc.err != nil {
					return nil, tc.err
				}
				return httpmock.NewStringResponse(tc.status, mocktest.ErrorBody), nil
			})
			var body any
			if tc.method == "POST" || tc.method == "PUT" {
				body = map[string]string{"Name": "n"}
			}
			_, err := c.Do(context.Background(), Request{Method: tc.method, Path: []string{"HybridClients", "x"}, Body: body}, nil)
			if err == nil {
				t.Fatal("want an error")
			}
			if got := mt.GetTotalCallCount(); got != tc.calls {
				t.Fatalf("calls = %d, want %d", got, tc.calls)
			}
			if tc.status != 0 {
				var ae *identity.Error
				if !errors.As(err, &ae) || ae.StatusCode != tc.status {
					t.Fatalf("err = %v, want *identity.Error with status %d", err, tc.status)
				}
			}
		})
	}
}

func TestRetryAfterHonouredAndCapped(t *testing.T) {
	t.Run("honoured", func(t *testing.T) {
		c, mt := newClient(t, func(cfg *identity.Config) { cfg.Retry.MaxRetryAfter = 2 * time.Second })
		var n atomic.Int32
		mt.RegisterResponder("GET", itemURL, func(*http.Request) (*http.Response, error) {
			if n.Add(1) == 1 {
				r := httpmock.NewStringResponse(429, "")
				r.Header.Set("Retry-After", "1")
				return r, nil
			}
			return httpmock.NewStringResponse(200, "{}"), nil
		})
		start := time.Now()
		if err := get(c, context.Background()); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < 900*time.Millisecond {
			t.Fatalf("retried after %v, want about the 1 s Retry-After", el)
		}
	})
	t.Run("over the cap ends retries at once", func(t *testing.T) {
		c, mt := newClient(t, func(cfg *identity.Config) { cfg.Retry.MaxRetryAfter = time.Second })
		mt.RegisterResponder("GET", itemURL, func(*http.Request) (*http.Response, error) {
			r := httpmock.NewStringResponse(503, mocktest.ErrorBody)
			r.Header.Set("Retry-After", "3600")
			return r, nil
		})
		start := time.Now()
		err := get(c, context.Background())
		var ae *identity.Error
		if !errors.As(err, &ae) || ae.RetryAfter != time.Hour || !errors.Is(err, identity.ErrServer) {
			t.Fatalf("err = %v, want 503 with RetryAfter 1h", err)
		}
		if mt.GetTotalCallCount() != 1 || time.Since(start) > 5*time.Second {
			t.Fatalf("calls %d in %v: a Retry-After over the cap must not be waited for", mt.GetTotalCallCount(), time.Since(start))
		}
	})
}

func TestRetryAfterZeroOrPastStillWaitsMinWait(t *testing.T) {
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

func TestWaitNeverSleepsLessThanMinWait(t *testing.T) {
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

func TestCancelledContextStopsWait(t *testing.T) {
	c, mt := newClient(t, func(cfg *identity.Config) {
		cfg.Retry = identity.RetryPolicy{MinWait: 10 * time.Second, MaxWait: 10 * time.Second}
	})
	mt.RegisterResponder("GET", itemURL, httpmock.NewStringResponder(500, mocktest.ErrorBody))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := get(c, ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %v: the 10 s wait must end with the context", el)
	}
}

func TestWaitPastDeadlineIsNotStarted(t *testing.T) {
	c, mt := newClient(t, func(cfg *identity.Config) {
		cfg.Retry = identity.RetryPolicy{MinWait: 30 * time.Second, MaxWait: 30 * time.Second}
	})
	mt.RegisterResponder("GET", itemURL, httpmock.NewStringResponder(503, mocktest.ErrorBody))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := get(c, ctx)
	// Had the 15-30 s wait been started, the deadline would have ended it with
	// context.DeadlineExceeded after 10 s instead of this 503.
	if !errors.Is(err, identity.ErrServer) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the 503 itself", err)
	}
	if el := time.Since(start); el > 8*time.Second {
		t.Fatalf("took %v: a wait longer than the deadline must not be started", el)
	}
}

// countingSource hands out a new token on every call.
type countingSource struct{ n atomic.Int32 }

func (s *countingSource) Token() (*oauth2.Token, error) {
	n := s.n.Add(1)
	return &oauth2.Token{AccessToken: "tok-" + string(rune('0'+n)), Expiry: time.Now().Add(time.Hour)}, nil
}

func TestUnauthorizedRefetchesTokenOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rejects  int // how many API answers are 401
		wantErr  bool
		apiCalls int
	}{
		{"second token works", 1, false, 2},
		{"second token rejected too", 5, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &countingSource{}
			c, mt := newClient(t, func(cfg *identity.Config) { cfg.Credentials = identity.NewTokenSource(src) })
			var calls atomic.Int32
			var bodies []string
			mt.RegisterResponder("PUT", itemURL, func(r *http.Request) (*http.Response, error) {
				b, _ := io.ReadAll(r.Body)
				bodies = append(bodies, string(b))
				if int(calls.Add(1)) <= tc.rejects {
					return httpmock.NewStringResponse(401, mocktest.ErrorBody), nil
				}
				if r.Header.Get("Authorization") != "Bearer tok-2" {
					t.Errorf("retry used %q, want the new token", r.Header.Get("Authorization"))
				}
				return httpmock.NewStringResponse(200, "{}"), nil
			})
			_, err := c.Do(context.Background(), Request{Method: "PUT", Path: []string{"HybridClients", "x"}, Body: map[string]string{"Name": "n"}}, nil)
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, identity.ErrUnauthorized)) {
				t.Fatalf("err = %v", err)
			}
			if int(calls.Load()) != tc.apiCalls || src.n.Load() != 2 {
				t.Fatalf("api calls %d (want %d), token fetches %d (want 2)", calls.Load(), tc.apiCalls, src.n.Load())
			}
			for _, b := range bodies {
				if b != `{"Name":"n"}` {
					t.Fatalf("replayed body %q, want the original", b)
				}
			}
		})
	}
}

func TestStaticTokenRejectedIsNotRetried(t *testing.T) {
	c, mt := newClient(t, nil)
	mt.RegisterResponder("GET", itemURL, httpmock.NewStringResponder(401, mocktest.ErrorBody))
	if err := get(c, context.Background()); !errors.Is(err, identity.ErrUnauthorized) {
		t.Fatalf("err = %v", err)
	}
	if n := mt.GetTotalCallCount(); n != 1 {
		t.Fatalf("calls = %d, want 1: the same token cannot succeed", n)
	}
}

// An API call never follows a redirect: the other host gets neither the request nor the
// token, and the 3xx is an *identity.Error naming the target by origin only.
func TestAPICallNeverFollowsARedirect(t *testing.T) {
	c, mt := newClient(t, nil)
	mt.RegisterResponder("GET", itemURL, func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(307, `<a href="https://evil.example.com/steal?code=x">moved</a>`)
		r.Header.Set("Location", "https://evil.example.com/steal?code=x")
		return r, nil
	})
	mt.RegisterResponder("GET", "https://evil.example.com/steal", httpmock.NewStringResponder(200, "{}"))
	err := get(c, context.Background())
	var ae *identity.Error
	if !errors.As(err, &ae) || ae.StatusCode != 307 {
		t.Fatalf("err = %v, want an *identity.Error with status 307", err)
	}
	if n := mt.GetCallCountInfo()["GET https://evil.example.com/steal"]; n != 0 {
		t.Fatalf("the redirect was followed %d times", n)
	}
	if msg := err.Error(); !strings.Contains(msg, "https://evil.example.com") || strings.Contains(msg, "steal") || strings.Contains(msg, "code=x") {
		t.Errorf("err = %q, want the target named by its origin only", msg)
	}
	if n := mt.GetTotalCallCount(); n != 1 {
		t.Errorf("%d calls, want 1: a 3xx is not retried", n)
	}
}

func TestTokenRequestNeverFollowsARedirect(t *testing.T) {
	o := newOther(t)
	a := newIDService(t, "a", func(s *idService) {
		s.tokenHandler = func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, o.srv.URL+"/steal", http.StatusTemporaryRedirect)
		}
	})
	creds := identity.NewClientCredentials("cid", identity.NewSecret(secretValue), nil)
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
	if msg := err.Error(); strings.Contains(msg, secretValue) || !strings.Contains(msg, "redirect") {
		t.Fatalf("err = %q: want the redirect named, without the secret", msg)
	}
	if n := len(a.gotBearers()); n != 0 {
		t.Fatalf("the API got %d calls without a valid token", n)
	}
}

// A discovery document that redirects to another origin is not followed either: the
// token endpoint it would announce is never asked.
func TestDiscoveryNeverFollowsARedirect(t *testing.T) {
	o := newOther(t)
	a := newIDService(t, "a", func(s *idService) {
		s.discoveryHandler = func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, o.srv.URL+"/identity/.well-known/openid-configuration", http.StatusFound)
		}
	})
	creds := identity.NewClientCredentials("cid", identity.NewSecret(secretValue), nil)
	c := newLoopbackClient(t, loopbackConfig(a.srv.URL, creds))
	err := get(c, context.Background())
	if n := o.requests.Load(); n != 0 {
		t.Fatalf("the other origin got %d requests", n)
	}
	if n := a.tokens.Load(); n != 0 {
		t.Fatalf("%d token requests after a redirected discovery", n)
	}
	if !errors.Is(err, identity.ErrUnauthorized) || strings.Contains(err.Error(), secretValue) {
		t.Fatalf("err = %v, want ErrUnauthorized without the secret", err)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	for _, tc := range []struct {
		status, calls int
		sentinel      error
	}{
		{400, 1, identity.ErrUnauthorized},
		{401, 1, identity.ErrUnauthorized},
		{429, 1, identity.ErrUnauthorized},
		{500, 3, identity.ErrServer},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			c, mt := newClient(t, func(cfg *identity.Config) {
				cfg.Retry.MaxAttempts = 3
				cfg.Credentials = identity.NewClientCredentials("cid", identity.NewSecret("s3cr3t-value"), nil)
			})
			mt.RegisterResponder("GET", mocktest.Resource+"/identity/.well-known/openid-configuration",
				httpmock.NewStringResponder(200, `{"token_endpoint":"`+mocktest.Resource+`/identity/connect/token"}`))
			mt.RegisterResponder("POST", mocktest.Resource+"/identity/connect/token",
				httpmock.NewStringResponder(tc.status, `{"error":"invalid_client"}`))
			err := get(c, context.Background())
			if err == nil || strings.Contains(err.Error(), "s3cr3t-value") {
				t.Fatalf("err = %v", err)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("err = %v, want %v", err, tc.sentinel)
			}
			if tc.status >= 500 && errors.Is(err, identity.ErrUnauthorized) {
				t.Fatalf("an outage of the token endpoint reads as bad credentials: %v", err)
			}
			info := mt.GetCallCountInfo()
			if n := info["POST "+mocktest.Resource+"/identity/connect/token"]; n != tc.calls {
				t.Fatalf("token requests = %d, want %d", n, tc.calls)
			}
			if n := info["GET "+itemURL]; n != 0 {
				t.Fatalf("API calls = %d without a token", n)
			}
		})
	}
}

func TestTokenFetchErrorsNameTheCallOnceWithAResourceHint(t *testing.T) {
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
			creds := identity.NewClientCredentials("cid", identity.NewSecret(secretValue), nil)
			c := newLoopbackClient(t, loopbackConfig(tc.resource, creds))
			err := get(c, context.Background())
			msg := fmt.Sprint(err)
			if !errors.Is(err, tc.sentinel) || OutcomeOf(err) != NotActed {
				t.Fatalf("err = %v, want %v and not acted", err, tc.sentinel)
			}
			if strings.Contains(msg, "identity:") || !strings.Contains(msg, "check Config.Resource (OCS_RESOURCE in the examples)") || strings.Contains(msg, secretValue) {
				t.Fatalf("err = %q: want no prefix (the package the caller called adds it) and a hint at the Resource", msg)
			}
		})
	}
}

func TestPathSegmentsCheckedAndEscaped(t *testing.T) {
	c, mt := newClient(t, nil)
	for _, bad := range []string{"", ".", "..", "a\x00b", "a\nb", "\x7f"} {
		if _, err := c.Do(context.Background(), Request{Method: "GET", Path: []string{"HybridClients", bad}}, nil); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("segment %q: err = %v, want ErrInvalidInput", bad, err)
		}
	}
	if n := mt.GetTotalCallCount(); n != 0 {
		t.Fatalf("%d requests sent for refused ids", n)
	}
	u, err := c.URL(Request{Path: []string{"HybridClients", "a/b c?d#e%"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "/api/v1/Tenants/" + mocktest.TenantID + "/HybridClients/a%2Fb%20c%3Fd%23e%25"; u.EscapedPath() != want {
		t.Fatalf("path %q, want %q", u.EscapedPath(), want)
	}
}

func TestQueryAndHeaders(t *testing.T) {
	c, mt := newClient(t, func(cfg *identity.Config) { cfg.UserAgent = "provisioner/2.0" })
	type q struct {
		IDs  []string `url:"id,omitempty"`
		Tags []string `url:"tag,omitempty"`
		Skip int      `url:"skip,omitempty"`
	}
	mt.RegisterResponder("POST", mocktest.TenantURL+"/HybridClients", func(r *http.Request) (*http.Response, error) {
		if got := r.URL.RawQuery; got != "id=a&id=b&skip=5&tag=t1&tag=t+2" {
			t.Errorf("query %q", got)
		}
		for k, want := range map[string]string{
			"Accept": "application/json", "Content-Type": "application/json; charset=utf-8",
			"Authorization": "Bearer " + mocktest.Token,
		} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "ocs-go-identity/"+identity.Version) || !strings.HasSuffix(ua, " provisioner/2.0") {
			t.Errorf("User-Agent %q", ua)
		}
		return httpmock.NewStringResponse(201, `{"ok":true}`), nil
	})
	var out struct{ OK bool }
	if _, err := c.Do(context.Background(), Request{Method: "POST", Path: []string{"HybridClients"},
		Query: q{IDs: []string{"a", "b"}, Tags: []string{"t1", "t 2"}, Skip: 5}, Body: struct{}{}}, &out); err != nil || !out.OK {
		t.Fatalf("err %v, out %+v", err, out)
	}
}

func TestResponses(t *testing.T) {
	const secretish = "VALUE-THAT-MUST-NOT-LEAK"
	cases := []struct {
		name   string
		status int
		body   string
		check  func(t *testing.T, err error)
	}{
		{"service error body", 404, mocktest.ErrorBody, func(t *testing.T, err error) {
			var e *identity.Error
			if !errors.As(err, &e) || e.OperationID != "op-1" || e.Code != "Something failed" || e.Reason != "Because" ||
				e.Resolution != "Do better" || e.EventID != "ev-1" || e.Properties["DynamicProperties"] == nil || e.Excerpt != "" {
				t.Fatalf("%#v", e)
			}
			if !strings.Contains(e.Path, "/HybridClients/x") || strings.Contains(err.Error(), "?") {
				t.Fatalf("path %q / message %q", e.Path, err)
			}
		}},
		{"gateway HTML", 502, "<html><body>Bad\x00Gateway</body></html>", func(t *testing.T, err error) {
			var e *identity.Error
			if !errors.As(err, &e) || !errors.Is(err, identity.ErrServer) || !strings.Contains(e.Excerpt, "Bad") {
				t.Fatalf("%v", err)
			}
			if strings.ContainsRune(err.Error(), 0) {
				t.Fatal("control character reached the message")
			}
		}},
		{"empty error body", 403, "", func(t *testing.T, err error) {
			if !errors.Is(err, identity.ErrForbidden) {
				t.Fatal(err)
			}
		}},
		{"huge error body is bounded", 400, strings.Repeat("x", 1<<20), func(t *testing.T, err error) {
			var e *identity.Error
			if !errors.As(err, &e) || len(e.Excerpt) != 256 || len(err.Error()) > 600 {
				t.Fatalf("excerpt %d bytes, message %d bytes", len(e.Excerpt), len(err.Error()))
			}
		}},
		{"truncated success body", 200, `{"Secret":"` + secretish + `","Id":`, func(t *testing.T, err error) {
			if !errors.Is(err, identity.ErrInvalidResponse) || strings.Contains(err.Error(), secretish) {
				t.Fatalf("%v", err)
			}
		}},
		{"wrong type in success body", 200, `{"Secret":"` + secretish + `","Id":"` + secretish + `"}`, func(t *testing.T, err error) {
			if !errors.Is(err, identity.ErrInvalidResponse) || strings.Contains(err.Error(), secretish) {
				t.Fatalf("%v", err)
			}
		}},
		{"data after the JSON value", 200, `{"Secret":"` + secretish + `"} ]`, func(t *testing.T, err error) {
			if !errors.Is(err, identity.ErrInvalidResponse) || strings.Contains(err.Error(), secretish) {
				t.Fatalf("%v", err)
			}
		}},
		{"success body over the limit", 200, `{"Secret":"` + strings.Repeat("a", 5000) + `"}`, func(t *testing.T, err error) {
			if !errors.Is(err, identity.ErrResponseTooLarge) || !errors.Is(err, identity.ErrInvalidResponse) {
				t.Fatalf("%v", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, mt := newClient(t, func(cfg *identity.Config) { cfg.MaxResponseBytes = 4096; cfg.Retry.MaxAttempts = 1 })
			mt.RegisterResponder("GET", itemURL, httpmock.NewStringResponder(tc.status, tc.body))
			var out struct {
				Secret string
				ID     int `json:"Id"`
			}
			_, err := c.Do(context.Background(), Request{Method: "GET", Path: []string{"HybridClients", "x"}}, &out)
			if err == nil {
				t.Fatal("want an error")
			}
			tc.check(t, err)
		})
	}
}

func TestTotalCount(t *testing.T) {
	for v, want := range map[string]int{"0": 0, "42": 42, " 7 ": 7, "": -1, "-1": -1, "x": -1, "99999999999999999999": -1} {
		r := &Response{Header: http.Header{"Total-Count": {v}}}
		n, ok := r.TotalCount()
		if (want < 0 && ok) || (want >= 0 && (!ok || n != want)) {
			t.Errorf("Total-Count %q: %d %v", v, n, ok)
		}
		if _, err := r.RequireTotalCount(); (err != nil) != (want < 0) || (err != nil && !errors.Is(err, identity.ErrInvalidResponse)) {
			t.Errorf("RequireTotalCount %q: %v", v, err)
		}
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"0": 0, "5": 5 * time.Second, "Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second,
		"Wed, 31 Dec 2025 00:00:00 GMT": 0,
	} {
		got, ok := RetryAfter(http.Header{"Retry-After": {v}}, now)
		if !ok || got != want {
			t.Errorf("%q: %v %v, want %v", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "-3", "soon"} {
		if _, ok := RetryAfter(http.Header{"Retry-After": {v}}, now); ok {
			t.Errorf("%q parsed", v)
		}
	}
}

func TestNewRefusesBadConfigWithoutNetwork(t *testing.T) {
	_, err := New(identity.Config{Resource: "http://example.com", TenantID: "nope"})
	if !errors.Is(err, identity.ErrInvalidInput) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"Resource", "TenantID", "Credentials"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q not named in %v", want, err)
		}
	}
}

// TestDeadlineDuringTokenFetchLogsNothing: a context ending while the token endpoint
// answers a retryable status must give an error, and net/http must not print "RoundTripper
// returned a response & error" through the standard logger.
func TestDeadlineDuringTokenFetchLogsNothing(t *testing.T) {
	var buf strings.Builder
	log.SetOutput(&buf)
	defer log.SetOutput(os.Stderr)
	c, mt := newClient(t, func(cfg *identity.Config) {
		cfg.Credentials = identity.NewClientCredentials("cid", identity.NewSecret("s3cr3t-value"),
			&identity.ClientCredentialsOptions{TokenURL: mocktest.Resource + "/identity/connect/token"})
	})
	mt.RegisterResponder("POST", mocktest.Resource+"/identity/connect/token", func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return httpmock.NewStringResponse(503, "busy"), nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := get(c, ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if buf.Len() > 0 {
		t.Fatalf("the standard logger printed: %q", buf.String())
	}
}

// Errors name the path as it went on the wire, escaped ("..%2F..%2Fx"), not unescaped
// ("/../../x", which reads as another route): what the user reads is what the service saw.
func TestErrorsShowThePathAsSent(t *testing.T) {
	const odd = "../../x y?#"
	wire := "/api/v1/Tenants/" + mocktest.TenantID + "/HybridClients/..%2F..%2Fx%20y%3F%23"
	readErr := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
	for _, tc := range []struct {
		name  string
		reply func() (*http.Response, error)
		path  func(error) string // the Path of the error's type, "" when it is not that type
	}{
		{"service error", func() (*http.Response, error) { return httpmock.NewStringResponse(404, mocktest.ErrorBody), nil },
			func(err error) string { e := &identity.Error{}; errors.As(err, &e); return e.Path }},
		{"unusable success", func() (*http.Response, error) { return httpmock.NewStringResponse(200, "not JSON"), nil },
			func(err error) string { e := &identity.ResponseError{}; errors.As(err, &e); return e.Path }},
		{"connection lost", func() (*http.Response, error) { return nil, readErr },
			func(err error) string { e := &identity.ConnectionError{}; errors.As(err, &e); return e.Path }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, mt := newClient(t, func(cfg *identity.Config) { cfg.Retry.MaxAttempts = 1 })
			var seen string
			mt.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
				seen = r.URL.EscapedPath()
				return tc.reply()
			})
			var out struct{}
			_, err := c.Do(context.Background(), Request{Method: http.MethodGet, Path: []string{"HybridClients", odd}}, &out)
			if seen != wire {
				t.Fatalf("sent %q, want %q", seen, wire)
			}
			if path := tc.path(err); path != wire {
				t.Errorf("Path = %q (err %v), want %q", path, err, wire)
			}
			if msg := err.Error(); !strings.Contains(msg, wire) || strings.Contains(msg, "/../") {
				t.Errorf("message %q, want the path as sent, %q", msg, wire)
			}
		})
	}

	c, mt := newClient(t, nil)
	mt.RegisterNoResponder(httpmock.NewStringResponder(200, `{}`))
	resp, err := c.Do(context.Background(), Request{Method: http.MethodGet, Path: []string{"HybridClients", odd}}, nil)
	if err != nil || resp.Path != wire {
		t.Errorf("Response.Path = %v (err %v), want %q", resp, err, wire)
	}
	if got := c.WirePath("HybridClients", odd); got != wire {
		t.Errorf("WirePath = %q, want %q", got, wire)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Do(ctx, Request{Method: http.MethodGet, Path: []string{"HybridClients", odd}}, nil)
	if err == nil || !strings.Contains(err.Error(), wire) {
		t.Errorf("ended context: %v, want it to name %q", err, wire)
	}
}

func TestCutConnectionIsASentConnectionError(t *testing.T) {
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

func TestRefusedConnectionIsANeverSentConnectionError(t *testing.T) {
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

func TestDeadlineKeepsTheContextErrorInAConnectionError(t *testing.T) {
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
