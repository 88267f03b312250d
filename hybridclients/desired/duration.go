package desired

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// day is the unit a file may add to Go's durations: secret lifetimes are counted in days.
const day = 24 * time.Hour

// parseDuration reads a duration of a file: Go's form ("720h", "1h30m", "90s"), whole days
// ("30d", "365d"), or days and then Go's form ("1d12h").
func parseDuration(s string) (time.Duration, error) {
	i := strings.IndexByte(s, 'd')
	if i < 0 {
		return time.ParseDuration(s)
	}
	days, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || days < 0 || days > int64(maxDays) {
		return 0, errors.New("not a whole number of days")
	}
	var d time.Duration
	if rest := s[i+1:]; rest != "" {
		if d, err = time.ParseDuration(rest); err != nil || d < 0 {
			return 0, errors.New("not a duration after the days")
		}
	}
	if d > time.Duration(1<<63-1)-time.Duration(days)*day {
		return 0, errors.New("too long")
	}
	return time.Duration(days)*day + d, nil
}

// maxDays is the most days a time.Duration holds.
const maxDays = (1<<63 - 1) / int64(day)

// formatDuration writes d as parseDuration reads it, shortest first: whole days as "30d",
// else Go's form without its zero units ("1h", "1h30m", "90s").
func formatDuration(d time.Duration) string {
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
