package hybridclients_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
	"go.uber.org/goleak"
)

// scanServer is a fake tenant of n clients with 1 to 3 secrets each.
func scanServer(t *testing.T, n int, opts *hybridclientstest.Options) (*hybridclientstest.Server, *hybridclients.Client) {
	t.Helper()
	if opts == nil {
		opts = &hybridclientstest.Options{}
	}
	opts.MaxClients = n + 2
	srv := hybridclientstest.NewServer(t, opts)
	if err := srv.SeedClients(n); err != nil {
		t.Fatal(err)
	}
	if err := srv.SeedSecrets(1, 3, 7); err != nil {
		t.Fatal(err)
	}
	c, err := hybridclients.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return srv, c
}

func apiRequests(st hybridclientstest.Stats) int {
	n := 0
	for op, c := range st.Requests {
		if op != hybridclientstest.OpToken && op != hybridclientstest.OpDiscovery {
			n += c
		}
	}
	return n
}

// noLeak checks, when the test ends, that no goroutine it started is left.
func noLeak(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

func TestScanExpiryEveryClientOnce(t *testing.T) {
	noLeak(t)
	srv, c := scanServer(t, 450, nil)
	seen := map[string]bool{}
	secretsSeen, last := 0, hybridclients.Progress{}
	opts := hybridclients.ScanOptions{Concurrency: 6, OnProgress: func(p hybridclients.Progress) {
		if p.Done != last.Done+1 || p.Total != 450 {
			t.Errorf("progress %+v after %+v", p, last)
		}
		last = p
	}}
	for r, err := range hybridclients.ScanExpiry(context.Background(), c, 30*24*time.Hour, opts) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Err != nil || seen[r.Client.ID] {
			t.Fatalf("client %s: %v (seen before: %v)", r.Client.ID, r.Err, seen[r.Client.ID])
		}
		seen[r.Client.ID] = true
		n := r.Value.Len()
		if want := len(srv.SecretIDs(r.Client.ID)); n != want || n < 1 || n > 3 {
			t.Errorf("client %s: %d secrets classified, the fake has %d", r.Client.ID, n, want)
		}
		secretsSeen += n
	}
	if len(seen) != 450 || last.Done != 450 || last.Failed != 0 {
		t.Fatalf("%d clients seen; last progress %+v", len(seen), last)
	}
	st := srv.Stats()
	if lists, per := st.Requests[hybridclientstest.OpListClients], st.Requests[hybridclientstest.OpListSecrets]; lists != 5 || per != 450 {
		t.Errorf("%d page lists, %d secret lists; want 5 and 450", lists, per)
	}
	t.Logf("450 clients, %d secrets", secretsSeen)
}

// With one worker, completion order is list order; with several, a slow client finishes
// after faster ones listed later.
func TestEachCompletionOrder(t *testing.T) {
	noLeak(t)
	srv, c := scanServer(t, 20, nil)
	first := srv.Clients()[0].ID
	work := func(ctx context.Context, hc hybridclients.HybridClient) (string, error) {
		if hc.ID == first {
			select {
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
			}
		}
		return hc.Name, nil
	}
	order := func(conc int) []string {
		var names []string
		for r, err := range hybridclients.Each(context.Background(), c, hybridclients.ScanOptions{Concurrency: conc}, work) {
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, r.Value)
		}
		return names
	}
	if got := order(1); got[0] != "seed-000001" || got[19] != "seed-000020" {
		t.Errorf("one worker: %v", got)
	}
	if got := order(4); got[0] == "seed-000001" || got[19] != "seed-000001" || len(got) != 20 {
		t.Errorf("four workers: %v; want the slow first client last", got)
	}
}

