package identity

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TokenRequest is what the SDK's transport gives Credentials to fetch a token with. You
// need it only to implement Credentials yourself; the SDK's own credentials and the
// transport build and read it for you.
type TokenRequest struct {
	// Resource is the service's base URL (Config.Resource, resolved).
	Resource *url.URL
	// HTTPClient makes discovery and token requests. It carries no bearer token, retries
	// transient failures, and never retries a 4xx answer of the token endpoint. The SDK's
	// credentials never follow a redirect with it, whatever its CheckRedirect says.
	HTTPClient *http.Client
}

// errNilContext is returned instead of a panic when a call is given a nil context (a new
// value each time: a caller may change what it gets).
func errNilContext() error {
	return &ValidationError{Field: "Ctx", Rule: "must not be nil (use context.Background())", Value: nil}
}

// Credentials supply the bearer token of every call. Use NewClientCredentials,
// NewTokenSource or NewStaticToken. Each caches its token: every client made from Configs
// that share one Credentials value shares one token, fetched one at a time and refreshed
// shortly before it expires. ClientCredentials keep one token per Resource, so Configs of
// different hosts that share it never send one host's token to the other.
type Credentials interface {
	// Token returns a token that is valid now, fetching one when the cached one is missing
	// or about to expire.
	Token(ctx context.Context, req TokenRequest) (*oauth2.Token, error)
	// Invalidate drops rejected when it is the cached token, so that the next Token call
	// fetches a new one. The transport calls it when the service answers 401; you need it
	// only to implement Credentials yourself (a source that cannot refresh may do nothing).
	Invalidate(rejected *oauth2.Token)
}

// tokenCache shares one token among concurrent callers. Readers of a fresh token take no
// lock. One fetch runs at a time; while a still-valid token is being refreshed early, other
// callers keep using it instead of waiting.
type tokenCache struct {
	fetch func(ctx context.Context, req TokenRequest) (*oauth2.Token, error)
	cur   atomic.Pointer[cachedToken]
	slot  chan struct{} // capacity 1: whoever holds it fetches
}

type cachedToken struct {
	tok       *oauth2.Token
	refreshAt time.Time     // zero: never refresh (no expiry)
	skew      time.Duration // how long before its expiry the token is no longer sent
}

// expirySkew is how long before its expiry a token is no longer sent, at most: it must
// survive the trip to the service. A short-lived token gets a tenth of its lifetime, so
// that a token of a few seconds is still used rather than fetched again for every call.
const expirySkew = 5 * time.Second

func newTokenCache(fetch func(context.Context, TokenRequest) (*oauth2.Token, error)) *tokenCache {
	return &tokenCache{fetch: fetch, slot: make(chan struct{}, 1)}
}

func (ct *cachedToken) fresh(now time.Time) bool {
	return ct.usable(now) && (ct.refreshAt.IsZero() || now.Before(ct.refreshAt))
}

func (ct *cachedToken) usable(now time.Time) bool {
	return ct != nil && (ct.tok.Expiry.IsZero() || now.Before(ct.tok.Expiry.Add(-ct.skew)))
}

