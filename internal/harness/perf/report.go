// Package perf measures the SDK: its overhead next to a hand-written net/http call, token
// and connection reuse, paging at scale, and tenant-wide audits over a distant or
// rate-limited emulator. The measurements are functions shared by the
// tests and benchmarks of this package and by the command ./internal/harness/perf/cmd/perf, which
// runs them all and prints a table of figures against their targets.
package perf

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// Figure is one line of the table.
type Figure struct {
	Name, Value, Target string
	OK                  bool
}

// The standard runs, as the command and the tests make them.
var (
	// TokenSteady: 64 goroutines, 10,000 calls, a token that outlives the run.
	TokenSteady = TokenRun{Lifetime: time.Hour, Workers: 64, Calls: 10_000, FetchDelay: 100 * time.Millisecond}
	// TokenRefresh: the same, paced over 17.5 s with 22 s tokens, so that the run
	// passes the SDK's early refresh (at 3/4 of the lifetime) once.
	TokenRefresh = TokenRun{Lifetime: 22 * time.Second, Workers: 64, Calls: 10_000, Span: 17500 * time.Millisecond, FetchDelay: 150 * time.Millisecond}
	// TokenShort: 2 s tokens over 3 s.
	TokenShort = TokenRun{Lifetime: 2 * time.Second, Workers: 64, Calls: 300, Span: 3 * time.Second, FetchDelay: 5 * time.Millisecond}
	// Conns: 10,000 sequential calls; 10,000 by 64 goroutines; 100 404s; 20 500s.
	Conns = ConnRun{Sequential: 10_000, Concurrent: 10_000, Workers: 64, NotFound: 100, Failing: 20}
	// Paging: 50,000 clients.
	Paging = PagingRun{Clients: 50_000, SampleEvery: 20}
)

// TimeRatioTarget is the most the SDK may take per call, relative to the baseline.
const TimeRatioTarget = 1.10

// MaxPagesHeld is how many decoded pages the walk of All may hold at most ("a few").
const MaxPagesHeld = 4

// PairFigures turns results of Pair (one or more runs of the same benchmark) into
// figures: the median time ratio against the target, and the allocations.
func PairFigures(name string, runs []testing.BenchmarkResult) []Figure {
	if len(runs) == 0 {
		return nil
	}
	ratios := make([]float64, len(runs))
	for i, r := range runs {
		ratios[i] = r.Extra["time-ratio"]
	}
	slices.Sort(ratios)
	med := ratios[len(ratios)/2]
	var sdkNs, baseNs float64
	for _, r := range runs {
		sdkNs, baseNs = sdkNs+r.Extra["ns/op"], baseNs+r.Extra["base-ns/op"]
	}
	n := float64(len(runs))
	last := runs[len(runs)-1].Extra
	return []Figure{
		{Name: name + ": time SDK/baseline", Target: fmt.Sprintf("<= %.2f", TimeRatioTarget), OK: med <= TimeRatioTarget,
			Value: fmt.Sprintf("%.3f (median of %d; %.1f vs %.1f µs/op)", med, len(runs), sdkNs/n/1e3, baseNs/n/1e3)},
		{Name: name + ": allocs SDK/baseline", Target: "report", OK: true,
			Value: fmt.Sprintf("%.2f (%.0f vs %.0f allocs/op, +%.0f; %.0f vs %.0f B/op)", last["allocs-ratio"], last["allocs/op"],
				last["base-allocs/op"], last["extra-allocs/op"], last["B/op"], last["base-B/op"])},
	}
}

func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0f µs", float64(d)/1e3)
}

