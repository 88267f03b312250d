package emulator

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// throttle is the service's rate limit on the API routes: a token bucket of RateLimit
// requests per second holding up to RateBurst; a request that finds it empty is answered
// 429 with a Retry-After (whole seconds, rounded up) saying when a token will be there,
// without acting. Discovery and the token endpoint are not limited.
type throttle struct {
	bucket *rate.Limiter
}

func newThrottle(o Options) *throttle {
	if o.RateLimit <= 0 {
		return nil
	}
	burst := o.RateBurst
	if burst <= 0 {
		burst = max(1, int(math.Ceil(o.RateLimit/10))) // a tenth of a second's worth
	}
	return &throttle{bucket: rate.NewLimiter(rate.Limit(o.RateLimit), burst)}
}

// admit takes a token for a request to op, or counts the request and its 429 and returns
// the 429 reply. It uses the wall clock, not Options.Now, which tests move.
func (e *Emulator) admit(op Op) (reply, bool) {
	if e.throttle == nil || op == OpDiscovery || op == OpToken {
		return reply{}, true
	}
	now := time.Now()
	res := e.throttle.bucket.ReserveN(now, 1)
	wait := res.DelayFrom(now)
	if res.OK() && wait == 0 {
		return reply{}, true
	}
	res.CancelAt(now) // a refused request uses no token
	e.mu.Lock()
	e.requests[op]++
	e.throttled++
	e.mu.Unlock()
	secs := max(1, int((wait+time.Second-1)/time.Second))
	return errReply(http.StatusTooManyRequests, "The tenant's rate limit is exceeded.").
		withHeader("Retry-After", strconv.Itoa(secs)), false
}
