// Package clock resolves a Config's Clock: the caller's, or the system clock.
package clock

import (
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
