package secrets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ocs-go/identity/internal/marker"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/validate"
)

// DefaultRenewBefore is Policy.RenewBefore when it is zero: a client is due thirty days
// before its newest working secret expires.
const DefaultRenewBefore = 30 * 24 * time.Hour

// policyDescription starts the default description of a secret made by a Policy; the date
// (UTC) follows. A Policy knows its own secrets by it (see Policy.MaxAge).
const policyDescription = "rotated by policy on "

// Policy says when a client's secrets are rotated and how, for a program that runs on a
// schedule (a cron job, hybridclients.ApplyRotations): a client is due when its newest
// working secret expires within RenewBefore or is older than MaxAge, and a due client is
// rotated as Rotate does: add, proof, store, then retirement. The zero Policy is safe:
// each zero field has the default named on it.
//
// Whether a client is due follows from its secrets alone, never from a record kept
// elsewhere, so a second run right after a rotation finds nothing due: the newest secret
// is then the new one, far from its expiry (also while the old secrets are in their
// grace). A rotation whose proof never came deleted its new secret, so the next run finds
// the client due again. When that delete failed (the *ProofError names the secret left),
// or the run was killed while it waited for the proof, the secret left has the short
// expiry a rotation adds its new secret with (see Rotate's step 2): it expires on its own
// within hours, and the client stays due meanwhile (with any RenewBefore longer than
// those hours; the default is 30 days).
type Policy struct {
	// RenewBefore: a client is due when its newest working secret (the one that expires
	// last; one that never expires counts as the newest) expires within this; zero means
	// DefaultRenewBefore (30 days).
	RenewBefore time.Duration
	// MaxAge: a client is also due when its newest secret is older than this; zero means
	// no limit. The service records no creation time, so the age is known only of a
	// secret this policy made (its Description, or the default description): its expiry
	// less Lifetime. That reads up to an hour older than the truth (the expiry's marker,
	// see AddRequest.Expiry), and changing Lifetime changes the age read of the secrets
	// made before. Of any other secret the age is unknown, and only RenewBefore applies.
	// When set, it must be more than ProofTimeout and an hour, or a client could be due
	// again before its rotation ends.
	MaxAge time.Duration
	// Lifetime is the new secret's; zero means one year (the same date a year later, as
	// the portal does). It must be longer than RenewBefore, or a new secret would be due
	// at once, and leave the new secret at least Grace (and the hour a new secret may
	// take to work) after the expiry's marker.
	Lifetime time.Duration
	// Grace: the retired old secrets keep working this long after the new one, accepted by
	// the identity server, was stored (RotateRequest.Grace); zero means one hour, else at least
	// MinGrace.
	Grace time.Duration
	// Retire chooses which old secrets a rotation retires; the zero value is RetireAll.
	Retire RetirePolicy
	// Description is the new secret's; "" means a default that names the policy and the
	// date ("rotated by policy on 2026-11-25").
	Description string
	// ProofTimeout is how long a rotation waits for the identity server to accept the new
	// secret (RotateRequest.ProofTimeout); zero means DefaultProofTimeout (1 h 10 min).
	ProofTimeout time.Duration
}

func (p Policy) renewBefore() time.Duration {
	if p.RenewBefore == 0 {
		return DefaultRenewBefore
	}
	return p.RenewBefore
}

// lifetime is the new secret's lifetime from now: Lifetime, or one calendar year.
func (p Policy) lifetime(now time.Time) time.Duration {
	if p.Lifetime == 0 {
		return now.AddDate(1, 0, 0).Sub(now)
	}
	return p.Lifetime
}

// Validate reports every broken rule of the policy at once (errors.Join of
// *identity.ValidationError, matching identity.ErrInvalidInput); nil when it is usable.
func (p Policy) Validate() error {
	return rules.Prefixed(pkgName, p.validate())
}

