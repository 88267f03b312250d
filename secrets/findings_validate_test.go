package secrets

// Regression tests of the secrets package's input checks: control and bidirectional
// characters in a description are refused, a zero Client returns errors instead of
// panicking, and a bad client id does not hide the request's other broken rules. Each
// failed on the code before its fix; the number in TestFindingNN is the finding's number in the security review, kept so a
// test can be traced to it.

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocs-go/identity"
)

func fields(err error) []string {
	var out []string
	for _, ve := range identity.ValidationErrors(err) {
		out = append(out, ve.Field)
	}
	return out
}

func TestFinding11_SecretDescriptionControlCharacters(t *testing.T) {
	f := newFixture(t, hybridRoute)
	store := func(context.Context, Added) error { return nil }
	for name, v := range map[string]string{
		"newline":        "billing\nsecrets: deleted every secret",
		"ANSI escape":    "\x1b]8;;https://evil.example/\x1b\\billing",
		"NUL":            "billing\x00",
		"tab":            "bill\ting",
		"line separator": "billing\u2029",
		"RLO override":   "billing \u202Eterces",
	} {
		_, err := f.c.Add(ctx, testClient, AddRequest{Description: v})
		if got := fields(err); !slices.Equal(got, []string{"Description"}) || !strings.Contains(err.Error(), "control characters") {
			t.Errorf("Add %s: %v (fields %v), want a refusal of Description", name, err, got)
		}
		_, err = f.c.Update(ctx, testClient, 1, UpdateRequest{Description: &v})
		if got := fields(err); !slices.Equal(got, []string{"Description"}) {
			t.Errorf("Update %s: %v, want a refusal of Description", name, err)
		}
		_, err = f.c.Rotate(ctx, testClient, RotateRequest{Description: v, Store: store})
		if got := fields(err); !slices.Equal(got, []string{"Description"}) {
			t.Errorf("Rotate %s: %v, want a refusal of Description", name, err)
		}
	}
	f.WantCalls() // nothing sent
}

// TestSecretsReportClientIDWithOtherRules: a bad client id comes back together with the
// request's other broken rules, as in the hybridclients package.
func TestSecretsReportClientIDWithOtherRules(t *testing.T) {
	f := newFixture(t, hybridRoute)
	past := ExpiresAt(testNow.Add(-time.Hour))
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"Add", func() error { _, err := f.c.Add(ctx, "", AddRequest{Description: "a\nb", Expiry: past}); return err }(), []string{"ClientID", "Description", "Expiry"}},
		{"Update", func() error { _, err := f.c.Update(ctx, "", 0, UpdateRequest{}); return err }(), []string{"ClientID", "SecretID", "UpdateRequest"}},
		{"Update desc", func() error {
			_, err := f.c.Update(ctx, "..", 1, UpdateRequest{Description: identity.Ptr("\x1b[0m"), Expiry: past})
			return err
		}(), []string{"ClientID", "Description", "Expiry"}},
		{"Rotate", func() error { _, err := f.c.Rotate(ctx, "", RotateRequest{Expiry: past}); return err }(), []string{"ClientID", "Expiry", "Store"}},
		{"List", func() error { _, err := f.c.List(ctx, "", ListOptions{Skip: -1, PageSize: -1}); return err }(), []string{"ClientID", "Skip", "PageSize"}},
		{"CheckExpiry", func() error { _, err := f.c.CheckExpiry(ctx, "", -time.Hour); return err }(), []string{"ClientID", "Within"}},
		{"Get", func() error { _, err := f.c.Get(ctx, "", -1); return err }(), []string{"ClientID", "SecretID"}},
	} {
		if got := fields(tc.err); !slices.Equal(got, tc.want) {
			t.Errorf("%s: rules on %v, want %v: %v", tc.name, got, tc.want, tc.err)
		}
	}
	f.WantCalls()
}

func TestFinding12_ZeroSecretsClientReturnsErrors(t *testing.T) {
	for name, c := range map[string]*Client{"zero": {}, "nil": nil, "zero kind": {kind: hybridRoute}} {
		check := func(method string, err error) {
			t.Helper()
			if !errors.Is(err, identity.ErrInvalidInput) || err == nil || !strings.Contains(err.Error(), "secrets.New") {
				t.Errorf("%s Client.%s: err = %v, want ErrInvalidInput saying to use secrets.New", name, method, err)
			}
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s Client panicked: %v", name, r)
				}
			}()
			_, err := c.List(ctx, testClient, ListOptions{})
			check("List", err)
			n := 0
			for _, err := range c.All(ctx, testClient, ListOptions{}) {
				n++
				check("All", err)
			}
			if n != 1 {
				t.Errorf("%s Client.All yielded %d times, want once", name, n)
			}
			_, err = c.Count(ctx, testClient)
			check("Count", err)
			_, err = c.Get(ctx, testClient, 1)
			check("Get", err)
			_, err = c.Exists(ctx, testClient, 1)
			check("Exists", err)
			_, err = c.Add(ctx, testClient, AddRequest{})
			check("Add", err)
			_, err = c.Update(ctx, testClient, 1, UpdateRequest{Description: identity.Ptr("x")})
			check("Update", err)
			check("Delete", c.Delete(ctx, testClient, 1))
			rot, err := c.Rotate(ctx, testClient, RotateRequest{Store: func(context.Context, Added) error { return nil }})
			check("Rotate", err)
			if rot == nil {
				t.Errorf("%s Client.Rotate returned a nil *Rotation", name)
			}
			_, err = c.CheckExpiry(ctx, testClient, time.Hour)
			check("CheckExpiry", err)
			c.CloseIdleConnections()
			// Other broken rules come with it.
			_, err = c.Add(ctx, "", AddRequest{Description: "a\nb"})
			if got := fields(err); !slices.Equal(got, []string{"secrets.Client", "ClientID", "Description"}) {
				t.Errorf("%s Client.Add(\"\", bad): rules on %v: %v", name, got, err)
			}
		}()
	}
}
