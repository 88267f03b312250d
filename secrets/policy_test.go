package secrets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	hct "github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/internal/harness/mocktest"
)

const day = 24 * time.Hour

// in returns a secret that expires d after testNow (d zero: never).
func in(id int, desc string, d time.Duration) ClientSecret {
	if d == 0 {
		return ClientSecret{ID: id, Description: desc, Expiry: NeverExpires()}
	}
	return ClientSecret{ID: id, Description: desc, Expiry: ExpiresAt(testNow.Add(d))}
}

func TestPolicyIsDueWhenTheNewestWorkingSecretExpiresSoonOrIsOld(t *testing.T) {
	policyMade := policyDescription + "2030-03-01"
	for _, tt := range []struct {
		name    string
		policy  Policy
		secrets []ClientSecret
		due     bool
		finding bool
		reason  string
	}{
		{"no secret", Policy{}, nil, true, false, "has no secret"},
		{"every secret expired", Policy{}, []ClientSecret{in(1, "a", -day), in(2, "b", -time.Minute)}, true, false, "every secret has expired"},
		{"newest within 30 days", Policy{}, []ClientSecret{in(1, "a", 5*day), in(2, "b", 10*day)}, true, false, "newest working secret 2 expires 2030-06-11T12:00:00Z, in 10 days: within 30 days"},
		{"the newest decides", Policy{}, []ClientSecret{in(1, "a", 5*day), in(2, "b", 40*day)}, false, false, "newest working secret 2 expires 2030-07-11T12:00:00Z, in 40 days: due 30 days before"},
		{"an expired secret is not the newest", Policy{}, []ClientSecret{in(1, "a", -day), in(2, "b", 40*day)}, false, false, "secret 2"},
		{"RenewBefore", Policy{RenewBefore: 50 * day}, []ClientSecret{in(2, "b", 40*day)}, true, false, "within 50 days"},
		{"never expires: a finding", Policy{}, []ClientSecret{in(1, "a", 5*day), in(2, "b", 0)}, false, true, "newest working secret 2 never expires"},
		{"old by its own expiry", Policy{MaxAge: 60 * day, Lifetime: 365 * day}, []ClientSecret{in(3, policyMade, 300*day)}, true, false, "secret 3 is about 65 days old"},
		{"young by its own expiry", Policy{MaxAge: 90 * day, Lifetime: 365 * day}, []ClientSecret{in(3, policyMade, 300*day)}, false, false, "it is about 65 days old"},
		{"the default lifetime is a calendar year", Policy{MaxAge: 60 * day}, []ClientSecret{{ID: 3, Description: policyMade, Expiry: ExpiresAt(testNow.AddDate(1, 0, 0).Add(-70 * day))}}, true, false, "about 70 days old"},
		{"its own description", Policy{MaxAge: 60 * day, Lifetime: 365 * day, Description: "billing"}, []ClientSecret{in(3, "billing", 300*day)}, true, false, "65 days old"},
		{"another's secret has no known age", Policy{MaxAge: 60 * day, Lifetime: 365 * day}, []ClientSecret{in(3, "by hand", 300*day)}, false, false, "due 30 days before"},
		{"not the policy's date", Policy{MaxAge: 60 * day, Lifetime: 365 * day}, []ClientSecret{in(3, policyDescription+"someday", 300*day)}, false, false, "due 30 days before"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pl := tt.policy.Plan(testClient, tt.secrets, testNow)
			if pl.Due != tt.due || (pl.Finding != "") != tt.finding || !strings.Contains(pl.Reason, tt.reason) {
				t.Errorf("Plan = due %v, reason %q, finding %q; want due %v, reason with %q, a finding %v", pl.Due, pl.Reason, pl.Finding, tt.due, tt.reason, tt.finding)
			}
			if pl.Rotates() != (tt.due && !tt.finding) {
				t.Errorf("Rotates = %v", pl.Rotates())
			}
		})
	}
}

