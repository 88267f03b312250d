package hybridclients

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	hct "github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/internal/harness/mocktest"
	"github.com/ocs-go/identity/secrets"
)

const fixedID = "0b8f6c1e-2d3a-4e5f-8a9b-0c1d2e3f4a5b"

// emuClients is an administrator's client of srv with quick retries.
func emuClients(t *testing.T, srv *hct.Server) *Client {
	t.Helper()
	cfg := srv.Config()
	cfg.Retry = identity.RetryPolicy{MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// provisioning is what a provisioning script sends on every run.
func provisioning(id string) CreateRequest {
	return CreateRequest{ID: id, Name: "billing", RedirectURIs: []string{"https://billing.example.com/cb"}, SecretDescription: "deployed"}
}

// waitFor waits until srv has received n requests of op.
func waitFor(t *testing.T, srv *hct.Server, op hct.Op, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().Requests[op] < n {
		if time.Now().After(deadline) {
			t.Errorf("waited in vain for %d %s requests", n, op)
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A provisioning script re-runs Create with a fixed id; the client exists from
// the last run and its secret is deployed. A transient 503 must not make Create take the
// client for its own and wipe its secrets.
func TestCreateWithCallerIDNeverTouchesAnExistingClient(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault hct.Fault
	}{
		{"503 then 409", hct.Fault{Op: hct.OpCreateClient, Status: http.StatusServiceUnavailable, Times: 1}},
		{"503 on every attempt", hct.Fault{Op: hct.OpCreateClient, Status: http.StatusServiceUnavailable}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := hct.NewServer(t, nil)
			c := emuClients(t, srv)
			first, err := c.Create(context.Background(), provisioning(fixedID))
			if err != nil {
				t.Fatal(err)
			}
			ids := srv.SecretIDs(fixedID)
			srv.Inject(tt.fault)
			again, err := c.Create(context.Background(), provisioning(fixedID))
			if !errors.Is(err, identity.ErrConflict) {
				t.Errorf("re-run = %v, %v; want an error matching ErrConflict", again, err)
			}
			if !srv.CheckSecret(fixedID, first.Secret.Value) {
				t.Error("the deployed secret no longer authenticates: the application is locked out")
			}
			if got := srv.SecretIDs(fixedID); !slices.Equal(got, ids) {
				t.Errorf("secrets changed from %v to %v", ids, got)
			}
		})
	}
}

// The race that remains: the id is free when Create checks, then another caller
// creates the same client (same name and redirect URIs) while Create's POST meets a 503;
// the retry meets 409. Nothing proves the client is this call's: nothing may be deleted.
func TestCreateWithCallerIDDeletesNothingWhenAnotherCallerWinsTheRace(t *testing.T) {
	srv := hct.NewServer(t, nil)
	c := emuClients(t, srv)
	expiry := time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)
	srv.Inject(hct.Fault{Op: hct.OpCreateClient, Delay: 300 * time.Millisecond, Status: http.StatusServiceUnavailable, Times: 1})
	var otherValue identity.Secret
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		waitFor(t, srv, hct.OpCreateClient, 1) // this call's POST is held
		otherValue = rawCreate(t, srv, fixedID, "deployed", expiry)
	}()
	req := provisioning(fixedID)
	req.SecretExpiry = secrets.ExpiresAt(expiry)
	got, err := c.Create(context.Background(), req)
	wg.Wait()
	if !srv.CheckSecret(fixedID, otherValue) {
		t.Fatalf("the other caller's secret was deleted (Create = %v, %v)", got, err)
	}
	var oe *identity.OutcomeError
	if !errors.As(err, &oe) || !oe.ClientMayExist || !slices.Equal(oe.Unclaimed, srv.SecretIDs(fixedID)) || len(oe.Orphans) != 0 {
		t.Fatalf("err = %v, want an OutcomeError naming the client's secret in Unclaimed", err)
	}
	if !errors.Is(err, identity.ErrConflict) {
		t.Errorf("err = %v, want it to match ErrConflict too", err)
	}
}

// rawCreate creates a hybrid client with plain HTTP, as another tool would, and returns
// its secret's value.
func rawCreate(t *testing.T, srv *hct.Server, id, desc string, expiry time.Time) identity.Secret {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"Id": id, "Name": "billing", "RedirectUris": []string{"https://billing.example.com/cb"},
		"SecretDescription": desc, "SecretExpirationDate": expiry.Format(time.RFC3339)})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/Tenants/"+srv.TenantID+"/HybridClients", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+srv.IssueToken(hct.RoleAdmin).Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return identity.Secret{}
	}
	defer resp.Body.Close()
	var out struct{ Secret string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		t.Errorf("raw create: %d %v", resp.StatusCode, err)
	}
	return identity.NewSecret(out.Secret)
}

