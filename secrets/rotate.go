package secrets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/marker"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/settle"
	"github.com/ocs-go/identity/internal/validate"
)

// RetirePolicy chooses which of a client's other secrets Rotate retires once the new one
// is proven and stored: RetireAll (the zero value), RetireExpired or RetireExpiringBefore.
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
func (p RetirePolicy) retires(s ClientSecret, now time.Time) bool {
	switch p.kind {
	case retireExpired:
		return s.Expired(now)
	case retireBefore:
		return s.ExpiresBefore(p.before)
	}
	return true
}

// MinGrace is the shortest positive RotateRequest.Grace: a shorter one could be over
// before the service has applied it.
const MinGrace = time.Minute

// PropagationDelay is how long a change to a client's secrets can take to reach sign-in
// (API reference): a new secret may not work, and a deleted one may still work, for this
// long.
const PropagationDelay = time.Hour

// DefaultGrace is the grace period of Rotate when RotateRequest.Grace is zero: old
// secrets keep working for PropagationDelay, until the new one surely works at sign-in.
const DefaultGrace = PropagationDelay

// ClockSkewMargin is how long past its expiry, by this machine's clock, a secret must be
// before Rotate deletes it as expired (RotateRequest.FreeRoom, retiring with a grace
// period): a clock that runs ahead of the service's must not make Rotate delete a secret
// that still works.
const ClockSkewMargin = 5 * time.Minute

// ErrLockoutRisk matches the error of Rotate when its new secret no longer exists, or
// someone shortened its expiry, while the proof waited or after Store returned: another
// rotation of the same client overlapped this one (rotations of one client must not
// overlap). After Store, the value Store put in place may not work, or not for long: the
// application may be locked out. Rotate then retires nothing (before Store it stores
// nothing either, and deletes what is left of the new secret); check what is stored and
// rotate again.
var ErrLockoutRisk = errors.New("the stored secret was deleted or shortened by someone else: the application may be locked out")

