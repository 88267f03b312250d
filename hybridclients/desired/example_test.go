package desired_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/desired"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// A desired-state file is checked as a whole: every broken rule at once, each with its
// path and line.
func ExampleParse() {
	good := `version: 1
clients:
  - id: 5b0d7f0e-8a1c-4c3e-9d5f-2a6b7c8d9e01
    name: Billing portal
    redirectURIs: [https://billing.example.com/signin-oidc]
    accessTokenLifetime: 30m
`
	s, err := desired.Parse([]byte(good), desired.YAML)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Clients[0].Name, s.Clients[0].AccessTokenLifetime)

	bad := good + `  - id: 5b0d7f0e-8a1c-4c3e-9d5f-2a6b7c8d9e02
    name: Reports
    redirectUris: [https://reports.example.com/cb]
    secrets: {lifetime: 90d, retire: sometimes}
`
	_, err = desired.Parse([]byte(bad), desired.YAML)
	fmt.Println(err)
	// Output:
	// Billing portal 30m0s
	// desired: desired state: 3 broken rules
	// desired state:7:5: clients[1].redirectURIs: must hold 1 to 10 URIs (got 0)
	// desired state:9:5: clients[1].redirectUris: is not a known key: did you mean "redirectURIs"?
	// desired state:10:38: clients[1].secrets.retire: must be "all" or "expired" (got "sometimes")
}

