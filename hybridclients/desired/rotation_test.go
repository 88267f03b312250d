package desired

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/internal/harness/mocktest"
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
	if text := string(textOf(t, p)); !strings.Contains(text, `! check client "Store"`) || !strings.Contains(text, "1 client to check (!)") {
		t.Errorf("the plan does not show the unreadable client:\n%s", text)
	}
}

// rotationFake is the fake service with a clock the test moves, and an SDK client on it.
func rotationFake(t *testing.T, opts *hybridclientstest.Options) (*hybridclientstest.Server, *hybridclients.Client, *hybridclientstest.Clock) {
	t.Helper()
	if opts == nil {
		opts = &hybridclientstest.Options{}
	}
	clk := hybridclientstest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	opts.Clock = clk
	srv, c := fake(t, opts)
	return srv, c, clk
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
