package desired

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/internal/clientinfo"
	"github.com/ocs-go/identity/internal/limit"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/transport"
	"github.com/ocs-go/identity/internal/validate"
	"github.com/ocs-go/identity/secrets"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Store receives each new secret with its value (the first secret of a created
	// client, a rotated client's new secret, or one replacing a secret whose value an
	// earlier apply lost) and must put the value where the application reads it (a file,
	// a vault) before returning nil: a rotated client's new value in place of the old one
	// (for a file, identity.Secret.ReplaceFile), as its old secrets are retired once the
	// identity server accepts the new one. It is required when the plan adds or rotates a
	// secret, and is called from several goroutines at once. Its context outlives Apply's
	// by up to a minute, so that a value the service has shown is not dropped because
	// Apply was stopped. Store must not keep the value beyond what it stores, nor put it
	// in an error.
	//
	// When Store fails for a created client, Apply deletes the client again: it was made
	// by this very call and nobody uses it yet, and a client left without a stored secret
	// would look right to the next plan while no application could sign in with it.
	// Nothing is left then, and the next apply creates it again. Only when that delete
	// fails too is the client recorded as pending (Record.Pending), and the next apply
	// replaces its secret. For a replaced or rotated secret, the new secret is deleted
	// again (the old ones are untouched), or, when that fails too, recorded as pending.
	Store func(ctx context.Context, clientID string, s secrets.Added) error
	// Record is the record of earlier applies (PlanOptions.Record of the plan); Apply
	// returns it updated in Applied.Record. It must be of the Client's tenant
	// (Record.TenantID and Resource), or Apply refuses it before any request.
	Record Record
	// Removed is State.Removed of the desired state the plan was made from. Apply deletes
	// only clients shown to be managed: in Record, or named here. It checks each delete of
	// the plan against these two, whatever the plan says, and refuses, before any request,
	// a plan that deletes another client (or a secret that Record.Pending does not name):
	// Diff plans no such delete, so the plan was altered after it was made.
	Removed []string
	// Concurrency is how many clients are worked on at once: 1 to
	// hybridclients.MaxConcurrency, 0 meaning hybridclients.DefaultConcurrency. Apply
	// lowers it, and its request rate, while the service throttles (429, 503), and
	// raises them again when it stops, as the tenant-wide scans of hybridclients do.
	Concurrency int
	// Tenant, when set, must be the plan's (PlanOptions.Tenant): a plan made for one
	// tenant is never applied to another.
	Tenant string
	// OnResult, when set, is called with each client's result as it completes, one at a
	// time, on the goroutine that called Apply.
	OnResult func(Result)
	// Logger, when set, records each result (ids, names, actions and errors; never a
	// secret value): Info for a success, Warn for a failure.
	Logger *slog.Logger
}

// Result is the outcome of one change of a plan.
type Result struct {
	// Action is the change's; ID and Name are the client's, as the plan has them.
	Action Action
	ID     string
	Name   string
	// Err is nil when the change was made. It names what was left, if anything: an
	// *identity.OutcomeError of a create whose answer was lost names the secrets that
	// may be left; an error matching ErrStale says that someone else created or deleted
	// the client since the plan was made.
	Err error
	// Secret describes the new secret that went to the Store (never its value); zero
	// when none did.
	Secret secrets.ClientSecret
	// Rotation is what the rotation of the client's secrets did, nil when the change
	// rotated none (or its rotation never started): Step says how far it got, ProvenAt
	// when the identity server accepted the new secret, Shortened and Deleted the old
	// secrets retired. With Err set, the old secrets not retired still work: a
	// *secrets.ProofError (errors.Is(Err, secrets.ErrNotProven)) says that the identity
	// server never accepted the new secret: it was never stored but deleted again (or
	// named, when that failed), and nothing was retired.
	Rotation *secrets.Rotation
	// Note says what else happened: "already deleted", secrets left for you to check.
	Note string

	rec *recordChange // nil: the record is as if the change was not made
}

// recordChange is what a result does to the record.
type recordChange struct {
	exists  bool     // the client exists, or may, after the change
	pending *Pending // a new secret of it is still to be settled; nil: none is
}

// Applied is what Apply did.
type Applied struct {
	// Results has one Result per create, update and delete of the plan, in the plan's
	// order.
	Results []Result
	// Record is the record to keep for the next plan: ApplyOptions.Record with the
	// clients this apply created, brought to their State or deleted, and those whose
	// first secret is pending, naming the Client's tenant.
	Record Record
}

// Done returns how many changes of action a were made.
func (a *Applied) Done(action Action) int {
	if a == nil {
		return 0
	}
	n := 0
	for _, r := range a.Results {
		if r.Action == action && r.Err == nil {
			n++
		}
	}
	return n
}

// Rotated returns how many clients' secrets were rotated to the end: the new secret
// stored and accepted by the identity server, the old ones retired.
func (a *Applied) Rotated() int {
	if a == nil {
		return 0
	}
	n := 0
	for _, r := range a.Results {
		if r.Err == nil && r.Rotation != nil && r.Rotation.Step == secrets.StepDone {
			n++
		}
	}
	return n
}

