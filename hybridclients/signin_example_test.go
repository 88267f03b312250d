package hybridclients_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/ocs-go/identity/hybridclients"
	"golang.org/x/oauth2"
)

// Sign a user in with a hybrid client you created: the SDK builds the authorization URL
// (PKCE S256, nonce, the tenant) and redeems the code; go-oidc checks the ID token. In a
// web application, the steps below are its /login and /callback handlers (see
// examples/signin); here the fake's SignIn does what the person does in the browser.
func ExampleClient_SignIn() {
	srv, cfg := fakeTenant()
	defer srv.Close()
	clients, err := hybridclients.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	const callback = "http://127.0.0.1:5000/callback"
	created, err := clients.Create(ctx, hybridclients.CreateRequest{
		Name:                   "Web app",
		AllowRefreshTokens:     true,
		RedirectURIs:           []string{callback},
		PostLogoutRedirectURIs: []string{"http://127.0.0.1:5000/"},
		AccessTokenLifetime:    20 * time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}

	si, err := clients.SignIn(ctx, &created.Client, created.Secret.Value, callback)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("scopes:", si.OAuth2Config().Scopes)

	// /login: fresh state, nonce and PKCE verifier, kept in the user's session.
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	authURL, err := si.AuthCodeURL(state, nonce, verifier)
	if err != nil {
		log.Fatal(err)
	}

	// The browser signs in and comes back to the callback with a code.
	back, err := srv.SignIn(ctx, authURL, "Ada Lovelace")
	if err != nil {
		log.Fatal(err)
	}
	if back.Query().Get("state") != state {
		log.Fatal("state mismatch")
	}

	// /callback: redeem the code with the verifier, then check the ID token and its nonce.
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
	fmt.Printf("signed in: %s; access token lifetime %d s; refresh token: %v\n", claims.Name, tok.ExpiresIn, tok.RefreshToken != "")

	// Logout goes only to a registered post-logout URI; the SDK refuses others up front.
	_, err = si.LogoutURL(rawIDToken, "http://127.0.0.1:5000/bye", "")
	fmt.Println(err)
	// Output:
	// scopes: [openid ocsapi offline_access]
	// signed in: Ada Lovelace; access token lifetime 1200 s; refresh token: true
	// hybridclients: invalid PostLogoutRedirectURI: must be one of the client's PostLogoutRedirectURIs, exactly (registered: ["http://127.0.0.1:5000/"]) (got "http://127.0.0.1:5000/bye")
}
