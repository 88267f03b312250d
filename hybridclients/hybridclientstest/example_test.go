package hybridclientstest_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// onboard is the code under test: a user's function that registers an application and
// returns its client id and secret.
func onboard(ctx context.Context, clients *hybridclients.Client, app string) (string, identity.Secret, error) {
	created, err := clients.Create(ctx, hybridclients.CreateRequest{
		Name:         app,
		RedirectURIs: []string{"https://" + app + ".example.com/callback"},
	})
	if err != nil {
		return "", identity.Secret{}, fmt.Errorf("onboarding %s: %w", app, err)
	}
	return created.Client.ID, created.Secret.Value, nil
}

// Test your own code against the fake: in a test, use NewServer(t, nil), which stops the
// server when the test ends.
func Example() {
	srv, err := hybridclientstest.Start(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	clients, _ := hybridclients.New(srv.Config())

	id, secret, err := onboard(context.Background(), clients, "billing")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("clients in tenant:", len(srv.Clients()))
	fmt.Println("secret authenticates:", srv.CheckSecret(id, secret))
	// Output:
	// clients in tenant: 1
	// secret authenticates: true
}

// Make the fake fail, to test how your code copes.
func ExampleServer_Inject() {
	srv, _ := hybridclientstest.Start(nil)
	defer srv.Close()
	cfg := srv.Config()
	cfg.Retry.MaxAttempts = 1 // no retries, so the fault reaches the caller
	clients, _ := hybridclients.New(cfg)

	remove := srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpCreateClient, Status: 403, Times: 1})
	defer remove()
	_, _, err := onboard(context.Background(), clients, "billing")
	fmt.Println("forbidden:", errors.Is(err, identity.ErrForbidden))
	fmt.Println("clients in tenant:", len(srv.Clients()))
	// Output:
	// forbidden: true
	// clients in tenant: 0
}
