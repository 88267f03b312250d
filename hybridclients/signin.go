package hybridclients

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/idserver"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/transport"
	"github.com/ocs-go/identity/internal/validate"
	"golang.org/x/oauth2"
)

// Scopes a hybrid client asks for at sign-in: ScopeOpenID and ScopeOCSAPI always,
// ScopeOfflineAccess (a refresh token) only when the client allows refresh tokens.
const (
	ScopeOpenID        = "openid"
	ScopeOCSAPI        = "ocsapi"
	ScopeOfflineAccess = "offline_access"
)

// Endpoints are the identity server's sign-in endpoints, as its OpenID discovery document
// announces them. Each is on the resource's own origin (scheme, host and port).
type Endpoints struct {
	Authorization string // where the browser signs in (authorization_endpoint)
	Token         string // where codes and refresh tokens become tokens (token_endpoint)
	JWKS          string // the keys that sign ID tokens (jwks_uri)
	UserInfo      string // the signed-in user's claims (userinfo_endpoint); may be empty
	EndSession    string // where the browser signs out (end_session_endpoint); may be empty
}

// SignIn signs users in to a server-side web application with one hybrid client: the
// OpenID Connect authorization-code flow with PKCE (S256), for the client's tenant, built
// on golang.org/x/oauth2. Get one from [Client.SignIn] or [DiscoverSignIn].
//
// A SignIn refuses, before any browser sees it, what the identity server would answer with
// its bad-client page: a redirect or post-logout URI that is not registered on the client.
// It holds the client's secret as an identity.Secret, revealed only into the
// oauth2.Config of a token request (and of OAuth2Config), and never prints it: String,
// GoString, every fmt verb, log/slog and encoding/json show [REDACTED] or leave it out.
//
// Verify the ID token that Exchange returns with github.com/coreos/go-oidc/v3 (see the
// example program github.com/ocs-go/identity/examples/signin): the SDK does not check
// JWTs itself. A SignIn is safe for concurrent use.
type SignIn struct {
	// cfg has no ClientSecret: the value is put in a copy at each use (the token requests,
	// OAuth2Config), so that no path of fmt through this struct can reach it;
	// identity.Secret prints safely.
	cfg       oauth2.Config
	secret    identity.Secret
	client    HybridClient // a copy: the registration the checks read
	tenantID  string
	issuer    string
	endpoints Endpoints
	road      *idserver.Road
}

// SignIn discovers the identity server's endpoints (one GET of the resource's OpenID
// discovery document, without a bearer token) and returns the SignIn of the hybrid client
// hc, authenticating with secret (one of hc's current secrets) and receiving codes at
// redirectURI, which must be one of hc.RedirectURIs exactly.
//
// Discovery and the token requests of the SignIn go through the Transport and Timeout of
// the Config's HTTPClient (or the SDK's pooled transport), and nothing else of it: they
// never follow a redirect (a 3xx is an *identity.AuthError) and keep no cookies.
// Discovery is retried after connection errors and 5xx as the Config's Retry says; token
// requests are sent once, as a code is good for one try.
//
// hc is the client as registered: the result of Get, or Created.Client. A disabled
// client, a missing secret or an unregistered redirect URI is an *identity.ValidationError
// (every broken rule at once), and nothing is sent.
func (c *Client) SignIn(ctx context.Context, hc *HybridClient, secret identity.Secret, redirectURI string) (*SignIn, error) {
	v, err := c.signIn(ctx, hc, secret, redirectURI)
	return v, rules.Prefixed(pkgName, err)
}

func (c *Client) signIn(ctx context.Context, hc *HybridClient, secret identity.Secret, redirectURI string) (*SignIn, error) {
	if err := c.ready(); err != nil {
		return nil, err
	}
	return DiscoverSignIn(ctx, c.cfg, hc, secret, redirectURI)
}

