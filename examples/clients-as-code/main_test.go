package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/examples/internal/exampleenv"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// issued records every secret value the fake sent, from the answers on the wire.
type issued struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen []string
}

var secretOnWire = regexp.MustCompile(`"Secret"\s*:\s*"([^"]+)"`)

func (s *issued) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	for _, m := range secretOnWire.FindAllSubmatch(body, -1) {
		s.seen = append(s.seen, string(m[1]))
	}
	s.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// rig is the example run in-process against the fake: a tenant (no Fake in the Env) or
// the emulator (with it, and an hour of propagation, as the example starts it), its
// outputs kept. The fake's clock is clock's, which AdvanceClock moves (and on the
// emulator the proofs' waits).
type rig struct {
	t              *testing.T
	env            *exampleenv.Env
	clock          *exampleenv.Env
	srv            *hybridclientstest.Server
	spy            *issued
	dir            string
	stdout, stderr bytes.Buffer
}

func newRig(t *testing.T, emulated bool) *rig {
	clock := &exampleenv.Env{}
	opts := &hybridclientstest.Options{Now: clock.Now}
	if emulated {
		opts.PropagationDelay = time.Hour
	}
	srv := hybridclientstest.NewServer(t, opts)
	clock.Fake = srv // AdvanceClock moves the clock of an Env with a Fake
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	r := &rig{t: t, clock: clock, srv: srv, spy: &issued{base: tr}, dir: t.TempDir()}
	cfg := srv.Config()
	cfg.HTTPClient = &http.Client{Transport: r.spy}
	clock.Config = cfg
	r.env = &exampleenv.Env{Config: cfg}
	if emulated {
		r.env = clock
	}
	return r
}

// do runs one command line (the command, then its flags) and returns its exit status.
func (r *rig) do(args ...string) int {
	r.t.Helper()
	o := &options{cmd: args[0]}
	p, err := o.program()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := p.Flags.Parse(args[1:]); err != nil {
		r.t.Fatal(err)
	}
	if p.Check != nil {
		if err := p.Check(); err != nil {
			r.stderr.WriteString(err.Error() + "\n")
			return 1
		}
	}
	status, err := run(context.Background(), r.env, o, &r.stdout, &r.stderr)
	if err != nil {
		r.stderr.WriteString(err.Error() + "\n")
	}
	return status
}

func (r *rig) path(name string) string { return filepath.Join(r.dir, name) }

