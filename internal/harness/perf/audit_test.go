package perf_test

import (
	"context"
	"testing"

	"github.com/ocs-go/identity/internal/harness/perf"
)

// The audit runs, small (the command runs them at full size): every client checked, no
// failure, one page list per 99 clients (a page starts with the last client of the page
// before, and the scan ends at a short page) plus one secret list per client, and the
// rate limit met and followed. Time ratios are only logged: they mean nothing under -race.
func TestAuditLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("a scan of thousands of clients; run without -short (CI does)")
	}
	t.Parallel()
	run := perf.AuditLatency
	run.Clients = 2_000 / raceScale
	res, err := perf.RunAudit(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range perf.AuditLatencyFigures(run, res) {
		t.Logf("%s | %s | %s", f.Name, f.Value, f.Target)
	}
	lists := (run.Clients-perf.PageSize)/(perf.PageSize-1) + 2 // pages at 0, 99, 198, ... up to a short one
	if res.Failed != 0 || res.Calls != run.Clients+lists || res.Secrets < run.Clients {
		t.Errorf("%+v", res)
	}
}

func TestAuditRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("a scan of thousands of clients; run without -short (CI does)")
	}
	t.Parallel()
	run := perf.AuditRateLimit
	run.Clients = 800
	res, err := perf.RunAudit(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	figs := perf.AuditRateFigures(run, res)
	for _, f := range figs {
		t.Logf("%s | %s | %s", f.Name, f.Value, f.Target)
	}
	if res.Failed != 0 || res.Throttled == 0 {
		t.Errorf("%d failed clients, %d 429s: want none failed, and the limit met", res.Failed, res.Throttled)
	}
	// Without the scan's limit most requests past the first 40 would be 429s; a loaded
	// CI machine may bunch requests, so the bound here is looser than the command's 5%.
	if share := float64(res.Throttled) / float64(res.Calls); share > 0.15 {
		t.Errorf("429 share %.1f%%", share*100)
	}
}

// Not parallel: it reads the process's heap.
func TestAuditHeapBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a scan of thousands of clients; run without -short (CI does)")
	}
	small, large := perf.AuditHeapSmall, perf.AuditHeapLarge
	small.Clients, small.HeapEvery = 500, 50
	large.Clients, large.HeapEvery = 10_000/raceScale, 250
	rs, err := perf.RunAudit(context.Background(), small)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := perf.RunAudit(context.Background(), large)
	if err != nil {
		t.Fatal(err)
	}
	check(t, perf.AuditHeapFigures(small, large, rs, rl))
}
