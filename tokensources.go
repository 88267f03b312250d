package identity

import (
	"context"

	"github.com/ocs-go/identity/internal/rules"
	"golang.org/x/oauth2"
)

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
		return nil, rules.Prefixed(pkgName, err)
	}
	tok, err := c.tc.Token(ctx, req)
	return tok, rules.Prefixed(pkgName, err)
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
		return nil, rules.Prefixed(pkgName, err)
	}
	tok, err := s.tc.Token(ctx, req)
	return tok, rules.Prefixed(pkgName, err)
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
