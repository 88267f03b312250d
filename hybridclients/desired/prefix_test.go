package desired

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/internal/harness/mocktest"
)

// Every error the package returns starts with "desired: ", once, and names no other
// package of the module: a file that cannot be read or used, a plan refused, stale or
// partly failed (a stale client in it, matching ErrStale, included), an export, a plan
// file, a record.
func TestEveryErrorOfThePackageStartsWithItsNameOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	errs := map[string]error{}
	try := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", name)
			return
		}
		errs[name] = err
	}

	_, err := Parse([]byte("version: 1\nclients: [{id: x}]\n"), YAML)
	try("Parse", err)
	_, err = Load(filepath.Join(dir, "clients.txt"))
	try("Load (a name without a format)", err)
	_, err = Load(filepath.Join(dir, "missing.yaml"))
	try("Load (no such file)", err)
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("clients: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	try("Load (a broken file)", err)
	_, err = Marshal(State{}, "toml")
	try("Marshal", err)

	srv, c := fake(t, nil)
	_, err = Diff(ctx, c, State{Clients: []Client{{Name: "no id"}}}, PlanOptions{})
	try("Diff (an invalid state)", err)
	remove := srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpListClients, Status: 403})
	_, err = Diff(ctx, c, State{Clients: []Client{webApp(idA, "A")}}, PlanOptions{})
	try("Diff (the tenant cannot be read)", err)
	_, err = Export(ctx, c, ExportOptions{})
	try("Export", err)
	remove()
	//lint:ignore SA1012 a nil context is what is tested
	_, err = Export(nil, c, ExportOptions{}) //nolint:staticcheck
	try("Export (nil context)", err)

	_, err = Apply(ctx, c, nil, ApplyOptions{})
	try("Apply (a nil plan)", err)
	p, err := Diff(ctx, c, State{Clients: []Client{webApp(idA, "A")}}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Apply(ctx, c, p, ApplyOptions{})
	try("Apply (no Store)", err)
	if _, err := c.Create(ctx, hybridclients.CreateRequest{ID: idA, Name: "theirs", RedirectURIs: []string{"https://t.example.com/cb"}}); err != nil {
		t.Fatal(err)
	}
	_, err = Apply(ctx, c, p, ApplyOptions{Store: newVault().Store})
	try("Apply (stale)", err)
	if !errors.Is(err, ErrStale) {
		t.Errorf("a stale plan's error does not match ErrStale: %v", err)
	}

	// A client someone else creates after the plan was checked: a failed change that
	// matches ErrStale, inside Apply's error.
	rig, rc := rigClient(t)
	cannedTenant(t, rig)
	rig.On(http.MethodHead, mocktest.TenantURL+"/HybridClients/"+idB, mocktest.Want{}, mocktest.Reply{Status: 200})
	p, err = Diff(ctx, rc, State{Clients: []Client{webApp(idB, "B")}}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	applied, err := Apply(ctx, rc, p, ApplyOptions{Store: newVault().Store})
	try("Apply (a change found stale)", err)
	if !errors.Is(err, ErrStale) {
		t.Errorf("a stale change's error does not match ErrStale: %v", err)
	}
	for _, r := range applied.Failed() {
		if strings.Contains(r.Err.Error(), "desired: ") {
			t.Errorf("Result.Err names the package, which Apply's error names again: %v", r.Err)
		}
	}
	try("ErrStale wrapped as Apply wraps it", fmt.Errorf("desired: %w", ErrStale))

	_, err = ReadPlan(nil)
	try("ReadPlan (nil)", err)
	_, err = ReadPlan(strings.NewReader("{}"))
	try("ReadPlan (version)", err)
	_, err = ReadPlan(strings.NewReader("not json"))
	try("ReadPlan (not JSON)", err)
	data := jsonOf(t, p)
	_, err = ReadPlan(bytes.NewReader(bytes.Replace(data, []byte(`"name": "B"`), []byte(`"name": "C"`), 1)))
	try("ReadPlan (altered)", err)
	var nilPlan *Plan
	try("WriteText", nilPlan.WriteText(new(bytes.Buffer)))
	try("WriteJSON", p.WriteJSON(nil))

	try("Record.WriteFile", Record{Managed: []string{"x"}}.WriteFile(filepath.Join(dir, "r.json")))
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte("[]"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = ReadRecord(filepath.Join(dir, "bad.json"))
	try("ReadRecord", err)

	for name, err := range errs {
		msg := err.Error()
		if !strings.HasPrefix(msg, "desired: ") || strings.Count(msg, "desired: ") != 1 || otherPrefix.MatchString(msg) {
			t.Errorf("%s: %q", name, msg)
		}
	}
}
