package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"golang.org/x/oauth2"
)

// appConfig is what the web application needs.
type appConfig struct {
	// SignIn is the hybrid client the application signs users in with.
	SignIn *hybridclients.SignIn
	// PostLogoutURI is where the identity server sends the browser after logout: the
	// application's home page, when it is registered on the client.
	PostLogoutURI string
	// Now is the clock ID tokens are checked against and sessions expire by; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives one record per sign-in, refresh, logout and failure; nil is silent.
	// Records never hold a token.
	Logger *slog.Logger
}

// app is the web application: its pages, and in memory the sign-ins in progress and the
// sessions of signed-in users.
//
// The two are kept apart, each with its own cookie and bound: anyone can start a sign-in
// (GET /login) as often as they like, so pending sign-ins can only ever push out other
// pending sign-ins, never a signed-in user's session.
type app struct {
	cfg      appConfig
	verifier *oidc.IDTokenVerifier
	log      *slog.Logger
	// secure marks the cookies Secure: the redirect URI is https. The request cannot tell,
	// since behind a TLS-terminating proxy it arrives as plain http.
	secure bool
	// askedRefresh: the sign-in asks for offline_access, so a user may try to refresh.
	askedRefresh bool

	mu       sync.Mutex             // guards the stores and the sessions in them
	pending  *store[*pendingSignIn] // by the id in pendingCookie
	sessions *store[*session]       // by the id in sessionCookie
}

// pendingSignIn is a sign-in between /login and /callback: what the answer must match.
type pendingSignIn struct {
	state, nonce, verifier string
}

// Format keeps the verifier, which redeems the code, out of every fmt verb and slog record.
func (pendingSignIn) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, "pendingSignIn{[REDACTED]}")
}

// session is a signed-in user, found by the random id in the browser's session cookie.
// The tokens never leave the server.
type session struct {
	token     *oauth2.Token
	idToken   string // raw, for the logout's id_token_hint
	name      string
	email     string
	subject   string
	refreshes int
	notice    string // shown once, on the next page
}

// Format keeps the tokens out of every fmt verb and slog record.
func (session) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "session{[REDACTED]}") }

const (
	// The pending sign-in's cookie goes only to /callback; the session's everywhere.
	pendingCookie = "signin_pending"
	sessionCookie = "signin_session"
	// Between logout and the identity server's redirect back: the logout's state, so that
	// the home page can say the user is signed out.
	signedOutCookie = "signin_signed_out"

	maxPending  = 10000
	pendingTTL  = 10 * time.Minute // a sign-in not finished by then starts over
	maxSessions = 10000            // past it, the least recently active user is signed out
	sessionIdle = 12 * time.Hour   // a session unused this long is forgotten
	logoutTTL   = 10 * time.Minute // how long the signed-out notice waits for the way back
)

