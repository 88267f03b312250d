package perf

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/internal/idserver"
	"golang.org/x/oauth2"
)

// TokenRun describes a token-reuse run: Workers goroutines share one hybridclients.Client
// (so one Credentials value) and make Calls calls of Get in all, spread over at least
// Span, against an emulator issuing tokens of the given Lifetime whose token endpoint
// answers FetchDelay late (so that a caller held up by a fetch shows in its latency).
type TokenRun struct {
	Lifetime   time.Duration
	Workers    int
	Calls      int
	Span       time.Duration
	FetchDelay time.Duration
}

// TokenResult is what a TokenRun measured.
type TokenResult struct {
	Calls, Errors int
	Elapsed       time.Duration
	// TokenRequests is the emulator's count of token-endpoint requests.
	TokenRequests int
	// Fetchers is the number of Token calls that sent a token request themselves (seen
	// on the wire, tied to the call through its context).
	Fetchers int
	// MaxConcurrentFetches is the most token requests in flight at once on the client.
	MaxConcurrentFetches int
	// FetchTimes are the offsets from the start at which token requests were sent.
	FetchTimes []time.Duration
	// Waited counts Token calls that began when a token had already been handed out,
	// overlapped a token request sent by another call, and took longer than FetchDelay/2
	// beyond the time of their own token request if they sent one: they waited on
	// another caller's fetch.
	Waited int
	// MaxCachedLatency is the longest such time (own fetch not counted) of a Token call
	// that began when a token had already been handed out, whether it waited or not.
	MaxCachedLatency time.Duration
}

// PerLifetime is the number of token requests per token lifetime elapsed (a run shorter
// than one lifetime counts as one lifetime).
func (r TokenResult) PerLifetime(lifetime time.Duration) float64 {
	return float64(r.TokenRequests) / max(1, r.Elapsed.Seconds()/lifetime.Seconds())
}

type callKey struct{}

type callRec struct {
	fetched atomic.Bool
	fetchNs atomic.Int64 // time spent in its own token requests
}

// probe wraps the SDK's Credentials: it times every Token call and marks its context, so
// that the wire probe can tell which call sent a token request.
type probe struct {
	identity.Credentials
	start      time.Time
	firstToken atomic.Int64 // ns since start when the first Token call returned; 0: none yet

	mu    sync.Mutex
	calls []tokenCall
}

// tokenCall is one Token call: when it began and ended (since the start), whether a token
// had been handed out before it began, and its record (what it fetched itself).
type tokenCall struct {
	began, ended time.Duration
	cached       bool
	rec          *callRec
}

func (p *probe) Token(ctx context.Context, req identity.TokenRequest) (*oauth2.Token, error) {
	rec := &callRec{}
	began := time.Since(p.start)
	cached := p.firstToken.Load() != 0
	tok, err := p.Credentials.Token(context.WithValue(ctx, callKey{}, rec), req)
	ended := time.Since(p.start)
	if err == nil {
		p.firstToken.CompareAndSwap(0, int64(ended))
	}
	p.mu.Lock()
	p.calls = append(p.calls, tokenCall{began, ended, cached, rec})
	p.mu.Unlock()
	return tok, err
}

// fetch is one token request on the wire, and the Token call that sent it.
type fetch struct {
	began, ended time.Duration
	rec          *callRec
}

// wire is a base transport that watches token requests.
type wire struct {
	http.RoundTripper
	start    time.Time
	inflight atomic.Int32
	mu       sync.Mutex
	maxIn    int
	fetches  []fetch
}

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.URL.Path, "/connect/token") {
		return w.RoundTripper.RoundTrip(r)
	}
	rec, _ := r.Context().Value(callKey{}).(*callRec)
	n := int(w.inflight.Add(1))
	defer w.inflight.Add(-1)
	began := time.Since(w.start)
	w.mu.Lock()
	w.maxIn = max(w.maxIn, n)
	w.mu.Unlock()
	resp, err := w.RoundTripper.RoundTrip(r)
	ended := time.Since(w.start)
	if rec != nil {
		rec.fetched.Store(true)
		rec.fetchNs.Add(int64(ended - began))
	}
	w.mu.Lock()
	w.fetches = append(w.fetches, fetch{began, ended, rec})
	w.mu.Unlock()
	return resp, err
}

// waits classifies the Token calls: a call waited on another's fetch when a token had
// been handed out before it began, it overlapped a token request sent by another call,
// and it took longer than delay/2 beyond the time of its own token request, if any.
func waits(calls []tokenCall, fetches []fetch, delay time.Duration) (waited, fetchers int, longest time.Duration) {
	for _, c := range calls {
		if c.rec.fetched.Load() {
			fetchers++
		}
		if !c.cached {
			continue
		}
		took := c.ended - c.began - time.Duration(c.rec.fetchNs.Load())
		longest = max(longest, took)
		if took <= delay/2 {
			continue
		}
		for _, f := range fetches {
			if f.rec != c.rec && f.began < c.ended && f.ended > c.began {
				waited++
				break
			}
		}
	}
	return waited, fetchers, longest
}

// RunTokens runs r against a new emulator and reports what happened.
func RunTokens(ctx context.Context, r TokenRun) (TokenResult, error) {
	srv, err := hybridclientstest.Start(&hybridclientstest.Options{TokenLifetime: r.Lifetime})
	if err != nil {
		return TokenResult{}, err
	}
	defer srv.Close()
	if err := srv.SeedClients(1); err != nil {
		return TokenResult{}, err
	}
	id := srv.Clients()[0].ID
	if r.FetchDelay > 0 {
		srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpToken, Delay: r.FetchDelay})
	}
	start := time.Now()
	cfg := srv.Config()
	pr := &probe{Credentials: cfg.Credentials, start: start}
	pooled, _ := idserver.Base(nil)
	wr := &wire{RoundTripper: pooled, start: start}
	cfg.Credentials, cfg.HTTPClient = pr, &http.Client{Transport: wr}
	c, err := hybridclients.New(cfg)
	if err != nil {
		return TokenResult{}, err
	}
	defer wr.RoundTripper.(*http.Transport).CloseIdleConnections()

	var next, errs atomic.Int64
	var wg sync.WaitGroup
	perCall := r.Span / time.Duration(max(1, r.Calls))
	for range r.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(r.Calls) {
					return
				}
				if perCall > 0 { // pace: call i not before start + i*Span/Calls
					if d := time.Until(start.Add(time.Duration(i) * perCall)); d > 0 {
						time.Sleep(d)
					}
				}
				if _, err := c.Get(ctx, id); err != nil {
					errs.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res := TokenResult{Calls: r.Calls, Errors: int(errs.Load()), Elapsed: time.Since(start),
		TokenRequests: srv.Stats().TokenRequests}
	pr.mu.Lock()
	wr.mu.Lock()
	res.Waited, res.Fetchers, res.MaxCachedLatency = waits(pr.calls, wr.fetches, r.FetchDelay)
	res.MaxConcurrentFetches = wr.maxIn
	for _, f := range wr.fetches {
		res.FetchTimes = append(res.FetchTimes, f.began)
	}
	wr.mu.Unlock()
	pr.mu.Unlock()
	return res, nil
}
