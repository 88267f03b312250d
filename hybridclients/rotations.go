package hybridclients

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/clock"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/telemetry"
	"github.com/ocs-go/identity/secrets"
)

// RotationOutcome is what ApplyRotations did for one client: its plan and, when the plan
// rotated it, the rotation.
type RotationOutcome struct {
	// Plan is the policy's decision as of when the client's secrets were read.
	Plan secrets.Plan
	// Rotation is nil when the client was not rotated (not due, disabled, or a finding);
	// else what the rotation did, with an error too: Step says how far it got.
	Rotation *secrets.Rotation
}

// PlanRotations decides, for every client of c's tenant that policyFor gives a policy
// (those opts.List selects; a client for which policyFor reports false is left out and
// yields nothing), whether its secrets are due for rotation and what a rotation would do,
// as secrets.Client.PlanRotation does, and yields each client's plan as it completes
// (completion order), on the adaptive scan of Each (see Each for errors, panics,
// stopping, memory and the limits). It changes nothing: a dry run of ApplyRotations.
//
// A disabled client is never due: the identity server accepts none of its secrets, so a
// new one could never be proven. A client whose policy is invalid gets the validation
// error as its Err. policyFor is called from several goroutines at once.
//
//	policy := secrets.Policy{RenewBefore: 30 * 24 * time.Hour}
//	all := func(hybridclients.HybridClient) (secrets.Policy, bool) { return policy, true }
//	for r, err := range hybridclients.PlanRotations(ctx, clients, all, hybridclients.ScanOptions{}) {
//		if err != nil { return err }
//		if r.Err == nil && r.Value.Due { fmt.Println(r.Client.Name, r.Value) }
//	}
func PlanRotations(ctx context.Context, c *Client, policyFor func(HybridClient) (secrets.Policy, bool), opts ScanOptions) iter.Seq2[Result[secrets.Plan], error] {
	return rules.PrefixedSeq(pkgName, telemetry.Seq2(ctx, c.tel(), "hybridclients.PlanRotations", "", func(ctx context.Context) iter.Seq2[Result[secrets.Plan], error] {
		return planRotations(ctx, c, policyFor, opts)
	}))
}

func planRotations(ctx context.Context, c *Client, policyFor func(HybridClient) (secrets.Policy, bool), opts ScanOptions) iter.Seq2[Result[secrets.Plan], error] {
	return func(yield func(Result[secrets.Plan], error) bool) {
		if err := checkRotations(ctx, c, policyFor, opts, nil, false); err != nil {
			yield(Result[secrets.Plan]{}, err)
			return
		}
		tr := newTracker(&opts)
		for r, err := range each(ctx, c, opts, func(ctx context.Context, hc HybridClient) (*secrets.Plan, error) {
			return c.planRotation(ctx, hc, policyFor)
		}) {
			if err != nil {
				yield(Result[secrets.Plan]{}, err)
				return
			}
			if r.Value == nil && r.Err == nil {
				tr.leftOut()
				continue
			}
			out := Result[secrets.Plan]{Client: r.Client, Err: rules.Prefixed(pkgName, r.Err)}
			if r.Value != nil {
				out.Value = *r.Value
			}
			tr.yielded(r.Err != nil)
			if !yield(out, nil) {
				return
			}
		}
	}
}

