package secrets

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ocs-go/identity"
)

// ExpiryReport sorts a client's secrets by how urgently they need attention. Expired and
// ExpiringSoon are in order of expiry, earliest first; the others in the order given.
type ExpiryReport struct {
	// Expired secrets no longer work.
	Expired []Metadata
	// ExpiringSoon secrets still work but expire within the duration asked about.
	ExpiringSoon []Metadata
	// NeverExpiring secrets do not expire; the service advises against them.
	NeverExpiring []Metadata
	// Valid secrets expire, but later than the duration asked about.
	Valid []Metadata
}

// LockoutAhead reports whether no secret of the report will still work once the duration
// asked about has passed: the application is locked out then unless a secret is added.
func (r ExpiryReport) LockoutAhead() bool {
	return len(r.Valid) == 0 && len(r.NeverExpiring) == 0
}

// Classify sorts secrets (from List or All, say) into an ExpiryReport as of now: expired,
// expiring within the given duration (at or before now+within), never expiring, and valid
// beyond it. It makes no call. A Metadata with an unset Expiry (never one from the
// service) counts as never expiring.
func Classify(secrets []Metadata, within time.Duration, now time.Time) ExpiryReport {
	var r ExpiryReport
	horizon := now.Add(within)
	for _, s := range secrets {
		at, ok := s.Expiry.when(now)
		switch {
		case s.Expiry.Never() || !ok:
			r.NeverExpiring = append(r.NeverExpiring, s)
		case !now.Before(at):
			r.Expired = append(r.Expired, s)
		case !at.After(horizon):
			r.ExpiringSoon = append(r.ExpiringSoon, s)
		default:
			r.Valid = append(r.Valid, s)
		}
	}
	byExpiry := func(a, b Metadata) int {
		ta, _ := a.Expiry.when(now)
		tb, _ := b.Expiry.when(now)
		return ta.Compare(tb)
	}
	slices.SortStableFunc(r.Expired, byExpiry)
	slices.SortStableFunc(r.ExpiringSoon, byExpiry)
	return r
}

// CheckExpiry lists the secrets of client clientID and classifies them as Classify does,
// so that a program or a cron job can warn before an application is locked out:
//
//	r, err := sc.CheckExpiry(ctx, clientID, 30*24*time.Hour, time.Now())
//	if err == nil && (len(r.Expired) > 0 || len(r.ExpiringSoon) > 0) { /* warn, rotate */ }
//
// A zero now means the current time. within must not be negative.
func (c *Client) CheckExpiry(ctx context.Context, clientID string, within time.Duration, now time.Time) (*ExpiryReport, error) {
	_, err := c.path(clientID)
	if within < 0 {
		err = errors.Join(err, &identity.ValidationError{Field: "Within", Rule: "must not be negative", Value: within.String()})
	}
	if err != nil {
		return nil, err
	}
	if now.IsZero() {
		now = c.now()
	}
	all, err := c.collect(ctx, clientID)
	if err != nil {
		return nil, err
	}
	r := Classify(all, within, now)
	return &r, nil
}
