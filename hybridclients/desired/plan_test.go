package desired

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/harness/mocktest"
	"github.com/ocs-go/identity/secrets"
)

// Ids of the golden plan's clients.
const (
	idCreate  = "0a000000-0000-4000-8000-00000000000a"
	idUpdate  = "0b000000-0000-4000-8000-00000000000b"
	idSame    = "0c000000-0000-4000-8000-00000000000c"
	idPending = "0d000000-0000-4000-8000-00000000000d"
	idRemoved = "0e000000-0000-4000-8000-00000000000e"
	idLegacy  = "0f000000-0000-4000-8000-00000000000f"
	idGone    = "10000000-0000-4000-8000-000000000010"
	idOthers  = "11000000-0000-4000-8000-000000000011"
	idStore   = "12000000-0000-4000-8000-000000000012"
	idKiosk   = "13000000-0000-4000-8000-000000000013"
)

// goldenNow is the time the golden plans are made at, by the Config's clock.
var goldenNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixedClock is a Config clock that always reads the same time.
type fixedClock time.Time

func (c fixedClock) Now() time.Time                       { return time.Time(c) }
func (c fixedClock) After(time.Duration) <-chan time.Time { return nil }

// goldenSecrets are the secrets of the golden tenant's clients that have a policy and are
// enabled, as the service lists them: the intranet's expires within 30 days (due), the
// store's in 200 days (not due), the kiosk's never (a finding).
var goldenSecrets = map[string]string{
	idSame: `[{"Id":1,"Description":"first secret","Expires":true,"Expiration":"` + goldenNow.Add(12*24*time.Hour).Format(time.RFC3339) + `"}]`,
	idStore: `[{"Id":1,"Description":"first secret","Expires":true,"Expiration":"` + goldenNow.Add(200*24*time.Hour).Format(time.RFC3339) + `"},` +
		`{"Id":2,"Description":"old","Expires":true,"Expiration":"2026-01-01T00:00:00Z"}]`,
	idKiosk: `[{"Id":3,"Description":"kiosk","Expires":false,"Expiration":null}]`,
	// Read only when no record says its first secret is pending.
	idPending: `[{"Id":5,"Description":"first secret","Expires":true,"Expiration":"` + goldenNow.Add(300*24*time.Hour).Format(time.RFC3339) + `"}]`,
}

// goldenFile is the desired state of the golden plans.
const goldenFile = `version: 1
clients:
  - id: ` + idCreate + `
    name: Billing portal
    allowRefreshTokens: true
    redirectURIs: [https://billing.example.com/signin-oidc]
    postLogoutRedirectURIs: [https://billing.example.com/]
    clientURI: https://billing.example.com
    secrets:
      description: billing web app
      lifetime: 180d
  - id: ` + idUpdate + `
    name: Reports web app
    enabled: false
    accessTokenLifetime: 30m
    redirectURIs: [https://reports.example.com/cb, com.example.reports:/oauth2redirect]
    tags: [reports, prod]
    secrets: {}
  - id: ` + idSame + `
    name: Intranet
    redirectURIs: [https://b.example.com/cb, https://a.example.com/cb]
    secrets: {renewBefore: 30d, lifetime: 180d}
  - id: ` + idPending + `
    name: Mobile app
    redirectURIs: [http://127.0.0.1:8400/callback]
    secrets: {}
  - id: ` + idStore + `
    name: Store
    redirectURIs: [https://store.example.com/cb]
    secrets: {lifetime: 365d}
  - id: ` + idKiosk + `
    name: Kiosk app
    redirectURIs: [https://kiosk.example.com/cb]
    secrets: {}
removed: [` + idRemoved + `]
`

