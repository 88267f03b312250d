package hybridclients

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/telemetry"
	"github.com/ocs-go/identity/internal/transport"
	"github.com/ocs-go/identity/secrets"
)

// Concurrency of a scan (ScanOptions.Concurrency).
const (
	// DefaultConcurrency is the number of clients a scan works on at once when
	// ScanOptions.Concurrency is zero. Eight workers at a 20 ms round trip (a nearby
	// region) send about 400 requests a second: a 50,000-client audit in two minutes
	// instead of seventeen, while using an eighth of the default transport's 64
	// connections and leaving room for the rest of the program. More helps only across a
	// longer round trip; a service that wants fewer says so with 429s, which a scan
	// follows (see Each).
	DefaultConcurrency = 8
	// MaxConcurrency is the largest ScanOptions.Concurrency. Past 64 the default transport
	// queues for a connection: pass your own Config.HTTPClient to go further.
	MaxConcurrency = 256
)

// ScanOptions tune a tenant-wide scan: Each, ScanExpiry. The zero value walks every
// client with DefaultConcurrency workers.
type ScanOptions struct {
	// List selects the clients and the page size of the walk (IDs, Tags, Skip, PageSize).
	List ListOptions
	// Concurrency is how many clients are worked on at once, at most: 1 to
	// MaxConcurrency; 0 means DefaultConcurrency. The scan lowers it, and its request
	// rate, while the service throttles (see Each).
	Concurrency int
	// OnProgress, when set, is called before each result is yielded, on the goroutine
	// of the loop, so it may update a progress bar without locking.
	OnProgress func(Progress)
}

// Progress is how far a scan has come, for a progress bar.
type Progress struct {
	// Done counts the clients whose result was yielded (failed ones included), this one
	// included; Failed the ones whose work returned an error.
	Done, Failed int
	// Total is the number of clients to scan: the service's Total-Count of the first
	// page, minus ListOptions.Skip (with ListOptions.IDs, the clients the list returned);
	// clients created during the scan are not in it.
	Total int
	// Throttled counts the 429 and 503 answers the scan has met so far (each was retried
	// by the SDK as any call is).
	Throttled int
	// Rate is the scan's own limit in requests per second, 0 while it has none (until the
	// service first throttles); Concurrency its current limit of clients in flight.
	Rate        float64
	Concurrency int
	// Waiting counts, in ApplyRotations, the clients whose new secret is stored and waits
	// for the identity server to accept it: they are not Done yet. ApplyRotations reports
	// progress also as each begins to wait. Zero in other scans.
	Waiting int
}

// Result is the outcome of one client's work in a scan.
type Result[T any] struct {
	// Client is the client the work was done for, as the list gave it.
	Client HybridClient
	// Value is what the work returned; Err its error. A failed client does not end the
	// scan.
	Value T
	Err   error
}

func (o ScanOptions) validate() error {
	var errs []error
	if o.Concurrency < 0 || o.Concurrency > MaxConcurrency {
		errs = append(errs, &identity.ValidationError{Field: "Concurrency",
			Rule: fmt.Sprintf("must be from 1 to %d (0 means the default, %d)", MaxConcurrency, DefaultConcurrency), Value: o.Concurrency})
	}
	for _, ve := range identity.ValidationErrors(o.List.validate()) {
		ve.Field = "List." + ve.Field
		errs = append(errs, ve)
	}
	return errors.Join(errs...)
}

// checkScan returns what is wrong with the arguments of a scan, before any request.
func checkScan(ctx context.Context, c *Client, opts ScanOptions) error {
	return errors.Join(c.ready(), transport.CheckContext(ctx), opts.validate())
}

// PanicError is the value Each and ScanExpiry panic with, on the goroutine of the loop,
// when a function they run on a goroutine of their own panicked (the work function, for
// one client): the scan stops, and the panic reaches the caller, where a deferred recover
// sees it, instead of ending the program from a goroutine no caller can reach. Its Error
// holds the value and the stack of the goroutine that panicked.
type PanicError struct {
	// Value is what the function panicked with: recover's value on its goroutine.
	Value any
	// ClientID is the client whose work panicked; empty for a panic of the scan's own
	// walk of the list (a bug of this SDK).
	ClientID string
	// Stack is the stack of the goroutine that panicked, as runtime/debug.Stack gives it.
	Stack []byte
}

// Error says whose work panicked, with what, and where: the value and the stack.
func (e *PanicError) Error() string {
	who := "the walk of a scan"
	if e.ClientID != "" {
		who = fmt.Sprintf("the work for client %q", e.ClientID) // quoted: the id is the service's text
	}
	return fmt.Sprintf("hybridclients: %s panicked: %v\n\n%s", who, e.Value, e.Stack)
}

