package rules

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter bounds what RetryAfter returns, so no arithmetic on it can overflow; any
// Retry-After that long is over every sensible wait anyway.
const MaxRetryAfter = 24 * time.Hour

// RetryAfter reads a Retry-After header's value v at the time now: delay-seconds or an
// HTTP date, at most MaxRetryAfter (a number too large to parse still says "wait very
// long": MaxRetryAfter); ok is false when v is absent or unreadable. The one reading of
// Retry-After in the SDK: the service's answers (transport) and the token endpoint's
// (idserver).
func RetryAfter(v string, now time.Time) (_ time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' && strings.Trim(v, "0123456789") == "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil || s > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if t.After(now.Add(MaxRetryAfter)) {
			return MaxRetryAfter, true
		}
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
