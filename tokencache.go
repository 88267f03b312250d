package identity

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

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
		err = errors.New("token source returned an empty token")
	}
	if err == nil && !tok.Expiry.IsZero() && !time.Now().Before(tok.Expiry) {
		err = errors.New("token source returned an expired token")
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