func TestPolicyPlanSaysWhatARotationWouldDo(t *testing.T) {
	secrets := []ClientSecret{
		in(1, "long expired", -day),
		in(2, "ends within the grace", 30*time.Minute),
		in(3, "current", 10*day),
		in(4, "previous", 8*day),
	}
	pl := Policy{Lifetime: 90 * day, Grace: 2 * time.Hour}.Plan(testClient, secrets, testNow)
	if !pl.Rotates() || !equalInts(ids(pl.Delete), []int{1}) || !equalInts(ids(pl.Keep), []int{2}) || !equalInts(ids(pl.Shorten), []int{3, 4}) || len(pl.FreeRoom) != 0 {
		t.Fatalf("plan = %+v", pl)
	}
	if pl.Lifetime != 90*day || pl.Description != "rotated by policy on 2030-06-01" || pl.Grace != 2*time.Hour || !pl.AsOf.Equal(testNow) || pl.Newest.ID != 3 {
		t.Errorf("plan = %+v", pl)
	}
	pl = Policy{Lifetime: 90 * day, Grace: 2 * time.Hour, Retire: RetireExpired()}.Plan(testClient, secrets, testNow)
	want := `due: newest working secret 3 expires 2030-06-11T12:00:00Z, in 10 days: within 30 days; would add a secret "rotated by policy on 2030-06-01" that lives 90 days, wait until the identity server accepts it, store it, then delete expired secrets [1]`
	if got := pl.String(); got != want {
		t.Errorf("String:\n got %s\nwant %s", got, want)
	}

	// At the limit, the earliest expired make room; with none expired, a finding.
	var full []ClientSecret
	for i := 1; i <= MaxPerClient; i++ {
		full = append(full, in(i, fmt.Sprint("s", i), time.Duration(i)*day))
	}
	full[4].Expiry, full[6].Expiry = ExpiresAt(testNow.Add(-2*day)), ExpiresAt(testNow.Add(-3*day))
	pl = Policy{}.Plan(testClient, full, testNow)
	if !pl.Rotates() || !equalInts(ids(pl.FreeRoom), []int{7}) || !equalInts(ids(pl.Delete), []int{5}) {
		t.Errorf("at the limit with expired secrets: %+v", pl)
	}
	full[4].Expiry, full[6].Expiry = ExpiresAt(testNow.Add(day)), ExpiresAt(testNow.Add(day))
	pl = Policy{}.Plan(testClient, full, testNow)
	if pl.Rotates() || !pl.Due || !strings.Contains(pl.Finding, "10 secrets, the limit") || !strings.HasPrefix(pl.String(), "due, but not rotated:") {
		t.Errorf("at the limit without expired secrets: %+v", pl)
	}
}

func TestZeroPolicyIsSafe(t *testing.T) {
	var p Policy
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	store := func(context.Context, Added) error { return nil }
	req := p.RotateRequest(store, testNow)
	if req.Description != "rotated by policy on 2030-06-01" || !req.Expiry.IsZero() || req.Grace != 0 || req.RetireAtOnce || req.SkipProof ||
		req.ProofTimeout != 0 || !req.FreeRoom || req.Retire != RetireAll() || req.Store == nil {
		t.Errorf("RotateRequest = %+v", req)
	}
	// Proof, an hour's grace, a year's secret: the safe defaults of Rotate.
	if req.grace() != time.Hour || req.proofTimeout() != DefaultProofTimeout || req.skipsProof() {
		t.Errorf("grace %s, proof timeout %s, skips proof %v", req.grace(), req.proofTimeout(), req.skipsProof())
	}
	if _, err := req.validate(testNow); err != nil {
		t.Errorf("the zero policy's request is refused: %v", err)
	}
	if pl := p.Plan(testClient, []ClientSecret{in(1, "a", 100*day)}, testNow); pl.Due || pl.Lifetime != testNow.AddDate(1, 0, 0).Sub(testNow) || pl.Grace != DefaultGrace {
		t.Errorf("plan = %+v", pl)
	}
}

func TestPolicyValidateNamesEveryBrokenRule(t *testing.T) {
	err := Policy{
		RenewBefore: -time.Hour, MaxAge: 2 * time.Hour, Grace: time.Second, ProofTimeout: -1,
		Retire: RetireExpiringBefore(time.Time{}), Description: "two\nlines",
	}.Validate()
	for _, field := range []string{"RenewBefore", "MaxAge", "Grace", "ProofTimeout", "Retire", "Description"} {
		if !strings.Contains(err.Error(), "invalid "+field+":") {
			t.Errorf("err %q does not name %s", err, field)
		}
	}
	if !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("err = %v", err)
	}
	for _, p := range []Policy{
		{Lifetime: 20 * day},                            // not longer than the 30 days of RenewBefore
		{RenewBefore: 400 * day},                        // a year's default lifetime is not longer
		{RenewBefore: time.Minute, Lifetime: time.Hour}, // ends before the new secret may work
		{RenewBefore: time.Hour, Lifetime: 150 * time.Minute, Grace: 3 * time.Hour}, // ends before the grace
	} {
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "invalid Lifetime:") {
			t.Errorf("%+v: err = %v, want Lifetime refused", p, err)
		}
	}
	if err := (Policy{MaxAge: 3 * time.Hour, RenewBefore: time.Hour, Lifetime: 4 * time.Hour}).Validate(); err != nil {
		t.Errorf("a short but coherent policy: %v", err)
	}
}

func TestPlanRotationRefusesABadPolicyBeforeSending(t *testing.T) {
	f := newFixture(t, hybridRoute)
	if _, err := f.c.PlanRotation(ctx, "not-a-guid", Policy{Grace: time.Second}); !errors.Is(err, identity.ErrInvalidInput) ||
		!strings.Contains(err.Error(), "ClientID") || !strings.Contains(err.Error(), "Grace") {
		t.Errorf("err = %v", err)
	}
	f.WantCalls()
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "a", "2030-06-05T00:00:00Z")))
	pl, err := f.c.PlanRotation(ctx, testClient, Policy{})
	if err != nil || !pl.Rotates() || !pl.AsOf.Equal(testNow) || pl.ClientID != testClient {
		t.Errorf("PlanRotation = %+v, %v", pl, err)
	}
	f.WantCalls("GET " + pre + "?count=100") // a plan changes nothing
}

