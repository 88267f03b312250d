// Package marker makes the expiry of a new secret unique to the call that adds it, so that a
// call whose answer was lost can tell its own secret (whose value nobody holds, safe to
// delete) from a look-alike that someone else added meanwhile (never to be touched).
//
// The service stores and returns a secret's expiry to the second, and nothing else a
// caller chooses except the description, so the expiry is the only marker available: a
// secret is moved a random whole number of seconds earlier than asked, between 1 and
// Spread seconds (at most an hour, at most a tenth of its lifetime). Two concurrent calls
// with the same description and the same asked expiry then pick the same marker with a
// chance of 1 in Spread, and a marker already taken by a secret of the client is avoided.
package marker

import (
	"time"
)

// MaxOffset is the largest shift: an hour earlier on a secret that lives a year or so.
const MaxOffset = time.Hour

// MinChoices is the fewest possible offsets that make a marker proof enough to delete a
// secret: with fewer, two concurrent look-alike calls collide too often, so a secret that
// lives less than MinChoices*10 seconds is not shifted and never counts as proven.
const MinChoices = 60

// Spread returns how many whole-second offsets a secret expiring at at, added at now, can
// take: a tenth of its lifetime, at most MaxOffset; 0 when that is under MinChoices.
func Spread(at, now time.Time) int {
	n := int(min(at.Sub(now)/10, MaxOffset) / time.Second)
	if n < MinChoices {
		return 0
	}
	return n
}

// Earliest returns the earliest expiry Mark can give a secret asked to expire at at.
func Earliest(at, now time.Time) time.Time {
	return at.Truncate(time.Second).Add(-time.Duration(Spread(at, now)) * time.Second)
}

// Mark returns at, cut to whole seconds and moved 1 to Spread(at, now) seconds earlier at
// random (randN(n) returns a number in [0, n)), avoiding any expiry in taken (to the
// second); ok is false, and at is returned cut to whole seconds, when no marker is possible
// (the lifetime is too short, or every offset is taken).
func Mark(at, now time.Time, taken []time.Time, randN func(int) int) (marked time.Time, ok bool) {
	at = at.Truncate(time.Second)
	n := Spread(at, now)
	if n == 0 {
		return at, false
	}
	start := randN(n)
	for i := range n {
		k := (start+i)%n + 1
		m := at.Add(-time.Duration(k) * time.Second)
		if !takenAt(taken, m) {
			return m, true
		}
	}
	return at, false
}

func takenAt(taken []time.Time, m time.Time) bool {
	for _, t := range taken {
		if Same(t, m) {
			return true
		}
	}
	return false
}

// Same reports whether two expiries are the same to the second (the service may keep
// fractions or drop them).
func Same(a, b time.Time) bool {
	return a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}

// Carries reports whether a secret with description desc and expiry at (zero: it never
// expires) is what a call asked for: the same description, and the marked expiry sent
// (sent nil: a secret that never expires). It is the one test by which Create and Add
// tell their own secret.
func Carries(desc string, at time.Time, sentDesc string, sent *time.Time) bool {
	if desc != sentDesc {
		return false
	}
	if sent == nil {
		return at.IsZero()
	}
	return !at.IsZero() && Same(at, *sent)
}