// TokenFigures checks a token run: at most one token request per 3/4 of the token
// lifetime (the SDK refreshes early, at 3/4 of the lifetime or a minute before expiry,
// so that nobody waits) and exactly one while the token outlives the run; never two
// fetches at once; no call waiting on another's fetch once a token was handed out.
func TokenFigures(name string, r TokenRun, res TokenResult) []Figure {
	allowed := 1 + int(res.Elapsed/(r.Lifetime*3/4))
	target := fmt.Sprintf("<= %d (1 + run/(3/4 lifetime))", allowed)
	if allowed == 1 {
		target = "= 1"
	}
	gaps := make([]string, 0, len(res.FetchTimes))
	for i := 1; i < len(res.FetchTimes) && i < 4; i++ {
		gaps = append(gaps, dur(res.FetchTimes[i]-res.FetchTimes[i-1]))
	}
	gap := ""
	if len(gaps) > 0 {
		gap = "; gaps " + strings.Join(gaps, ", ")
		if len(res.FetchTimes) > 4 {
			gap += ", ..."
		}
	}
	run := fmt.Sprintf("%s (%d goroutines, %d calls, %s lifetime, %s run)", name, r.Workers, res.Calls, dur(r.Lifetime), dur(res.Elapsed))
	return []Figure{
		{Name: run + ": token requests", Target: target, OK: res.TokenRequests <= allowed && res.Errors == 0 && res.TokenRequests >= 1,
			Value: fmt.Sprintf("%d%s", res.TokenRequests, gap)},
		{Name: name + ": token requests in flight at once", Target: "<= 1", OK: res.MaxConcurrentFetches <= 1,
			Value: fmt.Sprint(res.MaxConcurrentFetches)},
		{Name: name + ": calls that waited on another's fetch", Target: "0", OK: res.Waited == 0,
			Value: fmt.Sprintf("%d (longest Token call with a token cached: %s; fetch takes >= %s)", res.Waited, dur(res.MaxCachedLatency), dur(r.FetchDelay))},
	}
}

// ConnFigures checks a connection run.
func ConnFigures(r ConnRun, res ConnResult) []Figure {
	return []Figure{
		{Name: fmt.Sprintf("connections: %d sequential calls", r.Sequential), Target: "= 1", OK: res.Sequential == 1,
			Value: fmt.Sprint(res.Sequential)},
		{Name: fmt.Sprintf("connections: %d calls by %d goroutines (1 in 10 a 404)", r.Concurrent, r.Workers),
			Target: fmt.Sprintf("<= %d", r.Workers), OK: res.Concurrent <= r.Workers, Value: fmt.Sprint(res.Concurrent)},
		{Name: fmt.Sprintf("new connections for %d 404 answers", r.NotFound), Target: "0", OK: res.After404 == 0,
			Value: fmt.Sprint(res.After404)},
		{Name: fmt.Sprintf("new connections for %d calls failing 500 after retries", r.Failing), Target: "0", OK: res.After500 == 0,
			Value: fmt.Sprintf("%d (%d attempts)", res.After500, res.Attempts500)},
	}
}

// PagingFigures checks a paging run.
func PagingFigures(r PagingRun, res PagingResult) []Figure {
	pages := float64(res.PeakLiveGrowth) / float64(max(1, res.PageLiveBytes))
	return []Figure{
		{Name: fmt.Sprintf("All over %d clients (default page size)", r.Clients), Target: fmt.Sprintf("= %d", r.Clients),
			OK: res.Walked == r.Clients, Value: fmt.Sprintf("%d clients in %d pages, %s", res.Walked, res.Pages, dur(res.Elapsed))},
		{Name: "All: clients per second", Target: "report", OK: true, Value: fmt.Sprintf("%.0f", res.ClientsPerSec)},
		{Name: "All: peak live heap growth (forced GC)", Target: fmt.Sprintf("<= %d pages", MaxPagesHeld), OK: pages <= MaxPagesHeld,
			Value: fmt.Sprintf("%d B = %.1f pages (a decoded page: %d B; on the wire: %d B)", res.PeakLiveGrowth, pages, res.PageLiveBytes, res.PageWireBytes)},
		{Name: "All: peak heap growth (no forced GC, garbage and fake included)", Target: "report", OK: true,
			Value: fmt.Sprintf("%d B = %.0f wire pages", res.PeakHeapGrowth, float64(res.PeakHeapGrowth)/float64(max(1, res.PageWireBytes)))},
		{Name: "Count: method, body bytes read", Target: "HEAD, 0", OK: res.CountMethod == "HEAD" && res.CountBodyBytes == 0 && res.CountRequests == 1 && res.Count == r.Clients,
			Value: fmt.Sprintf("%s, %d (%d B read from the socket; %d request; count %d)", res.CountMethod, res.CountBodyBytes, res.CountWireBytes, res.CountRequests, res.Count)},
	}
}

