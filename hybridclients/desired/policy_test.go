package desired

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
)

// A client without a secrets key has no policy; "secrets: {}" is the policy of every
// default; and a file written from either reads back the same.
func TestASecretsKeyLeftOutIsNoPolicyAndAnEmptyOneIsTheDefaults(t *testing.T) {
	file := `version: 1
clients:
  - id: ` + idA + `
    name: Without
    redirectURIs: [https://a.example.com/cb]
  - id: ` + idB + `
    name: Defaults
    redirectURIs: [https://b.example.com/cb]
    secrets: {}
  - id: ` + idC + `
    name: "Null"
    redirectURIs: [https://c.example.com/cb]
    secrets:
`
	s, err := Parse([]byte(file), YAML)
	if err != nil {
		t.Fatal(err)
	}
	if s.Clients[0].Secrets != nil || s.Clients[2].Secrets != nil {
		t.Errorf("a client without a policy (or a null one) has %+v, %+v", s.Clients[0].Secrets, s.Clients[2].Secrets)
	}
	if p := s.Clients[1].Secrets; p == nil || *p != (SecretPolicy{}) {
		t.Errorf("secrets: {} gives %+v, want the zero policy", p)
	}
	for _, f := range []Format{YAML, JSON} {
		data, err := Marshal(*s, f)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(data, f)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(normal(*s), normal(*back)); diff != "" {
			t.Errorf("%s: (-wrote +read)\n%s\n%s", f, diff, data)
		}
	}
}

// A policy is checked by secrets.Policy's own rules, each broken one with its path and
// line, its durations as the file writes them; a rule the create request checks too is
// reported once.
func TestParseChecksEachPolicyByTheRulesOfSecretsPolicy(t *testing.T) {
	file := `version: 1
clients:
  - id: ` + idA + `
    name: Billing
    redirectURIs: [https://billing.example.com/cb]
    secrets:
      maxAge: 1h
      grace: 30s
      description: "tab\there"
`
	_, err := Parse([]byte(file), YAML)
	problems := problemsOf(t, err)
	// MaxAge's rule is one only secrets.Policy has: the client could be due again before
	// its rotation ends.
	wantProblem(t, problems, "clients[0].secrets.maxAge", 7, "more than ProofTimeout")
	wantProblem(t, problems, "clients[0].secrets.grace", 8, "at least 1m0s")
	wantProblem(t, problems, "clients[0].secrets.description", 9, "control")
	if len(problems) != 3 {
		t.Errorf("%d problems, want 3:\n%v", len(problems), err)
	}
	for _, p := range problems {
		if p.Path == "clients[0].secrets.maxAge" && p.Value != "1h" {
			t.Errorf("maxAge shown as %v, want 1h as in the file", p.Value)
		}
	}

	// Every rule secrets.Policy.Validate has is the file's: a policy the file accepts is
	// one secrets.Policy accepts.
	for _, p := range []SecretPolicy{
		{Lifetime: 10 * day},
		{MaxAge: 2 * time.Hour, ProofTimeout: 2 * time.Hour},
		{Grace: -time.Minute},
		{Lifetime: 40 * day, Grace: 1000 * time.Hour},
	} {
		s := State{Clients: []Client{{ID: idA, Name: "x", RedirectURIs: []string{"https://x/"}, Secrets: &p}}}
		if (s.Validate() == nil) != (p.Policy().Validate() == nil) {
			t.Errorf("%+v: State.Validate says %v, secrets.Policy.Validate %v", p, s.Validate(), p.Policy().Validate())
		}
	}
}

// Policy is the policy of package secrets with the same fields; the file's "expired"
// is secrets.RetireExpired.
func TestSecretPolicyIsTheRotationPolicyOfPackageSecrets(t *testing.T) {
	p := SecretPolicy{RenewBefore: 20 * day, MaxAge: 200 * day, Lifetime: 300 * day, Grace: 2 * time.Hour,
		Retire: "expired", Description: "billing", ProofTimeout: 90 * time.Minute}
	got := p.Policy()
	if got.RenewBefore != p.RenewBefore || got.MaxAge != p.MaxAge || got.Lifetime != p.Lifetime || got.Grace != p.Grace ||
		got.Description != p.Description || got.ProofTimeout != p.ProofTimeout || got.Retire != secrets.RetireExpired() {
		t.Errorf("Policy() = %+v", got)
	}
	for _, word := range []string{"", "all"} {
		if r := (SecretPolicy{Retire: word}).Policy().Retire; r != secrets.RetireAll() {
			t.Errorf("Retire %q is %v, want all", word, r)
		}
	}
}