// ApplyRotations rotates every client of c's tenant that its policy finds due (as
// PlanRotations decides), handing each new secret to store with the client's id once the
// identity server accepts it, and yields each client's outcome as it completes: the plan,
// and the rotation when there was one. A client is rotated as secrets.Client.Rotate does:
// add, prove, store, retire; its application keeps its old value until store delivers
// the new one, which the identity server then already accepts, and the old secrets are
// retired only after both. A new secret not accepted within the policy's ProofTimeout is
// never stored: it is deleted again, the old secrets are untouched, and the outcome's Err
// is a *secrets.ProofError (naming the new secret when the delete failed).
//
// It works in two passes, so that clients waiting for their proof hold no worker: the
// scan (Each, adaptive) plans every client and adds the new secret of every due one,
// yielding at once the outcome of those not rotated (not due, a finding, an error); then
// the rotations that wait for their proof are proven together, each probed when its
// backoff says (5 s doubling to 5 min) by Config.Clock (whose After must fire: see
// identity.Clock), and stored and retired as its proof comes, with opts.Concurrency
// clients at once. Progress.Waiting counts them. A run with due clients therefore lasts
// about as long as the slowest proof: up to the hour a new secret may take to reach
// sign-in, and at most ProofTimeout.
//
// When ctx ends, every rotation already begun is yielded before the scan's error, also
// one a worker was starting as ctx ended: one that waits for its proof with its
// *secrets.ProofError (its new secret deleted again, or named when the delete failed; old
// secrets untouched; nothing stored); one that stopped another way with its error, and its
// Rotation saying how far it got (the new secret's id, whether it is stored, what was
// retired). Breaking out of the loop, or a panic, deletes the new secrets of the
// rotations still waiting for their proof, unreported: their values were never stored,
// and the old secrets are untouched.
// Whether a client is due follows from its secrets alone, so a second run right after
// rotates nothing, and one after a rotation never proven rotates that client again (its
// new secret was deleted); rotations of one client must still not overlap (one run at a
// time).
//
// store receives each proven new secret with its value, and must put the value where the
// client's application reads it before returning nil (for a file,
// identity.Secret.ReplaceFile); when it fails, the new secret is deleted again and the
// old ones are untouched; when it panics, too, and the panic reaches the loop as a
// *PanicError (see Each). It is called from several goroutines at once, in the second
// pass, and must not keep the value beyond what it stores. The SDK holds each value in
// memory only while its rotation waits for the proof: it drops it (keeps no reference to
// it) once store returns or the new secret is deleted, and keeps none once the loop
// ends, also when it is broken out of.
func ApplyRotations(ctx context.Context, c *Client, policyFor func(HybridClient) (secrets.Policy, bool), store func(ctx context.Context, clientID string, s secrets.Added) error, opts ScanOptions) iter.Seq2[Result[RotationOutcome], error] {
	return rules.PrefixedSeq(pkgName, telemetry.Seq2(ctx, c.tel(), "hybridclients.ApplyRotations", "", func(ctx context.Context) iter.Seq2[Result[RotationOutcome], error] {
		return applyRotations(ctx, c, policyFor, store, opts)
	}))
}

func applyRotations(ctx context.Context, c *Client, policyFor func(HybridClient) (secrets.Policy, bool), store func(ctx context.Context, clientID string, s secrets.Added) error, opts ScanOptions) iter.Seq2[Result[RotationOutcome], error] {
	return func(yield func(Result[RotationOutcome], error) bool) {
		if err := checkRotations(ctx, c, policyFor, opts, store, true); err != nil {
			yield(Result[RotationOutcome]{}, err)
			return
		}
		tr := newTracker(&opts)
		a := &applying{c: c, policyFor: policyFor, store: store, opts: opts, tr: tr, yield: yield}
		a.run(ctx)
	}
}

// checkRotations refuses the arguments of PlanRotations and ApplyRotations (withStore)
// before any request.
func checkRotations(ctx context.Context, c *Client, policyFor func(HybridClient) (secrets.Policy, bool), opts ScanOptions, store func(context.Context, string, secrets.Added) error, withStore bool) error {
	errs := []error{checkScan(ctx, c, opts)}
	if policyFor == nil {
		errs = append(errs, &identity.ValidationError{Field: "PolicyFor", Rule: "must not be nil", Value: nil})
	}
	if withStore && store == nil {
		errs = append(errs, &identity.ValidationError{Field: "Store", Rule: "must be set: each new secret's value must go somewhere", Value: nil})
	}
	return errors.Join(errs...)
}

// planRotation is one client's plan, nil when policyFor leaves it out.
func (c *Client) planRotation(ctx context.Context, hc HybridClient, policyFor func(HybridClient) (secrets.Policy, bool)) (*secrets.Plan, error) {
	policy, ok := policyFor(hc)
	if !ok {
		return nil, nil
	}
	if why, never := rules.NeverDue(hc.Enabled); never {
		if err := policy.Validate(); err != nil {
			return nil, err
		}
		return &secrets.Plan{ClientID: hc.ID, AsOf: clock.Of(c.cfg.Clock).Now(), Reason: why}, nil
	}
	return c.secrets.PlanRotation(ctx, hc.ID, policy)
}

