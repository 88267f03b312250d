package hybridclients_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/internal/harness/mocktest"
	"github.com/ocs-go/identity/secrets"
)

// drain ranges over seq on the caller's goroutine and returns its results and errors.
func drain[T any](seq func(func(hybridclients.Result[T], error) bool)) ([]hybridclients.Result[T], []error) {
	var rs []hybridclients.Result[T]
	var errs []error
	for r, err := range seq {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rs = append(rs, r)
	}
	return rs, errs
}

// A caller who gives up while the scan still adds new secrets is told of every one: a
// rotation whose new secret exists is yielded, whatever the moment ctx ended, and as no
// value was stored, its new secret is deleted again (or named, when that failed).
func TestApplyRotationsReportsEveryStartedRotationWhenTheContextEndsDuringTheScan(t *testing.T) {
	tn := newTenant(t, secrets.PropagationDelay)
	const due = 40
	for i := range due {
		tn.add(t, fmt.Sprintf("due-%02d", i), 10*day, nil)
	}
	tn.clk.Advance(secrets.PropagationDelay)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var adds atomic.Int32
	rt := &cancelOn{cancel: cancel, when: func(r *http.Request) bool {
		// the caller gives up while other workers are mid-add
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Secrets") && adds.Add(1) == 6
	}}
	cfg := tn.srv.Config()
	cfg.HTTPClient = &http.Client{Transport: rt}
	clients, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer clients.CloseIdleConnections()
	var stores atomic.Int32
	store := func(ctx context.Context, id string, s secrets.Added) error {
		stores.Add(1)
		return tn.store(ctx, id, s)
	}
	rs, errs := drain(hybridclients.ApplyRotations(ctx, clients, managedBut(secrets.Policy{}), store, hybridclients.ScanOptions{Concurrency: 8}))
	if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
		t.Fatalf("errors %v, want the scan's context error last", errs)
	}
	if stores.Load() != 0 {
		t.Errorf("%d values stored, though no new secret was proven", stores.Load())
	}
	reported := map[string]hybridclients.Result[hybridclients.RotationOutcome]{}
	for _, r := range rs {
		reported[r.Client.ID] = r
	}
	begun := 0
	for _, c := range tn.srv.Clients() {
		ids := tn.srv.SecretIDs(c.ID)
		r, ok := reported[c.ID]
		if ok && r.Value.Rotation != nil {
			begun++
			if !errors.Is(r.Err, secrets.ErrNotProven) && !errors.Is(r.Err, context.Canceled) {
				t.Errorf("%s: %v, want a *ProofError or the context's error", c.Name, r.Err)
			}
		}
		if len(ids) > 1 {
			if ok && errors.Is(r.Err, identity.ErrOutcomeUnknown) {
				continue // the add's outcome is reported unknown: its error names what may be left
			}
			if !ok || r.Value.Rotation == nil || r.Value.Rotation.New.ID != ids[len(ids)-1] || r.Value.Rotation.Step != secrets.StepAdded {
				t.Errorf("%s: new secret %d is left, but the result (reported: %v) is %v, %v", c.Name, ids[len(ids)-1], ok, r.Value.Rotation, r.Err)
			}
		}
		if ids[0] != 1 {
			t.Errorf("%s: secrets %v: the old one was touched", c.Name, ids)
		}
	}
	if begun < 6 || adds.Load() < 6 {
		t.Errorf("%d rotations reported begun after %d adds: want at least 6", begun, adds.Load())
	}
}

// cancelOn is a RoundTripper that cancels a context before sending the first request
// that when matches.
type cancelOn struct {
	when   func(*http.Request) bool
	cancel context.CancelFunc
	once   sync.Once
}

