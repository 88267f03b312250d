package desired

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/internal/clientinfo"
	"github.com/ocs-go/identity/internal/harness/mocktest"
	"github.com/ocs-go/identity/secrets"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the code")

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./hybridclients/desired -run %s -update)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got); if that is deliberate, run with -update:\n%s", path, diff)
	}
}

// fake starts the fake service and returns it with an SDK client of its administrator,
// retrying fast.
func fake(t *testing.T, opts *hybridclientstest.Options) (*hybridclientstest.Server, *hybridclients.Client) {
	t.Helper()
	srv := hybridclientstest.NewServer(t, opts)
	cfg := srv.Config()
	cfg.Retry = identity.RetryPolicy{MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond}
	c, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return srv, c
}

// recordOf returns r naming the tenant c calls, as Apply would.
func recordOf(c *hybridclients.Client, r Record) Record {
	return r.withTenant(clientinfo.Of(c))
}

// vault is a Store that keeps each client's values, as a vault would.
type vault struct {
	mu     sync.Mutex
	values map[string][]secrets.Added  // client id -> the secrets stored, in order
	fail   func(clientID string) error // when set and non-nil, Store fails
}

func newVault() *vault { return &vault{values: map[string][]secrets.Added{}} }

func (v *vault) Store(_ context.Context, clientID string, s secrets.Added) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.fail != nil {
		if err := v.fail(clientID); err != nil {
			return err
		}
	}
	v.values[clientID] = append(v.values[clientID], s)
	return nil
}

// held returns the ids of the secrets stored for clientID.
func (v *vault) held(clientID string) []int {
	v.mu.Lock()
	defer v.mu.Unlock()
	var ids []int
	for _, s := range v.values[clientID] {
		ids = append(ids, s.ID)
	}
	return ids
}

// last returns the last secret stored for clientID.
func (v *vault) last(clientID string) (secrets.Added, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ss := v.values[clientID]
	if len(ss) == 0 {
		return secrets.Added{}, false
	}
	return ss[len(ss)-1], true
}

// cannedTenant answers the list route of rig from clients, each a HybridClient as the
// service sends it (JSON): by id when the query names ids, else every client.
func cannedTenant(t *testing.T, rig *mocktest.Rig, clients ...string) {
	var all []map[string]any
	if err := json.Unmarshal([]byte("["+strings.Join(clients, ",")+"]"), &all); err != nil {
		t.Fatal(err)
	}
	rig.OnFunc(http.MethodGet, mocktest.TenantURL+"/HybridClients", func(r *http.Request) mocktest.Reply {
		ids := r.URL.Query()["id"]
		out := []map[string]any{}
		for _, c := range all {
			if len(ids) == 0 || slices.ContainsFunc(ids, func(id string) bool { return strings.EqualFold(id, c["Id"].(string)) }) {
				out = append(out, c)
			}
		}
		b, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		return mocktest.Reply{Status: 200, Body: string(b), Header: http.Header{"Total-Count": {strconv.Itoa(len(out))}}}
	})
}

// rigClient returns a Rig and an SDK client whose requests end in it.
func rigClient(t *testing.T) (*mocktest.Rig, *hybridclients.Client) {
	t.Helper()
	return rigClientAt(t, time.Time{})
}

// rigClientAt is rigClient with a Config whose clock reads now (unless it is zero).
func rigClientAt(t *testing.T, now time.Time) (*mocktest.Rig, *hybridclients.Client) {
	t.Helper()
	rig := mocktest.New(t, mocktest.Options{})
	cfg := rig.Config
	if !now.IsZero() {
		cfg.Clock = fixedClock(now)
	}
	c, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rig, c
}

// cannedSecrets answers the secrets list route of each client of lists (id -> a JSON array
// of ClientSecret as the service sends it).
func cannedSecrets(rig *mocktest.Rig, lists map[string]string) {
	for id, list := range lists {
		var n []json.RawMessage
		_ = json.Unmarshal([]byte(list), &n)
		rig.On(http.MethodGet, mocktest.TenantURL+"/HybridClients/"+id+"/Secrets", mocktest.Any,
			mocktest.Reply{Status: 200, Body: list, Header: http.Header{"Total-Count": {strconv.Itoa(len(n))}}})
	}
}

// textOf renders p as WriteText does.
func textOf(t *testing.T, p *Plan) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// jsonOf renders p as WriteJSON does.
func jsonOf(t *testing.T, p *Plan) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := p.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sameExpiry compares secrets.Expiry values (whose fields are unexported) by what they
// say.
var sameExpiry = cmp.Comparer(func(a, b secrets.Expiry) bool {
	return a.IsZero() == b.IsZero() && a.Never() == b.Never() && a.At().Equal(b.At()) && a.In() == b.In()
})

// mustErr fails the test unless err matches target.
func mustErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want one matching %v", what, err, target)
	}
}
