package secrets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
// accept in time (RotateRequest.ProofTimeout), or could not be asked about: its value was
// never stored, so the new secret was deleted again (or, when that failed, the error names
// it), and the old secrets are untouched and still work. errors.As finds the *ProofError,
// which names them.
var ErrNotProven = errors.New("the identity server did not accept the new secret")

// ProofError is the error of a rotation whose new secret the identity server never
// accepted: the value was not stored, nothing was retired, and the new secret was deleted
// again, as nobody holds its value (DeleteErr says when that failed). It matches
// ErrNotProven, and what it wraps (Err) matches too: a context that ended, a connection
// error.
type ProofError struct {
	// ClientID is the client rotated.
	ClientID string
	// NewID is the new secret's id: deleted again, or left on the client when DeleteErr
	// is set.
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
	// DeleteErr is nil when the new secret was deleted again; else why deleting it
	// failed: secret NewID is left on the client, and nobody holds its value (delete it).
	DeleteErr error
}

// Error says what is true of the client now and what to do, under the package's name:
// "secrets: rotating the secret of client ...".
func (e *ProofError) Error() string {
	why := "it kept answering invalid_client"
	if e.Err != nil {
		why = "the last probe: " + e.Err.Error()
	}
	left := "it was deleted again (its value was never stored)"
	if e.DeleteErr != nil {
		left = fmt.Sprintf("deleting it again failed (%v): new secret %d is left on the client and nobody holds its value: delete it", e.DeleteErr, e.NewID)
	}
	return fmt.Sprintf(pkgName+": rotating the secret of client %q: new secret %d was added, but the identity server did not accept it (%d probes in %s; %s); %s; old secrets %v are untouched and still work, and the application keeps its old value: find out why the new secret is refused (a disabled client? a propagation slower than an hour?), then rotate again",
		e.ClientID, e.NewID, e.Probes, e.Waited.Round(time.Second), why, left, e.NotRetired)
}

// Is matches ErrNotProven.
func (e *ProofError) Is(target error) bool { return target == ErrNotProven }

// Unwrap returns Err.
func (e *ProofError) Unwrap() error { return e.Err }

// probeTimeout bounds each probe of a rotation's proof in real time: a token endpoint
// that takes the request and never answers must not hold the rotation (or a round of
// hybridclients.ApplyRotations) past it. On the system clock a probe also ends with the
// proof's deadline, but gets at least probeMinTime.
const (
	probeTimeout = 30 * time.Second
	probeMinTime = 2 * time.Second
)

// probe asks the identity server once whether it accepts value for clientID, by the grant
// that the Client's kind of client may use (idserver.Road.Accepts), within probeTimeout
// of real time (the Client's probeBound) and, on the system clock, by deadline. The token
// endpoint is read from discovery once per Client. A probe that ran out of time is an
// *identity.ConnectionError (ErrUnreachable): no verdict, asked again later.
func (c *Client) probe(ctx context.Context, clientID string, value identity.Secret, deadline time.Time) (bool, error) {
	bound := c.probeBound
	if _, sys := c.clk.(clock.System); sys {
		bound = min(bound, max(deadline.Sub(c.now()), probeMinTime))
	}
	pctx, cancel := context.WithTimeoutCause(ctx, bound, errProbeTimedOut)
	defer cancel()
	ok, err := c.askOnce(pctx, clientID, value)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(pctx), errProbeTimedOut) {
		method, path := http.MethodPost, "the token endpoint"
		if u := c.tokenURL.Load(); u == nil {
			method, path = http.MethodGet, "OpenID discovery"
		} else if pu, perr := url.Parse(*u); perr == nil {
			path = pu.Path
		}
		err = &identity.ConnectionError{Method: method, Path: path, Sent: true, Err: fmt.Errorf("no answer within %s (the probe is asked again later)", bound)}
	}
	return ok, err
}

// errProbeTimedOut is the cause of a probe's context when its bound ran out.
var errProbeTimedOut = errors.New("probe timed out")