// Failed returns the results of the changes that were not made.
func (a *Applied) Failed() []Result {
	if a == nil {
		return nil
	}
	var out []Result
	for _, r := range a.Results {
		if r.Err != nil {
			out = append(out, r)
		}
	}
	return out
}

// StaleError is the error of Apply when the clients of a plan changed since it was made:
// nothing was changed. Make a new plan. It matches ErrStale.
type StaleError struct {
	// Clients are the ids of the clients that changed, in the order of the plan.
	Clients []string
	what    []string
}

// Error names each client that changed, and how.
func (e *StaleError) Error() string {
	if e == nil {
		return ErrStale.Error()
	}
	return "the plan is stale, nothing was changed: " + strings.Join(e.what, "; ") + "; make a new plan"
}

// Is matches ErrStale.
func (e *StaleError) Is(target error) bool { return target == ErrStale }

// storeGrace is how long Store and the cleanup after a failed Store may run past the
// end of Apply's context: a value the service showed once must not be lost to a timeout.
const storeGrace = time.Minute

// maxListedFailures bounds the failures that Apply's error lists; Applied.Results has all.
const maxListedFailures = 20

// Apply carries out a plan that Diff made (or ReadPlan read). First it reads the plan's
// clients again, and the secrets of those whose rotation it planned, and refuses,
// changing nothing, a plan the tenant has outgrown: a *StaleError (ErrStale) naming each
// client created, deleted or changed since, or with other secrets than its rotation was
// decided from. A client whose secrets cannot be read again is not rotated (its result
// says why); the rest of the plan stands. Then it creates, updates and deletes with
// opts.Concurrency clients at once, deletions first, and hands each new secret's value to
// opts.Store only.
//
// A create uses the client's own id, so a retried or repeated create can never make a
// second client: Create checks that the id is free, and a create whose answer was lost
// is settled by hybridclients' recovery (its *identity.OutcomeError, when it cannot be
// settled, is reported as it is, and the client recorded as pending). An update sends
// only the settings that differ. A delete touches only the clients the plan names, and
// only those shown to be managed: in opts.Record, or in opts.Removed (the desired state's
// removed clients); a plan that deletes any other is refused before any request.
//
// Last, the clients whose secrets the plan rotates (and whose other changes were made)
// are rotated by their policies through hybridclients.ApplyRotations: a new secret is
// added, and once the identity server accepts it handed to opts.Store and the old
// secrets are retired as the policy says. A rotation the identity server never accepts
// within the policy's ProofTimeout is reported with its *secrets.ProofError, and leaves
// the old secrets as they are; its new secret, whose value was never stored, is deleted
// again (when that fails it is recorded as pending, for the next apply to delete). The
// proofs run together, so Apply then lasts about as long as the slowest: on a real tenant up to the hour a new secret
// takes to reach sign-in. ApplyRotations decides again from the secrets as they are; a
// client found no longer due is not rotated (Result.Note says why), and a second apply
// right after rotates nothing. Beside their own requests, the rotations cost two lists
// of each rotating client's secrets (to check the plan, and to decide again) and a list
// of the rotating clients (by id when 40 or fewer, else a walk of the tenant's list).
//
// Running again is safe and finishes the job: a failure of one client does not stop the
// others, and a fresh plan made afterwards, applied, does what is left (the same plan
// applied twice is stale the second time). The error then lists each failed
// client (at most 20; Applied.Results holds them all), and Applied is returned with it.
// Keep Applied.Record for the next plan even then.
func Apply(ctx context.Context, c *hybridclients.Client, p *Plan, opts ApplyOptions) (*Applied, error) {
	ctx, op := clientinfo.Of(c).Telemetry.Start(ctx, "desired.Apply", "")
	a, err := apply(ctx, c, p, opts)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return a, err
}

func apply(ctx context.Context, c *hybridclients.Client, p *Plan, opts ApplyOptions) (*Applied, error) {
	if err := checkApply(ctx, c, p, opts); err != nil {
		return nil, err
	}
	unverified, err := checkFresh(ctx, c, p)
	if err != nil {
		return nil, err
	}
	a := &applier{c: c, sec: c.Secrets(), clk: clientinfo.Of(c).Clock, opts: opts, unverified: unverified}
	results := a.run(ctx, p)
	out := &Applied{Results: results, Record: a.record(p, results)}
	var failed []error
	for _, r := range results {
		if r.Err != nil {
			failed = append(failed, fmt.Errorf("%s client %s (%s): %w", r.Action, strconv.Quote(r.Name), r.ID, r.Err))
		}
	}
	if len(failed) == 0 {
		return out, nil
	}
	n := len(failed)
	if n > maxListedFailures {
		failed = append(failed[:maxListedFailures], fmt.Errorf("and %d more (see Applied.Results)", n-maxListedFailures))
	}
	return out, fmt.Errorf("%d of %d changes failed; what was done is recorded, and a new plan applied finishes the job:\n%w",
		n, len(results), errors.Join(failed...))
}

