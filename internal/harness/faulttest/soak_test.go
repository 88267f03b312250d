package faulttest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	hct "github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

const (
	soakCreates = 1000
	soakClients = 100 // for the adds: 5 adds each
	soakAdds    = 500
	soakWorkers = 8
	cutRate     = 0.2
	// soakAttempts: with 20% of answers cut, a call whose every attempt is cut gives up
	// (cleanly: TestAttemptsExhausted) with probability 0.2^attempts; at 10 that is 1e-7,
	// so the soak measures recovery, not the attempt budget.
	soakAttempts = 10
)

// soakClient returns an SDK client of fx with soakAttempts tries per call.
func soakClient(t *testing.T, fx *fixture) *hybridclients.Client {
	t.Helper()
	cfg := fx.cfg
	cfg.Retry.MaxAttempts = soakAttempts
	hc, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return hc
}

// parallelDo runs f(i) for i in [0, n) on soakWorkers goroutines.
func parallelDo(n int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range soakWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// TestSoakCreate: 1,000 creates with 20% of the create answers cut after the client was
// committed (seeded) end in exactly 1,000 clients with exactly one secret each, every
// returned value accepted by the service, no orphan secret and no duplicate client.
func TestSoakCreate(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: run without -short")
	}
	fx := newFixture(t, nil)
	if err := fx.hc.Delete(context.Background(), fx.clientID); err != nil {
		t.Fatal(err)
	}
	fx.srv.Inject(hct.Fault{Op: hct.OpCreateClient, CutAfterCommit: true, Probability: cutRate, Seed: 20261125})
	fx.hc = soakClient(t, fx)

	var mu sync.Mutex
	values := map[string]identity.Secret{} // client id -> returned value
	var failures []error
	parallelDo(soakCreates, func(i int) {
		c, err := fx.hc.Create(context.Background(), hybridclients.CreateRequest{
			Name: fmt.Sprintf("soak-%04d", i), RedirectURIs: []string{"https://soak.example.com/cb"}, SecretDescription: "soak",
		})
		rec.see(c, err)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failures = append(failures, err)
			return
		}
		rec.secret(c.Secret.Value.Reveal())
		values[c.Client.ID] = c.Secret.Value
	})
	for _, err := range failures {
		t.Errorf("create failed: %v", err)
	}

	clients := fx.srv.Clients()
	names := map[string]bool{}
	orphans, accepted, oneSecret := 0, 0, 0
	for _, c := range clients {
		names[c.Name] = true
		if len(c.SecretIDs) == 1 {
			oneSecret++
		} else if len(c.SecretIDs) > 1 {
			orphans += len(c.SecretIDs) - 1
		}
		if v, ok := values[c.ID]; ok && fx.srv.CheckSecret(c.ID, v) {
			accepted++
		}
	}
	st := fx.srv.Stats()
	cuts := st.Requests[hct.OpCreateClient] - soakCreates
	msg := fmt.Sprintf("soak create: %d creates, %d create requests (%d beyond one each, from cut answers), %d clients, %d distinct names, %d with exactly one secret, %d values accepted, %d orphan secrets, %d failures",
		soakCreates, st.Requests[hct.OpCreateClient], cuts, len(clients), len(names), oneSecret, accepted, orphans, len(failures))
	t.Log(msg)
	fmt.Println(msg)
	if len(clients) != soakCreates || len(names) != soakCreates || oneSecret != soakCreates || accepted != soakCreates || orphans != 0 {
		t.Fatal("the guarantee does not hold")
	}
	if cuts < soakCreates/10 {
		t.Fatalf("only %d extra create requests: the 20%% fault did not fire enough to prove anything", cuts)
	}
}

