package integration

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// fill adds secrets to a client until it has n.
func fill(t *testing.T, ctx context.Context, sc *secrets.Client, srv *hybridclientstest.Server, clientID string, n int) {
	t.Helper()
	for len(srv.SecretIDs(clientID)) < n {
		if _, err := sc.Add(ctx, clientID, secrets.AddRequest{Description: "filler"}); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
}

func TestEleventhSecretRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	c := create(t, ctx, e.clients, "app")
	sc := e.clients.Secrets()
	fill(t, ctx, sc, e.srv, c.Client.ID, secrets.MaxPerClient)
	full := e.srv.SecretIDs(c.Client.ID)

	before := e.srv.Stats()
	_, err := sc.Add(ctx, c.Client.ID, secrets.AddRequest{Description: "eleventh"})
	if !errors.Is(err, secrets.ErrLimitReached) {
		t.Fatalf("11th Add = %v, want secrets.ErrLimitReached", err)
	}
	if errors.Is(err, identity.ErrBadRequest) {
		t.Errorf("11th Add = %v: the local refusal must not look like the service's 400", err)
	}
	_, err = sc.Rotate(ctx, c.Client.ID, secrets.RotateRequest{Store: func(context.Context, secrets.Added) error { return nil }})
	if !errors.Is(err, secrets.ErrLimitReached) {
		t.Errorf("Rotate of a full client without FreeRoom = %v, want secrets.ErrLimitReached", err)
	}
	after := e.srv.Stats()
	if n := after.Requests[hybridclientstest.OpAddSecret] - before.Requests[hybridclientstest.OpAddSecret]; n != 0 {
		t.Errorf("%d AddSecret requests were sent at the limit, want 0", n)
	}
	if n := after.Requests[hybridclientstest.OpDeleteSecret] - before.Requests[hybridclientstest.OpDeleteSecret]; n != 0 {
		t.Errorf("%d DeleteSecret requests were sent at the limit, want 0", n)
	}
	if got := e.srv.SecretIDs(c.Client.ID); !slices.Equal(got, full) {
		t.Errorf("secrets changed at the limit: %v, want %v", got, full)
	}
	// With room again, Add works.
	if err := sc.Delete(ctx, c.Client.ID, full[3]); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Add(ctx, c.Client.ID, secrets.AddRequest{Description: "tenth again"}); err != nil {
		t.Errorf("Add after freeing a slot: %v", err)
	}
}