// Unwrap returns Value when it is an error, so that errors.Is and errors.As see the error
// that work panicked with.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// panicGrace is how long a scan waits, after a panic, for the work still running to end
// before it carries the panic to the loop. Work that uses its ctx ends at once; work that
// waits on what the panic left behind (a lock never unlocked) may never end, and waiting
// for it would hide the panic in a hang (the reason errgroup stopped carrying panics).
const panicGrace = 5 * time.Second

// Each walks the tenant's clients (those opts.List selects, page by page) and calls work
// for each with opts.Concurrency workers, yielding each client's Result as soon as its
// work is done: in completion order, not list order. A client whose work fails is a
// Result with Err set, and the scan goes on. The error of the sequence is the scan's own,
// and ends it: invalid arguments (before any request: options, a nil ctx or Client, a nil
// work), a failed list (after the clients already listed are done), or ctx ending.
//
// Every client that exists from the start of the scan to its end is worked on exactly
// once, whatever is created or deleted meanwhile; a client created or deleted during the
// scan may be or not, but never twice. The service pages by skip and count only, so the
// scan checks its place itself: each page starts with the last client of the page before,
// and when deletions have moved the list back, the scan reads again from further back
// until a page starts with a client it has met. This holds as long as a create or delete
// moves only the clients after it in the list (the service's paging), and from the start
// of the list: with List.Skip set, the scan starts at what is at that place when it starts.
//
// Breaking out of the loop, or ctx ending, cancels the work in flight at once; the loop
// ends only when every goroutine the scan started has ended. Memory is bounded by the
// concurrency and the page size, plus the id of every client met (about 18 bytes a client:
// 0.9 MB for a tenant's 50,000): the walk lists the next page only as workers take
// clients, and waits while they and the loop are busy.
//
// A panic in work (or a runtime.Goexit, such as t.FailNow) stops the scan: the other work
// is cancelled and, once every goroutine of the scan has ended (or after 5 seconds, for
// work that does not end when its ctx does), the loop's goroutine panics with a
// *PanicError carrying the value and the stack (or calls runtime.Goexit). The first one
// counts; the rest are dropped.
//
// A scan adapts to the service's limits: every request it makes (work's too, through ctx)
// is paced by one limit per scan, which the scan lowers when the service answers 429 or
// 503, and raises again when those stop, as aws-sdk-go-v2's adaptive retry mode and
// Netflix's concurrency-limits do: the request rate drops to 0.7 of what the service
// accepted and climbs back along TCP CUBIC's curve, and the clients in flight drop by a
// tenth per throttle and grow by one per answer, up to Concurrency. Each request is
// still retried as any call is (Config.Retry), so a throttled tenant is scanned slower,
// not with failed clients. work is called from several goroutines at once, and must make
// its calls (through any client of this SDK) with the ctx it is given: that ctx carries
// the scan's limit and ends when the scan stops.
//
//	for r, err := range hybridclients.Each(ctx, clients, hybridclients.ScanOptions{Concurrency: 16},
//		func(ctx context.Context, hc hybridclients.HybridClient) (int, error) {
//			return clients.Secrets().Count(ctx, hc.ID)
//		}) {
//		if err != nil { return err }
//		if r.Err != nil { log.Printf("%s: %v", r.Client.ID, r.Err); continue }
//		fmt.Println(r.Client.Name, r.Value)
//	}
func Each[T any](ctx context.Context, c *Client, opts ScanOptions, work func(ctx context.Context, hc HybridClient) (T, error)) iter.Seq2[Result[T], error] {
	return rules.PrefixedSeq(pkgName, telemetry.Seq2(ctx, c.tel(), "hybridclients.Each", "", func(ctx context.Context) iter.Seq2[Result[T], error] { return each(ctx, c, opts, work) }))
}

func each[T any](ctx context.Context, c *Client, opts ScanOptions, work func(ctx context.Context, hc HybridClient) (T, error)) iter.Seq2[Result[T], error] {
	return func(yield func(Result[T], error) bool) {
		err := checkScan(ctx, c, opts)
		if work == nil {
			err = errors.Join(err, &identity.ValidationError{Field: "Work", Rule: "must not be nil", Value: nil})
		}
		if err != nil {
			yield(Result[T]{}, err)
			return
		}
		(&scan[T]{c: c, opts: opts, work: work}).run(ctx, yield)
	}
}

