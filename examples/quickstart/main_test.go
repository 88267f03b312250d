package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// TestStoreFailureDeletesTheClient: when the secret cannot be written after the client
// was created, the client is deleted again and the error says so; when it cannot be
// deleted either, the error says it is left behind and names it.
func TestStoreFailureDeletesTheClient(t *testing.T) {
	srv := hybridclientstest.NewServer(t, nil)
	admin, err := hybridclients.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	member, err := hybridclients.New(srv.MemberConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	unwritable := filepath.Join(t.TempDir(), "no-such-dir", "x.secret")
	for _, tc := range []struct {
		name    string
		deleter *hybridclients.Client
		want    string
		exists  bool
	}{
		{"deleted", admin, "deleted client %s again, nothing is left", false},
		{"left", member, "client %s is LEFT BEHIND", true},
	} {
		created, err := admin.Create(ctx, hybridclients.CreateRequest{Name: "quickstart test", RedirectURIs: []string{"https://localhost:5001/signin-oidc"}})
		if err != nil {
			t.Fatal(err)
		}
		id := created.Client.ID
		err = store(ctx, tc.deleter, created, unwritable)
		if err == nil || !strings.Contains(err.Error(), strings.Replace(tc.want, "%s", id, 1)) || !strings.Contains(err.Error(), unwritable) {
			t.Errorf("%s: err = %v, want it to say %q and name the file", tc.name, err, strings.Replace(tc.want, "%s", id, 1))
		}
		if err != nil && strings.Contains(err.Error(), created.Secret.Value.Reveal()) {
			t.Fatalf("%s: the error shows the secret's value", tc.name)
		}
		if exists, err := admin.Exists(ctx, id); err != nil || exists != tc.exists {
			t.Errorf("%s: client exists = %v (%v), want %v", tc.name, exists, err, tc.exists)
		}
	}
}

// -trace prints a span of each operation and attempt, and never the secret's value.
func TestTraceShowsOperationsNotSecrets(t *testing.T) {
	srv := hybridclientstest.NewServer(t, nil)
	var out strings.Builder
	tp, err := tracing(&out)
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config()
	cfg.TracerProvider = tp
	clients, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	created, err := clients.Create(ctx, hybridclients.CreateRequest{Name: "traced", RedirectURIs: []string{"https://localhost:5001/signin-oidc"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Name":"hybridclients.Create"`, `"Name":"POST /api/v1/Tenants/{tenantId}/HybridClients"`, created.Client.ID} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the trace lacks %s", want)
		}
	}
	if strings.Contains(out.String(), created.Secret.Value.Reveal()) || strings.Contains(out.String(), srv.Admin.Secret.Reveal()) {
		t.Fatal("the trace shows a secret")
	}
}
