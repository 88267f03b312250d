package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

type fixed time.Time

func (f fixed) Now() time.Time                       { return time.Time(f) }
func (f fixed) After(time.Duration) <-chan time.Time { return nil }

func TestOfKeepsTheCallersClockAndFallsBackToTheSystem(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := Of(fixed(at)).Now(); !got.Equal(at) {
		t.Errorf("Of(caller's clock).Now() = %v, want %v", got, at)
	}
	before := time.Now()
	if got := Of(nil).Now(); got.Before(before) || got.After(time.Now()) {
		t.Errorf("Of(nil).Now() = %v, not the system time", got)
	}
	select {
	case <-Of(nil).After(time.Millisecond):
	case <-time.After(5 * time.Second):
		t.Fatal("the system clock's After never fired")
	}
}

func TestWaitGivesUpOnAClockWhoseAfterNeverFires(t *testing.T) {
	start := time.Now()
	err := Wait(context.Background(), fixed(time.Now()), 10*time.Millisecond)
	var se *StuckError
	if !errors.As(err, &se) || se.D != 10*time.Millisecond || time.Since(start) > 10*time.Millisecond+Slack+5*time.Second {
		t.Fatalf("Wait on a clock that never fires: %v after %s", err, time.Since(start))
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("given up")
	cancel(cause)
	if err := Wait(ctx, fixed(time.Now()), time.Hour); err != cause {
		t.Errorf("Wait with an ended ctx: %v, want its cause", err)
	}
	if err := Wait(context.Background(), nil, time.Millisecond); err != nil {
		t.Errorf("Wait on the system clock: %v", err)
	}
}
