package emulator

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Every request waits Latency plus up to LatencyJitter, on a timer: 50 requests waiting
// at once cost next to no CPU.
func TestLatencyDelaysEveryRequestWithoutCPU(t *testing.T) {
	const latency, jitter = 150 * time.Millisecond, 20 * time.Millisecond
	h := newHarness(t, Options{Latency: latency, LatencyJitter: jitter, Seed: 3})
	const n = 50
	var wg sync.WaitGroup
	took := make([]time.Duration, n)
	cpu0, start := cpuTime(t), time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			h.do(http.MethodGet, h.api("/HybridClients"), h.admin, nil).want(t, http.StatusOK)
			took[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	wall, cpu := time.Since(start), cpuTime(t)-cpu0
	for i, d := range took {
		if d < latency || d > latency+jitter+time.Second {
			t.Errorf("request %d took %v, want %v to %v (and some slack)", i, d, latency, latency+jitter)
		}
	}
	// Busy waiting would cost about n × latency = 7.5 s of CPU; the HTTP work is a few ms.
	if cpu > 500*time.Millisecond {
		t.Errorf("%d requests delayed %v each cost %v of CPU in %v", n, latency, cpu, wall)
	}
	t.Logf("%d requests in %v, %v of CPU", n, wall, cpu)
	// Discovery and the token endpoint are as far away as the API.
	t0 := time.Now()
	h.do(http.MethodGet, "/identity/.well-known/openid-configuration", "", nil).want(t, http.StatusOK)
	if d := time.Since(t0); d < latency {
		t.Errorf("discovery took %v", d)
	}
}

// A caller who gives up during the latency ends the wait; nothing is done.
func TestLatencyEndsWhenTheCallerGivesUp(t *testing.T) {
	h := newHarness(t, Options{Latency: 5 * time.Second})
	hc := &http.Client{Timeout: 100 * time.Millisecond}
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+h.api("/HybridClients"), nil)
	req.Header.Set("Authorization", "Bearer "+h.admin)
	if _, err := hc.Do(req); err == nil {
		t.Fatal("no timeout")
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(h.e.Clients(h.tenant)); n != 0 {
		t.Fatalf("%d clients", n)
	}
}

// Past the bucket, API requests get 429 with Retry-After and are not acted on; Stats
// counts them; discovery and the token endpoint are not limited; the bucket refills.
func TestRateLimit(t *testing.T) {
	h := newHarness(t, Options{RateLimit: 20, RateBurst: 5})
	statuses := map[int]int{}
	for range 12 {
		r := h.do(http.MethodPost, h.api("/HybridClients"), h.admin, newClient("c", nil))
		statuses[r.status]++
		if r.status == http.StatusTooManyRequests {
			if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
			}
			errorBody(t, r)
		}
	}
	// 12 requests in well under 50 ms: the 5 of the burst, perhaps one refilled token.
	if statuses[http.StatusCreated] < 5 || statuses[http.StatusCreated] > 6 || statuses[http.StatusTooManyRequests] < 6 {
		t.Fatalf("statuses %v", statuses)
	}
	if n := len(h.e.Clients(h.tenant)); n != statuses[http.StatusCreated] {
		t.Errorf("%d clients for %d created: a throttled request acted", n, statuses[http.StatusCreated])
	}
	st := h.e.Stats()
	if st.Throttled != statuses[http.StatusTooManyRequests] || st.Requests[OpCreateClient] != 12 {
		t.Errorf("stats %+v", st)
	}
	for range 10 {
		h.do(http.MethodGet, "/identity/.well-known/openid-configuration", "", nil).want(t, http.StatusOK)
	}
	time.Sleep(300 * time.Millisecond) // 6 tokens at 20/s; the bucket holds 5
	for i := range 5 {
		if r := h.do(http.MethodGet, h.api("/HybridClients"), h.admin, nil); r.status != http.StatusOK {
			t.Fatalf("request %d after the refill: %d", i, r.status)
		}
	}
}

// SeedSecrets gives each secret-less client min to max secrets, reproducibly, with expired,
// soon-expiring, never-expiring and valid ones.
func TestSeedSecrets(t *testing.T) {
	type listed struct {
		Description string
		Expiration  *time.Time
	}
	seeded := func(seed int64) (map[string][]listed, *harness) {
		h := newHarness(t, Options{})
		if err := h.e.SeedClients(h.tenant, 2000); err != nil {
			t.Fatal(err)
		}
		if err := h.e.SeedSecrets(h.tenant, 1, 3, seed); err != nil {
			t.Fatal(err)
		}
		out := map[string][]listed{}
		for i, c := range h.e.Clients(h.tenant) {
			if i%100 == 0 {
				out[c.Name] = decode[[]listed](t, h.do(http.MethodGet, h.api("/HybridClients/"+c.ID+"/Secrets"), h.admin, nil).want(t, http.StatusOK))
			}
			if n := len(c.SecretIDs); n < 1 || n > 3 {
				t.Fatalf("client %s has %d secrets", c.Name, n)
			}
		}
		return out, h
	}
	a, h := seeded(9)
	b, _ := seeded(9)
	for name, sa := range a {
		sb := b[name]
		for i := range sa {
			if len(sa) != len(sb) || sa[i].Description != sb[i].Description || (sa[i].Expiration == nil) != (sb[i].Expiration == nil) {
				t.Fatalf("seed 9 gave %s different secrets: %+v, %+v", name, sa, sb)
			}
		}
	}
	now := h.clock.Now()
	kinds := map[string]int{}
	total := 0
	for _, c := range h.e.Clients(h.tenant) {
		for _, id := range c.SecretIDs {
			s := decode[listed](t, h.do(http.MethodGet, h.api("/HybridClients/"+c.ID+"/Secrets/"+strconv.Itoa(id)), h.admin, nil))
			total++
			switch {
			case s.Expiration == nil:
				kinds["never"]++
			case !s.Expiration.After(now):
				kinds["expired"]++
			case s.Expiration.Before(now.Add(30 * 24 * time.Hour)):
				kinds["soon"]++
			default:
				kinds["valid"]++
			}
		}
		if total > 1500 {
			break
		}
	}
	// 1, 2, 1 and 16 in 20 on average.
	for k, want := range map[string]float64{"expired": 0.05, "soon": 0.10, "never": 0.05, "valid": 0.80} {
		if got := float64(kinds[k]) / float64(total); got < want*0.6 || got > want*1.4 {
			t.Errorf("%s: %.3f of %d secrets, want about %.2f", k, got, total, want)
		}
	}
	if err := h.e.SeedSecrets(h.tenant, 2, 11, 1); err == nil {
		t.Error("11 secrets per client seeded")
	}
}