// RotateRequest configures Rotate.
type RotateRequest struct {
	// Description describes the new secret.
	Description string
	// Expiry is the new secret's expiry; the zero value means one year from now. It must
	// leave the new secret at least max(Grace, PropagationDelay) to live, marker included
	// (see AddRequest.Expiry: the expiry sent may be up to a tenth of the lifetime, at most
	// an hour, earlier than asked); a sooner expiry is refused before anything is sent, as
	// the new secret would stop working before the old ones do. While the proof runs, the
	// new secret has a shorter expiry, the one the add sends (see Rotate's step 2): once
	// proven, it gets this one, exactly (cut to whole seconds), before Store; Store and the
	// Rotation see it.
	Expiry Expiry
	// Store receives the new secret with its value, once the identity server has accepted
	// it (unless SkipProof or RetireAtOnce), and must put the value where the application
	// reads it (a vault, a deployment, or a file: s.Value.ReplaceFile puts it in place of
	// the old value in one step) before returning nil: the application never gets a value
	// the identity server still refuses. It is required. When it returns an error, or
	// panics, Rotate deletes the new secret again and leaves the old ones untouched (a
	// panic then goes on to Rotate's caller). Should that delete fail after a panic, the
	// panic goes on with an error instead of Store's value: it names the client, the new
	// secret left on it (whose value nobody holds) and why the delete failed, and it wraps
	// Store's value when that is an error (errors.Is and errors.As find it), or else shows
	// it in its text. Store must not keep s.Value beyond what it stores.
	Store func(ctx context.Context, s Added) error
	// Retire chooses which of the other secrets are retired after the proof and Store
	// succeeded. The zero value is RetireAll().
	Retire RetirePolicy
	// Grace keeps retired secrets working for this long: instead of being deleted, each
	// gets its expiry shortened to now+Grace, so applications that still use it have time
	// to pick up the new one (which itself can take up to PropagationDelay to work). A
	// secret that expires sooner anyway is left as it is (never lengthened); one that
	// expired more than ClockSkewMargin ago is deleted. Zero means DefaultGrace (one hour);
	// a positive Grace must be at least MinGrace, and a Grace under an hour risks a lockout.
	Grace time.Duration
	// RetireAtOnce deletes the retired secrets at once instead of shortening them (Grace
	// must then be zero), without waiting for the identity server to accept the new
	// secret: an old secret that must stop working now (it leaked) must not work for the
	// hour a proof can take. Risk: the new secret can take up to an hour to work at
	// sign-in, and the deleted ones stop working at once, so applications may be locked
	// out for up to that hour.
	RetireAtOnce bool
	// ProofTimeout is how long Rotate waits, after the add, for the identity server to
	// accept the new secret before it stores it; zero means DefaultProofTimeout
	// (the hour a change can take to reach sign-in, and ten minutes). Rotate asks with a
	// token request that signs nobody in, the client's id and the new secret: a hybrid
	// client's with an authorization code that cannot exist (the identity server
	// authenticates the client first, so an answer other than invalid_client proves the
	// secret), a client-credential client's with a client-credentials grant (the token is
	// dropped). It asks at once, then after 5 s, doubling to every 5 min, by Config.Clock;
	// each ask is one failed token request in the identity server's log. An answer that is
	// no verdict but may change (no answer, a 5xx, a throttle: 429 or 408) is asked again
	// the same way, after its Retry-After when that is longer (at most 5 min). Each ask
	// waits at most 30 s of real time for its answer (on the system clock, also no longer
	// than the proof has left, but at least 2 s); one that gets none is no verdict either,
	// and the proof's deadline still ends the wait. Never accepted
	// in time: nothing is stored or retired, the new secret is deleted again (nobody holds
	// its value), and the error is a *ProofError.
	ProofTimeout time.Duration
	// SkipProof stores the new secret at once and retires without waiting for the identity
	// server to accept it, the grace counting from the end of Store: the application gets
	// a value that may be refused for up to an hour, and for a program that cannot reach the token
	// endpoint, or knows the secret works by other means. It risks a lockout: the
	// application reading the new value is refused until it reaches sign-in.
	SkipProof bool
	// FreeRoom allows Rotate, when the client already has MaxPerClient secrets, to delete
	// secrets that expired more than ClockSkewMargin ago by this machine's clock (the
	// earliest first, only as many as needed) to make room for the new one. Without it, or
	// without such secrets, Rotate fails before creating anything with an error matching
	// ErrLimitReached.
	FreeRoom bool
}

// skipsProof reports whether the old secrets are retired without waiting for proof.
func (o RotateRequest) skipsProof() bool { return o.SkipProof || o.RetireAtOnce }

// proofTimeout is the proof's timeout in effect.
func (o RotateRequest) proofTimeout() time.Duration {
	if o.ProofTimeout == 0 {
		return DefaultProofTimeout
	}
	return o.ProofTimeout
}

// proofExpiryMargin is how long after the proof's deadline the first, short expiry of a
// rotation's new secret comes (see proofWindow): the hour its full expiry, set once the
// proof came, may take to reach sign-in (until then sign-in may go by the short one), and
// half an hour for the expiry's marker (up to a tenth of the short lifetime), the add's
// own time and clock skew.
const proofExpiryMargin = PropagationDelay + 30*time.Minute

// proofWindow gives body, the add of a rotation that waits for its proof, at the time now,
// a short expiry: the proof's timeout and proofExpiryMargin from now, when that is sooner
// than the one asked for. So a new secret whose rotation never ends (the process is killed
// while it waits for the proof) expires on its own soon, and Policy.Plan sees it expiring
// (its client stays due) instead of a year-long secret whose value nobody holds. It returns
// the expiry asked for, which the rotation sets once the proof came and before Store;
// zero when body keeps it (a sooner one, or no proof to wait for).
func (o RotateRequest) proofWindow(body *wireWrite, now time.Time) Expiry {
	if o.skipsProof() || !body.Expiration.set {
		return Expiry{}
	}
	short := now.Add(o.proofTimeout() + proofExpiryMargin).UTC().Truncate(time.Second)
	full := NeverExpires()
	if at := body.Expiration.at; at != nil {
		if !short.Before(*at) {
			return Expiry{}
		}
		full = ExpiresAt(*at)
	}
	body.Expires, body.Expiration = identity.Ptr(true), wireExpiration{set: true, at: &short}
	return full
}