// newApp returns the application's handler. ctx bounds the application's life: go-oidc
// fetches the identity server's keys with it, through the SignIn's HTTP client.
func newApp(ctx context.Context, cfg appConfig) (http.Handler, error) {
	if cfg.SignIn == nil {
		return nil, errors.New("newApp: SignIn is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	si := cfg.SignIn
	eps := si.Endpoints()
	// The SDK discovered and checked the endpoints; go-oidc checks the ID tokens with them.
	provider := (&oidc.ProviderConfig{
		IssuerURL: si.Issuer(), AuthURL: eps.Authorization, TokenURL: eps.Token,
		JWKSURL: eps.JWKS, UserInfoURL: eps.UserInfo, Algorithms: []string{oidc.RS256},
	}).NewProvider(oidc.ClientContext(ctx, si.HTTPClient()))
	a := &app{
		cfg:          cfg,
		verifier:     provider.Verifier(&oidc.Config{ClientID: si.ClientID(), Now: cfg.Now}),
		log:          cfg.Logger,
		secure:       isHTTPS(si.RedirectURI()),
		askedRefresh: asksForRefreshTokens(si),
		pending:      newStore[*pendingSignIn](maxPending, pendingTTL, cfg.Now),
		sessions:     newStore[*session](maxSessions, sessionIdle, cfg.Now),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("POST /refresh", a.refresh)
	mux.HandleFunc("POST /logout", a.logout)
	return securityHeaders(mux), nil
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// session returns the browser's session and its id, or nil.
func (a *app) session(r *http.Request) (string, *session) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s, _ := a.sessions.get(c.Value)
	return c.Value, s
}

func isHTTPS(uri string) bool {
	u, err := url.Parse(uri)
	return err == nil && u.Scheme == "https"
}

// setCookie sets (maxAge > 0, or 0 for the browser's session) or clears (maxAge < 0) one of
// the application's cookies. Lax: the identity server's redirect back to /callback is a
// top-level navigation that must carry them; a cross-site POST to /refresh or /logout must not.
func (a *app) setCookie(w http.ResponseWriter, name, value, path string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
}

// startSignIn keeps p until the browser comes back to /callback, under a new id in the
// pending cookie.
func (a *app) startSignIn(w http.ResponseWriter, p *pendingSignIn) {
	id := rand.Text()
	a.mu.Lock()
	a.pending.put(id, p)
	a.mu.Unlock()
	a.setCookie(w, pendingCookie, id, "/callback", int(pendingTTL/time.Second))
}

// takeSignIn ends the browser's sign-in in progress and returns it, or nil: an answer is
// read once.
func (a *app) takeSignIn(w http.ResponseWriter, r *http.Request) *pendingSignIn {
	c, err := r.Cookie(pendingCookie)
	if err != nil {
		return nil
	}
	a.setCookie(w, pendingCookie, "", "/callback", -1)
	a.mu.Lock()
	defer a.mu.Unlock()
	p, _ := a.pending.take(c.Value)
	return p
}

// newSession signs the browser in with s under a new id: never one the browser brought
// (which someone else may have planted in it to share the session), and replacing any
// session it had.
func (a *app) newSession(w http.ResponseWriter, r *http.Request, s *session) {
	id := rand.Text()
	a.mu.Lock()
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.sessions.take(c.Value)
	}
	a.sessions.put(id, s)
	a.mu.Unlock()
	a.setCookie(w, sessionCookie, id, "/", 0)
}

func (a *app) endSession(w http.ResponseWriter, id string) {
	a.mu.Lock()
	a.sessions.take(id)
	a.mu.Unlock()
	a.setCookie(w, sessionCookie, "", "/", -1)
}

// home shows the Sign in link, or who is signed in.
func (a *app) home(w http.ResponseWriter, r *http.Request) {
	_, s := a.session(r)
	if s == nil {
		var view struct{ Notice string }
		if a.backFromLogout(w, r) {
			view.Notice = "You are signed out, here and at the identity server."
		}
		render(w, http.StatusOK, homePage, view)
		return
	}
	a.mu.Lock()
	view := signedInView{
		Name: s.name, Email: s.email, Subject: s.subject,
		Lifetime:        s.token.ExpiresIn,
		Expires:         s.token.Expiry.Format(time.RFC3339),
		HasRefreshToken: s.token.RefreshToken != "",
		AskedRefresh:    a.askedRefresh,
		Refreshes:       s.refreshes,
		ClientID:        a.cfg.SignIn.ClientID(),
		Notice:          s.notice,
	}
	s.notice = ""
	a.mu.Unlock()
	render(w, http.StatusOK, signedInPage, view)
}

// backFromLogout reports whether the identity server has just sent the browser back from
// this application's logout (the state it carries is the logout's), and forgets that logout.
func (a *app) backFromLogout(w http.ResponseWriter, r *http.Request) bool {
	c, err := r.Cookie(signedOutCookie)
	state := r.URL.Query().Get("state")
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(c.Value)) != 1 {
		return false
	}
	a.setCookie(w, signedOutCookie, "", "/", -1)
	return true
}

// login starts a sign-in: fresh state, nonce and PKCE verifier kept for the callback,
// then off to the identity server.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	p := &pendingSignIn{state: rand.Text(), nonce: rand.Text(), verifier: oauth2.GenerateVerifier()}
	u, err := a.cfg.SignIn.AuthCodeURL(p.state, p.nonce, p.verifier)
	if err != nil {
		a.fail(w, http.StatusInternalServerError, "cannot start the sign-in", err)
		return
	}
	a.startSignIn(w, p)
	http.Redirect(w, r, u, http.StatusFound)
}

// asksForRefreshTokens reports whether the sign-in asks for offline_access, which it does
// when the client allows refresh tokens: read from an authorization URL of its own.
func asksForRefreshTokens(si *hybridclients.SignIn) bool {
	authURL, err := si.AuthCodeURL(rand.Text(), rand.Text(), oauth2.GenerateVerifier())
	if err != nil {
		return false
	}
	u, err := url.Parse(authURL)
	return err == nil && slices.Contains(strings.Fields(u.Query().Get("scope")), hybridclients.ScopeOfflineAccess)
}

