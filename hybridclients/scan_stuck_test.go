package hybridclients

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocs-go/identity/internal/harness/mocktest"
	"go.uber.org/goleak"
)

// A work call that panics holding a lock, while the other calls wait on that lock and do
// not watch their ctx: the panic still reaches the loop, after the grace, instead of
// hanging the scan for ever (what errgroup's carrying of panics risked). The calls left
// waiting end once the lock is freed.
func TestEachPanicIsNotHiddenByWorkThatNeverEnds(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	c, rig := newTest(t)
	var page []string
	for i := range 10 {
		page = append(page, fmt.Sprintf(`{"Id":"c%d","Name":"n"}`, i))
	}
	rig.OnFunc("GET", base, func(*http.Request) mocktest.Reply {
		return mocktest.Reply{Status: 200, Body: "[" + strings.Join(page, ",") + "]", Header: http.Header{"Total-Count": {"10"}}}
	})
	var mu sync.Mutex
	var entered sync.WaitGroup // the three other workers are in work
	entered.Add(3)
	locked := make(chan struct{})
	work := func(_ context.Context, hc HybridClient) (int, error) {
		if hc.ID == "c0" {
			entered.Wait()
			mu.Lock()
			close(locked)
			panic("boom") // mu stays locked
		}
		if hc.ID <= "c3" {
			entered.Done()
		}
		<-locked
		mu.Lock() // deaf to ctx: blocks until the test unlocks
		defer mu.Unlock()
		return 0, nil
	}
	const grace = 100 * time.Millisecond
	start := time.Now()
	got := func() (r any) {
		defer func() { r = recover() }()
		s := &scan[int]{c: c, opts: ScanOptions{Concurrency: 4}, work: work, grace: grace}
		s.run(context.Background(), func(Result[int], error) bool { return true })
		return nil
	}()
	elapsed := time.Since(start)
	pe, ok := got.(*PanicError)
	if !ok || pe.Value != "boom" || pe.ClientID != "c0" {
		t.Fatalf("recovered %#v, want the *PanicError of c0's work", got)
	}
	if elapsed < grace || elapsed > grace+2*time.Second {
		t.Errorf("the panic reached the loop %v after the start, want just after the grace (%v)", elapsed, grace)
	}
	mu.Unlock()
	goleak.VerifyNone(t, opt)
}
