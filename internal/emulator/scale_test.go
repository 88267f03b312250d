package emulator

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestSeedClientsScale(t *testing.T) {
	// Seeding scales linearly: 50,000 clients cost at most 25 times 5,000 (quadratic
	// seeding costs 100 times), plus a floor for a loaded machine's pauses. A ratio, not
	// a fixed bound: the race detector and a busy CPU slow both alike.
	small := newHarness(t, Options{})
	start := time.Now()
	if err := small.e.SeedClients(small.tenant, 5_000); err != nil {
		t.Fatal(err)
	}
	d5k := time.Since(start)
	h := newHarness(t, Options{})
	start = time.Now()
	if err := h.e.SeedClients(h.tenant, 50_000); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 25*d5k+500*time.Millisecond {
		t.Errorf("SeedClients(50_000) took %v, SeedClients(5_000) %v", d, d5k)
	}
	// The default cap is 50,000 clients of all types.
	errorBody(t, h.do(http.MethodPost, h.api("/HybridClients"), h.admin, newClient("one too many", nil)).want(t, http.StatusBadRequest))
	if err := h.e.SeedClients(h.tenant, 1); err == nil {
		t.Error("SeedClients passed the default cap")
	}
	if err := h.e.SeedClients(newGUID(), 1); err == nil {
		t.Error("SeedClients into an unknown tenant")
	}

	const calls = 20
	start = time.Now()
	var page []clientOut
	for range calls {
		r := h.do(http.MethodGet, h.api("/HybridClients?skip=49900&count=100"), h.admin, nil).want(t, http.StatusOK)
		if r.header.Get("Total-Count") != "50000" {
			t.Fatalf("Total-Count %s", r.header.Get("Total-Count"))
		}
		page = decode[[]clientOut](t, r)
	}
	if d := time.Since(start) / calls; d > 250*time.Millisecond {
		t.Errorf("a page at skip 49,900 took %v on average", d)
	}
	if len(page) != 100 || page[0].Name != "seed-049901" || page[99].Name != "seed-050000" || len(page[0].RedirectUris) != 1 {
		t.Fatalf("page of %d from %s to %s", len(page), page[0].Name, page[len(page)-1].Name)
	}
	if got := decode[[]clientOut](t, h.do(http.MethodGet, h.api("/HybridClients?count=1"), h.admin, nil)); got[0].Name != "seed-000001" {
		t.Fatalf("first seeded client is %s", got[0].Name)
	}
}

func TestConcurrentRequests(t *testing.T) {
	h := newHarness(t, Options{})
	const n = 40
	var wg sync.WaitGroup
	ids := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := h.send(http.MethodPost, h.api("/HybridClients"), h.admin, newClient(fmt.Sprint("c", i), nil))
			if err != nil || r.status != http.StatusCreated {
				t.Errorf("create %d: %v %d", i, err, r.status)
				return
			}
			ids <- decode[createdBody](t, r).Client.ID
			// Readers and faults race with writers too.
			_, _ = h.send(http.MethodGet, h.api("/HybridClients?count=5"), h.member, nil)
			_ = h.e.Stats()
			h.e.Inject(Fault{Op: OpDiscovery, Times: 1})()
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != n || len(h.e.Clients(h.tenant)) != n {
		t.Fatalf("%d distinct ids, %d clients; want %d", len(seen), len(h.e.Clients(h.tenant)), n)
	}
}
