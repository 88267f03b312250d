package identity

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// These tests place a token at a chosen point of its life in the cache, which the
// exported API can reach only by waiting for minutes.

type gatedFetch struct {
	calls   atomic.Int32
	entered chan struct{}
	gate    chan struct{}
	err     error
}

func (g *gatedFetch) fetch(context.Context, TokenRequest) (*oauth2.Token, error) {
	n := g.calls.Add(1)
	if g.entered != nil {
		g.entered <- struct{}{}
	}
	if g.gate != nil {
		<-g.gate
	}
	if g.err != nil {
		return nil, g.err
	}
	return &oauth2.Token{AccessToken: fmt.Sprintf("new-%d", n), Expiry: time.Now().Add(time.Hour)}, nil
}

func TestTokenCacheEarlyRefreshOneFetcherOthersDoNotWait(t *testing.T) {
	g := &gatedFetch{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	c := newTokenCache(g.fetch)
	old := &oauth2.Token{AccessToken: "old", Expiry: time.Now().Add(time.Minute)}
	// Past its refresh time, but still far from expiry: in the early-refresh window.
	c.cur.Store(&cachedToken{tok: old, refreshAt: time.Now().Add(-time.Second)})

	const n = 64
	results := make(chan string, n)
	for range n {
		go func() {
			tok, err := c.Token(context.Background(), TokenRequest{})
			if err != nil {
				t.Error(err)
				results <- ""
				return
			}
			results <- tok.AccessToken
		}()
	}
	// While the one fetch is held at the gate, every other caller gets the old token.
	timeout := time.After(5 * time.Second)
	for i := range n - 1 {
		select {
		case got := <-results:
			if got != "old" {
				t.Errorf("caller got %q during the refresh, want the old token", got)
			}
		case <-timeout:
			t.Fatalf("only %d of %d callers returned while the refresh was running: they waited", i, n-1)
		}
	}
	<-g.entered
	close(g.gate)
	if got := <-results; got != "new-1" {
		t.Errorf("the refreshing caller got %q, want new-1", got)
	}
	if got := g.calls.Load(); got != 1 {
		t.Errorf("fetches = %d, want exactly 1", got)
	}
	tok, err := c.Token(context.Background(), TokenRequest{})
	if err != nil || tok.AccessToken != "new-1" {
		t.Errorf("after the refresh Token = %v, %v; want new-1", tok, err)
	}
}

func TestTokenCacheEarlyRefreshFailureKeepsOldToken(t *testing.T) {
	boom := errors.New("boom")
	g := &gatedFetch{err: boom}
	c := newTokenCache(g.fetch)
	old := &oauth2.Token{AccessToken: "old", Expiry: time.Now().Add(time.Minute)}
	c.cur.Store(&cachedToken{tok: old, refreshAt: time.Now().Add(-time.Second)})
	tok, err := c.Token(context.Background(), TokenRequest{})
	if err != nil || tok.AccessToken != "old" {
		t.Fatalf("Token = %v, %v; want the old, still valid token", tok, err)
	}
	if g.calls.Load() != 1 {
		t.Errorf("fetches = %d", g.calls.Load())
	}
}

func TestTokenCacheNeverReturnsExpiredOrNearlyExpired(t *testing.T) {
	cases := []struct {
		name      string
		expiresIn time.Duration
		refreshIn time.Duration // relative to now; 0 means no refresh time
	}{
		{"expired", -time.Second, -2 * time.Second},
		{"expired long ago", -time.Hour, -2 * time.Hour},
		{"inside the skew", 2 * time.Second, -time.Second},
		{"inside the skew, refresh time not reached", 2 * time.Second, time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := &gatedFetch{}
			c := newTokenCache(g.fetch)
			ct := &cachedToken{tok: &oauth2.Token{AccessToken: "stale", Expiry: time.Now().Add(tc.expiresIn)}, skew: expirySkew}
			if tc.refreshIn != 0 {
				ct.refreshAt = time.Now().Add(tc.refreshIn)
			}
			c.cur.Store(ct)
			tok, err := c.Token(context.Background(), TokenRequest{})
			if err != nil || tok.AccessToken != "new-1" {
				t.Fatalf("Token = %v, %v; want a new token", tok, err)
			}
		})
	}
	t.Run("expired and the fetch fails", func(t *testing.T) {
		g := &gatedFetch{err: errors.New("down")}
		c := newTokenCache(g.fetch)
		c.cur.Store(&cachedToken{tok: &oauth2.Token{AccessToken: "stale", Expiry: time.Now().Add(-time.Second)}, refreshAt: time.Now().Add(-2 * time.Second)})
		if tok, err := c.Token(context.Background(), TokenRequest{}); err == nil {
			t.Fatalf("Token = %v; want the fetch error, not the expired token", tok)
		}
	})
}

func TestTokenCacheRefreshTime(t *testing.T) {
	cases := []struct {
		name     string
		lifetime time.Duration
		minEarly time.Duration // the refresh comes at least this long before expiry
		maxEarly time.Duration // and at most this long
	}{
		{"one hour", time.Hour, time.Minute - time.Second, time.Minute},
		{"two minutes", 2 * time.Minute, 29 * time.Second, 30 * time.Second},
		// A short-lived token: refreshed a quarter of its life early (2.5 s), sent until a
		// tenth of its life (1 s) before expiry.
		{"ten seconds", 10 * time.Second, 2 * time.Second, 3 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			exp := time.Now().Add(tc.lifetime)
			c := newTokenCache(func(context.Context, TokenRequest) (*oauth2.Token, error) {
				return &oauth2.Token{AccessToken: "t", Expiry: exp}, nil
			})
			if _, err := c.Token(context.Background(), TokenRequest{}); err != nil {
				t.Fatal(err)
			}
			ct := c.cur.Load()
			now := time.Now()
			// Wherever the cache says "fresh", the token must still be usable.
			for _, at := range []time.Time{now, exp.Add(-tc.maxEarly - time.Second), exp.Add(-tc.minEarly), exp.Add(-time.Second), exp} {
				if ct.fresh(at) && !ct.usable(at) {
					t.Errorf("at expiry-%v the token is fresh but not usable", exp.Sub(at))
				}
			}
			if !ct.fresh(exp.Add(-tc.maxEarly - time.Second)) {
				t.Errorf("token not fresh %v before expiry", tc.maxEarly+time.Second)
			}
			if ct.fresh(exp.Add(-tc.minEarly)) {
				t.Errorf("token still fresh %v before expiry", tc.minEarly)
			}
		})
	}
}

func TestTokenCacheSkewScalesWithLifetime(t *testing.T) {
	for _, tc := range []struct {
		lifetime, skew time.Duration
	}{
		{time.Hour, expirySkew}, {time.Minute, expirySkew}, {20 * time.Second, 2 * time.Second}, {2 * time.Second, 200 * time.Millisecond},
	} {
		exp := time.Now().Add(tc.lifetime)
		c := newTokenCache(func(context.Context, TokenRequest) (*oauth2.Token, error) {
			return &oauth2.Token{AccessToken: "t", Expiry: exp}, nil
		})
		if _, err := c.Token(context.Background(), TokenRequest{}); err != nil {
			t.Fatal(err)
		}
		got := c.cur.Load().skew
		if d := got - tc.skew; d > 10*time.Millisecond || d < -10*time.Millisecond {
			t.Errorf("lifetime %v: skew %v, want about %v", tc.lifetime, got, tc.skew)
		}
		if c.cur.Load().usable(exp.Add(-got / 2)) {
			t.Errorf("lifetime %v: usable inside its skew", tc.lifetime)
		}
	}
}
