package desired

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// issued records every secret value the service sent (the one-time values of creates
// and adds), read from the answers on the wire before the SDK sees them: the values a
// leak scan looks for. A value whose answer was cut never reached the process.
type issued struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen map[string]bool
}

var secretOnWire = regexp.MustCompile(`"Secret"\s*:\s*"([^"]+)"`)

func (s *issued) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(r)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	s.mu.Lock()
	for _, m := range secretOnWire.FindAllSubmatch(body, -1) {
		s.seen[string(m[1])] = true
	}
	s.mu.Unlock()
	resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{rerr}))
	return resp, nil
}

// errReader ends a replayed body with the error its reading met (a cut answer stays cut).
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	return 0, io.EOF
}

func (s *issued) values() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.seen))
	for v := range s.seen {
		out = append(out, v)
	}
	return out
}

// outputs collects every byte the package writes where a value must never be: plans
// (text and JSON), files (records, exports), logs (the SDK's and Apply's) and errors.
type outputs struct {
	mu  sync.Mutex
	buf bytes.Buffer
	dir string // where the test writes records and exports
}

func (o *outputs) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *outputs) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(o, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// leaks counts the issued values found in the outputs and in every file of dir.
func (o *outputs) leaks(t *testing.T, values []string) int {
	t.Helper()
	o.mu.Lock()
	all := slices.Clone(o.buf.Bytes())
	o.mu.Unlock()
	err := filepath.WalkDir(o.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		all = append(all, b...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range values {
		if bytes.Contains(all, []byte(v)) {
			n++
		}
	}
	return n
}

// The leak scan finds a value wherever it is: in what was written, or in a file.
func TestLeakScanFindsAValueInTheOutputsOrAFile(t *testing.T) {
	out := &outputs{dir: t.TempDir()}
	fmt.Fprint(out, "a plan line with s3cr3t-in-a-log in it")
	if err := os.MkdirAll(filepath.Join(out.dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out.dir, "sub", "record.json"), []byte(`{"x":"s3cr3t-in-a-file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := out.leaks(t, []string{"s3cr3t-in-a-log", "s3cr3t-in-a-file", "s3cr3t-nowhere"}); n != 2 {
		t.Errorf("found %d leaks, want 2", n)
	}
}

// soakClient returns an SDK client of srv that logs to out and whose answers feed spy.
func soakClient(t *testing.T, srv *hybridclientstest.Server, out *outputs, spy *issued) *hybridclients.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	spy.base = tr
	cfg := srv.Config()
	cfg.HTTPClient = &http.Client{Transport: spy}
	cfg.Logger = out.logger()
	// Two attempts a request, not four: more failures reach Apply, which must then leave
	// things so that the next round finishes them.
	cfg.Retry = identity.RetryPolicy{MaxAttempts: 2, MinWait: time.Millisecond, MaxWait: 20 * time.Millisecond, MaxRetryAfter: 2 * time.Second}
	c, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// round makes a plan of s with the record kept at recordPath, writes the plan to out,
// applies it, and keeps the new record. It returns the plan and what was applied (nil
// when Diff failed).
func round(ctx context.Context, t *testing.T, c *hybridclients.Client, s State, recordPath string, out *outputs, v *vault) (*Plan, *Applied, error) {
	t.Helper()
	rec, err := ReadRecord(recordPath)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Diff(ctx, c, s, PlanOptions{Record: rec, Delete: true})
	if err != nil {
		fmt.Fprintf(out, "%v %+v\n", err, err)
		return nil, nil, err
	}
	_ = p.WriteText(out)
	_ = p.WriteJSON(out)
	applied, err := Apply(ctx, c, p, ApplyOptions{Store: v.Store, Record: rec, Concurrency: 16, Logger: out.logger(),
		OnResult: func(r Result) { fmt.Fprintf(out, "%v %+v\n", r, r) }})
	if err != nil {
		fmt.Fprintf(out, "%v %+v\n", err, err)
	}
	if applied != nil {
		if werr := applied.Record.WriteFile(recordPath); werr != nil {
			t.Fatal(werr)
		}
	}
	return p, applied, err
}

// manyClients is a State of n valid clients with varied settings.
func manyClients(n int) State {
	s := randomState(rand.New(rand.NewPCG(uint64(n), 2026)), n)
	s.Removed = nil
	return s
}

// A thousand clients: the first apply creates them all, each first secret in the Store;
// a second apply has nothing to do.
func TestApplyCreatesAThousandClientsAndThenHasNothingToDo(t *testing.T) {
	if testing.Short() {
		t.Skip("a thousand clients: run without -short")
	}
	srv, c := fake(t, &hybridclientstest.Options{MaxClients: 1200})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := manyClients(1000)
	v := newVault()
	start := time.Now()
	p, applied, err := planAndApply(t, c, s, PlanOptions{}, ApplyOptions{Store: v.Store, Concurrency: 16})
	if err != nil {
		t.Fatal(err)
	}
	first := time.Since(start)
	created := applied.Done(ActionCreate)
	if p.Count(ActionCreate) != 1000 || created != 1000 || len(srv.Clients()) != 1000 {
		t.Fatalf("planned %d, created %d, tenant holds %d", p.Count(ActionCreate), created, len(srv.Clients()))
	}
	for _, dc := range s.Clients {
		got, ok := v.last(dc.ID)
		if !ok || !srv.CheckSecret(dc.ID, got.Value) {
			t.Fatalf("client %s: no working secret in the store", dc.ID)
		}
	}
	start = time.Now()
	p2, err := Diff(ctx, c, s, PlanOptions{Record: applied.Record})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Apply(ctx, c, p2, ApplyOptions{Store: v.Store, Record: applied.Record})
	if err != nil {
		t.Fatal(err)
	}
	if p2.HasChanges() || p2.Count(ActionNone) != 1000 {
		t.Errorf("the second plan: %s", p2.summary())
	}
	t.Logf("first apply %v, second plan and apply %v", first.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	fmt.Printf("figure: as code, 1000 clients: first apply creates: %d\n", created)
	fmt.Printf("figure: as code, 1000 clients: second apply changes: %d\n", len(again.Results))
}

// soakFaults is the fault mix: about 13% of the management API's answers fail in every
// way the service can fail, creates and adds included.
func soakFaults(seed int64) []hybridclientstest.Fault {
	fs := []hybridclientstest.Fault{
		{ResetBeforeAct: true, Probability: 0.02},
		{CutAfterCommit: true, Probability: 0.03},
		{Truncate: true, Probability: 0.02},
		{Status: 500, Probability: 0.015},
		{Status: 503, Probability: 0.015},
		{Status: 502, HTML: true, Probability: 0.01},
		{Status: 429, RetryAfter: time.Second, Probability: 0.005},
		{Status: 408, Probability: 0.005},
		{Delay: 50 * time.Millisecond, Probability: 0.01},
	}
	for i := range fs {
		fs[i].Seed = seed + int64(i)
	}
	return fs
}

// Under the fault mix, plan and apply again until nothing is left to do, as a person
// would after a partial failure, through three states: clients created, then renamed,
// removed and added, then given a policy that finds every secret due, so that each
// enabled client is rotated. Afterwards every wanted client exists exactly once, every
// secret on it is one the Store holds (and the last one stored works), and no secret
// value is in any plan, file, export, log or error.
func TestApplyUnderFaultsLeavesNoDuplicateClientNoOrphanSecretAndNoValueInAnyOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: run without -short")
	}
	seed := time.Now().UnixNano()
	if v := os.Getenv("DESIRED_SOAK_SEED"); v != "" { // to run a failed seed again
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("DESIRED_SOAK_SEED: %v", err)
		}
	}
	t.Logf("seed %d", seed)
	srv := hybridclientstest.NewServer(t, &hybridclientstest.Options{MaxClients: 1000})
	out := &outputs{dir: t.TempDir()}
	spy := &issued{seen: map[string]bool{}}
	c := soakClient(t, srv, out, spy)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	recordPath := filepath.Join(out.dir, "clients.record.json")
	v := newVault()

	// First 300 clients are created; then a third are renamed, a fifth removed (in the
	// State's Removed, or just dropped: recorded ones are deleted too) and 50 added.
	first := manyClients(300)
	second := State{Clients: append(slices.Clone(first.Clients), manyClients(350).Clients[300:]...)}
	for i := len(first.Clients) - 1; i >= 0; i-- {
		switch {
		case i%5 == 0:
			if i%10 == 0 {
				second.Removed = append(second.Removed, second.Clients[i].ID)
			}
			second.Clients = slices.Delete(second.Clients, i, i+1)
		case i%3 == 0:
			second.Clients[i].Name += " (renamed)"
		}
	}
	// Every secret expires within 500 days: all are due under this policy, and a new one,
	// living 600 days, is not.
	third := State{Clients: slices.Clone(second.Clients), Removed: second.Removed}
	for i := range third.Clients {
		third.Clients[i].Secrets = &SecretPolicy{RenewBefore: 500 * day, Lifetime: 600 * day}
	}
	rounds, failures, pending, rotated := 0, 0, 0, 0
	notDue := map[string]bool{} // clients a plan of the third state found not due
	soakStart := time.Now()
	for phase, s := range []State{first, second, third} {
		for i, f := range soakFaults(seed) {
			f.Seed += int64(100 * phase * i)
			srv.Inject(f)
		}
		for r := 0; r < 25; r++ {
			rounds++
			rctx, rcancel := context.WithTimeout(ctx, time.Minute)
			p, applied, err := round(rctx, t, c, s, recordPath, out, v)
			rcancel()
			if applied != nil {
				failures += len(applied.Failed())
				pending += len(applied.Record.Pending)
				rotated += applied.Rotated()
			}
			// A client whose secrets could not be read has a Finding: whether it is due
			// is unknown. In the first two states no secret is near its expiry, so that
			// hides nothing; in the third every secret is due until rotated, so a client
			// is done once a plan has found it not due.
			if p != nil {
				for _, ch := range p.Changes {
					if ch.Current != nil && ch.Desired != nil && ch.Desired.Secrets != nil && ch.Finding == "" && ch.rotation() == nil {
						notDue[idKey(ch.ID)] = true
					}
				}
			}
			if err == nil && !p.HasChanges() && (phase < 2 || !slices.ContainsFunc(p.Changes, func(ch Change) bool { return ch.Finding != "" && !notDue[idKey(ch.ID)] })) {
				break
			}
		}
		srv.ClearFaults()
		t.Logf("state %d: %d rounds so far, %v", phase+1, rounds, time.Since(soakStart).Round(time.Millisecond))
	}
	s := third
	enabled := 0
	for _, dc := range s.Clients {
		if dc.Enabled == nil || *dc.Enabled {
			enabled++
		}
	}
	t.Logf("%d rounds, %d failed changes and %d pending new secrets on the way; %d of %d enabled clients rotated to the end", rounds, failures, pending, rotated, enabled)
	if rotated == 0 {
		t.Error("no rotation: the soak proves nothing of them")
	}

	// Afterwards, without faults: one more plan shows nothing to do.
	// Every enabled client's newest secret is then a new one, far from its expiry.
	p, _, err := round(ctx, t, c, s, recordPath, out, v)
	if err != nil || p.HasChanges() || p.findings() != 0 {
		t.Fatalf("after the soak: %v, %s", err, p.summary())
	}
	// An export of the result, written as a file.
	ex, err := Export(ctx, c, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Format{YAML, JSON} {
		data, err := Marshal(ex.State, f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out.dir, "export."+string(f)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	want := map[string]bool{}
	for _, dc := range s.Clients {
		want[idKey(dc.ID)] = true
	}
	duplicates, orphans, broken := 0, 0, 0
	seen := map[string]bool{}
	for _, rec := range srv.Clients() {
		k := idKey(rec.ID)
		if !want[k] || seen[k] {
			duplicates++
			t.Errorf("client %s %q is not one of the State's, or is there twice", rec.ID, rec.Name)
		}
		seen[k] = true
		held := v.held(rec.ID)
		for _, id := range rec.SecretIDs {
			if !slices.Contains(held, id) {
				orphans++
				t.Errorf("client %s: secret %d is held by no store", rec.ID, id)
			}
		}
		if got, ok := v.last(rec.ID); !ok || !srv.CheckSecret(rec.ID, got.Value) {
			broken++
			t.Errorf("client %s: the stored secret does not work", rec.ID)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d of the %d wanted clients exist", len(seen), len(want))
	}
	if files, _ := os.ReadDir(out.dir); len(files) != 3 {
		t.Errorf("files %v, want the record and two exports", files)
	}
	values := spy.values()
	if len(values) < len(want) {
		t.Fatalf("only %d secret values seen on the wire: the scan proves little", len(values))
	}
	leaks := out.leaks(t, values)
	if leaks != 0 {
		t.Errorf("%d secret values are in the outputs", leaks)
	}
	t.Logf("%d secret values scanned for in %d bytes of plans, logs and errors and the files of %s", len(values), out.buf.Len(), out.dir)
	fmt.Printf("figure: as code, faults: duplicate clients: %d\n", duplicates)
	fmt.Printf("figure: as code, faults: orphan secrets: %d\n", orphans)
	fmt.Printf("figure: as code: secret values in plans, files, exports or logs: %d\n", leaks)
}

// No value of a rotated secret reaches a plan (text or JSON), the record, an export, a
// log (the SDK's and Apply's, at debug) or an error: not when a rotation succeeds, not
// when it is never proven (its *secrets.ProofError), not when its Store fails.
func TestNoRotatedSecretValueReachesAPlanRecordExportOrLog(t *testing.T) {
	clk := hybridclientstest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	srv := hybridclientstest.NewServer(t, &hybridclientstest.Options{Clock: clk, PropagationDelay: time.Hour})
	out := &outputs{dir: t.TempDir()}
	spy := &issued{seen: map[string]bool{}}
	c := soakClient(t, srv, out, spy)
	recordPath := filepath.Join(out.dir, "clients.record.json")
	v := newVault()
	s := State{Clients: []Client{webApp(idA, "Proven"), webApp(idB, "Never proven"), webApp(idC, "Store fails")}}
	for i, timeout := range []time.Duration{0, 30 * time.Minute, 0} {
		s.Clients[i].Secrets = &SecretPolicy{Lifetime: 90 * day, ProofTimeout: timeout}
	}
	ctx := context.Background()
	if _, _, err := round(ctx, t, c, s, recordPath, out, v); err != nil {
		t.Fatal(err)
	}
	clk.Advance(70 * day)
	v.fail = func(id string) error {
		if id == idC {
			return errors.New("the vault is sealed")
		}
		return nil
	}
	var (
		p       *Plan
		applied *Applied
		err     error
	)
	clk.Run(func() { p, applied, err = round(ctx, t, c, s, recordPath, out, v) }, nil)
	if p == nil || p.rotations() != 3 || applied.Rotated() != 1 || !errors.Is(err, secrets.ErrNotProven) {
		t.Fatalf("plan %v; applied %+v; err = %v", p != nil, applied, err)
	}
	fmt.Fprintf(out, "%v %+v %#v\n", err, err, applied)
	v.fail = nil
	clk.Run(func() { p, applied, err = round(ctx, t, c, s, recordPath, out, v) }, nil)
	if !errors.Is(err, secrets.ErrNotProven) || p.rotations() != 2 || applied.Rotated() != 1 {
		t.Fatalf("the next round: %v; applied %+v (want the client whose Store failed rotated, the one never proven tried again)", err, applied)
	}
	fmt.Fprintf(out, "%v %+v %#v\n", err, err, applied)
	ex, err := Export(ctx, c, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := Marshal(ex.State, YAML)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out.dir, "export.yaml"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	values := spy.values()
	if len(values) != 3+3+2 {
		t.Fatalf("%d secret values seen on the wire, want 8: three first secrets, three rotations, two more (the Store that failed, the proof that never came)", len(values))
	}
	if n := out.leaks(t, values); n != 0 {
		t.Errorf("%d secret values are in the outputs", n)
	}
}