// The service's own 400 at the limit: another caller fills the last slot between Add's
// list and its POST. The POST is held back by a one-shot Delay fault while the other add
// goes through.
func TestEleventhSecretServiceRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	c := create(t, ctx, e.clients, "app")
	sc := e.clients.Secrets()
	fill(t, ctx, sc, e.srv, c.Client.ID, secrets.MaxPerClient-1)

	sent := requests(e.srv, hybridclientstest.OpAddSecret)
	e.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpAddSecret, Delay: 1500 * time.Millisecond, Times: 1})
	late := make(chan error, 1)
	go func() {
		_, err := sc.Add(ctx, c.Client.ID, secrets.AddRequest{Description: "late"})
		late <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for requests(e.srv, hybridclientstest.OpAddSecret) == sent { // until the late POST is held
		if time.Now().After(deadline) {
			t.Fatal("the delayed add never reached the fake")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, err := sc.Add(ctx, c.Client.ID, secrets.AddRequest{Description: "tenth"}); err != nil {
		t.Fatalf("the competing Add: %v", err)
	}
	err := <-late
	wantStatus(t, "the delayed 11th Add", err, identity.ErrBadRequest, 400)
	if errors.Is(err, secrets.ErrLimitReached) {
		t.Errorf("the service's 400 = %v must not claim nothing was sent", err)
	}
	if n := len(e.srv.SecretIDs(c.Client.ID)); n != secrets.MaxPerClient {
		t.Errorf("client has %d secrets, want %d", n, secrets.MaxPerClient)
	}
}

func TestClientCap(t *testing.T) {
	t.Parallel()
	// The cap counts clients of all types: the administrator and member identities are 2.
	e := newEnv(t, &hybridclientstest.Options{MaxClients: 4})
	ctx := testCtx(t)
	a := create(t, ctx, e.clients, "one")
	create(t, ctx, e.clients, "two")

	before := requests(e.srv, hybridclientstest.OpCreateClient)
	_, err := e.clients.Create(ctx, hybridclients.CreateRequest{Name: "three", RedirectURIs: []string{"https://three.example.com/cb"}})
	wantStatus(t, "Create past the cap", err, identity.ErrBadRequest, 400)
	if n := requests(e.srv, hybridclientstest.OpCreateClient) - before; n != 1 {
		t.Errorf("Create past the cap sent %d requests, want 1 (a 400 is final)", n)
	}
	if n := len(e.srv.Clients()); n != 2 {
		t.Errorf("tenant has %d hybrid clients, want 2", n)
	}
	if n, err := e.clients.Count(ctx, hybridclients.CountOptions{}); err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
	// Deleting one makes room.
	if err := e.clients.Delete(ctx, a.Client.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.clients.Create(ctx, hybridclients.CreateRequest{Name: "three", RedirectURIs: []string{"https://three.example.com/cb"}}); err != nil {
		t.Errorf("Create after a delete made room: %v", err)
	}
}

func TestCreateConflictLeavesExistingClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	orig := create(t, ctx, e.clients, "original")
	id := orig.Client.ID
	ids := e.srv.SecretIDs(id)

	before := e.srv.Stats()
	_, err := e.clients.Create(ctx, hybridclients.CreateRequest{
		ID: id, Name: "impostor", RedirectURIs: []string{"https://impostor.example.com/cb"},
	})
	// A caller's id is checked (HEAD) before anything is created, and an existing client
	// is refused without a POST: a retried create must never take over someone's client.
	if !errors.Is(err, identity.ErrConflict) {
		t.Errorf("Create with an existing id = %v, want an error matching %v", err, identity.ErrConflict)
	}
	after := e.srv.Stats()

	if !e.srv.CheckSecret(id, orig.Secret.Value) {
		t.Error("the original client's secret stopped authenticating after a conflicting create")
	}
	if got := e.srv.SecretIDs(id); !slices.Equal(got, ids) {
		t.Errorf("the original client's secrets changed from %v to %v", ids, got)
	}
	got, err := e.clients.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffClient(*got, orig.Client); d != "" {
		t.Errorf("the original client changed: %s", d)
	}
	if n := len(e.srv.Clients()); n != 1 {
		t.Errorf("%d clients, want 1", n)
	}
	for _, op := range []hybridclientstest.Op{hybridclientstest.OpListSecrets, hybridclientstest.OpAddSecret, hybridclientstest.OpDeleteSecret, hybridclientstest.OpUpdateClient} {
		if n := after.Requests[op] - before.Requests[op]; n != 0 {
			t.Errorf("a conflicting create made %d %s requests, want 0", n, op)
		}
	}
	if n := after.Requests[hybridclientstest.OpCreateClient] - before.Requests[hybridclientstest.OpCreateClient]; n != 0 {
		t.Errorf("a conflicting create made %d create requests, want 0", n)
	}

	// Ids are shared with client-credential clients: the member identity's id conflicts too.
	_, err = e.clients.Create(ctx, hybridclients.CreateRequest{
		ID: e.srv.Member.ClientID, Name: "impostor", RedirectURIs: []string{"https://impostor.example.com/cb"},
	})
	wantStatus(t, "Create with an identity's id", err, identity.ErrConflict, 409)
	if !e.srv.CheckSecret(e.srv.Member.ClientID, e.srv.Member.Secret) {
		t.Error("the member identity's secret stopped authenticating")
	}
	// A fresh caller-given id works.
	fresh := uuid.NewString()
	c, err := e.clients.Create(ctx, hybridclients.CreateRequest{ID: fresh, Name: "fresh", RedirectURIs: []string{"https://fresh.example.com/cb"}})
	if err != nil || c.Client.ID != fresh {
		t.Errorf("Create(fresh id) = %+v, %v", c, err)
	}
}
