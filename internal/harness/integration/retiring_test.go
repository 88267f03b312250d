package integration

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/secrets"
)

// TestScanTellsARotationsOldSecretFromAForgottenOne: after a graceful Rotate, the old
// secret (its expiry shortened to the grace period's end) is Retiring, then Retired once
// it expired, never ExpiringSoon or Expired; a client whose only secret ends within the
// window is ExpiringSoon. Both CheckExpiry and ScanExpiry report so.
func TestScanTellsARotationsOldSecretFromAForgottenOne(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	const window = 30 * 24 * time.Hour

	rotated := create(t, ctx, e.clients, "rotated") // its secret expires in a year
	sc := e.clients.Secrets()
	rot, err := sc.Rotate(ctx, rotated.Client.ID, secrets.RotateRequest{
		Description: "v2",
		Store:       func(context.Context, secrets.Added) error { return nil },
	})
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	old := rotated.Secret.ID
	if !slices.Equal(metaIDs(rot.Shortened), []int{old}) {
		t.Fatalf("Rotate shortened %v, want [%d]", metaIDs(rot.Shortened), old)
	}
	forgotten, err := e.clients.Create(ctx, hybridclients.CreateRequest{
		Name: "forgotten", RedirectURIs: []string{"https://forgotten.example.com/cb"},
		SecretExpiry: secrets.ExpiresIn(10 * 24 * time.Hour),
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}

	// want: the ids of Expired, ExpiringSoon, Retiring, Retired and Valid, by client id.
	want := map[string][5][]int{
		rotated.Client.ID:   {2: {old}, 4: {rot.New.ID}},
		forgotten.Client.ID: {1: {forgotten.Secret.ID}},
	}
	check := func(when, clientID string, r secrets.ExpiryReport) {
		t.Helper()
		got := [5][]int{metaIDs(r.Expired), metaIDs(r.ExpiringSoon), metaIDs(r.Retiring), metaIDs(r.Retired), metaIDs(r.Valid)}
		for i, name := range []string{"Expired", "ExpiringSoon", "Retiring", "Retired", "Valid"} {
			if w := want[clientID][i]; !slices.Equal(got[i], w) {
				t.Errorf("%s, client %s: %s = %v, want %v", when, clientID, name, got[i], w)
			}
		}
		if lockout := clientID == forgotten.Client.ID; r.LockoutAhead() != lockout {
			t.Errorf("%s, client %s: LockoutAhead = %v, want %v", when, clientID, r.LockoutAhead(), lockout)
		}
	}
	scan := func(when string) {
		t.Helper()
		seen := 0
		for r, err := range hybridclients.ScanExpiry(ctx, e.clients, window, hybridclients.ScanOptions{}) {
			if err != nil || r.Err != nil {
				t.Fatalf("%s: ScanExpiry: %v, %v", when, err, r.Err)
			}
			seen++
			check(when+" (ScanExpiry)", r.Client.ID, r.Value)
		}
		if seen != 2 {
			t.Errorf("%s: ScanExpiry yielded %d clients, want 2", when, seen)
		}
		r, err := sc.CheckExpiry(ctx, rotated.Client.ID, window)
		if err != nil {
			t.Fatalf("%s: CheckExpiry: %v", when, err)
		}
		check(when+" (CheckExpiry)", rotated.Client.ID, *r)
	}

	scan("in the grace period")
	if !e.srv.CheckSecret(rotated.Client.ID, rotated.Secret.Value) {
		t.Error("the old secret stopped working during the grace period")
	}

	e.clock.Advance(secrets.DefaultGrace + time.Minute)
	if e.srv.CheckSecret(rotated.Client.ID, rotated.Secret.Value) {
		t.Error("the old secret still works after the grace period")
	}
	want[rotated.Client.ID] = [5][]int{3: {old}, 4: {rot.New.ID}}
	scan("after the grace period")
}