// callback is where the identity server sends the browser back: check state, redeem the
// code with the verifier, verify the ID token and its nonce, then sign the browser in
// under a new session id.
func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	p := a.takeSignIn(w, r)
	q := r.URL.Query()
	switch {
	case p == nil:
		a.fail(w, http.StatusBadRequest, "no sign-in in progress in this browser (or it took longer than "+pendingTTL.String()+"): start again from the home page", nil)
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(p.state)) != 1:
		a.fail(w, http.StatusBadRequest, "the answer's state does not match this browser's sign-in", nil)
		return
	case q.Get("error") != "":
		a.fail(w, http.StatusForbidden, "the identity server refused the sign-in", refusal{q.Get("error"), q.Get("error_description")})
		return
	}
	tok, err := a.cfg.SignIn.Exchange(r.Context(), q.Get("code"), p.verifier)
	if err != nil {
		a.fail(w, http.StatusBadGateway, "the identity server did not redeem the code", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, claims, err := a.checkIDToken(r.Context(), raw, tok, p.nonce)
	if err != nil {
		a.fail(w, http.StatusBadGateway, "the ID token does not check out", err)
		return
	}
	a.newSession(w, r, &session{token: tok, idToken: raw, subject: idt.Subject, name: claims.Name, email: claims.Email})
	a.log.Info("signed in", "subject", idt.Subject, "expires_in", tok.ExpiresIn, "can_refresh", tok.RefreshToken != "")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// refusal is the identity server's error answer at the redirect URI (RFC 6749, 4.1.2.1).
type refusal struct{ code, description string }

func (e refusal) Error() string {
	if e.description == "" {
		return e.code
	}
	return e.code + ": " + e.description
}

// idClaims are the ID token's claims the application shows.
type idClaims struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// checkIDToken verifies the ID token raw (signature, issuer, audience, expiry), that it
// carries this sign-in's nonce and, when it has at_hash, that it goes with tok's access
// token; then it reads its claims.
func (a *app) checkIDToken(ctx context.Context, raw string, tok *oauth2.Token, nonce string) (*oidc.IDToken, idClaims, error) {
	var claims idClaims
	idt, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, claims, err
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, claims, errors.New("the ID token's nonce is not this sign-in's")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, claims, err
		}
	}
	err = idt.Claims(&claims)
	return idt, claims, err
}

// refresh trades the session's refresh token for a new access token. Without one (the
// service may issue none to hybrid clients), the user stays signed in and is told why.
func (a *app) refresh(w http.ResponseWriter, r *http.Request) {
	_, s := a.session(r)
	if s == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	a.mu.Lock()
	old, subject := s.token, s.subject
	a.mu.Unlock()
	tok, err := a.cfg.SignIn.Refresh(r.Context(), old)
	if errors.Is(err, hybridclients.ErrNoRefreshToken) {
		a.log.Info("cannot refresh", "subject", subject, "error", err)
		notice := "Cannot refresh: no refresh token was issued at sign-in (the service may not issue them to hybrid clients). " +
			"You stay signed in; for a new access token, sign in again"
		if !old.Expiry.IsZero() {
			notice += " when this one expires (" + old.Expiry.Format(time.RFC3339) + ")"
		}
		a.mu.Lock()
		s.notice = notice + "."
		a.mu.Unlock()
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if err == nil {
		err = a.checkRefreshedIDToken(r.Context(), tok, subject)
	}
	if err != nil {
		a.fail(w, http.StatusBadGateway, "the refresh failed", err)
		return
	}
	a.mu.Lock()
	s.token = tok
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		s.idToken = raw
	}
	s.refreshes++
	a.mu.Unlock()
	a.log.Info("refreshed", "subject", subject, "expires_in", tok.ExpiresIn)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// checkRefreshedIDToken verifies the ID token a refresh may bring: same issuer, audience
// and subject (OpenID Connect Core 1.0, section 12.2); it has no nonce.
func (a *app) checkRefreshedIDToken(ctx context.Context, tok *oauth2.Token, subject string) error {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil
	}
	idt, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		return err
	}
	if idt.Subject != subject {
		return errors.New("the refreshed ID token is for another subject")
	}
	return nil
}