// DiscoverSignIn is [Client.SignIn] for an application that has no management
// credentials, only its hybrid client: cfg's Resource, TenantID, HTTPClient, Retry and
// MaxResponseBytes are used, its Credentials are not needed (the secret authenticates the
// application). hc describes the client as registered (its ID, Enabled, RedirectURIs,
// PostLogoutRedirectURIs and AllowRefreshTokens are read); the checks are only as good as
// that description, so pass what Get returned when you can.
func DiscoverSignIn(ctx context.Context, cfg identity.Config, hc *HybridClient, secret identity.Secret, redirectURI string) (*SignIn, error) {
	v, err := discoverSignIn(ctx, cfg, hc, secret, redirectURI)
	return v, rules.Prefixed(pkgName, err)
}

func discoverSignIn(ctx context.Context, cfg identity.Config, hc *HybridClient, secret identity.Secret, redirectURI string) (*SignIn, error) {
	if err := checkSignIn(ctx, cfg, hc, secret, redirectURI); err != nil {
		return nil, err
	}
	road, err := transport.IDServer(cfg)
	if err != nil {
		return nil, err
	}
	doc, err := road.Discover(ctx, idserver.FieldIssuer, idserver.FieldAuthorization, idserver.FieldToken, idserver.FieldJWKS)
	if err != nil {
		return nil, err
	}
	eps := Endpoints{Authorization: doc.Authorization, Token: doc.Token, JWKS: doc.JWKS, UserInfo: doc.UserInfo, EndSession: doc.EndSession}
	s := &SignIn{
		client:    cloneClient(*hc),
		secret:    secret,
		tenantID:  cfg.TenantID,
		issuer:    doc.Issuer,
		endpoints: eps,
		road:      road,
	}
	s.cfg = oauth2.Config{
		ClientID:    hc.ID,
		RedirectURL: redirectURI,
		// Set explicitly: auto-detection tries Basic first and doubles failed requests;
		// the service takes client_id and client_secret in the form body.
		Endpoint: oauth2.Endpoint{AuthURL: eps.Authorization, TokenURL: eps.Token, AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{ScopeOpenID, ScopeOCSAPI},
	}
	if hc.AllowRefreshTokens {
		s.cfg.Scopes = append(s.cfg.Scopes, ScopeOfflineAccess)
	}
	return s, nil
}

func cloneClient(hc HybridClient) HybridClient {
	hc.RedirectURIs = slices.Clone(hc.RedirectURIs)
	hc.PostLogoutRedirectURIs = slices.Clone(hc.PostLogoutRedirectURIs)
	hc.Tags = slices.Clone(hc.Tags)
	return hc
}

// checkSignIn reports every broken rule of DiscoverSignIn's input at once.
func checkSignIn(ctx context.Context, cfg identity.Config, hc *HybridClient, secret identity.Secret, redirectURI string) error {
	var errs []error
	if ctx == nil {
		errs = append(errs, idserver.NilContext())
	}
	if _, p := rules.ResourceURL(cfg.Resource); p != nil {
		errs = append(errs, validate.Problem(p))
	}
	if err := validate.GUID("TenantID", cfg.TenantID); err != nil {
		errs = append(errs, err)
	}
	if secret.IsZero() {
		errs = append(errs, &identity.ValidationError{Field: "Secret", Rule: "must hold one of the client's current secrets", Value: nil})
	}
	if hc == nil {
		errs = append(errs, &identity.ValidationError{Field: "Client", Rule: "must be set", Value: nil})
		return errors.Join(errs...)
	}
	if err := validate.GUID("Client.ID", hc.ID); err != nil {
		errs = append(errs, err)
	}
	if !hc.Enabled {
		errs = append(errs, &identity.ValidationError{Field: "Client.Enabled", Rule: "must be true: a disabled client cannot sign users in", Value: false})
	}
	if !slices.Contains(hc.RedirectURIs, redirectURI) {
		errs = append(errs, &identity.ValidationError{Field: "RedirectURI", Rule: fmt.Sprintf("must be one of the client's RedirectURIs, exactly (registered: %q)", hc.RedirectURIs), Value: redirectURI})
	}
	return errors.Join(errs...)
}

// ready refuses a SignIn that Client.SignIn or DiscoverSignIn did not make: it has no
// endpoints, and its calls would otherwise panic or build relative URLs.
func (s *SignIn) ready() error {
	if s != nil && s.road != nil {
		return nil
	}
	v := "zero SignIn"
	if s == nil {
		v = "nil *SignIn"
	}
	return &identity.ValidationError{Field: "hybridclients.SignIn", Rule: "must be made with Client.SignIn or DiscoverSignIn; a zero or nil SignIn cannot sign anyone in", Value: v}
}

// ClientID is the hybrid client's id: the audience of its ID tokens (give it to
// go-oidc's oidc.Config). Empty for a SignIn not made by Client.SignIn or DiscoverSignIn,
// as are RedirectURI, Issuer and Endpoints.
func (s *SignIn) ClientID() string {
	if s == nil {
		return ""
	}
	return s.cfg.ClientID
}

// RedirectURI is where the identity server sends the browser back with a code.
func (s *SignIn) RedirectURI() string {
	if s == nil {
		return ""
	}
	return s.cfg.RedirectURL
}

// Issuer is the identity server's issuer, as its discovery document spells it: the iss
// of its ID tokens (give it to go-oidc).
func (s *SignIn) Issuer() string {
	if s == nil {
		return ""
	}
	return s.issuer
}

// Endpoints are the discovered sign-in endpoints.
func (s *SignIn) Endpoints() Endpoints {
	if s == nil {
		return Endpoints{}
	}
	return s.endpoints
}

// HTTPClient is the client the SignIn sends its token requests with: the Transport and
// Timeout of the Config's HTTPClient (or the SDK's pooled transport), never following a
// redirect and keeping no cookies; it never carries a bearer token. Hand it to go-oidc
// with oidc.ClientContext, so that discovery and the signing keys are fetched the same
// way: a redirect on the keys' URL then fails the verification instead of letting another
// origin supply the keys. For a SignIn not made by Client.SignIn or DiscoverSignIn, every
// request through it fails.
func (s *SignIn) HTTPClient() *http.Client {
	if err := s.ready(); err != nil {
		return idserver.NewClient(failing{rules.Prefixed(pkgName, err)}, 0)
	}
	return s.road.HTTPClient()
}

// failing is the transport of the HTTPClient of a SignIn that cannot sign anyone in:
// every request fails with the reason, and nothing is sent.
type failing struct{ err error }

func (f failing) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return nil, f.err
}

