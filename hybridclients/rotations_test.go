package hybridclients_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

const day = 24 * time.Hour

// tenant is a fake tenant for the rotation tests, on a clock the test moves, with the
// service's hour of propagation.
type tenant struct {
	srv     *hybridclientstest.Server
	clk     *hybridclientstest.Clock
	clients *hybridclients.Client

	mu     sync.Mutex
	stored map[string]identity.Secret // client id -> the value the store received last
	at     map[string]time.Time       // client id -> when, by the clock
}

func newTenant(t *testing.T, delay time.Duration) *tenant {
	t.Helper()
	clk := hybridclientstest.NewClock(time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC))
	srv := hybridclientstest.NewServer(t, &hybridclientstest.Options{Clock: clk, PropagationDelay: delay, TokenLifetime: 1000 * day})
	clients, err := hybridclients.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(clients.CloseIdleConnections)
	return &tenant{srv: srv, clk: clk, clients: clients, stored: map[string]identity.Secret{}, at: map[string]time.Time{}}
}

// add creates a client whose secret expires after life (zero: never), named name.
func (tn *tenant) add(t *testing.T, name string, life time.Duration, mutate func(*hybridclients.CreateRequest)) string {
	t.Helper()
	req := hybridclients.CreateRequest{Name: name, RedirectURIs: []string{"https://app.example.com/cb"}, SecretExpiry: secrets.NeverExpires()}
	if life > 0 {
		req.SecretExpiry = secrets.ExpiresIn(life)
	}
	if mutate != nil {
		mutate(&req)
	}
	c, err := tn.clients.Create(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	tn.stored[c.Client.ID] = c.Secret.Value
	return c.Client.ID
}

func (tn *tenant) store(_ context.Context, clientID string, s secrets.Added) error {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	tn.stored[clientID], tn.at[clientID] = s.Value, tn.clk.Now()
	return nil
}

// collect ranges over seq, moving the clock to the end of each wait on it (Clock.Run),
// and returns the results and the sequence's errors.
func collect[T any](clk *hybridclientstest.Clock, seq iter.Seq2[hybridclients.Result[T], error]) ([]hybridclients.Result[T], []error) {
	var rs []hybridclients.Result[T]
	var errs []error
	clk.Run(func() {
		for r, err := range seq {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			rs = append(rs, r)
		}
	}, nil)
	return rs, errs
}

func byName[T any](rs []hybridclients.Result[T]) map[string]hybridclients.Result[T] {
	m := map[string]hybridclients.Result[T]{}
	for _, r := range rs {
		m[r.Client.Name] = r
	}
	return m
}

// managedBut gives every client the policy, except the one named "unmanaged".
func managedBut(p secrets.Policy) func(hybridclients.HybridClient) (secrets.Policy, bool) {
	return func(hc hybridclients.HybridClient) (secrets.Policy, bool) { return p, hc.Name != "unmanaged" }
}

func TestApplyRotationsProvesTheDueClientsTogetherAndRetiresOnlyAfterTheProof(t *testing.T) {
	tn := newTenant(t, secrets.PropagationDelay)
	const dueClients = 12
	for i := range dueClients {
		tn.add(t, fmt.Sprintf("due-%02d", i), 10*day, nil)
	}
	tn.add(t, "later", 200*day, nil)
	tn.add(t, "never", 0, nil)
	tn.add(t, "unmanaged", 10*day, nil)
	tn.add(t, "disabled", 10*day, func(r *hybridclients.CreateRequest) { r.Enabled = identity.Ptr(false) })
	tn.clk.Advance(secrets.PropagationDelay) // the clients have reached sign-in
	first := map[string]identity.Secret{}
	for id, v := range tn.stored {
		first[id] = v
	}

	var progress []hybridclients.Progress
	opts := hybridclients.ScanOptions{Concurrency: 2, OnProgress: func(p hybridclients.Progress) { progress = append(progress, p) }}
	start := tn.clk.Now()
	rs, errs := collect(tn.clk, hybridclients.ApplyRotations(context.Background(), tn.clients, managedBut(secrets.Policy{}), tn.store, opts))
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	got := byName(rs)
	if len(rs) != dueClients+3 || got["unmanaged"].Client.ID != "" {
		t.Fatalf("%d results (unmanaged: %+v), want %d: one per managed client", len(rs), got["unmanaged"], dueClients+3)
	}
	for name, r := range got {
		switch {
		case strings.HasPrefix(name, "due-"):
			rot := r.Value.Rotation
			if r.Err != nil || rot == nil || rot.Step != secrets.StepDone || !r.Value.Plan.Rotates() {
				t.Fatalf("%s: %+v, %v", name, r.Value, r.Err)
			}
			tn.mu.Lock()
			storedAt, value := tn.at[r.Client.ID], tn.stored[r.Client.ID]
			tn.mu.Unlock()
			// Proven only once the new secret reached sign-in, an hour after the add, and
			// stored only then: the application never got a value that was refused.
			if rot.ProvenAt.Before(start.Add(secrets.PropagationDelay)) || storedAt.Before(rot.ProvenAt) {
				t.Errorf("%s: proven %v after the run began, before the propagation, or stored (%v) before the proof", name, rot.ProvenAt.Sub(start), storedAt.Sub(start))
			}
			// With two workers, twelve waits of an hour each would take six hours: the
			// proofs wait together, holding no worker.
			if rot.ProvenAt.After(start.Add(secrets.PropagationDelay + 10*time.Minute)) {
				t.Errorf("%s: proven %v after the run began", name, rot.ProvenAt.Sub(start))
			}
			if len(rot.Shortened) != 1 || !rot.Shortened[0].Expiry.At().Equal(rot.ProvenAt.Truncate(time.Second).Add(secrets.DefaultGrace)) && !rot.Shortened[0].Expiry.At().Equal(rot.ProvenAt.Add(secrets.DefaultGrace)) {
				t.Errorf("%s: old secrets %+v, want one shortened to an hour after the proof (%v)", name, rot.Shortened, rot.ProvenAt)
			}
			if !tn.srv.CheckSecret(r.Client.ID, value) || !tn.srv.CheckSecret(r.Client.ID, first[r.Client.ID]) {
				t.Errorf("%s: the new value, or the old one in its grace, does not authenticate", name)
			}
		case name == "later":
			if r.Value.Plan.Due || r.Value.Rotation != nil || !strings.Contains(r.Value.Plan.Reason, "due 30 days before") {
				t.Errorf("later: %+v", r.Value)
			}
		case name == "never":
			if r.Value.Plan.Due || r.Value.Plan.Finding == "" || r.Value.Rotation != nil {
				t.Errorf("never: %+v", r.Value)
			}
		case name == "disabled":
			if r.Value.Plan.Due || !strings.Contains(r.Value.Plan.Reason, "disabled") || r.Value.Rotation != nil {
				t.Errorf("disabled: %+v", r.Value)
			}
		}
	}
	last := progress[len(progress)-1]
	maxWaiting := 0
	for _, p := range progress {
		maxWaiting = max(maxWaiting, p.Waiting)
	}
	if last.Done != dueClients+4 || last.Total != dueClients+4 || last.Waiting != 0 || maxWaiting != dueClients || last.Failed != 0 {
		t.Errorf("last progress %+v (most waiting %d), want every client done, %d waiting at most", last, maxWaiting, dueClients)
	}

	// A second run right after rotates nothing.
	rs, errs = collect(tn.clk, hybridclients.ApplyRotations(context.Background(), tn.clients, managedBut(secrets.Policy{}), tn.store, hybridclients.ScanOptions{}))
	for _, r := range rs {
		if r.Value.Rotation != nil || r.Value.Plan.Due || r.Err != nil {
			t.Errorf("second run: %s: %+v, %v", r.Client.Name, r.Value, r.Err)
		}
	}
	if len(errs) != 0 || len(rs) != dueClients+3 {
		t.Errorf("second run: %d results, errors %v", len(rs), errs)
	}
}

// A new secret the identity server never accepted was never stored: it is deleted again,
// the old secret is untouched and still what the application holds, and the next run
// finds the client due again.
func TestApplyRotationsNeverProvenStoresNothingAndTheNextRunRotatesAgain(t *testing.T) {
	tn := newTenant(t, secrets.PropagationDelay)
	id := tn.add(t, "due", 10*day, nil)
	tn.clk.Advance(secrets.PropagationDelay)
	old := tn.stored[id]
	before, err := tn.clients.Secrets().Get(context.Background(), id, 1)
	if err != nil {
		t.Fatal(err)
	}
	policy := secrets.Policy{ProofTimeout: 20 * time.Minute} // shorter than the propagation
	rs, errs := collect(tn.clk, hybridclients.ApplyRotations(context.Background(), tn.clients, managedBut(policy), tn.store, hybridclients.ScanOptions{}))
	var pe *secrets.ProofError
	if len(errs) != 0 || len(rs) != 1 || !errors.As(rs[0].Err, &pe) || pe.NewID != 2 || pe.DeleteErr != nil || !slices.Equal(pe.NotRetired, []int{1}) {
		t.Fatalf("results %+v, errors %v; want one *ProofError naming new secret 2, deleted, and old secret 1", rs, errs)
	}
	if rot := rs[0].Value.Rotation; rot == nil || rot.Step != secrets.StepNone || rot.New.ID != 0 {
		t.Errorf("rotation %+v", rot)
	}
	after, err := tn.clients.Secrets().Get(context.Background(), id, 1)
	if err != nil || after.Expiry != before.Expiry || !tn.srv.CheckSecret(id, old) {
		t.Errorf("the old secret was touched: %+v -> %+v, %v", before, after, err)
	}
	if ids := tn.srv.SecretIDs(id); !slices.Equal(ids, []int{1}) {
		t.Errorf("secrets %v, want the old one alone: the unproven new one deleted", ids)
	}
	if tn.stored[id].Reveal() != old.Reveal() {
		t.Error("the unproven value was stored")
	}
	// Due again: its newest secret is the old one.
	plans, errs := collect(tn.clk, hybridclients.PlanRotations(context.Background(), tn.clients, managedBut(policy), hybridclients.ScanOptions{}))
	if len(errs) != 0 || len(plans) != 1 || !plans[0].Value.Rotates() || plans[0].Value.Newest.ID != 1 {
		t.Errorf("plans %+v, %v; want the client due again", plans, errs)
	}
}

func TestPlanRotationsChangesNothing(t *testing.T) {
	tn := newTenant(t, 0)
	for i := range 5 {
		tn.add(t, fmt.Sprint("due-", i), 10*day, nil)
	}
	tn.add(t, "later", 200*day, nil)
	before := tn.srv.Stats().Requests
	rs, errs := collect(tn.clk, hybridclients.PlanRotations(context.Background(), tn.clients, managedBut(secrets.Policy{}), hybridclients.ScanOptions{}))
	if len(errs) != 0 || len(rs) != 6 {
		t.Fatalf("%d plans, errors %v", len(rs), errs)
	}
	due := 0
	for _, r := range rs {
		if r.Value.Rotates() {
			due++
			if !strings.Contains(r.Value.String(), "would add a secret") || r.Value.ClientID != r.Client.ID {
				t.Errorf("plan %s", r.Value)
			}
		}
	}
	after := tn.srv.Stats().Requests
	for _, op := range []hybridclientstest.Op{hybridclientstest.OpAddSecret, hybridclientstest.OpUpdateSecret, hybridclientstest.OpDeleteSecret, hybridclientstest.OpToken} {
		if after[op] != before[op] {
			t.Errorf("a plan sent %d %s requests", after[op]-before[op], op)
		}
	}
	if due != 5 {
		t.Errorf("%d due, want 5", due)
	}
}

func TestApplyRotationsStoreFailureIsThatClientsAlone(t *testing.T) {
	tn := newTenant(t, 0)
	bad := tn.add(t, "bad", 10*day, nil)
	tn.add(t, "good", 10*day, nil)
	vault := errors.New("vault sealed")
	store := func(ctx context.Context, id string, s secrets.Added) error {
		if id == bad {
			return vault
		}
		return tn.store(ctx, id, s)
	}
	rs, errs := collect(tn.clk, hybridclients.ApplyRotations(context.Background(), tn.clients, managedBut(secrets.Policy{}), store, hybridclients.ScanOptions{}))
	got := byName(rs)
	if len(errs) != 0 || !errors.Is(got["bad"].Err, vault) || got["bad"].Value.Rotation.Step != secrets.StepNone || got["good"].Err != nil {
		t.Fatalf("results %+v, errors %v", rs, errs)
	}
	if ids := tn.srv.SecretIDs(bad); !slices.Equal(ids, []int{1}) {
		t.Errorf("bad: secrets %v, want the first alone (the new one deleted again)", ids)
	}
}

func TestApplyRotationsReportsTheWaitingRotationsWhenTheContextEnds(t *testing.T) {
	tn := newTenant(t, secrets.PropagationDelay)
	for i := range 3 {
		tn.add(t, fmt.Sprint("due-", i), 10*day, nil)
	}
	tn.clk.Advance(secrets.PropagationDelay)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seq := hybridclients.ApplyRotations(ctx, tn.clients, managedBut(secrets.Policy{}), func(ctx context.Context, id string, s secrets.Added) error {
		return tn.store(ctx, id, s)
	}, hybridclients.ScanOptions{OnProgress: func(p hybridclients.Progress) {}})
	var rs []hybridclients.Result[hybridclients.RotationOutcome]
	var errs []error
	for r, err := range func(yield func(hybridclients.Result[hybridclients.RotationOutcome], error) bool) {
		go func() { // the caller gives up while the proofs wait
			for tn.clk.Waiting() == 0 {
				time.Sleep(100 * time.Microsecond)
			}
			cancel()
		}()
		seq(yield)
	} {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rs = append(rs, r)
	}
	if len(rs) != 3 || len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
		t.Fatalf("%d results, errors %v", len(rs), errs)
	}
	for _, r := range rs {
		if !errors.Is(r.Err, secrets.ErrNotProven) || !errors.Is(r.Err, context.Canceled) || r.Value.Rotation.Step != secrets.StepNone {
			t.Errorf("%s: %+v, %v", r.Client.Name, r.Value.Rotation, r.Err)
		}
		if ids := tn.srv.SecretIDs(r.Client.ID); !slices.Equal(ids, []int{1}) {
			t.Errorf("%s: secrets %v, want the old one untouched and the unproven new one deleted", r.Client.Name, ids)
		}
	}
}

