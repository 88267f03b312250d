package marker

import (
	"testing"
	"time"
)

var now = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func TestSpread(t *testing.T) {
	for _, tt := range []struct {
		life time.Duration
		want int
	}{
		{365 * 24 * time.Hour, 3600},
		{10 * time.Hour, 3600},
		{time.Hour, 360},
		{10 * time.Minute, 60},
		{9 * time.Minute, 0}, // under MinChoices: no marker
		{time.Second, 0},
	} {
		if got := Spread(now.Add(tt.life), now); got != tt.want {
			t.Errorf("Spread(%v) = %d, want %d", tt.life, got, tt.want)
		}
	}
}

func TestMarkIsEarlierWithinSpreadAndAvoidsTaken(t *testing.T) {
	at := now.Add(365*24*time.Hour + 500*time.Millisecond)
	whole := at.Truncate(time.Second)
	// randN always 0: the first choice is 1 s earlier; taken, so the next one is used.
	taken := []time.Time{whole.Add(-time.Second), whole.Add(-2 * time.Second)}
	m, ok := Mark(at, now, taken, func(int) int { return 0 })
	if !ok || !m.Equal(whole.Add(-3*time.Second)) {
		t.Fatalf("Mark = %v, %v; want %v", m, ok, whole.Add(-3*time.Second))
	}
	for _, r := range []int{0, 1, 1800, 3599} {
		m, ok := Mark(at, now, nil, func(n int) int { return r })
		if d := whole.Sub(m); !ok || d < time.Second || d > MaxOffset || m.Nanosecond() != 0 {
			t.Errorf("randN %d: Mark = %v (%v earlier), %v", r, m, d, ok)
		}
	}
	if m, ok := Mark(now.Add(time.Minute), now, nil, func(int) int { return 0 }); ok || !m.Equal(now.Add(time.Minute)) {
		t.Errorf("short lifetime: Mark = %v, %v; want unmarked", m, ok)
	}
	if e := Earliest(at, now); !e.Equal(whole.Add(-MaxOffset)) {
		t.Errorf("Earliest = %v", e)
	}
}
