package perf

import (
	"context"
	"fmt"
	"time"

	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// AuditRun describes a tenant-wide audit: an emulator seeded with Clients hybrid clients
// of 1 to 3 secrets each (seed Seed), answering after Latency plus up to Jitter and
// limiting the API to RateLimit requests per second (0: no limit; burst RateBurst), and
// ScanExpiry over it with Concurrency workers, the results counted as they come (as a
// program that reports totals would; nothing is kept per client).
type AuditRun struct {
	Clients     int
	Concurrency int
	Latency     time.Duration
	Jitter      time.Duration
	RateLimit   float64
	RateBurst   int
	Seed        int64
	// HeapEvery, when positive, forces two GCs and reads the live heap every HeapEvery
	// results (mid-scan): what the scan holds. It slows the scan; the timed runs leave it 0.
	HeapEvery int
}

// AuditResult is what an AuditRun measured.
type AuditResult struct {
	Clients, Failed, Secrets int
	// Calls counts the API requests the emulator received during the scan (the page
	// lists, the secret lists, and any 429s and retries); Throttled the 429s among them.
	Calls, Throttled int
	Elapsed          time.Duration
	// PeakLiveGrowth is the most the live heap rose above its level before the scan (the
	// emulator seeded), read every HeapEvery results.
	PeakLiveGrowth int64
}

// The standard audit runs of the command, 1 to 3 secrets per client.
var (
	// AuditLatency: 50,000 clients, 20 ms per request on average (19 ms + up to 2 ms),
	// 32 workers.
	AuditLatency = AuditRun{Clients: 50_000, Concurrency: 32, Latency: 19 * time.Millisecond, Jitter: 2 * time.Millisecond, Seed: 12}
	// AuditRateLimit: 10,000 clients on loopback (no latency: the hardest case for the
	// limit, as one worker alone could send far more than 400 a second), 400 requests a
	// second with a burst of 40, 32 workers.
	AuditRateLimit = AuditRun{Clients: 10_000, Concurrency: 32, RateLimit: 400, RateBurst: 40, Seed: 12}
	// AuditHeapSmall and AuditHeapLarge: the live heap at 5,000 and 50,000 clients.
	AuditHeapSmall = AuditRun{Clients: 5_000, Concurrency: 32, Seed: 12, HeapEvery: 250}
	AuditHeapLarge = AuditRun{Clients: 50_000, Concurrency: 32, Seed: 12, HeapEvery: 2_500}
)

// Targets of the audit figures.
const (
	AuditLatencyTarget   = 1.15 // time / (calls × latency / concurrency)
	AuditRateTimeTarget  = 1.25 // time / (calls / rate)
	AuditThrottleShare   = 0.05 // 429s / requests
	AuditHeapGrowthRatio = 1.5  // peak live heap at 50,000 / at 5,000 clients
)

// apiCalls sums the emulator's API requests (not discovery or token).
func apiCalls(st hybridclientstest.Stats) int {
	n := 0
	for op, c := range st.Requests {
		if op != hybridclientstest.OpDiscovery && op != hybridclientstest.OpToken {
			n += c
		}
	}
	return n
}

// RunAudit runs r.
func RunAudit(ctx context.Context, r AuditRun) (AuditResult, error) {
	var res AuditResult
	srv, err := hybridclientstest.Start(&hybridclientstest.Options{
		MaxClients: r.Clients + 2, // the two identities that sign in count too
		Latency:    r.Latency, LatencyJitter: r.Jitter, Seed: r.Seed,
		RateLimit: r.RateLimit, RateBurst: r.RateBurst,
	})
	if err != nil {
		return res, err
	}
	defer srv.Close()
	if err := srv.SeedClients(r.Clients); err != nil {
		return res, err
	}
	if err := srv.SeedSecrets(1, 3, r.Seed); err != nil {
		return res, err
	}
	c, err := hybridclients.New(srv.Config())
	if err != nil {
		return res, err
	}
	defer c.CloseIdleConnections()
	if _, err := c.Count(ctx, hybridclients.CountOptions{}); err != nil { // a token, a connection
		return res, err
	}
	if r.RateLimit > 0 {
		time.Sleep(time.Duration(float64(r.RateBurst+1) / r.RateLimit * float64(time.Second))) // a full bucket at the start
	}

	st0 := srv.Stats()
	base := int64(0)
	if r.HeapEvery > 0 {
		base = liveHeap()
	}
	start := time.Now()
	for rep, err := range hybridclients.ScanExpiry(ctx, c, 30*24*time.Hour, hybridclients.ScanOptions{Concurrency: r.Concurrency}) {
		if err != nil {
			return res, err
		}
		res.Clients++
		if rep.Err != nil {
			res.Failed++
			continue
		}
		res.Secrets += rep.Value.Len()
		if r.HeapEvery > 0 && res.Clients%r.HeapEvery == r.HeapEvery/2 {
			res.PeakLiveGrowth = max(res.PeakLiveGrowth, liveHeap()-base)
		}
	}
	res.Elapsed = time.Since(start)
	st := srv.Stats()
	res.Calls = apiCalls(st) - apiCalls(st0)
	res.Throttled = st.Throttled - st0.Throttled
	if res.Clients != r.Clients {
		return res, fmt.Errorf("perf: the audit saw %d clients, want %d", res.Clients, r.Clients)
	}
	return res, nil
}

// AuditLatencyFigures checks the latency run: time against calls × latency / concurrency.
func AuditLatencyFigures(r AuditRun, res AuditResult) []Figure {
	mean := r.Latency + r.Jitter/2
	ideal := time.Duration(res.Calls) * mean / time.Duration(r.Concurrency)
	ratio := res.Elapsed.Seconds() / ideal.Seconds()
	seq := time.Duration(res.Calls) * mean
	return []Figure{{
		Name:   fmt.Sprintf("audit, %d ms latency: time / ideal", mean.Milliseconds()),
		Target: fmt.Sprintf("<= %.2f", AuditLatencyTarget), OK: ratio <= AuditLatencyTarget && res.Failed == 0,
		Value: fmt.Sprintf("%.3f (%d clients, %d failed, %d calls in %s at concurrency %d; ideal %s = calls × %s / %d; sequential %s, computed as calls × %s)",
			ratio, res.Clients, res.Failed, res.Calls, dur(res.Elapsed), r.Concurrency, dur(ideal), mean, r.Concurrency, minutes(seq), mean),
	}}
}

// AuditRateFigures checks the rate-limited run.
func AuditRateFigures(r AuditRun, res AuditResult) []Figure {
	name := fmt.Sprintf("audit, rate limit %.0f/s: ", r.RateLimit)
	share := float64(res.Throttled) / float64(max(1, res.Calls))
	ideal := time.Duration(float64(res.Calls-res.Throttled) / r.RateLimit * float64(time.Second))
	ratio := res.Elapsed.Seconds() / ideal.Seconds()
	return []Figure{
		{Name: name + "failed clients", Target: "= 0", OK: res.Failed == 0,
			Value: fmt.Sprintf("%d of %d (concurrency %d, loopback, burst %d)", res.Failed, res.Clients, r.Concurrency, r.RateBurst)},
		{Name: name + "429 share", Target: fmt.Sprintf("<= %.0f%%", AuditThrottleShare*100), OK: share <= AuditThrottleShare,
			Value: fmt.Sprintf("%.2f%% (%d of %d requests)", share*100, res.Throttled, res.Calls)},
		{Name: name + "time / ideal", Target: fmt.Sprintf("<= %.2f", AuditRateTimeTarget), OK: ratio <= AuditRateTimeTarget,
			Value: fmt.Sprintf("%.3f (%s; ideal %s = %d calls answered / %.0f per second)", ratio, dur(res.Elapsed), dur(ideal), res.Calls-res.Throttled, r.RateLimit)},
	}
}

// AuditHeapFigures compares the live heap of a scan at two tenant sizes.
func AuditHeapFigures(small, large AuditRun, rs, rl AuditResult) []Figure {
	ratio := float64(rl.PeakLiveGrowth) / float64(max(1, rs.PeakLiveGrowth))
	return []Figure{
		{Name: fmt.Sprintf("audit: peak live heap, %d clients", small.Clients), Target: "report", OK: rs.Failed == 0,
			Value: fmt.Sprintf("%d B (concurrency %d, read every %d clients, forced GC)", rs.PeakLiveGrowth, small.Concurrency, small.HeapEvery)},
		{Name: fmt.Sprintf("audit: peak live heap, %d clients", large.Clients),
			Target: fmt.Sprintf("<= %.1f × the %d-client figure", AuditHeapGrowthRatio, small.Clients), OK: ratio <= AuditHeapGrowthRatio && rl.Failed == 0,
			Value: fmt.Sprintf("%d B = %.2f × (read every %d clients)", rl.PeakLiveGrowth, ratio, large.HeapEvery)},
	}
}

func minutes(d time.Duration) string {
	if d >= time.Minute {
		return fmt.Sprintf("%.1f min", d.Minutes())
	}
	return dur(d)
}
