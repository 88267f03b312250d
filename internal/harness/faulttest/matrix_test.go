package faulttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	hct "github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
	"golang.org/x/oauth2"
)

// op is one operation of the SDK, run against a fixture.
type op struct {
	name string
	// fault is the route the fault is injected on: the operation's own request, or for
	// Rotate the add of the new secret (the step whose loss would cost a value).
	fault hct.Op
	// nonIdempotent: Create and Add (and Rotate, which adds). Their answers cannot be
	// replayed, so a deadline in flight ends in ErrOutcomeUnknown, not a plain deadline.
	nonIdempotent bool
	// body: the success answer has a JSON body (a truncated one cannot be read).
	body bool
	run  func(ctx context.Context, fx *fixture, t *testing.T) (any, error)
	// check verifies the state after a success.
	check func(t *testing.T, fx *fixture, v any)
}

var ops = []op{
	{name: "hybridclients.List", fault: hct.OpListClients, body: true,
		run: func(ctx context.Context, fx *fixture, _ *testing.T) (any, error) {
			return fx.hc.List(ctx, hybridclients.ListOptions{})
		},
		check: func(t *testing.T, _ *fixture, v any) {
			if p := v.(*hybridclients.Page); p.Total != 1 || len(p.Clients) != 1 {
				t.Errorf("page %+v", p)
			}
		}},
	{name: "hybridclients.All", fault: hct.OpListClients, body: true,
		run: func(ctx context.Context, fx *fixture, _ *testing.T) (any, error) {
			var out []hybridclients.HybridClient
			for hc, err := range fx.hc.All(ctx, hybridclients.ListOptions{}) {
				if err != nil {
					return nil, err
				}
				out = append(out, hc)
			}
			return out, nil
		},
		check: func(t *testing.T, _ *fixture, v any) {
			if n := len(v.([]hybridclients.HybridClient)); n != 1 {
				t.Errorf("%d clients", n)
			}
		}},
	{name: "hybridclients.Count", fault: hct.OpCountClients,
		run: func(ctx context.Context, fx *fixture, _ *testing.T) (any, error) {
			return fx.hc.Count(ctx, hybridclients.CountOptions{})
		},
		check: func(t *testing.T, _ *fixture, v any) {
			if v.(int) != 1 {
				t.Errorf("count %v", v)
			}
		}},
	{name: "hybridclients.Get", fault: hct.OpGetClient, body: true,
		run: func(ctx context.Context, fx *fixture, _ *testing.T) (any, error) { return fx.hc.Get(ctx, fx.clientID) },
		check: func(t *testing.T, fx *fixture, v any) {
			if v.(*hybridclients.HybridClient).ID != fx.clientID {
				t.Errorf("got %+v", v)
			}
		}},
	{name: "hybridclients.Exists", fault: hct.OpClientExists,
		run: func(ctx context.Context, fx *fixture, _ *testing.T) (any, error) {
			return fx.hc.Exists(ctx, fx.clientID)
		},
		check: func(t *testing.T, _ *fixture, v any) {
			if v != true {
				t.Errorf("exists %v", v)
			}
		}},
	{name: "hybridclients.Create", fault: hct.OpCreateClient, nonIdempotent: true, body: true,
		run: func(ctx context.Context, fx *fixture, _ *testing.T) (any, error) {
			return fx.hc.Create(ctx, hybridclients.CreateRequest{
				Name: "new", RedirectURIs: []string{"https://new.example.com/cb"}, SecretDescription: "first",
			})
		},
		check: func(t *testing.T, fx *fixture, v any) {
			c := v.(*hybridclients.Created)
			exactlyOneUsable(t, fx, c.Client.ID, c.Secret.ID, c.Secret.Value)
			if c.Secret.Description != "first" {
				t.Errorf("description %q", c.Secret.Description)
			}
			if n := len(fx.srv.Clients()); n != 2 {
				t.Errorf("%d clients, want 2 (no duplicate)", n)
			}
		}},
	{name: "hybridclients.Update", fault: hct.OpUpdateClient, body: true,
		run: func(ctx context.Context, fx *fixture, _ *testing.T) (any, error) {
			return fx.hc.Update(ctx, fx.clientID, hybridclients.UpdateRequest{Name: identity.Ptr("renamed")})
		},
		check: func(t *testing.T, fx *fixture, v any) {
			if v.(*hybridclients.HybridClient).Name != "renamed" || fx.srv.Clients()[0].Name != "renamed" {
				t.Errorf("got %+v", v)
			}
		}},
	{name: "hybridclients.Delete", fault: hct.OpDeleteClient,
		run: func(ctx context.Context, fx *fixture, _ *testing.T) (any, error) {
			return nil, fx.hc.Delete(ctx, fx.clientID)
		},
		check: func(t *testing.T, fx *fixture, _ any) {
			if n := len(fx.srv.Clients()); n != 0 {
				t.Errorf("%d clients left", n)
			}
		}},
	{name: "secrets.List", fault: hct.OpListSecrets, body: true,
		run: func(ctx context.Context, fx *fixture, _ *testing.T) (any, error) {
			return fx.sec.List(ctx, fx.clientID, secrets.ListOptions{})
		},
		check: func(t *testing.T, _ *fixture, v any) {
			if p := v.(*secrets.Page); p.Total != 1 || len(p.Secrets) != 1 {
				t.Errorf("page %+v", p)
			}
		}},
	{name: "secrets.Count", fault: hct.OpCountSecrets,
		run: func(ctx context.Context, fx *fixture, _ *testing.T) (any, error) {
			return fx.sec.Count(ctx, fx.clientID)
		},
		check: func(t *testing.T, _ *fixture, v any) {
			if v.(int) != 1 {
				t.Errorf("count %v", v)
			}
		}},
	{name: "secrets.Get", fault: hct.OpGetSecret, body: true,
		run: func(ctx context.Context, fx *fixture, _ *testing.T) (any, error) {
			return fx.sec.Get(ctx, fx.clientID, fx.secretID)
		},
		check: func(t *testing.T, fx *fixture, v any) {
			if v.(*secrets.ClientSecret).ID != fx.secretID {
				t.Errorf("got %+v", v)
			}
		}},
	{name: "secrets.Exists", fault: hct.OpSecretExists,
		run: func(ctx context.Context, fx *fixture, _ *testing.T) (any, error) {
			return fx.sec.Exists(ctx, fx.clientID, fx.secretID)
		},
		check: func(t *testing.T, _ *fixture, v any) {
			if v != true {
				t.Errorf("exists %v", v)
			}
		}},
	{name: "secrets.Add", fault: hct.OpAddSecret, nonIdempotent: true, body: true,
		run: func(ctx context.Context, fx *fixture, _ *testing.T) (any, error) {
			return fx.sec.Add(ctx, fx.clientID, secrets.AddRequest{Description: "second"})
		},
		check: func(t *testing.T, fx *fixture, v any) {
			a := v.(*secrets.Added)
			if ids := fx.srv.SecretIDs(fx.clientID); len(ids) != 2 || ids[0] != fx.secretID || ids[1] != a.ID {
				t.Errorf("secret ids %v, want [%d %d]: an orphan is left or a secret is missing", ids, fx.secretID, a.ID)
			}
			if !fx.srv.CheckSecret(fx.clientID, a.Value) {
				t.Error("the returned value does not authenticate")
			}
		}},
	{name: "secrets.Update", fault: hct.OpUpdateSecret, body: true,
		run: func(ctx context.Context, fx *fixture, _ *testing.T) (any, error) {
			return fx.sec.Update(ctx, fx.clientID, fx.secretID, secrets.UpdateRequest{Description: identity.Ptr("renamed")})
		},
		check: func(t *testing.T, _ *fixture, v any) {
			if v.(*secrets.ClientSecret).Description != "renamed" {
				t.Errorf("got %+v", v)
			}
		}},
	{name: "secrets.Delete", fault: hct.OpDeleteSecret,
		run: func(ctx context.Context, fx *fixture, _ *testing.T) (any, error) {
			return nil, fx.sec.Delete(ctx, fx.clientID, fx.secretID)
		},
		check: func(t *testing.T, fx *fixture, _ any) {
			if ids := fx.srv.SecretIDs(fx.clientID); len(ids) != 0 {
				t.Errorf("secret ids %v left", ids)
			}
		}},
	{name: "secrets.Rotate", fault: hct.OpAddSecret, nonIdempotent: true, body: true,
		run: func(ctx context.Context, fx *fixture, t *testing.T) (any, error) {
			file := filepath.Join(t.TempDir(), "new.secret")
			var stored identity.Secret
			rot, err := fx.sec.Rotate(ctx, fx.clientID, secrets.RotateRequest{
				Description:  "rotated",
				RetireAtOnce: true, // the check below wants the old secret deleted (the default keeps it an hour)
				Store: func(_ context.Context, s secrets.Added) error {
					stored = s.Value
					rec.see(s)
					return s.Value.WriteFile(file)
				},
			})
			if err == nil {
				rec.secret(stored.Reveal())
				return rotated{rot, stored}, nil
			}
			return rot, err
		},
		check: func(t *testing.T, fx *fixture, v any) {
			r := v.(rotated)
			exactlyOneUsable(t, fx, fx.clientID, r.New.ID, r.value)
			if len(r.Deleted) != 1 || r.Deleted[0].ID != fx.secretID {
				t.Errorf("deleted %+v, want the initial secret", r.Deleted)
			}
		}},
}

