package secrets

import (
	"fmt"
	"time"

	"github.com/ocs-go/identity"
)

// DefaultLifetime is about how long a new secret lives when the caller does not choose:
// one year, as the portal does. Add and Rotate (and hybridclients.Create) set the same date
// and time one calendar year later, so across a leap day it is a day longer.
const DefaultLifetime = 365 * 24 * time.Hour

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

// Time returns the moment the secret expires, relative to now for ExpiresIn, and false
// when it never expires or no expiry was chosen.
func (e Expiry) Time(now time.Time) (time.Time, bool) {
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
	t, ok := e.Time(at)
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

// Resolve turns the Expiry into what the wire needs at the moment now: the time it expires,
// or never. An unset Expiry becomes def (unset stays unset when def is unset too). A zero,
// past or present time, or a non-positive duration, is a *identity.ValidationError naming
// field. It is exported for the hybridclients package; callers need not use it.
func (e Expiry) Resolve(field string, now time.Time, def Expiry) (at time.Time, never bool, err error) {
	if e.IsZero() {
		if def.IsZero() {
			return time.Time{}, false, nil
		}
		e = def
	}
	switch e.kind {
	case expiresNever:
		return time.Time{}, true, nil
	case expiresIn:
		if e.in <= 0 {
			return time.Time{}, false, &identity.ValidationError{Field: field, Rule: "must be a positive duration (use NeverExpires to choose no expiry)", Value: e.in}
		}
		// Whole seconds, rounded up, so that even a tiny duration lands after now.
		at := now.Add(e.in).UTC()
		if t := at.Truncate(time.Second); !t.Equal(at) {
			at = t.Add(time.Second)
		}
		if at.Year() > maxYear {
			return time.Time{}, false, &identity.ValidationError{Field: field, Rule: "must end before the year 10000 (RFC 3339 cannot write it)", Value: e.in}
		}
		return at, false, nil
	}
	if e.at.IsZero() {
		return time.Time{}, false, &identity.ValidationError{Field: field, Rule: "must be a time in the future; a zero time does not mean never (use NeverExpires)", Value: "0001-01-01T00:00:00Z"}
	}
	if !e.at.After(now) {
		return time.Time{}, false, &identity.ValidationError{Field: field, Rule: "must be in the future", Value: e.at.UTC().Format(time.RFC3339)}
	}
	if e.at.UTC().Year() > maxYear {
		return time.Time{}, false, &identity.ValidationError{Field: field, Rule: "must be before the year 10000 (RFC 3339 cannot write it)", Value: e.at.UTC().Year()}
	}
	return e.at.UTC(), false, nil
}

// maxYear is the last year an RFC 3339 date-time can hold.
const maxYear = 9999

// GoString makes %#v readable.
func (e Expiry) GoString() string { return fmt.Sprintf("secrets.Expiry(%s)", e) }