// Idempotency follows from the tenant's state: right after a rotation, the newest secret
// is the new one, far from its expiry and young, and a second run finds nothing due.
func TestPolicyFindsNothingDueRightAfterARotation(t *testing.T) {
	clk := hct.NewClock(time.Now().UTC().Truncate(time.Second))
	srv := hct.NewServer(t, &hct.Options{Clock: clk, TokenLifetime: 48 * time.Hour})
	c, app, policy := policyClient(t, srv)
	var rotErr error
	clk.Run(func() {
		_, rotErr = c.Rotate(ctx, app.ClientID, policy.RotateRequest(func(context.Context, Added) error { return nil }, clk.Now()))
	}, nil)
	if rotErr != nil {
		t.Fatalf("Rotate: %v", rotErr)
	}
	pl, err := c.PlanRotation(ctx, app.ClientID, policy)
	if err != nil || pl.Due {
		t.Fatalf("second plan = %v, %v: due again right after the rotation", pl, err)
	}
	// And it stays so until RenewBefore or MaxAge says otherwise.
	clk.Advance(59 * day)
	if pl, _ = c.PlanRotation(ctx, app.ClientID, policy); pl.Due {
		t.Errorf("59 days later: %v", pl)
	}
	clk.Advance(2 * day)
	if pl, _ = c.PlanRotation(ctx, app.ClientID, policy); !pl.Rotates() || !strings.Contains(pl.Reason, "old") {
		t.Errorf("61 days later: %v, want due by age", pl)
	}
}

// A rotation whose proof never came deletes its new secret (its value was never stored),
// so the next run finds the client due again, with only its old secret.
func TestPolicyPlansAClientDueAgainAfterARotationNeverProven(t *testing.T) {
	clk := hct.NewClock(time.Now().UTC().Truncate(time.Second))
	srv := hct.NewServer(t, &hct.Options{Clock: clk, TokenLifetime: 48 * time.Hour, PropagationDelay: PropagationDelay})
	c, app, policy := policyClient(t, srv)
	policy.ProofTimeout = 10 * time.Minute // shorter than the propagation: never proven
	stored := 0
	var rotErr error
	clk.Run(func() {
		_, rotErr = c.Rotate(ctx, app.ClientID, policy.RotateRequest(func(context.Context, Added) error { stored++; return nil }, clk.Now()))
	}, nil)
	var pe *ProofError
	if !errors.As(rotErr, &pe) || pe.DeleteErr != nil || stored != 0 {
		t.Fatalf("Rotate: %v (%d stores), want a ProofError, the new secret deleted, nothing stored", rotErr, stored)
	}
	pl, err := c.PlanRotation(ctx, app.ClientID, policy)
	if err != nil || !pl.Rotates() || pl.Newest.ID != 2 {
		t.Fatalf("second plan = %v, %v: want due again, its newest secret the old one (2)", pl, err)
	}
	if got := srv.SecretIDs(app.ClientID); !slices.Equal(got, []int{2}) {
		t.Errorf("secrets after the unproven rotation: %v, want only the old one", got)
	}
}

// policyClient is a client of srv with one secret (2) that expires in 10 days, and a
// policy under which it is due.
func policyClient(t *testing.T, srv *hct.Server) (*Client, hct.Account, Policy) {
	t.Helper()
	c := emuClient(t, srv)
	app := srv.AddAccount(hct.RoleMember) // its first secret never expires: give it one that does
	if _, err := c.Add(ctx, app.ClientID, AddRequest{Description: "first", Expiry: ExpiresIn(10 * day)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, app.ClientID, 1); err != nil {
		t.Fatal(err)
	}
	policy := Policy{MaxAge: 60 * day, Lifetime: 180 * day}
	pl, err := c.PlanRotation(ctx, app.ClientID, policy)
	if err != nil || !pl.Rotates() {
		t.Fatalf("first plan = %v, %v", pl, err)
	}
	return c, app, policy
}

func TestNewEntryPointsRefuseANilClientOrContext(t *testing.T) {
	var nilClient *Client
	var nilCtx context.Context
	store := func(context.Context, Added) error { return nil }
	if _, err := nilClient.PlanRotation(ctx, testClient, Policy{}); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("nil Client PlanRotation: %v", err)
	}
	p, err := nilClient.StartRotation(ctx, testClient, RotateRequest{Store: store})
	if !errors.Is(err, identity.ErrInvalidInput) || p == nil {
		t.Errorf("nil Client StartRotation: %v, %v", p, err)
	}
	if _, err := p.Finish(ctx); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("Finish after a nil Client: %v", err)
	}
	f := newFixture(t, hybridRoute)
	if _, err := f.c.PlanRotation(nilCtx, testClient, Policy{}); err == nil {
		t.Error("PlanRotation with a nil context")
	}
	if _, err := f.c.StartRotation(nilCtx, testClient, RotateRequest{Store: store}); err == nil {
		t.Error("StartRotation with a nil context")
	}
	f.WantCalls()
}
