package hybridclientstest_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// Create a hybrid client, then sign a user in with it: x/oauth2 builds the authorization
// URL and redeems the code, SignIn plays the person at the sign-in page, go-oidc checks
// the ID token against the fake's keys.
func ExampleServer_SignIn() {
	srv, err := hybridclientstest.Start(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	hc := &http.Client{Timeout: 10 * time.Second}
	ctx := oidc.ClientContext(context.WithValue(context.Background(), oauth2.HTTPClient, hc), hc)

	clients, _ := hybridclients.New(srv.Config())
	created, err := clients.Create(ctx, hybridclients.CreateRequest{
		Name:                "web",
		RedirectURIs:        []string{"https://web.example.com/callback"},
		AccessTokenLifetime: 10 * time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}

	provider, err := oidc.NewProvider(ctx, srv.Issuer())
	if err != nil {
		log.Fatal(err)
	}
	conf := &oauth2.Config{
		ClientID:     created.Client.ID,
		ClientSecret: created.Secret.Value.Reveal(),
		Endpoint:     provider.Endpoint(),
		RedirectURL:  "https://web.example.com/callback",
		Scopes:       []string{oidc.ScopeOpenID, "ocsapi"},
	}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1"),
		oauth2.SetAuthURLParam("acr_values", "tenant:"+srv.TenantID))

	back, err := srv.SignIn(ctx, authURL, hybridclientstest.DefaultUserEmail)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		log.Fatal(err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(ctx, rawID)
	if err != nil {
		log.Fatal(err)
	}
	var claims struct{ Name, Nonce string }
	_ = idt.Claims(&claims)
	fmt.Println("state:", back.Query().Get("state"))
	fmt.Println("signed in:", claims.Name, "nonce:", claims.Nonce)
	fmt.Println("expires in:", tok.ExpiresIn)
	fmt.Println("refresh token:", tok.RefreshToken != "")
	// Output:
	// state: state-1
	// signed in: Ada Lovelace nonce: nonce-1
	// expires in: 600
	// refresh token: false
}