// OAuth2Config returns a copy of the ready oauth2.Config: the discovered endpoints, the
// client id and secret (AuthStyleInParams), the redirect URI and the scopes. Use it where
// a library wants an *oauth2.Config; its ClientSecret holds the secret's value, so never
// print it. Changing the copy does not change the SignIn, whose own methods keep their
// checks. A SignIn not made by Client.SignIn or DiscoverSignIn returns an empty Config.
func (s *SignIn) OAuth2Config() *oauth2.Config {
	if s.ready() != nil {
		return &oauth2.Config{}
	}
	c := s.cfg
	c.Scopes = slices.Clone(s.cfg.Scopes)
	c.ClientSecret = s.secret.Reveal()
	return &c
}

// AuthCodeURL returns the authorization URL to send the browser to: response_type=code,
// the client id, redirect URI and scopes, state, nonce, the PKCE challenge (S256) of
// verifier, and acr_values=tenant:{TenantID} so the tenant's users sign in.
//
// Make state and nonce fresh and unguessable for each sign-in (crypto/rand.Text), and
// verifier with oauth2.GenerateVerifier; keep all three in the user's session, to check
// state and nonce when the browser comes back and to pass verifier to Exchange.
func (s *SignIn) AuthCodeURL(state, nonce, verifier string) (string, error) {
	v, err := s.authCodeURL(state, nonce, verifier)
	return v, rules.Prefixed(pkgName, err)
}

func (s *SignIn) authCodeURL(state, nonce, verifier string) (string, error) {
	errs := []error{s.ready()}
	if state == "" {
		errs = append(errs, &identity.ValidationError{Field: "State", Rule: "must be set: it ties the answer to this browser's request", Value: state})
	}
	if nonce == "" {
		errs = append(errs, &identity.ValidationError{Field: "Nonce", Rule: "must be set: it ties the ID token to this sign-in", Value: nonce})
	}
	errs = append(errs, checkVerifier(verifier))
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return s.cfg.AuthCodeURL(state,
		oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("nonce", nonce),
		oauth2.SetAuthURLParam("acr_values", "tenant:"+s.tenantID),
	), nil
}