func (c *cancelOn) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.when(r) {
		c.once.Do(c.cancel)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// applyOne runs ApplyRotations over the tenant's one client, on the tenant's clock, with
// clients made by the tenant's Config changed by mutate.
func (tn *tenant) applyOne(t *testing.T, ctx context.Context, runClock bool, mutate func(*identity.Config), store func(context.Context, string, secrets.Added) error) hybridclients.Result[hybridclients.RotationOutcome] {
	t.Helper()
	cfg := tn.srv.Config()
	if mutate != nil {
		mutate(&cfg)
	}
	clients, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer clients.CloseIdleConnections()
	seq := hybridclients.ApplyRotations(ctx, clients, managedBut(secrets.Policy{}), store, hybridclients.ScanOptions{})
	var rs []hybridclients.Result[hybridclients.RotationOutcome]
	var errs []error
	if runClock {
		rs, errs = collect(tn.clk, seq)
	} else {
		rs, errs = drain(seq)
	}
	if len(rs) != 1 {
		t.Fatalf("%d results, errors %v; want one", len(rs), errs)
	}
	return rs[0]
}

// Each way a rotation can stop, its result says what is true on the service: the new
// secret's id when it exists, whether its value is stored, and the old secret untouched.
func TestApplyRotationsOutcomeAgreesWithTheService(t *testing.T) {
	type want struct {
		step       secrets.Step
		newID      int   // the new secret's id in Rotation.New; 0: none exists
		notRetired []int // Rotation.NotRetired
		proofError bool  // Err is a *secrets.ProofError naming proofNewID and notRetired
		proofNewID int
		secrets    []int // on the service afterwards
	}
	cases := []struct {
		name      string
		delay     time.Duration
		stopClock bool // the clock stands still: ctx ends while the proof waits
		setup     func(tn *tenant, id string, cancel context.CancelFunc) (func(*identity.Config), func(context.Context, string, secrets.Added) error)
		want      want
	}{{
		name: "store fails, the new secret deleted again",
		setup: func(tn *tenant, id string, _ context.CancelFunc) (func(*identity.Config), func(context.Context, string, secrets.Added) error) {
			return nil, func(context.Context, string, secrets.Added) error { return errors.New("vault sealed") }
		},
		want: want{step: secrets.StepNone, secrets: []int{1}},
	}, {
		name: "store fails, and so does deleting the new secret",
		setup: func(tn *tenant, id string, _ context.CancelFunc) (func(*identity.Config), func(context.Context, string, secrets.Added) error) {
			tn.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpDeleteSecret, Status: http.StatusForbidden})
			return nil, func(context.Context, string, secrets.Added) error { return errors.New("vault sealed") }
		},
		want: want{step: secrets.StepAdded, newID: 2, secrets: []int{1, 2}},
	}, {
		name: "the add's answer is lost and its secret cannot be deleted",
		setup: func(tn *tenant, id string, _ context.CancelFunc) (func(*identity.Config), func(context.Context, string, secrets.Added) error) {
			tn.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpAddSecret, CutAfterCommit: true, Times: 1})
			tn.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpDeleteSecret, Status: http.StatusForbidden})
			return nil, tn.store
		},
		want: want{step: secrets.StepAdded, newID: 2, secrets: []int{1, 2}},
	}, {
		name:      "ctx ends while the proof waits",
		delay:     secrets.PropagationDelay,
		stopClock: true,
		setup: func(tn *tenant, id string, cancel context.CancelFunc) (func(*identity.Config), func(context.Context, string, secrets.Added) error) {
			go cancelWhenWaiting(tn, cancel)
			return nil, tn.store
		},
		want: want{step: secrets.StepNone, notRetired: []int{1}, proofError: true, proofNewID: 2, secrets: []int{1}},
	}, {
		name:      "ctx ends while the proof waits, and deleting the new secret fails",
		delay:     secrets.PropagationDelay,
		stopClock: true,
		setup: func(tn *tenant, id string, cancel context.CancelFunc) (func(*identity.Config), func(context.Context, string, secrets.Added) error) {
			tn.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpDeleteSecret, Status: http.StatusForbidden})
			go cancelWhenWaiting(tn, cancel)
			return nil, tn.store
		},
		want: want{step: secrets.StepAdded, newID: 2, notRetired: []int{1}, proofError: true, proofNewID: 2, secrets: []int{1, 2}},
	}, {
		name: "ctx ends once the proof came, before the old secret is retired",
		setup: func(tn *tenant, id string, cancel context.CancelFunc) (func(*identity.Config), func(context.Context, string, secrets.Added) error) {
			rt := &cancelOn{cancel: cancel, when: func(r *http.Request) bool {
				return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/Secrets/2")
			}}
			return func(c *identity.Config) { c.HTTPClient = &http.Client{Transport: rt} }, tn.store
		},
		want: want{step: secrets.StepStored, newID: 2, notRetired: []int{1}, secrets: []int{1, 2}},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tn := newTenant(t, c.delay)
			id := tn.add(t, "due", 10*day, nil)
			tn.clk.Advance(secrets.PropagationDelay)
			before, err := tn.clients.Secrets().Get(context.Background(), id, 1)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			mutate, store := c.setup(tn, id, cancel)
			r := tn.applyOne(t, ctx, !c.stopClock, mutate, store)
			tn.srv.ClearFaults()
			rot := r.Value.Rotation
			if r.Err == nil || rot == nil {
				t.Fatalf("rotation %v, error %v: want both", rot, r.Err)
			}
			if rot.Step != c.want.step || rot.New.ID != c.want.newID || !slices.Equal(idsOf(rot.NotRetired), c.want.notRetired) {
				t.Errorf("rotation: step %s, new secret %d, not retired %v; want %s, %d, %v (error: %v)",
					rot.Step, rot.New.ID, idsOf(rot.NotRetired), c.want.step, c.want.newID, c.want.notRetired, r.Err)
			}
			var pe *secrets.ProofError
			if isPE := errors.As(r.Err, &pe); isPE != c.want.proofError || isPE && (pe.NewID != c.want.proofNewID || !slices.Equal(pe.NotRetired, c.want.notRetired)) {
				t.Errorf("error %v: a *ProofError %v (%+v), want %v", r.Err, isPE, pe, c.want.proofError)
			}
			if c.want.newID != 0 && !strings.Contains(r.Err.Error(), fmt.Sprintf("new secret %d", c.want.newID)) && !strings.Contains(r.Err.Error(), fmt.Sprintf("secrets [%d]", c.want.newID)) {
				t.Errorf("error %q does not name new secret %d", r.Err, c.want.newID)
			}
			if ids := tn.srv.SecretIDs(id); !slices.Equal(ids, c.want.secrets) {
				t.Errorf("the service holds secrets %v, want %v", ids, c.want.secrets)
			}
			after, err := tn.clients.Secrets().Get(context.Background(), id, 1)
			if err != nil || after.Expiry != before.Expiry {
				t.Errorf("the old secret was touched: %+v -> %+v, %v", before, after, err)
			}
		})
	}
}

