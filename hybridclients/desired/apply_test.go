package desired

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/internal/harness/mocktest"
	"github.com/ocs-go/identity/secrets"
)

// webApp is a valid client of id with the given name.
func webApp(id, name string) Client {
	return Client{ID: id, Name: name, RedirectURIs: []string{"https://" + strings.ToLower(strings.ReplaceAll(name, " ", "-")) + ".example.com/cb"}}
}

// planAndApply makes a plan of s and applies it, failing the test on an error of Diff.
func planAndApply(t *testing.T, c *hybridclients.Client, s State, popts PlanOptions, aopts ApplyOptions) (*Plan, *Applied, error) {
	t.Helper()
	p, err := Diff(context.Background(), c, s, popts)
	if err != nil {
		t.Fatal(err)
	}
	aopts.Record, aopts.Removed = popts.Record, s.Removed
	applied, err := Apply(context.Background(), c, p, aopts)
	return p, applied, err
}

// On the wire: a create sends the caller's id (after a HEAD that finds it free), an
// update only the settings that differ, a delete only the client the plan names.
func TestApplySendsTheCallersIDOnlyChangedSettingsAndOnlyPlannedDeletes(t *testing.T) {
	rig, c := rigClient(t)
	cannedTenant(t, rig,
		`{"Id":"`+idUpdate+`","Name":"Reports","Enabled":true,"AccessTokenLifetime":3600,"RedirectUris":["https://reports.example.com/cb"]}`,
		`{"Id":"`+idRemoved+`","Name":"Old","Enabled":true,"AccessTokenLifetime":3600,"RedirectUris":["https://old.example.com/cb"]}`,
		`{"Id":"`+idOthers+`","Name":"Not ours","Enabled":true,"AccessTokenLifetime":3600,"RedirectUris":["https://x.example.com/cb"]}`)
	rig.On(http.MethodHead, mocktest.TenantURL+"/HybridClients/"+idCreate, mocktest.Want{}, mocktest.Reply{Status: 404})
	rig.OnFunc(http.MethodPost, mocktest.TenantURL+"/HybridClients", func(r *http.Request) mocktest.Reply {
		return mocktest.Reply{Status: 201, Body: `{"Secret":"s3cr3t-value-0123456789","Id":1,"Description":"d","ExpirationDate":"2030-01-01T00:00:00Z",
			"Client":{"Id":"` + idCreate + `","Name":"Billing portal","Enabled":true,"AccessTokenLifetime":3600,"RedirectUris":["https://billing-portal.example.com/cb"]}}`}
	})
	rig.On(http.MethodPut, mocktest.TenantURL+"/HybridClients/"+idUpdate, mocktest.Want{JSONBody: `{"Name":"Reports web app","AccessTokenLifetime":1800}`},
		mocktest.Reply{Status: 200, Body: `{"Id":"` + idUpdate + `","Name":"Reports web app"}`})
	rig.On(http.MethodDelete, mocktest.TenantURL+"/HybridClients/"+idRemoved, mocktest.Want{}, mocktest.Reply{Status: 204})

	want := Client{ID: idUpdate, Name: "Reports web app", AccessTokenLifetime: 30 * time.Minute, RedirectURIs: []string{"https://reports.example.com/cb"}}
	s := State{Clients: []Client{webApp(idCreate, "Billing portal"), want}, Removed: []string{idRemoved}}
	v := newVault()
	_, applied, err := planAndApply(t, c, s, PlanOptions{Delete: true}, ApplyOptions{Store: v.Store})
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	for _, call := range rig.Calls() {
		if !strings.HasPrefix(call, "GET") {
			calls = append(calls, call)
		}
	}
	slices.Sort(calls)
	if len(calls) != 4 || !strings.HasPrefix(calls[0], "DELETE HybridClients/"+idRemoved) ||
		calls[1] != "HEAD HybridClients/"+idCreate || !strings.HasPrefix(calls[2], `POST HybridClients {"Id":"`+idCreate+`","Name":"Billing portal"`) ||
		!strings.HasPrefix(calls[3], "PUT HybridClients/"+idUpdate) {
		t.Errorf("writes:\n%s", strings.Join(calls, "\n"))
	}
	if got, ok := v.last(idCreate); !ok || got.Value.Reveal() != "s3cr3t-value-0123456789" {
		t.Errorf("the store did not get the first secret")
	}
	if applied.Done(ActionCreate) != 1 || applied.Done(ActionUpdate) != 1 || applied.Done(ActionDelete) != 1 {
		t.Errorf("results: %+v", applied.Results)
	}
	if diff := cmp.Diff([]string{idCreate, idUpdate}, applied.Record.Managed); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
}

