package hybridclientstest

import (
	"slices"
	"sync"
	"time"
)

// Clock is a fake identity.Clock for tests: its time moves only when Advance or
// AdvanceToNext moves it, and a wait begun with After ends once the time reaches the
// wait's end. Give it to Options.Clock, and the fake service and the SDK (through the
// Server's Config) share it: the fake's expiries and propagation delay, and the SDK's
// expiry decisions and waits for a rotation's proof, all follow it, so that the service's
// hour of propagation passes in a millisecond of the test. The waits of retries are
// about the network and stay on the system clock.
//
//	clk := hybridclientstest.NewClock(time.Now())
//	srv := hybridclientstest.NewServer(t, &hybridclientstest.Options{Clock: clk, PropagationDelay: time.Hour})
//	sc, _ := secrets.New(srv.Config())
//	clk.Run(func() { rot, err = sc.Rotate(ctx, id, req) }, nil) // waits an hour for the proof, at once
//
// A rotation's proof (Rotate, ApplyRotations) on a Clock must see each of its waits end
// within the wait's length and a second of real time, so move the Clock (Run does) or the
// proof stops with a *secrets.ProofError that says the Clock did not move.
//
// It is safe for concurrent use. A nil *Clock reads the zero time and its waits end at
// once.
type Clock struct {
	mu    sync.Mutex
	now   time.Time
	waits []wait        // not ended, in the order begun
	begun chan struct{} // closed, and replaced, when a wait begins; nil until Run asks
}

// wait is one call of After that has not ended.
type wait struct {
	end time.Time
	ch  chan time.Time // buffered: ending a wait never blocks
}

// NewClock returns a Clock that reads start until it is moved.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the Clock's time.
func (c *Clock) Now() time.Time {
	if c == nil {
		return time.Time{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the Clock's time once it has moved d or more
// from now, as time.After does on the system clock. A d of zero or less ends at once.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	if c == nil {
		ch <- time.Time{}
		return ch
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waits = append(c.waits, wait{end: c.now.Add(d), ch: ch})
	if c.begun != nil {
		close(c.begun)
		c.begun = nil
	}
	return ch
}

// Run calls f on a goroutine of its own and, until f returns, moves the Clock to the end
// of each wait begun on it, the earliest first (AdvanceToNext), so that code which waits
// on the Clock runs through hours in milliseconds. Before each move it calls between,
// when not nil, to look at the world as f has left it. It returns when f does.
func (c *Clock) Run(f, between func()) {
	if c == nil { // its waits end at once
		f()
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	for {
		begun := c.nextBegun()
		if c.Waiting() == 0 {
			select {
			case <-done:
				return
			case <-begun:
				continue
			}
		}
		if between != nil {
			between()
		}
		c.AdvanceToNext()
	}
}

// nextBegun returns a channel closed when the next wait begins.
func (c *Clock) nextBegun() <-chan struct{} {
	if c == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.begun == nil {
		c.begun = make(chan struct{})
	}
	return c.begun
}

// Advance moves the Clock forward by d (a d of zero or less does nothing) and ends every
// wait whose end it reaches.
func (c *Clock) Advance(d time.Duration) {
	if c == nil || d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.moveLocked(c.now.Add(d))
}

// AdvanceToNext moves the Clock to the end of the earliest wait not yet ended, if that
// is ahead, and ends it with every other wait that ends then. It reports whether there
// was a wait to end: false leaves the Clock as it was.
func (c *Clock) AdvanceToNext() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.waits) == 0 {
		return false
	}
	next := slices.MinFunc(c.waits, func(a, b wait) int { return a.end.Compare(b.end) }).end
	if next.Before(c.now) {
		next = c.now
	}
	c.moveLocked(next)
	return true
}

// Waiting returns how many waits begun with After have not ended yet: a test can move
// the Clock once the code under test waits on it.
func (c *Clock) Waiting() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waits)
}

// moveLocked sets the time to t and ends the waits it reaches; c.mu is held.
func (c *Clock) moveLocked(t time.Time) {
	c.now = t
	c.waits = slices.DeleteFunc(c.waits, func(w wait) bool {
		if w.end.After(t) {
			return false
		}
		w.ch <- t
		return true
	})
}
