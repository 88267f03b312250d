package desired

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// Ids of the tampering tests' clients beyond idA, idB and idC.
const (
	idKept      = "3f2c4e1a-1111-4222-8333-444455556669"
	idAdopted   = "3f2c4e1a-1111-4222-8333-44445555666a"
	idUnmanaged = "3f2c4e1a-1111-4222-8333-44445555666b"
)

// tamperRig is a tenant on the fake with clients of every kind a plan can meet: A (to
// update), B (as wanted), Kept (recorded, no longer wanted: kept, as deleting was not
// chosen), Adopted (in the State, never recorded), Unmanaged (neither), and the plan
// of it, written as JSON.
type tamperRig struct {
	srv    *hybridclientstest.Server
	c      *hybridclients.Client
	vault  *vault
	state  State
	record Record
	plan   *Plan
	file   []byte
}

func newTamperRig(t *testing.T) *tamperRig {
	t.Helper()
	srv, c := fake(t, nil)
	ctx := context.Background()
	v := newVault()
	first := State{Clients: []Client{webApp(idA, "Billing"), webApp(idB, "Reports"), webApp(idKept, "Kept")}}
	_, applied, err := planAndApply(t, c, first, PlanOptions{}, ApplyOptions{Store: v.Store})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{idAdopted, idUnmanaged} {
		if _, err := c.Create(ctx, hybridclients.CreateRequest{ID: id, Name: "made by hand " + id[len(id)-1:], RedirectURIs: []string{"https://hand.example.com/cb"}}); err != nil {
			t.Fatal(err)
		}
	}
	adopted := webApp(idAdopted, "made by hand a")
	adopted.RedirectURIs = []string{"https://hand.example.com/cb"}
	s := State{Clients: []Client{webApp(idA, "Billing portal"), webApp(idB, "Reports"), adopted}}
	p, err := Diff(ctx, c, s, PlanOptions{Record: applied.Record})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Action{idA: ActionUpdate, idB: ActionNone, idAdopted: ActionNone, idKept: ActionKeep}
	for _, ch := range p.Changes {
		if want[ch.ID] != ch.Action {
			t.Fatalf("the plan does not have the changes the test tampers with:\n%s", textOf(t, p))
		}
	}
	return &tamperRig{srv: srv, c: c, vault: v, state: s, record: applied.Record, plan: p, file: jsonOf(t, p)}
}

// edit returns the plan file with f applied to its JSON.
func (r *tamperRig) edit(t *testing.T, f func(plan map[string]any)) []byte {
	t.Helper()
	var plan map[string]any
	if err := json.Unmarshal(r.file, &plan); err != nil {
		t.Fatal(err)
	}
	f(plan)
	out, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// change returns the change of the plan file for id.
func change(t *testing.T, plan map[string]any, id string) map[string]any {
	t.Helper()
	for _, ch := range plan["changes"].([]any) {
		if m := ch.(map[string]any); m["id"] == id {
			return m
		}
	}
	t.Fatalf("no change for %s in the plan", id)
	return nil
}

// unchanged fails the test unless every client of the rig is still there, and nothing
// was deleted or written.
func (r *tamperRig) unchanged(t *testing.T, what string) {
	t.Helper()
	var ids []string
	for _, cr := range r.srv.Clients() {
		ids = append(ids, cr.ID)
	}
	slices.Sort(ids)
	want := []string{idA, idB, idKept, idAdopted, idUnmanaged}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("%s: the tenant's clients are %v, want %v", what, ids, want)
	}
	st := r.srv.Stats().Requests
	if n := st[hybridclientstest.OpDeleteClient] + st[hybridclientstest.OpDeleteSecret] + st[hybridclientstest.OpUpdateClient]; n != 0 {
		t.Errorf("%s: %d deletes or updates sent", what, n)
	}
}

