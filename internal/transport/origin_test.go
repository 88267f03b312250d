package transport

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/harness/mocktest"
	"golang.org/x/oauth2"
)

// The discovered token endpoint is compared with the Resource as a URL (scheme and host in
// any case, the default port written or not), and the token goes with the API call.
func TestDiscoveredTokenEndpointComparedNormalised(t *testing.T) {
	for _, tc := range []struct {
		name, resource, named string
		ok                    bool
	}{
		{"upper-case host and :443 in the Resource", "https://ID.Example.COM:443", "https://id.example.com", true},
		{"upper-case host and :443 in the document", "https://id.example.com", "https://ID.EXAMPLE.com:443", true},
		{"another port", "https://id.example.com", "https://id.example.com:8443", false},
		{"another host", "https://id.example.com", "https://id.example.net", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tokens, bearers atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch {
				case strings.HasSuffix(r.URL.Path, "/openid-configuration"):
					_ = json.NewEncoder(w).Encode(map[string]string{"issuer": tc.named + "/identity", "token_endpoint": tc.named + "/identity/connect/token"})
				case r.URL.Path == "/identity/connect/token":
					tokens.Add(1)
					_, _ = w.Write([]byte(`{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`))
				default:
					if r.Header.Get("Authorization") == "Bearer at-1" {
						bearers.Add(1)
					}
					_, _ = w.Write([]byte(`{}`))
				}
			})
			cfg := loopbackConfig(tc.resource, identity.NewClientCredentials("cid", identity.NewSecret(secretValue), nil))
			cfg.HTTPClient = &http.Client{Transport: mocktest.RouteTo{Handler: h}}
			err := get(newLoopbackClient(t, cfg), context.Background())
			if !tc.ok {
				if err == nil || tokens.Load() != 0 {
					t.Fatalf("err = %v after %d token requests, want a refusal before any", err, tokens.Load())
				}
				return
			}
			if err != nil || tokens.Load() != 1 || bearers.Load() != 1 {
				t.Fatalf("err = %v, %d token requests, %d calls with the token; want nil, 1, 1", err, tokens.Load(), bearers.Load())
			}
		})
	}
}

func TestSharedCredentialsKeepATokenPerResource(t *testing.T) {
	a := newIDService(t, "a", nil)
	b := newIDService(t, "b", nil)
	creds := identity.NewClientCredentials("cid", identity.NewSecret(secretValue), nil)
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
