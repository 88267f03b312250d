package hybridclients

// Regression tests of the hybridclients package's input checks: redirect URI schemes,
// control and bidirectional characters in names and tags, and a zero Client that returns
// errors instead of panicking. Each failed on the code before its fix; the number in TestFindingNN is the finding's number in the security review, kept so a
// test can be traced to it.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/secrets"
)

// refusedField checks that err is a refusal naming field with a rule containing ruleWord,
// and that it does not show hidden.
func refusedField(t *testing.T, what string, err error, field, ruleWord, hidden string) {
	t.Helper()
	if !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("%s: err = %v, want a refusal (ErrInvalidInput)", what, err)
		return
	}
	for _, ve := range identity.ValidationErrors(err) {
		if ve.Field == field {
			if !strings.Contains(ve.Rule, ruleWord) {
				t.Errorf("%s: %s refused with rule %q, want one saying %q", what, field, ve.Rule, ruleWord)
			}
			if hidden != "" && strings.Contains(err.Error(), hidden) {
				t.Errorf("%s: the error shows %q: %v", what, hidden, err)
			}
			return
		}
	}
	t.Errorf("%s: no ValidationError on %s in %v", what, field, err)
}

func TestFinding06_RedirectURISchemes(t *testing.T) {
	c, rig := newTest(t)
	ctx := context.Background()
	bad := []struct{ uri, rule, hidden string }{
		{"javascript:alert(document.cookie)", "runs or shows", ""},
		{"JavaScript:alert(1)", "runs or shows", ""},
		{"data:text/html;base64,PHNjcmlwdD4=", "runs or shows", ""},
		{"file:///etc/passwd", "runs or shows", ""},
		{"ftp://files.example.com/cb", "another protocol", ""},
		{"https://user:hunter2-pw@app.example.com/cb", "user info", "hunter2-pw"},
		{"https://admin@app.example.com/cb", "user info", ""},
		{`https://evil.example.com\@app.example.com/cb`, `"\"`, ""},
		{"https:///cb", "host", ""},
		{"https://:443/cb", "host", ""},
	}
	for _, b := range bad {
		for _, field := range []string{"RedirectURIs", "PostLogoutRedirectURIs"} {
			req, up := secondRedirect(field, "https://app.example.com/cb", b.uri)
			_, err := c.Create(ctx, req)
			refusedField(t, "Create "+field+" "+b.uri, err, field+"[1]", b.rule, b.hidden)
			_, err = c.Update(ctx, clientID, up)
			refusedField(t, "Update "+field+" "+b.uri, err, field+"[1]", b.rule, b.hidden)
		}
	}
	// ClientURI and LogoURI with user info are refused too, without the password.
	_, err := c.Update(ctx, clientID, UpdateRequest{ClientURI: identity.Ptr("https://u:hunter2-pw@app.example.com/")})
	refusedField(t, "Update ClientURI with user info", err, "ClientURI", "user info", "hunter2-pw")
	if n := rig.Total(); n != 0 {
		t.Fatalf("%d requests sent for refused input", n)
	}

	// Accepted: https anywhere; http on loopback and (for development) on any host.
	for _, u := range []string{"https://app.example.com/signin-oidc", "https://app.example.com:8443/cb?tenant=a", "HTTPS://APP.EXAMPLE.COM/cb",
		"http://localhost:5000/signin-oidc", "http://127.0.0.1:8080/cb", "http://[::1]/cb", "http://dev.example.com/cb"} {
		req := CreateRequest{Name: "n", RedirectURIs: []string{u}, PostLogoutRedirectURIs: []string{u}}
		if _, err := req.validate(time.Now(), func() string { return clientID }); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
		if _, err := (UpdateRequest{RedirectURIs: []string{u}, PostLogoutRedirectURIs: []string{u}}).validate(); err != nil {
			t.Errorf("update %s refused: %v", u, err)
		}
	}
}