// eachOf is Each over the given clients instead of a walk of the list: the same workers,
// limits, panics and stopping. The arguments are checked already.
func eachOf[T any](ctx context.Context, c *Client, opts ScanOptions, clients []HybridClient, work func(ctx context.Context, hc HybridClient) (T, error)) iter.Seq2[Result[T], error] {
	return func(yield func(Result[T], error) bool) {
		(&scan[T]{c: c, opts: opts, work: work, fixed: clients}).run(ctx, yield)
	}
}

// scan is one run of Each.
type scan[T any] struct {
	c     *Client
	opts  ScanOptions
	work  func(context.Context, HybridClient) (T, error)
	fixed []HybridClient // eachOf's clients; nil: walk the list

	lim     *adaptive
	total   atomic.Int64
	listErr error // written by the walk before it closes jobs

	cancel  context.CancelFunc
	wg      sync.WaitGroup // the walk and the workers
	stopped bool
	grace   time.Duration // panicGrace unless a test sets it

	// The first panic (or runtime.Goexit) of a goroutine of the scan: failed is closed
	// once panicked or goexit is set.
	failOnce sync.Once
	failed   chan struct{}
	panicked *PanicError
	goexit   bool
}

// queueAhead is how many clients the walk may hand out beyond those the workers hold:
// about a default page, so that it lists the next page while the workers still have a
// page's worth to do. It does not follow ListOptions.PageSize, which may be up to 50,000.
const queueAhead = DefaultPageSize

func (s *scan[T]) run(ctx context.Context, yield func(Result[T], error) bool) {
	n := s.opts.Concurrency
	if n == 0 {
		n = DefaultConcurrency
	}
	s.lim = newAdaptive(n)
	sctx, cancel := context.WithCancel(transport.WithPacer(ctx, s.lim))
	s.cancel, s.failed = cancel, make(chan struct{})
	// Also when the loop's body panics: no goroutine of the scan outlives it.
	defer s.stop()

	// Bounded channels: the walk blocks while the workers are busy, the workers while
	// the loop is.
	jobs := make(chan HybridClient, n+queueAhead)
	results := make(chan Result[T], n)
	s.wg.Add(1 + n)
	go s.walk(sctx, jobs)
	var running atomic.Int32
	running.Store(int32(n))
	for range n {
		go s.worker(sctx, jobs, results, &running)
	}

	var p Progress
	for {
		var r Result[T]
		var ok bool
		select {
		case r, ok = <-results:
		case <-s.failed:
		}
		if !ok || ctx.Err() != nil || s.failedYet() {
			break
		}
		p.Done++
		if r.Err != nil {
			p.Failed++
		}
		if s.opts.OnProgress != nil {
			p.Total = int(s.total.Load())
			p.Rate, p.Concurrency, p.Throttled = s.lim.state()
			s.opts.OnProgress(p)
		}
		if !yield(r, nil) {
			s.finish()
			return
		}
	}
	s.finish()
	switch {
	case ctx.Err() != nil:
		yield(Result[T]{}, fmt.Errorf("scan stopped after %d of %d clients: %w", p.Done, s.total.Load(), ctx.Err()))
	case s.listErr != nil:
		yield(Result[T]{}, fmt.Errorf("scan stopped after %d clients: listing the clients: %w", p.Done, s.listErr))
	}
}

func (s *scan[T]) failedYet() bool {
	select {
	case <-s.failed:
		return true
	default:
		return false
	}
}