// grace is the grace period in effect.
func (o RotateRequest) grace() time.Duration {
	if o.Grace == 0 && !o.RetireAtOnce {
		return DefaultGrace
	}
	return o.Grace
}

func (o RotateRequest) validate(now time.Time) (*wireWrite, error) {
	var errs []error
	w, err := AddRequest{Description: o.Description, Expiry: o.Expiry}.validate(now)
	if err != nil {
		errs = append(errs, err)
	}
	if o.Store == nil {
		errs = append(errs, &identity.ValidationError{Field: "Store", Rule: "must be set: the new secret's value must go somewhere", Value: nil})
	}
	if o.Retire.kind == retireBefore && o.Retire.before.IsZero() {
		errs = append(errs, &identity.ValidationError{Field: "Retire", Rule: "RetireExpiringBefore needs a non-zero time", Value: o.Retire.String()})
	}
	switch {
	case o.Grace < 0 || (o.Grace > 0 && o.Grace < MinGrace):
		errs = append(errs, &identity.ValidationError{Field: "Grace", Rule: "must be zero (one hour) or at least " + MinGrace.String(), Value: o.Grace.String()})
	case o.RetireAtOnce && o.Grace != 0:
		errs = append(errs, &identity.ValidationError{Field: "Grace", Rule: "must be zero with RetireAtOnce (deleting at once has no grace period)", Value: o.Grace.String()})
	}
	switch {
	case o.ProofTimeout < 0:
		errs = append(errs, &identity.ValidationError{Field: "ProofTimeout", Rule: "must not be negative (0 means " + DefaultProofTimeout.String() + ")", Value: o.ProofTimeout.String()})
	case o.ProofTimeout > 0 && o.skipsProof():
		errs = append(errs, &identity.ValidationError{Field: "ProofTimeout", Rule: "must be zero with SkipProof or RetireAtOnce (they wait for no proof)", Value: o.ProofTimeout.String()})
	}
	// The new secret must outlive the old ones' grace period and the hour it may take to
	// work at all; else Rotate would plan a lockout (ExpiresIn(time.Second) retiring all).
	if w != nil && w.Expiration.at != nil {
		need := max(o.grace(), PropagationDelay)
		if earliest := marker.Earliest(*w.Expiration.at, now); earliest.Before(now.Add(need)) {
			errs = append(errs, &identity.ValidationError{Field: "Expiry",
				Rule:  "must leave the new secret at least " + need.String() + " (the grace period, and the hour a new secret may take to work) after the marker's shift of up to a tenth of its lifetime",
				Value: w.Expiration.at.Format(time.RFC3339)})
		}
	}
	return w, errors.Join(errs...)
}

// Rotation says what Rotate did. It never holds the new secret's value: that went to
// RotateRequest.Store only.
type Rotation struct {
	// New is the new secret; its ID is zero when the client has no new secret (the add
	// failed, or the new secret was deleted again: never proven, or Store failed), or
	// when an add whose
	// answer was lost may have made one that nobody could find (the error, an
	// *identity.OutcomeError, says so). A secret an add with a lost answer left (Step
	// StepAdded) shows its ID only; so does one whose delete failed.
	New ClientSecret
	// Deleted are the retired secrets that Rotate deleted, or found already deleted by
	// someone else.
	Deleted []ClientSecret
	// Shortened are the retired secrets whose expiry was shortened to the grace period's
	// end, as they are afterwards.
	Shortened []ClientSecret
	// Kept are retired secrets left as they were because they expire within the grace
	// period anyway.
	Kept []ClientSecret
	// FreedRoom are the expired secrets deleted before the add to stay within
	// MaxPerClient (RotateRequest.FreeRoom).
	FreedRoom []ClientSecret
	// NotRetired are the secrets that the retire policy selected but that were not yet
	// handled when Rotate stopped with an error; they still work as before.
	NotRetired []ClientSecret
	// Step is how far the rotation got: StepDone when every step succeeded.
	Step Step
	// ProvenAt is when the identity server first accepted the new secret, by
	// Config.Clock; zero when the proof was skipped (RetireAtOnce, SkipProof) or never
	// came. Probes counts the token requests that asked.
	ProvenAt time.Time
	Probes   int
}