// applying is one run of ApplyRotations.
type applying struct {
	c         *Client
	policyFor func(HybridClient) (secrets.Policy, bool)
	store     func(context.Context, string, secrets.Added) error
	opts      ScanOptions
	tr        *tracker
	yield     func(Result[RotationOutcome], error) bool
	stopped   bool // the loop has broken out: yield no more

	// The rotations that StartRotation began, until the loop takes their result from the
	// scan: when ctx ends, the scan drops the results its workers still hold, and these
	// are reported from here instead, as a new secret must never go unreported.
	mu    sync.Mutex
	begun map[string]begun
	// open are the rotations begun whose Finish nobody has called or is calling: when the
	// run ends without finishing them (a break, a panic), abandon deletes their new
	// secrets, whose values were never stored.
	open map[string]*secrets.PendingRotation
}

// begun is a rotation the first pass began: StartRotation's outcome for one client.
type begun struct {
	client  HybridClient
	plan    secrets.Plan
	pending *secrets.PendingRotation
	err     error
}

// started is the first pass's result for one client: its plan, and the rotation that waits
// for its proof (nil when it was not rotated, or stopped).
type started struct {
	plan    *secrets.Plan
	pending *secrets.PendingRotation
}

// waiting is a rotation that waits for its proof.
type waiting struct {
	client  HybridClient
	plan    secrets.Plan
	pending *secrets.PendingRotation
	next    time.Time // when it is probed next, on prove's time (zero: at once)
}

func (a *applying) emit(r Result[RotationOutcome]) bool {
	if a.stopped {
		return false
	}
	r.Err = rules.Prefixed(pkgName, r.Err) // what secrets met, under this package's name
	a.tr.yielded(r.Err != nil)
	if !a.yield(r, nil) {
		a.stopped = true
	}
	return !a.stopped
}

func (a *applying) run(ctx context.Context) {
	defer a.abandon(ctx)
	var wait []waiting
	for r, err := range each(ctx, a.c, a.opts, a.start) {
		if err != nil {
			// The scan stopped: the rotations already started are proven all the same
			// (or, when ctx ended, reported), then the scan's error. Those whose result
			// the scan dropped are among them.
			for _, b := range a.dropped() {
				if b.err == nil {
					wait = append(wait, waiting{client: b.client, plan: b.plan, pending: b.pending})
					a.tr.waiting(+1)
				} else if !a.emit(a.outcome(b.client, &b.plan, b.pending, b.err)) {
					return
				}
			}
			if a.prove(ctx, wait) {
				a.yield(Result[RotationOutcome]{}, err)
			}
			return
		}
		a.taken(r.Client.ID)
		switch v := r.Value; {
		case v.plan == nil && r.Err == nil:
			a.tr.leftOut()
		case v.pending != nil && r.Err == nil:
			wait = append(wait, waiting{client: r.Client, plan: *v.plan, pending: v.pending})
			a.tr.waiting(+1)
		default:
			if !a.emit(a.outcome(r.Client, v.plan, v.pending, r.Err)) {
				return
			}
		}
	}
	if a.prove(ctx, wait) && ctx.Err() != nil {
		a.yield(Result[RotationOutcome]{}, fmt.Errorf("applying the rotations stopped: %w", ctx.Err()))
	}
}

// outcome is the result of a client not (or no longer) waiting for its proof.
func (a *applying) outcome(hc HybridClient, plan *secrets.Plan, p *secrets.PendingRotation, err error) Result[RotationOutcome] {
	out := Result[RotationOutcome]{Client: hc, Err: err}
	if plan != nil {
		out.Value.Plan = *plan
	}
	if p != nil {
		rot := p.Rotation()
		out.Value.Rotation = &rot
	}
	return out
}

// start is the first pass's work for one client: plan, and for a due client add its new
// secret (its store comes once it is proven).
func (a *applying) start(ctx context.Context, hc HybridClient) (started, error) {
	plan, err := a.c.planRotation(ctx, hc, a.policyFor)
	if err != nil || plan == nil || !plan.Rotates() {
		return started{plan: plan}, err
	}
	policy, _ := a.policyFor(hc)
	store := func(ctx context.Context, s secrets.Added) error { return a.store(ctx, hc.ID, s) }
	p, err := a.c.secrets.StartRotation(ctx, hc.ID, policy.RotateRequest(store, plan.AsOf))
	a.mu.Lock()
	if a.begun == nil {
		a.begun = map[string]begun{}
	}
	a.begun[hc.ID] = begun{client: hc, plan: *plan, pending: p, err: err}
	if err == nil {
		if a.open == nil {
			a.open = map[string]*secrets.PendingRotation{}
		}
		a.open[hc.ID] = p
	}
	a.mu.Unlock()
	return started{plan: plan, pending: p}, err
}