// askOnce is probe's request, on the probe's own context.
func (c *Client) askOnce(ctx context.Context, clientID string, value identity.Secret) (bool, error) {
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

// Step is how far a rotation got, in the order of Rotate's steps: add, prove, store,
// retire.
type Step uint8

// The steps of a rotation (Rotation.Step), in their order.
const (
	// StepNone: nothing that lasts was changed: the rotation stopped before the add, or
	// its new secret was deleted again (never proven, Store failed, or ctx ended before
	// Store). Expired secrets may have been deleted to make room (Rotation.FreedRoom).
	StepNone Step = iota
	// StepAdded: the new secret exists but its value is not stored: a PendingRotation
	// waiting for its proof holds the value in memory; a rotation that stopped here could
	// not delete its new secret again (never proven, or Store failed, and the delete
	// failed too; or the add's answer was lost, and deleting the secret it made failed),
	// and Rotation.New.ID and the error name it: nobody holds its value.
	StepAdded
	// StepStored: the identity server accepted the new secret (or the proof was skipped)
	// and Store put its value in place; the old secrets are untouched, as the check that
	// the new secret still exists as stored failed.
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

// PendingRotation is a rotation whose new secret is added and waits for the identity
// server to accept it; then Finish stores its value (RotateRequest.Store) and retires the
// old secrets. StartRotation makes one; Finish ends it. Until Store receives the value,
// the application keeps its old, working value. Between the two calls the
// PendingRotation holds the new secret's value in memory, for the probes and Store only
// (it prints as a summary, never the value), and drops it (keeps no reference to it) once
// Store returns, or when the new secret is deleted because the rotation stopped (a probe
// that stops it, Finish without a proof); a PendingRotation that is never finished holds
// it until it is itself unreachable, and leaves its new secret on the client with a value
// nobody holds (it expires on its own, at its short first expiry: see Rotate's step 2):
// finish every one. Use it from one goroutine at a time.
type PendingRotation struct {
	r        *rotating
	err      error          // StartRotation's, when it stopped
	old      []ClientSecret // the secrets listed before the add: only these are retired
	added    ClientSecret
	value    identity.Secret
	begun    time.Time // when the add returned, by the Client's clock
	probed   time.Time // when the last probe was sent
	deadline time.Time
	last     error // the last probe's error
	finished bool
	// full is the expiry asked for, set after the proof and before Store when the add
	// asked for a shorter one (see proofWindow); zero when the add asked for it already.
	full Expiry
}

// StartRotation does Rotate's steps 1 and 2 (list, add) and returns the rotation waiting
// for its proof: Finish does the rest (prove, store, retire). Rotate is StartRotation and
// Finish in one; call them apart to rotate many clients and wait for their proofs
// together, probing each with Prove (hybridclients.ApplyRotations does), instead of
// holding one goroutine per client for up to the proof's hour. Nothing is stored yet:
// Finish calls RotateRequest.Store once the new secret is proven.
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
	p.full = r.opts.proofWindow(body, c.now())
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
	p.added, p.value = added.ClientSecret, added.Value
	r.rot.New, r.rot.Step = added.ClientSecret, StepAdded
	p.begun = c.now()
	p.deadline = p.begun.Add(r.opts.proofTimeout())
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
// the add plus RotateRequest.ProofTimeout. Zero when StartRotation stopped.
func (p *PendingRotation) Deadline() time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.deadline
}

// Next is when the proof asks next, by Config.Clock: at once (the end of the add) before
// the first probe; after a probe without acceptance, at the end of its backoff (5 s
// doubling to 5 min, or the Retry-After of a 429, 408 or 5xx when longer, at most 5 min),
// never past Deadline. Zero once the proof is settled, skipped, or the rotation stopped or
// finished: a program proving many rotations (see StartRotation) calls Prove when Next has
// come, and Finish once Prove reports true or Deadline has passed.
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

// backoff is the wait after the last probe: proofWait, or the Retry-After of an answer
// without a verdict (429, 408, a 5xx such as 503) when longer, capped at proofMaxWait.
func (p *PendingRotation) backoff() time.Duration {
	wait := proofWait(p.r.rot.Probes - 1)
	var e *identity.Error
	if errors.As(p.last, &e) && e.RetryAfter > wait {
		wait = min(e.RetryAfter, proofMaxWait)
	}
	return wait
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
// true. An error is a probe without a verdict: no answer (within 30 s of real time, or,
// on the system clock, by Deadline if that is sooner, at least 2 s), a 5xx or a throttle
// (asking again may settle it), or an answer that will not change (a redirect, an answer that says
// nothing about the client), which stops the rotation with a *ProofError, the new secret
// deleted again. When the first probe is refused, Prove checks that the new secret still
// exists as added: if another rotation retired it, the rotation stops with ErrLockoutRisk
// (what is left of the new secret deleted). A stopped rotation stores and retires
// nothing; Prove and Finish return its error, and Next is zero.
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
	ok, err := p.r.c.probe(ctx, p.r.clientID, p.value, p.deadline)
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

// Finish ends the rotation (Rotate's steps 3 to 6): it waits for the identity server to
// accept the new secret, probing with a backoff (5 s doubling to 5 min) by Config.Clock
// until Deadline; hands the proven secret to RotateRequest.Store; checks that it still
// exists as stored; and retires the old secrets, the grace counting from then. Never
// proven (or ctx ended first): nothing is stored or retired, the new secret is deleted
// again, and the error is a *ProofError (ErrNotProven). It drops the value it held once
// Store returns, or at the delete, and returns what Rotate returns.
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
	if ctx.Err() != nil {
		// Proven, but the caller has gone: Store is not called on its behalf.
		return r.rot, r.discarded(ctx, p.added.ID, "the new secret was proven, but ctx ended before Store", context.Cause(ctx))
	}
	if err := p.lengthen(ctx); err != nil {
		return r.rot, err
	}
	value := p.value
	p.value = identity.Secret{} // the rotation needs it no more: Store has it
	if err := r.store(ctx, Added{ClientSecret: p.added, Value: value}); err != nil {
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

// lengthen gives the proven new secret the expiry asked for, when the add gave it a
// shorter one (proofWindow), before Store puts its value in place. When that fails, the new
// secret is deleted again (nothing is stored yet) and the old ones are untouched.
func (p *PendingRotation) lengthen(ctx context.Context) error {
	if p.full.IsZero() {
		return nil
	}
	r := p.r
	m, err := r.c.update(ctx, r.clientID, p.added.ID, UpdateRequest{Expiry: p.full})
	if err != nil {
		return r.discarded(ctx, p.added.ID, fmt.Sprintf("the new secret was proven, but setting its expiry to %s (it was added with a short one until proven) failed, so its value was not stored", p.full), err)
	}
	p.added, r.rot.New = *m, *m
	return nil
}

// await probes until the identity server accepts the new secret, a probe fails for good,
// the deadline passes or ctx ends; it returns the *ProofError of the last three (the new
// secret deleted again).
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

// unproven ends a proof that stopped for cause (nil: invalid_client to the end): the new
// secret, whose value nobody holds, is deleted again, and the error is a *ProofError; or
// the check's ErrLockoutRisk when the new secret vanished meanwhile (another rotation
// overlapped this one).
func (p *PendingRotation) unproven(ctx context.Context, cause error) error {
	r := p.r
	if ctx.Err() == nil {
		if err := p.vanished(ctx); err != nil {
			return err
		}
	}
	retiring := r.selected(p.old, r.c.now())
	r.rot.NotRetired = retiring
	derr := r.delete(ctx, p.added.ID)
	return &ProofError{ClientID: r.clientID, NewID: p.added.ID, NotRetired: ids(retiring),
		Probes: r.rot.Probes, Waited: r.c.now().Sub(p.begun), Err: cause, DeleteErr: derr}
}

// vanished returns step 5's error when the new secret no longer exists as added
// (ErrLockoutRisk: another rotation retired it), after deleting what is left of it
// (nobody holds its value), and nil otherwise: a check that fails for another reason
// proves nothing, and is made again before anything is retired.
func (p *PendingRotation) vanished(ctx context.Context) error {
	r := p.r
	retiring := r.selected(p.old, r.c.now())
	err := r.c.checkStored(ctx, r.clientID, p.added)
	if !errors.Is(err, ErrLockoutRisk) {
		return nil
	}
	r.rot.NotRetired = retiring
	state := []string{"its value was never stored", fmt.Sprintf("no old secret was retired (not retired: %v)", ids(retiring))}
	if derr := r.delete(ctx, p.added.ID); derr != nil {
		state = append(state, fmt.Sprintf("deleting it failed (%v): new secret %d is left on the client and nobody holds its value: delete it", derr, p.added.ID))
	} else {
		state = append(state, "what was left of it is deleted")
	}
	return r.fail(fmt.Sprintf("new secret %d was added, but before it was proven its check failed", p.added.ID), err, state...)
}
