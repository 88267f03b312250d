package desired

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/internal/harness/mocktest"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/secrets"
)

// secretReads returns the clients whose secrets the rig was asked for, in order of id.
func secretReads(rig *mocktest.Rig) []string {
	var ids []string
	for _, call := range rig.Calls() {
		if rest, ok := strings.CutPrefix(call, "GET HybridClients/"); ok && strings.Contains(rest, "/Secrets") {
			ids = append(ids, rest[:strings.Index(rest, "/")])
		}
	}
	slices.Sort(ids)
	return ids
}

// A plan reads the secrets of the State's clients that exist, have a policy and are
// enabled as the State wants them, and no others: not a client without a policy, not a
// disabled one (it could never prove a new secret), not one to create, not one whose
// first secret is pending (it gets a new secret anyway).
func TestDiffReadsTheSecretsOfEnabledExistingClientsWithAPolicyOnly(t *testing.T) {
	_, rig := goldenPlan(t, PlanOptions{Record: goldenRecord()})
	if got, want := secretReads(rig), []string{idSame, idStore, idKiosk}; !slices.Equal(got, want) {
		t.Errorf("secrets read of %v, want %v", got, want)
	}
	_, rig = goldenPlan(t, PlanOptions{})
	if got, want := secretReads(rig), []string{idSame, idPending, idStore, idKiosk}; !slices.Equal(got, want) {
		t.Errorf("without the record's pending secret: read %v, want %v", got, want)
	}
}

// A client whose secrets cannot be read does not hold up the plan: it carries a Finding
// saying whether they are due is unknown, and the rest of the plan stands.
func TestDiffNotesAClientWhoseSecretsCannotBeReadAndPlansTheRest(t *testing.T) {
	rig, c := rigClientAt(t, goldenNow)
	cannedTenant(t, rig, goldenTenant...)
	cannedSecrets(rig, map[string]string{idSame: goldenSecrets[idSame]})
	rig.On(http.MethodGet, mocktest.TenantURL+"/HybridClients/"+idStore+"/Secrets", mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
	s := State{Clients: []Client{
		{ID: idSame, Name: "Intranet", RedirectURIs: []string{"https://a.example.com/cb", "https://b.example.com/cb"}, Secrets: &SecretPolicy{}},
		{ID: idStore, Name: "Store", RedirectURIs: []string{"https://store.example.com/cb"}, Secrets: &SecretPolicy{}},
	}}
	p, err := Diff(context.Background(), c, s, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ch := p.Changes[0]; ch.rotation() == nil {
		t.Errorf("the readable client's rotation is missing: %+v", ch)
	}
	if ch := p.Changes[1]; ch.Action != ActionNone || !strings.Contains(ch.Finding, "could not be read") || !strings.Contains(ch.Finding, "403") {
		t.Errorf("the unreadable client: %+v", ch)
	}
	if text := string(textOf(t, p)); !strings.Contains(text, `! check the secrets of client "Store"`) || !strings.Contains(text, "The secrets of 1 client to check (!).") {
		t.Errorf("the plan does not show the unreadable client:\n%s", text)
	}
}

// rotationFake is the fake service with a clock the test moves, and an SDK client on it.
func rotationFake(t *testing.T, opts *hybridclientstest.Options) (*hybridclientstest.Server, *hybridclients.Client, *hybridclientstest.Clock) {
	t.Helper()
	srv, c, clk, _ := recordedFake(t, opts)
	return srv, c, clk
}

// recordedFake is rotationFake whose client records the query of every list of clients
// it sends.
func recordedFake(t *testing.T, opts *hybridclientstest.Options) (*hybridclientstest.Server, *hybridclients.Client, *hybridclientstest.Clock, *listQueries) {
	t.Helper()
	if opts == nil {
		opts = &hybridclientstest.Options{}
	}
	clk := hybridclientstest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	opts.Clock = clk
	srv := hybridclientstest.NewServer(t, opts)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	lists := &listQueries{base: tr}
	cfg := srv.Config()
	cfg.HTTPClient = &http.Client{Transport: lists}
	cfg.Retry = identity.RetryPolicy{MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond}
	c, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c, clk, lists
}

// listQueries records the query of each list of clients sent through it.
type listQueries struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (l *listQueries) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/HybridClients") {
		l.mu.Lock()
		l.seen = append(l.seen, r.URL.RawQuery)
		l.mu.Unlock()
	}
	return l.base.RoundTrip(r)
}

