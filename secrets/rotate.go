package secrets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ocs-go/identity"
)

// RetirePolicy chooses which of a client's other secrets Rotate retires once the new one
// is stored: RetireAll (the zero value), RetireExpired or RetireExpiringBefore.
type RetirePolicy struct {
	kind   retireKind
	before time.Time
}

type retireKind uint8

const (
	retireAll retireKind = iota
	retireExpired
	retireBefore
)

// RetireAll retires every secret the client had before the rotation. It is the default.
func RetireAll() RetirePolicy { return RetirePolicy{} }

// RetireExpired retires only secrets that have already expired.
func RetireExpired() RetirePolicy { return RetirePolicy{kind: retireExpired} }

// RetireExpiringBefore retires secrets that expire (or have expired) before t; secrets
// that never expire are kept. t must not be zero.
func RetireExpiringBefore(t time.Time) RetirePolicy {
	return RetirePolicy{kind: retireBefore, before: t}
}

// String shows the policy: "all", "expired" or "expiring before <RFC 3339 time>".
func (p RetirePolicy) String() string {
	switch p.kind {
	case retireExpired:
		return "expired"
	case retireBefore:
		return "expiring before " + p.before.UTC().Format(time.RFC3339)
	}
	return "all"
}

// retires reports whether the policy retires s at the time now.
func (p RetirePolicy) retires(s Metadata, now time.Time) bool {
	switch p.kind {
	case retireExpired:
		return s.Expired(now)
	case retireBefore:
		return s.ExpiresBefore(p.before)
	}
	return true
}

// MinGrace is the shortest positive RotateOptions.Grace: a shorter one could be over
// before the service has applied it.
const MinGrace = time.Minute

// RotateOptions configure Rotate.
type RotateOptions struct {
	// Description describes the new secret.
	Description string
	// Expiry is the new secret's expiry; the zero value means one year from now.
	Expiry Expiry
	// Store receives the new secret with its value and must put the value where the
	// application reads it (a file, a vault, a deployment) before returning nil. It is
	// required. When it returns an error, Rotate deletes the new secret again and leaves
	// the old ones untouched. Store must not keep s.Value beyond what it stores.
	Store func(ctx context.Context, s Added) error
	// Retire chooses which of the other secrets are retired after Store succeeded. The
	// zero value is RetireAll().
	Retire RetirePolicy
	// Grace, when positive, keeps retired secrets working for this long: instead of being
	// deleted, each gets its expiry shortened to now+Grace, so applications that still use
	// it have time to pick up the new one. A secret that expires sooner anyway is left as
	// it is (never lengthened); one that has already expired is deleted. As changes take up
	// to an hour to reach sign-in, a Grace of at least an hour is advisable.
	Grace time.Duration
	// FreeRoom allows Rotate, when the client already has MaxPerClient secrets, to delete
	// expired secrets (the earliest expired first, only as many as needed) to make room
	// for the new one. Without it, or without expired secrets, Rotate fails before
	// creating anything with an error matching ErrLimitReached.
	FreeRoom bool
}

func (o RotateOptions) validate(now time.Time) (*wireWrite, error) {
	var errs []error
	w, err := AddRequest{Description: o.Description, Expiry: o.Expiry}.wire(now)
	if err != nil {
		errs = append(errs, err)
	}
	if o.Store == nil {
		errs = append(errs, &identity.ValidationError{Field: "Store", Rule: "must be set: the new secret's value must go somewhere", Value: nil})
	}
	if o.Retire.kind == retireBefore && o.Retire.before.IsZero() {
		errs = append(errs, &identity.ValidationError{Field: "Retire", Rule: "RetireExpiringBefore needs a non-zero time", Value: o.Retire.String()})
	}
	if o.Grace < 0 || (o.Grace > 0 && o.Grace < MinGrace) {
		errs = append(errs, &identity.ValidationError{Field: "Grace", Rule: "must be zero (delete at once) or at least " + MinGrace.String(), Value: o.Grace.String()})
	}
	return w, errors.Join(errs...)
}

// Rotation says what Rotate did. It never holds the new secret's value: that went to
// RotateOptions.Store only.
type Rotation struct {
	// Added is the new secret; its ID is zero when the client has no new secret (the add
	// failed, or Store failed and the new secret was deleted again).
	Added Metadata
	// Deleted are the retired secrets that were deleted.
	Deleted []Metadata
	// Shortened are the retired secrets whose expiry was shortened to the grace period's
	// end, as they are afterwards.
	Shortened []Metadata
	// Kept are retired secrets left as they were because they expire within the grace
	// period anyway.
	Kept []Metadata
	// FreedRoom are the expired secrets deleted before the add to stay within
	// MaxPerClient (RotateOptions.FreeRoom).
	FreedRoom []Metadata
	// NotRetired are the secrets that the retire policy selected but that were not yet
	// handled when Rotate stopped with an error; they still work as before.
	NotRetired []Metadata
}