// checkApply refuses, before any request, what Apply cannot carry out.
func checkApply(ctx context.Context, c *hybridclients.Client, p *Plan, opts ApplyOptions) error {
	errs := []error{checkArgs(ctx, c), opts.Record.validate("ApplyOptions.Record"), opts.Record.checkTenant("ApplyOptions.Record", clientinfo.Of(c))}
	if p == nil {
		return errors.Join(append(errs, &identity.ValidationError{Field: "Plan", Rule: "must not be nil", Value: nil})...)
	}
	if opts.Concurrency < 0 || opts.Concurrency > hybridclients.MaxConcurrency {
		errs = append(errs, &identity.ValidationError{Field: "ApplyOptions.Concurrency",
			Rule: fmt.Sprintf("must be from 1 to %d (0 means %d)", hybridclients.MaxConcurrency, hybridclients.DefaultConcurrency), Value: opts.Concurrency})
	}
	if opts.Tenant != "" && p.Tenant != "" && opts.Tenant != p.Tenant {
		errs = append(errs, &identity.ValidationError{Field: "Plan.Tenant",
			Rule: fmt.Sprintf("must be ApplyOptions.Tenant (%s): the plan was made for another tenant", opts.Tenant), Value: p.Tenant})
	}
	errs = append(errs, checkManaged(p, opts)...)
	var wanted State
	storeMissing := false
	for i, ch := range p.Changes {
		switch ch.Action {
		case ActionCreate, ActionUpdate, ActionNone:
			if ch.Desired == nil {
				errs = append(errs, &identity.ValidationError{Field: fmt.Sprintf("Plan.Changes[%d].Desired", i), Rule: "must be set for a " + string(ch.Action), Value: nil})
				continue
			}
			wanted.Clients = append(wanted.Clients, *ch.Desired)
		}
		if r := ch.rotation(); r != nil && (ch.Action != ActionUpdate || ch.Desired == nil || ch.Desired.Secrets == nil) {
			errs = append(errs, &identity.ValidationError{Field: fmt.Sprintf("Plan.Changes[%d].Secret.Rotate", i),
				Rule: "must be part of an update whose Desired client has the secret policy it follows", Value: nil})
		}
		if ch.Secret != nil && (ch.Secret.Add || ch.Secret.Rotate != nil) && opts.Store == nil && !storeMissing {
			errs = append(errs, &identity.ValidationError{Field: "ApplyOptions.Store",
				Rule: "must be set: the plan adds secrets, whose values go only to the Store", Value: nil})
			storeMissing = true
		}
	}
	errs = append(errs, wanted.validate())
	if p.fingerprint() != p.Fingerprint {
		errs = append(errs, &identity.ValidationError{Field: "Plan.Fingerprint",
			Rule: "must match the clients the plan holds and what it does to each: the plan was altered after Diff made it", Value: p.Fingerprint})
	}
	return errors.Join(errs...)
}

// checkManaged checks, against what the caller holds rather than what the plan says, that
// the plan deletes only what is shown to be managed: clients recorded by an earlier apply
// (opts.Record) or removed in the desired state (opts.Removed), and secrets that an
// earlier apply provably made (opts.Record.Pending's orphans). Each client is in the plan
// once. Diff plans nothing else, so a plan that breaks this was altered after it was made,
// even if its fingerprint was made again to match.
func checkManaged(p *Plan, opts ApplyOptions) []error {
	var errs []error
	managed := map[string]bool{}
	for _, id := range opts.Record.ids() {
		managed[idKey(id)] = true
	}
	for i, id := range opts.Removed {
		if err := validate.GUID(fmt.Sprintf("ApplyOptions.Removed[%d]", i), id); err != nil {
			errs = append(errs, err)
			continue
		}
		managed[idKey(id)] = true
	}
	pending := opts.Record.pendingByID()
	first := map[string]string{}
	use := func(field, id string) {
		if was, dup := first[idKey(id)]; dup {
			errs = append(errs, &identity.ValidationError{Field: field, Rule: "must not repeat the client of " + was + ": a plan has one change per client; it was altered after Diff made it", Value: id})
			return
		}
		first[idKey(id)] = field
	}
	for i, ch := range p.Changes {
		field := fmt.Sprintf("Plan.Changes[%d]", i)
		use(field+".ID", ch.ID)
		if ch.Action == ActionDelete && !managed[idKey(ch.ID)] {
			errs = append(errs, &identity.ValidationError{Field: field, Rule: "must not delete a client that is not shown to be managed (in ApplyOptions.Record, or removed in the desired state: ApplyOptions.Removed); " +
				"Diff plans no such delete, so the plan was altered after it was made", Value: "delete " + ch.ID})
		}
		if ch.Secret == nil {
			continue
		}
		for _, n := range ch.Secret.Delete {
			if !slices.Contains(secretIDs(pending[idKey(ch.ID)].Orphans), n) {
				errs = append(errs, &identity.ValidationError{Field: field + ".Secret.Delete", Rule: fmt.Sprintf("must name only secrets that an earlier apply made and nobody holds (ApplyOptions.Record.Pending of client %s); "+
					"Diff plans no other, so the plan was altered after it was made", ch.ID), Value: n})
			}
		}
	}
	for i, id := range p.Forget {
		use(fmt.Sprintf("Plan.Forget[%d]", i), id)
	}
	return errs
}

