//go:build live

// The live tests run the SDK against a real tenant. They are built only with -tags live and
// skips unless OCS_TENANT_ID, OCS_CLIENT_ID and OCS_CLIENT_SECRET name one (OCS_RESOURCE
// for a region other than US-West). It creates one hybrid client, checks every operation
// on it, and deletes it.
//
//	OCS_TENANT_ID=... OCS_CLIENT_ID=... OCS_CLIENT_SECRET=... go test -tags live -v ./internal/harness/live/
package live

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/secrets"
)

func liveConfig(t *testing.T) identity.Config {
	t.Helper()
	tenant, id, secret := os.Getenv("OCS_TENANT_ID"), os.Getenv("OCS_CLIENT_ID"), os.Getenv("OCS_CLIENT_SECRET")
	if tenant == "" || id == "" || secret == "" {
		t.Skip("live: set OCS_TENANT_ID, OCS_CLIENT_ID and OCS_CLIENT_SECRET to run against a real tenant")
	}
	return identity.Config{
		Resource:    os.Getenv("OCS_RESOURCE"),
		TenantID:    tenant,
		Credentials: identity.NewClientCredentials(id, identity.NewSecret(secret), nil),
		UserAgent:   "ocs-go-identity-live-test",
	}
}

func TestLiveRoundTrip(t *testing.T) {
	clients, err := hybridclients.New(liveConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	created, err := clients.Create(ctx, hybridclients.CreateRequest{
		Name:                "ocs-go-identity live test " + time.Now().UTC().Format(time.RFC3339),
		RedirectURIs:        []string{"https://localhost/ocs-go-identity-live-test"},
		AccessTokenLifetime: 5 * time.Minute,
		SecretDescription:   "live test",
		SecretExpiry:        secrets.ExpiresIn(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	id := created.Client.ID
	t.Cleanup(func() {
		if err := clients.Delete(context.Background(), id); err != nil && !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("cleanup: delete %s: %v", id, err)
		}
	})
	if created.Secret.Value.IsZero() {
		t.Fatal("no secret value returned")
	}
	if ok, err := clients.Exists(ctx, id); err != nil || !ok {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
	if _, err := clients.Update(ctx, id, hybridclients.UpdateRequest{Tags: []string{"live-test"}}); err != nil {
		t.Fatal(err)
	}
	got, err := clients.Get(ctx, id)
	if err != nil || len(got.Tags) != 1 || got.Tags[0] != "live-test" || got.AccessTokenLifetime != 5*time.Minute {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if n, err := clients.Count(ctx, hybridclients.CountOptions{IDs: []string{id}}); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	sec := clients.Secrets()
	added, err := sec.Add(ctx, id, secrets.AddRequest{Description: "live test 2", Expiry: secrets.ExpiresIn(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	page, err := sec.List(ctx, id, secrets.ListOptions{})
	if err != nil || page.Total != 2 {
		t.Fatalf("List = %+v, %v", page, err)
	}
	if err := sec.Delete(ctx, id, added.ID); err != nil {
		t.Fatal(err)
	}
	if err := clients.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ok, err := clients.Exists(ctx, id); err != nil || ok {
		t.Fatalf("after Delete, Exists = %v, %v", ok, err)
	}
}