// taken records that the loop has the scan's result for client id.
func (a *applying) taken(id string) {
	a.mu.Lock()
	delete(a.begun, id)
	a.mu.Unlock()
}

// dropped returns the rotations begun whose result the scan did not deliver, in the order
// of their ids. The scan's workers have ended: nothing is added to them any more.
func (a *applying) dropped() []begun {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]begun, 0, len(a.begun))
	for _, id := range slices.Sorted(maps.Keys(a.begun)) {
		out = append(out, a.begun[id])
	}
	a.begun = nil
	return out
}

// prove proves the waiting rotations in rounds and yields each one's outcome as it is
// settled: a round probes, on the scan's workers, every rotation whose Next has come, and
// finishes (retires, or gives up on) those proven or past their Deadline; between rounds
// it waits on the Config's clock until the earliest Next. When ctx ends, the rest are
// finished with ctx's error (their proof stops: nothing retired). It reports whether the
// loop still takes results.
func (a *applying) prove(ctx context.Context, wait []waiting) bool {
	clk := clock.Of(a.c.cfg.Clock)
	byID := make(map[string]waiting, len(wait))
	for _, w := range wait {
		byID[w.client.ID] = w
	}
	// How far the waits on the clock have run ahead of its Now: a clock whose After fires
	// while its Now stands still must not make the proofs wait for ever.
	var ahead time.Duration
	for len(byID) > 0 && !a.stopped {
		if ctx.Err() != nil {
			return a.giveUp(ctx, byID)
		}
		now := clk.Now().Add(ahead)
		var due []HybridClient
		round := map[string]*secrets.PendingRotation{} // the workers' own: the loop changes byID
		next := time.Time{}
		for _, w := range byID {
			switch n := w.next; {
			case !n.After(now) || w.pending.Next().IsZero() || !now.Before(w.pending.Deadline()):
				due = append(due, w.client)
				round[w.client.ID] = w.pending
			case next.IsZero() || n.Before(next):
				next = n
			}
		}
		if len(due) == 0 {
			d, from := next.Sub(now), clk.Now()
			switch err := clock.Wait(ctx, clk, d); {
			case err == nil:
				ahead += max(d-clk.Now().Sub(from), 0)
			case ctx.Err() == nil:
				// A clock nobody moves: the rest are given up with its error, not waited
				// for for ever.
				stuck, cancel := context.WithCancelCause(ctx)
				cancel(err)
				return a.giveUp(stuck, byID)
			}
			continue
		}
		slices.SortFunc(due, func(x, y HybridClient) int { return strings.Compare(x.ID, y.ID) })
		// A rotation Finish settled is reported even when ctx ends before the scan
		// delivers its result: Finish runs once, and what it did must not be lost.
		var mu sync.Mutex
		settled := map[string]settledRotation{}
		for r, err := range eachOf(ctx, a.c, a.opts, due, func(ctx context.Context, hc HybridClient) (*secrets.Rotation, error) {
			rot, err := a.proveOne(ctx, hc.ID, round[hc.ID], clk.Now().Add(ahead))
			if rot != nil {
				mu.Lock()
				settled[hc.ID] = settledRotation{rot: rot, err: err}
				mu.Unlock()
			}
			return rot, err
		}) {
			if err != nil {
				break // ctx ended: the rest are reported below, and given up next turn
			}
			if r.Value == nil {
				// Not yet proven: a later round, after its backoff, counted from now on
				// prove's time (a Next in the clock's time stands still with its Now).
				w := byID[r.Client.ID]
				w.next = clk.Now().Add(ahead + max(w.pending.Next().Sub(clk.Now()), 0))
				byID[r.Client.ID] = w
				continue
			}
			mu.Lock()
			delete(settled, r.Client.ID)
			mu.Unlock()
			if !a.settle(byID, r.Client.ID, r.Value, r.Err) {
				return false
			}
		}
		// The scan's workers have ended.
		for _, id := range slices.Sorted(maps.Keys(settled)) {
			if !a.settle(byID, id, settled[id].rot, settled[id].err) {
				return false
			}
		}
	}
	return !a.stopped
}

// settledRotation is what Finish returned for a rotation.
type settledRotation struct {
	rot *secrets.Rotation
	err error
}

