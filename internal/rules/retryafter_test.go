package rules

import (
	"net/http"
	"testing"
	"time"
)

// Retry-After is delay-seconds or an HTTP date, at most a day; a number too large for any
// integer says "wait very long" (the most), not "absent".
func TestRetryAfterReadsSecondsAndDatesAndCapsHugeOnes(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]struct {
		d  time.Duration
		ok bool
	}{
		"": {0, false}, "x": {0, false}, "-5": {0, false}, " 0 ": {0, true}, "120": {2 * time.Minute, true},
		"99999999": {MaxRetryAfter, true}, "99999999999": {MaxRetryAfter, true}, "99999999999999999999999": {MaxRetryAfter, true},
		now.Add(90 * time.Second).Format(http.TimeFormat): {90 * time.Second, true},
		now.Add(-time.Hour).Format(http.TimeFormat):       {0, true},
		now.Add(48 * time.Hour).Format(http.TimeFormat):   {MaxRetryAfter, true},
	} {
		if got, ok := RetryAfter(v, now); got != want.d || ok != want.ok {
			t.Errorf("RetryAfter(%q) = %s, %v; want %s, %v", v, got, ok, want.d, want.ok)
		}
	}
}
