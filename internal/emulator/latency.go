package emulator

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// distance makes the emulator play a distant service: every request waits Latency plus a
// random part of up to LatencyJitter before it is handled (on a timer: no CPU is spent).
type distance struct {
	latency, jitter time.Duration
	mu              sync.Mutex
	rng             *rand.Rand // the jitter's draws, seeded with Options.Seed
}

func newDistance(o Options) *distance {
	if o.Latency <= 0 && o.LatencyJitter <= 0 {
		return nil
	}
	return &distance{latency: max(o.Latency, 0), jitter: max(o.LatencyJitter, 0),
		rng: rand.New(rand.NewPCG(uint64(o.Seed), 0x1a7e))}
}

// wait delays the request; it reports false when the caller gave up meanwhile.
func (d *distance) wait(r *http.Request) bool {
	if d == nil {
		return true
	}
	delay := d.latency
	if d.jitter > 0 {
		d.mu.Lock()
		delay += time.Duration(d.rng.Int64N(int64(d.jitter) + 1)) // reproducible for a given order of requests
		d.mu.Unlock()
	}
	return delay <= 0 || sleep(r, delay)
}