// Once the client exists, a create that cannot be settled (its recovery fails: a truncated
// GET, the context's end, a check that gives up early, a naming look that meets transient
// failures) must say the client may exist and name the secret left on it; an unreadable
// listing is read again instead.
func TestCreateNamesWhatIsLeftWhenItCannotSettle(t *testing.T) {
	cut := hct.Fault{Op: hct.OpCreateClient, CutAfterCommit: true, Times: 1}
	t.Run("client GET truncated every time", func(t *testing.T) {
		srv := hct.NewServer(t, nil)
		c := emuClients(t, srv)
		srv.Inject(cut)
		srv.Inject(hct.Fault{Op: hct.OpGetClient, Truncate: true})
		_, err := c.Create(context.Background(), CreateRequest{Name: "n", RedirectURIs: []string{"https://a.example.com/cb"}})
		wantLeftovers(t, srv, err)
	})
	t.Run("context ends during the recovery", func(t *testing.T) {
		srv := hct.NewServer(t, nil)
		c := emuClients(t, srv)
		srv.Inject(cut)
		srv.Inject(hct.Fault{Op: hct.OpGetClient, Delay: 20 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := c.Create(ctx, CreateRequest{Name: "n", RedirectURIs: []string{"https://a.example.com/cb"}})
		wantLeftovers(t, srv, err)
	})
	// As the chaos soak found it: a failure with the context still running (the retry
	// layer gives up at once on a 429 whose Retry-After outlasts the deadline) must still
	// name the secrets left, although a listing under the caller's context would fail the
	// same way.
	t.Run("check gives up early with the context running", func(t *testing.T) {
		srv := hct.NewServer(t, nil)
		c := emuClients(t, srv)
		srv.Inject(cut)
		tooMany := hct.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Times: 1}
		// Settling the lost answer: the existence check gives up, then so would a listing of
		// the secrets under ctx.
		for _, op := range []hct.Op{hct.OpClientExists, hct.OpListSecrets} {
			f := tooMany
			f.Op = op
			srv.Inject(f)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
		defer cancel()
		_, err := c.Create(ctx, CreateRequest{Name: "n", RedirectURIs: []string{"https://a.example.com/cb"}})
		if !errors.Is(err, identity.ErrRateLimited) {
			t.Errorf("err = %v, want the existence check's 429 in it", err)
		}
		wantLeftovers(t, srv, err)
	})
	// The naming look: the one more listing that names the secrets meets a run of
	// transient failures (the retry layer's attempts used up in milliseconds); giving up
	// then, with most of its 10 s left, named the client but none of its secrets. The look
	// must keep trying while its bound allows.
	t.Run("naming look meets transient failures", func(t *testing.T) {
		srv := hct.NewServer(t, nil)
		c := emuClients(t, srv)
		srv.Inject(cut)
		srv.Inject(hct.Fault{Op: hct.OpClientExists, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Times: 1})
		// Every attempt of the naming look's first try.
		srv.Inject(hct.Fault{Op: hct.OpListSecrets, Status: http.StatusServiceUnavailable, Times: 4})
		ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
		defer cancel()
		_, err := c.Create(ctx, CreateRequest{Name: "n", RedirectURIs: []string{"https://a.example.com/cb"}})
		wantLeftovers(t, srv, err)
	})
	t.Run("secrets listing truncated once is read again", func(t *testing.T) {
		srv := hct.NewServer(t, nil)
		c := emuClients(t, srv)
		srv.Inject(cut)
		srv.Inject(hct.Fault{Op: hct.OpListSecrets, Truncate: true, Times: 1})
		got, err := c.Create(context.Background(), CreateRequest{Name: "n", RedirectURIs: []string{"https://a.example.com/cb"}})
		if err != nil {
			t.Fatalf("Create gave up after one unreadable listing: %v", err)
		}
		if ids := srv.SecretIDs(got.Client.ID); !slices.Equal(ids, []int{got.Secret.ID}) || !srv.CheckSecret(got.Client.ID, got.Secret.Value) {
			t.Errorf("secrets %v, want exactly [%d], authenticating", ids, got.Secret.ID)
		}
	})
}

// wantLeftovers checks that err says the one client srv has may exist and names its
// secrets as this call's orphans.
func wantLeftovers(t *testing.T, srv *hct.Server, err error) {
	t.Helper()
	var oe *identity.OutcomeError
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v, want an *identity.OutcomeError", err)
	}
	clients := srv.Clients()
	if len(clients) != 1 || clients[0].ID != oe.ClientID {
		t.Fatalf("clients %+v, OutcomeError names %q", clients, oe.ClientID)
	}
	if !oe.ClientMayExist {
		t.Errorf("ClientMayExist false although client %s exists: %v", oe.ClientID, err)
	}
	// The SDK generated the id: the client and its marked first secret are this call's.
	if left := srv.SecretIDs(oe.ClientID); !slices.Equal(oe.Orphans, left) || len(oe.Unclaimed) != 0 {
		t.Errorf("Orphans %v, Unclaimed %v; the client has secrets %v", oe.Orphans, oe.Unclaimed, left)
	}
}

// Create's own retries times the retry layer's 429 retries must not exceed
// MaxAttempts POSTs in all.
func TestCreateSendsAtMostMaxAttemptsPOSTs(t *testing.T) {
	c, rig := newTest(t) // MaxAttempts: the default, 4
	var mu sync.Mutex
	n := 0
	rig.OnFunc("POST", base, func(*http.Request) mocktest.Reply {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n%4 == 0 { // three 429s (retried by the retry layer), then a 503 (retried by Create)
			return mocktest.Reply{Status: 503}
		}
		return mocktest.Reply{Status: 429}
	})
	rig.On("HEAD", base+"/"+clientID, mocktest.Want{}, mocktest.Reply{Status: 404})
	if _, err := c.Create(context.Background(), CreateRequest{Name: "n", RedirectURIs: []string{"https://a/"}}); err == nil {
		t.Fatal("Create succeeded")
	}
	if n > 4 {
		t.Errorf("%d POSTs, want at most MaxAttempts = 4", n)
	}
}
