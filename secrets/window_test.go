package secrets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/ocs-go/identity"
	hct "github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/internal/harness/mocktest"
)

// windowEmu is a fake service with the service's hour of propagation, on a clock the test
// moves, with one client-credential client (the subject) whose one secret expires in ten
// days, and an administrator's secrets client.
func windowEmu(t *testing.T) (*hct.Clock, *hct.Server, *Client, hct.Account) {
	t.Helper()
	clk := hct.NewClock(testNow)
	srv := hct.NewServer(t, &hct.Options{Clock: clk, PropagationDelay: PropagationDelay})
	c := emuClient(t, srv)
	subject := srv.AddAccount(hct.RoleMember)
	old, err := c.collect(ctx, subject.ClientID)
	if err != nil || len(old) != 1 {
		t.Fatalf("the subject's secrets: %v %v", old, err)
	}
	if _, err := c.Update(ctx, subject.ClientID, old[0].ID, UpdateRequest{Expiry: ExpiresIn(10 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return clk, srv, c, subject
}

// A run killed while its rotation waits for the proof (SIGKILL, OOM, a CI timeout) leaves
// a new secret whose value nobody holds. It was added with a short expiry, so it expires
// on its own soon, and the next run's plan still finds the client due: the application's
// secret is rotated before it expires.
func TestARotationNeverFinishedLeavesASecretThatExpiresSoonAndItsClientDue(t *testing.T) {
	clk, _, c, subject := windowEmu(t)
	pol := Policy{}
	plan, err := c.PlanRotation(ctx, subject.ClientID, pol)
	if err != nil || !plan.Rotates() {
		t.Fatalf("before: %v %v", plan, err)
	}
	p, err := c.StartRotation(ctx, subject.ClientID, pol.RotateRequest(func(context.Context, Added) error { return nil }, plan.AsOf))
	if err != nil {
		t.Fatal(err)
	}
	// The process dies here: no Prove, no Finish.
	newID := p.Rotation().New.ID
	latest := p.Deadline().Add(proofExpiryMargin)
	for _, after := range []time.Duration{0, time.Minute, DefaultProofTimeout, DefaultProofTimeout + PropagationDelay} {
		advanceTo(clk, testNow.Add(after))
		plan, err := c.PlanRotation(ctx, subject.ClientID, pol)
		if err != nil {
			t.Fatal(err)
		}
		if !plan.Rotates() {
			t.Errorf("%s after the crash: %v; want the client due", after, plan)
		}
		all, err := c.collect(ctx, subject.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range all {
			if at := s.Expiry.At(); s.ID == newID && (s.Expiry.Never() || at.After(latest)) {
				t.Errorf("the abandoned new secret %d expires %v, later than the proof's deadline and %s (%v)", s.ID, s.Expiry, proofExpiryMargin, latest)
			}
		}
	}
	advanceTo(clk, latest.Add(time.Second))
	all, err := c.collect(ctx, subject.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.ID == newID && !s.Expired(clk.Now()) {
			t.Errorf("the abandoned new secret %d still works at %v: %v", s.ID, clk.Now(), s.Expiry)
		}
	}
}

// Once proven, the new secret gets the expiry asked for before Store puts its value in
// place. That change may take the service's hour to reach sign-in, so the short expiry
// outlasts it: the value stored keeps working at sign-in throughout, and the secret ends
// up with its full expiry.
func TestARotatedSecretWorksAtSignInWhileItsFullExpiryPropagates(t *testing.T) {
	clk, _, c, subject := windowEmu(t)
	var value identity.Secret
	var storedAt time.Time
	var rot *Rotation
	var err error
	clk.Run(func() {
		rot, err = c.Rotate(ctx, subject.ClientID, RotateRequest{Description: "v2", Store: func(_ context.Context, s Added) error {
			value, storedAt = s.Value, clk.Now()
			if s.Expiry.At().Before(testNow.AddDate(1, 0, 0).Add(-time.Second)) {
				return fmt.Errorf("Store got expiry %v, want the year asked for", s.Expiry)
			}
			return nil
		}})
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := testNow.AddDate(1, 0, 0); !rot.New.Expiry.At().Equal(want) || rot.Step != StepDone {
		t.Errorf("rotation: new secret %v, step %s; want it to expire %v", rot.New, rot.Step, want)
	}
	for at := storedAt; at.Before(storedAt.Add(4 * time.Hour)); at = at.Add(5 * time.Minute) {
		advanceTo(clk, at)
		ok, err := c.probe(ctx, subject.ClientID, value, time.Time{})
		if !ok || err != nil {
			t.Fatalf("%s after Store, sign-in refuses the stored value (%v): the full expiry had not reached sign-in when the short one ran out", at.Sub(storedAt), err)
		}
	}
}

// A rotation to a secret that never expires adds it with a short expiry too (one that
// marks it: a lost answer is settled as for any other), and sets "never" once proven.
func TestRotateToANeverExpiringSecretSettlesALostAnswerByItsShortExpiry(t *testing.T) {
	f := newFixture(t, hybridRoute)
	old := secretJSON(1, "a", "2031-01-01T00:00:00Z")
	lost := secretJSON(12, "v2", "2030-06-01T14:24:00Z") // the first add's, whose answer was lost
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(old), list(old, lost))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, Reply{Status: 504}, Reply{Status: 201, Body: addedJSON(11, "v2", "2030-06-01T14:24:00Z")})
	f.On("DELETE", secretsURL(hybridRoute, "12"), mocktest.Any, Reply{Status: 204})
	f.On("PUT", secretsURL(hybridRoute, "11"), mocktest.Any, ok(secretJSON(11, "v2", "")))
	f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, ok(secretJSON(11, "v2", "")))
	f.On("PUT", secretsURL(hybridRoute, "1"), mocktest.Any, ok(secretJSON(1, "a", "2030-06-01T13:00:00Z")))
	var got Added
	rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", Expiry: NeverExpires(), Store: func(_ context.Context, s Added) error {
		got = s
		f.Record("STORE 11")
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Expiry.Never() || !rot.New.Expiry.Never() || rot.New.ID != 11 {
		t.Errorf("Store got %v, the rotation reports %v; want a secret that never expires", got.ClientSecret, rot.New)
	}
	f.WantCalls("GET "+pre+"?count=100", proofBody, "GET "+pre+"?count=100", "DELETE "+pre+"/12", proofBody,
		"PROBE authorization_code", `PUT `+pre+`/11 {"Expires":false,"Expiration":null}`, "STORE 11", "GET "+pre+"/11",
		"PUT "+pre+"/1 "+shortenedTo(testNow.Add(DefaultGrace)))
}

// An expiry asked for that is no later than the short one is the add's at once: nothing
// to set after the proof.
func TestRotateWithAShortExpiryAsksForItAtOnce(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.withNewSecret(hybridRoute, secretJSON(1, "a", "2031-01-01T00:00:00Z"))
	f.On("PUT", secretsURL(hybridRoute, "1"), mocktest.Any, ok(secretJSON(1, "a", "2030-06-01T13:00:00Z")))
	var stored string
	if _, err := f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", Expiry: ExpiresIn(2 * time.Hour), Store: f.storeInto(&stored, nil)}); err != nil {
		t.Fatal(err)
	}
	// Two hours, marked 12 min earlier.
	f.WantCalls("GET "+pre+"?count=100", `POST `+pre+` {"Description":"v2","Expires":true,"Expiration":"2030-06-01T13:48:00Z"}`,
		"PROBE authorization_code", "STORE 11", "GET "+pre+"/11", "PUT "+pre+"/1 "+shortenedTo(testNow.Add(DefaultGrace)))
}

// When the proven new secret cannot be given its full expiry, its value is not stored: it
// would stop working soon. The new secret is deleted again (or named, when that fails),
// the old secrets are untouched, and the error says so.
func TestRotateStoresNothingWhenTheFullExpiryCannotBeSet(t *testing.T) {
	for _, deleteFails := range []bool{false, true} {
		t.Run(fmt.Sprint("delete fails ", deleteFails), func(t *testing.T) {
			f := newFixture(t, hybridRoute)
			f.withNewSecret(hybridRoute, secretJSON(1, "a", "2031-01-01T00:00:00Z"))
			f.On("PUT", secretsURL(hybridRoute, "11"), mocktest.Any, Reply{Status: 403, Body: mocktest.ErrorBody})
			del := Reply{Status: 204}
			if deleteFails {
				del = Reply{Status: 403, Body: mocktest.ErrorBody}
			}
			f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, del)
			var stored string
			rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", Store: f.storeInto(&stored, nil)})
			if !errors.Is(err, identity.ErrForbidden) {
				t.Fatalf("err = %v", err)
			}
			wants := []string{"the new secret was proven, but setting its expiry to 2031-06-01T12:00:00Z", "its value was not stored", "the old secrets are untouched", "new secret 11 was deleted again"}
			newID, step := 0, StepNone
			if deleteFails {
				wants[3] = "new secret 11 is left on the client and nobody holds its value: delete it"
				newID, step = 11, StepAdded
			}
			for _, want := range wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err %q lacks %q", err, want)
				}
			}
			if stored != "" || rot.New.ID != newID || rot.Step != step || len(rot.Deleted)+len(rot.Shortened)+len(rot.Kept) != 0 {
				t.Errorf("rotation = %+v, stored %q", rot, stored)
			}
			f.WantCalls("GET "+pre+"?count=100", proofBody, "PROBE authorization_code", lengthen, "DELETE "+pre+"/11")
		})
	}
}