func TestRotationsArgumentsAreErrorsNotPanics(t *testing.T) {
	tn := newTenant(t, 0)
	all := managedBut(secrets.Policy{})
	var nilCtx context.Context
	for name, seq := range map[string]iter.Seq2[hybridclients.Result[hybridclients.RotationOutcome], error]{
		"nil policyFor": hybridclients.ApplyRotations(context.Background(), tn.clients, nil, tn.store, hybridclients.ScanOptions{}),
		"nil store":     hybridclients.ApplyRotations(context.Background(), tn.clients, all, nil, hybridclients.ScanOptions{}),
		"nil ctx":       hybridclients.ApplyRotations(nilCtx, tn.clients, all, tn.store, hybridclients.ScanOptions{}),
		"nil client":    hybridclients.ApplyRotations(context.Background(), nil, all, tn.store, hybridclients.ScanOptions{}),
		"concurrency":   hybridclients.ApplyRotations(context.Background(), tn.clients, all, tn.store, hybridclients.ScanOptions{Concurrency: -1}),
	} {
		if errs := errorsOf(seq); len(errs) != 1 || !errors.Is(errs[0], identity.ErrInvalidInput) {
			t.Errorf("%s: %v", name, errs)
		}
	}
	if errs := errorsOf(hybridclients.PlanRotations(context.Background(), tn.clients, nil, hybridclients.ScanOptions{})); len(errs) != 1 || !errors.Is(errs[0], identity.ErrInvalidInput) {
		t.Errorf("PlanRotations without policyFor: %v", errs)
	}
	if n := apiRequests(tn.srv.Stats()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
	// A bad policy is that client's error, before anything is sent for it.
	tn.add(t, "x", 10*day, nil)
	bad := func(hybridclients.HybridClient) (secrets.Policy, bool) {
		return secrets.Policy{Grace: time.Second}, true
	}
	rs, errs := collect(tn.clk, hybridclients.ApplyRotations(context.Background(), tn.clients, bad, tn.store, hybridclients.ScanOptions{}))
	if len(errs) != 0 || len(rs) != 1 || !errors.Is(rs[0].Err, identity.ErrInvalidInput) || tn.srv.Stats().Requests[hybridclientstest.OpAddSecret] != 0 {
		t.Errorf("a bad policy: %+v, %v", rs, errs)
	}
}
