package hybridclientstest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

var start = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// ended reports whether ch has a value, without waiting.
func ended(ch <-chan time.Time) (time.Time, bool) {
	select {
	case t := <-ch:
		return t, true
	default:
		return time.Time{}, false
	}
}

func TestClockWaitsEndOnlyWhenItsTimeIsReached(t *testing.T) {
	clk := hybridclientstest.NewClock(start)
	hour := clk.After(time.Hour)
	minute := clk.After(time.Minute)
	if now, ok := ended(clk.After(0)); !ok || !now.Equal(start) {
		t.Errorf("After(0) = %v, %v: want the time at once", now, ok)
	}
	if clk.Waiting() != 2 {
		t.Fatalf("Waiting = %d, want 2", clk.Waiting())
	}
	clk.Advance(59 * time.Second)
	if _, ok := ended(minute); ok {
		t.Fatal("a minute's wait ended after 59 s")
	}
	clk.Advance(time.Second)
	if at, ok := ended(minute); !ok || !at.Equal(start.Add(time.Minute)) {
		t.Fatalf("a minute's wait after a minute: %v, %v", at, ok)
	}
	if _, ok := ended(hour); ok || clk.Waiting() != 1 {
		t.Fatalf("the hour's wait ended early, or Waiting = %d", clk.Waiting())
	}
	clk.Advance(-time.Hour) // never backwards
	if !clk.Now().Equal(start.Add(time.Minute)) {
		t.Fatalf("Now = %v after a negative Advance", clk.Now())
	}
	if !clk.AdvanceToNext() || !clk.Now().Equal(start.Add(time.Hour)) {
		t.Fatalf("AdvanceToNext: Now = %v, want the hour's end", clk.Now())
	}
	if _, ok := ended(hour); !ok {
		t.Fatal("AdvanceToNext did not end the wait it moved to")
	}
	if clk.AdvanceToNext() || !clk.Now().Equal(start.Add(time.Hour)) {
		t.Fatal("AdvanceToNext with no wait moved the clock")
	}
}

func TestClockNilIsUsable(t *testing.T) {
	var clk *hybridclientstest.Clock
	clk.Advance(time.Hour)
	if !clk.Now().IsZero() || clk.Waiting() != 0 || clk.AdvanceToNext() {
		t.Error("a nil Clock is not a still zero clock")
	}
	if _, ok := ended(clk.After(time.Hour)); !ok {
		t.Error("a nil Clock's wait does not end at once: it would hang its caller")
	}
	if _, err := hybridclientstest.Start(&hybridclientstest.Options{Clock: clk}); err == nil {
		t.Error("Start took a nil *Clock as Options.Clock")
	}
	if _, err := hybridclientstest.Start(&hybridclientstest.Options{Clock: hybridclientstest.NewClock(start), Now: time.Now}); err == nil {
		t.Error("Start took two clocks")
	}
}

func TestClockIsSafeForConcurrentUse(t *testing.T) {
	clk := hybridclientstest.NewClock(start)
	waits := make(chan (<-chan time.Time), 8)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			waits <- clk.After(time.Duration(i+1) * time.Minute)
		}()
		go func() {
			defer wg.Done()
			clk.Advance(time.Minute)
			_, _ = clk.Now(), clk.Waiting()
		}()
	}
	wg.Wait()
	close(waits)
	clk.Advance(8 * time.Minute) // past the end of every wait, whenever it began
	for w := range waits {
		if _, ok := ended(w); !ok {
			t.Error("a wait did not end")
		}
	}
	if clk.Waiting() != 0 {
		t.Errorf("Waiting = %d", clk.Waiting())
	}
}

// The fake and the SDK share Options.Clock: the fake expires secrets by it, and the
// Config's Clock is it, so the SDK's expiry checks follow it too.
func TestClockIsTheFakesAndTheConfigs(t *testing.T) {
	clk := hybridclientstest.NewClock(start)
	srv := hybridclientstest.NewServer(t, &hybridclientstest.Options{Clock: clk, TokenLifetime: 48 * time.Hour})
	if srv.Config().Clock != clk {
		t.Fatal("the Config does not carry Options.Clock")
	}
	clients, err := hybridclients.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := clients.Create(ctx, hybridclients.CreateRequest{
		Name: "clocked", RedirectURIs: []string{"https://clocked.example.com/cb"}, SecretExpiry: secrets.ExpiresIn(24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !srv.CheckSecret(c.Client.ID, c.Secret.Value) {
		t.Fatal("a new secret does not authenticate")
	}
	clk.Advance(24 * time.Hour)
	if srv.CheckSecret(c.Client.ID, c.Secret.Value) {
		t.Error("a secret past its expiry on the Clock still authenticates")
	}
	r, err := clients.Secrets().CheckExpiry(ctx, c.Client.ID, 0)
	if err != nil || len(r.Expired) != 1 || !r.AsOf.Equal(clk.Now()) {
		t.Errorf("CheckExpiry as of the Clock: %+v, %v", r, err)
	}
	var _ identity.Clock = clk
}

func TestClockRunMovesToEachWaitUntilTheFunctionReturns(t *testing.T) {
	clk := hybridclientstest.NewClock(start)
	var seen []time.Time
	looks := 0
	clk.Run(func() {
		for range 3 {
			seen = append(seen, <-clk.After(time.Hour))
		}
	}, func() { looks++ })
	if len(seen) != 3 || !seen[2].Equal(start.Add(3*time.Hour)) || !clk.Now().Equal(start.Add(3*time.Hour)) || looks != 3 {
		t.Errorf("waits ended at %v, Now %v, %d looks between: want three hours, one look before each move", seen, clk.Now(), looks)
	}
	ran := false
	clk.Run(func() { ran = true }, nil) // no wait at all
	var nilClock *hybridclientstest.Clock
	nilClock.Run(func() { <-nilClock.After(time.Hour) }, nil)
	if !ran {
		t.Error("Run did not run a function that never waits")
	}
}
