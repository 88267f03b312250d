package limit

import (
	"context"
	"math"
	"testing"
	"time"
)

// The scan's limit on a fake clock: off until a throttle, cut to 0.7 of the accepted rate
// and 0.9 of the concurrency, one cut per episode, back to the rate of the cut along the
// CUBIC curve, then beyond.
func TestAdaptiveCutsAndRecovers(t *testing.T) {
	a := New(32)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	// Every slot in use, as in a busy scan (the concurrency grows only then).
	for range 32 {
		if err := a.Acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	answer := func(d time.Duration, perSecond float64, status int) {
		step := time.Duration(float64(time.Second) / perSecond)
		for end := now.Add(d); now.Before(end); now = now.Add(step) {
			a.Done(now.Add(-time.Millisecond), status)
		}
	}
	answer(2*time.Second, 500, 200)
	if r, c, n := a.State(); r != 0 || c != 32 || n != 0 {
		t.Fatalf("before any throttle: rate %v, concurrency %d, throttles %d", r, c, n)
	}

	a.Done(now.Add(-time.Millisecond), 429)
	r, c, n := a.State()
	if math.Abs(r-350) > 5 || c != 28 || n != 1 {
		t.Fatalf("after a 429 at 500/s: rate %.1f (want 350), concurrency %d (want 28), throttles %d", r, c, n)
	}
	cut := now
	// Answers to requests sent before the cut, or within a second of it, do not cut again.
	a.Done(cut.Add(-5*time.Millisecond), 429)
	now = now.Add(500 * time.Millisecond)
	a.Done(now.Add(-time.Millisecond), http503)
	if r2, c2, n2 := a.State(); r2 != r || c2 != c || n2 != 3 {
		t.Fatalf("repeated throttles in one episode: rate %.1f, concurrency %d, throttles %d", r2, c2, n2)
	}

	// K = cbrt(500 × 0.3 / C) seconds after the cut the rate is back at 500; later, above.
	k := time.Duration(math.Cbrt(500*(1-cubicBeta)/cubicScale) * float64(time.Second))
	answer(cut.Add(k).Sub(now), 350, 200)
	if r, c, _ := a.State(); math.Abs(r-500) > 10 || c != 32 {
		t.Errorf("%v after the cut: rate %.1f (want 500), concurrency %d (want 32 again)", k, r, c)
	}
	answer(time.Second, 500, 200)
	if r, _, _ := a.State(); r <= 510 {
		t.Errorf("%v after the cut: rate %.1f, want above 500", k+time.Second, r)
	}

	// A throttle a second or more after the cut cuts from the bucket's rate.
	before, _, _ := a.State()
	a.Done(now.Add(-time.Millisecond), 429)
	if r, _, _ := a.State(); math.Abs(r-0.7*before) > 1 {
		t.Errorf("second cut: %.1f, want 0.7 × %.1f", r, before)
	}
	// A connection error says nothing.
	throttles, cutAt := a.throttles, a.cut
	a.Done(now, 0)
	if a.throttles != throttles || a.cut != cutAt {
		t.Error("a lost answer counted")
	}
}

const http503 = 503

// acquire waits while the limit is reached and gives up when ctx ends.
func TestAdaptiveAcquire(t *testing.T) {
	a := New(1)
	ctx := context.Background()
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := a.Acquire(short); err == nil {
		t.Fatal("a second slot of one")
	}
	got := make(chan error)
	go func() { got <- a.Acquire(ctx) }()
	time.Sleep(10 * time.Millisecond)
	a.Release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// A throttle that comes before any answer was accepted (a burst of requests at the start
// meeting the service's bucket) gives no rate to cut from: it cuts the concurrency, not
// the rate down to its floor, from which a run would take minutes to recover.
func TestAdaptiveDoesNotCutTheRateBeforeAnyAnswerWasAccepted(t *testing.T) {
	a := New(32)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	a.Done(now.Add(-time.Millisecond), 429)
	if r, c, n := a.State(); r != 0 || c != 28 || n != 1 {
		t.Fatalf("after a 429 before any accepted answer: rate %.1f (want none), concurrency %d (want 28), throttles %d", r, c, n)
	}
	// Once answers were accepted, a throttle a second later cuts from their rate.
	for range 100 {
		now = now.Add(10 * time.Millisecond)
		a.Done(now.Add(-time.Millisecond), 200)
	}
	a.Done(now.Add(-time.Millisecond), 429)
	if r, _, _ := a.State(); math.Abs(r-70) > 2 {
		t.Errorf("after a 429 at 100/s: rate %.1f, want 70", r)
	}
}

// Waiters that reserved their turn at a low rate go as soon as the rate is raised, not at
// the times the low rate gave them.
func TestAdaptiveWaitersFollowARaisedRate(t *testing.T) {
	a := New(32)
	a.bucket.SetLimit(0.5) // 16 waiters would take 32 s at this rate
	ctx := context.Background()
	done := make(chan error, 16)
	for range 16 {
		go func() { done <- a.Wait(ctx) }()
	}
	time.Sleep(50 * time.Millisecond)
	a.bucket.SetLimit(1000)
	deadline := time.After(5 * time.Second)
	for i := range 16 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatalf("%d of 16 waiters went within 5 s of the rate's rise", i)
		}
	}
}
