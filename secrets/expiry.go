package secrets

import (
	"fmt"
	"time"
)

// Expiry says when a secret stops working: at a given future time, or never, as an
// explicit choice. The zero Expiry means "not chosen": where a secret is created it becomes
// one year from now (the portal's default), and in an update it leaves the expiry as it is.
// A zero time never means "never expires": ExpiresAt(time.Time{}) is refused.
type Expiry struct {
	kind expiryKind
	at   time.Time     // kind == expiresAt
	in   time.Duration // kind == expiresIn
}

type expiryKind uint8

const (
	expiryUnset expiryKind = iota
	expiresAt
	expiresIn
	expiresNever
)

// ExpiresAt returns an Expiry at t, which must be in the future when the request is sent.
func ExpiresAt(t time.Time) Expiry { return Expiry{kind: expiresAt, at: t} }

// ExpiresIn returns an Expiry d after the moment the request is sent; d must be positive.
func ExpiresIn(d time.Duration) Expiry { return Expiry{kind: expiresIn, in: d} }

// NeverExpires returns the explicit choice of a secret that does not expire. The service
// advises against it; prefer a date and rotate.
func NeverExpires() Expiry { return Expiry{kind: expiresNever} }

// IsZero reports whether no expiry was chosen.
func (e Expiry) IsZero() bool { return e.kind == expiryUnset }

// Never reports whether the Expiry is the explicit never-expires choice.
func (e Expiry) Never() bool { return e.kind == expiresNever }

// At returns the fixed time of an ExpiresAt, and the zero time for any other Expiry
// (never, unset, or relative: see In). Every Expiry read from the service is fixed or never.
func (e Expiry) At() time.Time {
	if e.kind == expiresAt {
		return e.at
	}
	return time.Time{}
}

// In returns the duration of an ExpiresIn, counted from when the request is sent, and
// zero for any other Expiry.
func (e Expiry) In() time.Duration {
	if e.kind == expiresIn {
		return e.in
	}
	return 0
}

// when returns the moment the secret expires, relative to now for ExpiresIn, and false
// when it never expires or no expiry was chosen.
func (e Expiry) when(now time.Time) (time.Time, bool) {
	switch e.kind {
	case expiresAt:
		return e.at, true
	case expiresIn:
		return now.Add(e.in), true
	}
	return time.Time{}, false
}

// Expired reports whether a secret with this Expiry no longer works at the time at.
func (e Expiry) Expired(at time.Time) bool {
	t, ok := e.when(at)
	return ok && e.kind == expiresAt && !at.Before(t)
}

// String shows the choice: "never", "unset", "in 720h0m0s" or an RFC 3339 time.
func (e Expiry) String() string {
	switch e.kind {
	case expiresAt:
		return e.at.UTC().Format(time.RFC3339)
	case expiresIn:
		return "in " + e.in.String()
	case expiresNever:
		return "never"
	}
	return "unset"
}

// GoString makes %#v readable.
func (e Expiry) GoString() string { return fmt.Sprintf("secrets.Expiry(%s)", e) }