func (c *tokenCache) Token(ctx context.Context, req TokenRequest) (*oauth2.Token, error) {
	if ctx == nil {
		return nil, errNilContext()
	}
	now := time.Now()
	cur := c.cur.Load()
	if cur.fresh(now) {
		return cur.tok, nil
	}
	if cur.usable(now) {
		// In the early-refresh window: refresh if nobody else is, else keep using it.
		select {
		case c.slot <- struct{}{}:
		default:
			return cur.tok, nil
		}
	} else {
		select {
		case c.slot <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	defer func() { <-c.slot }()
	if again := c.cur.Load(); again != cur && again.fresh(time.Now()) {
		return again.tok, nil // fetched by the previous holder of the slot
	}
	tok, err := c.fetch(ctx, req)
	if err == nil && (tok == nil || tok.AccessToken == "") {
		err = errors.New("identity: token source returned an empty token")
	}
	if err == nil && !tok.Expiry.IsZero() && !time.Now().Before(tok.Expiry) {
		err = errors.New("identity: token source returned an expired token")
	}
	if err != nil {
		if cur.usable(time.Now()) {
			return cur.tok, nil // the early refresh failed; the old token still works
		}
		return nil, err
	}
	next := &cachedToken{tok: tok}
	if !tok.Expiry.IsZero() {
		// Refresh a quarter of the lifetime early, at most a minute early.
		life := time.Until(tok.Expiry)
		next.skew = min(expirySkew, life/10)
		next.refreshAt = tok.Expiry.Add(-min(life/4, time.Minute))
	}
	c.cur.Store(next)
	return tok, nil
}

func (c *tokenCache) Invalidate(rejected *oauth2.Token) {
	cur := c.cur.Load()
	if cur != nil && rejected != nil && cur.tok.AccessToken == rejected.AccessToken {
		c.cur.CompareAndSwap(cur, nil)
	}
}

// ClientCredentials signs in as a client-credential client with the OAuth2
// client-credentials grant. The token endpoint is found through the resource's OpenID
// discovery document on first use (and must be on the resource's host), unless
// ClientCredentialsOptions.TokenURL names it. client_id and client_secret travel in the
// form body, as the service expects.
//
// One ClientCredentials value may serve Configs of several Resources: it keeps a token
// per Resource (its scheme and host), and a token is only ever sent to the Resource it
// was fetched for. Discovery and token requests never follow a redirect: the secret goes
// to the endpoint named, or nowhere.
type ClientCredentials struct {
	clientID string
	secret   Secret
	tokenURL string

	mu         sync.Mutex
	discovered map[string]string      // resource -> token endpoint
	caches     map[string]*tokenCache // resource origin -> its token
	last       atomic.Pointer[resourceCache]
}

// resourceCache is the token cache used last and the Resource it was for: a transport
// passes the same *url.URL with every call, so most calls find their cache without a lock.
type resourceCache struct {
	res *url.URL
	tc  *tokenCache
}

// ClientCredentialsOptions are the optional settings of NewClientCredentials.
type ClientCredentialsOptions struct {
	// TokenURL skips discovery and sends token requests here. The client secret travels
	// to it, so it follows the rules of Config.Resource: https (plain http only on a
	// loopback host), no user info, no query, no fragment. Config.Validate checks it.
	TokenURL string
}

// NewClientCredentials returns Credentials for a client-credential client. It makes no
// network call; Config.Validate (called by every constructor that takes a Config) checks
// ClientCredentialsOptions.TokenURL.
func NewClientCredentials(clientID string, secret Secret, opts *ClientCredentialsOptions) *ClientCredentials {
	c := &ClientCredentials{clientID: clientID, secret: secret}
	if opts != nil {
		c.tokenURL = opts.TokenURL
	}
	return c
}

// validate checks TokenURL, without a network call: the secret travels there, so the
// rules of Resource apply (a path is expected). A missing client id or secret is reported
// by the first token request, as an environment variable may be filled in later.
func (c *ClientCredentials) validate() error {
	if c.tokenURL == "" {
		return nil
	}
	_, err := checkURL("TokenURL", c.tokenURL, c.tokenURL)
	return err
}

// Token returns a token for req.Resource, fetching one when the cached one of that
// Resource is missing or about to expire. It implements Credentials: the SDK calls it.
func (c *ClientCredentials) Token(ctx context.Context, req TokenRequest) (*oauth2.Token, error) {
	if c == nil {
		return nil, &ValidationError{Field: "Credentials", Rule: "must not be a nil pointer", Value: "*identity.ClientCredentials(nil)"}
	}
	if ctx == nil {
		return nil, errNilContext()
	}
	if req.Resource == nil || req.HTTPClient == nil {
		return nil, &ValidationError{Field: "TokenRequest", Rule: "needs a Resource and an HTTPClient", Value: nil}
	}
	return c.cacheFor(req.Resource).Token(ctx, req)
}

// Invalidate drops rejected from whichever Resource's cache holds it. It implements
// Credentials: the SDK calls it on a 401.
func (c *ClientCredentials) Invalidate(rejected *oauth2.Token) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tc := range c.caches {
		tc.Invalidate(rejected)
	}
}

// cacheFor returns the token cache of res's origin (scheme and host): a token fetched for
// one host is never sent to another.
func (c *ClientCredentials) cacheFor(res *url.URL) *tokenCache {
	if l := c.last.Load(); l != nil && l.res == res {
		return l.tc
	}
	key := strings.ToLower(res.Scheme) + "://" + strings.ToLower(res.Host)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caches == nil {
		c.caches = map[string]*tokenCache{}
	}
	tc := c.caches[key]
	if tc == nil {
		tc = newTokenCache(c.fetch)
		c.caches[key] = tc
	}
	c.last.Store(&resourceCache{res: res, tc: tc})
	return tc
}

// String names the client without its secret.
func (c *ClientCredentials) String() string {
	return fmt.Sprintf("ClientCredentials{ClientID: %q, Secret: %s}", c.clientID, Redacted)
}

// GoString makes %#v show the same as String.
func (c *ClientCredentials) GoString() string { return c.String() }

func (c *ClientCredentials) fetch(ctx context.Context, req TokenRequest) (*oauth2.Token, error) {
	if c.clientID == "" || c.secret.IsZero() {
		return nil, &ValidationError{Field: "Credentials", Rule: "client credentials need a client id and a secret", Value: c.clientID}
	}
	// Checked again here: Credentials may be used without a Config.
	if err := c.validate(); err != nil {
		return nil, err
	}
	req.HTTPClient = noRedirects(req.HTTPClient)
	tokenURL, err := c.endpoint(ctx, req)
	if err != nil {
		return nil, err
	}
	cc := clientcredentials.Config{
		ClientID:     c.clientID,
		ClientSecret: c.secret.Reveal(),
		TokenURL:     tokenURL,
		// Set explicitly: auto-detection tries Basic first and doubles failed requests.
		AuthStyle: oauth2.AuthStyleInParams,
	}
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, req.HTTPClient))
	if err != nil {
		return nil, tokenError(tokenURL, err)
	}
	return tok, nil
}

