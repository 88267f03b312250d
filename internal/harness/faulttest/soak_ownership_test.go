package faulttest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	hct "github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// The ownership soaks: populations where a call meets secrets it did not make, and must
// leave them alone (a create with a caller's id, concurrent adds, overlapping rotations).

const contestedClients = 60 // clients of TestSoakConcurrentAdds: 2 to 4 adders on each

// TestSoakConcurrentAdds: on each client, 2 to 4 adders add a secret with the same
// description and expiry at once, while some of their POSTs are slow and then fail without
// acting, are cut before acting, or are cut after committing. Every adder that got a value
// must end with a secret that authenticates: a look-alike that another adder's
// reconciliation took for its own orphan is someone else's secret deleted (finding 2).
// Every secret left on a client is held by an adder or named in the error of one.
func TestSoakConcurrentAdds(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: run without -short")
	}
	fx := newFixture(t, nil)
	ids := make([]string, contestedClients)
	for i := range ids {
		c, err := fx.hc.Create(context.Background(), hybridclients.CreateRequest{
			Name: fmt.Sprintf("contested-%03d", i), RedirectURIs: []string{"https://soak.example.com/cb"}, SecretDescription: "initial",
		})
		if err != nil {
			t.Fatal(err)
		}
		rec.secret(c.Secret.Value.Reveal())
		ids[i] = c.Client.ID
	}
	// Slow then failing is the case of finding 2: the other adders' secrets land while
	// this POST waits, and its reconciliation then sees only look-alikes.
	fx.srv.Inject(hct.Fault{Op: hct.OpAddSecret, Delay: 150 * time.Millisecond, Status: 503, Probability: 0.25, Seed: 20261201})
	fx.srv.Inject(hct.Fault{Op: hct.OpAddSecret, Delay: 100 * time.Millisecond, ResetBeforeAct: true, Probability: 0.1, Seed: 20261202})
	fx.srv.Inject(hct.Fault{Op: hct.OpAddSecret, CutAfterCommit: true, Probability: 0.1, Seed: 20261203})
	req := secrets.AddRequest{
		Description: "deploy",
		Expiry:      secrets.ExpiresAt(time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)),
	}

	type result struct {
		client string
		added  *secrets.Added
		err    error
	}
	var mu sync.Mutex
	var results []result
	adds := 0
	parallelDo(contestedClients, func(i int) {
		k := 2 + i%3
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range k {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				a, err := fx.sec.Add(ctx, ids[i], req)
				rec.see(a, err)
				if err == nil {
					rec.secret(a.Value.Reveal())
				}
				mu.Lock()
				defer mu.Unlock()
				results = append(results, result{ids[i], a, err})
			}()
		}
		mu.Lock()
		adds += k
		mu.Unlock()
		close(start)
		wg.Wait()
	})

	succeeded, outcome, deleted := 0, 0, 0
	errs := map[string]int{}
	accounted := map[string]map[int]bool{} // client -> secret ids held or named
	mark := func(client string, id int) {
		if accounted[client] == nil {
			accounted[client] = map[int]bool{}
		}
		accounted[client][id] = true
	}
	for _, r := range results {
		if r.err != nil {
			errs[kindOf(r.err)]++
			if kindOf(r.err) == "" {
				t.Logf("undocumented error: %v", r.err)
			}
			if errors.Is(r.err, identity.ErrOutcomeUnknown) {
				outcome++
			}
			for c, ss := range namedBy(r.client, r.err, nil).ids {
				for _, id := range ss {
					mark(c, id)
				}
			}
			continue
		}
		succeeded++
		mark(r.client, r.added.ID)
		if !fx.srv.CheckSecret(r.client, r.added.Value) || !slices.Contains(fx.srv.SecretIDs(r.client), r.added.ID) {
			deleted++
		}
	}
	unaccounted := 0
	for _, c := range fx.srv.Clients() {
		if c.ID == fx.clientID {
			continue
		}
		for _, id := range c.SecretIDs[min(1, len(c.SecretIDs)):] { // the first is "initial"
			if !accounted[c.ID][id] {
				unaccounted++
			}
		}
	}
	st := fx.srv.Stats()
	msg := fmt.Sprintf("soak concurrent adds: %d adds by 2-4 concurrent adders on each of %d clients, identical description and expiry, %d add requests (slow then 503, cut before acting, cut after commit); %d succeeded, %d errors (%s; %d outcome unknown); secrets neither held nor named: %d; others' secrets deleted: %d",
		adds, contestedClients, st.Requests[hct.OpAddSecret], succeeded, len(results)-succeeded, summary(errs), outcome, unaccounted, deleted)
	t.Log(msg)
	fmt.Println(msg)
	if deleted != 0 {
		t.Errorf("%d adds returned a value whose secret was then deleted by a concurrent adder's reconciliation", deleted)
	}
	if unaccounted != 0 {
		t.Errorf("%d secrets are left that no adder holds and no error named in a field", unaccounted)
	}
	if errs[""] != 0 {
		t.Errorf("%d errors match no documented sentinel", errs[""])
	}
	if st.Requests[hct.OpAddSecret]-adds < adds/10 {
		t.Fatal("the faults did not fire enough to prove anything")
	}
}

