package transport

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocs-go/identity"
)

const (
	loopbackTenant = "11111111-2222-3333-4444-555555555555"
	secretValue    = "cl13nt-s3cr3t-never-shown"
)

// loopbackConfig is a Config for a real loopback server at resource.
func loopbackConfig(resource string, creds identity.Credentials) identity.Config {
	return identity.Config{
		Resource:    resource,
		TenantID:    loopbackTenant,
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
		if strings.Contains(string(body), secretValue) || strings.Contains(r.URL.RawQuery, secretValue) {
			o.sawSec.Store(true)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "token-of-the-other-origin", "token_type": "Bearer", "expires_in": 3600,
			"token_endpoint": o.srv.URL + "/identity/connect/token"})
	}))
	t.Cleanup(o.srv.Close)
	return o
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