// Benchmarks runs the Get, List and Create pairs, each `runs` times, against a fixed
// server and (Get, List) the emulator, with testing.Benchmark.
func Benchmarks(runs int) ([]Figure, error) {
	bodies, err := CaptureBodies()
	if err != nil {
		return nil, err
	}
	f, err := StartFixed(bodies)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fixed, err := FixedSide(f)
	if err != nil {
		return nil, err
	}
	defer fixed.Close()
	emu, stop, err := StartEmulatorSide()
	if err != nil {
		return nil, err
	}
	defer stop()
	var out []Figure
	for _, c := range []struct {
		name string
		op   Op
	}{
		{"Get, fixed server", fixed.GetOp()}, {"Get, emulator", emu.GetOp()},
		{"List 100, fixed server", fixed.ListOp()}, {"List 100, emulator", emu.ListOp()},
		{"Create, fixed server", fixed.CreateOp()},
	} {
		var rs []testing.BenchmarkResult
		for range runs {
			rs = append(rs, testing.Benchmark(func(b *testing.B) { Pair(b, c.op) }))
		}
		out = append(out, PairFigures(c.name, rs)...)
	}
	return out, nil
}

// All runs every measurement and returns the figures; progress goes to log.
func All(ctx context.Context, benchRuns int, log io.Writer) ([]Figure, error) {
	fmt.Fprintln(log, "benchmarks ...")
	figs, err := Benchmarks(benchRuns)
	if err != nil {
		return figs, err
	}
	for _, t := range []struct {
		name string
		run  TokenRun
	}{{"tokens, steady", TokenSteady}, {"tokens, refresh", TokenRefresh}, {"tokens, short lifetime", TokenShort}} {
		fmt.Fprintf(log, "%s (%s) ...\n", t.name, dur(max(t.run.Span, time.Second)))
		res, err := RunTokens(ctx, t.run)
		if err != nil {
			return figs, err
		}
		figs = append(figs, TokenFigures(t.name, t.run, res)...)
	}
	fmt.Fprintln(log, "connections ...")
	cr, err := RunConns(ctx, Conns)
	if err != nil {
		return figs, err
	}
	figs = append(figs, ConnFigures(Conns, cr)...)
	fmt.Fprintln(log, "paging ...")
	pr, err := RunPaging(ctx, Paging)
	if err != nil {
		return figs, err
	}
	figs = append(figs, PagingFigures(Paging, pr)...)
	return AuditAll(ctx, figs, log)
}

// AuditAll runs the tenant-wide audit measurements and appends their figures to figs.
func AuditAll(ctx context.Context, figs []Figure, log io.Writer) ([]Figure, error) {
	fmt.Fprintf(log, "audit, %d clients at 20 ms, concurrency %d (about 35 s) ...\n", AuditLatency.Clients, AuditLatency.Concurrency)
	lr, err := RunAudit(ctx, AuditLatency)
	if err != nil {
		return figs, err
	}
	figs = append(figs, AuditLatencyFigures(AuditLatency, lr)...)
	fmt.Fprintf(log, "audit, %d clients, rate limit %.0f/s (about 30 s) ...\n", AuditRateLimit.Clients, AuditRateLimit.RateLimit)
	rr, err := RunAudit(ctx, AuditRateLimit)
	if err != nil {
		return figs, err
	}
	figs = append(figs, AuditRateFigures(AuditRateLimit, rr)...)
	fmt.Fprintln(log, "audit: live heap at 5,000 and 50,000 clients ...")
	hs, err := RunAudit(ctx, AuditHeapSmall)
	if err != nil {
		return figs, err
	}
	hl, err := RunAudit(ctx, AuditHeapLarge)
	if err != nil {
		return figs, err
	}
	return append(figs, AuditHeapFigures(AuditHeapSmall, AuditHeapLarge, hs, hl)...), nil
}

// Table writes figures as a Markdown table: figure | value | target | ok.
func Table(w io.Writer, figs []Figure) {
	fmt.Fprintln(w, "| figure | value | target | ok |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, f := range figs {
		ok := "yes"
		if !f.OK {
			ok = "**no**"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", f.Name, f.Value, f.Target, ok)
	}
}
