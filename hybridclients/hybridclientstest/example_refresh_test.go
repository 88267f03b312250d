package hybridclientstest_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"

	"golang.org/x/oauth2"

	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// Test that your application copes with a token response without a refresh token, which
// a tenant may answer although the client allows refresh tokens: the fake withholds them
// on request, and SignIn.Refresh says so with hybridclients.ErrNoRefreshToken.
func ExampleOptions_withholdRefreshTokens() {
	srv, err := hybridclientstest.Start(&hybridclientstest.Options{WithholdRefreshTokens: true})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	clients, _ := hybridclients.New(srv.Config())
	created, err := clients.Create(ctx, hybridclients.CreateRequest{
		Name:               "web",
		RedirectURIs:       []string{"https://web.example.com/callback"},
		AllowRefreshTokens: true, // so the sign-in asks for offline_access
	})
	if err != nil {
		log.Fatal(err)
	}
	si, err := clients.SignIn(ctx, &created.Client, created.Secret.Value, "https://web.example.com/callback")
	if err != nil {
		log.Fatal(err)
	}
	verifier := oauth2.GenerateVerifier()
	authURL, err := si.AuthCodeURL(rand.Text(), rand.Text(), verifier)
	if err != nil {
		log.Fatal(err)
	}
	back, err := srv.SignIn(ctx, authURL, hybridclientstest.DefaultUserName)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := si.Exchange(ctx, back.Query().Get("code"), verifier)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("granted:", tok.Extra("scope"))
	fmt.Println("refresh token:", tok.RefreshToken != "")
	_, err = si.Refresh(ctx, tok)
	fmt.Println("ErrNoRefreshToken:", errors.Is(err, hybridclients.ErrNoRefreshToken))
	// Output:
	// granted: ocsapi offline_access openid
	// refresh token: false
	// ErrNoRefreshToken: true
}
