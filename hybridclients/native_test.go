package hybridclients

import (
	"crypto/rand"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"golang.org/x/oauth2"
)

// TestNativeAppSignsInWithPrivateUseAndLoopbackRedirectURIs: a desktop or mobile app
// registers a private-use scheme and a loopback redirect URI (RFC 8252) and signs a user
// in through either with SignIn: PKCE, code and state come back to that URI, the code
// redeems for an ID token whose audience is the client, a code is useless without its
// verifier, and logout returns to a private-use post-logout URI.
func TestNativeAppSignsInWithPrivateUseAndLoopbackRedirectURIs(t *testing.T) {
	const (
		private  = "com.example.app:/oauth2redirect"
		loopback = "http://127.0.0.1:8400/callback"
		signOut  = "com.example.app:/signed-out"
	)
	srv := hybridclientstest.NewServer(t, nil)
	clients, err := New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	created, err := clients.Create(ctx, CreateRequest{Name: "Desktop app", RedirectURIs: []string{private, loopback}, PostLogoutRedirectURIs: []string{signOut}})
	if err != nil {
		t.Fatalf("Create with native redirect URIs: %v", err)
	}
	got, err := clients.Get(ctx, created.Client.ID)
	if err != nil || !slices.Equal(got.RedirectURIs, []string{private, loopback}) || !slices.Equal(got.PostLogoutRedirectURIs, []string{signOut}) {
		t.Fatalf("Get = %+v, %v; want the native URIs registered", got, err)
	}

	for _, redirect := range []string{private, loopback} {
		si, err := clients.SignIn(ctx, got, created.Secret.Value, redirect)
		if err != nil {
			t.Fatalf("SignIn(%s): %v", redirect, err)
		}
		state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
		authURL, err := si.AuthCodeURL(state, nonce, verifier)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(authURL, "code_challenge_method=S256") {
			t.Errorf("%s: the authorization URL asks for no S256 challenge", redirect)
		}
		back, err := srv.SignIn(ctx, authURL, "")
		if err != nil {
			t.Fatalf("%s: the fake's sign-in: %v", redirect, err)
		}
		if !strings.HasPrefix(back.String(), redirect+"?") || back.Query().Get("state") != state || back.Query().Get("code") == "" {
			t.Fatalf("%s: sent back to %s with state %t and a code %t", redirect, back.Redacted(), back.Query().Get("state") == state, back.Query().Get("code") != "")
		}
		tok, err := si.Exchange(ctx, back.Query().Get("code"), verifier)
		if err != nil {
			t.Fatalf("%s: Exchange: %v", redirect, err)
		}
		provider, err := oidc.NewProvider(oidc.ClientContext(ctx, si.HTTPClient()), si.Issuer())
		if err != nil {
			t.Fatal(err)
		}
		rawID, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&oidc.Config{ClientID: created.Client.ID}).Verify(ctx, rawID)
		if err != nil {
			t.Fatalf("%s: the ID token does not verify: %v", redirect, err)
		}
		if !slices.Equal(idt.Audience, []string{created.Client.ID}) || idt.Nonce != nonce {
			t.Errorf("%s: ID token audience %q, nonce matches %t; want the client %s", redirect, idt.Audience, idt.Nonce == nonce, created.Client.ID)
		}

		// A code caught on its way to the app (another app claiming the scheme, a
		// listener on the port) is worth nothing without the verifier.
		authURL, _ = si.AuthCodeURL(state, nonce, verifier)
		back, err = srv.SignIn(ctx, authURL, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := si.Exchange(ctx, back.Query().Get("code"), oauth2.GenerateVerifier()); err == nil {
			t.Errorf("%s: a code redeemed without its verifier", redirect)
		}

		// Logout comes back to the app's private-use URI.
		logout, err := si.LogoutURL(rawID, signOut, state)
		if err != nil {
			t.Fatalf("%s: LogoutURL: %v", redirect, err)
		}
		if loc := firstRedirect(t, logout); !strings.HasPrefix(loc, signOut+"?") || !strings.Contains(loc, "state="+state) {
			t.Errorf("%s: logout sent the browser to %q, want %s?state=...", redirect, loc, signOut)
		}
	}
}

// firstRedirect opens u without following redirects and returns the Location.
func firstRedirect(t *testing.T, u string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	_ = res.Body.Close()
	return res.Header.Get("Location")
}
