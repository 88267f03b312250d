package desired

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// One desired-state file, two tenants (dev and prod, the same client ids): a record is of
// the tenant it was made on. Diff and Apply refuse, before any request, a record of
// another tenant, naming both, so that dev's pending orphan (secret ids are small numbers
// per client) can never be planned or deleted on prod's client of the same id, where it
// is prod's working secret; and a record that names no tenant is used for none.
func TestARecordOfOneTenantIsRefusedOnAnother(t *testing.T) {
	ctx := context.Background()
	prodSrv, prod := fake(t, nil)
	devSrv, dev := fake(t, nil)
	s := State{Clients: []Client{webApp(idA, "A")}}

	prodVault := newVault()
	_, prodApplied, err := planAndApply(t, prod, s, PlanOptions{}, ApplyOptions{Store: prodVault.Store})
	if err != nil {
		t.Fatal(err)
	}
	prodSecret, _ := prodVault.last(idA)
	if got := prodApplied.Record; got.TenantID != prodSrv.TenantID || got.Resource != strings.ToLower(prodSrv.Config().Resource) {
		t.Fatalf("the record names tenant %q at %q, want prod's, %s at %s", got.TenantID, got.Resource, prodSrv.TenantID, prodSrv.Config().Resource)
	}

	// Dev, with prod's record: refused, nothing sent.
	before := devSrv.Stats().Requests[hybridclientstest.OpListClients]
	_, err = Diff(ctx, dev, s, PlanOptions{Record: prodApplied.Record})
	wantTenants(t, "Diff on dev with prod's record", err, "PlanOptions.Record", devSrv, prodSrv)
	p, err := Diff(ctx, dev, s, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Apply(ctx, dev, p, ApplyOptions{Store: newVault().Store, Record: prodApplied.Record})
	wantTenants(t, "Apply on dev with prod's record", err, "ApplyOptions.Record", devSrv, prodSrv)
	if n := devSrv.Stats().Requests[hybridclientstest.OpListClients] - before; n != 1 { // the Diff without a record
		t.Errorf("%d list requests on dev, want 1: a refused record costs none", n)
	}

	// Dev's own apply leaves a pending orphan: its vault fails, and the client cannot be
	// deleted again.
	devVault := newVault()
	devVault.fail = func(string) error { return errors.New("dev vault sealed") }
	remove := devSrv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpDeleteClient, Status: 403})
	_, devApplied, _ := planAndApply(t, dev, s, PlanOptions{}, ApplyOptions{Store: devVault.Store})
	remove()
	if got := devApplied.Record; got.TenantID != devSrv.TenantID || len(got.Pending) != 1 || len(got.Pending[0].Orphans) != 1 || got.Pending[0].Orphans[0].ID != prodSecret.ID {
		t.Fatalf("dev's record: %+v; want dev's tenant and its orphan secret %d", got, prodSecret.ID)
	}

	// Prod, with dev's record (the same file kept for both): refused; prod's secret works.
	_, err = Diff(ctx, prod, s, PlanOptions{Record: devApplied.Record})
	wantTenants(t, "Diff on prod with dev's record", err, "PlanOptions.Record", prodSrv, devSrv)
	p, err = Diff(ctx, prod, s, PlanOptions{Record: prodApplied.Record})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Apply(ctx, prod, p, ApplyOptions{Store: prodVault.Store, Record: devApplied.Record})
	wantTenants(t, "Apply on prod with dev's record", err, "ApplyOptions.Record", prodSrv, devSrv)
	if !prodSrv.CheckSecret(idA, prodSecret.Value) || len(prodSrv.SecretIDs(idA)) != 1 {
		t.Errorf("prod's secret %d no longer works, or others were added: prod secrets now %v", prodSecret.ID, prodSrv.SecretIDs(idA))
	}

	// A record with ids that names no tenant (made by hand, or of an older SDK) is used
	// for none.
	anonymous := devApplied.Record
	anonymous.TenantID, anonymous.Resource = "", ""
	_, err = Diff(ctx, dev, s, PlanOptions{Record: anonymous})
	if !errors.Is(err, identity.ErrInvalidInput) || !strings.Contains(err.Error(), "PlanOptions.Record.TenantID: must name the tenant the record is of") {
		t.Errorf("a record that names no tenant: %v", err)
	}
}

// wantTenants fails the test unless err refuses the record of other on srv's Client as
// field, naming both tenants.
func wantTenants(t *testing.T, what string, err error, field string, srv, other *hybridclientstest.Server) {
	t.Helper()
	if !errors.Is(err, identity.ErrInvalidInput) {
		t.Fatalf("%s: err = %v, want one matching ErrInvalidInput", what, err)
	}
	for _, want := range []string{field + ": must be of the Client's tenant (tenant " + srv.TenantID + " at " + srv.Config().Resource + ")",
		"tenant " + other.TenantID + " at " + other.Config().Resource} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: the error lacks %q: %v", what, want, err)
		}
	}
}

