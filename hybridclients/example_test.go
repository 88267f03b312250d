package hybridclients_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// fakeTenant starts the in-memory fake service so the examples run anywhere. With a real
// tenant, build the Config yourself (see Example_config).
func fakeTenant() (*hybridclientstest.Server, identity.Config) {
	srv, err := hybridclientstest.Start(nil)
	if err != nil {
		log.Fatal(err)
	}
	return srv, srv.Config()
}

// Configure a client for a real tenant with client credentials. Nothing is sent until the
// first call.
func Example_config() {
	cfg := identity.Config{
		Resource:    identity.RegionEUWest,
		TenantID:    "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b",
		Credentials: identity.NewClientCredentials("my-client-id", identity.NewSecret(os.Getenv("OCS_CLIENT_SECRET")), nil),
		UserAgent:   "provisioner/1.0",
	}
	clients, err := hybridclients.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	_ = clients
	fmt.Println(cfg.Credentials) // never shows the secret
	// Output: ClientCredentials{ClientID: "my-client-id", Secret: [REDACTED]}
}

// Create a hybrid client as the portal's Add Client does, and store its one-time secret.
func ExampleClient_Create() {
	srv, cfg := fakeTenant()
	defer srv.Close()
	clients, err := hybridclients.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	created, err := clients.Create(ctx, hybridclients.CreateRequest{
		Name:                   "Billing portal",
		AllowRefreshTokens:     true,
		RedirectURIs:           []string{"https://billing.example.com/signin-callback"},
		PostLogoutRedirectURIs: []string{"https://billing.example.com/"},
		AccessTokenLifetime:    30 * time.Minute,
		SecretDescription:      "billing web app",
		// SecretExpiry left zero: one year from now, as in the portal.
	})
	if err != nil {
		log.Fatal(err)
	}
	// The value is shown once: store it before anything else.
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	if err := created.Secret.Value.WriteFile(filepath.Join(dir, "billing.secret")); err != nil {
		log.Fatal(err)
	}
	fmt.Println("name:", created.Client.Name)
	fmt.Println("refresh tokens:", created.Client.AllowRefreshTokens)
	fmt.Println("secret:", created.Secret.Value) // prints [REDACTED]
	fmt.Println("secret works:", srv.CheckSecret(created.Client.ID, created.Secret.Value))
	// Output:
	// name: Billing portal
	// refresh tokens: true
	// secret: [REDACTED]
	// secret works: true
}

// Walk every hybrid client, one page at a time.
func ExampleClient_All() {
	srv, cfg := fakeTenant()
	defer srv.Close()
	_ = srv.SeedClients(250)
	clients, _ := hybridclients.New(cfg)

	n := 0
	for hc, err := range clients.All(context.Background(), hybridclients.ListOptions{}) {
		if err != nil {
			log.Fatal(err)
		}
		if n == 0 {
			fmt.Println("first:", hc.Name)
		}
		n++
	}
	fmt.Println("clients:", n)
	// Output:
	// first: seed-000001
	// clients: 250
}

// Change only what you set; everything else stays as it is.
func ExampleClient_Update() {
	srv, cfg := fakeTenant()
	defer srv.Close()
	clients, _ := hybridclients.New(cfg)
	ctx := context.Background()
	created, _ := clients.Create(ctx, hybridclients.CreateRequest{
		Name: "Reports", RedirectURIs: []string{"https://reports.example.com/cb"}, SecretExpiry: secrets.ExpiresIn(90 * 24 * time.Hour),
	})

	updated, err := clients.Update(ctx, created.Client.ID, hybridclients.UpdateRequest{
		Enabled: identity.Ptr(false),
		Tags:    []string{"retired"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(updated.Name, updated.Enabled, updated.Tags, updated.RedirectURIs)
	// Output: Reports false [retired] [https://reports.example.com/cb]
}

// Errors are values: match them with errors.Is and errors.As.
func ExampleClient_Get_errors() {
	srv, cfg := fakeTenant()
	defer srv.Close()
	clients, _ := hybridclients.New(cfg)

	_, err := clients.Get(context.Background(), "00000000-0000-0000-0000-000000000000")
	fmt.Println("not found:", errors.Is(err, identity.ErrNotFound))

	_, err = clients.Create(context.Background(), hybridclients.CreateRequest{Name: "", RedirectURIs: []string{"https://*.example.com/"}})
	var ve *identity.ValidationError
	fmt.Println("refused before sending:", errors.Is(err, identity.ErrInvalidInput), errors.As(err, &ve))
	fmt.Println(err)
	// Output:
	// not found: true
	// refused before sending: true true
	// hybridclients: invalid Name: must not be blank (got "")
	// invalid RedirectURIs[0]: must not hold "*": redirect URIs are matched exactly, not as patterns (got "https://*.example.com/")
}

// A Tenant Member may read but not write.
func ExampleClient_Exists() {
	srv, _ := fakeTenant()
	defer srv.Close()
	admin, _ := hybridclients.New(srv.Config())
	member, _ := hybridclients.New(srv.MemberConfig())
	ctx := context.Background()
	created, _ := admin.Create(ctx, hybridclients.CreateRequest{Name: "App", RedirectURIs: []string{"https://app.example.com/cb"}})

	ok, err := member.Exists(ctx, created.Client.ID)
	fmt.Println("exists:", ok, err)
	err = member.Delete(ctx, created.Client.ID)
	fmt.Println("member may delete:", !errors.Is(err, identity.ErrForbidden))
	// Output:
	// exists: true <nil>
	// member may delete: false
}
