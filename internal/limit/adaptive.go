// Package limit is the adaptive limit of the SDK's tenant-wide work (the scans of
// hybridclients, the apply of hybridclients/desired): how many clients are worked on at
// once, and how many requests per second are sent, both lowered while the service
// throttles and raised again when it stops. An Adaptive is a transport.Pacer: put it in
// the work's context with transport.WithPacer and every attempt is paced by it.
package limit

import (
	"context"
	"math"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Adaptive is the limit of one tenant-wide run (a scan, an apply): how many clients are
// worked on at once, and how many requests per second are sent. It follows two
// established designs:
//
//   - The request rate is the "adaptive" retry mode of aws-sdk-go-v2 (aws/retry,
//     adaptive_ratelimit.go; the same in botocore and the AWS Java SDK): a client-side
//     token bucket, off until the first throttle, then cut to beta (0.7) times the rate
//     and raised again along the CUBIC curve of TCP (RFC 9438): quickly back toward the
//     rate of the last cut, slowly near it, faster again beyond it, and never above twice
//     the rate measured unless that is below the cut's rate.
//   - The number of clients in flight is the AIMD limit of Netflix's concurrency-limits
//     (AIMDLimit): times 0.9 on a throttle, plus one per answer while at least half of the
//     limit is in use, up to the run's concurrency.
//
// Where this departs from aws-sdk-go-v2, and why:
//   - The first cut starts from the rate the service accepted over the last second (AWS:
//     the rate sent, in half-second buckets that read zero at the start); later cuts from
//     the bucket's rate, as the measured rate falls at the end of a scan with few
//     requests left.
//   - Like TCP (one reduction per window, RFC 5681), a throttle cuts only when its
//     request was sent after the last cut, and a second after it at the soonest: the
//     answers to requests in flight at a cut, or sent while the service's bucket refills,
//     say nothing new, and acting on each cut the rate again and again.
//   - CUBIC's C is 15 instead of 0.4, so the rate of the last cut is regained in about
//     two seconds at 400 requests a second instead of seven: a scan lasts minutes, not
//     the lifetime of a process.
//
// A throttle is a 429 or a 503. On loopback one worker can send more than 1,000 requests
// a second, so a concurrency limit alone could not hold a rate limit; the bucket does.
type Adaptive struct {
	bucket *rate.Limiter // rate.Inf until the first throttle
	now    func() time.Time

	mu      sync.Mutex
	max     int // the run's concurrency
	limit   int // clients in flight allowed now
	active  int
	wake    chan struct{} // closed (and replaced) when a slot frees or the limit grows
	enabled bool          // the bucket is on
	lastMax float64       // the rate of the last cut (CUBIC's W_max), requests per second
	k       float64       // seconds from a cut until the curve is back at lastMax
	cut     time.Time
	meter   meter
	// throttles counts every 429 and 503 answer seen, acted on or not.
	throttles int
}

// beta and minRate are aws-sdk-go-v2's, aimdBackoff Netflix's; C is ours (see Adaptive).
const (
	cubicBeta      = 0.7 // the rate after a throttle, relative to the rate before
	cubicScale     = 15  // CUBIC's C, in requests per second per second cubed
	minRate        = 0.5 // requests per second: never stop altogether
	aimdBackoff    = 0.9 // the concurrency after a throttle, relative to before
	meterSlot      = 100 * time.Millisecond
	meterSlots     = 10 // the acceptance rate is measured over the last second
	minConcurrency = 1
	// cutEvery is the least time between two cuts: the meter's window. Until the service's
	// bucket has refilled, a request sent after a cut may still meet a throttle that the
	// cut has already answered; acting on each would cut the rate again and again.
	cutEvery = meterSlot * meterSlots
)

// New returns an Adaptive of at most concurrency clients in flight, with no rate limit until
// the first throttle.
func New(concurrency int) *Adaptive {
	return &Adaptive{
		bucket: rate.NewLimiter(rate.Inf, 1),
		now:    time.Now,
		max:    concurrency,
		limit:  concurrency,
		wake:   make(chan struct{}),
	}
}

// Acquire takes a slot for one client's work, waiting while the limit is reached; it
// returns ctx's error when ctx ends first.
func (a *Adaptive) Acquire(ctx context.Context) error {
	for {
		a.mu.Lock()
		if a.active < a.limit {
			a.active++
			a.mu.Unlock()
			return nil
		}
		w := a.wake
		a.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Release gives back a slot that Acquire took.
func (a *Adaptive) Release() {
	a.mu.Lock()
	a.active--
	a.signal()
	a.mu.Unlock()
}

// signal wakes the waiters of acquire; a.mu is held.
func (a *Adaptive) signal() {
	close(a.wake)
	a.wake = make(chan struct{})
}

// Wait paces one attempt (transport.Pacer). A turn further off than cutEvery is not
// held but looked for again after cutEvery: x/time/rate keeps the time of a reservation
// when its limit changes, so waiters queued at a low rate would otherwise keep their
// late turns for minutes after the rate was raised again.
func (a *Adaptive) Wait(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := a.bucket.Reserve()
		d := r.Delay()
		if d == 0 {
			return nil
		}
		held := d <= cutEvery
		if !held {
			r.Cancel()
			d = cutEvery
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
			if held {
				return nil
			}
		case <-ctx.Done():
			t.Stop()
			if held {
				r.Cancel()
			}
			return ctx.Err()
		}
	}
}

// Done takes in one attempt's answer (transport.Pacer).
func (a *Adaptive) Done(sent time.Time, status int) {
	if status == 0 {
		return // no answer: says nothing about the service's limit
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		a.throttles++
		if !a.cut.IsZero() && (sent.Before(a.cut) || now.Sub(a.cut) < cutEvery) {
			return
		}
		a.throttle(now)
		return
	}
	a.meter.add(now)
	if a.enabled {
		t := now.Sub(a.cut).Seconds() - a.k
		// Not above twice the accepted rate (a rate the scan does not use is no evidence),
		// but this clamp only stops growth: it never takes the rate below the cut's.
		r := min(cubicScale*t*t*t+a.lastMax, max(2*a.meter.rate(now), cubicBeta*a.lastMax))
		a.bucket.SetLimitAt(now, rate.Limit(max(r, minRate)))
	}
	if a.limit < a.max && 2*a.active >= a.limit {
		a.limit++
		a.signal()
	}
}

// throttle cuts the rate and the concurrency; a.mu is held.
func (a *Adaptive) throttle(now time.Time) {
	a.cut = now
	a.limit = max(minConcurrency, int(float64(a.limit)*aimdBackoff))
	// From the rate the service was accepting, the first time; then from the bucket's
	// rate, which the growth keeps within twice the accepted rate (aws-sdk-go-v2 takes the
	// lower of the two, but at the end of a scan few requests are left to measure).
	r := a.meter.rate(now)
	if a.enabled {
		r = float64(a.bucket.Limit())
	}
	if r == 0 {
		// No answer accepted yet (a burst at the start met the service's bucket): there
		// is no rate to cut from, and cutting to minRate would take minutes to undo. The
		// concurrency's cut slows the burst; the next throttle, a second on, has a rate.
		return
	}
	r = max(r, minRate)
	a.lastMax = r
	a.k = math.Cbrt(r * (1 - cubicBeta) / cubicScale)
	a.enabled = true
	a.bucket.SetLimitAt(now, rate.Limit(max(r*cubicBeta, minRate)))
}

// State returns the current limits, for progress reports: the rate (0 while unlimited),
// the concurrency and the throttles seen.
func (a *Adaptive) State() (ratePerSec float64, concurrency, throttles int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.enabled {
		ratePerSec = float64(a.bucket.Limit())
	}
	return ratePerSec, a.limit, a.throttles
}

// meter measures the rate of accepted answers (those not throttled) over the last second, in slots of 100 ms.
type meter struct {
	slots [meterSlots]int
	cur   int64 // index of the current slot (time / meterSlot)
	first time.Time
}

func (m *meter) advance(now time.Time) {
	i := now.UnixNano() / int64(meterSlot)
	if m.first.IsZero() {
		m.first, m.cur = now, i
		return
	}
	for j := m.cur + 1; j <= i && j <= m.cur+meterSlots; j++ {
		m.slots[j%meterSlots] = 0
	}
	m.cur = max(m.cur, i)
}

func (m *meter) add(now time.Time) {
	m.advance(now)
	m.slots[m.cur%meterSlots]++
}

// rate returns accepted answers per second over the last second (or since the first
// answer, when that is shorter, but at least one slot).
func (m *meter) rate(now time.Time) float64 {
	if m.first.IsZero() {
		return 0
	}
	m.advance(now)
	n := 0
	for _, c := range m.slots {
		n += c
	}
	// The slots cover from the start of the oldest one (or the first answer) to now.
	from := time.Unix(0, (m.cur-meterSlots+1)*int64(meterSlot))
	if m.first.After(from) {
		from = m.first
	}
	return float64(n) / max(now.Sub(from), meterSlot).Seconds()
}