// checkFresh reads the plan's clients again, and the secrets of those it rotates, and
// returns a *StaleError when any changed. A rotating client whose secrets could not be
// read again is not held against the plan: it is returned (by idKey, with the error), and
// Apply does not rotate it, as the plan could not be checked for it.
func checkFresh(ctx context.Context, c *hybridclients.Client, p *Plan) (unverified map[string]error, _ error) {
	then, thenSecrets := p.currents(), p.rotationSecrets()
	ids := make([]string, 0, len(then))
	for _, ch := range p.Changes {
		ids = append(ids, ch.ID)
	}
	ids = append(ids, p.Forget...)
	got, err := read(ctx, c, ids)
	if err != nil {
		return nil, fmt.Errorf("reading the plan's clients again before applying it (nothing was changed): %w", rules.Unprefixed(err))
	}
	now := make(map[string]*Client, len(then))
	for k := range then {
		now[k] = got[k]
	}
	nowSecrets, unverified, err := readRotating(ctx, c, p, now)
	if err != nil {
		return nil, fmt.Errorf("reading the secrets of the plan's rotations again before applying it (nothing was changed): %w", err)
	}
	for k := range unverified {
		nowSecrets[k] = thenSecrets[k] // not rotated: what it was decided from does not matter
	}
	if fingerprintOf(p.Tenant, now, nowSecrets, p.decisions()) == p.Fingerprint {
		return unverified, nil
	}
	stale := &StaleError{}
	for _, id := range ids {
		k := idKey(id)
		was, is := then[k], now[k]
		decided, rotates := thenSecrets[k]
		what := ""
		switch {
		case was == nil && is != nil:
			what = "created since the plan"
		case was != nil && is == nil:
			what = "deleted since the plan"
		case was != nil && fingerprintOf("", map[string]*Client{k: was}, nil, nil) != fingerprintOf("", map[string]*Client{k: is}, nil, nil):
			var keys []string
			for _, f := range diffFields(*is, was) {
				keys = append(keys, f.Field)
			}
			what = "changed since the plan (" + strings.Join(keys, ", ") + ")"
		case rotates && !slices.Equal(canonicalSecrets(decided), canonicalSecrets(nowSecrets[k])):
			what = fmt.Sprintf("has other secrets than those its rotation was decided from (secrets %v then, %v now)", secretIDs(decided), secretIDs(nowSecrets[k]))
		default:
			continue
		}
		stale.Clients = append(stale.Clients, id)
		name := ""
		if c := cmp.Or(is, was); c != nil {
			name = strconv.Quote(c.Name) + " "
		}
		stale.what = append(stale.what, fmt.Sprintf("client %s(%s) %s", name, id, what))
	}
	return nil, stale
}

// readRotating lists again the secrets of the plan's clients whose rotation it decided
// and that still exist (now), by idKey; failed holds the errors of those it could not
// read (one client's error does not stop the others), err only ctx's.
func readRotating(ctx context.Context, c *hybridclients.Client, p *Plan, now map[string]*Client) (read map[string][]secrets.ClientSecret, failed map[string]error, err error) {
	var todo []string
	for _, ch := range p.Changes {
		if ch.rotation() != nil && now[idKey(ch.ID)] != nil {
			todo = append(todo, ch.ID)
		}
	}
	var mu sync.Mutex
	read = make(map[string][]secrets.ClientSecret, len(todo))
	failed = map[string]error{}
	err = forEach(ctx, len(todo), hybridclients.DefaultConcurrency, func(ctx context.Context, i int) error {
		list, _, err := secretsOf(ctx, c, todo[i])
		mu.Lock()
		defer mu.Unlock()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, identity.ErrNotFound):
			// Deleted meanwhile: it differs all the same.
		case err != nil:
			failed[idKey(todo[i])] = err
		default:
			read[idKey(todo[i])] = list
		}
		return nil
	})
	return read, failed, err
}

// secretIDs lists the ids of secrets.
func secretIDs(list []secrets.ClientSecret) []int {
	out := make([]int, len(list))
	for i, s := range list {
		out[i] = s.ID
	}
	return out
}

// applier is one run of Apply.
type applier struct {
	c   *hybridclients.Client
	sec *secrets.Client
	// clk is c's Config's clock: the first secrets' descriptions are dated by it, as the
	// rest of the SDK dates what it makes.
	clk  identity.Clock
	opts ApplyOptions
	// unverified are the rotating clients whose secrets could not be read again to check
	// the plan (by idKey): they are not rotated.
	unverified map[string]error
}

