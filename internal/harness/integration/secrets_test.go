package integration

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// exerciseSecrets runs every single-secret operation on a client that has exactly one
// secret, firstID, whose value is first.
func exerciseSecrets(t *testing.T, ctx context.Context, srv *hybridclientstest.Server, sc *secrets.Client, clientID string, firstID int, first identity.Secret) {
	t.Helper()

	// Add: the value authenticates; the metadata is what was asked.
	before := time.Now()
	added, err := sc.Add(ctx, clientID, secrets.AddRequest{Description: "second", Expiry: secrets.ExpiresIn(30 * 24 * time.Hour)})
	after := time.Now()
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if !srv.CheckSecret(clientID, added.Value) {
		t.Error("the added secret's value does not authenticate")
	}
	if !srv.CheckSecret(clientID, first) {
		t.Error("adding a secret broke the first one")
	}
	if added.Description != "second" || added.ID == firstID || added.ID <= 0 {
		t.Errorf("Add returned %+v", added.ClientSecret)
	}
	expiryMarked(t, "added", added.Expiry, before.Add(30*24*time.Hour), after.Add(30*24*time.Hour))
	if got := srv.SecretIDs(clientID); !slices.Equal(got, []int{firstID, added.ID}) {
		t.Errorf("fake's secret ids %v, want [%d %d]", got, firstID, added.ID)
	}
	wantExpiry := added.Expiry

	// Count, List, All.
	if n, err := sc.Count(ctx, clientID); err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
	p, err := sc.List(ctx, clientID, secrets.ListOptions{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if p.Total != 2 || !slices.Equal(metaIDs(p.Secrets), []int{firstID, added.ID}) {
		t.Errorf("List = %v (Total %d), want [%d %d] (Total 2)", metaIDs(p.Secrets), p.Total, firstID, added.ID)
	}
	var all []secrets.ClientSecret
	for s, err := range sc.All(ctx, clientID, secrets.ListOptions{PageSize: 1}) {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		all = append(all, s)
	}
	if !slices.Equal(metaIDs(all), []int{firstID, added.ID}) {
		t.Errorf("All = %v", metaIDs(all))
	}

	// Get, Exists.
	m, err := sc.Get(ctx, clientID, added.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if m.ID != added.ID || m.Description != "second" {
		t.Errorf("Get = %+v", m)
	}
	expiryMarked(t, "Get", m.Expiry, before.Add(30*24*time.Hour), after.Add(30*24*time.Hour))
	if ok, err := sc.Exists(ctx, clientID, added.ID); err != nil || !ok {
		t.Errorf("Exists = %v, %v; want true", ok, err)
	}
	if ok, err := sc.Exists(ctx, clientID, added.ID+100); err != nil || ok {
		t.Errorf("Exists(unknown secret) = %v, %v; want false, nil", ok, err)
	}
	if _, err := sc.Get(ctx, clientID, added.ID+100); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Get(unknown secret) = %v, want ErrNotFound", err)
	}

	// Update: description only leaves the expiry; expiry only leaves the description.
	m, err = sc.Update(ctx, clientID, added.ID, secrets.UpdateRequest{Description: identity.Ptr("second, renamed")})
	if err != nil {
		t.Fatalf("Update(description): %v", err)
	}
	if m.Description != "second, renamed" {
		t.Errorf("Update(description) description %q", m.Description)
	}
	wantAt := wantExpiry.At()
	expiryNear(t, "after a description update", m.Expiry, wantAt, wantAt)
	newAt := time.Now().Add(10 * 24 * time.Hour).UTC().Truncate(time.Second)
	m, err = sc.Update(ctx, clientID, added.ID, secrets.UpdateRequest{Expiry: secrets.ExpiresAt(newAt)})
	if err != nil {
		t.Fatalf("Update(expiry): %v", err)
	}
	if m.Description != "second, renamed" {
		t.Errorf("Update(expiry) changed the description to %q", m.Description)
	}
	expiryNear(t, "after an expiry update", m.Expiry, newAt, newAt)
	m, err = sc.Get(ctx, clientID, added.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Description != "second, renamed" {
		t.Errorf("Get after updates: description %q", m.Description)
	}
	expiryNear(t, "Get after updates", m.Expiry, newAt, newAt)
	// Both at once, to never-expires, then back to a date.
	m, err = sc.Update(ctx, clientID, added.ID, secrets.UpdateRequest{Description: identity.Ptr(""), Expiry: secrets.NeverExpires()})
	if err != nil {
		t.Fatalf("Update(never, clear description): %v", err)
	}
	if m.Description != "" || !m.Expiry.Never() {
		t.Errorf("Update(never, clear description) = %+v", m)
	}
	m, err = sc.Update(ctx, clientID, added.ID, secrets.UpdateRequest{Expiry: secrets.ExpiresAt(newAt)})
	if err != nil {
		t.Fatalf("Update(never back to a date): %v", err)
	}
	expiryNear(t, "never back to a date", m.Expiry, newAt, newAt)
	if !srv.CheckSecret(clientID, added.Value) {
		t.Error("updates broke the added secret")
	}
	// Refused before sending.
	if _, err := sc.Update(ctx, clientID, added.ID, secrets.UpdateRequest{}); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("Update(nothing) = %v, want ErrInvalidInput", err)
	}
	if _, err := sc.Update(ctx, clientID, added.ID, secrets.UpdateRequest{Expiry: secrets.ExpiresAt(time.Now().Add(-time.Hour))}); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("Update(past expiry) = %v, want ErrInvalidInput", err)
	}

	// Delete: the value stops authenticating; the other secret stays.
	if err := sc.Delete(ctx, clientID, added.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if srv.CheckSecret(clientID, added.Value) {
		t.Error("a deleted secret still authenticates")
	}
	if !srv.CheckSecret(clientID, first) {
		t.Error("deleting one secret broke the other")
	}
	if ok, err := sc.Exists(ctx, clientID, added.ID); err != nil || ok {
		t.Errorf("Exists(deleted) = %v, %v; want false, nil", ok, err)
	}
	if _, err := sc.Get(ctx, clientID, added.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Get(deleted) = %v, want ErrNotFound", err)
	}
	if err := sc.Delete(ctx, clientID, added.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Delete(deleted) = %v, want ErrNotFound", err)
	}
	if n, err := sc.Count(ctx, clientID); err != nil || n != 1 {
		t.Errorf("Count after delete = %d, %v; want 1", n, err)
	}
	if got := srv.SecretIDs(clientID); !slices.Equal(got, []int{firstID}) {
		t.Errorf("fake's secret ids %v after delete, want [%d]", got, firstID)
	}
}

func TestSecretsOfHybridClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	c := create(t, ctx, e.clients, "app")
	sc := e.clients.Secrets()
	exerciseSecrets(t, ctx, e.srv, sc, c.Client.ID, c.Secret.ID, c.Secret.Value)
}

func TestSecretsOfHybridClientStandalone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	c := create(t, ctx, e.clients, "app")
	sc := newSecrets(t, e.srv.Config(), secrets.New)
	exerciseSecrets(t, ctx, e.srv, sc, c.Client.ID, c.Secret.ID, c.Secret.Value)
}

func TestSecretsOfClientCredentialClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	ident := e.srv.AddAccount(hybridclientstest.RoleAdmin)
	ids := e.srv.SecretIDs(ident.ClientID)
	if len(ids) != 1 {
		t.Fatalf("a new identity has secrets %v, want one", ids)
	}
	sc := newSecrets(t, e.srv.Config(), secrets.NewForClientCredentialClients)
	exerciseSecrets(t, ctx, e.srv, sc, ident.ClientID, ids[0], ident.Secret)

	// The kinds are separate routes: a hybrid client is not a client-credential client.
	hc := create(t, ctx, e.clients, "hybrid")
	if _, err := sc.List(ctx, hc.Client.ID, secrets.ListOptions{}); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("ClientCredentialClients List(hybrid client) = %v, want ErrNotFound", err)
	}
	if _, err := e.clients.Secrets().List(ctx, ident.ClientID, secrets.ListOptions{}); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("HybridClients List(client-credential client) = %v, want ErrNotFound", err)
	}
}

func TestSecretsPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	c := create(t, ctx, e.clients, "app")
	sc := e.clients.Secrets()
	for range 7 {
		if _, err := sc.Add(ctx, c.Client.ID, secrets.AddRequest{Description: "more"}); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	want := e.srv.SecretIDs(c.Client.ID)
	if len(want) != 8 {
		t.Fatalf("fake has %d secrets, want 8", len(want))
	}
	for _, tc := range []struct {
		opts secrets.ListOptions
		want []int
	}{
		{secrets.ListOptions{PageSize: 3}, want[:3]},
		{secrets.ListOptions{Skip: 3, PageSize: 3}, want[3:6]},
		{secrets.ListOptions{Skip: 6, PageSize: 3}, want[6:]},
		{secrets.ListOptions{Skip: 8}, nil},
	} {
		p, err := sc.List(ctx, c.Client.ID, tc.opts)
		if err != nil {
			t.Fatalf("List(%+v): %v", tc.opts, err)
		}
		if !slices.Equal(metaIDs(p.Secrets), tc.want) || p.Total != 8 {
			t.Errorf("List(%+v) = %v (Total %d), want %v (Total 8)", tc.opts, metaIDs(p.Secrets), p.Total, tc.want)
		}
	}
	before := requests(e.srv, hybridclientstest.OpListSecrets)
	var got []secrets.ClientSecret
	for s, err := range sc.All(ctx, c.Client.ID, secrets.ListOptions{PageSize: 3}) {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		got = append(got, s)
	}
	if !slices.Equal(metaIDs(got), want) {
		t.Errorf("All(Count 3) = %v, want %v", metaIDs(got), want)
	}
	if n := requests(e.srv, hybridclientstest.OpListSecrets) - before; n != 3 {
		t.Errorf("All(Count 3) over 8 secrets made %d requests, want 3", n)
	}
	if n, err := sc.Count(ctx, c.Client.ID); err != nil || n != 8 {
		t.Errorf("Count = %d, %v; want 8", n, err)
	}
}