// The first secret of a client created with a policy is made as the policy makes a new
// secret: its lifetime, and a description by which the policy knows it as its own, so
// that MaxAge applies to it. Without a policy it lives a year.
func TestAFirstSecretIsMadeByTheClientsPolicy(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := hybridclientstest.NewClock(start)
	_, c := fake(t, &hybridclientstest.Options{Clock: clk})
	policy := &SecretPolicy{Lifetime: 180 * day, MaxAge: 60 * day}
	s := State{Clients: []Client{webApp(idA, "With policy"), webApp(idB, "Without")}}
	s.Clients[0].Secrets = policy
	if _, _, err := planAndApply(t, c, s, PlanOptions{}, ApplyOptions{Store: newVault().Store}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	list := func(id string) []secrets.ClientSecret {
		page, err := c.Secrets().List(ctx, id, secrets.ListOptions{})
		if err != nil || len(page.Secrets) != 1 {
			t.Fatalf("secrets of %s: %v, %v", id, page, err)
		}
		return page.Secrets
	}
	with, without := list(idA)[0], list(idB)[0]
	if _, err := time.Parse(time.DateOnly, strings.TrimPrefix(with.Description, "rotated by policy on ")); err != nil {
		t.Errorf("the first secret's description is %q, want the policy's default", with.Description)
	}
	if d := with.Expiry.At().Sub(start); d < 179*day || d > 180*day {
		t.Errorf("the first secret lives %v, want 180 days (less the marker)", d)
	}
	if d := without.Expiry.At().Sub(start); d < 364*day || d > 366*day || !strings.Contains(without.Description, "desired state") {
		t.Errorf("without a policy: %+v, want a year and this package's description", without)
	}
	// Sixty-one days later the secret is still far from its expiry, but older than MaxAge:
	// the policy knows its age because it made it.
	pl := policy.Policy().Plan(idA, list(idA), start.Add(61*day))
	if !pl.Due || !strings.Contains(pl.Reason, "made by this policy") {
		t.Errorf("plan after 61 days: %s", pl)
	}
}

// A first secret, made with a client or in place of one whose value was lost, is dated by
// the Config's clock, as the rest of the SDK is: on a fake whose clock has moved on, its
// description names the fake's day, not the machine's.
func TestFirstSecretsAreDatedByTheConfigsClock(t *testing.T) {
	clk := hybridclientstest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	_, c := fake(t, &hybridclientstest.Options{Clock: clk})
	clk.Advance(400 * day)
	ctx := context.Background()
	lost := webApp(idC, "Lost secret")
	created, err := c.Create(ctx, hybridclients.CreateRequest{ID: idC, Name: lost.Name, RedirectURIs: lost.RedirectURIs})
	if err != nil {
		t.Fatal(err)
	}
	s := State{Clients: []Client{webApp(idA, "With policy"), webApp(idB, "Without"), lost}}
	s.Clients[0].Secrets = &SecretPolicy{Lifetime: 90 * day}
	rec := recordOf(c, Record{Pending: []Pending{{ClientID: idC, Orphans: []secrets.ClientSecret{created.Secret.ClientSecret}}}})
	if _, _, err := planAndApply(t, c, s, PlanOptions{Record: rec}, ApplyOptions{Store: newVault().Store}); err != nil {
		t.Fatal(err)
	}
	day := clk.Now().UTC().Format(time.DateOnly)
	for _, id := range []string{idA, idB, idC} {
		page, err := c.Secrets().List(ctx, id, secrets.ListOptions{})
		if err != nil || len(page.Secrets) != 1 {
			t.Fatalf("secrets of %s: %v, %v", id, page, err)
		}
		if d := page.Secrets[0].Description; !strings.HasSuffix(d, " on "+day) {
			t.Errorf("client %s's first secret is described %q, want it dated %s (the Config's clock)", id, d, day)
		}
	}
}
