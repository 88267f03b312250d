package secrets

import (
	"sync"
	"testing"
	"time"
)

// markerFixture is a Client whose random choice of marker is always the smallest offset,
// so two adds get different markers only because claims make them.
func markerFixture() (*Client, func() *wireWrite, time.Time) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	c := &Client{now: func() time.Time { return now }, randN: func(int) int { return 0 }, claims: &claims{}}
	asked := now.AddDate(1, 0, 0)
	body := func() *wireWrite { at := asked; return &wireWrite{Expiration: wireExpiration{at: &at}} }
	return c, body, asked.Truncate(time.Second).Add(-time.Second) // the smallest offset
}

// TestConcurrentAddsThroughOneClientNeverShareAMarker: two look-alike adds to one client
// in flight at once through one Client get different markers, even when the random choice
// is the same; so neither can take the other's secret for its own after a lost answer.
func TestConcurrentAddsThroughOneClientNeverShareAMarker(t *testing.T) {
	c, body, first := markerFixture()
	const n = 50
	bodies := make([]*wireWrite, n)
	tickets := make([]*ticket, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i] = body()
			tickets[i] = c.claims.begin("client-a")
			if !c.mark(tickets[i], bodies[i], nil) {
				t.Errorf("add %d: no proof", i)
			}
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

	// Another client's adds are not constrained by these, and once every add has ended a
	// marker is free again.
	other := body()
	otk := c.claims.begin("client-b")
	c.mark(otk, other, nil)
	for _, tk := range tickets {
		tk.end()
	}
	again := body()
	c.mark(c.claims.begin("client-a"), again, nil)
	if !again.Expiration.at.Equal(first) || !other.Expiration.at.Equal(first) {
		t.Fatalf("after every add ended: %v, other client: %v; want both %v (randN always picks the smallest offset)", *again.Expiration.at, *other.Expiration.at, first)
	}
	if len(c.claims.m) != 2 {
		t.Fatalf("claims held: %v", c.claims.m)
	}
}

// TestAddNeverTakesTheMarkerOfAnAddThatEndedAfterItsListing: add B lists the client's
// secrets, then add A (through the same Client) lands its secret and ends, then B picks
// its marker. B's listing cannot show A's secret, so B must still avoid A's marker: had
// B taken it, B's reconciliation after a lost answer would find A's secret carrying "its"
// marker and delete the secret whose value A's caller holds.
func TestAddNeverTakesTheMarkerOfAnAddThatEndedAfterItsListing(t *testing.T) {
	c, body, first := markerFixture()
	b := c.claims.begin("client-a") // B begins, then lists: nothing there yet

	a := c.claims.begin("client-a")
	aBody := body()
	c.mark(a, aBody, nil)
	a.end() // A's secret exists now; B's listing did not see it

	bBody := body()
	c.mark(b, bBody, nil) // B picks with its listing (empty)
	if aBody.Expiration.at.Equal(*bBody.Expiration.at) {
		t.Fatalf("B took the marker %v of A, which ended after B's listing", *bBody.Expiration.at)
	}
	if !aBody.Expiration.at.Equal(first) {
		t.Fatalf("A's marker %v, want the smallest offset %v", *aBody.Expiration.at, first)
	}

	// An add that begins after A ended lists A's secret itself: A's marker is no longer
	// held for it (the listing avoids it), and once B ends nothing is held at all.
	cTk := c.claims.begin("client-a")
	held := 0
	cBody := body()
	c.mark(cTk, cBody, nil)
	for _, h := range c.claims.m["client-a"].held {
		if h.owner == nil {
			held++
		}
	}
	if held != 1 {
		t.Fatalf("ended markers held while B is active: %d, want 1 (A's)", held)
	}
	b.end()
	cTk.end()
	if len(c.claims.m) != 0 {
		t.Fatalf("claims held after every add ended: %v", c.claims.m["client-a"])
	}
}