func (p Policy) validate() error {
	var v validate.Errors
	for _, d := range []struct {
		field string
		d     time.Duration
	}{{"RenewBefore", p.RenewBefore}, {"MaxAge", p.MaxAge}, {"Lifetime", p.Lifetime}, {"Grace", p.Grace}, {"ProofTimeout", p.ProofTimeout}} {
		if d.d < 0 {
			v.Add(d.field, "must not be negative (zero means the default)", d.d.String())
		}
	}
	if p.Grace > 0 && p.Grace < MinGrace {
		v.Add("Grace", "must be zero (one hour) or at least "+MinGrace.String(), p.Grace.String())
	}
	if p.Retire.kind == retireBefore && p.Retire.before.IsZero() {
		v.Add("Retire", "RetireExpiringBefore needs a non-zero time", p.Retire.String())
	}
	v.Text("Description", p.Description)
	// Rules between the fields, as of any moment: the lifetime's calendar year aside,
	// they do not depend on when.
	ref := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	life := p.lifetime(ref)
	if p.RenewBefore >= 0 && p.Lifetime >= 0 && life <= p.renewBefore() {
		v.Add("Lifetime", fmt.Sprintf("must be longer than RenewBefore (%s), or a new secret is due again at once", p.renewBefore()), life.String())
	}
	grace := p.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	if need := max(grace, PropagationDelay); p.Lifetime > 0 && marker.Earliest(ref.Add(life), ref).Before(ref.Add(need)) {
		v.Add("Lifetime", "must leave the new secret at least "+need.String()+" (the grace period, and the hour a new secret may take to work) after the marker's shift of up to a tenth of its lifetime", life.String())
	}
	if proof := (RotateRequest{ProofTimeout: max(p.ProofTimeout, 0)}).proofTimeout(); p.MaxAge > 0 && p.MaxAge <= proof+marker.MaxOffset {
		v.Add("MaxAge", "must be more than ProofTimeout ("+proof.String()+") and an hour: a client could be due again before its rotation ends, its age read up to an hour long", p.MaxAge.String())
	}
	return v.Err()
}

// RotateRequest is the request by which a due client is rotated at the time now: the
// policy's description, lifetime, retire policy, grace and proof timeout, FreeRoom (only
// secrets expired for more than ClockSkewMargin are deleted to make room), and store.
func (p Policy) RotateRequest(store func(ctx context.Context, s Added) error, now time.Time) RotateRequest {
	req := RotateRequest{
		Description: p.description(now), Store: store, Retire: p.Retire, Grace: p.Grace,
		ProofTimeout: p.ProofTimeout, FreeRoom: true,
	}
	if p.Lifetime > 0 {
		req.Expiry = ExpiresIn(p.Lifetime)
	}
	return req
}

// description is the new secret's description at the time now.
func (p Policy) description(now time.Time) string {
	if p.Description != "" {
		return p.Description
	}
	return policyDescription + now.UTC().Format(time.DateOnly)
}

// made reports whether s carries this policy's description: the policy made it.
func (p Policy) made(s ClientSecret) bool {
	if p.Description != "" {
		return s.Description == p.Description
	}
	rest, ok := strings.CutPrefix(s.Description, policyDescription)
	_, err := time.Parse(time.DateOnly, rest)
	return ok && err == nil
}

// age returns how old s is at the time now, and false when that is unknown: known only of
// a secret this policy made, as its expiry less the lifetime.
func (p Policy) age(s ClientSecret, now time.Time) (time.Duration, bool) {
	at, ok := s.Expiry.when(now)
	if !ok || s.Expiry.Never() || !p.made(s) {
		return 0, false
	}
	made := at.Add(-p.Lifetime)
	if p.Lifetime == 0 {
		made = at.AddDate(-1, 0, 0)
	}
	return now.Sub(made), true
}