// Everything the example writes, but the secrets it stores, holds no secret value: its
// standard output and error, plans, records, exports; and the secrets directory holds
// each client's current value, in a file of mode 0600: the first secret of a new client,
// and a rotated client's new value in place of its old one.
func TestTheExampleWritesSecretValuesOnlyToTheSecretsDirectory(t *testing.T) {
	r := newRig(t, false)
	file, secretsDir := r.path("clients.yaml"), r.path("secrets")
	if err := os.WriteFile(file, sample, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(secretsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		args []string
		want int
	}{
		{[]string{"plan", "-file", file, "-out", r.path("plan.json")}, 2},
		{[]string{"apply", "-file", file, "-secrets-dir", secretsDir, r.path("plan.json")}, 0},
		{[]string{"apply", "-file", file, "-secrets-dir", secretsDir, r.path("plan.json")}, 1}, // stale now
		{[]string{"plan", "-file", file, "-json"}, 0},
		{[]string{"apply", "-file", file, "-secrets-dir", secretsDir, "-auto", "-delete"}, 0},
		{[]string{"export", "-out", r.path("export.json")}, 0},
		{[]string{"export", "-format", "yaml"}, 0},
		// 160 days later, the secrets of the enabled clients with a policy are due.
		{[]string{"plan", "-file", file, "-out", r.path("rotate.json")}, 2},
		{[]string{"apply", "-file", file, "-secrets-dir", secretsDir, r.path("rotate.json")}, 0},
		{[]string{"plan", "-file", file}, 0},
	}
	for i, s := range steps {
		if i == 7 {
			r.clock.AdvanceClock(160 * 24 * time.Hour)
		}
		if got := r.do(s.args...); got != s.want {
			t.Fatalf("%v: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", s.args, got, s.want, r.stdout.String(), r.stderr.String())
		}
	}
	rotated := []string{"7c9e6679-7425-40de-944b-e07fc1f90ae7", demoReportsID, "6fa459ea-ee8a-4ca4-894e-db77e160355e"}
	for _, id := range rotated {
		if want := "(" + id + "): secret 2, "; !strings.Contains(r.stdout.String(), want) || !strings.Contains(r.stdout.String(), "in place of the old value in "+filepath.Join(secretsDir, id+".secret")) {
			t.Errorf("stdout does not show client %s's secret 2 in place of the old value:\n%s", id, r.stdout.String())
		}
	}
	if !strings.Contains(r.stdout.String(), "Apply: 0 created, 3 updated, 0 deleted, 3 rotated, 0 failed.") {
		t.Errorf("stdout lacks the rotations' summary:\n%s", r.stdout.String())
	}
	if !strings.Contains(r.stderr.String(), "the plan is stale") {
		t.Errorf("applying the plan twice: %s", r.stderr.String())
	}
	for _, want := range []string{`created  client "Billing portal"`, "written to " + secretsDir, "record of 4 managed clients written to " + r.path("clients."+strings.ToLower(r.srv.TenantID)+".record.json")} {
		if !strings.Contains(r.stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout.String())
		}
	}

	values := r.spy.seen
	if len(values) != 7 {
		t.Fatalf("%d secret values issued, want 7 (one per created client, one per rotated client)", len(values))
	}
	var written []byte
	stored := 0
	err := filepath.WalkDir(r.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if filepath.Dir(path) == secretsDir {
			info, _ := d.Info()
			if info.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v", path, info.Mode().Perm())
			}
			id := strings.TrimSuffix(filepath.Base(path), ".secret")
			if slices.Contains(values, string(b)) && r.srv.CheckSecret(id, identity.NewSecret(string(b))) {
				stored++
			}
			return nil
		}
		if strings.HasSuffix(path, ".record.json") || strings.HasSuffix(path, "plan.json") {
			if info, _ := d.Info(); info.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", path, info.Mode().Perm())
			}
		}
		written = append(written, b...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if stored != 4 {
		t.Errorf("%d files of the secrets directory hold their client's working value, want 4", stored)
	}
	written = append(append(written, r.stdout.Bytes()...), r.stderr.Bytes()...)
	for _, v := range values {
		if bytes.Contains(written, []byte(v)) {
			t.Errorf("a secret value is in the outputs or a file outside the secrets directory")
		}
	}
	for _, id := range []string{demoReportsID, "7c9e6679-7425-40de-944b-e07fc1f90ae7"} {
		if r.srv.SecretIDs(id) == nil {
			t.Errorf("client %s does not exist", id)
		}
	}
}

// On the emulator, the sample is planned against a seeded tenant out of the box, apply
// -auto makes it so, and a saved plan (which names a tenant the next run will not have) is
// refused with a clear message.
func TestOnTheEmulatorTheSampleIsPlannedAndApplied(t *testing.T) {
	r := newRig(t, true)
	if got := r.do("plan", "-delete", "-unmanaged"); got != 2 {
		t.Fatalf("plan: exit status %d\n%s", got, r.stderr.String())
	}
	for _, want := range []string{"+ create client \"Billing portal\"", "~ name: \"Reports\" -> \"Reports web app\"",
		"~ rotate secret: newest working secret 1 expires ", ", in 10 days: within 30 days\n",
		"- delete client \"Legacy batch job\"", "not managed: client \"Someone else's app\"",
		"Plan: 3 to create, 1 to update (1 of them rotating secrets), 1 to delete; 0 unchanged."} {
		if !strings.Contains(r.stdout.String(), want) {
			t.Errorf("the plan lacks %q:\n%s", want, r.stdout.String())
		}
	}
	r2 := newRig(t, true)
	if got := r2.do("apply", "-auto", "-delete"); got != 0 {
		t.Fatalf("apply: exit status %d\n%s", got, r2.stderr.String())
	}
	// The reports app's secret, due, is rotated: its file holds the new value, which the
	// identity server accepted once the emulated hour of propagation had passed.
	for _, want := range []string{"Apply: 3 created, 1 updated, 1 deleted, 1 rotated, 0 failed.",
		`updated  client "Reports web app" (` + demoReportsID + `): secret 2, `, "in place of the old value in ", "; rotated: accepted by the identity server at ",
		"emulator: every stored secret signs in: true", "emulator: a new plan shows no changes: true"} {
		if !strings.Contains(r2.stdout.String(), want) {
			t.Errorf("apply's output lacks %q:\n%s", want, r2.stdout.String())
		}
	}
	// Each run of the example is a new emulator.
	r3 := newRig(t, true)
	if got := r3.do("apply", r3.path("plan.json")); got != 1 || !strings.Contains(r3.stderr.String(), "use apply -auto on the emulator") {
		t.Errorf("a saved plan on the emulator: exit status %d, %s", got, r3.stderr.String())
	}
	if got := r3.do("apply"); got != 1 || !strings.Contains(r3.stderr.String(), "a saved plan (apply plan.json) or -auto") {
		t.Errorf("apply without a plan: exit status %d, %s", got, r3.stderr.String())
	}
}