// checkVerifier applies RFC 7636, section 4.1: 43 to 128 characters of [A-Za-z0-9-._~].
// The value is not shown: it is the proof that redeems a code.
func checkVerifier(v string) error {
	ok := len(v) >= 43 && len(v) <= 128 && !strings.ContainsFunc(v, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r))
	})
	if ok {
		return nil
	}
	return &identity.ValidationError{Field: "Verifier", Rule: "must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636); make it with oauth2.GenerateVerifier", Value: fmt.Sprintf("%d characters", len(v))}
}

// Exchange redeems the code the browser brought back to the redirect URI for tokens,
// proving with verifier (the one AuthCodeURL was given) that this application asked for
// it. The token holds the ID token in Extra("id_token"): verify it, and its nonce, with
// go-oidc before trusting who signed in. A refusal of the identity server (a wrong or
// expired secret, a used code, a disabled client) is an *identity.AuthError matching
// identity.ErrUnauthorized (an invalid_client names the client and says to check the
// secret), and so is a redirect, which is never followed (the code, the verifier and the
// secret would go along). No answer at all is an *identity.ConnectionError
// (identity.ErrUnreachable). A code is good for one try, so Exchange does not retry.
func (s *SignIn) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	v, err := s.exchange(ctx, code, verifier)
	return v, rules.Prefixed(pkgName, err)
}

func (s *SignIn) exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	errs := []error{s.ready()}
	if ctx == nil {
		errs = append(errs, idserver.NilContext())
	}
	if code == "" {
		errs = append(errs, &identity.ValidationError{Field: "Code", Rule: "must be set", Value: code})
	}
	errs = append(errs, checkVerifier(verifier))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	tok, err := s.road.Exchange(ctx, s.cfg, s.secret, code, verifier)
	if err != nil {
		return nil, err
	}
	if id, _ := tok.Extra("id_token").(string); id == "" {
		return nil, &identity.ResponseError{StatusCode: http.StatusOK, Method: http.MethodPost, Path: s.tokenPath(), Err: errors.New("no id_token in the token response")}
	}
	return tok, nil
}

// Refresh trades tok's refresh token for a new access token now, whether or not the
// current one has expired. A refresh token exists only when the client allows refresh
// tokens (HybridClient.AllowRefreshTokens, which adds the offline_access scope). The
// answer keeps tok's refresh token when the server sends no new one. A token without a
// refresh token is an error matching ErrNoRefreshToken, a nil one an
// *identity.ValidationError; the identity server's answers give the errors of Exchange. A
// refresh token may be good for one use, so Refresh does not retry. For
// automatic refreshes, use OAuth2Config().TokenSource with an http.Client from HTTPClient
// in the context.
func (s *SignIn) Refresh(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	v, err := s.refresh(ctx, tok)
	return v, rules.Prefixed(pkgName, err)
}

