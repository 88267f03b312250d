package secrets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/clock"
	"github.com/ocs-go/identity/internal/idserver"
	"github.com/ocs-go/identity/internal/rules"
)

// DefaultProofTimeout is how long a rotation waits for the identity server to accept the
// new secret when RotateRequest.ProofTimeout is zero: the service's PropagationDelay and a
// margin of ten minutes.
const DefaultProofTimeout = PropagationDelay + 10*time.Minute

// The waits between two probes of a proof: from proofFirstWait, doubling up to
// proofMaxWait, never past the proof's deadline. An hour's propagation costs about twenty
// token requests.
const (
	proofFirstWait = 5 * time.Second
	proofMaxWait   = 5 * time.Minute
)

// ErrNotProven matches the error of a rotation whose new secret the identity server did not
// accept in time (RotateRequest.ProofTimeout), or could not be asked about: the old secrets
// are untouched and still work, and the new one is kept, its value stored. errors.As finds
// the *ProofError, which names them.
var ErrNotProven = errors.New("the identity server did not accept the new secret")

// ProofError is the error of a rotation that stored its new secret but never saw the
// identity server accept it: nothing was retired. It matches ErrNotProven, and what it
// wraps (Err) matches too: a context that ended, a connection error, ErrLockoutRisk when
// the new secret vanished meanwhile.
type ProofError struct {
	// ClientID is the client rotated.
	ClientID string
	// NewID is the new secret's id: it is kept, and its value is where Store put it.
	NewID int
	// NotRetired are the ids of the old secrets that would have been retired: untouched.
	NotRetired []int
	// Probes counts the token requests that asked; Waited is how long the proof ran, by
	// Config.Clock.
	Probes int
	Waited time.Duration
	// Err is why the proof stopped without a verdict of acceptance: nil when the identity
	// server kept answering invalid_client until the timeout, else the last probe's error
	// (no answer, a redirect, an answer that says nothing about the client), the
	// context's, or Config.Clock's when its After did not fire in time (see
	// identity.Clock).
	Err error
}

// Error says what is true of the client now and what to do, under the package's name:
// "secrets: rotating the secret of client ...".
func (e *ProofError) Error() string {
	why := "it kept answering invalid_client"
	if e.Err != nil {
		why = "the last probe: " + e.Err.Error()
	}
	return fmt.Sprintf(pkgName+": rotating the secret of client %q: new secret %d was added and stored, but the identity server did not accept it (%d probes in %s; %s); old secrets %v are untouched and still work, and the new secret is kept: find out why it is refused (a disabled client? a propagation slower than an hour?), then retire the old secrets",
		e.ClientID, e.NewID, e.Probes, e.Waited.Round(time.Second), why, e.NotRetired)
}

// Is matches ErrNotProven.
func (e *ProofError) Is(target error) bool { return target == ErrNotProven }

// Unwrap returns Err.
func (e *ProofError) Unwrap() error { return e.Err }

// probe asks the identity server once whether it accepts value for clientID, by the grant
// that the Client's kind of client may use (idserver.Road.Accepts). The token endpoint is
// read from discovery once per Client.
func (c *Client) probe(ctx context.Context, clientID string, value identity.Secret) (bool, error) {
	road := c.t.IDServer()
	tokenURL := c.tokenURL.Load()
	if tokenURL == nil {
		u, err := road.TokenURL(ctx)
		if err != nil {
			return false, err
		}
		tokenURL = &u
		c.tokenURL.Store(tokenURL)
	}
	grant := idserver.ProbeCode
	if c.kind == clientCredentialRoute {
		grant = idserver.ProbeClientCredentials
	}
	return road.Accepts(ctx, grant, *tokenURL, clientID, value)
}

