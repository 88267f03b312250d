package hybridclients_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/secrets"
)

// Rotate, across the tenant, the secret of every client whose newest working secret
// expires within 30 days: each new value goes to the store (here a map standing for files
// or a vault), and the old secrets are retired only once the identity server accepts the
// new one. Run PlanRotations first for a dry run.
func ExampleApplyRotations() {
	srv, cfg := fakeTenant()
	defer srv.Close()
	_ = srv.SeedClients(50)
	_ = srv.SeedSecrets(1, 1, 3) // of every 20 secrets: 1 expired, 2 within 30 days, ...
	clients, _ := hybridclients.New(cfg)

	policy := secrets.Policy{RenewBefore: 30 * 24 * time.Hour, Grace: 24 * time.Hour}
	every := func(hybridclients.HybridClient) (secrets.Policy, bool) { return policy, true }
	var mu sync.Mutex // store is called from several goroutines at once
	vault := map[string]identity.Secret{}
	store := func(_ context.Context, clientID string, s secrets.Added) error {
		mu.Lock()
		defer mu.Unlock()
		vault[clientID] = s.Value // e.g. s.Value.ReplaceFile(dir + "/" + clientID)
		return nil
	}
	rotated, due, failed := 0, 0, 0
	for r, err := range hybridclients.ApplyRotations(context.Background(), clients, every, store, hybridclients.ScanOptions{}) {
		if err != nil {
			log.Fatal(err) // the run itself failed: listing the clients, or ctx
		}
		if r.Value.Plan.Due {
			due++
		}
		switch {
		case r.Err != nil:
			failed++ // r.Value.Rotation.Step says how far it got; a *secrets.ProofError: nothing retired
		case r.Value.Rotation != nil && r.Value.Rotation.Step == secrets.StepDone:
			rotated++
		}
	}
	fmt.Println("every due client rotated:", rotated == due && due > 0, "failed:", failed, "stored:", len(vault) == rotated)

	// Right after, nothing is due: the newest secret of each is the new one.
	due = 0
	for r, err := range hybridclients.PlanRotations(context.Background(), clients, every, hybridclients.ScanOptions{}) {
		if err == nil && r.Value.Due {
			due++
		}
	}
	fmt.Println("due after the run:", due)
	// Output:
	// every due client rotated: true failed: 0 stored: true
	// due after the run: 0
}
