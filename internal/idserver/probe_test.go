package idserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ocs-go/identity"
)

// answer is a token endpoint that answers status with an OAuth error code (or a token
// when code is empty and status is 200).
func answer(status int, code string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if code == "" {
			_, _ = io.WriteString(w, `{"access_token":"at-probe","token_type":"Bearer","expires_in":60}`)
			return
		}
		_, _ = fmt.Fprintf(w, `{"error":%q,"error_description":"described"}`, code)
	}
}

func TestAcceptsReadsTheVerdictFromTheClientAuthentication(t *testing.T) {
	for _, tt := range []struct {
		name    string
		status  int
		code    string
		want    bool
		wantErr error
	}{
		{"invalid_client: not accepted", 400, "invalid_client", false, nil},
		{"invalid_client with 401", 401, "invalid_client", false, nil},
		{"invalid_grant: authenticated", 400, "invalid_grant", true, nil},
		{"unauthorized_client: authenticated", 400, "unauthorized_client", true, nil},
		{"unsupported_grant_type: authenticated", 400, "unsupported_grant_type", true, nil},
		{"a token: authenticated", 200, "", true, nil},
		{"invalid_request says nothing of the client", 400, "invalid_request", false, identity.ErrUnauthorized},
		{"an unknown code says nothing", 400, "slow_down", false, identity.ErrUnauthorized},
		{"5xx: no verdict", 503, "temporarily_unavailable", false, identity.ErrServer},
		{"429: no verdict, ask again", 429, "slow_down", false, identity.ErrRateLimited},
		{"408: no verdict, ask again", 408, "timeout", false, identity.ErrTimeout},
		{"a redirect: no verdict", 307, "", false, identity.ErrUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, grant := range []ProbeGrant{ProbeCode, ProbeClientCredentials} {
				s := newServer(t)
				s.token = answer(tt.status, tt.code)
				if tt.status == 307 {
					s.token = func(w http.ResponseWriter, r *http.Request) {
						http.Redirect(w, r, "https://elsewhere.example.com/token", http.StatusTemporaryRedirect)
					}
				}
				ok, err := s.road(t).Accepts(context.Background(), grant, s.URL+"/identity/connect/token", "cid", identity.NewSecret(theSecret))
				if ok != tt.want || (tt.wantErr == nil) != (err == nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
					t.Errorf("grant %d: Accepts = %v, %v; want %v, %v", grant, ok, err, tt.want, tt.wantErr)
				}
				if err != nil && strings.Contains(err.Error(), theSecret) {
					t.Errorf("grant %d: the error holds the secret", grant)
				}
			}
		})
	}
}

// A code probe is an authorization_code grant with a code of its own and a redirect URI
// nobody registers; the secret goes in the form body, and nothing in a header or the URL.
func TestAcceptsSendsAGrantThatCannotSignAnyoneIn(t *testing.T) {
	s := newServer(t)
	s.token = answer(400, "invalid_grant")
	r := s.road(t)
	for range 2 {
		if ok, err := r.Accepts(context.Background(), ProbeCode, s.URL+"/identity/connect/token", "cid", identity.NewSecret(theSecret)); !ok || err != nil {
			t.Fatalf("Accepts = %v, %v", ok, err)
		}
	}
	first, second := <-s.forms, <-s.forms
	for _, f := range []map[string][]string{first, second} {
		form := fmt.Sprint(f)
		for k, want := range map[string]string{"grant_type": "authorization_code", "client_id": "cid", "client_secret": theSecret, "redirect_uri": ProbeRedirectURI} {
			if got := f[k]; len(got) != 1 || got[0] != want {
				t.Errorf("form %s = %q, want %q", k, got, want)
			}
		}
		if len(f["code"]) != 1 || len(f["code_verifier"]) != 1 || len(f["code_verifier"][0]) < 43 {
			t.Errorf("form without a code and a PKCE verifier: %s", strings.ReplaceAll(form, theSecret, "[SECRET]"))
		}
	}
	if first["code"][0] == second["code"][0] {
		t.Error("two probes sent the same code")
	}
	for range 2 {
		if h := <-s.authz; h != "" {
			t.Errorf("a probe carried an Authorization header or a query: %q", strings.ReplaceAll(h, theSecret, "[SECRET]"))
		}
	}
}

func TestAcceptsRefusesAnUnknownGrant(t *testing.T) {
	s := newServer(t)
	if _, err := s.road(t).Accepts(context.Background(), 0, s.URL+"/identity/connect/token", "cid", identity.NewSecret(theSecret)); !errors.Is(err, identity.ErrInvalidInput) {
		t.Fatalf("err = %v", err)
	}
	if s.tokens.Load() != 0 {
		t.Error("a request was sent")
	}
	var nilRoad *Road
	if _, err := nilRoad.Accepts(context.Background(), ProbeCode, s.URL, "cid", identity.NewSecret(theSecret)); err == nil {
		t.Error("a nil Road accepted")
	}
}

// A throttled probe is a request to ask again, not a verdict: the error carries the
// answer's Retry-After for the proof's next ask.
func TestAcceptsTakesAThrottleAsNoVerdictWithItsRetryAfter(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusRequestTimeout} {
		for _, grant := range []ProbeGrant{ProbeCode, ProbeClientCredentials} {
			s := newServer(t)
			s.token = func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "30")
				answer(status, "")(w, r)
			}
			ok, err := s.road(t).Accepts(context.Background(), grant, s.URL+"/identity/connect/token", "cid", identity.NewSecret(theSecret))
			var e *identity.Error
			if ok || !errors.As(err, &e) || e.StatusCode != status || e.RetryAfter != 30*time.Second || errors.Is(err, identity.ErrUnauthorized) {
				t.Errorf("%d, grant %d: Accepts = %v, %v; want no verdict, an *identity.Error with Retry-After 30s", status, grant, ok, err)
			}
		}
	}
}

// A 5xx of the token endpoint is no verdict either, and carries its Retry-After (a 503's
// "come back later") for the proof's next ask; a Retry-After too large for any integer is
// the longest wait, not an absent one.
func TestAcceptsCarriesTheRetryAfterOfA5xxAndCapsAHugeOne(t *testing.T) {
	for _, c := range []struct {
		status     int
		retryAfter string
		want       time.Duration
	}{
		{http.StatusServiceUnavailable, "60", time.Minute},
		{http.StatusInternalServerError, "", 0},
		{http.StatusTooManyRequests, "99999999999", 24 * time.Hour},
		{http.StatusServiceUnavailable, "99999999999999999999999", 24 * time.Hour},
	} {
		s := newServer(t)
		s.token = func(w http.ResponseWriter, r *http.Request) {
			if c.retryAfter != "" {
				w.Header().Set("Retry-After", c.retryAfter)
			}
			answer(c.status, "")(w, r)
		}
		ok, err := s.road(t).Accepts(context.Background(), ProbeCode, s.URL+"/identity/connect/token", "cid", identity.NewSecret(theSecret))
		var e *identity.Error
		if ok || !errors.As(err, &e) || e.StatusCode != c.status || e.RetryAfter != c.want {
			t.Errorf("%d, Retry-After %q: Accepts = %v, %v (Retry-After %v); want no verdict with Retry-After %s", c.status, c.retryAfter, ok, err, retryAfterOf(err), c.want)
		}
	}
}

func retryAfterOf(err error) time.Duration {
	var e *identity.Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return -1
}