// An identity rotates its own secret; the new secret signs in, the old one no longer does.
func TestRotateOwnSecretSignsIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	ident := e.srv.AddAccount(hybridclientstest.RoleAdmin)
	oldIDs := e.srv.SecretIDs(ident.ClientID)
	self := newSecrets(t, e.srv.ConfigFor(ident), secrets.NewForClientCredentialClients)

	var stored identity.Secret
	var storedID int
	rot, err := self.Rotate(ctx, ident.ClientID, secrets.RotateRequest{
		Description:  "rotated",
		RetireAtOnce: true, // old secrets stop working now (not after the default hour)
		Store: func(_ context.Context, s secrets.Added) error {
			stored, storedID = s.Value, s.ID
			return nil
		},
	})
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if stored.IsZero() || rot.New.ID != storedID || rot.New.Description != "rotated" {
		t.Fatalf("Rotate: stored %d (zero value: %v), Added %+v", storedID, stored.IsZero(), rot.New)
	}
	if !slices.Equal(metaIDs(rot.Deleted), oldIDs) || len(rot.Shortened) != 0 {
		t.Errorf("Rotate deleted %v, shortened %v; want deleted %v", metaIDs(rot.Deleted), metaIDs(rot.Shortened), oldIDs)
	}
	if got := e.srv.SecretIDs(ident.ClientID); !slices.Equal(got, []int{storedID}) {
		t.Errorf("secret ids after rotation %v, want [%d]", got, storedID)
	}
	if e.srv.CheckSecret(ident.ClientID, ident.Secret) {
		t.Error("the old secret still authenticates after a rotation that retires all")
	}
	if !e.srv.CheckSecret(ident.ClientID, stored) {
		t.Error("the new secret does not authenticate")
	}

	// Sign in afresh with the new secret and make a call.
	fresh := newClients(t, e.srv.ConfigFor(hybridclientstest.Account{ClientID: ident.ClientID, Secret: stored}))
	if _, err := fresh.Count(ctx, hybridclients.CountOptions{}); err != nil {
		t.Errorf("a call signed in with the new secret failed: %v", err)
	}
	// Signing in with the old one is refused at the token endpoint.
	stale := newClients(t, e.srv.ConfigFor(ident))
	_, err = stale.Count(ctx, hybridclients.CountOptions{})
	var ae *identity.AuthError
	if !errors.As(err, &ae) || !errors.Is(err, identity.ErrUnauthorized) {
		t.Errorf("a call signed in with the old secret = %v, want an *identity.AuthError", err)
	}
}

func TestRotateRetireAllAndStoreFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	c := create(t, ctx, e.clients, "app")
	sc := e.clients.Secrets()
	olds := []identity.Secret{c.Secret.Value}
	for range 2 {
		a, err := sc.Add(ctx, c.Client.ID, secrets.AddRequest{Description: "old"})
		if err != nil {
			t.Fatal(err)
		}
		olds = append(olds, a.Value)
	}
	oldIDs := e.srv.SecretIDs(c.Client.ID)

	// A failing Store: the new secret is deleted again, the old ones are untouched.
	storeErr := errors.New("vault down")
	rot, err := sc.Rotate(ctx, c.Client.ID, secrets.RotateRequest{
		Store: func(context.Context, secrets.Added) error { return storeErr },
	})
	if !errors.Is(err, storeErr) {
		t.Fatalf("Rotate(failing store) = %v, want the store's error", err)
	}
	if rot == nil || rot.New.ID != 0 || len(rot.Deleted) != 0 {
		t.Errorf("Rotate(failing store) did %+v", rot)
	}
	if got := e.srv.SecretIDs(c.Client.ID); !slices.Equal(got, oldIDs) {
		t.Errorf("after a failed store the secrets are %v, want %v", got, oldIDs)
	}
	for i, v := range olds {
		if !e.srv.CheckSecret(c.Client.ID, v) {
			t.Errorf("old secret %d stopped authenticating after a failed store", i)
		}
	}

	// A successful one retires all three (at once: no grace period).
	var stored identity.Secret
	rot, err = sc.Rotate(ctx, c.Client.ID, secrets.RotateRequest{
		RetireAtOnce: true,
		Store:        func(_ context.Context, s secrets.Added) error { stored = s.Value; return nil },
	})
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if !slices.Equal(metaIDs(rot.Deleted), oldIDs) {
		t.Errorf("Rotate deleted %v, want %v", metaIDs(rot.Deleted), oldIDs)
	}
	for i, v := range olds {
		if e.srv.CheckSecret(c.Client.ID, v) {
			t.Errorf("old secret %d still authenticates", i)
		}
	}
	if !e.srv.CheckSecret(c.Client.ID, stored) {
		t.Error("the new secret does not authenticate")
	}
	if got := e.srv.SecretIDs(c.Client.ID); !slices.Equal(got, []int{rot.New.ID}) {
		t.Errorf("secrets after rotation %v, want [%d]", got, rot.New.ID)
	}
}

func TestRotateWithGrace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	c := create(t, ctx, e.clients, "app")
	sc := e.clients.Secrets()

	var stored identity.Secret
	before := time.Now()
	rot, err := sc.Rotate(ctx, c.Client.ID, secrets.RotateRequest{
		Description: "v2",
		Grace:       2 * time.Hour,
		Store:       func(_ context.Context, s secrets.Added) error { stored = s.Value; return nil },
	})
	after := time.Now()
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if len(rot.Deleted) != 0 || len(rot.Shortened) != 1 || rot.Shortened[0].ID != c.Secret.ID {
		t.Fatalf("Rotate(Grace) deleted %v, shortened %v; want secret %d shortened", metaIDs(rot.Deleted), metaIDs(rot.Shortened), c.Secret.ID)
	}
	expiryNear(t, "shortened (Rotation)", rot.Shortened[0].Expiry, before.Add(2*time.Hour), after.Add(2*time.Hour))
	m, err := sc.Get(ctx, c.Client.ID, c.Secret.ID)
	if err != nil {
		t.Fatal(err)
	}
	// It was a year; now it ends with the grace period.
	expiryNear(t, "shortened (service)", m.Expiry, before.Add(2*time.Hour), after.Add(2*time.Hour))
	if !e.srv.CheckSecret(c.Client.ID, c.Secret.Value) {
		t.Error("the old secret stopped authenticating during the grace period")
	}
	if !e.srv.CheckSecret(c.Client.ID, stored) {
		t.Error("the new secret does not authenticate")
	}

	// Past the grace period, on the service's clock, only the new one works.
	e.clock.Advance(3 * time.Hour)
	if e.srv.CheckSecret(c.Client.ID, c.Secret.Value) {
		t.Error("the old secret still authenticates after the grace period")
	}
	if !e.srv.CheckSecret(c.Client.ID, stored) {
		t.Error("the new secret stopped authenticating")
	}
	// The SDK's token expired on the service's clock too: the call still works.
	r, err := sc.CheckExpiry(ctx, c.Client.ID, 24*time.Hour)
	if err != nil {
		t.Fatalf("CheckExpiry: %v", err)
	}
	// The old secret has expired, but the new one replaces it: retired, not expired.
	if !slices.Equal(metaIDs(r.Retired), []int{c.Secret.ID}) || !slices.Equal(metaIDs(r.Valid), []int{rot.New.ID}) || len(r.Expired) != 0 {
		t.Errorf("CheckExpiry: retired %v, valid %v, expired %v; want [%d], [%d], []", metaIDs(r.Retired), metaIDs(r.Valid), metaIDs(r.Expired), c.Secret.ID, rot.New.ID)
	}
}