// A pending orphan is deleted only while the client's secret of its id still has the
// description and expiry recorded when it was added: one that no longer has them is not
// the secret an apply made (a later secret of the same id, or one someone took over and
// described) and is left, the result's Note saying so; the new secret is added and stored
// all the same.
func TestApplyDeletesAnOrphanOnlyWhileItsDescriptionAndExpiryStillMatch(t *testing.T) {
	ctx := context.Background()
	srv, c := fake(t, nil)
	s := State{Clients: []Client{webApp(idA, "A")}}
	v := newVault()
	v.fail = func(string) error { return errors.New("the vault is sealed") }
	remove := srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpDeleteClient, Status: 403})
	_, applied, _ := planAndApply(t, c, s, PlanOptions{}, ApplyOptions{Store: v.Store})
	remove()
	v.fail = nil
	if len(applied.Record.Pending) != 1 || len(applied.Record.Pending[0].Orphans) != 1 {
		t.Fatalf("record %+v, want one pending orphan", applied.Record)
	}
	orphan := applied.Record.Pending[0].Orphans[0]
	if orphan.Description == "" || orphan.Expiry.IsZero() {
		t.Fatalf("the orphan is recorded without its description and expiry: %+v", orphan)
	}

	// Someone takes the secret over and describes it: it is no longer the orphan.
	taken := "kept by the operations team"
	if _, err := c.Secrets().Update(ctx, idA, orphan.ID, secrets.UpdateRequest{Description: &taken}); err != nil {
		t.Fatal(err)
	}
	p, err := Diff(ctx, c, s, PlanOptions{Record: applied.Record})
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	applied, err = Apply(ctx, c, p, ApplyOptions{Store: v.Store, Record: applied.Record, OnResult: func(r Result) { notes = append(notes, r.Note) }})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := v.last(idA)
	if ids := srv.SecretIDs(idA); len(ids) != 2 || ids[0] != orphan.ID || ids[1] != stored.ID || !srv.CheckSecret(idA, stored.Value) {
		t.Errorf("secrets %v, want the one taken over (%d) left and the new one (%d) stored", ids, orphan.ID, stored.ID)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "not those an earlier apply made") {
		t.Errorf("notes %q, want one saying that the secret left is not the orphan", notes)
	}
	if len(applied.Record.Pending) != 0 {
		t.Errorf("still pending: %+v", applied.Record.Pending)
	}
}

// A secret that a lost answer left (a create committed but cut, whose first secret could
// not be deleted again) is recorded with the description and expiry it has on the
// service, read back when the *identity.OutcomeError names only its id, so that the next
// apply can check it before deleting it, and does.
func TestAnOrphanOfALostAnswerIsRecordedWithItsDescriptionAndExpiry(t *testing.T) {
	ctx := context.Background()
	srv, c := fake(t, nil)
	s := State{Clients: []Client{webApp(idA, "A")}}
	srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpCreateClient, CutAfterCommit: true, Times: 1})
	remove := srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpDeleteSecret, Status: 403})
	v := newVault()
	_, applied, err := planAndApply(t, c, s, PlanOptions{}, ApplyOptions{Store: v.Store})
	remove()
	var oe *identity.OutcomeError
	if !errors.As(err, &oe) || len(oe.Orphans) != 1 {
		t.Fatalf("err = %v, want an *identity.OutcomeError naming one orphan", err)
	}
	page, err := c.Secrets().List(ctx, idA, secrets.ListOptions{})
	if err != nil || len(page.Secrets) != 1 {
		t.Fatalf("secrets %+v, %v", page, err)
	}
	want := page.Secrets[0]
	if p := applied.Record.Pending; len(p) != 1 || len(p[0].Orphans) != 1 || !sameSecret(p[0].Orphans[0], want) || want.Description == "" {
		t.Fatalf("pending %+v, want secret %+v with its description and expiry", p, want)
	}
	p, err := Diff(ctx, c, s, PlanOptions{Record: applied.Record})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, c, p, ApplyOptions{Store: v.Store, Record: applied.Record}); err != nil {
		t.Fatal(err)
	}
	stored, _ := v.last(idA)
	if ids := srv.SecretIDs(idA); len(ids) != 1 || ids[0] != stored.ID {
		t.Errorf("secrets %v, want only the stored one, %d: the orphan deleted", ids, stored.ID)
	}
}