const callerIDRuns = 20 // per fault of TestSoakCallerIDCreates

// TestSoakCallerIDCreates: a provisioning script creates a client with a fixed id and
// deploys its secret; later it re-runs the same create, which meets a transient failure
// (the service did not act) and then 409. The deployed secret must still authenticate and
// the re-run must fail with ErrConflict (or ErrOutcomeUnknown), never succeed by replacing
// the secrets (finding 1).
func TestSoakCallerIDCreates(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: run without -short")
	}
	fx := newFixture(t, nil)
	type variant struct {
		name   string
		faults []hct.Fault // on the re-run's POSTs
	}
	variants := []variant{
		{"no fault (409 at once)", nil},
		{"503 then 409", []hct.Fault{{Status: 503, Times: 1}}},
		{"HTML 502 then 409", []hct.Fault{{Status: 502, HTML: true, Times: 1}}},
		{"reset before acting then 409", []hct.Fault{{ResetBeforeAct: true, Times: 1}}},
		{"slow 500 then 409", []hct.Fault{{Delay: 50 * time.Millisecond, Status: 500, Times: 1}}},
		{"503 on every attempt", []hct.Fault{{Status: 503}}},
	}
	var successes, conflicts, unknown, other, lost, runs int
	otherKinds := map[string]int{}
	for _, v := range variants {
		for i := range callerIDRuns {
			req := hybridclients.CreateRequest{
				ID: uuid.NewString(), Name: fmt.Sprintf("provisioned-%d", i),
				RedirectURIs: []string{"https://provisioned.example.com/cb"}, SecretDescription: "deployed",
			}
			first, err := fx.hc.Create(context.Background(), req)
			if err != nil {
				t.Fatalf("first run: %v", err)
			}
			rec.secret(first.Secret.Value.Reveal())
			deployed := first.Secret.Value

			var removes []func()
			for _, f := range v.faults {
				f.Op = hct.OpCreateClient
				removes = append(removes, fx.srv.Inject(f))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			again, err := fx.hc.Create(ctx, req)
			cancel()
			for _, r := range removes {
				r()
			}
			runs++
			rec.see(again, err)
			switch {
			case err == nil:
				rec.secret(again.Secret.Value.Reveal())
				successes++
			case errors.Is(err, identity.ErrConflict):
				conflicts++
			case errors.Is(err, identity.ErrOutcomeUnknown):
				unknown++
			default:
				other++
				otherKinds[v.name+": "+kindOf(err)]++
			}
			if !fx.srv.CheckSecret(req.ID, deployed) {
				lost++
			}
		}
	}
	msg := fmt.Sprintf("soak caller-id creates: %d re-runs of a create with a fixed id whose client exists (%d each: no fault, 503, HTML 502, reset before acting, slow 500, 503 on every attempt; then 409); %d ErrConflict, %d ErrOutcomeUnknown, %d other errors, %d returned success; deployed secrets lost: %d",
		runs, callerIDRuns, conflicts, unknown, other, successes, lost)
	t.Log(msg)
	fmt.Println(msg)
	if lost != 0 {
		t.Errorf("%d re-runs deleted the secret the first run deployed", lost)
	}
	if successes != 0 {
		t.Errorf("%d re-runs returned success for a client that existed before them", successes)
	}
	if other != 0 {
		t.Errorf("%d re-runs failed with neither ErrConflict nor ErrOutcomeUnknown: %v", other, otherKinds)
	}
}

