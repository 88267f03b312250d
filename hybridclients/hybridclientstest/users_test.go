package hybridclientstest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

const callback = "https://web.example.com/callback"

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// webApp is a hybrid client made through the SDK, with an x/oauth2 config for it.
type webApp struct {
	srv    *hybridclientstest.Server
	ctx    context.Context
	id     string
	secret identity.Secret
	conf   *oauth2.Config
}

func newWebApp(t *testing.T, srv *hybridclientstest.Server, req hybridclients.CreateRequest) *webApp {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second}
	ctx := oidc.ClientContext(context.WithValue(t.Context(), oauth2.HTTPClient, hc), hc)
	clients, err := hybridclients.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	req.Name = "web"
	if req.RedirectURIs == nil {
		req.RedirectURIs = []string{callback}
	}
	created, err := clients.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{
		ClientID: created.Client.ID, RedirectURL: callback, Scopes: []string{"openid", "ocsapi"},
		Endpoint: oauth2.Endpoint{
			AuthURL: srv.Issuer() + "/connect/authorize", TokenURL: srv.Issuer() + "/connect/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	return &webApp{srv: srv, ctx: ctx, id: created.Client.ID, secret: created.Secret.Value, conf: conf}
}

// signIn signs user in and redeems the code with secret; it returns the token or the
// redemption's error.
func (w *webApp) signIn(t *testing.T, user string, secret identity.Secret) (*oauth2.Token, error) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	back, err := w.srv.SignIn(w.ctx, w.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("acr_values", "tenant:"+w.srv.TenantID)), user)
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	if back.Query().Get("state") != "s" || back.Query().Get("code") == "" {
		t.Fatalf("sent back without code or state: error %q", back.Query().Get("error"))
	}
	conf := *w.conf
	conf.ClientSecret = secret.Reveal()
	return conf.Exchange(w.ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
}

// oauthError returns the OAuth error code of a failed token request.
func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func TestUsers(t *testing.T) {
	srv := hybridclientstest.NewServer(t, nil)
	users := srv.Users()
	if len(users) != 1 || users[0].Name != hybridclientstest.DefaultUserName || users[0].Email != hybridclientstest.DefaultUserEmail || users[0].Subject == "" {
		t.Fatalf("default users %+v", users)
	}
	grace, err := srv.AddUser(hybridclientstest.User{Name: "Grace Hopper", Email: "grace@example.com",
		Claims: map[string]any{"rank": "Rear Admiral"}, Role: hybridclientstest.RoleAdmin})
	if err != nil || grace.Subject == "" {
		t.Fatalf("AddUser: %+v, %v", grace, err)
	}
	if got := srv.Users(); len(got) != 2 || got[1].Subject != grace.Subject || got[1].Claims["rank"] != "Rear Admiral" || got[1].Role != hybridclientstest.RoleAdmin {
		t.Errorf("Users after AddUser: %+v", got)
	}
	for _, bad := range []hybridclientstest.User{
		{},
		{Name: "x", Claims: map[string]any{"iss": "me"}},
		{Name: "x", Subject: grace.Subject},
	} {
		if _, err := srv.AddUser(bad); err == nil {
			t.Errorf("AddUser(%+v) accepted", bad)
		}
	}

	w := newWebApp(t, srv, hybridclients.CreateRequest{})
	tok, err := w.signIn(t, "grace@example.com", w.secret)
	if err != nil {
		t.Fatal(err)
	}
	provider, err := oidc.NewProvider(w.ctx, srv.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: w.id}).Verify(w.ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Name, Rank string }
	_ = idt.Claims(&claims)
	if idt.Subject != grace.Subject || claims.Name != "Grace Hopper" || claims.Rank != "Rear Admiral" {
		t.Errorf("ID token sub %q name %q rank %q", idt.Subject, claims.Name, claims.Rank)
	}
	// Grace's access token carries her role to the management API.
	cfg := srv.Config()
	cfg.Credentials = identity.NewStaticToken(identity.NewSecret(tok.AccessToken))
	clients, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clients.Get(w.ctx, w.id); err != nil {
		t.Errorf("Grace's token on the API: %v", err)
	}
}