// logout ends the session here and at the identity server, which sends the browser back
// to PostLogoutURI when that is registered on the client. When it is not, the SDK says so
// before the browser goes anywhere, and the browser is signed out without coming back.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	id, s := a.session(r)
	if s == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	a.mu.Lock()
	hint := s.idToken
	a.mu.Unlock()
	a.endSession(w, id)
	state := rand.Text()
	u, err := a.cfg.SignIn.LogoutURL(hint, a.cfg.PostLogoutURI, state)
	switch {
	case errors.Is(err, identity.ErrInvalidInput):
		a.log.Warn("logout without coming back", "error", err)
		u, err = a.cfg.SignIn.LogoutURL(hint, "", "")
	case err == nil && a.cfg.PostLogoutURI != "":
		a.setCookie(w, signedOutCookie, state, "/", int(logoutTTL/time.Second))
	}
	if err != nil {
		a.fail(w, http.StatusInternalServerError, "signed out here, but not at the identity server", err)
		return
	}
	http.Redirect(w, r, u, http.StatusFound)
}

// fail shows the error page. err goes to the page and the log: the SDK's errors never
// hold a secret or a token. The identity server's refusals are logged with their code.
func (a *app) fail(w http.ResponseWriter, status int, what string, err error) {
	attrs := []any{"what", what}
	detail := ""
	if err != nil {
		detail = err.Error()
		attrs = append(attrs, "error", detail)
	}
	var rf refusal
	if errors.As(err, &rf) {
		attrs = append(attrs, "code", rf.code)
	}
	a.log.Warn("sign-in failed", attrs...)
	render(w, status, errorPage, struct{ What, Detail string }{what, detail})
}

func render(w http.ResponseWriter, status int, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.Execute(w, data); err != nil {
		fmt.Fprintf(w, "<p>rendering failed</p>")
	}
}

type signedInView struct {
	Name, Email, Subject, Expires, ClientID string
	Lifetime                                int64
	HasRefreshToken                         bool
	AskedRefresh                            bool // show the Refresh button
	Refreshes                               int
	Notice                                  string
}

const style = `<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1rem}dt{color:#666}
dd{margin:0}form{display:inline}button,a.button{font:inherit;padding:.4rem .9rem;margin-right:.5rem;border:1px solid #1a5fb4;
border-radius:4px;background:#1a5fb4;color:#fff;text-decoration:none;cursor:pointer}
.error{border-left:4px solid #c01c28;padding:.5rem 1rem;background:#fbeaea}
.notice{border-left:4px solid #1a5fb4;padding:.5rem 1rem;background:#eaf1fb}</style>`

var (
	homePage = template.Must(template.New("home").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign-in example</title>` + style + `</head><body>
<h1>Sign-in example</h1>
{{if .Notice}}<p id="notice" class="notice" role="status">{{.Notice}}</p>{{end}}
<p>This web application signs you in with a hybrid client of CONNECT data services.</p>
<p><a class="button" id="signin" href="/login">Sign in</a></p>
</body></html>`))

	signedInPage = template.Must(template.New("signedin").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Signed in</title>` + style + `</head><body>
<h1>Signed in as <span id="user-name">{{.Name}}</span></h1>
{{if .Notice}}<p id="notice" class="notice" role="status">{{.Notice}}</p>{{end}}
<dl>
<dt>Email</dt><dd id="user-email">{{.Email}}</dd>
<dt>Subject</dt><dd id="user-subject">{{.Subject}}</dd>
<dt>Access token lifetime</dt><dd><span id="token-lifetime">{{.Lifetime}}</span> s (expires {{.Expires}})</dd>
<dt>Refresh token</dt><dd id="refresh-token">{{if .HasRefreshToken}}yes{{else if .AskedRefresh -}}
none: no refresh token was issued, although offline_access was asked for (the service may not issue them to hybrid clients)
{{- else}}none (the client does not allow refresh tokens){{end}}</dd>
<dt>Refreshes</dt><dd id="refresh-count">{{.Refreshes}}</dd>
<dt>Client</dt><dd id="client-id">{{.ClientID}}</dd>
</dl>
<p>{{if .AskedRefresh}}<form method="post" action="/refresh"><button id="refresh">Refresh</button></form>{{end}}
<form method="post" action="/logout"><button id="logout">Logout</button></form></p>
</body></html>`))

	errorPage = template.Must(template.New("error").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign-in failed</title>` + style + `</head><body>
<h1>Sign-in failed</h1>
<div class="error"><p id="app-error">{{.What}}</p>{{if .Detail}}<p id="app-error-detail">{{.Detail}}</p>{{end}}</div>
<p><a href="/">Home</a></p>
</body></html>`))
)