// Plan the changes that make a tenant match a desired state, and show them as Terraform
// does.
func ExampleDiff() {
	srv, err := hybridclientstest.Start(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	clients, err := hybridclients.New(srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	// The tenant already has the reports app, under an older name.
	if _, err := clients.Create(ctx, hybridclients.CreateRequest{ID: "5b0d7f0e-8a1c-4c3e-9d5f-2a6b7c8d9e02", Name: "Reports",
		RedirectURIs: []string{"https://reports.example.com/cb"}}); err != nil {
		log.Fatal(err)
	}

	state := desired.State{Clients: []desired.Client{
		{ID: "5b0d7f0e-8a1c-4c3e-9d5f-2a6b7c8d9e01", Name: "Billing portal", RedirectURIs: []string{"https://billing.example.com/signin-oidc"},
			Secrets: &desired.SecretPolicy{Description: "billing web app"}},
		{ID: "5b0d7f0e-8a1c-4c3e-9d5f-2a6b7c8d9e02", Name: "Reports web app", RedirectURIs: []string{"https://reports.example.com/cb"}},
	}}
	plan, err := desired.Diff(ctx, clients, state, desired.PlanOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if err := plan.WriteText(os.Stdout); err != nil {
		log.Fatal(err)
	}
	// Output:
	//   + create client "Billing portal" (5b0d7f0e-8a1c-4c3e-9d5f-2a6b7c8d9e01)
	//       + name: "Billing portal"
	//       + enabled: true
	//       + allowRefreshTokens: false
	//       + accessTokenLifetime: 1h
	//       + redirectURIs: ["https://billing.example.com/signin-oidc"]
	//       + allowAccessTokensViaBrowser: false
	//       + secret: new, lifetime one year (the default), description "billing web app"; its value goes to the store only
	//
	//   ~ update client "Reports web app" (5b0d7f0e-8a1c-4c3e-9d5f-2a6b7c8d9e02)
	//       ~ name: "Reports" -> "Reports web app"
	//
	// Plan: 1 to create, 1 to update, 0 to delete; 0 unchanged.
}

// A client's secret policy rotates its secrets when they are due: the plan says why, and
// Apply rotates them, handing the new value to the Store and retiring the old secret only
// once the identity server accepts the new one.
func ExampleDiff_secretRotation() {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srv, err := hybridclientstest.Start(&hybridclientstest.Options{Clock: hybridclientstest.NewClock(start)})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	clients, err := hybridclients.New(srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	// The reports app's secret expires in 12 days.
	const id = "5b0d7f0e-8a1c-4c3e-9d5f-2a6b7c8d9e02"
	redirect := []string{"https://reports.example.com/cb"}
	if _, err := clients.Create(ctx, hybridclients.CreateRequest{ID: id, Name: "Reports", RedirectURIs: redirect}); err != nil {
		log.Fatal(err)
	}
	if _, err := clients.Secrets().Update(ctx, id, 1, secrets.UpdateRequest{Expiry: secrets.ExpiresAt(start.AddDate(0, 0, 12))}); err != nil {
		log.Fatal(err)
	}

	state := desired.State{Clients: []desired.Client{{ID: id, Name: "Reports", RedirectURIs: redirect,
		Secrets: &desired.SecretPolicy{RenewBefore: 30 * 24 * time.Hour, Lifetime: 180 * 24 * time.Hour}}}}
	plan, err := desired.Diff(ctx, clients, state, desired.PlanOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if err := plan.WriteText(os.Stdout); err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "secrets")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	applied, err := desired.Apply(ctx, clients, plan, desired.ApplyOptions{
		Store: func(ctx context.Context, clientID string, s secrets.Added) error {
			// Where the application reads its secret: the new value in place of the old.
			return s.Value.ReplaceFile(filepath.Join(dir, clientID+".secret"))
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	r := applied.Results[0]
	fmt.Println(r.Name, "new secret", r.Secret.ID, "rotation", r.Rotation.Step, "old secrets shortened", len(r.Rotation.Shortened))
	// Output:
	//   ~ update client "Reports" (5b0d7f0e-8a1c-4c3e-9d5f-2a6b7c8d9e02)
	//       ~ rotate secret: newest working secret 1 expires 2026-03-13T12:00:00Z, in 12 days: within 30 days
	//
	// Plan: 0 to create, 1 to update (1 of them rotating secrets), 0 to delete; 0 unchanged.
	// Reports new secret 2 rotation done old secrets shortened 1
}

// Apply a plan: each new secret's value goes to the Store only (here a file per client,
// mode 0600), and the record of managed ids is kept for the next plan.
func ExampleApply() {
	srv, err := hybridclientstest.Start(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	clients, err := hybridclients.New(srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "secrets")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	state := desired.State{Clients: []desired.Client{{ID: "5b0d7f0e-8a1c-4c3e-9d5f-2a6b7c8d9e01", Name: "Billing portal",
		RedirectURIs: []string{"https://billing.example.com/signin-oidc"}}}}
	plan, err := desired.Diff(ctx, clients, state, desired.PlanOptions{})
	if err != nil {
		log.Fatal(err)
	}
	applied, err := desired.Apply(ctx, clients, plan, desired.ApplyOptions{
		Store: func(ctx context.Context, clientID string, s secrets.Added) error {
			return s.Value.WriteFile(filepath.Join(dir, clientID+".secret"))
		},
		Removed: state.Removed, // with the record, the only clients Apply may delete
	})
	if err != nil {
		log.Fatal(err) // names each client that failed; a new plan applied finishes the job
	}
	for _, r := range applied.Results {
		fmt.Println(r.Action, r.Name, "secret", r.Secret.ID)
	}
	if err := applied.Record.WriteFile(filepath.Join(dir, "record.json")); err != nil {
		log.Fatal(err)
	}
	again, err := desired.Diff(ctx, clients, state, desired.PlanOptions{Record: applied.Record})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("changes left:", again.HasChanges())
	// Output:
	// create Billing portal secret 1
	// changes left: false
}

// Describe an existing tenant as a desired state, to adopt it: a plan right after shows
// no change. No secret is in the file.
func ExampleExport() {
	srv, err := hybridclientstest.Start(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	clients, err := hybridclients.New(srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if _, err := clients.Create(ctx, hybridclients.CreateRequest{ID: "5b0d7f0e-8a1c-4c3e-9d5f-2a6b7c8d9e01", Name: "Billing portal",
		AllowRefreshTokens: true, RedirectURIs: []string{"https://billing.example.com/signin-oidc"}}); err != nil {
		log.Fatal(err)
	}

	exported, err := desired.Export(ctx, clients, desired.ExportOptions{})
	if err != nil {
		log.Fatal(err)
	}
	file, err := desired.Marshal(exported.State, desired.YAML)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(file))

	plan, err := desired.Diff(ctx, clients, exported.State, desired.PlanOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("changes:", plan.HasChanges())
	// Output:
	// # Hybrid clients as code: the desired state of a tenant's hybrid clients.
	// # A client's id never changes. No secret value is ever written to this file.
	// version: 1
	// clients:
	//   - id: 5b0d7f0e-8a1c-4c3e-9d5f-2a6b7c8d9e01
	//     name: Billing portal
	//     enabled: true
	//     allowRefreshTokens: true
	//     accessTokenLifetime: 1h
	//     redirectURIs:
	//       - https://billing.example.com/signin-oidc
	//     allowAccessTokensViaBrowser: false
	// changes: false
}