func TestEachEarlyBreakStopsEverything(t *testing.T) {
	noLeak(t)
	srv, c := scanServer(t, 2000, &hybridclientstest.Options{Latency: 5 * time.Millisecond})
	var started atomic.Int32
	work := func(ctx context.Context, hc hybridclients.HybridClient) (int, error) {
		started.Add(1)
		return c.Secrets().Count(ctx, hc.ID)
	}
	n := 0
	for _, err := range hybridclients.Each(context.Background(), c, hybridclients.ScanOptions{Concurrency: 8}, work) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 5 {
			break
		}
	}
	// Each has returned: its goroutines are gone (noLeak), and the walk did not run ahead
	// of the workers: at most the first pages were listed.
	after := started.Load()
	time.Sleep(50 * time.Millisecond)
	if started.Load() != after {
		t.Error("work went on after the loop was left")
	}
	if lists := srv.Stats().Requests[hybridclientstest.OpListClients]; lists > 3 {
		t.Errorf("%d pages listed for 5 results of 2000 clients", lists)
	}
	if after > 5+8+8 {
		t.Errorf("%d clients started for 5 results with 8 workers", after)
	}
}

func TestEachCancelEndsAtOnce(t *testing.T) {
	noLeak(t)
	// One secrets list in ten hangs for 10 s: at the cancel, some are in flight that
	// waiting for would hold the scan for seconds after it.
	srv, c := scanServer(t, 1000, nil)
	srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpListSecrets, Delay: 10 * time.Second, EveryNth: 10})
	ctx, cancel := context.WithCancel(context.Background())
	var cancelled atomic.Int64
	time.AfterFunc(time.Second, func() { cancelled.Store(time.Now().UnixNano()); cancel() })
	var last error
	results := 0
	for _, err := range hybridclients.ScanExpiry(ctx, c, time.Hour, hybridclients.ScanOptions{Concurrency: 16}) {
		if err != nil {
			last = err
			continue
		}
		results++
	}
	// The requests in flight are cancelled, not waited for.
	if d := time.Since(time.Unix(0, cancelled.Load())); d > 500*time.Millisecond {
		t.Errorf("the scan ended %v after it was cancelled, with requests in flight that hang for 10 s", d)
	}
	if !errors.Is(last, context.Canceled) || results == 0 || results >= 1000 {
		t.Fatalf("last error %v after %d results", last, results)
	}
	t.Log(last)
}

// A client whose work fails is a Result with Err; the scan goes on.
func TestEachFailedClientDoesNotStopTheScan(t *testing.T) {
	noLeak(t)
	srv, c := scanServer(t, 120, nil)
	srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpListSecrets, Status: http.StatusNotFound, EveryNth: 40})
	failed, ok, lastFailed := 0, 0, 0
	for r, err := range hybridclients.ScanExpiry(context.Background(), c, time.Hour, hybridclients.ScanOptions{
		OnProgress: func(p hybridclients.Progress) { lastFailed = p.Failed },
	}) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Err != nil {
			if !errors.Is(r.Err, identity.ErrNotFound) || r.Client.ID == "" {
				t.Errorf("client %q: %v", r.Client.ID, r.Err)
			}
			failed++
			continue
		}
		ok++
	}
	if failed != 3 || ok != 117 || lastFailed != 3 {
		t.Fatalf("%d failed, %d ok, progress says %d failed", failed, ok, lastFailed)
	}
}

// A failed list ends the scan with its error, once the clients already listed are done.
func TestEachListFailureEndsTheScan(t *testing.T) {
	noLeak(t)
	srv, c := scanServer(t, 250, nil)
	srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpListClients, Status: http.StatusForbidden, EveryNth: 2})
	results := 0
	var last error
	for _, err := range hybridclients.ScanExpiry(context.Background(), c, time.Hour, hybridclients.ScanOptions{}) {
		if err != nil {
			last = err
			continue
		}
		results++
	}
	if !errors.Is(last, identity.ErrForbidden) || results != 100 {
		t.Fatalf("%d results, then %v; want the first page's 100, then a 403", results, last)
	}
}