// A plan the tenant has outgrown is refused, naming each client that changed, and
// nothing is written.
func TestApplyRefusesAStalePlanAndChangesNothing(t *testing.T) {
	srv, c := fake(t, nil)
	ctx := context.Background()
	v := newVault()
	s := State{Clients: []Client{webApp(idA, "Billing"), webApp(idB, "Reports")}}
	if _, _, err := planAndApply(t, c, s, PlanOptions{}, ApplyOptions{Store: v.Store}); err != nil {
		t.Fatal(err)
	}
	s.Clients[0].Name = "Billing portal"
	s.Clients = append(s.Clients, webApp(idC, "Intranet"))
	p, err := Diff(ctx, c, s, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Meanwhile someone renames one client, deletes another, and creates the third.
	if _, err := c.Update(ctx, idA, hybridclients.UpdateRequest{Enabled: identity.Ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, idB); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, hybridclients.CreateRequest{ID: idC, Name: "Someone's", RedirectURIs: []string{"https://s.example.com/cb"}}); err != nil {
		t.Fatal(err)
	}
	writes := func() int {
		st := srv.Stats().Requests
		return st[hybridclientstest.OpCreateClient] + st[hybridclientstest.OpUpdateClient] + st[hybridclientstest.OpDeleteClient] + st[hybridclientstest.OpAddSecret]
	}
	before := writes()
	_, err = Apply(ctx, c, p, ApplyOptions{Store: v.Store})
	var stale *StaleError
	if !errors.As(err, &stale) || !errors.Is(err, ErrStale) {
		t.Fatalf("err = %v, want a *StaleError", err)
	}
	if diff := cmp.Diff([]string{idA, idB, idC}, stale.Clients); diff != "" {
		t.Errorf("stale clients (-want +got):\n%s", diff)
	}
	for _, word := range []string{`"Billing" (` + idA + `) changed since the plan (enabled)`, idB + ") deleted since the plan", idC + ") created since the plan"} {
		if !strings.Contains(err.Error(), word) {
			t.Errorf("the error does not say %q: %v", word, err)
		}
	}
	if n := writes() - before; n != 0 {
		t.Errorf("%d writes after the plan was found stale", n)
	}
}

// A plan made for one tenant is refused for another.
func TestApplyRefusesAPlanMadeForAnotherTenant(t *testing.T) {
	rig, c := rigClient(t)
	cannedTenant(t, rig)
	p, err := Diff(context.Background(), c, State{Clients: []Client{webApp(idA, "A")}}, PlanOptions{Tenant: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	rig.ClearCalls()
	_, err = Apply(context.Background(), c, p, ApplyOptions{Tenant: "prod", Store: newVault().Store})
	mustErr(t, "Apply to prod", err, identity.ErrInvalidInput)
	if !strings.Contains(err.Error(), "another tenant") || rig.Total() != 0 && len(rig.Calls()) != 0 {
		t.Errorf("err = %v, calls %v", err, rig.Calls())
	}
}

// A plan that adds secrets is refused without a Store, before any request.
func TestApplyRefusesAPlanThatAddsSecretsWithoutAStore(t *testing.T) {
	rig, c := rigClient(t)
	cannedTenant(t, rig)
	p, err := Diff(context.Background(), c, State{Clients: []Client{webApp(idA, "A")}}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rig.ClearCalls()
	_, err = Apply(context.Background(), c, p, ApplyOptions{})
	mustErr(t, "Apply without Store", err, identity.ErrInvalidInput)
	if len(rig.Calls()) != 0 {
		t.Errorf("requests sent: %v", rig.Calls())
	}
}

// When the Store fails, the client just created is deleted again: nothing is left that
// nobody holds a secret of, and the next apply creates it afresh.
func TestApplyDeletesANewClientWhoseSecretCouldNotBeStored(t *testing.T) {
	srv, c := fake(t, nil)
	v := newVault()
	full := errors.New("the vault is full")
	v.fail = func(id string) error {
		if id == idB {
			return full
		}
		return nil
	}
	s := State{Clients: []Client{webApp(idA, "A"), webApp(idB, "B")}}
	_, applied, err := planAndApply(t, c, s, PlanOptions{}, ApplyOptions{Store: v.Store})
	if !errors.Is(err, full) || !strings.Contains(err.Error(), "deleted again and nothing is left") {
		t.Fatalf("err = %v", err)
	}
	if srv.SecretIDs(idB) != nil {
		t.Error("the client whose secret could not be stored still exists")
	}
	if diff := cmp.Diff([]string{idA}, applied.Record.Managed); diff != "" || len(applied.Record.Pending) != 0 {
		t.Errorf("record %+v (-want +got managed):\n%s", applied.Record, diff)
	}
	v.fail = nil
	p, applied, err := planAndApply(t, c, s, PlanOptions{Record: applied.Record}, ApplyOptions{Store: v.Store})
	if err != nil || p.Count(ActionCreate) != 1 || applied.Done(ActionCreate) != 1 {
		t.Fatalf("the second apply: %v, %+v", err, p.Changes)
	}
	if got, _ := v.last(idB); !srv.CheckSecret(idB, got.Value) {
		t.Error("the stored secret does not authenticate the client")
	}
}

// When the Store fails and the client cannot be deleted again either, the client is
// recorded as pending; the next plan deletes the secret nobody holds and adds a new one,
// which goes to the Store.
func TestApplyReplacesAFirstSecretThatNoStoreHolds(t *testing.T) {
	srv, c := fake(t, nil)
	ctx := context.Background()
	v := newVault()
	v.fail = func(string) error { return errors.New("the vault is sealed") }
	remove := srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpDeleteClient, Status: 403})
	s := State{Clients: []Client{webApp(idA, "A")}}
	_, applied, err := planAndApply(t, c, s, PlanOptions{}, ApplyOptions{Store: v.Store})
	remove()
	if err == nil || !strings.Contains(err.Error(), "the next apply deletes that secret") {
		t.Fatalf("err = %v", err)
	}
	first := srv.SecretIDs(idA)
	page, err := c.Secrets().List(ctx, idA, secrets.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := recordOf(c, Record{Managed: []string{idA}, Pending: []Pending{{ClientID: idA, Orphans: page.Secrets}}})
	if diff := cmp.Diff(want, applied.Record, sameExpiry); diff != "" || len(first) != 1 || applied.Record.TenantID != srv.TenantID {
		t.Fatalf("record (-want +got):\n%s", diff)
	}

	v.fail = nil
	p, err := Diff(ctx, c, s, PlanOptions{Record: applied.Record})
	if err != nil {
		t.Fatal(err)
	}
	if ch := p.Changes[0]; ch.Action != ActionUpdate || ch.Secret == nil || !ch.Secret.Add || !slices.Equal(ch.Secret.Delete, first) {
		t.Fatalf("the plan does not replace the secret: %+v", ch)
	}
	applied, err = Apply(ctx, c, p, ApplyOptions{Store: v.Store, Record: applied.Record})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := v.last(idA)
	if ids := srv.SecretIDs(idA); len(ids) != 1 || ids[0] != got.ID || !srv.CheckSecret(idA, got.Value) {
		t.Errorf("secrets %v, stored %d: want only the stored one, working", ids, got.ID)
	}
	if len(applied.Record.Pending) != 0 {
		t.Errorf("still pending: %+v", applied.Record.Pending)
	}
	if p, _ := Diff(ctx, c, s, PlanOptions{Record: applied.Record}); p.HasChanges() {
		t.Errorf("changes left: %+v", p.Changes)
	}
}

// A create whose answer is lost and cannot be settled is reported with the
// *identity.OutcomeError, nothing unproven is deleted, and the client is recorded as
// pending, so that the next apply gives it a first secret the Store holds.
func TestApplyReportsAnUnsettledCreateAndTheNextApplyFinishesIt(t *testing.T) {
	srv, c := fake(t, nil)
	ctx := context.Background()
	v := newVault()
	// The create is committed but its answer cut; every look at the secrets fails.
	srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpCreateClient, CutAfterCommit: true, Times: 1})
	removeList := srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpListSecrets, Status: 403})
	s := State{Clients: []Client{webApp(idA, "A")}}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	p, err := Diff(cctx, c, s, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	applied, err := Apply(cctx, c, p, ApplyOptions{Store: v.Store})
	removeList()
	var oe *identity.OutcomeError
	if !errors.As(err, &oe) || !oe.ClientMayExist {
		t.Fatalf("err = %v, want the create's *identity.OutcomeError", err)
	}
	if len(srv.SecretIDs(idA)) != 1 {
		t.Fatalf("secrets %v: an unproven secret was deleted, or none was made", srv.SecretIDs(idA))
	}
	if len(applied.Record.Pending) != 1 || applied.Record.Pending[0].ClientID != idA {
		t.Fatalf("record %+v, want the client pending", applied.Record)
	}
	_, applied, err = planAndApply(t, c, s, PlanOptions{Record: applied.Record}, ApplyOptions{Store: v.Store})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := v.last(idA)
	if !ok || !srv.CheckSecret(idA, got.Value) {
		t.Error("no working secret stored")
	}
	if len(applied.Record.Pending) != 0 {
		t.Errorf("still pending: %+v", applied.Record)
	}
}