// passing reports whether a probe's error may go away by asking again: no answer, a
// 5xx, a throttle, an answer cut short.
func passing(err error) bool {
	for _, e := range []error{identity.ErrUnreachable, identity.ErrServer, identity.ErrRateLimited, identity.ErrTimeout, identity.ErrInvalidResponse} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// proofWait is the wait after the n-th probe (from 0) that got no acceptance.
func proofWait(n int) time.Duration {
	return min(proofFirstWait<<min(n, 16), proofMaxWait)
}

// backoff is the wait after the last probe: proofWait, or the Retry-After of a throttled
// answer (429, 408, 503) when longer, capped at proofMaxWait.
func (p *PendingRotation) backoff() time.Duration {
	wait := proofWait(p.r.rot.Probes - 1)
	var e *identity.Error
	if errors.As(p.last, &e) && e.RetryAfter > wait {
		wait = min(e.RetryAfter, proofMaxWait)
	}
	return wait
}

// Step is how far a rotation got, in the order of Rotate's steps.
type Step uint8

// The steps of a rotation (Rotation.Step).
const (
	// StepNone: nothing that lasts was changed: the rotation stopped before the add, or
	// its new secret was deleted again (Store failed). Expired secrets may have been
	// deleted to make room (Rotation.FreedRoom).
	StepNone Step = iota
	// StepAdded: the new secret exists but its value is not stored (Store failed, and so
	// did deleting it again; or the add's answer was lost, and deleting the secret it made
	// failed): Rotation.New.ID and the error name it.
	StepAdded
	// StepStored: the value is stored; the old secrets are untouched, as the identity
	// server has not (yet) accepted the new one, or its check failed.
	StepStored
	// StepRetiring: retiring the old secrets began and stopped part way (NotRetired names
	// what is left).
	StepRetiring
	// StepDone: every step succeeded.
	StepDone
)

// String names the step: "none", "added", "stored", "retiring" or "done".
func (s Step) String() string {
	switch s {
	case StepNone:
		return "none"
	case StepAdded:
		return "added"
	case StepStored:
		return "stored"
	case StepRetiring:
		return "retiring"
	case StepDone:
		return "done"
	}
	return fmt.Sprintf("Step(%d)", uint8(s))
}

// PendingRotation is a rotation whose new secret is added and stored, and whose old
// secrets wait for the identity server to accept the new one before they are retired.
// StartRotation makes one; Finish ends it. Between the two it holds the new secret's value
// in memory, for the probes only (it prints as a summary, never the value), and drops it
// (keeps no reference to it) when Finish returns or a probe stops the rotation; a
// PendingRotation that is never finished holds it until it is itself unreachable. Use it
// from one goroutine at a time.
type PendingRotation struct {
	r        *rotating
	err      error          // StartRotation's, when it stopped
	old      []ClientSecret // the secrets listed before the add: only these are retired
	added    ClientSecret
	value    identity.Secret
	begun    time.Time // when Store returned, by the Client's clock
	probed   time.Time // when the last probe was sent
	deadline time.Time
	last     error // the last probe's error
	finished bool
}

// StartRotation does Rotate's steps 1 to 3 (list, add, store) and returns the rotation
// waiting for its proof: Finish does the rest. Rotate is StartRotation and Finish in one;
// call them apart to rotate many clients and wait for their proofs together, probing each
// with Prove (hybridclients.ApplyRotations does), instead of holding one goroutine per
// client for up to the proof's hour.
//
// It always returns a non-nil *PendingRotation; when it also returns an error, the
// rotation stopped (Rotation says where) and Prove and Finish return that error.
func (c *Client) StartRotation(ctx context.Context, clientID string, req RotateRequest) (*PendingRotation, error) {
	ctx, op := c.tel().Start(ctx, "secrets.StartRotation", clientID)
	p := c.startRotation(ctx, clientID, req)
	p.err = rules.Prefixed(pkgName, p.err)
	op.End(p.err)
	if p.err != nil {
		c.tel().Rotation(ctx, rotationResult(p.err)) // it ended here
	}
	return p, p.err
}

// startRotation is StartRotation; p.err is its error.
func (c *Client) startRotation(ctx context.Context, clientID string, req RotateRequest) *PendingRotation {
	r := &rotating{c: c, clientID: clientID, opts: req, rot: &Rotation{}}
	p := &PendingRotation{r: r}
	p.err = p.start(ctx)
	return p
}

func (p *PendingRotation) start(ctx context.Context) error {
	r, c := p.r, p.r.c
	path, err := c.path(r.clientID)
	body, err := c.prepare(err, r.opts.validate)
	if err != nil {
		return err
	}
	tk := c.claims.begin(r.clientID)
	defer tk.end()
	if p.old, err = r.listAndFreeRoom(ctx); err != nil {
		return err
	}
	added, err := c.add(ctx, tk, path, body, p.old)
	if err != nil {
		var oe *identity.OutcomeError
		if errors.As(err, &oe) && len(oe.Orphans) == 1 {
			// The add's answer was lost and its secret could not be deleted: it exists.
			r.rot.New, r.rot.Step = ClientSecret{ID: oe.Orphans[0]}, StepAdded
		}
		return r.fail("adding the new secret", err, "the old secrets are untouched", r.rot.done())
	}
	if err := r.store(ctx, *added); err != nil {
		return err
	}
	p.added, p.value = added.ClientSecret, added.Value
	p.begun = c.now()
	p.deadline = p.begun.Add(r.opts.proofTimeout())
	r.rot.Step = StepStored
	return nil
}

// ClientID is the client whose secret is rotated.
func (p *PendingRotation) ClientID() string {
	if p == nil || p.r == nil {
		return ""
	}
	return p.r.clientID
}

// Deadline is when the rotation stops waiting for the proof, by Config.Clock: the end of
// Store plus RotateRequest.ProofTimeout. Zero when StartRotation stopped.
func (p *PendingRotation) Deadline() time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.deadline
}