// walks counts the lists sent since the last call that were not filtered by id.
func (l *listQueries) walks() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, q := range l.seen {
		if !strings.Contains(q, "id=") {
			n++
		}
	}
	l.seen = nil
	return n
}

// A plan's fingerprint covers the secrets its rotations were decided from: when someone
// adds a secret to a client whose rotation is planned, Apply refuses the plan and changes
// nothing.
func TestApplyRefusesAPlanWhoseRotationWasDecidedFromOtherSecrets(t *testing.T) {
	srv, c, clk := rotationFake(t, nil)
	ctx := context.Background()
	v := newVault()
	s := State{Clients: []Client{webApp(idA, "Billing"), webApp(idB, "Reports")}}
	for i := range s.Clients {
		s.Clients[i].Secrets = &SecretPolicy{Lifetime: 90 * day}
	}
	if _, _, err := planAndApply(t, c, s, PlanOptions{}, ApplyOptions{Store: v.Store}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(70 * day) // both secrets now expire within 30 days
	p, err := Diff(ctx, c, s, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.rotations() != 2 {
		t.Fatalf("%d rotations planned, want 2:\n%s", p.rotations(), textOf(t, p))
	}
	// Meanwhile someone rotates Reports by hand.
	if _, err := c.Secrets().Add(ctx, idB, secrets.AddRequest{Description: "by hand"}); err != nil {
		t.Fatal(err)
	}
	before := srv.Stats().Requests[hybridclientstest.OpAddSecret]
	_, err = Apply(ctx, c, p, ApplyOptions{Store: v.Store})
	var stale *StaleError
	if !errors.As(err, &stale) || !slices.Equal(stale.Clients, []string{idB}) {
		t.Fatalf("err = %v, want a *StaleError naming Reports only", err)
	}
	if !strings.Contains(err.Error(), "has other secrets than those its rotation was decided from (secrets [1] then, [1 2] now)") {
		t.Errorf("the error does not say what changed: %v", err)
	}
	if n := srv.Stats().Requests[hybridclientstest.OpAddSecret] - before; n != 0 {
		t.Errorf("%d secrets added after the plan was found stale", n)
	}
	if ids := srv.SecretIDs(idA); len(ids) != 1 {
		t.Errorf("Billing's secrets %v: the stale plan rotated it", ids)
	}
}

// A Store is required when a plan rotates secrets, as when it adds them.
func TestApplyRefusesAPlanThatRotatesWithoutAStore(t *testing.T) {
	p, rig := goldenPlan(t, PlanOptions{})
	rig.ClearCalls()
	var rotating Plan
	for _, ch := range p.Changes {
		if ch.rotation() != nil {
			rotating.Changes = append(rotating.Changes, ch)
		}
	}
	rotating.Fingerprint = rotating.fingerprint()
	_, err := Apply(context.Background(), nil, &rotating, ApplyOptions{})
	mustErr(t, "Apply", err, identity.ErrInvalidInput)
	if !strings.Contains(err.Error(), "ApplyOptions.Store") || len(rig.Calls()) != 0 {
		t.Errorf("err = %v; calls %v", err, rig.Calls())
	}
}

// dueState is a State of n web apps with a 90-day policy, created on the fake, whose
// secrets the clock then brings within 30 days of their expiry.
func dueState(t *testing.T, c *hybridclients.Client, clk *hybridclientstest.Clock, v *vault, n int, policy SecretPolicy) State {
	t.Helper()
	var s State
	for i := range n {
		dc := webApp(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), fmt.Sprintf("app %d", i))
		p := policy
		dc.Secrets = &p
		s.Clients = append(s.Clients, dc)
	}
	if _, _, err := planAndApply(t, c, s, PlanOptions{}, ApplyOptions{Store: v.Store}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(70 * day)
	return s
}

// applyOnClock applies p while the clock runs through the waits of the proofs.
func applyOnClock(t *testing.T, clk *hybridclientstest.Clock, c *hybridclients.Client, p *Plan, opts ApplyOptions) (*Applied, error) {
	t.Helper()
	var (
		applied *Applied
		err     error
	)
	clk.Run(func() { applied, err = Apply(context.Background(), c, p, opts) }, nil)
	return applied, err
}

// Due secrets are rotated by their policy: the new value goes to the Store, the old
// secrets are retired only once the identity server accepts the new one (an hour of
// propagation here), each client's result says how; a second plan right after has
// nothing to do.
func TestApplyRotatesDueSecretsWithProofBeforeRetirementAndThenHasNothingToDo(t *testing.T) {
	srv, c, clk, lists := recordedFake(t, &hybridclientstest.Options{PropagationDelay: time.Hour})
	v := newVault()
	s := dueState(t, c, clk, v, 3, SecretPolicy{Lifetime: 90 * day, Grace: 2 * time.Hour})
	// One client also gets a new name: its update and its rotation are one result.
	s.Clients[1].Name = "renamed"
	p, err := Diff(context.Background(), c, s, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.rotations() != 3 || p.Count(ActionUpdate) != 3 {
		t.Fatalf("plan:\n%s", textOf(t, p))
	}
	planned := clk.Now()
	var results []Result
	applied, err := applyOnClock(t, clk, c, p, ApplyOptions{Store: v.Store, OnResult: func(r Result) { results = append(results, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if applied.Rotated() != 3 || len(results) != 3 {
		t.Fatalf("rotated %d, %d results reported: %+v", applied.Rotated(), len(results), applied.Results)
	}
	if n := lists.walks(); n != 0 {
		t.Errorf("%d walks of the tenant's list: three due clients are one list by id", n)
	}
	for _, r := range applied.Results {
		rot := r.Rotation
		if rot == nil || rot.Step != secrets.StepDone || r.Secret.ID != rot.New.ID {
			t.Fatalf("%s: %+v", r.Name, r)
		}
		// Proven no sooner than the hour of propagation; the old secret shortened to the
		// grace after the proof.
		if rot.ProvenAt.Before(planned.Add(time.Hour)) || len(rot.Shortened) != 1 ||
			rot.Shortened[0].Expiry.At().Sub(rot.ProvenAt).Round(time.Second) != 2*time.Hour {
			t.Errorf("%s: proven at %v (planned %v), shortened %+v", r.Name, rot.ProvenAt, planned, rot.Shortened)
		}
		got, _ := v.last(r.ID)
		if got.ID != rot.New.ID || !srv.CheckSecret(r.ID, got.Value) {
			t.Errorf("%s: the stored value is not the new secret's, or does not work", r.Name)
		}
		if ids := srv.SecretIDs(r.ID); len(ids) != 2 {
			t.Errorf("%s: secrets %v, want the old (in its grace) and the new", r.Name, ids)
		}
	}
	if hc, err := c.Get(context.Background(), s.Clients[1].ID); err != nil || hc.Name != "renamed" {
		t.Errorf("the rename: %v, %v", hc, err)
	}
	again, err := Diff(context.Background(), c, s, PlanOptions{Record: applied.Record})
	if err != nil || again.HasChanges() {
		t.Fatalf("a second plan: %v\n%s", err, textOf(t, again))
	}
}

// A rotation the identity server does not accept within the policy's ProofTimeout is
// reported with what its *secrets.ProofError names; the old secrets are left as they are,
// the store keeps the old value, and the new secret, whose value was never stored, is
// deleted again; the next plan rotates the client again.
func TestApplyReportsARotationNeverProvenAndDeletesItsNewSecret(t *testing.T) {
	_, c, clk := rotationFake(t, &hybridclientstest.Options{PropagationDelay: 3 * time.Hour})
	v := newVault()
	s := dueState(t, c, clk, v, 1, SecretPolicy{Lifetime: 90 * day, ProofTimeout: 30 * time.Minute})
	id := s.Clients[0].ID
	old, err := c.Secrets().List(context.Background(), id, secrets.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Diff(context.Background(), c, s, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	applied, err := applyOnClock(t, clk, c, p, ApplyOptions{Store: v.Store})
	var pe *secrets.ProofError
	if !errors.As(err, &pe) || !errors.Is(err, secrets.ErrNotProven) {
		t.Fatalf("err = %v, want the rotation's *secrets.ProofError", err)
	}
	r := applied.Results[0]
	if r.Rotation == nil || r.Rotation.Step != secrets.StepNone || r.Secret.ID != 0 || applied.Rotated() != 0 {
		t.Errorf("result %+v", r)
	}
	for _, word := range []string{"was added, but the identity server did not accept it", "it was deleted again", "old secrets [1] are untouched"} {
		if !strings.Contains(err.Error(), word) {
			t.Errorf("the error does not say %q: %v", word, err)
		}
	}
	now, err := c.Secrets().List(context.Background(), id, secrets.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(now.Secrets) != 1 || now.Secrets[0].ID != 1 || !now.Secrets[0].Expiry.At().Equal(old.Secrets[0].Expiry.At()) {
		t.Errorf("secrets %+v, want the old one as it was, alone", now.Secrets)
	}
	if got, _ := v.last(id); got.ID != 1 {
		t.Errorf("the store holds secret %d, want the old 1", got.ID)
	}
	if len(applied.Record.Pending) != 0 {
		t.Errorf("pending %+v: no secret is left whose value nobody holds", applied.Record.Pending)
	}
	clk.Advance(3 * time.Hour)
	if again, err := Diff(context.Background(), c, s, PlanOptions{Record: applied.Record}); err != nil || again.rotations() != 1 {
		t.Errorf("the next plan: %v, want the client rotated again\n%s", err, textOf(t, again))
	}
}

// More due clients than one list request by id holds are rotated all the same (their
// list is then a walk of the tenant's), and no client the plan does not rotate is touched.
func TestApplyRotatesMoreDueClientsThanOneListByIDHolds(t *testing.T) {
	srv, c, clk, lists := recordedFake(t, nil)
	v := newVault()
	s := dueState(t, c, clk, v, idsPerList+5, SecretPolicy{Lifetime: 90 * day})
	// A client of someone else's, due by any policy, that no plan may rotate.
	other, err := c.Create(context.Background(), hybridclients.CreateRequest{Name: "not ours", RedirectURIs: []string{"https://x.example.com/cb"},
		SecretExpiry: secrets.ExpiresIn(2 * day)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Diff(context.Background(), c, s, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lists.walks()
	applied, err := applyOnClock(t, clk, c, p, ApplyOptions{Store: v.Store, Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	if applied.Rotated() != len(s.Clients) {
		t.Errorf("rotated %d of %d", applied.Rotated(), len(s.Clients))
	}
	if n := lists.walks(); n != 1 {
		t.Errorf("%d walks of the tenant's list, want 1", n)
	}
	if ids := srv.SecretIDs(other.Client.ID); len(ids) != 1 {
		t.Errorf("someone else's client has secrets %v", ids)
	}
}

// When the Store fails for a rotation, the new secret is deleted again and the old ones
// are untouched: nothing is pending, and the next plan is due again. When deleting it
// fails too, it is recorded as pending: the next apply deletes it and adds a new secret
// that the Store holds, and then nothing is left that no Store holds.
func TestApplyLeavesNoRotatedSecretThatNoStoreHolds(t *testing.T) {
	srv, c, clk := rotationFake(t, nil)
	v := newVault()
	s := dueState(t, c, clk, v, 2, SecretPolicy{Lifetime: 90 * day})
	a, b := s.Clients[0].ID, s.Clients[1].ID
	sealed := errors.New("the vault is sealed")
	v.fail = func(string) error { return sealed }
	p, err := Diff(context.Background(), c, s, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	applied, err := applyOnClock(t, clk, c, p, ApplyOptions{Store: v.Store})
	if !errors.Is(err, sealed) || len(applied.Failed()) != 2 || len(applied.Record.Pending) != 0 {
		t.Fatalf("err = %v; record %+v", err, applied.Record)
	}
	for _, id := range []string{a, b} {
		if ids := srv.SecretIDs(id); len(ids) != 1 {
			t.Errorf("client %s has secrets %v, want its old one only", id, ids)
		}
	}

	// Again, and deleting the new secret fails too: for client a only.
	remove := srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpDeleteSecret, Status: 403})
	v.fail = func(id string) error {
		if id == a {
			return sealed
		}
		return nil
	}
	p, err = Diff(context.Background(), c, s, PlanOptions{Record: applied.Record})
	if err != nil {
		t.Fatal(err)
	}
	applied, err = applyOnClock(t, clk, c, p, ApplyOptions{Store: v.Store, Record: applied.Record})
	remove()
	if err == nil || len(applied.Record.Pending) != 1 || applied.Record.Pending[0].ClientID != a || applied.Rotated() != 1 {
		t.Fatalf("err = %v; record %+v; rotated %d", err, applied.Record, applied.Rotated())
	}
	orphan := applied.Record.Pending[0].Orphans
	v.fail = nil
	p, err = Diff(context.Background(), c, s, PlanOptions{Record: applied.Record})
	if err != nil {
		t.Fatal(err)
	}
	if ch := p.Changes[0]; ch.Secret == nil || !ch.Secret.Add || !slices.Equal(ch.Secret.Delete, secretIDs(orphan)) || ch.rotation() != nil {
		t.Fatalf("the plan for the pending client: %+v", ch)
	}
	applied, err = applyOnClock(t, clk, c, p, ApplyOptions{Store: v.Store, Record: applied.Record})
	if err != nil || len(applied.Record.Pending) != 0 {
		t.Fatalf("err = %v; record %+v", err, applied.Record)
	}
	for _, id := range []string{a, b} {
		held := v.held(id)
		for _, sid := range srv.SecretIDs(id) {
			if !slices.Contains(held, sid) {
				t.Errorf("client %s: secret %d is held by no store", id, sid)
			}
		}
	}
	if again, err := Diff(context.Background(), c, s, PlanOptions{Record: applied.Record}); err != nil || again.HasChanges() {
		t.Errorf("the next plan: %v\n%s", err, textOf(t, again))
	}
}

// A client the plan rotates that someone deletes before its rotation starts is reported
// as stale, and nothing else is done to it.
func TestApplyReportsARotatingClientDeletedMeanwhileAsStale(t *testing.T) {
	_, c, clk := rotationFake(t, nil)
	v := newVault()
	s := dueState(t, c, clk, v, 1, SecretPolicy{Lifetime: 90 * day})
	due := s.Clients[0].ID
	s.Clients = append(s.Clients, webApp(idC, "New"))
	p, err := Diff(context.Background(), c, s, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The new client's Store is where someone else's delete happens: after the plan was
	// checked, before the rotations start.
	v.fail = func(id string) error {
		if id == idC {
			return c.Delete(context.Background(), due)
		}
		return nil
	}
	applied, err := applyOnClock(t, clk, c, p, ApplyOptions{Store: v.Store})
	mustErr(t, "Apply", err, ErrStale)
	if r := applied.Results[0]; r.ID != due || !strings.Contains(r.Err.Error(), "was not found when its secrets were to be rotated") || r.Rotation != nil {
		t.Errorf("result %+v", r)
	}
	if applied.Done(ActionCreate) != 1 {
		t.Errorf("the create: %+v", applied.Results)
	}
}

// A rotating client whose secrets cannot be read again to check the plan is not rotated
// (the plan could not be checked for it) and is reported; the rest of the plan is applied.
func TestApplyDoesNotRotateAClientWhoseSecretsItCannotReadAgain(t *testing.T) {
	srv, c, clk := rotationFake(t, nil)
	v := newVault()
	s := dueState(t, c, clk, v, 2, SecretPolicy{Lifetime: 90 * day})
	p, err := Diff(context.Background(), c, s, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The next list of secrets, one of the two that check the plan, is refused.
	srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpListSecrets, Status: 403, Times: 1})
	applied, err := applyOnClock(t, clk, c, p, ApplyOptions{Store: v.Store})
	if applied == nil || err == nil || applied.Rotated() != 1 || len(applied.Failed()) != 1 {
		t.Fatalf("err = %v; applied %+v", err, applied)
	}
	failed := applied.Failed()[0]
	if !strings.Contains(failed.Err.Error(), "reading them again to check the plan failed") || failed.Rotation != nil {
		t.Errorf("the unchecked client's result: %+v", failed)
	}
	if ids := srv.SecretIDs(failed.ID); len(ids) != 1 {
		t.Errorf("the unchecked client has secrets %v, want its old one only", ids)
	}
}

// otherPrefix finds another package's name where a message, or one it wraps, starts.
var otherPrefix = regexp.MustCompile(`(?:^|: |; |\n|\()(identity|hybridclients|secrets|hybridclientstest): `)

// The errors of a plan and an apply start with "desired: " once (the root package doc's
// rule), whatever they met in hybridclients or secrets, and still match what they wrap.
func TestErrorsOfPlansAndAppliesNameNoOtherPackage(t *testing.T) {
	srv, c, clk := rotationFake(t, nil)
	v := newVault()
	s := dueState(t, c, clk, v, 2, SecretPolicy{Lifetime: 90 * day})
	s.Clients = append(s.Clients, webApp(idC, "New"))
	remove := srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpListSecrets, Status: 403, Times: 1})
	p, err := Diff(context.Background(), c, s, PlanOptions{})
	remove()
	if err != nil {
		t.Fatal(err)
	}
	var finding string
	for _, ch := range p.Changes {
		finding += ch.Finding
	}
	if finding == "" || otherPrefix.MatchString(finding) {
		t.Errorf("the finding of an unreadable client: %q", finding)
	}
	// The create is refused; the rotation's Store fails.
	srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpClientExists, Status: 403})
	v.fail = func(string) error { return errors.New("the vault is sealed") }
	applied, err := applyOnClock(t, clk, c, p, ApplyOptions{Store: v.Store})
	if err == nil || !strings.HasPrefix(err.Error(), "desired: ") || otherPrefix.MatchString(err.Error()) {
		t.Errorf("err = %v", err)
	}
	if !errors.Is(err, identity.ErrForbidden) {
		t.Errorf("the error no longer matches what it wraps: %v", err)
	}
	for _, r := range applied.Failed() {
		if otherPrefix.MatchString(r.Err.Error()) {
			t.Errorf("%s %s: %v", r.Action, r.Name, r.Err)
		}
	}
}

// A disabled client is never due, by one rule that the tenant-wide scans and a desired
// state's plans both take: the same clients, due by their secrets, enabled or not, are
// rotated by both or by neither, and the scan says why not in the rule's words.
func TestScansAndPlansAgreeThatADisabledClientIsNeverDue(t *testing.T) {
	_, c, clk := rotationFake(t, nil)
	v := newVault()
	policy := SecretPolicy{Lifetime: 90 * day}
	s := dueState(t, c, clk, v, 2, policy) // both due now
	ctx := context.Background()
	disabled := s.Clients[1].ID
	if _, err := c.Update(ctx, disabled, hybridclients.UpdateRequest{Enabled: identity.Ptr(false)}); err != nil {
		t.Fatal(err)
	}
	s.Clients[1].Enabled = identity.Ptr(false)
	p, err := Diff(ctx, c, s, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	planned := map[string]bool{}
	for _, ch := range p.Changes {
		planned[ch.ID] = ch.rotation() != nil
	}
	scanned := map[string]bool{}
	for r, err := range hybridclients.PlanRotations(ctx, c, func(hybridclients.HybridClient) (secrets.Policy, bool) { return policy.Policy(), true }, hybridclients.ScanOptions{}) {
		if err != nil || r.Err != nil {
			t.Fatal(err, r.Err)
		}
		scanned[r.Client.ID] = r.Value.Rotates()
		if why, never := rules.NeverDue(r.Client.Enabled); never && r.Value.Reason != why {
			t.Errorf("the scan's reason for disabled client %s is %q, not the rule's %q", r.Client.ID, r.Value.Reason, why)
		}
	}
	if want := map[string]bool{s.Clients[0].ID: true, disabled: false}; !maps.Equal(planned, want) || !maps.Equal(scanned, want) {
		t.Errorf("rotated by the plan %v, by the scan %v; want %v", planned, scanned, want)
	}
}

// A rotation whose new secret was proven but whose full expiry could not be confirmed (the
// PUT's answers cut after the service committed it) and whose delete then failed leaves
// a secret nobody holds, with the expiry the service has, not the one asked at the add:
// the record keeps it as read, so the next apply deletes it and nothing is left unheld.
func TestApplyRecordsAnUnheldRotatedSecretWithTheExpiryTheServiceHasAndDeletesItNextTime(t *testing.T) {
	srv, c, clk := rotationFake(t, nil)
	v := newVault()
	s := dueState(t, c, clk, v, 1, SecretPolicy{Lifetime: 90 * day})
	id := s.Clients[0].ID
	removePut := srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpUpdateSecret, CutAfterCommit: true})
	removeDel := srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpDeleteSecret, Status: 403})
	p, err := Diff(context.Background(), c, s, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	applied, err := applyOnClock(t, clk, c, p, ApplyOptions{Store: v.Store})
	removePut()
	removeDel()
	if err == nil || len(applied.Record.Pending) != 1 || len(applied.Record.Pending[0].Orphans) != 1 {
		t.Fatalf("err = %v; record %+v", err, applied.Record)
	}
	p, err = Diff(context.Background(), c, s, PlanOptions{Record: applied.Record})
	if err != nil {
		t.Fatal(err)
	}
	applied, err = applyOnClock(t, clk, c, p, ApplyOptions{Store: v.Store, Record: applied.Record})
	if err != nil || len(applied.Record.Pending) != 0 {
		t.Fatalf("err = %v; record %+v; results %+v", err, applied.Record, applied.Results)
	}
	held := v.held(id)
	for _, sid := range srv.SecretIDs(id) {
		if !slices.Contains(held, sid) {
			t.Errorf("secret %d is held by no store (held: %v)", sid, held)
		}
	}
}