type rotated struct {
	*secrets.Rotation
	value identity.Secret
}

// exactlyOneUsable checks that client has exactly the one secret id, and that value
// authenticates it.
func exactlyOneUsable(t *testing.T, fx *fixture, client string, id int, value identity.Secret) {
	t.Helper()
	if ids := fx.srv.SecretIDs(client); len(ids) != 1 || ids[0] != id {
		t.Errorf("client %s has secrets %v, want exactly [%d]", client, ids, id)
	}
	if !fx.srv.CheckSecret(client, value) {
		t.Error("the returned value does not authenticate the client")
	}
}

// fault is one failure of the service, and whether an operation must get through it.
type fault struct {
	name string
	// inject makes the failure happen (once) for the operation.
	inject func(fx *fixture, o op)
	// ctxTimeout, when set, is the caller's deadline.
	ctxTimeout time.Duration
	// want is the documented outcome for o: nil means success after retries.
	want func(o op) error
	// retried: on success, the operation's route must have been hit at least twice (the
	// fault fired and was got through, rather than never happening).
	retried bool
	// fired tells, when retried, whether the fault happened; nil means the operation's
	// route was requested at least twice.
	fired func(st hct.Stats, o op) bool
	// after, when set, checks what else the fault must not have caused.
	after func(t *testing.T, fx *fixture)
}

