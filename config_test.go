package identity_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/rules"
	"golang.org/x/oauth2"
)

const (
	testTenant   = "2f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	testClientID = "client-id-4711"
	clientSecret = "client-SECRET-value-0815"
	staticToken  = "static-BEARER-token-9999"
)

func validConfig() identity.Config {
	return identity.Config{
		TenantID:    testTenant,
		Credentials: identity.NewStaticToken(identity.NewSecret(staticToken)),
	}
}

// joined returns the errors an errors.Join holds (or err itself).
func joined(err error) []error {
	if err == nil {
		return nil
	}
	// Validate's errors are joined under the package's name.
	if u, ok := err.(interface{ Unwrap() error }); ok && u.Unwrap() != nil {
		err = u.Unwrap()
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// fields returns the Field of every *ValidationError that err joins.
func fields(t *testing.T, err error) []string {
	t.Helper()
	var out []string
	for _, e := range joined(err) {
		var ve *identity.ValidationError
		if !errors.As(e, &ve) {
			t.Errorf("joined error %T %v is not a *ValidationError", e, e)
			continue
		}
		out = append(out, ve.Field)
	}
	return out
}

// noPanic runs f and turns a panic into a test failure.
func noPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", what, r)
		}
	}()
	f()
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*identity.Config)
		field  string // the one field expected to be refused; "" for valid
		hide   string // a string that must not appear in the error
	}{
		{"defaults", func(c *identity.Config) {}, "", ""},
		{"https region", func(c *identity.Config) { c.Resource = identity.RegionEUWest }, "", ""},
		{"https with trailing slash", func(c *identity.Config) { c.Resource = identity.RegionJapan + "/" }, "", ""},
		{"https legacy", func(c *identity.Config) { c.Resource = identity.LegacyOCS }, "", ""},
		{"https host with slash", func(c *identity.Config) { c.Resource = "https://example.com/" }, "", ""},
		{"http localhost", func(c *identity.Config) { c.Resource = "http://localhost:8080" }, "", ""},
		{"http LOCALHOST", func(c *identity.Config) { c.Resource = "http://LOCALHOST" }, "", ""},
		{"http 127.0.0.1", func(c *identity.Config) { c.Resource = "http://127.0.0.1:1234" }, "", ""},
		{"http 127.5.6.7", func(c *identity.Config) { c.Resource = "http://127.5.6.7" }, "", ""},
		{"http [::1]", func(c *identity.Config) { c.Resource = "http://[::1]:9000" }, "", ""},
		{"retry set", func(c *identity.Config) {
			c.Retry = identity.RetryPolicy{MaxAttempts: 1, MinWait: time.Second, MaxWait: time.Second, MaxRetryAfter: time.Minute}
		}, "", ""},
		{"max response bytes", func(c *identity.Config) { c.MaxResponseBytes = 1 }, "", ""},

		{"http public host", func(c *identity.Config) { c.Resource = "http://uswe.datahub.connect.aveva.com" }, "Resource", ""},
		{"http localhost lookalike", func(c *identity.Config) { c.Resource = "http://localhost.example.com" }, "Resource", ""},
		{"http 0.0.0.0", func(c *identity.Config) { c.Resource = "http://0.0.0.0:80" }, "Resource", ""},
		{"ftp", func(c *identity.Config) { c.Resource = "ftp://example.com" }, "Resource", ""},
		{"relative", func(c *identity.Config) { c.Resource = "/api" }, "Resource", ""},
		{"host only", func(c *identity.Config) { c.Resource = "example.com" }, "Resource", ""},
		{"garbage", func(c *identity.Config) { c.Resource = "::not a url::" }, "Resource", ""},
		{"control char", func(c *identity.Config) { c.Resource = "https://exa\x7fmple.com" }, "Resource", ""},
		{"scheme only", func(c *identity.Config) { c.Resource = "https://" }, "Resource", ""},
		{"query", func(c *identity.Config) { c.Resource = "https://example.com?x=1" }, "Resource", ""},
		{"fragment", func(c *identity.Config) { c.Resource = "https://example.com#frag" }, "Resource", ""},
		{"user info", func(c *identity.Config) { c.Resource = "https://user:pa55word@example.com" }, "Resource", "pa55word"},
		{"user info on loopback", func(c *identity.Config) { c.Resource = "http://user:pa55word@127.0.0.1" }, "Resource", "pa55word"},
		{"user info, relative", func(c *identity.Config) { c.Resource = "//user:pa55word@example.com" }, "Resource", "pa55word"},
		{"user info, no scheme", func(c *identity.Config) { c.Resource = "user:pa55word@example.com" }, "Resource", "pa55word"},
		{"user info, bad escape", func(c *identity.Config) { c.Resource = "https://user:pa55word@example.com/%zz" }, "Resource", "pa55word"},
		{"user info, bad host", func(c *identity.Config) { c.Resource = "https://user:pa55word@[::1" }, "Resource", "pa55word"},
		{"user info, space", func(c *identity.Config) { c.Resource = "https://user:pa55 word@example.com" }, "Resource", "pa55"},

		{"tenant empty", func(c *identity.Config) { c.TenantID = "" }, "TenantID", ""},
		{"tenant not GUID", func(c *identity.Config) { c.TenantID = "my-tenant" }, "TenantID", ""},
		{"tenant braces", func(c *identity.Config) { c.TenantID = "{" + testTenant + "}" }, "TenantID", ""},
		{"tenant urn", func(c *identity.Config) { c.TenantID = "urn:uuid:" + testTenant }, "TenantID", ""},
		{"tenant no dashes", func(c *identity.Config) { c.TenantID = strings.ReplaceAll(testTenant, "-", "") }, "TenantID", ""},
		{"tenant non-hex", func(c *identity.Config) { c.TenantID = "2f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4z" }, "TenantID", ""},
		{"credentials nil", func(c *identity.Config) { c.Credentials = nil }, "Credentials", ""},
		{"negative attempts", func(c *identity.Config) { c.Retry.MaxAttempts = -1 }, "Retry.MaxAttempts", ""},
		{"negative MinWait", func(c *identity.Config) { c.Retry.MinWait = -time.Second }, "Retry", ""},
		{"negative MaxRetryAfter", func(c *identity.Config) { c.Retry.MaxRetryAfter = -time.Second }, "Retry", ""},
		{"MaxWait below MinWait", func(c *identity.Config) {
			c.Retry.MinWait, c.Retry.MaxWait = 2*time.Second, time.Second
		}, "Retry.MaxWait", ""},
		{"MinWait above default MaxWait", func(c *identity.Config) { c.Retry.MinWait = time.Minute }, "Retry.MaxWait", ""},
		{"MaxWait below default MinWait", func(c *identity.Config) { c.Retry.MaxWait = 100 * time.Millisecond }, "Retry.MaxWait", ""},
		{"MaxWait equal to MinWait", func(c *identity.Config) { c.Retry.MinWait, c.Retry.MaxWait = time.Second, time.Second }, "", ""},
		{"negative MaxResponseBytes", func(c *identity.Config) { c.MaxResponseBytes = -1 }, "MaxResponseBytes", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := validConfig()
			c.mutate(&cfg)
			err := cfg.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want a refusal of %s", c.field)
			}
			if !errors.Is(err, identity.ErrInvalidInput) {
				t.Errorf("errors.Is(err, ErrInvalidInput) = false for %v", err)
			}
			var ve *identity.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("errors.As(*ValidationError) = false for %T %v", err, err)
			}
			if got := fields(t, err); len(got) != 1 || got[0] != c.field {
				t.Errorf("refused fields = %q, want [%q] (err %v)", got, c.field, err)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Errorf("error %q does not name %s", err, c.field)
			}
			if c.hide != "" && strings.Contains(err.Error(), c.hide) {
				t.Errorf("error leaks %q: %v", c.hide, err)
			}
			if c.hide != "" && strings.Contains(fmt.Sprintf("%#v", ve), c.hide) {
				t.Errorf("ValidationError value leaks %q: %#v", c.hide, ve)
			}
		})
	}
}

