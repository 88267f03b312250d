package emulator

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Fault is a rule that makes some requests misbehave, to test the SDK's retries and its
// handling of lost responses. Action fields combine in this order: Delay, then
// ResetBeforeAct or Status, else the route acts and then CutAfterCommit or Truncate.
type Fault struct {
	// Op is the route; "" means every management API route (not discovery, token or sign-in).
	Op Op
	// Status, if non-zero, answers this status with an ErrorResponse body, without acting.
	Status int
	// RetryAfter, with Status, sends a Retry-After header (whole seconds, rounded up).
	RetryAfter time.Duration
	// Delay waits this long (or until the request's context ends) before anything else.
	Delay time.Duration
	// HTML, with Status, makes the body an HTML error page (text/html), as a gateway sends.
	HTML bool
	// Location, with a 3xx Status, is sent as the Location header: a redirect, e.g. of the
	// token endpoint to another origin, which a client must not follow.
	Location string
	// Truncate acts normally (the change IS committed) but sends only the first half of the
	// JSON body, with Content-Length set to that half.
	Truncate bool
	// CutAfterCommit acts normally (committed), then closes the connection without writing
	// a response.
	CutAfterCommit bool
	// ResetBeforeAct closes the connection without acting or answering.
	ResetBeforeAct bool

	// Times fires the fault at most this many times in all (1 = one-shot); 0 = unlimited.
	// With all schedule fields zero the fault fires on every matching request.
	Times int
	// EveryNth fires only on every Nth matching request (the Nth, 2Nth, ...).
	EveryNth int
	// Probability, if 0 < p <= 1, fires with this probability, drawn from a source seeded
	// with Seed, so a run is reproducible for a given order of requests.
	Probability float64
	// Seed seeds the Probability draws.
	Seed int64
}

// faultRule is an injected fault with its schedule's state.
type faultRule struct {
	f     Fault
	seen  int // matching requests checked
	fired int
	rng   *rand.Rand
}

// Inject adds a fault rule. Rules are checked in the order injected and the first that
// fires applies. The returned func removes the rule; calling it again does nothing.
func (e *Emulator) Inject(f Fault) (remove func()) {
	rule := &faultRule{f: f, rng: rand.New(rand.NewPCG(uint64(f.Seed), 0x5eed))}
	e.mu.Lock()
	e.faults = append(e.faults, rule)
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.faults = slices.DeleteFunc(e.faults, func(r *faultRule) bool { return r == rule })
	}
}

// ClearFaults removes every fault rule.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// pickFaultLocked returns a copy of the first fault that fires for op, advancing the
// schedules of the rules it checks; e.mu is held so schedules are deterministic.
func (e *Emulator) pickFaultLocked(op Op) *Fault {
	for _, r := range e.faults {
		if r.f.Op != op && (r.f.Op != "" || !op.api()) {
			continue
		}
		r.seen++
		if r.f.Times > 0 && r.fired >= r.f.Times {
			continue
		}
		if r.f.EveryNth > 0 && r.seen%r.f.EveryNth != 0 {
			continue
		}
		if p := r.f.Probability; p > 0 && p < 1 && r.rng.Float64() >= p {
			continue
		}
		r.fired++
		f := r.f
		return &f
	}
	return nil
}

// faultReply is the answer of a Status fault.
func faultReply(f *Fault) reply {
	rep := errReply(f.Status, "Injected fault.")
	if f.HTML {
		text := strconv.Itoa(f.Status) + " " + http.StatusText(f.Status)
		rep = reply{status: f.Status, header: http.Header{}, contentType: "text/html; charset=utf-8",
			body: []byte("<html><head><title>" + text + "</title></head><body><h1>" + text + "</h1></body></html>\n")}
	}
	if f.RetryAfter > 0 {
		secs := (f.RetryAfter + time.Second - 1) / time.Second
		rep = rep.withHeader("Retry-After", strconv.Itoa(int(secs)))
	}
	if f.Location != "" {
		rep = rep.withHeader("Location", f.Location)
	}
	return rep
}

// sleep waits d or until the request's context ends; it reports whether d elapsed.
func sleep(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// abort closes the connection without a response. Hijacking works for HTTP/1.x; elsewhere
// net/http's ErrAbortHandler panic aborts the response the same way.
func abort(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
