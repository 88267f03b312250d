package secrets

import (
	"sync"
	"testing"
	"time"
)

// TestConcurrentAddsThroughOneClientNeverShareAMarker: two look-alike adds to one client
// in flight at once through one Client get different markers, even when the random choice
// is the same; so neither can take the other's secret for its own after a lost answer.
func TestConcurrentAddsThroughOneClientNeverShareAMarker(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	c := &Client{now: func() time.Time { return now }, randN: func(int) int { return 0 }, claims: &claims{}}
	asked := now.AddDate(1, 0, 0)
	body := func() *wireWrite { at := asked; return &wireWrite{Expiration: wireExpiration{at: &at}} }

	const n = 50
	bodies := make([]*wireWrite, n)
	releases := make([]func(), n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i] = body()
			proof, release := c.mark("client-a", bodies[i], nil)
			if !proof {
				t.Errorf("add %d: no proof", i)
			}
			releases[i] = release
		}()
	}
	wg.Wait()
	seen := map[time.Time]int{}
	for i, b := range bodies {
		if j, dup := seen[*b.Expiration.at]; dup {
			t.Fatalf("adds %d and %d in flight at once carry the same marker %v", j, i, *b.Expiration.at)
		}
		seen[*b.Expiration.at] = i
	}

	// Another client's adds are not constrained by these, and a released marker is free.
	other := body()
	c.mark("client-b", other, nil)
	first := asked.Truncate(time.Second).Add(-time.Second) // randN 0: the smallest offset
	for _, r := range releases {
		r()
	}
	again := body()
	c.mark("client-a", again, nil)
	if !again.Expiration.at.Equal(first) || !other.Expiration.at.Equal(first) {
		t.Fatalf("after release: %v, other client: %v; want both %v (randN always picks the smallest offset)", *again.Expiration.at, *other.Expiration.at, first)
	}
	if len(c.claims.m) != 2 {
		t.Fatalf("claims held: %v", c.claims.m)
	}
}