func TestConfigValidateRefusesAResourceWithAPathQueryOrFragment(t *testing.T) {
	for _, r := range []string{
		"https://uswe.datahub.connect.aveva.com/api/v1",
		"https://uswe.datahub.connect.aveva.com/api/v1/",
		"http://127.0.0.1:8080/base",
		"https://example.com/?x=1",
		"https://example.com/#top",
		"https://example.com/%2F",
	} {
		cfg := validConfig()
		cfg.Resource = r
		if got := fields(t, cfg.Validate()); len(got) != 1 || got[0] != "Resource" {
			t.Errorf("Resource %q: fields %v, want [Resource]", r, got)
		}
	}
	for _, r := range []string{"https://example.com", "https://example.com/", identity.RegionEUWest + "//"} {
		cfg := validConfig()
		cfg.Resource = r
		if err := cfg.Validate(); err != nil {
			t.Errorf("Resource %q: %v", r, err)
		}
	}
}

func TestConfigValidateReportsAllAtOnce(t *testing.T) {
	cfg := identity.Config{
		Resource: "http://example.com",
		TenantID: "nope",
		Retry: identity.RetryPolicy{
			MaxAttempts: -1,
			MinWait:     -time.Second,
		},
		MaxResponseBytes: -5,
	}
	err := cfg.Validate()
	if !errors.Is(err, identity.ErrInvalidInput) {
		t.Fatalf("err = %v, want ErrInvalidInput", err)
	}
	var ve *identity.ValidationError
	if !errors.As(err, &ve) || ve.Field != "Resource" {
		t.Errorf("errors.As found %+v, want the Resource error first", ve)
	}
	got := fields(t, err)
	want := []string{"Resource", "TenantID", "Credentials", "Retry.MaxAttempts", "Retry", "MaxResponseBytes"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("fields = %q, want %q", got, want)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != len(want) {
		t.Errorf("error has %d lines, want %d:\n%v", n, len(want), err)
	}
}

func TestTokenURLFollowsTheRulesOfResource(t *testing.T) {
	cases := []struct {
		tokenURL string
		ok       bool
	}{
		{"https://login.example.com/connect/token", true},
		{"http://127.0.0.1:9/identity/connect/token", true},
		{"http://localhost/token", true},
		{"http://login.example.com/connect/token", false},
		{"https://user:hunter2-password@login.example.com/token", false},
		{"https://login.example.com/token#frag", false},
		{"ftp://login.example.com/token", false},
		{"/relative/token", false},
	}
	for _, tc := range cases {
		cfg := validConfig()
		cfg.Credentials = newClientCreds(&identity.ClientCredentialsOptions{TokenURL: tc.tokenURL})
		err := cfg.Validate()
		if tc.ok {
			if err != nil {
				t.Errorf("TokenURL %q: %v", tc.tokenURL, err)
			}
			continue
		}
		if got := fields(t, err); len(got) != 1 || got[0] != "TokenURL" {
			t.Errorf("TokenURL %q: fields %v (err %v), want [TokenURL]", tc.tokenURL, got, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("TokenURL %q: the password is in %q", tc.tokenURL, err)
		}
	}

	// Used without a Config, the credentials refuse it too, before sending anything.
	s := newIDServer(t, nil)
	creds := newClientCreds(&identity.ClientCredentialsOptions{TokenURL: "http://user:hunter2-password@login.example.com/token"})
	_, err := creds.Token(context.Background(), s.request())
	if !errors.Is(err, identity.ErrInvalidInput) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Token = %v, want ErrInvalidInput without the password", err)
	}
	if n := s.tokens.Load() + s.discoveries.Load() + s.others.Load(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestTypedNilCredentialsAreRefusedAndNeverPanic(t *testing.T) {
	var cc *identity.ClientCredentials
	var ts *identity.TokenSourceCredentials
	var st *identity.StaticToken
	for _, creds := range []identity.Credentials{cc, ts, st, &identity.TokenSourceCredentials{}, &identity.StaticToken{}} {
		cfg := validConfig()
		cfg.Credentials = creds
		err := cfg.Validate()
		if got := fields(t, err); len(got) != 1 || got[0] != "Credentials" {
			t.Errorf("%T: fields %v (err %v), want [Credentials]", creds, got, err)
		}
		noPanic(t, "Token", func() {
			if _, err := creds.Token(context.Background(), identity.TokenRequest{}); err == nil {
				t.Errorf("%T: Token gave no error", creds)
			}
			creds.Invalidate(&oauth2.Token{AccessToken: "x"})
		})
	}
}

func TestConfigPrintsNoSecret(t *testing.T) {
	cc := identity.NewClientCredentials(testClientID, identity.NewSecret(clientSecret), nil)
	cases := []struct {
		name     string
		creds    identity.Credentials
		hide     string
		showName string
	}{
		{"client credentials", cc, clientSecret, testClientID},
		{"client credentials with token url", identity.NewClientCredentials(testClientID, identity.NewSecret(clientSecret),
			&identity.ClientCredentialsOptions{TokenURL: "https://example.com/token"}), clientSecret, testClientID},
		{"static token", identity.NewStaticToken(identity.NewSecret(staticToken)), staticToken, "StaticToken"},
		{"token source", identity.NewTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: staticToken})), staticToken, "TokenSource"},
	}
	for _, c := range cases {
		cfg := identity.Config{
			Resource:    identity.RegionEUWest,
			TenantID:    testTenant,
			Credentials: c.creds,
			UserAgent:   "tool/1.0",
		}
		outs := map[string]string{
			"String":   cfg.String(),
			"GoString": cfg.GoString(),
			"%v":       fmt.Sprintf("%v", cfg),
			"%+v":      fmt.Sprintf("%+v", cfg),
			"%#v":      fmt.Sprintf("%#v", cfg),
			"%s":       fmt.Sprintf("%s", cfg), //lint:ignore S1025 the fmt path itself is under test
			"&%v":      fmt.Sprintf("%v", &cfg),
			"&%#v":     fmt.Sprintf("%#v", &cfg),
			"Sprint":   fmt.Sprint(cfg),
			"in slice": fmt.Sprintf("%+v", []identity.Config{cfg}),
		}
		for how, out := range outs {
			t.Run(c.name+"/"+how, func(t *testing.T) {
				if strings.Contains(out, c.hide) {
					t.Errorf("Config printed with %s leaks %q: %s", how, c.hide, out)
				}
				for _, want := range []string{c.showName, testTenant, identity.RegionEUWest} {
					if !strings.Contains(out, want) {
						t.Errorf("Config printed with %s = %s, want it to contain %q", how, out, want)
					}
				}
			})
		}
	}
	// A Config without credentials still prints.
	if out := (identity.Config{TenantID: testTenant}).String(); !strings.Contains(out, "none") {
		t.Errorf("Config without credentials = %s", out)
	}
}

func TestDefaultResource(t *testing.T) {
	if identity.DefaultResource != identity.RegionUSWest || identity.RegionUSWest != rules.DefaultResource {
		t.Errorf("DefaultResource = %q, rules.DefaultResource = %q", identity.DefaultResource, rules.DefaultResource)
	}
	if identity.APIVersion != "v1" {
		t.Errorf("APIVersion = %q", identity.APIVersion)
	}
}

func TestPtr(t *testing.T) {
	p := identity.Ptr("x")
	q := identity.Ptr("x")
	if *p != "x" || p == q {
		t.Errorf("Ptr gave %v %v", p, q)
	}
	if identity.Version == "" {
		t.Error("Version is empty")
	}
}