// Rotate replaces a client's secret without locking its application out, in this order:
//
//  1. List the client's secrets. If it has MaxPerClient, delete secrets expired for more
//     than ClockSkewMargin when req.FreeRoom allows, else fail with ErrLimitReached
//     before creating anything.
//  2. Add the new secret (see Add; it carries this call's marker). Unless the proof is
//     skipped, its expiry is short at first: req.Expiry, or ProofTimeout and an hour and
//     a half from now when that is sooner, so that a new secret whose rotation never ends
//     (the process is killed while it waits for the proof) expires on its own soon, and
//     Policy.Plan sees its client still due. When the add's outcome cannot be settled,
//     the *identity.OutcomeError is returned wrapped (errors.As finds it) and the old
//     secrets are untouched.
//  3. Prove: wait until the identity server accepts the new secret, held in memory only,
//     asking it with a token request that signs nobody in (see req.ProofTimeout), at
//     most req.ProofTimeout from the add. The application still uses its old value,
//     which works. Never accepted (or ctx ends first): nothing is stored or retired, the
//     new secret is deleted again as nobody holds its value, and the error is a
//     *ProofError (ErrNotProven) naming both (and the new secret, left on the client,
//     when the delete failed). Skipped with req.RetireAtOnce or req.SkipProof.
//  4. Store: give the proven secret the expiry asked for (req.Expiry; never, if asked),
//     when the add gave it a short one, then hand it with its value to req.Store. If
//     setting the expiry or Store fails (or Store panics), delete the new secret again
//     and leave the old ones untouched.
//  5. Check that the stored secret still exists with the expiry it was given. If not,
//     another rotation retired it meanwhile: the error matches ErrLockoutRisk and nothing
//     is retired.
//  6. Retire the secrets listed in step 1 that req.Retire selects: by default shorten
//     their expiry to an hour from now (DefaultGrace), or req.Grace, counted from the
//     end of Store; with req.RetireAtOnce delete them. Secrets added after step 1 (by
//     anyone) are never touched; a secret someone else deleted meanwhile counts as
//     deleted.
//
// So the application is only ever given a value the identity server already accepts, and
// its old value keeps working until then and for the grace period after: however long the
// service takes to spread the new secret, every value it reads works. (With SkipProof or
// RetireAtOnce, Store gets the value at once, which may be refused for up to an hour.)
//
// Rotations of one client must not overlap (run them from one place, or under a lock):
// a second rotation lists the first one's new secret among the old ones and retires it,
// and whichever Store runs last may put a retired value in place. Rotate detects this in
// steps 3 and 5 for its own secret (ErrLockoutRisk), but cannot undo the other's Store; and
// a retirement by the other rotation that comes after step 5 cannot be seen at all.
//
// Rotate always returns a non-nil *Rotation saying what was done, also with an error:
// Step is how far it got, Deleted, Shortened and Kept are the old secrets handled,
// NotRetired those selected but not handled when it stopped. Invalid options are refused
// before anything is sent (errors.Is(err, identity.ErrInvalidInput)). It is
// StartRotation and PendingRotation.Finish in one call, and holds the new value in memory
// only until Store returns, or the new secret is deleted.
func (c *Client) Rotate(ctx context.Context, clientID string, req RotateRequest) (*Rotation, error) {
	ctx, op := c.tel().Start(ctx, "secrets.Rotate", clientID)
	v, err := c.rotate(ctx, clientID, req)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	c.tel().Rotation(ctx, rotationResult(err))
	return v, err
}

func (c *Client) rotate(ctx context.Context, clientID string, req RotateRequest) (*Rotation, error) {
	p := c.startRotation(ctx, clientID, req)
	if p.err != nil {
		return p.r.rot, p.err
	}
	return p.finish(ctx)
}