func once(f hct.Fault) func(*fixture, op) {
	return func(fx *fixture, o op) {
		g := f // each case its own copy: cases run in parallel
		g.Op, g.Times = o.fault, 1
		fx.srv.Inject(g)
	}
}

var succeed = func(op) error { return nil }

var faults = []fault{
	{name: "connection reset before acting", inject: once(hct.Fault{ResetBeforeAct: true}), want: succeed, retried: true},
	{name: "commit then cut", inject: once(hct.Fault{CutAfterCommit: true}), want: succeed, retried: true},
	{name: "500", inject: once(hct.Fault{Status: 500}), want: succeed, retried: true},
	{name: "502", inject: once(hct.Fault{Status: 502}), want: succeed, retried: true},
	{name: "503 with Retry-After", inject: once(hct.Fault{Status: 503, RetryAfter: time.Second}), want: succeed, retried: true},
	{name: "429 with Retry-After", inject: once(hct.Fault{Status: 429, RetryAfter: time.Second}), want: succeed, retried: true},
	{name: "408", inject: once(hct.Fault{Status: 408}), want: succeed, retried: true},
	{name: "HTML error page", inject: once(hct.Fault{Status: 502, HTML: true}), want: succeed, retried: true},
	{name: "HTML error page that persists", inject: func(fx *fixture, o op) {
		fx.srv.Inject(hct.Fault{Op: o.fault, Status: 503, HTML: true})
	}, want: func(op) error { return identity.ErrServer }},
	{name: "truncated JSON", inject: once(hct.Fault{Truncate: true}), want: func(o op) error {
		if o.body && !o.nonIdempotent {
			return identity.ErrInvalidResponse // acted, answer unreadable: reported, not replayed
		}
		return nil // no body to cut; or create/add recover the value
	}},
	{name: "slower than the deadline", inject: once(hct.Fault{Delay: 20 * time.Second}), ctxTimeout: 300 * time.Millisecond,
		want: func(o op) error {
			if o.nonIdempotent {
				return identity.ErrOutcomeUnknown
			}
			return context.DeadlineExceeded
		}},
	{name: "expired token", inject: func(fx *fixture, _ op) { fx.srv.RevokeTokens() }, want: succeed, retried: true,
		fired: func(st hct.Stats, _ op) bool { return st.TokenRequests >= 2 }},
	{name: "token endpoint redirects to another origin", inject: func(fx *fixture, _ op) {
		redirectTokens(fx)
		// New clients with new credentials: the fixture's token is cached, so the next
		// call must fetch one.
		cfg := fx.cfg
		cfg.Credentials = identity.NewClientCredentials(fx.srv.Admin.ClientID, fx.srv.Admin.Secret, nil)
		hc, err := hybridclients.New(cfg)
		if err != nil {
			fx.t.Fatal(err)
		}
		fx.hc, fx.sec = hc, hc.Secrets()
	}, want: func(op) error { return identity.ErrUnauthorized }, after: elsewhereGotNothing},
}

// elsewhere is another origin that records whatever reaches it.
type elsewhere struct {
	*httptest.Server
	hits atomic.Int32
}

