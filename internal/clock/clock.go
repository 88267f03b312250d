// Package clock resolves a Config's Clock: the caller's, or the system clock.
package clock

import (
	"context"
	"fmt"
	"time"

	"github.com/ocs-go/identity"
)

// Of returns c, or the system clock when c is nil.
func Of(c identity.Clock) identity.Clock {
	if c == nil {
		return System{}
	}
	return c
}

// System is the system clock.
type System struct{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// After is time.After.
func (System) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Slack is how much longer than d, in real time, a wait of d on a caller's clock may take
// before Wait gives up on the clock: a clock may run faster than real time (a test's), never
// slower.
const Slack = time.Second

// StuckError is Wait's error when the clock's After did not fire within d and Slack of
// real time: a clock that nobody moves would make the wait last for ever.
type StuckError struct{ D time.Duration }

func (e *StuckError) Error() string {
	return fmt.Sprintf("Config.Clock did not end a wait of %s within %s of real time: its After must fire once that much time has passed on it (a test clock must be moved, as hybridclientstest.Clock.Run does)", e.D, e.D+Slack)
}

// Wait waits d on c (nil: the system clock): nil once c's After fires; context.Cause(ctx)
// when ctx ends first; a *StuckError when, on a clock other than the system's, After has
// not fired after d and Slack of real time.
func Wait(ctx context.Context, c identity.Clock, d time.Duration) error {
	c = Of(c)
	fired := c.After(d)
	var stuck <-chan time.Time
	if _, sys := c.(System); !sys {
		t := time.NewTimer(max(d, 0) + Slack)
		defer t.Stop()
		stuck = t.C
	}
	select {
	case <-fired:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-stuck:
		select {
		case <-fired: // both came: the clock's wait counts
			return nil
		default:
			return &StuckError{D: d}
		}
	}
}