func TestSignInErrors(t *testing.T) {
	srv := hybridclientstest.NewServer(t, nil)
	w := newWebApp(t, srv, hybridclients.CreateRequest{})
	verifier := oauth2.GenerateVerifier()
	authURL := func(redirect string) string {
		conf := *w.conf
		conf.RedirectURL = redirect
		return conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier))
	}

	_, err := srv.SignIn(w.ctx, authURL(callback+"/other"), "")
	var se *hybridclientstest.SignInError
	if !errors.As(err, &se) || se.Code != "unauthorized_client" || se.Status != http.StatusBadRequest || !strings.Contains(se.Description, "redirect_uri") {
		t.Errorf("unregistered redirect URI: %v", err)
	}
	if _, err := srv.SignIn(w.ctx, authURL(callback), "nobody"); err == nil || errors.As(err, &se) {
		t.Errorf("unknown user: %v", err)
	}
	if _, err := srv.SignIn(w.ctx, "http://example.com/identity/connect/authorize", ""); err == nil {
		t.Error("a URL of another server was opened")
	}
	// Errors the fake sends back to the application come back as the URL, not an error.
	conf := *w.conf
	conf.Scopes = []string{"openid", "offline_access"}
	back, err := srv.SignIn(w.ctx, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "")
	if err != nil || back.Query().Get("error") != "invalid_scope" || back.Query().Get("state") != "s" {
		t.Errorf("offline_access without AllowRefreshTokens: %v, error %q", err, back.Query().Get("error"))
	}

	clients, _ := hybridclients.New(srv.Config())
	disabled := false
	if _, err := clients.Update(w.ctx, w.id, hybridclients.UpdateRequest{Enabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SignIn(w.ctx, authURL(callback), ""); !errors.As(err, &se) || se.Code != "unauthorized_client" {
		t.Errorf("disabled client: %v", err)
	}
}

// TestPropagationDelayRotation: with the service's hour of propagation, a rotation without
// grace locks the application out for the hour, one with a longer grace does not.
func TestPropagationDelayRotation(t *testing.T) {
	const delay = time.Hour
	// The fake's clock starts a delay in the past and reaches the SDK's (real) clock when
	// the client has reached sign-in, so that the SDK's grace periods line up with it.
	clk := &clock{t: time.Now().Add(-delay)}
	srv := hybridclientstest.NewServer(t, &hybridclientstest.Options{PropagationDelay: delay, Now: clk.Now, TokenLifetime: 100 * time.Hour})
	w := newWebApp(t, srv, hybridclients.CreateRequest{})
	if _, err := srv.SignIn(w.ctx, w.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), ""); err == nil {
		t.Fatal("a client created just now can sign in despite the delay")
	}
	clk.Add(delay)
	if _, err := w.signIn(t, "", w.secret); err != nil {
		t.Fatalf("after the delay: %v", err)
	}

	clients, _ := hybridclients.New(srv.Config())
	rotate := func(grace time.Duration) identity.Secret {
		t.Helper()
		var stored identity.Secret
		_, err := clients.Secrets().Rotate(w.ctx, w.id, secrets.RotateRequest{
			Grace:        grace,
			RetireAtOnce: grace == 0, // the explicit choice the default protects against
			// The grace alone, as this test shows the fake's propagation: Rotate would
			// otherwise wait for the new secret to work, on a clock this test moves by hand.
			SkipProof: grace != 0,
			Store:     func(_ context.Context, s secrets.Added) error { stored = s.Value; return nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		return stored
	}

	// Without grace: neither secret works until the new one has reached sign-in.
	old := w.secret
	next := rotate(0)
	clk.Add(time.Minute)
	for name, s := range map[string]identity.Secret{"old": old, "new": next} {
		if _, err := w.signIn(t, "", s); oauthError(err) != "invalid_client" {
			t.Errorf("%s secret a minute after a rotation without grace: %v, want invalid_client", name, err)
		}
	}
	clk.Add(delay)
	if _, err := w.signIn(t, "", next); err != nil {
		t.Fatalf("new secret after the delay: %v", err)
	}

	// With a grace longer than the delay, the old secret bridges the hour. The SDK counts
	// the grace by the fake's clock, which the Config carries.
	old = next
	const grace = 4 * delay
	graceEnd := clk.Now().Add(grace)
	next = rotate(grace)
	clk.Add(time.Minute)
	if _, err := w.signIn(t, "", old); err != nil {
		t.Errorf("old secret during the grace: %v", err)
	}
	if _, err := w.signIn(t, "", next); oauthError(err) != "invalid_client" {
		t.Errorf("new secret before the delay: %v, want invalid_client", err)
	}
	clk.Add(delay)
	for name, s := range map[string]identity.Secret{"old": old, "new": next} {
		if _, err := w.signIn(t, "", s); err != nil {
			t.Errorf("%s secret after the delay, within the grace: %v", name, err)
		}
	}
	clk.Add(graceEnd.Sub(clk.Now()) + time.Minute)
	if _, err := w.signIn(t, "", old); oauthError(err) != "invalid_client" {
		t.Errorf("old secret after the grace: %v, want invalid_client", err)
	}
	if _, err := w.signIn(t, "", next); err != nil {
		t.Errorf("new secret after the grace: %v", err)
	}
}

func TestSignInFaultsAndStats(t *testing.T) {
	srv := hybridclientstest.NewServer(t, nil)
	w := newWebApp(t, srv, hybridclients.CreateRequest{})
	remove := srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpToken, Status: http.StatusServiceUnavailable, Times: 1})
	defer remove()
	if _, err := w.signIn(t, "", w.secret); err == nil {
		t.Error("the token fault did not fire")
	}
	if _, err := w.signIn(t, "", w.secret); err != nil {
		t.Errorf("after the one-shot fault: %v", err)
	}
	st := srv.Stats()
	if st.Requests[hybridclientstest.OpAuthorize] != 2 || st.Requests[hybridclientstest.OpSignIn] != 2 {
		t.Errorf("Authorize %d, SignIn %d requests counted, want 2 each", st.Requests[hybridclientstest.OpAuthorize], st.Requests[hybridclientstest.OpSignIn])
	}
}

func TestCancelSignInSendsAccessDeniedBackWithState(t *testing.T) {
	srv := hybridclientstest.NewServer(t, nil)
	w := newWebApp(t, srv, hybridclients.CreateRequest{})
	authURL := func(redirect string) string {
		conf := *w.conf
		conf.RedirectURL = redirect
		return conf.AuthCodeURL("s-cancel", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("acr_values", "tenant:"+srv.TenantID))
	}
	back, err := srv.CancelSignIn(w.ctx, authURL(callback))
	if err != nil {
		t.Fatalf("CancelSignIn: %v", err)
	}
	q := back.Query()
	if got := back.Scheme + "://" + back.Host + back.Path; got != callback {
		t.Errorf("sent back to %s, want %s", got, callback)
	}
	if q.Get("error") != "access_denied" || q.Get("state") != "s-cancel" || q.Has("code") {
		// Never the query itself: it would show a code.
		t.Errorf("sent back with error %q, state %q, a code: %v; want error=access_denied, state=s-cancel and no code", q.Get("error"), q.Get("state"), q.Has("code"))
	}
	// Cancel leaves nothing behind: the next sign-in works.
	if _, err := w.signIn(t, "", w.secret); err != nil {
		t.Errorf("sign-in after a cancelled one: %v", err)
	}
	st := srv.Stats()
	if st.Requests[hybridclientstest.OpAuthorize] != 2 || st.Requests[hybridclientstest.OpSignIn] != 2 {
		t.Errorf("Authorize %d, SignIn %d requests counted, want 2 each (one cancelled)", st.Requests[hybridclientstest.OpAuthorize], st.Requests[hybridclientstest.OpSignIn])
	}

	// What the fake cannot send back is its error page, as for SignIn.
	var se *hybridclientstest.SignInError
	if _, err := srv.CancelSignIn(w.ctx, authURL(callback+"/other")); !errors.As(err, &se) || se.Code != "unauthorized_client" {
		t.Errorf("unregistered redirect URI: %v, want a *SignInError unauthorized_client", err)
	}
	if _, err := srv.CancelSignIn(w.ctx, "http://example.com/identity/connect/authorize"); err == nil || !strings.HasPrefix(err.Error(), "hybridclientstest: CancelSignIn: ") {
		t.Errorf("a URL of another server: %v", err)
	}
}

func TestSignInAndCancelRefuseNilContextAndServer(t *testing.T) {
	srv := hybridclientstest.NewServer(t, nil)
	var nilCtx context.Context
	var nilSrv *hybridclientstest.Server
	for name, call := range map[string]func() error{
		"SignIn nil ctx":       func() error { _, err := srv.SignIn(nilCtx, srv.URL+"/identity/connect/authorize", ""); return err },
		"CancelSignIn nil ctx": func() error { _, err := srv.CancelSignIn(nilCtx, srv.URL+"/identity/connect/authorize"); return err },
		"SignIn nil Server":    func() error { _, err := nilSrv.SignIn(context.Background(), "http://127.0.0.1/x", ""); return err },
		"CancelSignIn zero": func() error {
			_, err := (&hybridclientstest.Server{}).CancelSignIn(context.Background(), "/x")
			return err
		},
		"CancelSignIn nil Server": func() error { _, err := nilSrv.CancelSignIn(context.Background(), "http://127.0.0.1/x"); return err },
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s panicked: %v", name, r)
				}
			}()
			if err := call(); err == nil || !strings.HasPrefix(err.Error(), "hybridclientstest: ") {
				t.Errorf("%s: %v, want an error of hybridclientstest", name, err)
			}
		}()
	}
}