func TestScanOptionsValidated(t *testing.T) {
	noLeak(t)
	srv, c := scanServer(t, 10, nil)
	before := apiRequests(srv.Stats())
	for _, tc := range []struct {
		opts   hybridclients.ScanOptions
		within time.Duration
		field  string
	}{
		{hybridclients.ScanOptions{Concurrency: -1}, 0, "Concurrency"},
		{hybridclients.ScanOptions{Concurrency: hybridclients.MaxConcurrency + 1}, 0, "Concurrency"},
		{hybridclients.ScanOptions{List: hybridclients.ListOptions{Skip: -1}}, 0, "List.Skip"},
		{hybridclients.ScanOptions{List: hybridclients.ListOptions{Tags: []string{" "}}}, 0, "List.Tags[0]"},
		{hybridclients.ScanOptions{}, -time.Hour, "Within"},
	} {
		var errs []error
		for _, err := range hybridclients.ScanExpiry(context.Background(), c, tc.within, tc.opts) {
			errs = append(errs, err)
		}
		ves := identity.ValidationErrors(errors.Join(errs...))
		if len(errs) != 1 || !errors.Is(errs[0], identity.ErrInvalidInput) || len(ves) != 1 || ves[0].Field != tc.field {
			t.Errorf("%+v within %v: %v; want one ValidationError of %s", tc.opts, tc.within, errs, tc.field)
			continue
		}
		t.Log(errs[0])
	}
	for _, err := range hybridclients.Each[int](context.Background(), c, hybridclients.ScanOptions{}, nil) {
		if ves := identity.ValidationErrors(err); len(ves) != 1 || ves[0].Field != "Work" {
			t.Errorf("nil work: %v", err)
		}
	}
	if n := apiRequests(srv.Stats()) - before; n != 0 {
		t.Errorf("%d requests sent for invalid options", n)
	}
}

// A rate-limited tenant is scanned with zero failed clients: the scan slows down to the
// service's rate instead of failing after the SDK's retries.
func TestScanRateLimitedNoFailures(t *testing.T) {
	noLeak(t)
	if testing.Short() {
		t.Skip("a few seconds at the emulator's rate limit")
	}
	const clients, perSecond = 600, 200
	srv, c := scanServer(t, clients, &hybridclientstest.Options{RateLimit: perSecond, RateBurst: 20})
	before := apiRequests(srv.Stats())
	var last hybridclients.Progress
	failed := 0
	start := time.Now()
	for r, err := range hybridclients.ScanExpiry(context.Background(), c, time.Hour, hybridclients.ScanOptions{
		Concurrency: 32, OnProgress: func(p hybridclients.Progress) { last = p },
	}) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Err != nil {
			failed++
			t.Errorf("client %s: %v", r.Client.ID, r.Err)
		}
	}
	elapsed := time.Since(start)
	st := srv.Stats()
	calls := apiRequests(st) - before
	t.Logf("%d clients in %v: %d requests, %d answered 429; the scan's rate at the end %.0f/s, concurrency %d",
		clients, elapsed, calls, st.Throttled, last.Rate, last.Concurrency)
	if failed != 0 || last.Done != clients {
		t.Fatalf("%d failed clients of %d done", failed, last.Done)
	}
	if st.Throttled == 0 || last.Throttled == 0 || last.Rate == 0 {
		t.Errorf("the fake throttled %d, the scan saw %d and has rate %v: the limit was not met, nothing was tested", st.Throttled, last.Throttled, last.Rate)
	}
	// Without the scan's own limit, 32 workers on loopback would meet a 429 for most
	// requests past the burst, and the SDK's retries alone would fail clients. The start
	// (32 requests at once into a bucket of 20) weighs much in so short a run, and more
	// under -race on a loaded machine; the perf command holds a 10,000-client run to 5%.
	if share := float64(st.Throttled) / float64(calls); share > 0.25 {
		t.Errorf("%.1f%% of requests answered 429", share*100)
	}
}