// cancelWhenWaiting cancels once something waits on the tenant's clock: a proof.
func cancelWhenWaiting(tn *tenant, cancel context.CancelFunc) {
	for tn.clk.Waiting() == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	cancel()
}

func idsOf(ss []secrets.ClientSecret) []int {
	var out []int
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

// A Config.Clock that nobody moves (a test clock never advanced) must not hang a
// rotation's proof for ever when ctx has no deadline: the call returns, saying why.
func TestRotationsOnAClockThatNeverMovesReturn(t *testing.T) {
	t.Run("ApplyRotations", func(t *testing.T) {
		t.Parallel() // each waits a second of real time for a clock nobody moves
		tn := newTenant(t, secrets.PropagationDelay)
		id := tn.add(t, "due", 10*day, nil)
		tn.clk.Advance(secrets.PropagationDelay) // and never again
		var rs []hybridclients.Result[hybridclients.RotationOutcome]
		mocktest.ReturnsWithin(t, 30*time.Second, func() {
			rs, _ = drain(hybridclients.ApplyRotations(context.Background(), tn.clients, managedBut(secrets.Policy{}), tn.store, hybridclients.ScanOptions{}))
		})
		if len(rs) != 1 || !errors.Is(rs[0].Err, secrets.ErrNotProven) || !strings.Contains(rs[0].Err.Error(), "Clock") {
			t.Fatalf("results %+v; want a *ProofError that names the clock", rs)
		}
		if ids := tn.srv.SecretIDs(id); !slices.Equal(ids, []int{1}) {
			t.Errorf("secrets %v, want the old one untouched and the unproven new one deleted", ids)
		}
	})
	t.Run("ApplyRotations, a clock whose Now stands still", func(t *testing.T) {
		t.Parallel() // each waits a second of real time for a clock nobody moves
		tn := newTenant(t, secrets.PropagationDelay)
		tn.add(t, "due", 10*day, nil)
		tn.clk.Advance(secrets.PropagationDelay)
		cfg := tn.srv.Config()
		cfg.Clock = stillClock{tn.clk.Now()} // its waits end at once, its time never moves
		clients, err := hybridclients.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var rs []hybridclients.Result[hybridclients.RotationOutcome]
		mocktest.ReturnsWithin(t, 30*time.Second, func() {
			rs, _ = drain(hybridclients.ApplyRotations(context.Background(), clients, managedBut(secrets.Policy{}), tn.store, hybridclients.ScanOptions{}))
		})
		var pe *secrets.ProofError
		if len(rs) != 1 || !errors.As(rs[0].Err, &pe) || pe.Probes < 10 {
			t.Fatalf("results %+v; want a *ProofError after the probes of the proof's timeout", rs)
		}
	})
	t.Run("Rotate", func(t *testing.T) {
		t.Parallel() // each waits a second of real time for a clock nobody moves
		tn := newTenant(t, secrets.PropagationDelay)
		id := tn.add(t, "due", 10*day, nil)
		tn.clk.Advance(secrets.PropagationDelay)
		var err error
		mocktest.ReturnsWithin(t, 30*time.Second, func() {
			_, err = tn.clients.Secrets().Rotate(context.Background(), id, secrets.RotateRequest{Store: func(context.Context, secrets.Added) error { return nil }})
		})
		if !errors.Is(err, secrets.ErrNotProven) || !strings.Contains(err.Error(), "Clock") {
			t.Fatalf("error %v; want a *ProofError that names the clock", err)
		}
	})
}

// stillClock reads the same time for ever; its waits end at once.
type stillClock struct{ at time.Time }

func (c stillClock) Now() time.Time { return c.at }
func (c stillClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- c.at
	return ch
}

// A Store that panics leaves no secret behind whose value nobody holds: the new secret is
// deleted again, and the panic reaches the caller (ApplyRotations: as a *PanicError on
// the loop's goroutine, as every panic of a scan's work does).
func TestAStorePanicLeavesNoNewSecretAndReachesTheCaller(t *testing.T) {
	boom := errors.New("the vault client panicked")
	panicking := func(context.Context, secrets.Added) error { panic(boom) }
	t.Run("Rotate", func(t *testing.T) {
		tn := newTenant(t, 0)
		id := tn.add(t, "due", 10*day, nil)
		got := func() (r any) {
			defer func() { r = recover() }()
			_, _ = tn.clients.Secrets().Rotate(context.Background(), id, secrets.RotateRequest{Store: panicking})
			return nil
		}()
		if got != boom {
			t.Errorf("recovered %v, want the Store's panic", got)
		}
		if ids := tn.srv.SecretIDs(id); !slices.Equal(ids, []int{1}) {
			t.Errorf("secrets %v, want the old one alone: the new one deleted again", ids)
		}
	})
	t.Run("ApplyRotations", func(t *testing.T) {
		tn := newTenant(t, 0)
		var ids []string
		for i := range 3 {
			ids = append(ids, tn.add(t, fmt.Sprint("due-", i), 10*day, nil))
		}
		store := func(ctx context.Context, id string, s secrets.Added) error { return panicking(ctx, s) }
		got := func() (r any) {
			defer func() { r = recover() }()
			drain(hybridclients.ApplyRotations(context.Background(), tn.clients, managedBut(secrets.Policy{}), store, hybridclients.ScanOptions{Concurrency: 1}))
			return nil
		}()
		var pe *hybridclients.PanicError
		if err, _ := got.(error); !errors.As(err, &pe) || pe.Value != boom {
			t.Errorf("recovered %v, want a *PanicError with the Store's panic", got)
		}
		for _, id := range ids {
			if got := tn.srv.SecretIDs(id); !slices.Equal(got, []int{1}) {
				t.Errorf("client %s: secrets %v, want the old one alone", id, got)
			}
		}
	})
}

// onePrefix reports what is wrong with text against the prefix rule: it must start with
// pkg's name once, and name no package of the module anywhere else.
func onePrefix(text, pkg string) string {
	rest, ok := strings.CutPrefix(text, pkg+": ")
	if !ok {
		return "does not start with " + pkg + ": "
	}
	for _, other := range []string{"identity: ", "hybridclients: ", "secrets: ", "desired: "} {
		if strings.Contains(rest, other) {
			return "names " + other + "inside"
		}
	}
	return ""
}

// The errors in the results of PlanRotations and ApplyRotations are the caller's
// package's (hybridclients: once), whatever the secrets package met; a *ProofError, taken
// out with errors.As, reads secrets: once.
func TestRotationResultsErrorsNameTheirPackageOnce(t *testing.T) {
	tn := newTenant(t, secrets.PropagationDelay)
	tn.add(t, "unproven", 10*day, nil)
	failing := tn.add(t, "store fails", 10*day, nil)
	tn.clk.Advance(secrets.PropagationDelay)
	policy := func(hc hybridclients.HybridClient) (secrets.Policy, bool) {
		return secrets.Policy{ProofTimeout: 10 * time.Minute}, true // shorter than the propagation
	}
	store := func(ctx context.Context, id string, s secrets.Added) error {
		if id == failing {
			return errors.New("vault sealed")
		}
		return tn.store(ctx, id, s)
	}
	var texts []string
	rs, errs := collect(tn.clk, hybridclients.ApplyRotations(context.Background(), tn.clients, policy, store, hybridclients.ScanOptions{}))
	var pe *secrets.ProofError
	for _, r := range rs {
		if r.Err == nil {
			t.Fatalf("%s: no error", r.Client.Name)
		}
		texts = append(texts, r.Err.Error())
		if errors.As(r.Err, &pe) {
			if what := onePrefix(pe.Error(), "secrets"); what != "" {
				t.Errorf("ProofError.Error() %s: %q", what, pe.Error())
			}
		}
	}
	if len(rs) != 2 || len(errs) != 0 || pe == nil {
		t.Fatalf("results %v, errors %v; want two, one a *ProofError", rs, errs)
	}
	bad := func(hybridclients.HybridClient) (secrets.Policy, bool) {
		return secrets.Policy{Grace: time.Second}, true
	}
	plans, _ := collect(tn.clk, hybridclients.PlanRotations(context.Background(), tn.clients, bad, hybridclients.ScanOptions{}))
	rotations, _ := collect(tn.clk, hybridclients.ApplyRotations(context.Background(), tn.clients, bad, store, hybridclients.ScanOptions{}))
	for _, r := range plans {
		texts = append(texts, r.Err.Error())
	}
	for _, r := range rotations {
		texts = append(texts, r.Err.Error())
	}
	if len(texts) != 6 {
		t.Fatalf("%d errors, want 6", len(texts))
	}
	for _, text := range texts {
		if what := onePrefix(text, "hybridclients"); what != "" {
			t.Errorf("a result's error %s: %q", what, text)
		}
	}
}

// Breaking out of the loop while rotations wait for their proof leaves no new secret that
// nobody holds: their values were never stored, so they are deleted again; the old
// secrets are untouched.
func TestBreakingOutOfApplyRotationsDeletesTheUnprovenNewSecrets(t *testing.T) {
	tn := newTenant(t, secrets.PropagationDelay)
	var ids []string
	for i := range 6 {
		ids = append(ids, tn.add(t, fmt.Sprint("due-", i), 10*day, nil))
	}
	tn.add(t, "later", 200*day, nil)
	tn.clk.Advance(secrets.PropagationDelay)
	stores := 0
	store := func(ctx context.Context, id string, s secrets.Added) error { stores++; return tn.store(ctx, id, s) }
	for _, err := range hybridclients.ApplyRotations(context.Background(), tn.clients, managedBut(secrets.Policy{}), store, hybridclients.ScanOptions{Concurrency: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		break // the first outcome: "later", not due, while the due ones are begun or waiting
	}
	if stores != 0 {
		t.Errorf("%d values stored before any proof", stores)
	}
	for _, id := range ids {
		if got := tn.srv.SecretIDs(id); !slices.Equal(got, []int{1}) {
			t.Errorf("client %s: secrets %v, want the old one alone: the unproven new one deleted", id, got)
		}
	}
}