// goldenTenant is the tenant of the golden plans, as the service lists it.
var goldenTenant = []string{
	`{"Id":"` + idUpdate + `","Name":"Reports","Enabled":true,"AccessTokenLifetime":3600,"Tags":["reports"],
		"RedirectUris":["https://reports.example.com/cb"],"PostLogoutRedirectUris":[]}`,
	// As wanted, but for its redirect URIs' order, and tags the State leaves alone.
	`{"Id":"` + idSame + `","Name":"Intranet","Enabled":true,"AccessTokenLifetime":3600,"Tags":["internal"],
		"RedirectUris":["https://a.example.com/cb","https://b.example.com/cb"]}`,
	`{"Id":"` + idPending + `","Name":"Mobile app","Enabled":true,"AccessTokenLifetime":3600,"RedirectUris":["http://127.0.0.1:8400/callback"]}`,
	`{"Id":"` + idRemoved + `","Name":"Old batch job","Enabled":false,"AccessTokenLifetime":3600,"RedirectUris":["https://old.example.com/cb"]}`,
	`{"Id":"` + idLegacy + `","Name":"Legacy portal","Enabled":true,"AccessTokenLifetime":600,"RedirectUris":["https://legacy.example.com/cb"]}`,
	`{"Id":"` + idOthers + `","Name":"Someone else's app","Enabled":true,"AccessTokenLifetime":3600,"RedirectUris":["https://other.example.com/cb"]}`,
	`{"Id":"` + idStore + `","Name":"Store","Enabled":true,"AccessTokenLifetime":3600,"RedirectUris":["https://store.example.com/cb"]}`,
	`{"Id":"` + idKiosk + `","Name":"Kiosk","Enabled":true,"AccessTokenLifetime":3600,"RedirectUris":["https://kiosk.example.com/cb"]}`,
}

// goldenRecord is what earlier applies recorded: the legacy client (no longer wanted),
// a client since deleted by someone, and a first secret still pending.
func goldenRecord() Record {
	return Record{
		Managed: []string{idUpdate, idLegacy, idGone},
		Pending: []Pending{{ClientID: idPending, Orphans: []secrets.ClientSecret{{ID: 3, Description: "Mobile app", Expiry: secrets.ExpiresAt(goldenNow.AddDate(1, 0, 0))}}, Unclaimed: []int{4}}},
	}
}

func goldenPlan(t *testing.T, opts PlanOptions) (*Plan, *mocktest.Rig) {
	t.Helper()
	s, err := Parse([]byte(goldenFile), YAML)
	if err != nil {
		t.Fatal(err)
	}
	rig, c := rigClientAt(t, goldenNow)
	opts.Record = recordOf(c, opts.Record)
	cannedTenant(t, rig, goldenTenant...)
	cannedSecrets(rig, goldenSecrets)
	p, err := Diff(context.Background(), c, *s, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, rig
}

// The plan's outputs, for a person and for a program, are pinned by golden files: every
// action, settings old -> new, a pending first secret, the unmanaged clients.
func TestPlanOutputsMatchTheGoldenFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts PlanOptions
	}{
		{"plan-delete", PlanOptions{Record: goldenRecord(), Delete: true, Unmanaged: true, Tenant: "https://uswe.datahub.connect.aveva.com " + mocktest.TenantID}},
		{"plan-keep", PlanOptions{Record: goldenRecord()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := goldenPlan(t, tc.opts)
			golden(t, tc.name+".txt", textOf(t, p))
			golden(t, tc.name+".json", jsonOf(t, p))
		})
	}
}

func TestDiffOfATenantAsWantedHasNoChanges(t *testing.T) {
	rig, c := rigClient(t)
	cannedTenant(t, rig, goldenTenant[1])
	s := State{Clients: []Client{{ID: idSame, Name: "Intranet", RedirectURIs: []string{"https://a.example.com/cb", "https://b.example.com/cb"}}}}
	p, err := Diff(context.Background(), c, s, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.HasChanges() || p.Count(ActionNone) != 1 {
		t.Errorf("changes: %+v", p.Changes)
	}
	golden(t, "plan-none.txt", textOf(t, p))
}

// Diff reads only the clients that the State and the record name, by id, 40 to a list
// request; it never walks the tenant unless asked to list the unmanaged clients.
func TestDiffReadsOnlyTheClientsItNamesByID(t *testing.T) {
	rig, c := rigClient(t)
	cannedTenant(t, rig)
	var s State
	for i := range 45 {
		s.Clients = append(s.Clients, Client{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: "c", RedirectURIs: []string{"https://a/"}})
	}
	rec := recordOf(c, Record{Managed: []string{"99999999-0000-4000-8000-000000000000"}})
	if _, err := Diff(context.Background(), c, s, PlanOptions{Record: rec}); err != nil {
		t.Fatal(err)
	}
	calls := rig.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d requests, want 2: %v", len(calls), calls)
	}
	ids := 0
	for _, call := range calls {
		if !strings.HasPrefix(call, "GET HybridClients?id=") || strings.Contains(call, "skip=") {
			t.Errorf("request %q is not a list by ids", call)
		}
		n := strings.Count(call, "id=")
		if n > idsPerList {
			t.Errorf("%d ids in one request", n)
		}
		ids += n
	}
	if ids != 46 {
		t.Errorf("%d ids asked for, want 46", ids)
	}
}