// Rotate replaces a client's secret without locking its application out, in this order:
//
//  1. List the client's secrets. If it has MaxPerClient, delete expired ones when
//     opts.FreeRoom allows, else fail with ErrLimitReached before creating anything.
//  2. Add the new secret (see Add).
//  3. Store: hand the new secret with its value to opts.Store. If Store fails, delete the
//     new secret again and leave the old ones untouched.
//  4. Retire the secrets listed in step 1 that opts.Retire selects: delete them, or with
//     opts.Grace shorten their expiry. Secrets added by someone else meanwhile are never
//     touched; a secret someone else deleted meanwhile counts as deleted.
//
// The new secret can take up to an hour to work at sign-in; use Grace to keep the old ones
// alive meanwhile.
//
// Rotate always returns a non-nil *Rotation saying what was done, also with an error. An
// error after the add says exactly what state the client is in: which secret failed, what
// was already deleted or shortened, and what was not yet handled. Invalid options are
// refused before anything is sent (errors.Is(err, identity.ErrInvalidInput)).
func (c *Client) Rotate(ctx context.Context, clientID string, opts RotateOptions) (*Rotation, error) {
	rot := &Rotation{}
	p, err := c.path(clientID)
	body, err := c.prepare(err, opts.validate)
	if err != nil {
		return rot, err
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("secrets: rotating the secret of client %q: "+format, append([]any{clientID}, a...)...)
	}

	// 1. What is there, and room for one more.
	old, err := c.collect(ctx, clientID)
	if err != nil {
		return rot, fail("listing its secrets: nothing was changed: %w", err)
	}
	if len(old) >= MaxPerClient {
		if !opts.FreeRoom {
			return rot, fail("nothing was changed: %w", limitError(clientID, old, c.now()))
		}
		now := c.now()
		var expired []Metadata
		for _, s := range old {
			if s.Expired(now) {
				expired = append(expired, s)
			}
		}
		need := len(old) - MaxPerClient + 1
		if len(expired) < need {
			return rot, fail("nothing was changed: %w", limitError(clientID, old, now))
		}
		slices.SortStableFunc(expired, func(a, b Metadata) int { return a.Expiry.at.Compare(b.Expiry.at) })
		for _, s := range expired[:need] {
			if err := c.Delete(ctx, clientID, s.ID); err != nil {
				return rot, fail("freeing room: deleting expired secret %d failed; %s; nothing was added: %w", s.ID, rot.done(), err)
			}
			rot.FreedRoom = append(rot.FreedRoom, s)
			old = slices.DeleteFunc(old, func(o Metadata) bool { return o.ID == s.ID })
		}
	}

	// 2. Add.
	added, err := c.add(ctx, clientID, p, body, old)
	if err != nil {
		return rot, fail("adding the new secret: the old secrets are untouched; %s: %w", rot.done(), err)
	}

	// 3. Store.
	if err := opts.Store(ctx, *added); err != nil {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if derr := c.Delete(cctx, clientID, added.ID); derr != nil {
			rot.Added = added.Metadata
			return rot, fail("storing the new secret failed (%w), and deleting it again failed too (%w): new secret %d is left on the client and nobody holds its value; delete it. The old secrets are untouched; %s",
				err, derr, added.ID, rot.done())
		}
		return rot, fail("storing the new secret failed, so new secret %d was deleted again; the old secrets are untouched; %s: %w", added.ID, rot.done(), err)
	}
	rot.Added = added.Metadata

	// 4. Retire.
	now := c.now()
	var retiring []Metadata
	for _, s := range old {
		if opts.Retire.retires(s, now) {
			retiring = append(retiring, s)
		}
	}
	var graceEnd time.Time
	if opts.Grace > 0 {
		graceEnd, _, _ = ExpiresIn(opts.Grace).Resolve("Grace", now, Expiry{})
	}
	for i, s := range retiring {
		var err error
		switch {
		case opts.Grace <= 0 || s.Expired(now):
			if err = c.Delete(ctx, clientID, s.ID); err == nil || errors.Is(err, identity.ErrNotFound) {
				err = nil // a secret already gone is retired
				rot.Deleted = append(rot.Deleted, s)
			} else {
				err = fmt.Errorf("deleting old secret %d failed: %w", s.ID, err)
			}
		case expiresBy(s, graceEnd):
			rot.Kept = append(rot.Kept, s)
		default:
			var m *Metadata
			if m, err = c.Update(ctx, clientID, s.ID, UpdateRequest{Expiry: ExpiresAt(graceEnd)}); err == nil {
				rot.Shortened = append(rot.Shortened, *m)
			} else {
				err = fmt.Errorf("shortening the expiry of old secret %d failed: %w", s.ID, err)
			}
		}
		if err != nil {
			return rot, fail("new secret %d was added and stored; retiring the old secrets stopped: %w; %s; not yet retired: %v",
				added.ID, err, rot.done(), ids(retiring[i:]))
		}
	}
	return rot, nil
}

// expiresBy reports whether s expires at or before t.
func expiresBy(s Metadata, t time.Time) bool {
	at, ok := s.Expiry.Time(t)
	return ok && !at.After(t)
}

// done says what r did so far, for error messages.
func (r *Rotation) done() string {
	var parts []string
	if len(r.FreedRoom) > 0 {
		parts = append(parts, fmt.Sprintf("expired secrets %v were deleted to make room", ids(r.FreedRoom)))
	}
	if len(r.Deleted) > 0 {
		parts = append(parts, fmt.Sprintf("old secrets %v were deleted", ids(r.Deleted)))
	}
	if len(r.Shortened) > 0 {
		parts = append(parts, fmt.Sprintf("old secrets %v now expire at the end of the grace period", ids(r.Shortened)))
	}
	if len(parts) == 0 {
		return "no secret was deleted or shortened"
	}
	return strings.Join(parts, ", ")
}