// A broken desired-state file is an error naming every broken rule with its line, and
// nothing is sent but the sign-in.
func TestABrokenFileIsRefusedWithItsLines(t *testing.T) {
	r := newRig(t, false)
	file := r.path("clients.yaml")
	broken := strings.Replace(string(sample), "accessTokenLifetime: 30m", "accessTokenLifetime: 2h\n    secret: do-not-show", 1)
	if err := os.WriteFile(file, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := r.do("plan", "-file", file); got != 1 {
		t.Fatalf("exit status %d", got)
	}
	msg := r.stderr.String()
	for _, want := range []string{file + ":23:26: clients[1].accessTokenLifetime: must be from 1m0s to 1h0m0s", file + ":24:5: clients[1].secret: is not a known key"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "do-not-show") {
		t.Error("the error shows an unknown key's value")
	}
	if n := r.srv.Stats().Requests[hybridclientstest.OpListClients]; n != 0 {
		t.Errorf("%d list requests for a broken file", n)
	}
}

// A saved plan deletes a client the file lists as removed only when apply is given the
// file too: apply deletes no client that neither the record nor the file names, whatever
// the plan says, so without the file it refuses the plan and deletes nothing.
func TestApplyOfASavedPlanDeletesARemovedClientOnlyWithItsFile(t *testing.T) {
	r := newRig(t, false)
	clients, err := hybridclients.New(r.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clients.Create(context.Background(), hybridclients.CreateRequest{ID: demoLegacyID, Name: "Legacy batch job", RedirectURIs: []string{"https://batch.example.com/callback"}}); err != nil {
		t.Fatal(err)
	}
	file, secretsDir := r.path("clients.yaml"), r.path("secrets")
	if err := os.WriteFile(file, sample, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(secretsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	exists := func() bool {
		return slices.ContainsFunc(r.srv.Clients(), func(c hybridclientstest.ClientRecord) bool { return c.ID == demoLegacyID })
	}
	if got := r.do("plan", "-file", file, "-delete", "-out", r.path("plan.json")); got != 2 {
		t.Fatalf("plan: exit status %d\n%s%s", got, r.stdout.String(), r.stderr.String())
	}
	if got := r.do("apply", "-record", r.path("clients.record.json"), "-secrets-dir", secretsDir, r.path("plan.json")); got != 1 ||
		!strings.Contains(r.stderr.String(), "not shown to be managed") || !exists() {
		t.Fatalf("apply without the file: exit status %d, the client exists: %v\n%s", got, exists(), r.stderr.String())
	}
	if got := r.do("apply", "-file", file, "-secrets-dir", secretsDir, r.path("plan.json")); got != 0 || exists() {
		t.Fatalf("apply with the file: exit status %d, the client exists: %v\n%s%s", got, exists(), r.stdout.String(), r.stderr.String())
	}
}

// One desired-state file applied to two tenants (dev and prod) keeps a record for each,
// NAME.TENANT-ID.record.json beside it, naming its tenant: neither apply reads the other's,
// and a record of one given to the other (-record) is refused, naming both tenants,
// before anything is changed.
func TestTheRecordIsKeptPerTenant(t *testing.T) {
	dev, prod := newRig(t, false), newRig(t, false)
	file, secretsDir := dev.path("clients.yaml"), dev.path("secrets")
	if err := os.WriteFile(file, sample, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(secretsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	recordOf := func(r *rig) string {
		return dev.path("clients." + strings.ToLower(r.srv.TenantID) + ".record.json")
	}
	for _, r := range []*rig{dev, prod} {
		if got := r.do("apply", "-file", file, "-secrets-dir", secretsDir, "-auto"); got != 0 {
			t.Fatalf("apply: exit status %d\n%s%s", got, r.stdout.String(), r.stderr.String())
		}
		if want := "record of 4 managed clients written to " + recordOf(r); !strings.Contains(r.stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout.String())
		}
	}
	entries, _ := os.ReadDir(dev.dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{filepath.Base(recordOf(dev)), filepath.Base(recordOf(prod)), "clients.yaml", "secrets"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("files beside the desired-state file: %v, want %v", names, want)
	}
	before := prod.srv.Stats().Requests[hybridclientstest.OpListClients]
	if got := prod.do("plan", "-file", file, "-record", recordOf(dev)); got != 1 {
		t.Fatalf("plan on prod with dev's record: exit status %d\n%s", got, prod.stderr.String())
	}
	for _, want := range []string{"must be of the Client's tenant (tenant " + prod.srv.TenantID, "tenant " + dev.srv.TenantID} {
		if !strings.Contains(prod.stderr.String(), want) {
			t.Errorf("the error lacks %q:\n%s", want, prod.stderr.String())
		}
	}
	if n := prod.srv.Stats().Requests[hybridclientstest.OpListClients] - before; n != 0 {
		t.Errorf("%d list requests with another tenant's record", n)
	}
}

// On the emulator, a new tenant on every run, no record is written beside the user's
// file: apply -auto -file leaves the directory as it was, but for the secrets.
func TestOnTheEmulatorNoRecordIsWrittenBesideTheFile(t *testing.T) {
	r := newRig(t, true)
	file := r.path("clients.yaml")
	if err := os.WriteFile(file, sample, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := r.do("apply", "-file", file, "-auto"); got != 0 {
		t.Fatalf("apply: exit status %d\n%s%s", got, r.stdout.String(), r.stderr.String())
	}
	entries, _ := os.ReadDir(r.dir)
	if len(entries) != 1 || entries[0].Name() != "clients.yaml" {
		t.Errorf("files beside the desired-state file: %v, want clients.yaml alone", entries)
	}
	if !strings.Contains(r.stdout.String(), "emulator: no record kept") {
		t.Errorf("stdout does not say that no record is kept:\n%s", r.stdout.String())
	}
}

// plan -out writes a new file: an existing one is refused unless -force, and the
// desired-state file and the record (by any name, a link included) always are; nothing is
// sent, and the file is left as it was.
func TestPlanOutNeverOverwritesTheFileOrTheRecord(t *testing.T) {
	r := newRig(t, false)
	file := r.path("clients.yaml")
	if err := os.WriteFile(file, sample, 0o644); err != nil {
		t.Fatal(err)
	}
	record := r.path("clients." + strings.ToLower(r.srv.TenantID) + ".record.json")
	const empty = `{"version": 2, "managed": []}`
	if err := os.WriteFile(record, []byte(empty), 0o600); err != nil {
		t.Fatal(err)
	}
	old := r.path("old-plan.json")
	if err := os.WriteFile(old, []byte("an older plan"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := r.path("link.yaml")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		word string
	}{
		{[]string{"-out", file}, "is the -file"},
		{[]string{"-out", file, "-force"}, "is the -file"},
		{[]string{"-out", link, "-force"}, "is the -file"},
		{[]string{"-out", record, "-force"}, "is the record"},
		{[]string{"-out", r.path("mine.json"), "-record", r.path("mine.json")}, "is the record"},
		{[]string{"-out", old}, "exists already: name a new file, or give -force"},
	} {
		r.stderr.Reset()
		if got := r.do(append([]string{"plan", "-file", file}, tc.args...)...); got != 1 || !strings.Contains(r.stderr.String(), tc.word) {
			t.Errorf("plan %v: exit status %d, want 1 and an error saying %q: %s", tc.args, got, tc.word, r.stderr.String())
		}
	}
	for path, want := range map[string]string{file: string(sample), record: empty, old: "an older plan"} {
		if got, _ := os.ReadFile(path); string(got) != want {
			t.Errorf("%s was changed", path)
		}
	}
	if n := r.srv.Stats().Requests[hybridclientstest.OpListClients]; n != 0 {
		t.Errorf("%d list requests for a refused -out", n)
	}
	if got := r.do("plan", "-file", file, "-out", old, "-force"); got != 2 {
		t.Fatalf("plan -force: exit status %d\n%s", got, r.stderr.String())
	}
	if got, _ := os.ReadFile(old); !bytes.Contains(got, []byte(`"fingerprint"`)) {
		t.Errorf("-force did not replace the old plan: %s", got)
	}
}