// redirectTokens makes the fake's token endpoint answer every request with 307 to another
// origin, which fx.elsewhere records.
func redirectTokens(fx *fixture) {
	e := &elsewhere{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"token-of-elsewhere","token_type":"Bearer","expires_in":3600,"id_token":"x.y.z","refresh_token":"rt"}`)
	}))
	fx.t.Cleanup(e.Close)
	fx.elsewhere = e
	fx.srv.Inject(hct.Fault{Op: hct.OpToken, Status: http.StatusTemporaryRedirect, Location: e.URL + "/identity/connect/token"})
}

func elsewhereGotNothing(t *testing.T, fx *fixture) {
	t.Helper()
	if n := fx.elsewhere.hits.Load(); n != 0 {
		t.Errorf("the other origin got %d requests: a redirect of the token endpoint was followed", n)
	}
}

// TestFaultMatrix runs every operation of both packages under every fault.
func TestFaultMatrix(t *testing.T) {
	ran := 0
	for _, f := range faults {
		for _, o := range ops {
			ran++
			t.Run(f.name+"/"+o.name, func(t *testing.T) {
				t.Parallel()
				fx := newFixture(t, nil)
				f.inject(fx, o)
				ctx := context.Background()
				if f.ctxTimeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, f.ctxTimeout)
					defer cancel()
				}
				start := time.Now()
				v, err := o.run(ctx, fx, t)
				elapsed := time.Since(start)
				rec.see(v, err)
				if s, ok := valueOf(v); ok && !s.IsZero() {
					rec.secret(s.Reveal())
				}
				if elapsed > 15*time.Second {
					t.Errorf("took %v: not bounded", elapsed)
				}
				want := f.want(o)
				if want == nil {
					if err != nil {
						t.Fatalf("want success after retries, got %v", err)
					}
					o.check(t, fx, v)
					if st := fx.srv.Stats(); f.retried {
						fired := st.Requests[o.fault] >= 2
						if f.fired != nil {
							fired = f.fired(st, o)
						}
						if !fired {
							t.Errorf("the fault never fired: %d requests to %s, %d token requests", st.Requests[o.fault], o.fault, st.TokenRequests)
						}
					}
					return
				}
				if f.after != nil {
					f.after(t, fx)
				}
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
				// The server holds the answer 20 s: ending well before shows the deadline did it
				// (the margin absorbs a loaded machine).
				if f.ctxTimeout > 0 && elapsed > f.ctxTimeout+8*time.Second {
					t.Errorf("took %v with a %v deadline", elapsed, f.ctxTimeout)
				}
				var oe *identity.OutcomeError
				if errors.As(err, &oe) && oe.ClientID == "" {
					t.Errorf("an OutcomeError must name the client: %v", err)
				}
			})
		}
	}
	t.Logf("fault matrix: %d operations x %d faults = %d cases", len(ops), len(faults), ran)
	fmt.Printf("fault matrix: %d operations x %d faults = %d cases\n", len(ops), len(faults), ran)
}

// The redirecting token endpoint of the matrix, for sign-in's grants: Exchange and Refresh
// send the client secret with a code and its verifier, or a refresh token. Neither may
// reach the other origin, and each fails with ErrUnauthorized.
func TestSignInGrantsUnderATokenEndpointRedirect(t *testing.T) {
	for _, grant := range []string{"Exchange", "Refresh"} {
		t.Run(grant, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			fx := newFixture(t, nil)
			const cb = "https://app.example.com/signin"
			created, err := fx.hc.Create(ctx, hybridclients.CreateRequest{Name: "web", RedirectURIs: []string{cb}, AllowRefreshTokens: true})
			if err != nil {
				t.Fatal(err)
			}
			rec.secret(created.Secret.Value.Reveal())
			si, err := fx.hc.SignIn(ctx, &created.Client, created.Secret.Value, cb)
			if err != nil {
				t.Fatal(err)
			}
			signIn := func() (code, verifier string) {
				verifier = oauth2.GenerateVerifier()
				authURL, err := si.AuthCodeURL("state-of-the-test", "nonce-of-the-test", verifier)
				if err != nil {
					t.Fatal(err)
				}
				back, err := fx.srv.SignIn(ctx, authURL, "")
				if err != nil {
					t.Fatal(err)
				}
				return back.Query().Get("code"), verifier
			}
			code, verifier := signIn()
			var tok *oauth2.Token
			if grant == "Refresh" {
				if tok, err = si.Exchange(ctx, code, verifier); err != nil || tok.RefreshToken == "" {
					t.Fatalf("Exchange = %v, %v; want a token with a refresh token", tok, err)
				}
				rec.secret(tok.RefreshToken)
			}
			redirectTokens(fx)
			if grant == "Exchange" {
				_, err = si.Exchange(ctx, code, verifier)
			} else {
				_, err = si.Refresh(ctx, tok)
			}
			rec.see(err)
			elsewhereGotNothing(t, fx)
			var ae *identity.AuthError
			if !errors.Is(err, identity.ErrUnauthorized) || !errors.As(err, &ae) || ae.StatusCode != http.StatusTemporaryRedirect {
				t.Fatalf("%s = %v, want an *identity.AuthError for the 307 (ErrUnauthorized)", grant, err)
			}
		})
	}
}