// TestSoakAdd: 500 secret adds with 20% of the add answers cut after the secret was
// committed end with exactly the secrets asked for, every value accepted, no orphan.
func TestSoakAdd(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: run without -short")
	}
	fx := newFixture(t, nil)
	ids := []string{fx.clientID}
	for i := 1; i < soakClients; i++ {
		c, err := fx.hc.Create(context.Background(), hybridclients.CreateRequest{
			Name: fmt.Sprintf("adds-%03d", i), RedirectURIs: []string{"https://soak.example.com/cb"},
		})
		if err != nil {
			t.Fatal(err)
		}
		rec.secret(c.Secret.Value.Reveal())
		ids = append(ids, c.Client.ID)
	}
	fx.srv.Inject(hct.Fault{Op: hct.OpAddSecret, CutAfterCommit: true, Probability: cutRate, Seed: 20261126})
	fx.sec = soakClient(t, fx).Secrets()

	var mu sync.Mutex
	type added struct {
		client string
		value  identity.Secret
	}
	var got []added
	var failures []error
	// Each worker owns whole clients, so no two adds to one client race (a concurrent
	// add by someone else is exactly what reconciliation refuses to guess about).
	parallelDo(soakClients, func(i int) {
		for j := range soakAdds / soakClients {
			a, err := fx.sec.Add(context.Background(), ids[i], secrets.AddRequest{Description: fmt.Sprintf("add-%d", j)})
			rec.see(a, err)
			mu.Lock()
			if err != nil {
				failures = append(failures, err)
			} else {
				rec.secret(a.Value.Reveal())
				got = append(got, added{ids[i], a.Value})
			}
			mu.Unlock()
		}
	})
	for _, err := range failures {
		t.Errorf("add failed: %v", err)
	}
	total, accepted := 0, 0
	for _, id := range ids {
		total += len(fx.srv.SecretIDs(id))
	}
	for _, a := range got {
		if fx.srv.CheckSecret(a.client, a.value) {
			accepted++
		}
	}
	st := fx.srv.Stats()
	want := soakClients + soakAdds // the initial secrets and the adds
	orphans := max(total-want, 0)
	msg := fmt.Sprintf("soak add: %d adds on %d clients, %d add requests (%d beyond one each), %d secrets in all (want %d), %d values accepted, %d orphan secrets, %d failures",
		soakAdds, soakClients, st.Requests[hct.OpAddSecret], st.Requests[hct.OpAddSecret]-soakAdds, total, want, accepted, orphans, len(failures))
	t.Log(msg)
	fmt.Println(msg)
	if len(got) != soakAdds || accepted != soakAdds || total != want {
		t.Fatal("the guarantee does not hold")
	}
	if st.Requests[hct.OpAddSecret]-soakAdds < soakAdds/10 {
		t.Fatal("the 20% fault did not fire enough to prove anything")
	}
}

// TestAttemptsExhausted: when every attempt's answer is lost, Add gives up with a plain
// error and leaves nothing behind (each orphan was deleted), and Create still ends with
// the client and one usable secret (a cut 409 is still a 409 for settling).
func TestAttemptsExhausted(t *testing.T) {
	t.Run("add", func(t *testing.T) {
		fx := newFixture(t, nil)
		fx.srv.Inject(hct.Fault{Op: hct.OpAddSecret, CutAfterCommit: true})
		a, err := fx.sec.Add(context.Background(), fx.clientID, secrets.AddRequest{Description: "x"})
		rec.see(a, err)
		if err == nil || errors.Is(err, identity.ErrOutcomeUnknown) {
			t.Fatalf("err = %v: want a plain error, the state being known", err)
		}
		if ids := fx.srv.SecretIDs(fx.clientID); len(ids) != 1 || ids[0] != fx.secretID {
			t.Fatalf("secrets %v: the orphans of the %d attempts must be gone", ids, fx.srv.Stats().Requests[hct.OpAddSecret])
		}
		if n := fx.srv.Stats().Requests[hct.OpAddSecret]; n != 4 {
			t.Fatalf("%d add requests, want the default 4 attempts", n)
		}
	})
	t.Run("create", func(t *testing.T) {
		fx := newFixture(t, nil)
		fx.srv.Inject(hct.Fault{Op: hct.OpCreateClient, CutAfterCommit: true})
		c, err := fx.hc.Create(context.Background(), hybridclients.CreateRequest{Name: "x", RedirectURIs: []string{"https://x.example.com/"}})
		rec.see(c, err)
		if err != nil {
			t.Fatal(err)
		}
		rec.secret(c.Secret.Value.Reveal())
		exactlyOneUsable(t, fx, c.Client.ID, c.Secret.ID, c.Secret.Value)
	})
}