// A client that someone else creates with the plan's id after the plan was checked is
// reported as stale and left alone.
func TestApplyLeavesAClientSomeoneElseCreatedMeanwhile(t *testing.T) {
	rig, c := rigClient(t)
	cannedTenant(t, rig) // the plan and its check see no client
	rig.On(http.MethodHead, mocktest.TenantURL+"/HybridClients/"+idA, mocktest.Want{}, mocktest.Reply{Status: 200})
	p, err := Diff(context.Background(), c, State{Clients: []Client{webApp(idA, "A")}}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	applied, err := Apply(context.Background(), c, p, ApplyOptions{Store: newVault().Store})
	mustErr(t, "Apply", err, ErrStale)
	mustErr(t, "Apply", err, identity.ErrConflict)
	if len(applied.Record.Managed) != 0 {
		t.Errorf("someone else's client was recorded as managed: %v", applied.Record)
	}
	for _, call := range rig.Calls() {
		if !strings.HasPrefix(call, "GET") && !strings.HasPrefix(call, "HEAD") {
			t.Errorf("a write to someone else's client: %s", call)
		}
	}
}

// Deleting a client someone already deleted is done; deleted and vanished clients leave
// the record, a kept one stays.
func TestApplyKeepsTheRecordOfWhatItManages(t *testing.T) {
	_, c := fake(t, nil)
	ctx := context.Background()
	v := newVault()
	s := State{Clients: []Client{webApp(idA, "A"), webApp(idB, "B"), webApp(idC, "C")}}
	_, applied, err := planAndApply(t, c, s, PlanOptions{}, ApplyOptions{Store: v.Store})
	if err != nil {
		t.Fatal(err)
	}
	// B is dropped from the State; C is deleted by someone else.
	s.Clients = s.Clients[:1]
	if err := c.Delete(ctx, idC); err != nil {
		t.Fatal(err)
	}
	p, kept, err := planAndApply(t, c, s, PlanOptions{Record: applied.Record}, ApplyOptions{Store: v.Store})
	if err != nil {
		t.Fatal(err)
	}
	if p.Count(ActionKeep) != 1 || !slices.Equal(p.Forget, []string{idC}) {
		t.Errorf("plan: %+v, forget %v", p.Changes, p.Forget)
	}
	if diff := cmp.Diff([]string{idA, idB}, kept.Record.Managed); diff != "" {
		t.Errorf("record without deleting (-want +got):\n%s", diff)
	}
	p, deleted, err := planAndApply(t, c, s, PlanOptions{Record: kept.Record, Delete: true}, ApplyOptions{Store: v.Store})
	if err != nil || p.Count(ActionDelete) != 1 || deleted.Done(ActionDelete) != 1 {
		t.Fatalf("deleting: %v, %+v", err, p.Changes)
	}
	if diff := cmp.Diff([]string{idA}, deleted.Record.Managed); diff != "" {
		t.Errorf("record after deleting (-want +got):\n%s", diff)
	}
	if ok, _ := c.Exists(ctx, idB); ok {
		t.Error("B still exists")
	}
}

// Under a rate limit, apply slows down instead of failing clients.
func TestApplyFollowsTheServicesRateLimit(t *testing.T) {
	srv, c := fake(t, &hybridclientstest.Options{RateLimit: 200, RateBurst: 20})
	var s State
	for i := range 120 {
		s.Clients = append(s.Clients, webApp(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), fmt.Sprintf("app %d", i)))
	}
	var order []string
	start := time.Now()
	_, applied, err := planAndApply(t, c, s, PlanOptions{}, ApplyOptions{Store: newVault().Store, Concurrency: 32,
		OnResult: func(r Result) { order = append(order, r.ID) }})
	if err != nil {
		t.Fatal(err)
	}
	if applied.Done(ActionCreate) != 120 || len(order) != 120 {
		t.Errorf("%d created, %d results reported", applied.Done(ActionCreate), len(order))
	}
	if srv.Stats().Throttled == 0 {
		t.Error("the service never throttled: the test proves nothing")
	}
	// 240 requests at 200 a second: a second or two. A rate cut to its floor by the first
	// burst took a minute.
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
	t.Logf("%d answers throttled", srv.Stats().Throttled)
}
