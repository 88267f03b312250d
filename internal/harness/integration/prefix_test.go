package integration

import (
	"context"
	"errors"
	"iter"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// packagePrefix finds the name of one of the module's packages where a message starts,
// or where a wrapped one would start inside it.
var packagePrefix = regexp.MustCompile(`(?:^|: |; |\n|\()(identity|hybridclients|secrets|hybridclientstest): `)

// firstErr returns the first error a sequence yields.
func firstErr[T any](seq iter.Seq2[T, error]) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

// The rule of every error's text (the identity package doc's Errors section): it starts
// with the name of the package the caller called, once, whatever it wraps: the typed
// errors of identity, another package's error (hybridclients calling secrets, New calling
// Config.Validate), a sentinel. One error of each kind from each package, each still
// matching what errors.Is and errors.As find.
func TestEveryErrorStartsWithThePackageCalledOnce(t *testing.T) {
	e := newEnv(t, nil)
	ctx := testCtx(t)
	cfg := e.srv.Config()
	cfg.Retry = identity.RetryPolicy{MaxAttempts: 1}
	clients := newClients(t, cfg)
	sec := clients.Secrets()
	created := create(t, ctx, clients, "prefix")
	id := created.Client.ID
	missing := uuid.NewString()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := "http://" + ln.Addr().String()
	_ = ln.Close()
	unreachable := cfg
	unreachable.Resource = closedPort
	badCfg := identity.Config{TenantID: "not-a-guid"}

	dir := t.TempDir()
	existing := filepath.Join(dir, "exists")
	if err := os.WriteFile(existing, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A sign-in with a secret the client does not have: the token endpoint answers
	// invalid_client.
	const callback = "https://prefix.example.com/callback"
	wrongSecret, err := clients.SignIn(ctx, &created.Client, identity.NewSecret("not-its-secret"), callback)
	if err != nil {
		t.Fatal(err)
	}
	verifier := oauth2.GenerateVerifier()
	authURL, err := wrongSecret.AuthCodeURL("state", "nonce", verifier)
	if err != nil {
		t.Fatal(err)
	}
	back, err := e.srv.SignIn(ctx, authURL, "")
	if err != nil {
		t.Fatal(err)
	}

	// A client at the limit of secrets, and a never-expiring add whose answer is cut
	// after the secret was made: a look-alike cannot be told apart (OutcomeError).
	full := create(t, ctx, clients, "full").Client.ID
	for range secrets.MaxPerClient - 1 {
		if _, err := sec.Add(ctx, full, secrets.AddRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	outcome := func() error {
		remove := e.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpAddSecret, CutAfterCommit: true, Times: 1})
		defer remove()
		_, err := sec.Add(ctx, id, secrets.AddRequest{Description: "lost", Expiry: secrets.NeverExpires()})
		return err
	}
	truncated := func() error {
		remove := e.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpGetClient, Truncate: true, Times: 1})
		defer remove()
		_, err := clients.Get(ctx, id)
		return err
	}
	scanResult := func() error {
		remove := e.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpListSecrets, Status: 403})
		defer remove()
		for r, err := range hybridclients.ScanExpiry(ctx, clients, time.Hour, hybridclients.ScanOptions{List: hybridclients.ListOptions{IDs: []string{id}}}) {
			if err != nil {
				return err
			}
			return r.Err
		}
		return nil
	}
	var nilCtx context.Context
	var zero secrets.Client
	// Credentials of one's own ask the SDK's TokenEndpoint for tokens: its errors are
	// identity's, and the call that needed the token names hybridclients.
	own := &ownCredentials{}
	withOwn := cfg
	withOwn.Credentials = own
	_, ownErr := newClients(t, withOwn).Get(ctx, id)

	cases := []struct {
		pkg, what string
		err       error
		is        error // what errors.Is must still find
	}{
		{"identity", "Config.Validate", badCfg.Validate(), identity.ErrInvalidInput},
		{"identity", "Token with a nil ctx", func() error {
			_, err := identity.NewClientCredentials("id", identity.NewSecret("s"), nil).Token(nilCtx, identity.TokenRequest{})
			return err
		}(), identity.ErrInvalidInput},
		{"identity", "a zero StaticToken", func() error {
			_, err := (&identity.StaticToken{}).Token(ctx, identity.TokenRequest{})
			return err
		}(), identity.ErrInvalidInput},
		{"identity", "WriteFile over a file", identity.NewSecret("v").WriteFile(existing), identity.ErrFileExists},
		{"identity", "ReplaceFile of an empty secret", identity.Secret{}.ReplaceFile(existing), nil},
		{"identity", "TokenEndpoint.ClientCredentials refused", own.got, identity.ErrUnauthorized},
		{"hybridclients", "Get whose own Credentials were refused", ownErr, identity.ErrUnauthorized},

		{"hybridclients", "New with a bad Config", func() error { _, err := hybridclients.New(badCfg); return err }(), identity.ErrInvalidInput},
		{"hybridclients", "Get of a missing client", func() error { _, err := clients.Get(ctx, missing); return err }(), identity.ErrNotFound},
		{"hybridclients", "Get of a non-GUID", func() error { _, err := clients.Get(ctx, "x"); return err }(), identity.ErrInvalidInput},
		{"hybridclients", "Get of an unreachable service", func() error { _, err := newClients(t, unreachable).Get(ctx, id); return err }(), identity.ErrUnreachable},
		{"hybridclients", "Get of a cut answer", truncated(), identity.ErrInvalidResponse},
		{"hybridclients", "Create of a bad request", func() error { _, err := clients.Create(ctx, hybridclients.CreateRequest{}); return err }(), identity.ErrInvalidInput},
		{"hybridclients", "Create with an id in use", func() error {
			_, err := clients.Create(ctx, hybridclients.CreateRequest{ID: id, Name: "again", RedirectURIs: []string{callback}})
			return err
		}(), identity.ErrConflict},
		{"hybridclients", "Update of a missing client", func() error {
			_, err := clients.Update(ctx, missing, hybridclients.UpdateRequest{Name: identity.Ptr("x")})
			return err
		}(), identity.ErrNotFound},
		{"hybridclients", "Delete of a missing client", clients.Delete(ctx, missing), identity.ErrNotFound},
		{"hybridclients", "Exists with a nil ctx", func() error { _, err := clients.Exists(nilCtx, id); return err }(), identity.ErrInvalidInput},
		{"hybridclients", "Count with a bad filter", func() error { _, err := clients.Count(ctx, hybridclients.CountOptions{IDs: []string{"x"}}); return err }(), identity.ErrInvalidInput},
		{"hybridclients", "List with a bad page size", func() error { _, err := clients.List(ctx, hybridclients.ListOptions{PageSize: -1}); return err }(), identity.ErrInvalidInput},
		{"hybridclients", "All with a bad page size", firstErr(clients.All(ctx, hybridclients.ListOptions{PageSize: -1})), identity.ErrInvalidInput},
		{"hybridclients", "Each without work", firstErr(hybridclients.Each[int](ctx, clients, hybridclients.ScanOptions{}, nil)), identity.ErrInvalidInput},
		{"hybridclients", "ScanExpiry within < 0", firstErr(hybridclients.ScanExpiry(ctx, clients, -time.Hour, hybridclients.ScanOptions{})), identity.ErrInvalidInput},
		{"hybridclients", "ScanExpiry's result of one client", scanResult(), identity.ErrForbidden},
		{"hybridclients", "SignIn to an unregistered URI", func() error {
			_, err := clients.SignIn(ctx, &created.Client, created.Secret.Value, "https://elsewhere.example.com/")
			return err
		}(), identity.ErrInvalidInput},
		{"hybridclients", "DiscoverSignIn with a bad Config", func() error {
			_, err := hybridclients.DiscoverSignIn(ctx, badCfg, &created.Client, created.Secret.Value, callback)
			return err
		}(), identity.ErrInvalidInput},
		{"hybridclients", "Exchange with a wrong secret", func() error {
			_, err := wrongSecret.Exchange(ctx, back.Query().Get("code"), verifier)
			return err
		}(), identity.ErrUnauthorized},
		{"hybridclients", "Refresh without a refresh token", func() error {
			_, err := wrongSecret.Refresh(ctx, &oauth2.Token{AccessToken: "a"})
			return err
		}(), hybridclients.ErrNoRefreshToken},
		{"hybridclients", "AuthCodeURL without state", func() error { _, err := wrongSecret.AuthCodeURL("", "n", verifier); return err }(), identity.ErrInvalidInput},
		{"hybridclients", "LogoutURL to an unregistered URI", func() error {
			_, err := wrongSecret.LogoutURL("hint", "https://elsewhere.example.com/", "s")
			return err
		}(), identity.ErrInvalidInput},

		{"secrets", "New with a bad Config", func() error { _, err := secrets.New(badCfg); return err }(), identity.ErrInvalidInput},
		{"secrets", "NewForClientCredentialClients with a bad Config", func() error { _, err := secrets.NewForClientCredentialClients(badCfg); return err }(), identity.ErrInvalidInput},
		{"secrets", "Get of a missing secret", func() error { _, err := sec.Get(ctx, id, 99); return err }(), identity.ErrNotFound},
		{"secrets", "List of a zero Client", func() error { _, err := zero.List(ctx, id, secrets.ListOptions{}); return err }(), identity.ErrInvalidInput},
		{"secrets", "All of a missing client", firstErr(sec.All(ctx, missing, secrets.ListOptions{})), identity.ErrNotFound},
		{"secrets", "Count of a non-GUID", func() error { _, err := sec.Count(ctx, "x"); return err }(), identity.ErrInvalidInput},
		{"secrets", "Exists with a bad secret id", func() error { _, err := sec.Exists(ctx, id, -1); return err }(), identity.ErrInvalidInput},
		{"secrets", "Add at the limit", func() error { _, err := sec.Add(ctx, full, secrets.AddRequest{}); return err }(), secrets.ErrLimitReached},
		{"secrets", "Add whose answer was lost", outcome(), identity.ErrOutcomeUnknown},
		{"secrets", "Update of nothing", func() error { _, err := sec.Update(ctx, id, 1, secrets.UpdateRequest{}); return err }(), identity.ErrInvalidInput},
		{"secrets", "Delete of a missing secret", sec.Delete(ctx, id, 99), identity.ErrNotFound},
		{"secrets", "Rotate whose Store failed", func() error {
			_, err := sec.Rotate(ctx, id, secrets.RotateRequest{Store: func(context.Context, secrets.Added) error { return errors.New("vault sealed") }})
			return err
		}(), nil},
		{"secrets", "CheckExpiry within < 0", func() error { _, err := sec.CheckExpiry(ctx, id, -time.Hour); return err }(), identity.ErrInvalidInput},

		{"hybridclientstest", "AddUser without a name", func() error { _, err := e.srv.AddUser(hybridclientstest.User{}); return err }(), nil},
		{"hybridclientstest", "SeedSecrets of a bad range", e.srv.SeedSecrets(3, 1, 0), nil},
		{"hybridclientstest", "SignIn at another server", func() error { _, err := e.srv.SignIn(ctx, "https://example.com/", ""); return err }(), nil},
		{"hybridclientstest", "CancelSignIn with a nil ctx", func() error { _, err := e.srv.CancelSignIn(nilCtx, authURL); return err }(), nil},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: no error", c.what)
			continue
		}
		msg := c.err.Error()
		if !strings.HasPrefix(msg, c.pkg+": ") {
			t.Errorf("%s: %q does not start with %q", c.what, msg, c.pkg+": ")
		}
		if n := len(packagePrefix.FindAllString(msg, -1)); n != 1 {
			t.Errorf("%s: %d package prefixes in %q, want 1", c.what, n, msg)
		}
		if c.is != nil && !errors.Is(c.err, c.is) {
			t.Errorf("%s: %v does not match %v", c.what, c.err, c.is)
		}
	}
}

// ownCredentials are Credentials of one's own that ask the SDK's TokenEndpoint for a token
// with a client that does not exist, and keep the error they got.
type ownCredentials struct{ got error }

func (c *ownCredentials) Token(ctx context.Context, req identity.TokenRequest) (*oauth2.Token, error) {
	u, err := req.Endpoint.TokenURL(ctx)
	if err == nil {
		_, err = req.Endpoint.ClientCredentials(ctx, u, uuid.NewString(), identity.NewSecret("not-its-secret"))
	}
	c.got = err
	return nil, err
}

func (c *ownCredentials) Invalidate(*oauth2.Token) {}
