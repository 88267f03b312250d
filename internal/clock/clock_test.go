package clock

import (
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