// rotationResult names how a rotation ended, for telemetry.
func rotationResult(err error) string {
	switch {
	case err == nil:
		return "rotated"
	case errors.Is(err, identity.ErrInvalidInput):
		return "invalid_input"
	case errors.Is(err, ErrLockoutRisk):
		return "lockout_risk"
	case errors.Is(err, ErrNotProven):
		return "not_proven"
	case errors.Is(err, identity.ErrOutcomeUnknown):
		return "outcome_unknown"
	case errors.Is(err, ErrLimitReached):
		return "limit_reached"
	}
	return "failed"
}

// rotating is one call of Rotate: what it was asked and what it did so far.
type rotating struct {
	c        *Client
	clientID string
	opts     RotateRequest
	rot      *Rotation
}

// listAndFreeRoom lists the client's secrets (step 1) and, at MaxPerClient, deletes
// expired ones when opts.FreeRoom allows. It returns the secrets that remain: only those
// are ever retired, as one that appears later may be another caller's new secret.
func (r *rotating) listAndFreeRoom(ctx context.Context) ([]ClientSecret, error) {
	old, err := r.c.collect(ctx, r.clientID)
	if err != nil {
		return nil, r.fail("listing its secrets", err, "nothing was changed")
	}
	if len(old) < MaxPerClient {
		return old, nil
	}
	if !r.opts.FreeRoom {
		return nil, r.fail("making room", limitError(r.clientID, old, r.c.now()), "nothing was changed")
	}
	free, ok := roomToFree(old, r.c.now())
	if !ok {
		return nil, r.fail("making room", limitError(r.clientID, old, r.c.now().Add(-ClockSkewMargin)), "nothing was changed")
	}
	for _, s := range free {
		if err := r.c.delete(ctx, r.clientID, s.ID); err != nil {
			return nil, r.fail(fmt.Sprintf("freeing room: deleting expired secret %d failed", s.ID), err, r.rot.done(), "nothing was added")
		}
		r.rot.FreedRoom = append(r.rot.FreedRoom, s)
		old = slices.DeleteFunc(old, func(o ClientSecret) bool { return o.ID == s.ID })
	}
	return old, nil
}

// roomToFree returns the secrets to delete, at the time now, so that one more fits within
// MaxPerClient: those expired for more than ClockSkewMargin (a clock running ahead of the
// service's must not make a working secret look expired), the earliest first, as many as
// needed; ok is false when there are too few. Nothing, when there is room.
func roomToFree(secrets []ClientSecret, now time.Time) (free []ClientSecret, ok bool) {
	need := len(secrets) - MaxPerClient + 1
	if need <= 0 {
		return nil, true
	}
	cutoff := now.Add(-ClockSkewMargin)
	var expired []ClientSecret
	for _, s := range secrets {
		if s.Expired(cutoff) {
			expired = append(expired, s)
		}
	}
	if len(expired) < need {
		return nil, false
	}
	slices.SortStableFunc(expired, func(a, b ClientSecret) int { return a.Expiry.at.Compare(b.Expiry.at) })
	return expired[:need], true
}

// store hands the new secret to opts.Store (step 4), deleting it again when Store fails.
// A Store that panics (or calls runtime.Goexit) gets its new secret deleted too, before
// the panic goes on to the caller: nobody holds its value. When that delete fails, the
// panic goes on as a *storePanic, which names the secret left.
func (r *rotating) store(ctx context.Context, added Added) error {
	returned := false
	defer func() {
		if returned {
			return
		}
		v := recover()
		derr := r.delete(ctx, added.ID)
		switch {
		case v == nil: // runtime.Goexit: nothing to carry the news
		case derr != nil:
			panic(&storePanic{clientID: r.clientID, newID: added.ID, deleteErr: derr, value: v})
		default:
			panic(v)
		}
	}()
	err := r.opts.Store(ctx, added)
	returned = true
	if err != nil {
		return r.discarded(ctx, added.ID, "storing the new secret failed", err)
	}
	r.rot.Step = StepStored
	return nil
}

