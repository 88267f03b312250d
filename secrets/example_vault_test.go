package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/ocs-go/identity/secrets"
)

// Vault is what a rotation needs of a secret store: a way to put a value under a name.
// A KV engine, a cloud secrets manager or a deployment's secret object each offer one.
type Vault interface {
	Put(ctx context.Context, name, value string) error
}

// memoryVault stands in for a real vault; down makes Put fail.
type memoryVault struct {
	values map[string]string
	down   bool
}

func (v *memoryVault) Put(_ context.Context, name, value string) error {
	if v.down {
		return errors.New("vault unreachable")
	}
	v.values[name] = value
	return nil
}

// ExampleClient_Rotate_vault hands the new secret's value to a vault. The SDK holds the
// value only for the Store call: the Rotation and the error that Rotate returns have no
// place for it, and the Client keeps nothing of it. Reveal it only to pass it on, as
// here; a Store that logs it, puts it in its error or keeps it in a variable that outlives
// the call undoes that.
func ExampleClient_Rotate_vault() {
	cfg, stop := fakeService(
		secret{ID: 1, Description: "2024 deployment", Expires: true, Expiration: time.Date(2099, 6, 1, 0, 0, 0, 0, time.UTC)},
	)
	defer stop()
	sc, err := secrets.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	vault := &memoryVault{values: map[string]string{}, down: true}
	req := secrets.RotateRequest{
		Description: "2025 deployment",
		Store: func(ctx context.Context, s secrets.Added) error {
			return vault.Put(ctx, "billing/client-secret", s.Value.Reveal())
		},
	}

	// The vault is down: the new secret is deleted again and the old one is untouched.
	rot, err := sc.Rotate(context.Background(), clientID, req)
	fmt.Println("vault down:", err != nil, "- new secret left:", rot.New.ID != 0)
	left, _ := sc.List(context.Background(), clientID, secrets.ListOptions{})
	fmt.Println("secrets:", len(left.Secrets), left.Secrets[0].Description)

	vault.down = false
	rot, err = sc.Rotate(context.Background(), clientID, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("added:", rot.New.ID, rot.New.Description)
	fmt.Println("shortened to an hour:", rot.Shortened[0].ID, rot.Shortened[0].Description)
	fmt.Println("in the vault:", vault.values["billing/client-secret"] != "")
	// Output:
	// vault down: true - new secret left: false
	// secrets: 1 2024 deployment
	// added: 3 2025 deployment
	// shortened to an hour: 1 2024 deployment
	// in the vault: true
}
