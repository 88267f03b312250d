package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/examples/internal/exampleenv"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// noTenantEnv clears the variables that name a tenant, for the test.
func noTenantEnv(t *testing.T) {
	for _, v := range []string{exampleenv.EnvResource, exampleenv.EnvTenantID, exampleenv.EnvClientID, exampleenv.EnvClientSecret} {
		t.Setenv(v, "")
	}
}

func TestRefreshFlagKnowsWhetherItWasGiven(t *testing.T) {
	noTenantEnv(t)
	for _, tc := range []struct {
		args     []string
		set, val bool
	}{
		{nil, false, false},
		{[]string{"-refresh"}, true, true},
		{[]string{"-refresh=true"}, true, true},
		{[]string{"-refresh=false"}, true, false},
	} {
		o, err := parseFlags(tc.args, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if o.refresh.set != tc.set || o.refresh.value != tc.val {
			t.Errorf("%q: set %t value %t, want %t %t", tc.args, o.refresh.set, o.refresh.value, tc.set, tc.val)
		}
	}
	if _, err := parseFlags([]string{"-refresh=maybe"}, io.Discard); err == nil {
		t.Error("-refresh=maybe accepted")
	}
}

// TestRefreshDefaultFollowsTheClient: a sign-in asks for offline_access only when the
// client allows refresh tokens, else the identity server refuses it (invalid_scope). On the
// emulator the example creates the client; against a tenant it reads the client with
// management credentials when it has them, and without them asks only when told to.
func TestRefreshDefaultFollowsTheClient(t *testing.T) {
	noTenantEnv(t)
	const redirect = "http://127.0.0.1:5000/callback"
	// The fake plays the tenant, reached as a tenant is: by -resource and -tenant-id.
	fake := hybridclientstest.NewServer(t, nil)
	clients, err := hybridclients.New(fake.Config())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeSecret := func(name string, s identity.Secret) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(s.Reveal()), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	client := map[bool][]string{} // AllowRefreshTokens -> -client-id, -secret-file
	for _, allow := range []bool{false, true} {
		created, err := clients.Create(t.Context(), hybridclients.CreateRequest{
			Name: "signin", RedirectURIs: []string{redirect}, AllowRefreshTokens: allow,
		})
		if err != nil {
			t.Fatal(err)
		}
		client[allow] = []string{"-client-id", created.Client.ID, "-secret-file", writeSecret(created.Client.ID, created.Secret.Value)}
	}
	tenant := []string{"-resource", fake.URL, "-tenant-id", fake.TenantID, "-redirect-uri", redirect}
	mgmt := []string{"-auth-client-id", fake.Member.ClientID, "-auth-secret-file", writeSecret("member", fake.Member.Secret)}
	args := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}

	for _, tc := range []struct {
		name string
		args []string
		want bool   // asks for offline_access
		note string // on stderr
		err  string // refused, naming this
	}{
		{"emulator", nil, true, "the emulator's client allows them", ""},
		{"emulator -refresh=false", []string{"-refresh=false"}, false, "as -refresh=false says", ""},
		{"tenant, no management credentials", args(tenant, client[false]), false, "pass -refresh if it is on", ""},
		{"tenant, no management credentials, -refresh", args(tenant, client[true], []string{"-refresh"}), true, "as -refresh says", ""},
		{"tenant, client without refresh tokens", args(tenant, client[false], mgmt), false, "Allow Refresh Token is off", ""},
		{"tenant, client with refresh tokens", args(tenant, client[true], mgmt), true, "the client allows them", ""},
		{"tenant, client with refresh tokens, -refresh=false", args(tenant, client[true], mgmt, []string{"-refresh=false"}), false, "as -refresh=false says", ""},
		{"tenant, client without refresh tokens, -refresh", args(tenant, client[false], mgmt, []string{"-refresh"}), false, "", "Allow Refresh Token is off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			si, _, stop, err := signIn(t.Context(), o, "http://127.0.0.1:5000", &stderr)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(stop)
			if got := asksForRefreshTokens(si); got != tc.want {
				t.Errorf("asks for offline_access: %t, want %t", got, tc.want)
			}
			if note := refreshNote(o, si); !strings.Contains(note, tc.note) {
				t.Errorf("note %q, want it to say %q", note, tc.note)
			}
			if o.clientID == "" {
				return // the emulator's own client, on its own fake
			}
			// The identity server accepts the sign-in: no invalid_scope.
			verifier := oauth2.GenerateVerifier()
			authURL, err := si.AuthCodeURL(rand.Text(), rand.Text(), verifier)
			if err != nil {
				t.Fatal(err)
			}
			back, err := fake.SignIn(t.Context(), authURL, ada)
			if err != nil {
				t.Fatal(err)
			}
			if q := back.Query(); q.Get("code") == "" {
				t.Fatalf("the sign-in was refused: %s: %s", q.Get("error"), q.Get("error_description"))
			}
		})
	}
}

// TestManagementCredentialsComeWhole: an id without a secret (or the reverse) is a misuse
// of the flags, and so are management credentials on the emulator.
func TestManagementCredentialsComeWhole(t *testing.T) {
	noTenantEnv(t)
	tenant := []string{"-tenant-id", "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b", "-client-id", "c", "-secret-file", "s", "-redirect-uri", "http://127.0.0.1:5000/callback"}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"id without secret", append(tenant[:len(tenant):len(tenant)], "-auth-client-id", "m"), nil, "management credentials whole"},
		{"secret file without id", append(tenant[:len(tenant):len(tenant)], "-auth-secret-file", "f"), nil, "management credentials whole"},
		{"env id without secret", tenant, map[string]string{exampleenv.EnvClientID: "m"}, "management credentials whole"},
		{"on the emulator", []string{"-auth-secret-file", "f"}, nil, "go with -client-id"},
		{"env on the emulator", nil, map[string]string{exampleenv.EnvClientID: "m", exampleenv.EnvClientSecret: "x"}, "give your hybrid client's -client-id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			if _, err := parseFlags(tc.args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestOptionsNeverShowTheManagementSecret: the options hold OCS_CLIENT_SECRET; no rendering
// of them shows it.
func TestOptionsNeverShowTheManagementSecret(t *testing.T) {
	noTenantEnv(t)
	const value = "management-secret-value-1234"
	t.Setenv(exampleenv.EnvClientID, "m")
	t.Setenv(exampleenv.EnvClientSecret, value)
	o, err := parseFlags([]string{"-tenant-id", "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b", "-client-id", "c",
		"-secret-file", "s", "-redirect-uri", "http://127.0.0.1:5000/callback"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.authSecret.Reveal() != value {
		t.Fatal("OCS_CLIENT_SECRET was not read")
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(verb, *o); strings.Contains(got, value) {
			t.Errorf("%s shows the secret", verb)
		}
	}
}