// 429s without Retry-After and 503s lower the scan's limits too, and every client still
// succeeds through the SDK's retries.
func TestScanAdaptsTo503And429WithoutRetryAfter(t *testing.T) {
	noLeak(t)
	srv, c := scanServer(t, 200, nil)
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			remove := srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpListSecrets, Status: status, EveryNth: 25})
			defer remove()
			var last hybridclients.Progress
			var mu sync.Mutex
			for r, err := range hybridclients.ScanExpiry(context.Background(), c, time.Hour, hybridclients.ScanOptions{
				Concurrency: 16, OnProgress: func(p hybridclients.Progress) { mu.Lock(); last = p; mu.Unlock() },
			}) {
				if err != nil {
					t.Fatal(err)
				}
				if r.Err != nil {
					t.Errorf("client %s: %v", r.Client.ID, r.Err)
				}
			}
			if last.Done != 200 || last.Throttled < 8 || last.Rate == 0 {
				t.Errorf("progress %+v: want 200 done, 8 throttles seen and a rate limit set", last)
			}
		})
	}
}

// While the loop is busy, the workers wait and the walk lists no further page: what the
// scan holds is bounded by the concurrency and the page size, not by the tenant.
func TestEachWaitsForASlowLoop(t *testing.T) {
	noLeak(t)
	srv, c := scanServer(t, 5000, nil)
	var started atomic.Int32
	work := func(ctx context.Context, hc hybridclients.HybridClient) (string, error) {
		started.Add(1)
		return hc.ID, nil
	}
	n := 0
	for _, err := range hybridclients.Each(context.Background(), c, hybridclients.ScanOptions{Concurrency: 4}, work) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 1 {
			time.Sleep(300 * time.Millisecond) // the loop is busy; the tenant is 5,000 clients
			// 4 workers, 4 results waiting, 104 clients queued, one page being handed out.
			if s, lists := started.Load(), srv.Stats().Requests[hybridclientstest.OpListClients]; s > 4+4+1 || lists > 3 {
				t.Errorf("while the loop was busy: %d clients worked on, %d pages listed", s, lists)
			}
		}
		if n == 10 {
			break
		}
	}
}

// recovered runs the loop of seq and returns what a deferred recover in the loop's own
// goroutine sees.
func recovered[T any](seq iter.Seq2[T, error]) (r any) {
	defer func() { r = recover() }()
	for range seq {
	}
	return nil
}

// A panic in work reaches the goroutine of the loop, where recover sees it, as a
// *PanicError with the value and the stack; the rest of the scan is stopped first.
func TestEachCarriesAWorkPanicToTheLoop(t *testing.T) {
	noLeak(t)
	srv, c := scanServer(t, 300, nil)
	target := srv.Clients()[37].ID
	errBoom := errors.New("boom")
	var started atomic.Int32
	work := func(ctx context.Context, hc hybridclients.HybridClient) (int, error) {
		started.Add(1)
		if hc.ID == target {
			panic(fmt.Errorf("counting: %w", errBoom))
		}
		return c.Secrets().Count(ctx, hc.ID)
	}
	got := recovered(hybridclients.Each(context.Background(), c, hybridclients.ScanOptions{Concurrency: 8}, work))
	pe, ok := got.(*hybridclients.PanicError)
	if !ok {
		t.Fatalf("recovered %#v, want a *PanicError", got)
	}
	if err, _ := pe.Value.(error); pe.ClientID != target || !errors.Is(pe, errBoom) || err == nil || err.Error() != "counting: boom" {
		t.Errorf("PanicError for %q with value %#v; want %s and the error work panicked with", pe.ClientID, pe.Value, target)
	}
	// The stack is the worker's, at the panic: it names the work function.
	if !strings.Contains(string(pe.Stack), "TestEachCarriesAWorkPanicToTheLoop.func") || !strings.Contains(pe.Error(), "counting: boom") ||
		!strings.Contains(pe.Error(), string(pe.Stack)) || !strings.Contains(pe.Error(), target) {
		t.Errorf("Error() = %q; want the client, the value and the worker's stack", pe.Error())
	}
	after := started.Load()
	time.Sleep(50 * time.Millisecond)
	if started.Load() != after || after >= 300 {
		t.Errorf("%d clients started, %d after the panic reached the loop: the scan went on", after, started.Load())
	}
}