// Plan is what a Policy decides for one client's secrets, as of AsOf, and what a rotation
// would do: which secrets it would delete to make room, and how it would retire the
// others (as if the identity server accepted the new secret at AsOf).
type Plan struct {
	// ClientID is the client; AsOf the time the plan was made as of.
	ClientID string
	AsOf     time.Time
	// Due says whether the client is rotated now, and Reason why or why not, in a
	// sentence for a person ("newest working secret 3 expires 2027-01-02T00:00:00Z, in
	// 12 days: within 30 days").
	Due    bool
	Reason string
	// Finding, when not empty, is what the policy cannot settle and a person should look
	// at: a newest secret that never expires (never due: its age is unknown), or a client
	// at MaxPerClient secrets with none expired to make room. A due client with a Finding
	// is not rotated.
	Finding string
	// Newest is the newest working secret; its ID is zero when none works.
	Newest ClientSecret
	// Lifetime and Description are the new secret's.
	Lifetime    time.Duration
	Description string
	// FreeRoom are the expired secrets a rotation deletes first, to stay within
	// MaxPerClient. Delete, Shorten and Keep are the old secrets the policy's Retire
	// selects: deleted (expired for more than ClockSkewMargin), shortened to the end of
	// Grace after the proof, or kept as they are (they expire within the grace anyway).
	FreeRoom, Delete, Shorten, Keep []ClientSecret
	// Grace is the grace period of the retired secrets.
	Grace time.Duration
}

// Rotates reports whether applying the plan rotates the client: Due, without a Finding.
func (p Plan) Rotates() bool { return p.Due && p.Finding == "" }

// String says the plan in a paragraph: due or not and why, and what a rotation would do.
func (p Plan) String() string {
	var b strings.Builder
	switch {
	case p.Rotates():
		b.WriteString("due: " + p.Reason)
	case p.Due:
		b.WriteString("due, but not rotated: " + p.Reason + "; needs a person: " + p.Finding)
		return b.String()
	default:
		b.WriteString("not due: " + p.Reason)
		if p.Finding != "" {
			b.WriteString("; needs a person: " + p.Finding)
		}
		return b.String()
	}
	if len(p.FreeRoom) > 0 {
		fmt.Fprintf(&b, "; would delete expired secrets %v to make room", ids(p.FreeRoom))
	}
	fmt.Fprintf(&b, "; would add a secret %q that lives %s, wait until the identity server accepts it, store it", p.Description, days(p.Lifetime))
	if len(p.Delete)+len(p.Shorten)+len(p.Keep) == 0 {
		b.WriteString(", and retire no old secret")
		return b.String()
	}
	b.WriteString(", then")
	var parts []string
	if len(p.Shorten) > 0 {
		parts = append(parts, fmt.Sprintf("let old secrets %v work %s more", ids(p.Shorten), p.Grace))
	}
	if len(p.Delete) > 0 {
		parts = append(parts, fmt.Sprintf("delete expired secrets %v", ids(p.Delete)))
	}
	if len(p.Keep) > 0 {
		parts = append(parts, fmt.Sprintf("leave %v to expire within the grace", ids(p.Keep)))
	}
	b.WriteString(" " + strings.Join(parts, ", "))
	return b.String()
}

// days shows a duration of days as days, a shorter one as a duration.
func days(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}