// run makes the plan's changes with the adaptive limit and returns their results in the
// plan's order, calling OnResult as each completes.
func (a *applier) run(ctx context.Context, p *Plan) []Result {
	var todo []int // indexes into p.Changes, deletions first
	for _, want := range []Action{ActionDelete, ActionCreate, ActionUpdate} {
		for i, ch := range p.Changes {
			if ch.Action == want {
				todo = append(todo, i)
			}
		}
	}
	n := a.opts.Concurrency
	if n == 0 {
		n = hybridclients.DefaultConcurrency
	}
	lim := limit.New(n)
	wctx := transport.WithPacer(ctx, lim)

	type done struct {
		i int
		r Result
	}
	jobs := make(chan int)
	out := make(chan done)
	var wg sync.WaitGroup
	for range min(n, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				ch := p.Changes[i]
				r := Result{Action: ch.Action, ID: ch.ID, Name: ch.Name}
				if err := lim.Acquire(wctx); err != nil {
					r.Err = fmt.Errorf("not started: %w", err)
				} else {
					r = a.do(wctx, ch)
					lim.Release()
				}
				out <- done{i, r}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, i := range todo {
			jobs <- i
		}
	}()
	go func() {
		wg.Wait()
		close(out)
	}()

	byIndex := make(map[int]Result, len(todo))
	var rotating []int // changes made, whose rotation is still to come
	for d := range out {
		if err, ok := a.unverified[idKey(d.r.ID)]; ok && d.r.Err == nil && p.Changes[d.i].rotation() != nil {
			d.r.Err = fmt.Errorf("its secrets were not rotated: reading them again to check the plan failed (apply a new plan to rotate them): %w", rules.Unprefixed(err))
		}
		byIndex[d.i] = d.r
		if d.r.Err == nil && p.Changes[d.i].rotation() != nil {
			rotating = append(rotating, d.i)
			continue
		}
		a.report(ctx, d.r)
	}
	slices.Sort(rotating)
	a.rotate(ctx, p, rotating, byIndex)
	results := make([]Result, 0, len(todo))
	for i := range p.Changes {
		if r, ok := byIndex[i]; ok {
			results = append(results, r)
		}
	}
	return results
}

// rotate rotates the secrets of the changes of p at the indexes held, whose other changes
// were made, by each client's policy through hybridclients.ApplyRotations (with proof
// before retirement, the new values to the Store), completes their results and reports
// them. The due clients are listed by id when one list request holds them, else by a walk
// of the tenant's list; the policy selects them.
func (a *applier) rotate(ctx context.Context, p *Plan, held []int, results map[int]Result) {
	if len(held) == 0 {
		return
	}
	byID := make(map[string]int, len(held))
	scan := hybridclients.ScanOptions{Concurrency: a.opts.Concurrency}
	for _, i := range held {
		byID[idKey(p.Changes[i].ID)] = i
		if len(held) <= idsPerList {
			scan.List.IDs = append(scan.List.IDs, p.Changes[i].ID)
		}
	}
	policyFor := func(hc hybridclients.HybridClient) (secrets.Policy, bool) {
		i, ok := byID[idKey(hc.ID)]
		if !ok {
			return secrets.Policy{}, false
		}
		return p.Changes[i].Desired.Secrets.Policy(), true
	}
	done := map[int]bool{}
	var stopped error
	for r, err := range hybridclients.ApplyRotations(ctx, a.c, policyFor, a.store, scan) {
		if err != nil {
			stopped = err
			break
		}
		i, ok := byID[idKey(r.Client.ID)]
		if !ok || done[i] {
			continue
		}
		done[i] = true
		res := results[i]
		a.rotated(ctx, &res, r)
		results[i] = res
		a.report(ctx, res)
	}
	for _, i := range held {
		if done[i] {
			continue
		}
		res := results[i]
		if stopped != nil {
			res.Err = fmt.Errorf("its secrets were not rotated: %w", rules.Unprefixed(stopped))
		} else {
			res.Err = fmt.Errorf("%w: client %s was not found when its secrets were to be rotated; they were not", ErrStale, res.ID)
		}
		results[i] = res
		a.report(ctx, res)
	}
}

