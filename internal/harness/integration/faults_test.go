package integration

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// fastEnv is an env whose SDK retries quickly, for fault tests.
func fastEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, nil)
	cfg := e.srv.Config()
	cfg.Retry = identity.RetryPolicy{MinWait: 5 * time.Millisecond, MaxWait: 20 * time.Millisecond}
	e.clients = newClients(t, cfg)
	return e
}

// A create whose answer is lost (committed, then the connection cut, or a truncated body)
// ends with exactly one client holding exactly one secret, whose value the caller has.
func TestCreateAnswerLost(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]hybridclientstest.Fault{
		"cut once":     {Op: hybridclientstest.OpCreateClient, CutAfterCommit: true, Times: 1},
		"truncated":    {Op: hybridclientstest.OpCreateClient, Truncate: true, Times: 1},
		"cut always":   {Op: hybridclientstest.OpCreateClient, CutAfterCommit: true},
		"503 then 201": {Op: hybridclientstest.OpCreateClient, Status: 503, Times: 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := fastEnv(t)
			ctx := testCtx(t)
			e.srv.Inject(f)
			c, err := e.clients.Create(ctx, hybridclients.CreateRequest{
				Name: "app", RedirectURIs: []string{"https://app.example.com/cb"}, SecretDescription: "first",
			})
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if got := fakeIDs(e.srv); !slices.Equal(got, []string{c.Client.ID}) {
				t.Errorf("clients %v, want only %s", got, c.Client.ID)
			}
			if got := e.srv.SecretIDs(c.Client.ID); !slices.Equal(got, []int{c.Secret.ID}) {
				t.Errorf("secrets %v, want only [%d] (no orphan)", got, c.Secret.ID)
			}
			if !e.srv.CheckSecret(c.Client.ID, c.Secret.Value) {
				t.Error("the returned secret does not authenticate")
			}
			if c.Secret.Description != "first" || c.Client.Name != "app" {
				t.Errorf("Create returned %q / %q", c.Client.Name, c.Secret.Description)
			}
		})
	}
}

func TestAddAnswerLost(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]hybridclientstest.Fault{
		"cut once":  {Op: hybridclientstest.OpAddSecret, CutAfterCommit: true, Times: 1},
		"truncated": {Op: hybridclientstest.OpAddSecret, Truncate: true, Times: 1},
		"500 once":  {Op: hybridclientstest.OpAddSecret, Status: 500, Times: 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := fastEnv(t)
			ctx := testCtx(t)
			c := create(t, ctx, e.clients, "app")
			e.srv.Inject(f)
			a, err := e.clients.Secrets().Add(ctx, c.Client.ID, secrets.AddRequest{Description: "second"})
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			if got := e.srv.SecretIDs(c.Client.ID); !slices.Equal(got, []int{c.Secret.ID, a.ID}) {
				t.Errorf("secrets %v, want [%d %d] (no orphan)", got, c.Secret.ID, a.ID)
			}
			if !e.srv.CheckSecret(c.Client.ID, a.Value) || !e.srv.CheckSecret(c.Client.ID, c.Secret.Value) {
				t.Error("a secret does not authenticate")
			}
		})
	}
}

func TestIdempotentCallsRetried(t *testing.T) {
	t.Parallel()
	e := fastEnv(t)
	ctx := testCtx(t)
	c := create(t, ctx, e.clients, "app")
	extra, err := e.clients.Secrets().Add(ctx, c.Client.ID, secrets.AddRequest{Description: "x"})
	if err != nil {
		t.Fatal(err)
	}

	e.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpUpdateClient, Status: 503, RetryAfter: 0, Times: 1})
	if _, err := e.clients.Update(ctx, c.Client.ID, hybridclients.UpdateRequest{Name: identity.Ptr("renamed")}); err != nil {
		t.Errorf("Update after one 503: %v", err)
	}
	e.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpListClients, Status: 429, Times: 1})
	if p, err := e.clients.List(ctx, hybridclients.ListOptions{}); err != nil || p.Total != 1 {
		t.Errorf("List after one 429: %+v, %v", p, err)
	}
	// A delete whose answer is lost: the retry meets 404 and that is success.
	e.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpDeleteSecret, CutAfterCommit: true, Times: 1})
	if err := e.clients.Secrets().Delete(ctx, c.Client.ID, extra.ID); err != nil {
		t.Errorf("secret Delete with the answer lost: %v", err)
	}
	e.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpDeleteClient, CutAfterCommit: true, Times: 1})
	if err := e.clients.Delete(ctx, c.Client.ID); err != nil {
		t.Errorf("Delete with the answer lost: %v", err)
	}
	if len(e.srv.Clients()) != 0 {
		t.Error("the client was not deleted")
	}

	// A persistent 500 ends, after the attempts, in ErrServer.
	e.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpCountClients, Status: 500})
	before := requests(e.srv, hybridclientstest.OpCountClients)
	_, err = e.clients.Count(ctx, hybridclients.CountOptions{})
	wantStatus(t, "Count under a persistent 500", err, identity.ErrServer, 500)
	if n := requests(e.srv, hybridclientstest.OpCountClients) - before; n != 4 {
		t.Errorf("Count under a persistent 500 made %d attempts, want the default 4", n)
	}
	// A gateway's HTML error page is still an *identity.Error.
	e.srv.ClearFaults()
	e.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpGetClient, Status: 403, HTML: true, Times: 1})
	_, err = e.clients.Get(ctx, c.Client.ID)
	wantStatus(t, "Get answered by an HTML 403", err, identity.ErrForbidden, 403)
	if errors.Is(err, identity.ErrNotFound) {
		t.Error("HTML 403 matched ErrNotFound")
	}
}