func TestEachCarriesAPanicValueThatIsNotAnError(t *testing.T) {
	noLeak(t)
	_, c := scanServer(t, 20, nil)
	got := recovered(hybridclients.Each(context.Background(), c, hybridclients.ScanOptions{},
		func(context.Context, hybridclients.HybridClient) (int, error) { panic("boom") }))
	pe, ok := got.(*hybridclients.PanicError)
	if !ok || pe.Value != "boom" || pe.Unwrap() != nil {
		t.Fatalf("recovered %#v, want a *PanicError of \"boom\"", got)
	}
}

// runtime.Goexit in work (t.FailNow, say) ends the loop's goroutine too, as it would have
// ended the caller's had work run there: no client's result is silently lost.
func TestEachCarriesGoexitToTheLoop(t *testing.T) {
	noLeak(t)
	srv, c := scanServer(t, 50, nil)
	target := srv.Clients()[5].ID
	var afterLoop, deferred atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer deferred.Store(true)
		for range hybridclients.Each(context.Background(), c, hybridclients.ScanOptions{Concurrency: 4},
			func(_ context.Context, hc hybridclients.HybridClient) (int, error) {
				if hc.ID == target {
					runtime.Goexit()
				}
				return 0, nil
			}) {
		}
		afterLoop.Store(true)
	}()
	<-done
	if afterLoop.Load() || !deferred.Load() {
		t.Fatalf("after the loop reached: %v, deferred calls run: %v; want the goroutine ended by Goexit", afterLoop.Load(), deferred.Load())
	}
}

// A secret that work panics with is carried as it is, and shown redacted.
func TestPanicErrorNeverShowsASecret(t *testing.T) {
	noLeak(t)
	_, c := scanServer(t, 3, nil)
	const value = "hc-secret-value-6f1e2d3c"
	got := recovered(hybridclients.Each(context.Background(), c, hybridclients.ScanOptions{},
		func(context.Context, hybridclients.HybridClient) (int, error) { panic(identity.NewSecret(value)) }))
	pe, ok := got.(*hybridclients.PanicError)
	if !ok {
		t.Fatalf("recovered %#v, want a *PanicError", got)
	}
	if s, ok := pe.Value.(identity.Secret); !ok || s.Reveal() != value {
		t.Errorf("Value = %#v, want the Secret work panicked with", pe.Value)
	}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Error("scan", "err", pe, "panic", got)
	js, err := json.Marshal(pe)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{pe.Error(), fmt.Sprint(pe), fmt.Sprintf("%+v", pe), fmt.Sprintf("%#v", pe), fmt.Sprintf("%s", pe), string(js), logs.String()} {
		if strings.Contains(s, value) {
			t.Errorf("the secret is shown in %q", s)
		}
	}
}