// endpoint returns the token endpoint for req.Resource, discovering it once.
func (c *ClientCredentials) endpoint(ctx context.Context, req TokenRequest) (string, error) {
	if c.tokenURL != "" {
		return c.tokenURL, nil
	}
	key := req.Resource.String()
	c.mu.Lock()
	ep, ok := c.discovered[key]
	c.mu.Unlock()
	if ok {
		return ep, nil
	}
	ep, err := discover(ctx, req)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.discovered == nil {
		c.discovered = map[string]string{}
	}
	c.discovered[key] = ep
	c.mu.Unlock()
	return ep, nil
}

// discover reads the OpenID configuration of the resource and returns its token endpoint,
// which must be on the resource's own scheme and host: the client secret is sent there.
func discover(ctx context.Context, req TokenRequest) (string, error) {
	u := req.Resource.JoinPath("identity", ".well-known", "openid-configuration").String()
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	hr.Header.Set("Accept", "application/json")
	resp, err := req.HTTPClient.Do(hr)
	if err != nil {
		return "", connectionError(http.MethodGet, hr.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", &ConnectionError{Method: http.MethodGet, Path: hr.URL.Path, Sent: true, Err: err}
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return "", redirectRefused("OpenID discovery", u, resp)
	}
	if resp.StatusCode != http.StatusOK {
		e := &Error{StatusCode: resp.StatusCode, Method: http.MethodGet, Path: hr.URL.Path, Excerpt: string(body[:min(len(body), 256)])}
		if resp.StatusCode == http.StatusNotFound {
			e.Resolution = "no identity service there: " + checkResource
		}
		return "", e
	}
	var doc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.TokenEndpoint == "" {
		return "", &ResponseError{StatusCode: resp.StatusCode, Method: http.MethodGet, Path: hr.URL.Path, Err: errors.New("no token_endpoint in the OpenID configuration")}
	}
	ep, err := url.Parse(doc.TokenEndpoint)
	if err != nil || ep.Scheme != req.Resource.Scheme || !strings.EqualFold(ep.Host, req.Resource.Host) {
		return "", fmt.Errorf("identity: OpenID discovery: token endpoint %q is not on %s; set ClientCredentialsOptions.TokenURL to trust it", doc.TokenEndpoint, req.Resource)
	}
	return ep.String(), nil
}

// AuthError is a refusal (4xx) of the token endpoint: a wrong client id or secret, a
// disabled client; or a redirect (3xx) answered to OpenID discovery or a token request,
// which the SDK never follows (the client secret would go to whatever the redirect
// names). It matches ErrUnauthorized. A 5xx of the token endpoint is an *Error matching
// ErrServer instead.
type AuthError struct {
	StatusCode  int
	Code        string // the OAuth2 "error", e.g. "invalid_client"
	Description string // the OAuth2 "error_description"
}

// Error describes the refusal; it never holds the credentials.
func (e *AuthError) Error() string {
	if e.StatusCode >= 300 && e.StatusCode <= 399 {
		return "identity: redirect refused: " + excerpt(e.Description, 400)
	}
	s := fmt.Sprintf("identity: token request refused: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Description != "" {
		s += ": " + strings.TrimSpace(excerpt(e.Description, 200))
	}
	return s
}

// Is matches ErrUnauthorized.
func (e *AuthError) Is(target error) bool { return target == ErrUnauthorized }

// tokenError turns an x/oauth2 error into an *AuthError when the endpoint answered, and
// keeps it wrapped otherwise; neither carries the request's form body.
func tokenError(tokenURL string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		if st := re.Response.StatusCode; st >= 300 && st <= 399 {
			u, _ := url.Parse(tokenURL)
			return redirectRefused("the token endpoint", u.Redacted(), re.Response)
		}
		if st := re.Response.StatusCode; st < 400 || st >= 500 {
			// An outage of the token endpoint is not a verdict on the credentials.
			u, _ := url.Parse(tokenURL)
			e := &Error{StatusCode: st, Method: http.MethodPost, Code: re.ErrorCode, Reason: re.ErrorDescription}
			if u != nil {
				e.Path = u.Path
			}
			return e
		}
		return &AuthError{StatusCode: re.Response.StatusCode, Code: re.ErrorCode, Description: re.ErrorDescription}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// The request failed on the network; its path only, as with every call.
		path := ""
		if u, perr := url.Parse(tokenURL); perr == nil {
			path = u.Path
		}
		return connectionError(http.MethodPost, path, err)
	}
	u, _ := url.Parse(tokenURL)
	return fmt.Errorf("identity: fetching a token from %s: %w", u.Redacted(), err)
}

