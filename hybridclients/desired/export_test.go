package desired

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// variedTenant fills the fake with n clients made with every setting in varied values,
// and m more seeded the fake's way.
func variedTenant(t *testing.T, srv *hybridclientstest.Server, c *hybridclients.Client, rng *rand.Rand, n, m int) {
	t.Helper()
	ctx := context.Background()
	s := randomState(rng, n)
	for _, dc := range s.Clients {
		req := dc.createRequest(time.Now())
		req.ID = "" // the SDK picks the ids, as for clients made before any desired state
		if _, err := c.Create(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.SeedClients(m); err != nil {
		t.Fatal(err)
	}
}

// exportCycle exports the tenant, writes the state in format f, reads it back and plans
// it: the plan an adopter makes right after exporting.
func exportCycle(t *testing.T, c *hybridclients.Client, f Format) *Plan {
	t.Helper()
	ctx := context.Background()
	ex, err := Export(ctx, c, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Skipped) != 0 {
		t.Fatalf("skipped: %+v", ex.Skipped)
	}
	data, err := Marshal(ex.State, f)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(data, f)
	if err != nil {
		t.Fatalf("the export does not read back: %v\n%s", err, data)
	}
	p, err := Diff(ctx, c, *s, PlanOptions{Unmanaged: true})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Export, then plan: no change, whatever the clients' settings, in YAML and JSON. The way
// to adopt a tenant.
func TestExportThenPlanShowsNoChange(t *testing.T) {
	changes := 0
	for seed := range uint64(4) {
		srv, c := fake(t, nil)
		variedTenant(t, srv, c, rand.New(rand.NewPCG(seed, 99)), 40, 10)
		for _, f := range []Format{YAML, JSON} {
			p := exportCycle(t, c, f)
			if p.HasChanges() || len(p.Unmanaged) != 0 {
				var b bytes.Buffer
				_ = p.WriteText(&b)
				t.Errorf("seed %d, %s: the plan after an export:\n%s", seed, f, b.String())
			}
			if p.Count(ActionNone) != 50 {
				t.Errorf("seed %d, %s: %d clients unchanged, want 50", seed, f, p.Count(ActionNone))
			}
			changes += p.Count(ActionCreate) + p.Count(ActionUpdate) + p.Count(ActionDelete)
		}
	}
	fmt.Printf("figure: as code: export then plan changes: %d\n", changes)
}

// A client whose settings the SDK would refuse to send is left out of the export, named
// with the rules it breaks: a plan never touches it.
func TestExportSkipsAClientTheSDKWouldRefuse(t *testing.T) {
	srv, c := fake(t, nil)
	ctx := context.Background()
	if _, err := c.Create(ctx, hybridclients.CreateRequest{Name: "Fine", RedirectURIs: []string{"https://fine.example.com/cb"}}); err != nil {
		t.Fatal(err)
	}
	// Made around the SDK: the service keeps a fragment, which the SDK refuses.
	body := `{"Id":"` + idB + `","Name":"Odd","RedirectUris":["https://odd.example.com/cb#frag"],"SecretExpirationDate":"2099-01-01T00:00:00Z"}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/Tenants/"+srv.TenantID+"/HybridClients", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+srv.IssueToken(hybridclientstest.RoleAdmin).Reveal())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("raw create: %s", resp.Status)
	}
	ex, err := Export(ctx, c, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.State.Clients) != 1 || ex.State.Clients[0].Name != "Fine" {
		t.Errorf("exported %+v", ex.State.Clients)
	}
	if len(ex.Skipped) != 1 || ex.Skipped[0].ID != idB || !strings.Contains(ex.Skipped[0].Err.Error(), "RedirectURIs[0]") {
		t.Fatalf("skipped %+v", ex.Skipped)
	}
	if ves := identity.ValidationErrors(ex.Skipped[0].Err); len(ves) != 1 || !strings.Contains(ves[0].Rule, "fragment") {
		t.Errorf("the skipped client's rules: %v", ex.Skipped[0].Err)
	}
}

// Export asks the service for the chosen clients only, and writes tags only for clients
// that have some, leaving the others' tags unmanaged.
func TestExportAsksForTheChosenClientsAndWritesTagsOnlyWhereSet(t *testing.T) {
	rig, c := rigClient(t)
	cannedTenant(t, rig, goldenTenant[:2]...)
	ex, err := Export(context.Background(), c, ExportOptions{IDs: []string{idUpdate, idSame}})
	if err != nil {
		t.Fatal(err)
	}
	if calls := rig.Calls(); len(calls) != 1 || !strings.HasSuffix(calls[0], "&id="+idUpdate+"&id="+idSame) || strings.Contains(calls[0], "skip=") {
		t.Errorf("requests %v", calls)
	}
	want := []Client{
		{ID: idSame, Name: "Intranet", Enabled: ptr(true), AccessTokenLifetime: time.Hour, Tags: []string{"internal"},
			RedirectURIs: []string{"https://a.example.com/cb", "https://b.example.com/cb"}},
		{ID: idUpdate, Name: "Reports", Enabled: ptr(true), AccessTokenLifetime: time.Hour, Tags: []string{"reports"},
			RedirectURIs: []string{"https://reports.example.com/cb"}, PostLogoutRedirectURIs: []string{}},
	}
	if diff := cmp.Diff(want, ex.State.Clients); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}

	rig.ClearCalls()
	cannedTenant(t, rig, `{"Id":"`+idA+`","Name":"No tags","Enabled":true,"AccessTokenLifetime":60,"RedirectUris":["https://a/"]}`)
	ex, err = Export(context.Background(), c, ExportOptions{Tags: []string{"prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if calls := rig.Calls(); len(calls) != 1 || !strings.Contains(calls[0], "tag=prod") {
		t.Errorf("requests %v", calls)
	}
	if ex.State.Clients[0].Tags != nil {
		t.Errorf("a client without tags exported with tags %v", ex.State.Clients[0].Tags)
	}
}
