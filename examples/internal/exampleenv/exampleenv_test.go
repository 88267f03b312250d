package exampleenv

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTenantOrEmulator pins the rule the README states: none of the four variables set
// runs the emulator; OCS_TENANT_ID, OCS_CLIENT_ID and OCS_CLIENT_SECRET all set (blank
// counts as unset) use the tenant, OCS_RESOURCE optional with them; any other mix, even
// OCS_RESOURCE alone, is an error naming every missing variable.
func TestTenantOrEmulator(t *testing.T) {
	const tenant = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
	for _, tc := range []struct {
		name     string
		env      map[string]string
		emulated bool
		missing  []string // error naming these; nil: no error
	}{
		{"none", nil, true, nil},
		{"blank values", map[string]string{EnvResource: " ", EnvTenantID: " ", EnvClientID: "\t", EnvClientSecret: "  "}, true, nil},
		{"all three", map[string]string{EnvTenantID: tenant, EnvClientID: "ci", EnvClientSecret: "s"}, false, nil},
		{"all four", map[string]string{EnvResource: "https://euno.datahub.connect.aveva.com", EnvTenantID: tenant, EnvClientID: "ci", EnvClientSecret: "s"}, false, nil},
		{"resource only", map[string]string{EnvResource: "https://euno.datahub.connect.aveva.com"}, false, []string{EnvTenantID, EnvClientID, EnvClientSecret}},
		{"tenant only", map[string]string{EnvTenantID: tenant}, false, []string{EnvClientID, EnvClientSecret}},
		{"secret only", map[string]string{EnvClientSecret: "s"}, false, []string{EnvTenantID, EnvClientID}},
		{"blank secret", map[string]string{EnvTenantID: tenant, EnvClientID: "ci", EnvClientSecret: " "}, false, []string{EnvClientSecret}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{EnvResource, EnvTenantID, EnvClientID, EnvClientSecret} {
				t.Setenv(k, tc.env[k])
			}
			env, err := New("test", "").load(io.Discard)
			if tc.missing != nil {
				if err == nil {
					t.Fatalf("accepted; want an error naming %v", tc.missing)
				}
				for _, k := range []string{EnvTenantID, EnvClientID, EnvClientSecret} {
					named := strings.Contains(err.Error(), "missing") && strings.Contains(strings.Split(err.Error(), ":")[0], k)
					want := strings.Contains(strings.Join(tc.missing, " "), k)
					if named != want {
						t.Errorf("error %q: names %s as missing = %v, want %v", err, k, named, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if env.Fake != nil {
				defer env.Fake.Close()
			}
			if env.Emulated() != tc.emulated {
				t.Fatalf("emulated = %v, want %v", env.Emulated(), tc.emulated)
			}
		})
	}
}

// checkPaths runs check on each path: a want of "" means no error, else the error starts
// with the flag's name and holds want.
func checkPaths(t *testing.T, check func(flagName, path string) error, flagName string, wants map[string]string) {
	t.Helper()
	for path, want := range wants {
		err := check(flagName, path)
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", path, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), flagName+" ") {
			t.Errorf("%q: err = %v, want %q", path, err, want)
		}
	}
}

// TestCheckNewFile: the quickstart's destination check, before anything is created.
func TestCheckNewFile(t *testing.T) {
	dir := t.TempDir()
	taken := filepath.Join(dir, "taken.secret")
	if err := os.WriteFile(taken, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	checkPaths(t, CheckNewFile, "-secret-file", map[string]string{
		"":                                 "",
		filepath.Join(dir, "new.secret"):   "",
		"/no/such/dir/x.secret":            "directory /no/such/dir does not exist",
		taken:                              "exists already",
		filepath.Join(taken, "x.secret"):   "is not a directory",
		filepath.Join(dir, "missing", "x"): "does not exist",
	})
	if left, _ := filepath.Glob(filepath.Join(dir, ".write-check-*")); len(left) > 0 {
		t.Errorf("write checks left: %v", left)
	}
}

// TestCheckReplaceableAcceptsAnExistingFile: rotate-secret's destination check, before
// anything is changed: a file there is replaced, a directory cannot be.
func TestCheckReplaceableAcceptsAnExistingFile(t *testing.T) {
	dir := t.TempDir()
	taken := filepath.Join(dir, "taken.secret")
	if err := os.WriteFile(taken, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	checkPaths(t, CheckReplaceable, "-out", map[string]string{
		"":                                 "",
		filepath.Join(dir, "new.secret"):   "",
		taken:                              "",
		dir:                                "is a directory; name a file",
		"/no/such/dir/x.secret":            "directory /no/such/dir does not exist",
		filepath.Join(taken, "x.secret"):   "is not a directory",
		filepath.Join(dir, "missing", "x"): "does not exist",
	})
	if got, _ := os.ReadFile(taken); string(got) != "x" {
		t.Errorf("the check changed %s to %q", taken, got)
	}
}

// TestCheckDir: the check of the working directory when the file's name is not known yet.
func TestCheckDir(t *testing.T) {
	dir := t.TempDir()
	if err := CheckDir("here:", dir); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckDir("here:", file); err == nil || err.Error() != "here: "+file+" is not a directory" {
		t.Errorf("CheckDir(file) = %v", err)
	}
	if err := CheckDir("here:", filepath.Join(dir, "gone")); err == nil || !strings.HasSuffix(err.Error(), "gone does not exist") {
		t.Errorf("CheckDir(missing) = %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".write-check-*")); len(left) > 0 {
		t.Errorf("write checks left: %v", left)
	}
}

// TestHelpSaysWhichClientEachIDIsFor: -h tells the management credentials
// (-auth-client-id) from the hybrid client an example works on (-client-id).
func TestHelpSaysWhichClientEachIDIsFor(t *testing.T) {
	for _, withClientID := range []bool{false, true} {
		p := New("test", "a test")
		if withClientID {
			p.Flags.String("client-id", "", "the hybrid client")
		}
		var out strings.Builder
		if rc := p.run([]string{"-h"}, &out, nil); rc != 0 {
			t.Fatalf("-h: exit status %d", rc)
		}
		help := out.String()
		for _, want := range []string{
			"-auth-client-id (OCS_CLIENT_ID) is the client-credential client the example signs in\nwith to manage the tenant, not a hybrid client.",
			"-auth-client-id id\n", "management credentials, not a hybrid client",
		} {
			if !strings.Contains(help, want) {
				t.Errorf("-h lacks %q:\n%s", want, help)
			}
		}
		if got := strings.Contains(help, "-client-id is the hybrid client it works on."); got != withClientID {
			t.Errorf("with a -client-id flag %v: -h names it %v:\n%s", withClientID, got, help)
		}
	}
}

// A program's own exit status comes through; a misused flag or an argument too many
// exits with UsageStatus (2 unless set), and MaxArgs arguments are accepted.
func TestRunStatusUsageStatusAndArgs(t *testing.T) {
	for _, k := range []string{EnvResource, EnvTenantID, EnvClientID, EnvClientSecret} {
		t.Setenv(k, "")
	}
	ok := func(status int) func(context.Context, *Env) (int, error) {
		return func(context.Context, *Env) (int, error) { return status, nil }
	}
	for _, tc := range []struct {
		name       string
		usage, max int
		args       []string
		status     int
		want       int
	}{
		{"a status of its own", 0, 0, nil, 2, 2},
		{"a misused flag", 0, 0, []string{"-no-such-flag"}, 0, 2},
		{"a misused flag, status 1", 1, 0, []string{"-no-such-flag"}, 0, 1},
		{"an argument too many", 1, 1, []string{"a", "b"}, 0, 1},
		{"an argument allowed", 1, 1, []string{"a"}, 0, 0},
	} {
		p := New("test", "")
		p.UsageStatus, p.MaxArgs = tc.usage, tc.max
		var stderr strings.Builder
		if got := p.run(tc.args, &stderr, ok(tc.status)); got != tc.want {
			t.Errorf("%s: exit status %d, want %d (%s)", tc.name, got, tc.want, stderr.String())
		}
	}
}

// TestOwnTimeoutLeavesTheDeadlineToTheExample: with OwnTimeout, Run sets no deadline,
// -timeout 0 is accepted and a negative one is a misuse; the example learns the value
// and whether it was given. Without it, Run's deadline is -timeout (60s by default).
func TestOwnTimeoutLeavesTheDeadlineToTheExample(t *testing.T) {
	t.Setenv(EnvResource, "")
	for _, k := range []string{EnvTenantID, EnvClientID, EnvClientSecret} {
		t.Setenv(k, "")
	}
	for _, tc := range []struct {
		args        []string
		own         bool
		status      int
		deadline    bool
		value       time.Duration
		given       bool
		stderrHolds string
	}{
		{nil, false, 0, true, 60 * time.Second, false, ""},
		{[]string{"-timeout", "0"}, false, 2, false, 0, false, "-timeout must be positive"},
		{nil, true, 0, false, 0, false, ""},
		{[]string{"-timeout", "0"}, true, 0, false, 0, true, ""},
		{[]string{"-timeout", "5m"}, true, 0, false, 5 * time.Minute, true, ""},
		{[]string{"-timeout", "-1s"}, true, 2, false, 0, false, "-timeout must not be negative"},
	} {
		p := New("test", "a test")
		timeout := func() (time.Duration, bool) { return p.timeout, false }
		if tc.own {
			timeout = p.OwnTimeout("give up after this long; default: the example's own")
		}
		var ran bool
		var out strings.Builder
		status := p.run(tc.args, &out, func(ctx context.Context, env *Env) (int, error) {
			ran = true
			_, hasDeadline := ctx.Deadline()
			value, given := timeout()
			if hasDeadline != tc.deadline || value != tc.value || (tc.own && given != tc.given) {
				t.Errorf("own %v, %q: deadline %v, -timeout %s given %v; want %v, %s, %v",
					tc.own, tc.args, hasDeadline, value, given, tc.deadline, tc.value, tc.given)
			}
			return 0, nil
		})
		if status != tc.status || ran != (tc.status == 0) || !strings.Contains(out.String(), tc.stderrHolds) {
			t.Errorf("own %v, %q: status %d, ran %v, stderr %q; want %d, %q", tc.own, tc.args, status, ran, out.String(), tc.status, tc.stderrHolds)
		}
	}
	p := New("test", "a test")
	p.OwnTimeout("give up after this long")
	var help strings.Builder
	p.run([]string{"-h"}, &help, nil)
	if !strings.Contains(help.String(), "-timeout duration\n    \tgive up after this long\n") {
		t.Errorf("-h does not show the example's -timeout, without a default:\n%s", help.String())
	}
}

func TestSetDefaultTimeoutChangesTheDefault(t *testing.T) {
	p := New("test", "a test")
	p.SetDefaultTimeout(2 * time.Hour)
	if f := p.Flags.Lookup("timeout"); f.DefValue != "2h0m0s" || p.timeout != 2*time.Hour {
		t.Errorf("-timeout default %s, value %s", f.DefValue, p.timeout)
	}
	if err := p.Flags.Parse([]string{"-timeout", "5m"}); err != nil || p.timeout != 5*time.Minute {
		t.Errorf("-timeout 5m: %v, %s", err, p.timeout)
	}
}

// On the emulator, the SDK's clock moves the emulator's forward by what it waits, at
// once; on a tenant it is the system clock (nil).
func TestClockRunsTheEmulatorForwardInsteadOfWaiting(t *testing.T) {
	env, err := startEmulator(io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Fake.Close()
	clk := env.Clock()
	before := clk.Now()
	select {
	case at := <-clk.After(time.Hour):
		if d := at.Sub(before); d < time.Hour || d > time.Hour+time.Minute {
			t.Errorf("the wait of an hour moved the clock %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the wait of an hour waited")
	}
	if d := env.Now().Sub(before); d < time.Hour {
		t.Errorf("the emulator's clock moved %v", d)
	}
	if (&Env{}).Clock() != nil {
		t.Error("on a tenant the clock is not the system's")
	}
}