// checkResource is the hint of errors that most often mean a wrong Resource.
const checkResource = "check Config.Resource (OCS_RESOURCE in the examples)"

// connectionError turns a network failure of a discovery or token request into a
// *ConnectionError, with a hint at the Resource when no connection could be opened.
func connectionError(method, path string, err error) error {
	var ue *url.Error // its message repeats the URL, with any query
	if errors.As(err, &ue) {
		err = ue.Err
	}
	sent := !dialFailed(err)
	if !sent {
		err = fmt.Errorf("%w; %s", err, checkResource)
	}
	return &ConnectionError{Method: method, Path: path, Sent: sent, Err: err}
}

// dialFailed reports whether err shows that no connection was opened (refused, no route,
// name not found, TLS handshake refused): the request cannot have reached the service.
func dialFailed(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	return (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &dns) || errors.As(err, &cv) || errors.As(err, &rh)
}

// noRedirects returns a copy of hc that never follows a redirect: it hands back the 3xx
// answer, which the callers refuse.
func noRedirects(hc *http.Client) *http.Client {
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// redirectRefused is the error of a 3xx answer to a discovery or token request. It names
// where the redirect pointed by scheme and host only.
func redirectRefused(what, at string, resp *http.Response) error {
	to := "an unnamed location"
	if loc, err := resp.Location(); err == nil {
		to = loc.Scheme + "://" + loc.Host
	}
	return &AuthError{StatusCode: resp.StatusCode, Description: fmt.Sprintf(
		"%s at %s answered %d %s to %s; discovery and token requests never follow redirects (the client secret would go along): %s, or set ClientCredentialsOptions.TokenURL",
		what, at, resp.StatusCode, http.StatusText(resp.StatusCode), to, checkResource)}
}

// TokenSourceCredentials wraps any oauth2.TokenSource, for example the token of a Tenant
// Administrator who signed in interactively.
type TokenSourceCredentials struct {
	tc *tokenCache
}

// NewTokenSource returns Credentials that take tokens from ts. The SDK caches what ts
// returns and asks it again shortly before expiry or after the service answered 401.
func NewTokenSource(ts oauth2.TokenSource) *TokenSourceCredentials {
	return &TokenSourceCredentials{tc: newTokenCache(func(context.Context, TokenRequest) (*oauth2.Token, error) {
		if ts == nil {
			return nil, &ValidationError{Field: "Credentials", Rule: "token source must not be nil", Value: nil}
		}
		return ts.Token()
	})}
}

// Token returns the cached token, asking the token source for a new one when it is
// missing or about to expire. It implements Credentials: the SDK calls it.
func (c *TokenSourceCredentials) Token(ctx context.Context, req TokenRequest) (*oauth2.Token, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c.tc.Token(ctx, req)
}

// Invalidate drops rejected when it is the cached token. It implements Credentials: the
// SDK calls it on a 401.
func (c *TokenSourceCredentials) Invalidate(rejected *oauth2.Token) {
	if c != nil && c.tc != nil {
		c.tc.Invalidate(rejected)
	}
}

func (c *TokenSourceCredentials) validate() error {
	if c == nil || c.tc == nil {
		return &ValidationError{Field: "Credentials", Rule: "must be made by NewTokenSource", Value: "*identity.TokenSourceCredentials"}
	}
	return nil
}

// String shows the kind of credentials only.
func (c *TokenSourceCredentials) String() string { return "TokenSourceCredentials{}" }

// StaticToken sends one fixed bearer token with every call; when the service rejects it,
// calls fail with ErrUnauthorized.
type StaticToken struct {
	token Secret
	tc    *tokenCache
}

// NewStaticToken returns Credentials that always send token.
func NewStaticToken(token Secret) *StaticToken {
	s := &StaticToken{token: token}
	s.tc = newTokenCache(func(context.Context, TokenRequest) (*oauth2.Token, error) {
		if token.IsZero() {
			return nil, &ValidationError{Field: "Credentials", Rule: "static token must not be empty", Value: nil}
		}
		return &oauth2.Token{AccessToken: token.Reveal(), TokenType: "Bearer"}, nil
	})
	return s
}

// Token returns the static token. It implements Credentials: the SDK calls it.
func (s *StaticToken) Token(ctx context.Context, req TokenRequest) (*oauth2.Token, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s.tc.Token(ctx, req)
}

// Invalidate does nothing that changes the token: the next call sends it again. It
// implements Credentials: the SDK calls it on a 401.
func (s *StaticToken) Invalidate(rejected *oauth2.Token) {
	if s != nil && s.tc != nil {
		s.tc.Invalidate(rejected)
	}
}

func (s *StaticToken) validate() error {
	if s == nil || s.tc == nil {
		return &ValidationError{Field: "Credentials", Rule: "must be made by NewStaticToken", Value: "*identity.StaticToken"}
	}
	return nil
}

// String shows the kind of credentials only.
func (s *StaticToken) String() string { return "StaticToken{" + Redacted + "}" }