// Next is when the proof asks next, by Config.Clock: at once (the end of Store) before the
// first probe; after a probe without acceptance, at the end of its backoff (5 s doubling
// to 5 min, or a throttled answer's Retry-After when longer, at most 5 min), never past
// Deadline. Zero once the proof is settled, skipped, or the rotation
// stopped or finished: a program proving many rotations (see StartRotation) calls Prove
// when Next has come, and Finish once Prove reports true or Deadline has passed.
func (p *PendingRotation) Next() time.Time {
	if p == nil || p.r == nil || p.err != nil || p.finished || p.r.opts.skipsProof() || !p.r.rot.ProvenAt.IsZero() {
		return time.Time{}
	}
	if p.r.rot.Probes == 0 {
		return p.begun
	}
	next := p.probed.Add(p.backoff())
	if next.After(p.deadline) {
		return p.deadline
	}
	return next
}

// Rotation returns what the rotation has done so far (a copy).
func (p *PendingRotation) Rotation() Rotation {
	if p == nil || p.r == nil {
		return Rotation{}
	}
	return *p.r.rot
}

// Format prints a summary: the client, the new secret's id and the step; never the value.
func (p *PendingRotation) Format(f fmt.State, _ rune) {
	if p == nil || p.r == nil {
		_, _ = f.Write([]byte("secrets.PendingRotation(nil)"))
		return
	}
	_, _ = fmt.Fprintf(f, "secrets.PendingRotation{client %q, new secret %d, step %s, %d probes}", p.r.clientID, p.added.ID, p.r.rot.Step, p.r.rot.Probes)
}

// ready refuses a rotation that cannot go on: nil, not made by StartRotation, stopped, or
// finished.
func (p *PendingRotation) ready(ctx context.Context) error {
	switch {
	case p == nil || p.r == nil:
		return &identity.ValidationError{Field: "secrets.PendingRotation", Rule: "must be made by StartRotation", Value: nil}
	case p.err != nil:
		return p.err
	case p.finished:
		return &identity.ValidationError{Field: "secrets.PendingRotation", Rule: "must not be finished already", Value: p.r.clientID}
	case ctx == nil:
		return idserver.NilContext()
	}
	return nil
}

// Prove asks the identity server once whether it accepts the new secret (a token request
// that signs nobody in: see RotateRequest.ProofTimeout), and reports whether it has, now or
// before. It sends nothing when the proof is skipped (RetireAtOnce, SkipProof) and reports
// true. An error is a probe without a verdict: no answer, a 5xx (asking again may settle
// it), or an answer that will not change (a redirect, an answer that says nothing about
// the client), which stops the rotation with a *ProofError. When the first probe is
// refused, Prove checks that the new secret still exists as stored: if another rotation
// retired it, the rotation stops with ErrLockoutRisk. A stopped rotation retires nothing;
// Prove and Finish return its error, and Next is zero.
func (p *PendingRotation) Prove(ctx context.Context) (bool, error) {
	if err := p.ready(ctx); err != nil {
		return false, rules.Prefixed(pkgName, err)
	}
	ctx, op := p.r.c.tel().Start(ctx, "secrets.PendingRotation.Prove", p.r.clientID)
	ok, err := p.prove(ctx)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return ok, err
}

// prove is Prove, for a rotation that is ready.
func (p *PendingRotation) prove(ctx context.Context) (bool, error) {
	rot := p.r.rot
	if p.r.opts.skipsProof() || !rot.ProvenAt.IsZero() {
		return true, nil
	}
	if ctx.Err() != nil {
		return false, context.Cause(ctx) // no probe is sent, and none is counted
	}
	p.probed = p.r.c.now()
	ok, err := p.r.c.probe(ctx, p.r.clientID, p.value)
	rot.Probes++
	p.last = err
	switch {
	case ok:
		rot.ProvenAt = p.r.c.now()
	case err != nil && !passing(err):
		return false, p.stop(p.unproven(ctx, err))
	case rot.Probes == 1:
		// Not accepted at once: before waiting up to an hour, make sure the secret is
		// still there to wait for (an overlapping rotation may have retired it).
		if verr := p.vanished(ctx); verr != nil {
			return false, p.stop(verr)
		}
	}
	return ok, err
}