// A nil context, a nil or zero Client, and every other broken rule are one error, before
// any request: never a panic.
func TestScanArgumentsAreErrorsNotPanics(t *testing.T) {
	noLeak(t)
	srv, c := scanServer(t, 10, nil)
	before := apiRequests(srv.Stats())
	var nilCtx context.Context
	work := func(context.Context, hybridclients.HybridClient) (int, error) { return 0, nil }
	expiry := func(c *hybridclients.Client, ctx context.Context, within time.Duration, opts hybridclients.ScanOptions) iter.Seq2[hybridclients.Result[secrets.ExpiryReport], error] {
		return hybridclients.ScanExpiry(ctx, c, within, opts)
	}
	for _, tc := range []struct {
		name   string
		errs   func() []error
		fields []string
	}{
		{"Each, nil ctx", func() []error { return errorsOf(hybridclients.Each(nilCtx, c, hybridclients.ScanOptions{}, work)) }, []string{"Ctx"}},
		{"ScanExpiry, nil ctx", func() []error { return errorsOf(expiry(c, nilCtx, time.Hour, hybridclients.ScanOptions{})) }, []string{"Ctx"}},
		{"ScanExpiry, nil ctx and negative within", func() []error { return errorsOf(expiry(c, nilCtx, -time.Hour, hybridclients.ScanOptions{})) }, []string{"Ctx", "Within"}},
		{"Each, everything wrong", func() []error {
			return errorsOf(hybridclients.Each[int](nilCtx, nil, hybridclients.ScanOptions{Concurrency: -1}, nil))
		}, []string{"hybridclients.Client", "Ctx", "Concurrency", "Work"}},
		{"ScanExpiry, nil Client", func() []error {
			return errorsOf(expiry(nil, context.Background(), time.Hour, hybridclients.ScanOptions{}))
		}, []string{"hybridclients.Client"}},
		{"ScanExpiry, zero Client", func() []error {
			return errorsOf(expiry(&hybridclients.Client{}, context.Background(), time.Hour, hybridclients.ScanOptions{}))
		}, []string{"hybridclients.Client"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errs []error
			if r := recovered(func(yield func(int, error) bool) { errs = tc.errs() }); r != nil {
				t.Fatalf("panicked: %v", r)
			}
			var fields []string
			for _, ve := range identity.ValidationErrors(errors.Join(errs...)) {
				fields = append(fields, ve.Field)
			}
			if len(errs) != 1 || !errors.Is(errs[0], identity.ErrInvalidInput) || !slices.Equal(fields, tc.fields) {
				t.Fatalf("%v (fields %v); want one error of the fields %v", errs, fields, tc.fields)
			}
		})
	}
	if n := apiRequests(srv.Stats()) - before; n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func errorsOf[T any](seq iter.Seq2[T, error]) []error {
	var errs []error
	for _, err := range seq {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// A page size past a tenant's 50,000 clients (math.MaxInt made the scan's queue panic,
// math.MaxInt32 made it ask for hundreds of GB) is an error of List, All, Each and
// ScanExpiry before any request; 50,000 itself lists a small tenant in one page.
func TestHugePageSizeIsAnError(t *testing.T) {
	noLeak(t)
	srv, c := scanServer(t, 5, nil)
	ctx := context.Background()
	before := apiRequests(srv.Stats())
	work := func(context.Context, hybridclients.HybridClient) (int, error) { return 0, nil }
	for _, size := range []int{math.MaxInt, math.MaxInt32, 50_001} {
		list := hybridclients.ListOptions{PageSize: size}
		scan := hybridclients.ScanOptions{List: list}
		for name, errs := range map[string]func() []error{
			"List": func() []error {
				_, err := c.List(ctx, list)
				return []error{err}
			},
			"All":        func() []error { return errorsOf(c.All(ctx, list)) },
			"Each":       func() []error { return errorsOf(hybridclients.Each(ctx, c, scan, work)) },
			"ScanExpiry": func() []error { return errorsOf(hybridclients.ScanExpiry(ctx, c, time.Hour, scan)) },
		} {
			var got []error
			if r := recovered(func(func(int, error) bool) { got = errs() }); r != nil {
				t.Fatalf("%s, PageSize %d: panicked: %v", name, size, r)
			}
			ves := identity.ValidationErrors(errors.Join(got...))
			if len(got) != 1 || len(ves) != 1 || !strings.HasSuffix(ves[0].Field, "PageSize") || ves[0].Value != size {
				t.Errorf("%s, PageSize %d: %v; want one ValidationError of PageSize", name, size, got)
			}
		}
	}
	if n := apiRequests(srv.Stats()) - before; n != 0 {
		t.Errorf("%d requests sent", n)
	}
	n := 0
	for _, err := range hybridclients.Each(ctx, c, hybridclients.ScanOptions{List: hybridclients.ListOptions{PageSize: 50_000}}, work) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if lists := srv.Stats().Requests[hybridclientstest.OpListClients]; n != 5 || lists != 1 {
		t.Errorf("PageSize 50,000: %d clients in %d pages, want 5 in 1", n, lists)
	}
}

// The scan's queue does not follow the page size: a scan of 5 clients in pages of 50,000
// allocates what a scan of 5 clients does, not a queue for 50,000.
func TestEachQueueDoesNotFollowThePageSize(t *testing.T) {
	noLeak(t)
	_, c := scanServer(t, 5, nil)
	work := func(context.Context, hybridclients.HybridClient) (int, error) { return 0, nil }
	allocated := func(size int) uint64 {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for _, err := range hybridclients.Each(context.Background(), c, hybridclients.ScanOptions{List: hybridclients.ListOptions{PageSize: size}}, work) {
			if err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&m1)
		return m1.TotalAlloc - m0.TotalAlloc
	}
	small, large := allocated(0), allocated(50_000)
	t.Logf("allocated by a scan of 5 clients: %d B in pages of 100, %d B in pages of 50,000", small, large)
	if large > 2*small+256<<10 {
		t.Errorf("pages of 50,000 allocate %d B, pages of 100 %d B", large, small)
	}
}

// listHook calls before ahead of every list of clients it sends (GET .../HybridClients),
// with the list's skip: a moment when a scan is between two pages.
type listHook struct {
	base   *http.Transport
	before func(skip int)
}

func (h *listHook) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/HybridClients") {
		skip, _ := strconv.Atoi(r.URL.Query().Get("skip"))
		h.before(skip)
	}
	return h.base.RoundTrip(r)
}

func (h *listHook) CloseIdleConnections() { h.base.CloseIdleConnections() }

// Clients deleted before the scan's place (the list moves back under it), deleted ahead
// of it, and created, between every two pages: every client that stays is worked on
// exactly once, and no client twice.
func TestEachVisitsEveryClientThatStaysExactlyOnce(t *testing.T) {
	noLeak(t)
	const n, pageSize = 600, 25
	ctx := context.Background()
	srv := hybridclientstest.NewServer(t, &hybridclientstest.Options{MaxClients: n + 500})
	if err := srv.SeedClients(n); err != nil {
		t.Fatal(err)
	}
	admin, err := hybridclients.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.CloseIdleConnections)
	original := map[string]bool{}
	for _, r := range srv.Clients() {
		original[r.ID] = true
	}
	rng := rand.New(rand.NewPCG(15, 7))
	deleted := map[string]bool{}
	lists, behind := 0, 0
	remove := func(id string) {
		if err := admin.Delete(ctx, id); err != nil {
			t.Error(err)
		}
		deleted[id] = true
	}
	hook := &listHook{base: http.DefaultTransport.(*http.Transport).Clone(), before: func(skip int) {
		lists++
		ids := srv.Clients()
		if skip == 0 || skip >= len(ids) {
			return
		}
		for range 6 { // listed already
			i := rng.IntN(skip)
			remove(ids[i].ID)
			ids = slices.Delete(ids, i, i+1)
			skip--
			behind++
		}
		for range 2 { // not listed yet
			if ahead := len(ids) - skip - pageSize; ahead > 0 {
				i := skip + pageSize + rng.IntN(ahead)
				remove(ids[i].ID)
				ids = slices.Delete(ids, i, i+1)
			}
		}
		for range 3 {
			if _, err := admin.Create(ctx, hybridclients.CreateRequest{Name: "created mid-scan", RedirectURIs: []string{"https://app.example.com/cb"}}); err != nil {
				t.Error(err)
			}
		}
	}}
	cfg := srv.Config()
	cfg.HTTPClient = &http.Client{Transport: hook}
	c, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)

	visits := map[string]int{}
	work := func(context.Context, hybridclients.HybridClient) (int, error) { return 0, nil }
	for r, err := range hybridclients.Each(ctx, c, hybridclients.ScanOptions{Concurrency: 4, List: hybridclients.ListOptions{PageSize: pageSize}}, work) {
		if err != nil {
			t.Fatal(err)
		}
		visits[r.Client.ID]++
	}
	missed := 0
	for id := range original {
		if !deleted[id] && visits[id] != 1 {
			missed++
			t.Errorf("client %s, there throughout, worked on %d times", id, visits[id])
		}
	}
	for id, v := range visits {
		if v > 1 {
			t.Errorf("client %s worked on %d times", id, v)
		}
	}
	t.Logf("%d clients at the start, %d deleted (%d already listed), %d created; %d worked on in %d lists; %d missed",
		n, len(deleted), behind, len(srv.Clients())-n+len(deleted), len(visits), lists, missed)
	if behind == 0 {
		t.Fatal("no client was deleted behind the scan: nothing was tested")
	}
}