// settle yields the outcome of the waiting rotation of client id, which Finish settled.
func (a *applying) settle(byID map[string]waiting, id string, rot *secrets.Rotation, err error) bool {
	w := byID[id]
	delete(byID, id)
	a.tr.waiting(-1)
	return a.emit(Result[RotationOutcome]{Client: w.client, Value: RotationOutcome{Plan: w.plan, Rotation: rot}, Err: err})
}

// proveOne probes p, the rotation of client id, once and finishes it (store, retire)
// when it is proven, stopped, or past its Deadline; nil, nil when it waits on (a refusal,
// or a probe without a verdict that may change). While it runs, p is not open: abandon
// leaves it to this worker.
func (a *applying) proveOne(ctx context.Context, id string, p *secrets.PendingRotation, now time.Time) (*secrets.Rotation, error) {
	a.claim(id)
	ok, _ := p.Prove(ctx)
	if !ok && !p.Next().IsZero() && now.Before(p.Deadline()) && ctx.Err() == nil {
		a.mu.Lock()
		if a.open == nil {
			a.open = map[string]*secrets.PendingRotation{}
		}
		a.open[id] = p // waits on: open again
		a.mu.Unlock()
		return nil, nil
	}
	return p.Finish(ctx)
}

// claim takes the rotation of client id out of open: its Finish is called now.
func (a *applying) claim(id string) {
	a.mu.Lock()
	delete(a.open, id)
	a.mu.Unlock()
}

// abandon finishes, when the run ends, the rotations begun and still open (the loop broke
// out, or a panic ends the run): each one's proof is given up, so its new secret, whose
// value was never stored, is deleted again; old secrets untouched. Their outcomes are not
// reported: the loop takes no more. After a run that finished every rotation, it does
// nothing.
func (a *applying) abandon(ctx context.Context) {
	a.mu.Lock()
	open := a.open
	a.open = nil
	a.mu.Unlock()
	if len(open) == 0 {
		return
	}
	ended, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cancel() // no proof, no store: only the delete, on its own bounded context
	for _, id := range slices.Sorted(maps.Keys(open)) {
		_, _ = open[id].Finish(ended)
	}
}

// giveUp finishes the waiting rotations after ctx ended: each yields its *ProofError.
func (a *applying) giveUp(ctx context.Context, byID map[string]waiting) bool {
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		w := byID[id]
		a.claim(id)
		rot, err := w.pending.Finish(ctx)
		a.tr.waiting(-1)
		if !a.emit(Result[RotationOutcome]{Client: w.client, Value: RotationOutcome{Plan: w.plan, Rotation: rot}, Err: err}) {
			return false
		}
	}
	return true
}

// tracker reports the Progress of PlanRotations and ApplyRotations, which yield other
// results than the scans they run: a client is Done once its final outcome is yielded,
// or when its policy leaves it out; Waiting counts the rotations waiting for their proof,
// and is reported as each begins to wait.
// The scans' own figures (Total, the limits, the throttles) come from the scans. Its
// methods run on the loop's goroutine.
type tracker struct {
	on       func(Progress)
	p        Progress
	throttle int // the throttles of the scans before the current one
	last     int // the current scan's throttles
}

// newTracker takes over opts.OnProgress: the scans report to the tracker instead.
func newTracker(opts *ScanOptions) *tracker {
	t := &tracker{on: opts.OnProgress}
	opts.OnProgress = t.scan
	return t
}

// scan takes in a scan's own progress. A scan's Done starts again at 1: the throttles
// of the one before are kept then. Only the first scan (the walk of the list) knows the
// Total.
func (t *tracker) scan(p Progress) {
	if p.Done == 1 {
		t.throttle += t.last
	}
	t.last = p.Throttled
	if t.p.Total == 0 {
		t.p.Total = p.Total
	}
	t.p.Rate, t.p.Concurrency, t.p.Throttled = p.Rate, p.Concurrency, t.throttle+p.Throttled
}

func (t *tracker) leftOut() {
	t.p.Done++
	t.report()
}

func (t *tracker) yielded(failed bool) {
	t.p.Done++
	if failed {
		t.p.Failed++
	}
	t.report()
}

// waiting counts a rotation that begins (+1: reported, as no result says so) or ends (-1:
// its result is reported) its wait for the proof.
func (t *tracker) waiting(delta int) {
	t.p.Waiting += delta
	if delta > 0 {
		t.report()
	}
}

func (t *tracker) report() {
	if t.on != nil {
		t.on(t.p)
	}
}