// stop ends the rotation with err, which Prove and Finish return from now on, and drops
// the value.
func (p *PendingRotation) stop(err error) error {
	p.err, p.value = err, identity.Secret{}
	return err
}

// Finish ends the rotation (Rotate's steps 4 to 6): it waits for the identity server to
// accept the new secret, probing with a backoff (5 s doubling to 5 min) by Config.Clock
// until Deadline; checks that the stored secret still exists as stored; and retires the
// old secrets, the grace counting from then. Never proven: nothing is retired, the new
// secret is kept, and the error is a *ProofError (ErrNotProven). It drops the value it
// held, whatever the outcome, and returns what Rotate returns.
func (p *PendingRotation) Finish(ctx context.Context) (*Rotation, error) {
	if p == nil || p.r == nil {
		return &Rotation{}, rules.Prefixed(pkgName, p.ready(ctx))
	}
	c := p.r.c
	ctx, op := c.tel().Start(ctx, "secrets.PendingRotation.Finish", p.r.clientID)
	v, err := p.finish(ctx)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	c.tel().Rotation(ctx, rotationResult(err))
	return v, err
}

// finish is Finish, for a rotation made by startRotation.
func (p *PendingRotation) finish(ctx context.Context) (*Rotation, error) {
	if err := p.ready(ctx); err != nil {
		return p.r.rot, err
	}
	defer func() { p.finished, p.value = true, identity.Secret{} }()
	r := p.r
	if err := p.await(ctx); err != nil {
		return r.rot, err
	}
	if err := r.verify(ctx, p.added, r.selected(p.old, r.c.now())); err != nil {
		return r.rot, err
	}
	r.rot.Step = StepRetiring
	now := r.c.now()
	if err := r.retire(ctx, p.added.ID, r.selected(p.old, now), now); err != nil {
		return r.rot, err
	}
	r.rot.Step = StepDone
	return r.rot, nil
}

// await probes until the identity server accepts the new secret, a probe fails for good,
// the deadline passes or ctx ends; it returns the *ProofError of the last three.
func (p *PendingRotation) await(ctx context.Context) error {
	c := p.r.c
	// The waits count too: a clock whose Now stands still while its After waits must not
	// make the proof wait for ever.
	var waited time.Duration
	for {
		if !p.probed.IsZero() && !p.probed.Before(p.deadline) {
			return p.unproven(ctx, p.last) // the last probe, at the deadline, was refused
		}
		ok, err := p.prove(ctx)
		switch {
		case ok:
			return nil
		case p.err != nil:
			return p.err // a probe that will not change, or the new secret vanished
		}
		now := c.now()
		if !now.Before(p.deadline) || waited >= p.r.opts.proofTimeout() {
			return p.unproven(ctx, err)
		}
		// A probe slower than its backoff leaves no wait: ask again at once.
		wait := min(max(p.Next().Sub(now), 0), p.r.opts.proofTimeout()-waited)
		waited += wait
		if err := clock.Wait(ctx, c.clk, wait); err != nil {
			return p.unproven(ctx, err) // ctx ended, or a clock nobody moves
		}
	}
}

// unproven is the error of a proof that stopped for cause (nil: invalid_client to the
// end): a *ProofError, or the check's ErrLockoutRisk when the new secret vanished
// meanwhile (another rotation overlapped this one).
func (p *PendingRotation) unproven(ctx context.Context, cause error) error {
	r := p.r
	if ctx.Err() == nil {
		if err := p.vanished(ctx); err != nil {
			return err
		}
	}
	retiring := r.selected(p.old, r.c.now())
	r.rot.NotRetired = retiring
	return &ProofError{ClientID: r.clientID, NewID: p.added.ID, NotRetired: ids(retiring),
		Probes: r.rot.Probes, Waited: r.c.now().Sub(p.begun), Err: cause}
}

// vanished returns step 5's error when the stored secret no longer exists as stored
// (ErrLockoutRisk), and nil otherwise: a check that fails for another reason proves
// nothing, and is made again before anything is retired.
func (p *PendingRotation) vanished(ctx context.Context) error {
	r := p.r
	if err := r.verify(ctx, p.added, r.selected(p.old, r.c.now())); errors.Is(err, ErrLockoutRisk) {
		return err
	}
	r.rot.NotRetired = nil
	return nil
}
