package validate

import (
	"time"

	"github.com/ocs-go/identity"
)

// Expiry is what ExpiryAt reads of a secrets.Expiry (which this package cannot import:
// secrets imports it).
type Expiry interface {
	IsZero() bool
	Never() bool
	At() time.Time
	In() time.Duration
	String() string
}

// maxYear is the last year an RFC 3339 date-time can hold.
const maxYear = 9999

// ExpiryAt turns a chosen (not zero) Expiry into what the wire needs at the moment now:
// the time it expires, or never. A zero, past or present time, or a non-positive
// duration, is a *identity.ValidationError naming field.
func ExpiryAt(field string, e Expiry, now time.Time) (at time.Time, never bool, err error) {
	bad := func(rule string, value any) (time.Time, bool, error) {
		return time.Time{}, false, &identity.ValidationError{Field: field, Rule: rule, Value: value}
	}
	in, fixed := e.In(), e.At()
	switch {
	case e.Never():
		return time.Time{}, true, nil
	case in == 0 && fixed.IsZero():
		// ExpiresIn(0) or ExpiresAt(time.Time{}): neither means never.
		return bad("must be a positive duration or a time in the future; a zero time does not mean never (use NeverExpires)", e.String())
	case in < 0:
		return bad("must be a positive duration (use NeverExpires to choose no expiry)", in)
	case in > 0:
		// Whole seconds, rounded up, so that even a tiny duration lands after now.
		at := now.Add(in).UTC()
		if t := at.Truncate(time.Second); !t.Equal(at) {
			at = t.Add(time.Second)
		}
		if at.Year() > maxYear {
			return bad("must end before the year 10000 (RFC 3339 cannot write it)", in)
		}
		return at, false, nil
	case !fixed.After(now):
		return bad("must be in the future", fixed.UTC().Format(time.RFC3339))
	case fixed.UTC().Year() > maxYear:
		return bad("must be before the year 10000 (RFC 3339 cannot write it)", fixed.UTC().Year())
	}
	return fixed.UTC(), false, nil
}