func (s *SignIn) refresh(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	errs := []error{s.ready()}
	if ctx == nil {
		errs = append(errs, idserver.NilContext())
	}
	if tok == nil {
		errs = append(errs, &identity.ValidationError{Field: "Token", Rule: "must be set: the token Exchange (or an earlier Refresh) returned", Value: nil})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if tok.RefreshToken == "" {
		return nil, errNoRefreshToken(s.cfg.Scopes)
	}
	return s.road.Refresh(ctx, s.cfg, s.secret, tok.RefreshToken)
}

// ErrNoRefreshToken is matched (errors.Is) by the error of Refresh when the token holds no
// refresh token. The identity server issues one only when the client allows refresh tokens
// (HybridClient.AllowRefreshTokens, which adds the offline_access scope), and even then a
// tenant may not: the service's API reference notes that refresh tokens are not supported
// for hybrid clients, while the portal offers "Allow Refresh Token". An application that
// asked for offline_access must cope with a token response without one: keep using the
// access token until it expires, then sign the user in again.
var ErrNoRefreshToken = errors.New("no refresh token was issued")

// errNoRefreshToken says why the token may hold none, from the scopes the SignIn asked for.
func errNoRefreshToken(scopes []string) error {
	if slices.Contains(scopes, ScopeOfflineAccess) {
		return fmt.Errorf("%w, although the offline_access scope was asked for (the service may not issue refresh tokens to hybrid clients): sign the user in again when the access token expires", ErrNoRefreshToken)
	}
	return fmt.Errorf("%w: the client does not allow refresh tokens (AllowRefreshTokens), so offline_access was not asked for", ErrNoRefreshToken)
}

// LogoutURL returns the URL of the identity server's end-session endpoint (OpenID Connect
// RP-Initiated Logout 1.0) that signs the browser out and, when postLogoutRedirectURI is
// set, sends it back there with state. postLogoutRedirectURI must be one of the client's
// PostLogoutRedirectURIs exactly, and then idTokenHint (the ID token of the session) must
// be set too: the server redirects only when it can tell which client asks.
func (s *SignIn) LogoutURL(idTokenHint, postLogoutRedirectURI, state string) (string, error) {
	v, err := s.logoutURL(idTokenHint, postLogoutRedirectURI, state)
	return v, rules.Prefixed(pkgName, err)
}

func (s *SignIn) logoutURL(idTokenHint, postLogoutRedirectURI, state string) (string, error) {
	if err := s.ready(); err != nil {
		return "", err
	}
	if s.endpoints.EndSession == "" {
		return "", errors.New("the identity server announces no end_session_endpoint")
	}
	var errs []error
	if postLogoutRedirectURI != "" {
		if !slices.Contains(s.client.PostLogoutRedirectURIs, postLogoutRedirectURI) {
			errs = append(errs, &identity.ValidationError{Field: "PostLogoutRedirectURI",
				Rule:  fmt.Sprintf("must be one of the client's PostLogoutRedirectURIs, exactly (registered: %q)", s.client.PostLogoutRedirectURIs),
				Value: postLogoutRedirectURI})
		}
		if idTokenHint == "" {
			errs = append(errs, &identity.ValidationError{Field: "IDTokenHint", Rule: "must be set with a post-logout redirect URI", Value: ""})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	u, err := url.Parse(s.endpoints.EndSession)
	if err != nil {
		return "", err
	}
	q := u.Query()
	for k, v := range map[string]string{"id_token_hint": idTokenHint, "post_logout_redirect_uri": postLogoutRedirectURI, "state": state} {
		if v != "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func (s *SignIn) tokenPath() string {
	if u, err := url.Parse(s.endpoints.Token); err == nil {
		return u.Path
	}
	return ""
}

// String shows which client signs in, and where, without the secret.
func (s SignIn) String() string {
	if s.cfg.ClientID == "" {
		return "hybridclients.SignIn{}"
	}
	return fmt.Sprintf("hybridclients.SignIn{ClientID: %q, RedirectURI: %q, Issuer: %q, Scopes: %q, Secret: %s}",
		s.cfg.ClientID, s.cfg.RedirectURL, s.issuer, s.cfg.Scopes, identity.Redacted)
}

// GoString makes %#v show the same as String.
func (s SignIn) GoString() string { return s.String() }

// Format writes String for every fmt verb, so no verb can reach the fields. The
// rendering methods have value receivers so that a SignIn value prints safely too.
func (s SignIn) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue makes log/slog record the client id, redirect URI and issuer, and the secret
// as [REDACTED].
func (s SignIn) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", s.cfg.ClientID), slog.String("redirect_uri", s.cfg.RedirectURL),
		slog.String("issuer", s.issuer), slog.String("secret", identity.Redacted))
}

// MarshalJSON encodes the client id, redirect URI, issuer, scopes and the identity
// server's endpoints, and the secret as [REDACTED], never its value.
func (s SignIn) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ClientID, RedirectURI, Issuer string
		Scopes                        []string
		Endpoints                     Endpoints
		Secret                        string
	}{s.cfg.ClientID, s.cfg.RedirectURL, s.issuer, s.cfg.Scopes, s.endpoints, identity.Redacted})
}