// rotated completes res with what ApplyRotations did for its client. A new secret left
// on the client with its value in no Store (a lost answer that could not be settled,
// named by its *identity.OutcomeError, or a failed Store whose new secret could not be
// deleted again) is recorded as pending, with its description and expiry, so that the
// next apply deletes it and adds one that the Store holds, as for a first secret.
func (a *applier) rotated(ctx context.Context, res *Result, r hybridclients.Result[hybridclients.RotationOutcome]) {
	if res.rec == nil {
		res.rec = &recordChange{exists: true}
	}
	rot := r.Value.Rotation
	res.Rotation = rot
	var oe *identity.OutcomeError
	switch {
	case r.Err != nil:
		res.Err = rules.Unprefixed(r.Err)
		if errors.As(r.Err, &oe) && len(oe.Orphans)+len(oe.Unclaimed) > 0 {
			res.rec.pending = a.pendingOf(ctx, res.ID, oe)
		} else if rot != nil && rot.Step == secrets.StepAdded {
			res.rec.pending = a.pendingNew(ctx, res.ID, rot.New)
		}
	case rot == nil:
		res.Note = "its secrets were not rotated: " + r.Value.Plan.String()
	}
	if rot != nil && (rot.Step == secrets.StepStored || rot.Step == secrets.StepRetiring || rot.Step == secrets.StepDone) {
		res.Secret = rot.New
	}
}

// report hands a result to OnResult and the Logger.
func (a *applier) report(ctx context.Context, r Result) {
	if a.opts.OnResult != nil {
		a.opts.OnResult(r)
	}
	if l := a.opts.Logger; l != nil {
		attrs := []slog.Attr{slog.String("action", string(r.Action)), slog.String("client_id", r.ID), slog.String("name", r.Name)}
		if r.Secret.ID != 0 {
			attrs = append(attrs, slog.Int("secret_id", r.Secret.ID), slog.String("secret_expiry", r.Secret.Expiry.String()))
		}
		if r.Rotation != nil {
			attrs = append(attrs, slog.String("rotation_step", r.Rotation.Step.String()))
		}
		if r.Note != "" {
			attrs = append(attrs, slog.String("note", r.Note))
		}
		if r.Err != nil {
			l.LogAttrs(context.WithoutCancel(ctx), slog.LevelWarn, "desired: change failed", append(attrs, slog.String("error", r.Err.Error()))...)
			return
		}
		l.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "desired: change made", attrs...)
	}
}

// do makes one change.
func (a *applier) do(ctx context.Context, ch Change) Result {
	r := Result{Action: ch.Action, ID: ch.ID, Name: ch.Name}
	switch ch.Action {
	case ActionCreate:
		a.create(ctx, ch, &r)
	case ActionUpdate:
		a.update(ctx, ch, &r)
	case ActionDelete:
		a.delete(ctx, ch, &r)
	}
	return r
}

func (a *applier) create(ctx context.Context, ch Change, r *Result) {
	created, err := a.c.Create(ctx, ch.Desired.createRequest(a.clk.Now()))
	err = rules.Unprefixed(err)
	var oe *identity.OutcomeError
	switch {
	case errors.As(err, &oe) && oe.ClientMayExist:
		// Settled as far as it can be: what may be left is named, nothing unproven is
		// deleted, and the next plan replaces the first secret.
		r.rec = &recordChange{exists: true, pending: a.pendingOf(ctx, ch.ID, oe)}
		r.Err = fmt.Errorf("%w (recorded: the next apply adds a new first secret)", err)
		return
	case errors.Is(err, identity.ErrConflict):
		r.Err = fmt.Errorf("%w: someone else created client %s after the plan was made; it was left as it is: %w", ErrStale, ch.ID, err)
		return
	case err != nil:
		r.Err = err
		return
	}
	r.rec = &recordChange{exists: true}
	if err := a.store(ctx, ch.ID, created.Secret); err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeGrace)
		defer cancel()
		derr := rules.Unprefixed(a.c.Delete(dctx, ch.ID))
		if derr == nil || errors.Is(derr, identity.ErrNotFound) {
			r.rec = &recordChange{}
			r.Err = fmt.Errorf("storing its first secret failed, so the client was deleted again and nothing is left (apply again to create it): %w", err)
			return
		}
		r.rec.pending = &Pending{ClientID: ch.ID, Orphans: []secrets.ClientSecret{created.Secret.ClientSecret}}
		r.Err = fmt.Errorf("storing its first secret failed: %w; deleting the client again failed too: %w; it exists with secret %d, whose value nobody holds: the next apply deletes that secret and adds a new one",
			err, derr, created.Secret.ID)
		return
	}
	r.Secret = created.Secret.ClientSecret
}

func (a *applier) update(ctx context.Context, ch Change, r *Result) {
	var pending *Pending
	if s := ch.Secret; s != nil && s.Add {
		// The orphans as the record holds them (checkManaged saw that it names each).
		recorded := a.opts.Record.pendingByID()[idKey(ch.ID)].Orphans
		pending = &Pending{ClientID: ch.ID, Unclaimed: slices.Clone(s.Unclaimed)}
		for _, o := range recorded {
			if slices.Contains(s.Delete, o.ID) {
				pending.Orphans = append(pending.Orphans, o)
			}
		}
	}
	r.rec = &recordChange{exists: true, pending: pending}
	if fields := diffFields(*ch.Desired, ch.Current); len(fields) > 0 {
		_, err := a.c.Update(ctx, ch.ID, updateRequest(*ch.Desired, fields))
		err = rules.Unprefixed(err)
		switch {
		case errors.Is(err, identity.ErrNotFound):
			r.rec = &recordChange{}
			r.Err = fmt.Errorf("%w: someone else deleted client %s after the plan was made: %w", ErrStale, ch.ID, err)
			return
		case err != nil:
			r.Err = err
			return
		}
	}
	if ch.Secret != nil && ch.Secret.Add {
		a.replaceSecret(ctx, ch, r)
	}
}

