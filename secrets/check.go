package secrets

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/rules"
)

// ExpiryReport sorts a client's secrets by how urgently they need attention, as of AsOf,
// looking ahead a window (the duration asked about): each secret is in exactly one list.
// Expired, ExpiringSoon, Retiring and Retired are in order of expiry, earliest first; the
// others in the order given.
//
// A secret that ends within the window (or has ended) is retiring (retired), not expiring
// soon (expired), when a successor covers it: another secret of the same client that
// works beyond the window, because it expires later (Valid) or never (NeverExpiring). That
// is what a graceful Rotate leaves behind, as it shortens the old secrets to the end of its
// grace period, and what adding a new secret ahead of time looks like: nothing needs
// doing. So either every secret that ends within the window has a successor, or none has
// (LockoutAhead). The service does not say which secret an application uses: one that
// still reads a retiring secret's value is locked out when that secret expires, which
// Rotate prevents by handing the new value to RotateRequest.Store before it shortens
// anything.
//
// What needs a person: Expired and ExpiringSoon secrets (a lockout, now or within the
// window), and NeverExpiring ones, which the service advises against.
type ExpiryReport struct {
	// AsOf is the time the secrets were classified as of.
	AsOf time.Time
	// Expired secrets no longer work, and no secret of the client works beyond the
	// window.
	Expired []ClientSecret
	// ExpiringSoon secrets still work but expire within the window, and no secret of the
	// client works beyond it: unless a secret is added, the application is locked out
	// when the last of them expires.
	ExpiringSoon []ClientSecret
	// Retiring secrets still work and expire within the window, while another secret of
	// the client works beyond it: the old secrets of a rotation, in their grace period.
	// Nothing needs doing.
	Retiring []ClientSecret
	// Retired secrets no longer work, while another secret of the client works beyond
	// the window: the old secrets of a finished rotation. Nothing needs doing, but each
	// takes one of the client's MaxPerClient places until it is deleted: the next Rotate
	// deletes the expired secrets its policy retires, and frees places at the limit with
	// RotateRequest.FreeRoom.
	Retired []ClientSecret
	// NeverExpiring secrets do not expire; the service advises against them.
	NeverExpiring []ClientSecret
	// Valid secrets expire, but later than the window's end.
	Valid []ClientSecret
}

// LockoutAhead reports whether no secret of the report will still work once the window
// has passed: the application is locked out then unless a secret is added. It is true for
// a client without secrets, and false whenever Retiring or Retired has a secret.
func (r ExpiryReport) LockoutAhead() bool {
	return len(r.Valid) == 0 && len(r.NeverExpiring) == 0
}

// Len returns the number of secrets in the report, in all its lists.
func (r ExpiryReport) Len() int {
	return len(r.Expired) + len(r.ExpiringSoon) + len(r.Retiring) + len(r.Retired) + len(r.NeverExpiring) + len(r.Valid)
}

// Classify sorts secrets (from List or All, say) into an ExpiryReport as of now, looking
// ahead within: never expiring; valid beyond the window (expiring after now+within);
// expired (at or before now) and expiring within the window (at or before now+within),
// which are Retired and Retiring instead when a secret of the list is valid beyond the
// window or never expires (see ExpiryReport). It makes no call. A ClientSecret with an
// unset Expiry (never one from the service) counts as never expiring.
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
	// A successor covers every secret that ends within the window: the service cannot
	// tell which one an application uses, so it is the client that counts.
	if !r.LockoutAhead() {
		r.Retired, r.Expired = r.Expired, nil
		r.Retiring, r.ExpiringSoon = r.ExpiringSoon, nil
	}
	byExpiry := func(a, b ClientSecret) int {
		ta, _ := a.Expiry.when(now)
		tb, _ := b.Expiry.when(now)
		return ta.Compare(tb)
	}
	for _, l := range [][]ClientSecret{r.Expired, r.ExpiringSoon, r.Retiring, r.Retired} {
		slices.SortStableFunc(l, byExpiry)
	}
	return r
}

// CheckExpiry lists the secrets of client clientID and classifies them as Classify does,
// as of the time they were read by the Config's Clock, so that a program or a cron job can
// warn before an application is locked out:
//
//	r, err := sc.CheckExpiry(ctx, clientID, 30*24*time.Hour)
//	if err == nil && (len(r.Expired) > 0 || len(r.ExpiringSoon) > 0) { /* warn, rotate */ }
//
// The old secrets of a graceful rotation are Retiring, then Retired, and do not warn.
// within must not be negative.
func (c *Client) CheckExpiry(ctx context.Context, clientID string, within time.Duration) (*ExpiryReport, error) {
	ctx, op := c.tel().Start(ctx, "secrets.CheckExpiry", clientID)
	v, err := c.checkExpiry(ctx, clientID, within)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return v, err
}

func (c *Client) checkExpiry(ctx context.Context, clientID string, within time.Duration) (*ExpiryReport, error) {
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
	now := c.now()
	r := Classify(all, within, now)
	if t := c.tel(); t != nil {
		t.Expiry(ctx, daysToExpiry(all, now), r.LockoutAhead())
	}
	return &r, nil
}

// daysToExpiry returns the days from now to the expiry of each secret that expires
// (negative when it has expired), for telemetry.
func daysToExpiry(secrets []ClientSecret, now time.Time) []float64 {
	var days []float64
	for _, s := range secrets {
		if at, ok := s.Expiry.when(now); ok && !s.Expiry.Never() {
			days = append(days, at.Sub(now).Hours()/24)
		}
	}
	return days
}
