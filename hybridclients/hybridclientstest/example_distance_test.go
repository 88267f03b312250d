package hybridclientstest_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// Play a distant, rate-limited service: every answer 5 ms late, at most 100 API requests a
// second. A tenant-wide scan slows down to the limit instead of failing.
func Example_rateLimited() {
	srv, err := hybridclientstest.Start(&hybridclientstest.Options{
		Latency: 4 * time.Millisecond, LatencyJitter: 2 * time.Millisecond, Seed: 1,
		RateLimit: 100, RateBurst: 10,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	_ = srv.SeedClients(150)
	_ = srv.SeedSecrets(1, 3, 1)
	clients, _ := hybridclients.New(srv.Config())

	failed := 0
	for r, err := range hybridclients.ScanExpiry(context.Background(), clients, 30*24*time.Hour,
		hybridclients.ScanOptions{Concurrency: 16}) {
		if err != nil {
			log.Fatal(err)
		}
		if r.Err != nil {
			failed++
		}
	}
	st := srv.Stats()
	fmt.Println("failed clients:", failed)
	fmt.Println("throttled:", st.Throttled > 0)
	// Output:
	// failed clients: 0
	// throttled: true
}
