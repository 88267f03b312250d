package hybridclientstest_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// myApp is the code under test: a web application's /login and /callback handlers,
// built on a hybridclients.SignIn.
type myApp struct {
	signIn  *hybridclients.SignIn
	verify  *oidc.IDTokenVerifier
	mu      sync.Mutex
	pending map[string][2]string // state -> nonce and PKCE verifier
}

func newMyApp(ctx context.Context, si *hybridclients.SignIn) (*myApp, error) {
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, si.HTTPClient()), si.Issuer())
	if err != nil {
		return nil, err
	}
	return &myApp{signIn: si, verify: provider.Verifier(&oidc.Config{ClientID: si.ClientID()}), pending: map[string][2]string{}}, nil
}

func (a *myApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/login":
		state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
		authURL, err := a.signIn.AuthCodeURL(state, nonce, verifier)
		if err != nil {
			http.Error(w, "sign-in unavailable", http.StatusInternalServerError)
			return
		}
		a.mu.Lock()
		a.pending[state] = [2]string{nonce, verifier}
		a.mu.Unlock()
		// The cookie ties the answer to this browser.
		http.SetCookie(w, &http.Cookie{Name: "state", Value: state, HttpOnly: true})
		http.Redirect(w, r, authURL, http.StatusFound)
	case "/callback":
		state := r.URL.Query().Get("state")
		c, err := r.Cookie("state")
		a.mu.Lock()
		p, ok := a.pending[state]
		delete(a.pending, state)
		a.mu.Unlock()
		if err != nil || c.Value != state || !ok {
			http.Error(w, "unknown sign-in", http.StatusBadRequest)
			return
		}
		if e := r.URL.Query().Get("error"); e != "" {
			fmt.Fprintf(w, "not signed in (%s)", e) // access_denied: the user pressed Cancel
			return
		}
		tok, err := a.signIn.Exchange(r.Context(), r.URL.Query().Get("code"), p[1])
		if err != nil {
			http.Error(w, "sign-in failed", http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := a.verify.Verify(r.Context(), raw)
		if err != nil || idt.Nonce != p[0] {
			http.Error(w, "invalid ID token", http.StatusBadGateway)
			return
		}
		var claims struct{ Name string }
		_ = idt.Claims(&claims)
		fmt.Fprintf(w, "signed in: %s", claims.Name)
	default:
		http.NotFound(w, r)
	}
}

// Test your own web handler's sign-in against the fake. The redirect URI must be
// registered before the handler can exist (Create needs it; the handler needs the SignIn
// made from the created client), so: make the handler's server unstarted, to know its
// URL; create the client with URL+"/callback"; make the SignIn and the handler; then
// start serving. The fake's SignIn and CancelSignIn play the person at the sign-in page.
// In a test, use NewServer(t, nil) and defer nothing.
func Example_webHandler() {
	srv, err := hybridclientstest.Start(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()

	web := httptest.NewUnstartedServer(nil) // listening already: its address is known
	defer web.Close()
	callback := "http://" + web.Listener.Addr().String() + "/callback"

	clients, err := hybridclients.New(srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	created, err := clients.Create(ctx, hybridclients.CreateRequest{Name: "web", RedirectURIs: []string{callback}})
	if err != nil {
		log.Fatal(err)
	}
	si, err := clients.SignIn(ctx, &created.Client, created.Secret.Value, callback)
	if err != nil {
		log.Fatal(err)
	}
	app, err := newMyApp(ctx, si)
	if err != nil {
		log.Fatal(err)
	}
	web.Config.Handler = app
	web.Start()

	// The browser: a cookie jar, and redirects left to the test.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	visit := func(u string) *http.Response {
		resp, err := browser.Get(u)
		if err != nil {
			log.Fatal(err)
		}
		return resp
	}
	show := func(resp *http.Response) {
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, string(body))
	}

	// Sign in: /login sends the browser to the sign-in page, the user signs in, and the
	// browser comes back to /callback with a code.
	authURL := visit(web.URL + "/login").Header.Get("Location")
	back, err := srv.SignIn(ctx, authURL, hybridclientstest.DefaultUserName)
	if err != nil {
		log.Fatal(err)
	}
	show(visit(back.String()))

	// Press Cancel instead: the browser comes back with error=access_denied.
	authURL = visit(web.URL + "/login").Header.Get("Location")
	back, err = srv.CancelSignIn(ctx, authURL)
	if err != nil {
		log.Fatal(err)
	}
	show(visit(back.String()))
	// Output:
	// 200 signed in: Ada Lovelace
	// 200 not signed in (access_denied)
}