// storePanic is the panic of a Store that panicked when deleting the new secret again
// failed too: it names the secret left, whose value nobody holds, and carries the value
// Store panicked with (Unwrap returns it when it is an error).
type storePanic struct {
	clientID  string
	newID     int
	deleteErr error
	value     any
}

func (p *storePanic) Error() string {
	return fmt.Sprintf(pkgName+": rotating the secret of client %q: Store panicked (%v), and deleting the new secret again failed (%v): new secret %d is left on the client and nobody holds its value: delete it; the old secrets are untouched",
		p.clientID, p.value, p.deleteErr, p.newID)
}

// Unwrap returns the value Store panicked with when it is an error.
func (p *storePanic) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

// discarded deletes the new secret id, whose value nobody holds, after the rotation
// stopped at step for cause, and returns the rotation's error: the old secrets are
// untouched, and the new secret is deleted again or, when that failed, named.
func (r *rotating) discarded(ctx context.Context, id int, step string, cause error) error {
	if derr := r.delete(ctx, id); derr != nil {
		return r.fail(step+", and deleting the new secret again failed too",
			fmt.Errorf("%w; deleting: %w", cause, derr),
			fmt.Sprintf("new secret %d is left on the client and nobody holds its value: delete it", id),
			"the old secrets are untouched", r.rot.done())
	}
	return r.fail(step, cause,
		fmt.Sprintf("new secret %d was deleted again", id), "the old secrets are untouched", r.rot.done())
}

// delete deletes the rotation's new secret id, whose value nobody holds, on a context
// that outlives ctx by a bounded time (ctx may have ended: that is often why). A secret
// already gone counts as deleted. The Rotation then has no new secret (StepNone); when
// the delete fails, it keeps naming it (StepAdded).
func (r *rotating) delete(ctx context.Context, id int) error {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := r.c.delete(cctx, r.clientID, id); err != nil && !errors.Is(err, identity.ErrNotFound) {
		r.rot.Step = StepAdded
		return err
	}
	r.rot.New, r.rot.Step = ClientSecret{}, StepNone
	return nil
}

// verify checks that the stored secret still exists as stored (step 5): an overlapping
// rotation may have retired it while the proof waited or Store ran, and retiring the old
// secrets then could leave nothing that works.
func (r *rotating) verify(ctx context.Context, added ClientSecret, retiring []ClientSecret) error {
	if err := r.c.checkStored(ctx, r.clientID, added); err != nil {
		r.rot.NotRetired = retiring
		return r.fail(fmt.Sprintf("new secret %d was added and stored, but its check failed", added.ID), err,
			fmt.Sprintf("no old secret was retired (not retired: %v)", ids(retiring)))
	}
	return nil
}

// selected returns the secrets of old that opts.Retire retires at the time now.
func (r *rotating) selected(old []ClientSecret, now time.Time) []ClientSecret {
	var out []ClientSecret
	for _, s := range old {
		if r.opts.Retire.retires(s, now) {
			out = append(out, s)
		}
	}
	return out
}

