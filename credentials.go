package identity

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/ocs-go/identity/internal/rules"
	"golang.org/x/oauth2"
)

// TokenRequest is what the SDK's transport gives Credentials to fetch a token with. You
// need it only to implement Credentials yourself; the SDK's own credentials and the
// transport build and read it for you.
type TokenRequest struct {
	// Resource is the service's base URL (Config.Resource, resolved).
	Resource *url.URL
	// Endpoint reaches the identity server of Resource. Ask it for tokens instead of
	// sending requests of your own: it keeps the rules every token request of the SDK
	// keeps.
	Endpoint TokenEndpoint
}

// TokenEndpoint is the SDK's way to the identity server of a Resource, given to
// Credentials in every TokenRequest. You need it only to implement Credentials yourself.
//
// Its requests carry no bearer token and never follow a redirect (a 3xx is an *AuthError
// naming only the origin it pointed to); the client secret travels in the form body of
// the token request only. OpenID discovery and client-credentials requests are retried
// after connection errors and 5xx answers (never after a 4xx) as Config.Retry says.
// Failures are an *AuthError (the token endpoint refused: ErrUnauthorized), an *Error
// (another status), a *ResponseError (an unusable answer) or a *ConnectionError (no
// answer: ErrUnreachable); none holds the secret.
type TokenEndpoint interface {
	// TokenURL returns the token endpoint that the Resource's OpenID discovery document
	// names. It is on the Resource's scheme, host and port, or TokenURL returns an error.
	TokenURL(ctx context.Context) (string, error)
	// ClientCredentials asks tokenURL for a token with the OAuth2 client-credentials
	// grant, authenticating as clientID with secret.
	ClientCredentials(ctx context.Context, tokenURL, clientID string, secret Secret) (*oauth2.Token, error)
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

// ClientCredentials signs in as a client-credential client with the OAuth2
// client-credentials grant. The token endpoint is found through the resource's OpenID
// discovery document on first use (and must be on the resource's scheme, host and port),
// unless ClientCredentialsOptions.TokenURL names it. client_id and client_secret travel in
// the form body, as the service expects.
//
// One ClientCredentials value may serve Configs of several Resources: it keeps a token
// per Resource (its origin: scheme, host and port, compared case-insensitively and with
// or without the default port), and a token is only ever sent to the Resource it was
// fetched for. Discovery and token requests never follow a redirect: the secret goes to
// the endpoint named, or nowhere.
type ClientCredentials struct {
	clientID string
	secret   Secret
	tokenURL string

	mu     sync.Mutex
	caches map[string]*tokenCache // resource origin -> its token
	last   atomic.Pointer[resourceCache]
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
// network call; Config.Validate (which hybridclients.New and secrets.New call) checks
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

// Token returns a token for req.Resource, fetching one through req.Endpoint when the
// cached one of that Resource is missing or about to expire. It implements Credentials:
// the SDK calls it.
func (c *ClientCredentials) Token(ctx context.Context, req TokenRequest) (*oauth2.Token, error) {
	v, err := c.token(ctx, req)
	return v, rules.Prefixed(pkgName, err)
}

func (c *ClientCredentials) token(ctx context.Context, req TokenRequest) (*oauth2.Token, error) {
	if c == nil {
		return nil, &ValidationError{Field: "Credentials", Rule: "must not be a nil pointer", Value: "*identity.ClientCredentials(nil)"}
	}
	if ctx == nil {
		return nil, errNilContext()
	}
	if req.Resource == nil || req.Endpoint == nil {
		return nil, &ValidationError{Field: "TokenRequest", Rule: "needs a Resource and an Endpoint", Value: nil}
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

// cacheFor returns the token cache of res's origin: a token fetched for one origin is
// never sent to another.
func (c *ClientCredentials) cacheFor(res *url.URL) *tokenCache {
	if l := c.last.Load(); l != nil && l.res == res {
		return l.tc
	}
	key := rules.Origin(res)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caches == nil {
		c.caches = map[string]*tokenCache{}
	}
	tc := c.caches[key]
	if tc == nil {
		tc = newTokenCache(c.fetcher())
		c.caches[key] = tc
	}
	c.last.Store(&resourceCache{res: res, tc: tc})
	return tc
}

// fetcher returns the fetch of one Resource's token cache. The token endpoint it
// discovers is kept for the next fetch; the cache runs one fetch at a time, so nothing
// else reads or writes it meanwhile. A failed discovery is tried again next time.
func (c *ClientCredentials) fetcher() func(context.Context, TokenRequest) (*oauth2.Token, error) {
	var discovered string
	return func(ctx context.Context, req TokenRequest) (*oauth2.Token, error) {
		if c.clientID == "" || c.secret.IsZero() {
			return nil, &ValidationError{Field: "Credentials", Rule: "client credentials need a client id and a secret", Value: c.clientID}
		}
		// Checked again here: Credentials may be used without a Config.
		if err := c.validate(); err != nil {
			return nil, err
		}
		tokenURL := c.tokenURL
		if tokenURL == "" {
			if discovered == "" {
				u, err := req.Endpoint.TokenURL(ctx)
				if err != nil {
					return nil, err
				}
				discovered = u
			}
			tokenURL = discovered
		}
		return req.Endpoint.ClientCredentials(ctx, tokenURL, c.clientID, c.secret)
	}
}

// String names the client without its secret.
func (c *ClientCredentials) String() string {
	return fmt.Sprintf("ClientCredentials{ClientID: %q, Secret: %s}", c.clientID, Redacted)
}

// GoString makes %#v show the same as String.
func (c *ClientCredentials) GoString() string { return c.String() }