// Plan decides for the secrets of client clientID (from List or All, say) as of now. It
// makes no call and does not check the policy (Validate does).
func (p Policy) Plan(clientID string, secrets []ClientSecret, now time.Time) Plan {
	pl := Plan{ClientID: clientID, AsOf: now, Lifetime: p.lifetime(now), Description: p.description(now), Grace: p.Grace}
	if pl.Grace == 0 {
		pl.Grace = DefaultGrace
	}
	newest, working := newestWorking(secrets, now)
	pl.Newest = newest
	switch at, _ := newest.Expiry.when(now); {
	case !working && len(secrets) == 0:
		pl.Due, pl.Reason = true, "the client has no secret"
	case !working:
		pl.Due, pl.Reason = true, "no working secret: every secret has expired"
	case newest.Expiry.Never():
		pl.Reason = fmt.Sprintf("newest working secret %d never expires", newest.ID)
		pl.Finding = fmt.Sprintf("secret %d never expires, so the policy never rotates it (its age is unknown); give it an expiry, or rotate it by hand", newest.ID)
	case !at.After(now.Add(p.renewBefore())):
		pl.Due, pl.Reason = true, fmt.Sprintf("newest working secret %d expires %s, in %s: within %s", newest.ID, at.UTC().Format(time.RFC3339), days(at.Sub(now).Round(24*time.Hour)), days(p.renewBefore()))
	default:
		pl.Reason = fmt.Sprintf("newest working secret %d expires %s, in %s: due %s before", newest.ID, at.UTC().Format(time.RFC3339), days(at.Sub(now).Round(24*time.Hour)), days(p.renewBefore()))
		if age, known := p.age(newest, now); known && p.MaxAge > 0 {
			if age > p.MaxAge {
				pl.Due, pl.Reason = true, fmt.Sprintf("newest working secret %d is about %s old (made by this policy, a lifetime before its expiry): more than %s", newest.ID, days(age.Round(24*time.Hour)), days(p.MaxAge))
			} else {
				pl.Reason += fmt.Sprintf(", or when older than %s (it is about %s old)", days(p.MaxAge), days(age.Round(24*time.Hour)))
			}
		}
	}
	if !pl.Due {
		return pl
	}
	free, ok := roomToFree(secrets, now)
	if !ok {
		pl.Finding = fmt.Sprintf("the client has %d secrets, the limit, none of them expired for %s or more: delete one by hand to make room", len(secrets), ClockSkewMargin)
		return pl
	}
	pl.FreeRoom = free
	graceEnd := now.Add(pl.Grace)
	for _, s := range secrets {
		if slices.ContainsFunc(free, func(f ClientSecret) bool { return f.ID == s.ID }) || !p.Retire.retires(s, now) {
			continue
		}
		switch retireBy(s, now, graceEnd, false) {
		case retireDelete:
			pl.Delete = append(pl.Delete, s)
		case retireKeep:
			pl.Keep = append(pl.Keep, s)
		case retireShorten:
			pl.Shorten = append(pl.Shorten, s)
		}
	}
	return pl
}

// newestWorking returns the working secret (not expired at now) that expires last, one
// that never expires counting as the latest (of several, the highest id), and false when
// none works.
func newestWorking(secrets []ClientSecret, now time.Time) (ClientSecret, bool) {
	var newest ClientSecret
	found := false
	for _, s := range secrets {
		if s.Expired(now) {
			continue
		}
		if !found || later(s, newest) {
			newest, found = s, true
		}
	}
	return newest, found
}

// later reports whether a expires after b: never is the latest; between equals, the
// higher id (the later added).
func later(a, b ClientSecret) bool {
	an, bn := a.Expiry.Never() || a.Expiry.IsZero(), b.Expiry.Never() || b.Expiry.IsZero()
	switch {
	case an != bn:
		return an
	case an:
		return a.ID > b.ID
	}
	if c := a.Expiry.at.Compare(b.Expiry.at); c != 0 {
		return c > 0
	}
	return a.ID > b.ID
}

// PlanRotation lists the secrets of client clientID and decides by policy whether they
// are due for rotation, as of the time they were read (Config.Clock). It changes nothing.
// An invalid policy is refused before anything is sent (errors.Is(err,
// identity.ErrInvalidInput)). Rotate the client with
// Rotate(ctx, clientID, policy.RotateRequest(store, now)) when the plan Rotates.
func (c *Client) PlanRotation(ctx context.Context, clientID string, policy Policy) (*Plan, error) {
	ctx, op := c.tel().Start(ctx, "secrets.PlanRotation", clientID)
	v, err := c.planRotation(ctx, clientID, policy)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return v, err
}

func (c *Client) planRotation(ctx context.Context, clientID string, policy Policy) (*Plan, error) {
	_, err := c.path(clientID)
	if err := errors.Join(err, policy.validate()); err != nil {
		return nil, err
	}
	all, err := c.collect(ctx, clientID)
	if err != nil {
		return nil, err
	}
	pl := policy.Plan(clientID, all, c.now())
	return &pl, nil
}