// advanceTo moves clk forward to t.
func advanceTo(clk *hct.Clock, t time.Time) { clk.Advance(max(t.Sub(clk.Now()), 0)) }

// stallProbes makes the rig's identity server take the first n token requests and never
// answer them (until the request's context ends); the later ones get accepted.
func (f *fixture) stallProbes(n int) {
	f.proofAnswers(accepted)
	var calls atomic.Int64
	f.Transport.RegisterResponder(http.MethodPost, tokenURL, func(req *http.Request) (*http.Response, error) {
		f.Record("PROBE")
		if calls.Add(1) <= int64(n) {
			<-req.Context().Done()
			return nil, req.Context().Err()
		}
		return httpmock.NewStringResponse(accepted.Status, accepted.Body), nil
	})
}

// A token endpoint that takes the probe and never answers ends the proof at its deadline,
// as a refusal would: Rotate returns a *ProofError within seconds, the new secret deleted
// again, instead of waiting for ever.
func TestRotateReturnsWhenTheTokenEndpointNeverAnswers(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.c.now = time.Now // the system clock: the probe ends with the proof's deadline
	f.stallProbes(1 << 30)
	f.withNewSecret(hybridRoute, secretJSON(1, "a", "2031-01-01T00:00:00Z"))
	f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, Reply{Status: 204})
	var stored string
	var err error
	mocktest.ReturnsWithin(t, 5*time.Second, func() {
		_, err = f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", ProofTimeout: time.Second, Store: f.storeInto(&stored, nil)})
	})
	var pe *ProofError
	if !errors.As(err, &pe) || !errors.Is(pe.Err, identity.ErrUnreachable) || !strings.Contains(err.Error(), "no answer within") || pe.DeleteErr != nil || stored != "" {
		t.Fatalf("err = %v, stored %q; want a *ProofError saying the probe got no answer", err, stored)
	}
}

// A probe that runs out of its time is no verdict: the proof asks again at the next
// backoff, and a later answer proves the secret.
func TestAProbeWithoutAnAnswerInTimeIsAskedAgain(t *testing.T) {
	f := newFixture(t, hybridRoute)
	clk := f.clocked()
	f.c.probeBound = 50 * time.Millisecond
	f.stallProbes(1)
	f.withNewSecret(hybridRoute, secretJSON(1, "a", "2031-01-01T00:00:00Z"))
	f.On("PUT", secretsURL(hybridRoute, "1"), mocktest.Any, ok(secretJSON(1, "a", "2030-06-01T13:00:05Z")))
	var stored string
	var rot *Rotation
	var err error
	mocktest.ReturnsWithin(t, 5*time.Second, func() {
		rot, err = f.rotateOnClock(t, clk, ctx, RotateRequest{Description: "v2", Store: f.storeInto(&stored, nil)}, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	if rot.Probes != 2 || !rot.ProvenAt.Equal(testNow.Add(proofFirstWait)) || stored != testValue {
		t.Errorf("rotation = %+v; want proven by the second probe, %s after the first", rot, proofFirstWait)
	}
}