// replaceSecret adds a first secret in place of one whose value an earlier apply lost:
// the secrets that apply provably made are deleted first, each only while it still has
// the id, description and expiry recorded for it; the unclaimed ones are left alone.
func (a *applier) replaceSecret(ctx context.Context, ch Change, r *Result) {
	p := r.rec.pending
	var others []int // recorded orphans whose id is now another secret's
	defer func() {
		if len(others) > 0 {
			note := fmt.Sprintf("secrets %v are not those an earlier apply made (their description or expiry differ from the record's) and were left as they are", others)
			r.Note = strings.TrimSuffix(note+"; "+r.Note, "; ")
		}
	}()
	if len(p.Orphans) > 0 {
		now, _, err := secretsOf(ctx, a.c, ch.ID)
		if err != nil {
			r.Err = fmt.Errorf("reading its secrets, to check those an earlier apply made and nobody holds before deleting them: %w", rules.Unprefixed(err))
			return
		}
		for len(p.Orphans) > 0 {
			o := p.Orphans[0]
			i := slices.IndexFunc(now, func(s secrets.ClientSecret) bool { return s.ID == o.ID })
			switch {
			case i < 0: // deleted since
			case !sameSecret(now[i], o):
				others = append(others, o.ID)
			default:
				if err := a.sec.Delete(ctx, ch.ID, o.ID); err != nil && !errors.Is(err, identity.ErrNotFound) {
					r.Err = fmt.Errorf("deleting secret %d, which an earlier apply made and whose value nobody holds: %w", o.ID, rules.Unprefixed(err))
					return
				}
			}
			p.Orphans = p.Orphans[1:]
		}
	}
	desc, exp := ch.Desired.firstSecret(a.clk.Now())
	added, err := a.sec.Add(ctx, ch.ID, secrets.AddRequest{Description: desc, Expiry: exp})
	if err != nil {
		var oe *identity.OutcomeError
		if errors.As(err, &oe) {
			left := a.pendingOf(ctx, ch.ID, oe)
			p.Orphans, p.Unclaimed = left.Orphans, append(p.Unclaimed, left.Unclaimed...)
		}
		r.Err = fmt.Errorf("adding a first secret in place of the one whose value was lost: %w", rules.Unprefixed(err))
		return
	}
	if err := a.store(ctx, ch.ID, *added); err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeGrace)
		defer cancel()
		if derr := a.sec.Delete(dctx, ch.ID, added.ID); derr != nil && !errors.Is(derr, identity.ErrNotFound) {
			p.Orphans = []secrets.ClientSecret{added.ClientSecret}
			r.Err = fmt.Errorf("storing the new secret failed: %w; deleting it again failed too: %w (the next apply deletes it)", err, rules.Unprefixed(derr))
			return
		}
		r.Err = fmt.Errorf("storing the new secret failed, so it was deleted again: %w", err)
		return
	}
	r.Secret = added.ClientSecret
	if len(p.Unclaimed) > 0 {
		r.Note = fmt.Sprintf("secrets %v may be someone else's and were left as they are: check them", p.Unclaimed)
	}
	r.rec.pending = nil
}

// pendingOf is what the record keeps of the secrets a lost answer left on client id (oe):
// its orphans with the description and expiry they have now (readBack), so that the next
// apply deletes each only while it still has them. Orphans that can no longer be read
// (the listing failed) are kept as unclaimed: never deleted by an apply; those no longer
// listed are gone.
func (a *applier) pendingOf(ctx context.Context, id string, oe *identity.OutcomeError) *Pending {
	p := &Pending{ClientID: id, Unclaimed: slices.Clone(oe.Unclaimed)}
	if len(oe.Orphans) == 0 {
		return p
	}
	now, err := a.readBack(ctx, id, func(s secrets.ClientSecret) bool { return slices.Contains(oe.Orphans, s.ID) })
	if err != nil {
		p.Unclaimed = append(p.Unclaimed, oe.Orphans...)
	}
	p.Orphans = now
	return p
}

// pendingNew is what the record keeps of a rotation's new secret left on client id with
// its value in no Store: the secret as the service has it now (readBack), found by its id
// and description. Its expiry may not be the one the rotation last saw: a rotation adds
// with a short expiry and sets the full one once proven, and that update may have landed
// although its answer was lost. When the listing fails, it is kept as the rotation saw
// it; when the client or the secret is gone, there is nothing to keep.
func (a *applier) pendingNew(ctx context.Context, id string, n secrets.ClientSecret) *Pending {
	now, err := a.readBack(ctx, id, func(s secrets.ClientSecret) bool { return s.ID == n.ID && s.Description == n.Description })
	switch {
	case err != nil:
		return &Pending{ClientID: id, Orphans: []secrets.ClientSecret{n}}
	case len(now) == 0:
		return nil
	}
	return &Pending{ClientID: id, Orphans: now}
}