const rotationPairs = 40 // half with the default grace, half with RetireAtOnce

// rotationFigures are TestSoakOverlappingRotations' counts for one way of retiring.
type rotationFigures struct {
	pairs, overlaps, nils, errs int
	// lockouts: the stored value is rejected at the end; reported: and the rotation that
	// stored it returned an error; silent: it returned nil.
	lockouts, reported, silent int
	// risk: overlapping pairs where the rotation whose value was stored got an error
	// matching secrets.ErrLockoutRisk (the after-Store check fired); unchecked:
	// overlapping pairs where it did not and its stored value is rejected.
	risk, unchecked int
}

func (f rotationFigures) String() string {
	return fmt.Sprintf("%d pairs, %d with the second rotation done within the first one's slow Store; %d returned nil, %d errors; ErrLockoutRisk for the storing rotation in %d of the %d overlapping pairs; %d lockouts (the stored value is rejected), %d reported by the storing rotation's error, %d silent",
		f.pairs, f.overlaps, f.nils, f.errs, f.risk, f.overlaps, f.lockouts, f.reported, f.silent)
}

// TestSoakOverlappingRotations: two Rotate calls on one client overlap, both storing to
// one place (a variable under a mutex, as a vault or a file). The first one's Store is
// slow, and the second rotation starts once that Store has begun, so that it lists the
// first one's new secret and retires it before the first one writes its value over.
// Afterwards the stored value must authenticate, or the rotation that stored it must
// have returned an error: a nil from it is a silent lockout (finding 4).
//
// Half the pairs use Rotate's default, which keeps retired secrets working for an hour
// (no lockout can happen; the after-Store check still sees the shortened expiry), and
// half RetireAtOnce, which deletes them: there only the after-Store check stands between
// the overlap and a silent lockout, so it must have fired (ErrLockoutRisk) in most
// overlapping pairs, and in every overlapping pair where the stored value is rejected.
func TestSoakOverlappingRotations(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: run without -short")
	}
	fx := newFixture(t, nil)
	rng := rand.New(rand.NewPCG(20261204, 4))
	type plan struct{ offset, slow, fast time.Duration }
	// The Stores begin with plan.offset and end with plan.slow apart: the second rotation
	// (list, add, prove unless RetireAtOnce, store, retire) must fit in between for the overlap of finding 4.
	plans := make([]plan, rotationPairs)
	for i := range plans {
		plans[i] = plan{
			offset: time.Duration(rng.IntN(20)) * time.Millisecond,
			slow:   time.Duration(120+rng.IntN(120)) * time.Millisecond,
			fast:   time.Duration(rng.IntN(15)) * time.Millisecond,
		}
	}
	var mu sync.Mutex
	var grace, atOnce rotationFigures
	parallelDo(rotationPairs, func(i int) {
		retireAtOnce := i%2 == 1 // interleaved, so both halves meet the same load
		c, err := fx.hc.Create(context.Background(), hybridclients.CreateRequest{
			Name: fmt.Sprintf("rotated-%03d", i), RedirectURIs: []string{"https://soak.example.com/cb"}, SecretDescription: "initial",
		})
		if err != nil {
			t.Error(err)
			return
		}
		rec.secret(c.Secret.Value.Reveal())
		var store struct {
			sync.Mutex
			value identity.Secret
			by    int // the rotation whose value is stored; -1: the create's
		}
		store.value, store.by = c.Secret.Value, -1

		var errOf [2]error
		var firstStoring sync.Once
		storing := make(chan struct{}) // closed when the first Store begins (or that rotation ends)
		var secondDone, firstWrote time.Time
		// The first Store writes only once the second rotation has returned (or after
		// 10 s): the overlap of finding 4, whatever the machine's load. A retirement that
		// comes after the first rotation's check is beyond what a check can see; Rotate's
		// doc says rotations of one client must not overlap.
		secondReturned := make(chan struct{})
		var wg sync.WaitGroup
		for r := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				delay := plans[i].slow // rotation 0 starts first and stores slowly
				if r == 0 {
					defer firstStoring.Do(func() { close(storing) })
				} else {
					<-storing
					time.Sleep(plans[i].offset)
					delay = plans[i].fast
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				rot, err := fx.sec.Rotate(ctx, c.Client.ID, secrets.RotateRequest{
					Description:  fmt.Sprintf("rotation %d", r),
					RetireAtOnce: retireAtOnce,
					Store: func(ctx context.Context, s secrets.Added) error {
						rec.secret(s.Value.Reveal())
						rec.see(s)
						if r == 0 {
							firstStoring.Do(func() { close(storing) })
						}
						time.Sleep(delay)
						if r == 0 {
							select {
							case <-secondReturned:
							case <-time.After(10 * time.Second):
							}
						}
						store.Lock()
						defer store.Unlock()
						store.value, store.by = s.Value, r
						if r == 0 {
							firstWrote = time.Now()
						}
						return nil
					},
				})
				rec.see(rot, err)
				errOf[r] = err
				if r == 1 {
					secondDone = time.Now()
					close(secondReturned)
				}
			}()
		}
		wg.Wait()

		works := fx.srv.CheckSecret(c.Client.ID, store.value)
		var storingErr error
		if store.by >= 0 {
			storingErr = errOf[store.by]
		}
		mu.Lock()
		defer mu.Unlock()
		f := &grace
		if retireAtOnce {
			f = &atOnce
		}
		f.pairs++
		if !firstWrote.IsZero() && secondDone.Before(firstWrote) {
			f.overlaps++ // the second rotation ran entirely within the first one's Store
			switch {
			case errors.Is(storingErr, secrets.ErrLockoutRisk):
				f.risk++
			case !works:
				f.unchecked++
			}
		}
		for _, err := range errOf {
			if err == nil {
				f.nils++
			} else {
				f.errs++
			}
		}
		if !works {
			f.lockouts++
			if storingErr != nil {
				f.reported++
			} else {
				f.silent++
			}
		}
	})
	msg := fmt.Sprintf("soak overlapping rotations: %d pairs of rotations of one client storing to one place; with the default grace: %v; with RetireAtOnce: %v; silent lockouts: %d",
		rotationPairs, grace, atOnce, grace.silent+atOnce.silent)
	t.Log(msg)
	fmt.Println(msg)
	for _, h := range []struct {
		name string
		f    rotationFigures
	}{{"default grace", grace}, {"RetireAtOnce", atOnce}} {
		if h.f.silent != 0 {
			t.Errorf("%s: %d times the rotation whose value was stored returned nil, yet that value no longer authenticates", h.name, h.f.silent)
		}
		if h.f.overlaps < h.f.pairs/2 {
			t.Errorf("%s: only %d of %d pairs overlapped as planned: the soak proves little", h.name, h.f.overlaps, h.f.pairs)
		}
	}
	if grace.lockouts != 0 {
		t.Errorf("default grace: %d stored values are rejected although retired secrets keep working for an hour", grace.lockouts)
	}
	// With RetireAtOnce the after-Store check is what reports the overlap: it must fire.
	if atOnce.risk*2 <= atOnce.overlaps {
		t.Errorf("RetireAtOnce: the storing rotation got ErrLockoutRisk in only %d of %d overlapping pairs: the after-Store check did not fire", atOnce.risk, atOnce.overlaps)
	}
	if atOnce.unchecked != 0 {
		t.Errorf("RetireAtOnce: in %d overlapping pairs the stored value is rejected without ErrLockoutRisk for the rotation that stored it", atOnce.unchecked)
	}
}
