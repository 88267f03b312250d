// Command perf runs the SDK's performance measurements (overhead next to hand-written
// net/http, token reuse, connection reuse, paging at scale, tenant-wide audits at a 20 ms
// latency and at a rate limit, and their heap) and prints a table of the figures against
// their targets. It takes about three minutes (-audit-only: about one and a half).
//
//	go run ./internal/harness/perf/cmd/perf [-runs 3] [-audit-only]
//
// It exits 1 when a figure misses its target.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/ocs-go/identity/internal/harness/perf"
)

// loadavg returns the first three fields of /proc/loadavg (other load on the machine
// skews the time ratios), or "unknown".
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

func main() {
	testing.Init() // testing.Benchmark reads the test flags' defaults
	runs := flag.Int("runs", 3, "runs of each benchmark pair (the median time ratio is reported)")
	auditOnly := flag.Bool("audit-only", false, "run only the audit measurements")
	flag.Parse()
	fmt.Fprintf(os.Stderr, "%s %s/%s, %d CPUs, load average %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadavg())
	run := func(ctx context.Context) ([]perf.Figure, error) { return perf.All(ctx, *runs, os.Stderr) }
	if *auditOnly {
		run = func(ctx context.Context) ([]perf.Figure, error) { return perf.AuditAll(ctx, nil, os.Stderr) }
	}
	figs, err := run(context.Background())
	fmt.Fprintf(os.Stderr, "load average %s\n", loadavg())
	perf.Table(os.Stdout, figs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(2)
	}
	for _, f := range figs {
		if !f.OK {
			os.Exit(1)
		}
	}
}