// readBack lists client id's secrets again, with a context that outlives ctx a little
// (what it reads is recorded after a failure), and returns those that want picks; none,
// and no error, when the client is gone.
func (a *applier) readBack(ctx context.Context, id string, want func(secrets.ClientSecret) bool) ([]secrets.ClientSecret, error) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeGrace)
	defer cancel()
	now, _, err := secretsOf(lctx, a.c, id)
	switch {
	case errors.Is(err, identity.ErrNotFound): // the client is gone, and its secrets with it
		return nil, nil
	case err != nil:
		return nil, err
	}
	var out []secrets.ClientSecret
	for _, s := range now {
		if want(s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// sameSecret reports whether the secret now, as listed, has the id, description and
// expiry recorded (as a record keeps it). A recorded expiry that is unset is unknown, and
// matches nothing.
func sameSecret(now, recorded secrets.ClientSecret) bool {
	return now.ID == recorded.ID && now.Description == recorded.Description && !recorded.Expiry.IsZero() &&
		expiryText(now.Expiry) == expiryText(recorded.Expiry)
}

func (a *applier) delete(ctx context.Context, ch Change, r *Result) {
	err := rules.Unprefixed(a.c.Delete(ctx, ch.ID))
	switch {
	case err == nil:
		r.rec = &recordChange{}
	case errors.Is(err, identity.ErrNotFound):
		r.rec = &recordChange{}
		r.Note = "already deleted"
	default:
		r.Err = err
	}
}

// store hands a new secret to the Store, with a context that outlives ctx a little.
func (a *applier) store(ctx context.Context, clientID string, s secrets.Added) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeGrace)
	defer cancel()
	return a.opts.Store(sctx, clientID, s)
}

// updateRequest sets the settings of want named by fields, as UpdateRequest takes them:
// a list cleared is sent empty, not left out.
func updateRequest(want Client, fields []FieldChange) hybridclients.UpdateRequest {
	var req hybridclients.UpdateRequest
	for _, f := range fields {
		switch f.Field {
		case "name":
			req.Name = ptr(want.Name)
		case "enabled":
			req.Enabled = ptr(want.Enabled == nil || *want.Enabled)
		case "allowRefreshTokens":
			req.AllowRefreshTokens = ptr(want.AllowRefreshTokens)
		case "accessTokenLifetime":
			d := want.AccessTokenLifetime
			if d == 0 {
				d = hybridclients.DefaultAccessTokenLifetime
			}
			req.AccessTokenLifetime = &d
		case "redirectURIs":
			req.RedirectURIs = want.RedirectURIs
		case "postLogoutRedirectURIs":
			req.PostLogoutRedirectURIs = list(want.PostLogoutRedirectURIs)
		case "clientURI":
			req.ClientURI = ptr(want.ClientURI)
		case "logoURI":
			req.LogoURI = ptr(want.LogoURI)
		case "allowAccessTokensViaBrowser":
			req.AllowAccessTokensViaBrowser = ptr(want.AllowAccessTokensViaBrowser)
		case "tags":
			req.Tags = list(want.Tags)
		}
	}
	return req
}

// record is opts.Record after the results: each client that exists (or may) after its
// change is managed, each that does not is forgotten, and first secrets still to settle
// are pending.
func (a *applier) record(p *Plan, results []Result) Record {
	managed := map[string]string{}
	for _, id := range a.opts.Record.ids() {
		managed[idKey(id)] = id
	}
	pending := a.opts.Record.pendingByID()
	for _, id := range p.Forget {
		delete(managed, idKey(id))
		delete(pending, idKey(id))
	}
	acted := map[string]Result{}
	for _, r := range results {
		acted[idKey(r.ID)] = r
	}
	for _, ch := range p.Changes {
		k := idKey(ch.ID)
		r := acted[k]
		switch {
		case r.rec != nil:
			if r.rec.exists {
				managed[k] = ch.ID
			} else {
				delete(managed, k)
			}
			if r.rec.pending != nil {
				pending[k] = *r.rec.pending
			} else {
				delete(pending, k)
			}
		case ch.Action == ActionNone || ch.Action == ActionUpdate:
			managed[k] = ch.ID // it exists and the State wants it
		}
	}
	out := Record{}.withTenant(clientinfo.Of(a.c))
	for _, id := range managed {
		out.Managed = append(out.Managed, id)
	}
	out.Managed = out.ids()
	for _, pd := range pending {
		if _, ok := managed[idKey(pd.ClientID)]; ok {
			out.Pending = append(out.Pending, pd)
		}
	}
	out.Pending = out.sortedPending()
	return out
}