func TestRotateFreeRoom(t *testing.T) {
	t.Parallel()
	// The SDK frees only secrets expired for more than secrets.ClockSkewMargin by its own
	// clock. Two such secrets are made while the fake's clock runs 10 minutes behind (it
	// accepts an expiry 6 minutes ago by real time; the SDK would refuse to send one, so
	// they are added with plain HTTP), then the fake's clock is set right.
	e := newEnv(t, nil)
	srv, clients := e.srv, e.clients
	ctx := testCtx(t)
	c := create(t, ctx, clients, "full")
	sc := clients.Secrets()
	e.clock.Advance(-10 * time.Minute)
	var short []int
	for range 2 {
		short = append(short, rawAddSecret(t, srv, c.Client.ID, time.Now().Add(-6*time.Minute)))
	}
	e.clock.Advance(10 * time.Minute)
	for range 7 {
		if _, err := sc.Add(ctx, c.Client.ID, secrets.AddRequest{Description: "filler"}); err != nil {
			t.Fatal(err)
		}
	}

	store := func(context.Context, secrets.Added) error { return nil }
	adds := requests(srv, hybridclientstest.OpAddSecret)
	_, err := sc.Rotate(ctx, c.Client.ID, secrets.RotateRequest{Store: store, Retire: secrets.RetireExpired()})
	if !errors.Is(err, secrets.ErrLimitReached) {
		t.Fatalf("Rotate(full, no FreeRoom) = %v, want ErrLimitReached", err)
	}
	if n := requests(srv, hybridclientstest.OpAddSecret) - adds; n != 0 {
		t.Errorf("Rotate at the limit sent %d add requests", n)
	}
	rot, err := sc.Rotate(ctx, c.Client.ID, secrets.RotateRequest{Store: store, Retire: secrets.RetireExpired(), FreeRoom: true})
	if err != nil {
		t.Fatalf("Rotate(FreeRoom): %v", err)
	}
	// One expired secret made room; the other expired one was retired afterwards.
	freed, deleted := metaIDs(rot.FreedRoom), metaIDs(rot.Deleted)
	if len(freed) != 1 || len(deleted) != 1 || !sameElems(append(freed, deleted...), short) {
		t.Errorf("FreedRoom %v, Deleted %v; want the two expired %v between them", freed, deleted, short)
	}
	ids := srv.SecretIDs(c.Client.ID)
	if len(ids) != 9 || !slices.Contains(ids, rot.New.ID) || slices.Contains(ids, short[0]) || slices.Contains(ids, short[1]) {
		t.Errorf("secrets after rotation %v", ids)
	}
	if !srv.CheckSecret(c.Client.ID, c.Secret.Value) {
		t.Error("RetireExpired retired a valid secret")
	}
}

func TestCheckExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	c, err := e.clients.Create(ctx, hybridclients.CreateRequest{
		Name: "app", RedirectURIs: []string{"https://app.example.com/cb"}, SecretExpiry: secrets.NeverExpires(),
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	id, never := c.Client.ID, c.Secret.ID
	sc := e.clients.Secrets()
	add := func(d time.Duration) *secrets.Added {
		a, err := sc.Add(ctx, id, secrets.AddRequest{Description: d.String(), Expiry: secrets.ExpiresIn(d)})
		if err != nil {
			t.Fatalf("Add(%s): %v", d, err)
		}
		return a
	}
	// Added out of order, to check the report's ordering by expiry.
	c60d := add(60 * 24 * time.Hour)
	b3d := add(3 * 24 * time.Hour)
	a1h := add(time.Hour)

	// want holds the ids of Expired, ExpiringSoon, Retiring, Retired, Valid and NeverExpiring.
	check := func(name string, want [6][]int, lockout bool) {
		t.Helper()
		r, err := sc.CheckExpiry(ctx, id, 7*24*time.Hour)
		if err != nil {
			t.Fatalf("%s: CheckExpiry: %v", name, err)
		}
		for i, x := range []struct {
			what string
			got  []int
		}{
			{"Expired", metaIDs(r.Expired)},
			{"ExpiringSoon", metaIDs(r.ExpiringSoon)},
			{"Retiring", metaIDs(r.Retiring)},
			{"Retired", metaIDs(r.Retired)},
			{"Valid", metaIDs(r.Valid)},
			{"NeverExpiring", metaIDs(r.NeverExpiring)},
		} {
			if !slices.Equal(x.got, want[i]) {
				t.Errorf("%s: %s = %v, want %v", name, x.what, x.got, want[i])
			}
		}
		if r.LockoutAhead() != lockout {
			t.Errorf("%s: LockoutAhead = %v, want %v", name, r.LockoutAhead(), lockout)
		}
	}

	// The 60-day and the never-expiring secrets replace the others: retiring, not expiring.
	check("now", [6][]int{2: {a1h.ID, b3d.ID}, 4: {c60d.ID}, 5: {never}}, false)

	e.clock.Advance(2 * time.Hour)
	if e.srv.CheckSecret(id, a1h.Value) {
		t.Error("a secret past its expiry on the service's clock still authenticates")
	}
	if !e.srv.CheckSecret(id, b3d.Value) || !e.srv.CheckSecret(id, c60d.Value) || !e.srv.CheckSecret(id, c.Secret.Value) {
		t.Error("an unexpired secret does not authenticate")
	}
	check("2h later", [6][]int{2: {b3d.ID}, 3: {a1h.ID}, 4: {c60d.ID}, 5: {never}}, false)

	e.clock.Advance(90 * 24 * time.Hour)
	check("90d later", [6][]int{3: {a1h.ID, b3d.ID, c60d.ID}, 5: {never}}, false)
	if e.srv.CheckSecret(id, c60d.Value) {
		t.Error("a 60-day secret authenticates 90 days later")
	}
	if !e.srv.CheckSecret(id, c.Secret.Value) {
		t.Error("a never-expiring secret stopped authenticating")
	}

	// Without the never-expiring secret the application is locked out.
	if err := sc.Delete(ctx, id, never); err != nil {
		t.Fatal(err)
	}
	check("without the never-expiring one", [6][]int{0: {a1h.ID, b3d.ID, c60d.ID}}, true)

	if _, err := sc.CheckExpiry(ctx, id, -time.Hour); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("CheckExpiry(negative within) = %v, want ErrInvalidInput", err)
	}
}

// rawAddSecret adds a secret expiring at at to a client of srv with plain HTTP, bypassing
// the SDK's checks, and returns its id.
func rawAddSecret(t *testing.T, srv *hybridclientstest.Server, clientID string, at time.Time) int {
	t.Helper()
	body := `{"Description":"short","Expires":true,"Expiration":"` + at.UTC().Format(time.RFC3339) + `"}`
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/Tenants/"+srv.TenantID+"/HybridClients/"+clientID+"/Secrets", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+srv.IssueToken(hybridclientstest.RoleAdmin).Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Id int }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated || out.Id <= 0 {
		t.Fatalf("adding a secret with plain HTTP: %d, %v", resp.StatusCode, err)
	}
	return out.Id
}