// A plan deletes only with the choice to delete, and only clients shown to be managed:
// listed as removed, or recorded. An unmanaged client is listed only when asked, and
// never planned for anything.
func TestDiffNeverPlansToDeleteAClientThatIsNotManaged(t *testing.T) {
	p, rig := goldenPlan(t, PlanOptions{Record: goldenRecord(), Delete: true})
	var deleted []string
	for _, ch := range p.Changes {
		if ch.ID == idOthers {
			t.Errorf("the unmanaged client is in the plan: %+v", ch)
		}
		if ch.Action == ActionDelete {
			deleted = append(deleted, ch.ID)
		}
	}
	if diff := cmp.Diff([]string{idRemoved, idLegacy}, deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if len(p.Unmanaged) != 0 {
		t.Errorf("unmanaged clients listed without being asked for: %v", p.Unmanaged)
	}
	for _, call := range rig.Calls() {
		if strings.HasPrefix(call, "GET HybridClients?") && !strings.Contains(call, "id=") {
			t.Errorf("a walk of the tenant without being asked: %s", call)
		}
	}

	keep, _ := goldenPlan(t, PlanOptions{Record: goldenRecord()})
	if n := keep.Count(ActionDelete); n != 0 {
		t.Errorf("%d deletions without the choice to delete", n)
	}
	if n := keep.Count(ActionKeep); n != 2 {
		t.Errorf("%d clients kept, want 2", n)
	}
	// Without a record, a client dropped from the State is not even kept: it is not
	// known to be managed.
	none, _ := goldenPlan(t, PlanOptions{Delete: true})
	for _, ch := range none.Changes {
		if ch.ID == idLegacy {
			t.Errorf("a client that no record names is planned: %+v", ch)
		}
	}
}

// Settings are compared as the service keeps them: lists as sets, tags only when the
// State sets them, defaults filled in.
func TestDiffComparesListsAsSetsAndTagsOnlyWhenSet(t *testing.T) {
	cur := &Client{ID: idA, Name: "A", Enabled: ptr(true), AccessTokenLifetime: time.Hour, Tags: []string{"x"},
		RedirectURIs: []string{"https://a/1", "https://a/2"}, PostLogoutRedirectURIs: []string{}}
	want := Client{ID: idA, Name: "A", RedirectURIs: []string{"https://a/2", "https://a/1"}}
	if f := diffFields(want, cur); len(f) != 0 {
		t.Errorf("a reordered list or unmanaged tags differ: %+v", f)
	}
	want.Tags = []string{}
	want.PostLogoutRedirectURIs = []string{"https://a/out"}
	got := diffFields(want, cur)
	wantFields := []FieldChange{
		{Field: "postLogoutRedirectURIs", Old: []string{}, New: []string{"https://a/out"}},
		{Field: "tags", Old: []string{"x"}, New: []string{}},
	}
	if diff := cmp.Diff(wantFields, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	req := updateRequest(want, got)
	if req.Tags == nil || len(req.Tags) != 0 || req.Name != nil || req.RedirectURIs != nil {
		t.Errorf("the update does not clear the tags alone: %+v", req)
	}
}

// A plan written as JSON reads back to the same plan; an altered one is refused.
func TestReadPlanReadsWhatWriteJSONWroteAndRefusesAnAlteredPlan(t *testing.T) {
	p, _ := goldenPlan(t, PlanOptions{Record: goldenRecord(), Delete: true, Unmanaged: true, Tenant: "t"})
	data := jsonOf(t, p)
	back, err := ReadPlan(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, back, cmpopts.EquateEmpty(), sameExpiry); diff != "" {
		t.Errorf("(-written +read)\n%s", diff)
	}
	if !bytes.Equal(textOf(t, p), textOf(t, back)) {
		t.Error("the plan read back shows differently")
	}

	for _, tc := range []struct {
		name, from, to, word string
		first                bool
	}{
		{"a current setting", `"accessTokenLifetime": "10m"`, `"accessTokenLifetime": "11m"`, "altered", false},
		{"an unknown key", `"fingerprint":`, `"extra": 1, "fingerprint":`, "unknown field", false},
		{"an invalid wanted client", `"https://billing.example.com/signin-oidc"`, `"javascript:alert(1)"`, "runs or shows", false},
		{"an id that is not a GUID", `"id": "` + idRemoved + `"`, `"id": "../../x"`, "GUID", true},
		{"a secret a rotation was decided from", `"expires": "2026-03-13T12:00:00Z"`, `"expires": "2026-09-13T12:00:00Z"`, "altered", false},
		{"a secret's expiry", `"expires": "2026-03-13T12:00:00Z"`, `"expires": "soon"`, "RFC 3339", false},
	} {
		// The last one: the client wanted or as read, not the fields shown.
		i := bytes.LastIndex(data, []byte(tc.from))
		if tc.first {
			i = bytes.Index(data, []byte(tc.from))
		}
		if i < 0 {
			t.Fatalf("%s: %s not in the plan", tc.name, tc.from)
		}
		altered := slices.Concat(data[:i], []byte(tc.to), data[i+len(tc.from):])
		if _, err := ReadPlan(bytes.NewReader(altered)); err == nil || !strings.Contains(err.Error(), tc.word) {
			t.Errorf("%s: err = %v, want one saying %q", tc.name, err, tc.word)
		}
	}
}

// Every entry point returns an error for what would make it panic: a nil context, a nil
// client, a nil plan; and an invalid State is refused before any request.
func TestEntryPointsReturnErrorsInsteadOfPanicking(t *testing.T) {
	rig, c := rigClient(t)
	ctx := context.Background()
	//lint:ignore SA1012 a nil context is what is tested
	_, err := Diff(nil, c, State{}, PlanOptions{}) //nolint:staticcheck
	mustErr(t, "Diff(nil ctx)", err, identity.ErrInvalidInput)
	_, err = Diff(ctx, nil, State{}, PlanOptions{})
	mustErr(t, "Diff(nil client)", err, identity.ErrInvalidInput)
	_, err = Diff(ctx, c, State{Clients: []Client{{Name: "no id"}}}, PlanOptions{})
	mustErr(t, "Diff(invalid state)", err, identity.ErrInvalidInput)
	_, err = Apply(ctx, c, nil, ApplyOptions{})
	mustErr(t, "Apply(nil plan)", err, identity.ErrInvalidInput)
	_, err = Apply(ctx, nil, &Plan{}, ApplyOptions{})
	mustErr(t, "Apply(nil client)", err, identity.ErrInvalidInput)
	//lint:ignore SA1012 a nil context is what is tested
	_, err = Export(nil, c, ExportOptions{}) //nolint:staticcheck
	mustErr(t, "Export(nil ctx)", err, identity.ErrInvalidInput)
	var zero Plan
	if err := zero.WriteText(new(bytes.Buffer)); err != nil {
		t.Error(err)
	}
	var nilPlan *Plan
	mustErr(t, "(*Plan)(nil).WriteText", nilPlan.WriteText(new(bytes.Buffer)), identity.ErrInvalidInput)
	mustErr(t, "(*Plan)(nil).WriteJSON", nilPlan.WriteJSON(new(bytes.Buffer)), identity.ErrInvalidInput)
	mustErr(t, "WriteText(nil writer)", zero.WriteText(nil), identity.ErrInvalidInput)
	_, err = ReadPlan(nil)
	mustErr(t, "ReadPlan(nil)", err, identity.ErrInvalidInput)
	var nilApplied *Applied
	var nilFile *FileError
	var nilStale *StaleError
	if nilPlan.HasChanges() || nilPlan.Count(ActionCreate) != 0 || nilApplied.Done(ActionCreate) != 0 || nilApplied.Failed() != nil ||
		nilFile.Error() == "" || nilFile.Unwrap() != nil || nilStale.Error() == "" {
		t.Error("a nil receiver answered as if it held something")
	}
	if n := rig.Total(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}