// retire retires the selected secrets (step 6): each is deleted (RetireAtOnce, or
// expired for more than ClockSkewMargin at now), kept (it expires within the grace
// period anyway) or shortened to the grace period's end. It stops at the first failure,
// naming what is not yet retired.
func (r *rotating) retire(ctx context.Context, addedID int, retiring []ClientSecret, now time.Time) error {
	var graceEnd time.Time
	if !r.opts.RetireAtOnce {
		graceEnd, _, _ = validate.ExpiryAt("Grace", ExpiresIn(r.opts.grace()), now)
	}
	for i, s := range retiring {
		var err error
		switch retireBy(s, now, graceEnd, r.opts.RetireAtOnce) {
		case retireDelete:
			err = r.c.delete(ctx, r.clientID, s.ID)
			if err == nil || errors.Is(err, identity.ErrNotFound) {
				err = nil // a secret already gone is retired
				r.rot.Deleted = append(r.rot.Deleted, s)
			} else {
				err = fmt.Errorf("deleting old secret %d failed: %w", s.ID, err)
			}
		case retireKeep:
			r.rot.Kept = append(r.rot.Kept, s)
		case retireShorten:
			var m *ClientSecret
			if m, err = r.c.update(ctx, r.clientID, s.ID, UpdateRequest{Expiry: ExpiresAt(graceEnd)}); err == nil {
				r.rot.Shortened = append(r.rot.Shortened, *m)
			} else if errors.Is(err, identity.ErrNotFound) {
				err = nil // deleted by someone else meanwhile: retired all the same
				r.rot.Deleted = append(r.rot.Deleted, s)
			} else {
				err = fmt.Errorf("shortening the expiry of old secret %d failed: %w", s.ID, err)
			}
		}
		if err != nil {
			r.rot.NotRetired = retiring[i:]
			return r.fail(fmt.Sprintf("new secret %d was added, proven and stored; retiring the old secrets stopped", addedID), err,
				r.rot.done(), fmt.Sprintf("not yet retired: %v", ids(retiring[i:])))
		}
	}
	return nil
}

// How an old secret is retired.
type retireAction uint8

const (
	retireDelete  retireAction = iota // deleted: at once as asked, or long expired
	retireKeep                        // left as it is: it expires within the grace anyway
	retireShorten                     // its expiry shortened to the grace's end
)

// retireBy decides how s is retired at the time now, with the grace ending at graceEnd
// (atOnce: RetireAtOnce, no grace): deleted when asked to, or when it expired more than
// ClockSkewMargin ago; kept when it expires by graceEnd anyway (never lengthened);
// shortened otherwise.
func retireBy(s ClientSecret, now, graceEnd time.Time, atOnce bool) retireAction {
	switch {
	case atOnce || s.Expired(now.Add(-ClockSkewMargin)):
		return retireDelete
	case expiresBy(s, graceEnd):
		return retireKeep
	}
	return retireShorten
}

// fail is the error of a Rotate that stopped at step, for cause, with the client in the
// given state (short clauses, such as "nothing was changed").
func (r *rotating) fail(step string, cause error, state ...string) error {
	return &rotateError{clientID: r.clientID, step: step, state: state, err: cause}
}

// rotateError is the error of a Rotate that stopped: the step that failed, what is true
// of the client now, and the cause (which errors.Is and errors.As see).
type rotateError struct {
	clientID string
	step     string
	state    []string
	err      error
}

func (e *rotateError) Error() string {
	return fmt.Sprintf("rotating the secret of client %q: %s; %s: %v", e.clientID, e.step, strings.Join(e.state, "; "), e.err)
}

func (e *rotateError) Unwrap() error { return e.err }

// checkStored checks that secret a, just stored, still exists with the expiry it was
// given (an unusable answer is read again, as in Add's check).
func (c *Client) checkStored(ctx context.Context, clientID string, a ClientSecret) error {
	m, err := settle.Read(ctx, c.t, func(ctx context.Context) (*ClientSecret, error) { return c.get(ctx, clientID, a.ID) })
	switch {
	case errors.Is(err, identity.ErrNotFound):
		return fmt.Errorf("%w: it no longer exists (did another rotation of this client overlap this one?)", ErrLockoutRisk)
	case err != nil:
		return fmt.Errorf("checking that it still exists failed: %w", err)
	}
	want, wantExpires := expiryOf(a)
	if got, expires := expiryOf(*m); expires && (!wantExpires || got.Before(want.Add(-time.Second))) {
		return fmt.Errorf("%w: its expiry was shortened to %s (did another rotation of this client overlap this one?)", ErrLockoutRisk, got.UTC().Format(time.RFC3339))
	}
	return nil
}

// expiryOf returns when m expires, and false when it never does.
func expiryOf(m ClientSecret) (time.Time, bool) {
	if m.Expiry.Never() {
		return time.Time{}, false
	}
	return m.Expiry.when(time.Time{})
}

// expiresBy reports whether s expires at or before t.
func expiresBy(s ClientSecret, t time.Time) bool {
	at, ok := s.Expiry.when(t)
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