// A plan file edited by hand to delete, or to do anything else than Diff planned, is
// refused by ReadPlan (its fingerprint covers what each change does, as well as the
// clients as read), and had it been read, by Apply: nothing is deleted.
func TestAnEditedPlanFileIsRefusedAndDeletesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, plan map[string]any)
	}{
		{"an update turned into a delete", func(t *testing.T, plan map[string]any) { change(t, plan, idA)["action"] = "delete" }},
		{"a no-change turned into a delete", func(t *testing.T, plan map[string]any) { change(t, plan, idB)["action"] = "delete" }},
		{"a keep turned into a delete (deleting was not chosen)", func(t *testing.T, plan map[string]any) { change(t, plan, idKept)["action"] = "delete" }},
		{"an adopted client's no-change turned into a delete", func(t *testing.T, plan map[string]any) { change(t, plan, idAdopted)["action"] = "delete" }},
		{"a delete of an unmanaged client added", func(t *testing.T, plan map[string]any) {
			plan["changes"] = append(plan["changes"].([]any), map[string]any{"action": "delete", "id": idUnmanaged, "name": "x", "why": "removed in the desired state",
				"current": map[string]any{"id": idUnmanaged, "name": "made by hand b", "redirectURIs": []any{"https://hand.example.com/cb"}}})
		}},
		{"a delete of an unmanaged client added without its settings", func(t *testing.T, plan map[string]any) {
			plan["changes"] = append(plan["changes"].([]any), map[string]any{"action": "delete", "id": idUnmanaged, "name": "x", "current": nil})
		}},
		{"a no-change's id pointed at an unmanaged client", func(t *testing.T, plan map[string]any) {
			ch := change(t, plan, idB)
			ch["id"], ch["action"] = idUnmanaged, "delete"
		}},
		{"secrets to delete added to an update", func(t *testing.T, plan map[string]any) {
			change(t, plan, idA)["secret"] = map[string]any{"delete": []any{1}}
		}},
		{"a wanted setting changed", func(t *testing.T, plan map[string]any) {
			change(t, plan, idA)["desired"].(map[string]any)["redirectURIs"] = []any{"https://attacker.example.com/cb"}
		}},
		{"an id forgotten that exists", func(t *testing.T, plan map[string]any) { plan["forget"] = []any{idUnmanaged} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTamperRig(t)
			edited := r.edit(t, func(plan map[string]any) { tc.edit(t, plan) })
			p, err := ReadPlan(bytes.NewReader(edited))
			if err == nil {
				// Read all the same: Apply must refuse it, before any write.
				_, err = Apply(context.Background(), r.c, p, ApplyOptions{Store: r.vault.Store, Record: r.record, Removed: r.state.Removed})
				if err == nil {
					t.Fatalf("the edited plan was read and applied:\n%s", edited)
				}
			}
			if !strings.HasPrefix(err.Error(), "desired: ") || !strings.Contains(err.Error(), "altered") {
				t.Errorf("err = %v, want one saying that the plan was altered", err)
			}
			r.unchanged(t, tc.name)
		})
	}
	// The plan as written applies.
	r := newTamperRig(t)
	p, err := ReadPlan(bytes.NewReader(r.file))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(context.Background(), r.c, p, ApplyOptions{Store: r.vault.Store, Record: r.record}); err != nil {
		t.Fatal(err)
	}
}

// The fingerprint is no secret: one who edits a plan can compute it again. Apply checks
// each delete itself, against what the caller holds: a plan deletes only a client shown
// to be managed, recorded (ApplyOptions.Record) or removed in the desired state
// (ApplyOptions.Removed).
func TestApplyDeletesOnlyClientsShownToBeManagedWhateverThePlanSays(t *testing.T) {
	unmanagedCurrent := &Client{ID: idUnmanaged, Name: "made by hand b", Enabled: ptr(true), AccessTokenLifetime: hybridclients.DefaultAccessTokenLifetime,
		RedirectURIs: []string{"https://hand.example.com/cb"}, PostLogoutRedirectURIs: []string{}, Tags: []string{}}
	for _, tc := range []struct {
		name string
		edit func(p *Plan)
	}{
		{"an adopted client's no-change turned into a delete", func(p *Plan) {
			for i := range p.Changes {
				if p.Changes[i].ID == idAdopted {
					p.Changes[i].Action, p.Changes[i].Desired = ActionDelete, nil
				}
			}
		}},
		{"a delete of an unmanaged client added", func(p *Plan) {
			p.Changes = append(p.Changes, Change{Action: ActionDelete, ID: idUnmanaged, Name: "x", Why: "removed in the desired state", Current: unmanagedCurrent})
		}},
		{"secrets no record names to delete", func(p *Plan) {
			for i := range p.Changes {
				if p.Changes[i].ID == idA {
					p.Changes[i].Secret = &SecretChange{Delete: []int{1}}
				}
			}
		}},
		{"a client twice, wanted and deleted", func(p *Plan) {
			p.Changes = append(p.Changes, Change{Action: ActionDelete, ID: idB, Name: "x", Current: p.Changes[1].Current})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTamperRig(t)
			back, err := ReadPlan(bytes.NewReader(r.file))
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(back)
			back.Fingerprint = back.fingerprint()
			var written bytes.Buffer
			if err := back.WriteJSON(&written); err != nil {
				t.Fatal(err)
			}
			p, err := ReadPlan(&written)
			if err == nil {
				_, err = Apply(context.Background(), r.c, p, ApplyOptions{Store: r.vault.Store, Record: r.record, Removed: r.state.Removed})
			}
			if err == nil {
				t.Fatal("applied")
			}
			if !strings.HasPrefix(err.Error(), "desired: ") || !errorsIsInvalid(err) {
				t.Errorf("err = %v, want a validation error", err)
			}
			r.unchanged(t, tc.name)
		})
	}
}

func errorsIsInvalid(err error) bool { return len(identity.ValidationErrors(err)) > 0 }
