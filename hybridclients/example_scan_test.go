package hybridclients_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/ocs-go/identity/hybridclients"
)

// Check the secrets of every client of a tenant, 16 clients at once, with a progress line.
// Results come as each client is done, not in list order.
func ExampleScanExpiry() {
	srv, cfg := fakeTenant()
	defer srv.Close()
	_ = srv.SeedClients(300)
	_ = srv.SeedSecrets(1, 3, 42) // some expired, some expiring soon, some never expiring
	clients, _ := hybridclients.New(cfg)

	opts := hybridclients.ScanOptions{
		Concurrency: 16,
		OnProgress: func(p hybridclients.Progress) {
			if p.Done == p.Total { // a progress bar would be updated at every call
				fmt.Printf("%d of %d clients checked, %d failed\n", p.Done, p.Total, p.Failed)
			}
		},
	}
	lockedOutSoon := 0
	for r, err := range hybridclients.ScanExpiry(context.Background(), clients, 30*24*time.Hour, opts) {
		if err != nil {
			log.Fatal(err) // the scan itself failed: listing the clients, or ctx
		}
		if r.Err != nil {
			log.Printf("client %s: %v", r.Client.ID, r.Err) // this client only; the scan goes on
			continue
		}
		if r.Value.LockoutAhead() {
			lockedOutSoon++
		}
	}
	fmt.Println("clients with no secret valid in 30 days:", lockedOutSoon > 0)
	// Output:
	// 300 of 300 clients checked, 0 failed
	// clients with no secret valid in 30 days: true
}

// Do any per-client work across the tenant with bounded concurrency: here, count each
// client's secrets. Breaking out of the loop stops every worker at once.
func ExampleEach() {
	srv, cfg := fakeTenant()
	defer srv.Close()
	_ = srv.SeedClients(120)
	_ = srv.SeedSecrets(2, 2, 1)
	clients, _ := hybridclients.New(cfg)

	count := func(ctx context.Context, hc hybridclients.HybridClient) (int, error) {
		return clients.Secrets().Count(ctx, hc.ID) // use the ctx given: it carries the scan's limit
	}
	secrets, done := 0, 0
	for r, err := range hybridclients.Each(context.Background(), clients, hybridclients.ScanOptions{Concurrency: 8}, count) {
		if err != nil {
			log.Fatal(err)
		}
		if r.Err == nil {
			secrets += r.Value
		}
		if done++; done == 100 {
			break // the work in flight is cancelled; the rest is never started
		}
	}
	fmt.Println("secrets of the first 100 clients done:", secrets)
	// Output:
	// secrets of the first 100 clients done: 200
}