// stop cancels the scan and waits for its goroutines, at most panicGrace once one of them
// has panicked.
func (s *scan[T]) stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-s.failed:
	}
	grace := s.grace
	if grace == 0 {
		grace = panicGrace
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// finish stops the scan and carries a panic or runtime.Goexit of one of its goroutines to
// the loop's.
func (s *scan[T]) finish() {
	s.stop()
	switch {
	case s.panicked != nil:
		panic(s.panicked)
	case s.goexit:
		runtime.Goexit()
	}
}

// fail records the first panic (r, recovered) or runtime.Goexit (r nil: a panic(nil)
// recovers as a *runtime.PanicNilError) of a goroutine of the scan, and stops the scan.
// It is called by a deferred function while the goroutine still has its panicking stack.
func (s *scan[T]) fail(clientID string, r any) {
	s.failOnce.Do(func() {
		if r == nil {
			s.goexit = true
		} else {
			s.panicked = &PanicError{Value: r, ClientID: clientID, Stack: debug.Stack()}
		}
		close(s.failed)
	})
	s.cancel()
}

// walk lists the clients page by page and hands them to the workers.
func (s *scan[T]) walk(ctx context.Context, jobs chan<- HybridClient) {
	defer s.wg.Done()
	defer close(jobs)
	returned := false
	defer func() {
		if !returned {
			s.fail("", recover())
		}
	}()
	s.list(ctx, jobs)
	returned = true
}

func (s *scan[T]) list(ctx context.Context, jobs chan<- HybridClient) {
	if s.fixed != nil {
		s.total.Store(int64(len(s.fixed)))
		hand(ctx, jobs, s.fixed)
		return
	}
	first := true
	for p, err := range s.c.pages(ctx, s.opts.List, true) {
		if err != nil {
			if ctx.Err() == nil {
				s.listErr = err
			}
			return
		}
		if first {
			s.total.Store(int64(max(0, p.Total-s.opts.List.Skip)))
			if len(s.opts.List.IDs) > 0 {
				s.total.Store(int64(len(p.Clients)))
			}
			first = false
		}
		if !hand(ctx, jobs, p.Clients) {
			return
		}
	}
}

// hand gives the clients to the workers, in order; false when ctx ended first.
func hand(ctx context.Context, jobs chan<- HybridClient, clients []HybridClient) bool {
	for _, hc := range clients {
		select {
		case jobs <- hc:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// worker does the work of the clients it takes; the last worker to end closes results.
func (s *scan[T]) worker(ctx context.Context, jobs <-chan HybridClient, results chan<- Result[T], running *atomic.Int32) {
	defer s.wg.Done()
	defer func() {
		if running.Add(-1) == 0 {
			close(results)
		}
	}()
	for hc := range jobs {
		if ctx.Err() != nil || s.lim.acquire(ctx) != nil {
			return
		}
		v, err, ok := s.do(ctx, hc)
		if !ok || ctx.Err() != nil {
			return // stopped: the scan ends with ctx's error, or the loop has left
		}
		select {
		case results <- Result[T]{Client: hc, Value: v, Err: err}:
		case <-ctx.Done():
			return
		}
	}
}

// do runs work for hc; ok is false when work panicked, its panic then recovered and
// carried to the loop (fail). A runtime.Goexit in work ends the worker here, after fail.
func (s *scan[T]) do(ctx context.Context, hc HybridClient) (v T, err error, ok bool) {
	defer s.lim.release()
	defer func() {
		if !ok {
			s.fail(hc.ID, recover())
		}
	}()
	v, err = s.work(ctx, hc)
	return v, err, true
}

// ScanExpiry checks the secrets of every client of c's tenant (those opts.List selects) as
// secrets.Client.CheckExpiry does, with opts.Concurrency clients at once, and yields each
// client's report as it completes (completion order). Every client there from the start
// of the scan to its end is checked exactly once, whatever is created or deleted
// meanwhile (see Each for that, errors, panics, stopping, memory and the adaptive limit).
// Each report is as of the time its client's secrets were read (ExpiryReport.AsOf), by
// the Config's Clock; within must not be negative.
//
// ScanExpiry is a function, as Each is (a method cannot have type parameters), so that a
// scan reads the same whatever it does for each client.
//
//	for r, err := range hybridclients.ScanExpiry(ctx, clients, 30*24*time.Hour, hybridclients.ScanOptions{}) {
//		if err != nil { return err }
//		if r.Err == nil && r.Value.LockoutAhead() { fmt.Println("rotate now:", r.Client.Name) }
//	}
func ScanExpiry(ctx context.Context, c *Client, within time.Duration, opts ScanOptions) iter.Seq2[Result[secrets.ExpiryReport], error] {
	return rules.PrefixedSeq(pkgName, telemetry.Seq2(ctx, c.tel(), "hybridclients.ScanExpiry", "", func(ctx context.Context) iter.Seq2[Result[secrets.ExpiryReport], error] {
		return scanExpiry(ctx, c, within, opts)
	}))
}

func scanExpiry(ctx context.Context, c *Client, within time.Duration, opts ScanOptions) iter.Seq2[Result[secrets.ExpiryReport], error] {
	return func(yield func(Result[secrets.ExpiryReport], error) bool) {
		if within < 0 {
			yield(Result[secrets.ExpiryReport]{}, errors.Join(checkScan(ctx, c, opts),
				&identity.ValidationError{Field: "Within", Rule: "must not be negative", Value: within.String()}))
			return
		}
		check := func(ctx context.Context, hc HybridClient) (secrets.ExpiryReport, error) {
			r, err := c.secrets.CheckExpiry(ctx, hc.ID, within)
			if err != nil {
				return secrets.ExpiryReport{}, rules.Prefixed(pkgName, err) // the package called is this one
			}
			return *r, nil
		}
		for r, err := range each(ctx, c, opts, check) {
			if !yield(r, err) {
				return
			}
		}
	}
}
