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
	// AsOf is the time the secrets were classified as of.
	AsOf time.Time
	// Expired secrets no longer work.
	Expired []ClientSecret
	// ExpiringSoon secrets still work but expire within the duration asked about.
	ExpiringSoon []ClientSecret
	// NeverExpiring secrets do not expire; the service advises against them.
	NeverExpiring []ClientSecret
	// Valid secrets expire, but later than the duration asked about.
	Valid []ClientSecret
}

// LockoutAhead reports whether no secret of the report will still work once the duration
// asked about has passed: the application is locked out then unless a secret is added.
func (r ExpiryReport) LockoutAhead() bool {
	return len(r.Valid) == 0 && len(r.NeverExpiring) == 0
}

// Classify sorts secrets (from List or All, say) into an ExpiryReport as of now: expired,
// expiring within the given duration (at or before now+within), never expiring, and valid
// beyond it. It makes no call. A ClientSecret with an unset Expiry (never one from the
// service) counts as never expiring.
func Classify(secrets []ClientSecret, within time.Duration, now time.Time) ExpiryReport {
	r := ExpiryReport{AsOf: now}
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
	byExpiry := func(a, b ClientSecret) int {
		ta, _ := a.Expiry.when(now)
		tb, _ := b.Expiry.when(now)
		return ta.Compare(tb)
	}
	slices.SortStableFunc(r.Expired, byExpiry)
	slices.SortStableFunc(r.ExpiringSoon, byExpiry)
	return r
}

// CheckExpiry lists the secrets of client clientID and classifies them as Classify does,
// as of the time they were read by the Config's Clock, so that a program or a cron job can
// warn before an application is locked out:
//
//	r, err := sc.CheckExpiry(ctx, clientID, 30*24*time.Hour)
//	if err == nil && (len(r.Expired) > 0 || len(r.ExpiringSoon) > 0) { /* warn, rotate */ }
//
// within must not be negative.
func (c *Client) CheckExpiry(ctx context.Context, clientID string, within time.Duration) (*ExpiryReport, error) {
	_, err := c.path(clientID)
	if within < 0 {
		err = errors.Join(err, &identity.ValidationError{Field: "Within", Rule: "must not be negative", Value: within.String()})
	}
	if err != nil {
		return nil, err
	}
	all, err := c.collect(ctx, clientID)
	if err != nil {
		return nil, err
	}
	r := Classify(all, within, c.now())
	return &r, nil
}
