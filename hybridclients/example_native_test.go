package hybridclients_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"golang.org/x/oauth2"
)

// Register a native (desktop or mobile) app and sign a user in with it, as RFC 8252
// describes: the app opens the authorization URL in the system browser and receives the
// code at its private-use scheme, named after a domain it owns in reverse order, or at a
// loopback address on the port it listens on (registered with that port: the service
// matches exactly). A secret shipped inside an app is no secret; PKCE is what keeps a
// code that another app catches useless. Here the fake's SignIn does what the person
// does in the browser.
func ExampleClient_SignIn_nativeApp() {
	srv, cfg := fakeTenant()
	defer srv.Close()
	clients, err := hybridclients.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	const (
		appRedirect = "com.example.app:/oauth2redirect"
		loopback    = "http://127.0.0.1:8400/callback"
	)
	created, err := clients.Create(ctx, hybridclients.CreateRequest{
		Name:                   "Desktop app",
		RedirectURIs:           []string{appRedirect, loopback},
		PostLogoutRedirectURIs: []string{"com.example.app:/signed-out"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("registered:", created.Client.RedirectURIs)

	// A forgotten "http://" reads as a private-use scheme "localhost": refused, as is
	// any URI no app receives a sign-in at, before anything is sent.
	_, err = clients.Create(ctx, hybridclients.CreateRequest{Name: "Typo", RedirectURIs: []string{"localhost:8400/callback"}})
	for _, ve := range identity.ValidationErrors(err) {
		fmt.Println("refused:", ve.Field, ve.Value)
	}

	si, err := clients.SignIn(ctx, &created.Client, created.Secret.Value, appRedirect)
	if err != nil {
		log.Fatal(err)
	}
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	authURL, err := si.AuthCodeURL(state, nonce, verifier) // PKCE S256
	if err != nil {
		log.Fatal(err)
	}

	// The system browser signs in; the operating system hands the redirect to the app.
	back, err := srv.SignIn(ctx, authURL, "")
	if err != nil {
		log.Fatal(err)
	}
	if back.Query().Get("state") != state {
		log.Fatal("state mismatch")
	}
	fmt.Println("back at:", back.Scheme+":"+back.Path)

	tok, err := si.Exchange(ctx, back.Query().Get("code"), verifier)
	if err != nil {
		log.Fatal(err)
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, si.HTTPClient()), si.Issuer())
	if err != nil {
		log.Fatal(err)
	}
	rawIDToken, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: si.ClientID()}).Verify(ctx, rawIDToken)
	if err != nil || idt.Nonce != nonce {
		log.Fatal("the ID token does not check out: ", err)
	}
	var claims struct {
		Name string `json:"name"`
	}
	if err := idt.Claims(&claims); err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed in:", claims.Name+"; ID token for this client:", idt.Audience[0] == created.Client.ID)
	// Output:
	// registered: [com.example.app:/oauth2redirect http://127.0.0.1:8400/callback]
	// refused: RedirectURIs[0] localhost:8400/callback
	// back at: com.example.app:/oauth2redirect
	// signed in: Ada Lovelace; ID token for this client: true
}