func TestFinding11_ControlCharactersInNameAndTags(t *testing.T) {
	c, rig := newTest(t)
	ctx := context.Background()
	bad := map[string]string{
		"newline":        "Billing\nERROR: forged log line",
		"carriage":       "Billing\r",
		"tab":            "Bil\tling",
		"ANSI escape":    "\x1b[2J\x1b[31mBilling",
		"NUL":            "Billing\x00",
		"C1 CSI":         "Billing\u009b31m",
		"line separator": "Billing\u2028portal",
		"RLO override":   "Billing \u202Egnp.exe",
		"bidi isolate":   "\u2067Billing\u2069",
	}
	for name, v := range bad {
		_, err := c.Create(ctx, CreateRequest{Name: v, Tags: []string{"ok", v}, RedirectURIs: []string{"https://app.example.com/cb"}, SecretDescription: v})
		refusedField(t, "Create Name "+name, err, "Name", "control characters", "")
		refusedField(t, "Create Tags "+name, err, "Tags[1]", "control characters", "")
		refusedField(t, "Create SecretDescription "+name, err, "SecretDescription", "control characters", "")
		_, err = c.Update(ctx, clientID, UpdateRequest{Name: &v, Tags: []string{v}})
		refusedField(t, "Update Name "+name, err, "Name", "control characters", "")
		refusedField(t, "Update Tags "+name, err, "Tags[0]", "control characters", "")
		_, err = c.List(ctx, ListOptions{Tags: []string{v}})
		refusedField(t, "List Tags "+name, err, "Tags[0]", "control characters", "")
		_, err = c.Count(ctx, CountOptions{Tags: []string{"a", v}})
		refusedField(t, "Count Tags "+name, err, "Tags[1]", "control characters", "")
		_, err = c.List(ctx, ListOptions{IDs: []string{v}})
		refusedField(t, "List IDs "+name, err, "IDs[0]", "must be a GUID", "") // which no control character is
	}
	if n := rig.Total(); n != 0 {
		t.Fatalf("%d requests sent for refused input", n)
	}
	// Still accepted: letters of any script, punctuation, emoji with joiners.
	for _, v := range []string{"Zahlungsportal – Über", "請求ポータル", "👩‍💻 dev team", "billing (prod, eu)"} {
		req := CreateRequest{Name: v, Tags: []string{v}, RedirectURIs: []string{"https://app.example.com/cb"}, SecretDescription: v}
		if _, err := req.validate(time.Now(), func() string { return clientID }); err != nil {
			t.Errorf("%q refused: %v", v, err)
		}
	}
}

func TestFinding12_ZeroHybridClientsClientReturnsErrors(t *testing.T) {
	ctx := context.Background()
	for name, c := range map[string]*Client{"zero": {}, "nil": nil} {
		check := func(method string, err error) {
			t.Helper()
			if !errors.Is(err, identity.ErrInvalidInput) || !strings.Contains(fmtErr(err), "hybridclients.New") {
				t.Errorf("%s Client.%s: err = %v, want ErrInvalidInput saying to use hybridclients.New", name, method, err)
			}
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s Client panicked: %v", name, r)
				}
			}()
			_, err := c.Get(ctx, clientID)
			check("Get", err)
			_, err = c.Exists(ctx, clientID)
			check("Exists", err)
			check("Delete", c.Delete(ctx, clientID))
			_, err = c.Update(ctx, clientID, UpdateRequest{Enabled: identity.Ptr(true)})
			check("Update", err)
			_, err = c.List(ctx, ListOptions{})
			check("List", err)
			n := 0
			for _, err := range c.All(ctx, ListOptions{}) {
				n++
				check("All", err)
			}
			if n != 1 {
				t.Errorf("%s Client.All yielded %d times, want once (the error)", name, n)
			}
			_, err = c.Count(ctx, CountOptions{})
			check("Count", err)
			_, err = c.Create(ctx, CreateRequest{Name: "n", RedirectURIs: []string{"https://app.example.com/cb"}})
			check("Create", err)
			c.CloseIdleConnections()
			if s := c.Secrets(); s != nil {
				t.Errorf("%s Client.Secrets() = %v, want nil", name, s)
			} else if _, err := s.List(ctx, clientID, secrets.ListOptions{}); !errors.Is(err, identity.ErrInvalidInput) {
				t.Errorf("%s Client.Secrets().List: %v", name, err)
			}
			// Other broken rules come with it.
			_, err = c.Update(ctx, "", UpdateRequest{})
			if got := len(identity.ValidationErrors(err)); got != 3 {
				t.Errorf("%s Client.Update(\"\", {}): %d rules, want 3 (client, ID, UpdateRequest): %v", name, got, err)
			}
		}()
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
