package secrets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/ocs-go/identity"
	hct "github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/internal/harness/mocktest"
)

// The answers of the rig's token endpoint to a probe.
var (
	refused  = Reply{Status: 400, Body: `{"error":"invalid_client"}`}
	accepted = Reply{Status: 400, Body: `{"error":"invalid_grant"}`}
)

// clocked gives the fixture's Client a fake clock at testNow, whose waits end when drive
// moves it.
func (f *fixture) clocked() *hct.Clock {
	clk := hct.NewClock(testNow)
	f.c.now, f.c.clk = clk.Now, clk
	return clk
}

// withNewSecret answers the listing of the client's secrets with old, the add with new
// secret 11 ("v2"), and its lengthening and its checks (see lengthened).
func (f *fixture) withNewSecret(kind route, old ...string) {
	f.On("GET", secretsURL(kind), mocktest.Any, list(old...))
	f.On("POST", secretsURL(kind), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(11, "v2", "2031-06-01T11:00:00Z")})
	f.On("GET", secretsURL(kind, "11"), mocktest.Any, ok(secretJSON(11, "v2", fullExpiry)))
	f.lengthened(kind)
}

// fullExpiry is the expiry a rotation with the default options asks for (a year from
// testNow), which it sets on new secret 11 after the proof.
const fullExpiry = "2031-06-01T12:00:00Z"

// lengthened answers the update that gives new secret 11 its full expiry after the proof.
func (f *fixture) lengthened(kind route) {
	f.On("PUT", secretsURL(kind, "11"), mocktest.Any, ok(secretJSON(11, "v2", fullExpiry)))
}

// rotateOnClock runs Rotate for the test client, moving clk to the end of each of its
// waits (Clock.Run).
func (f *fixture) rotateOnClock(t *testing.T, clk *hct.Clock, ctx context.Context, req RotateRequest, between func()) (rot *Rotation, err error) {
	t.Helper()
	clk.Run(func() { rot, err = f.c.Rotate(ctx, testClient, req) }, between)
	return rot, err
}

// shortenedTo is the PUT body of an old secret shortened to t.
func shortenedTo(t time.Time) string {
	return `{"Expires":true,"Expiration":"` + t.UTC().Format(time.RFC3339) + `"}`
}

func TestRotateRetiresNothingBeforeTheIdentityServerAcceptsTheNewSecret(t *testing.T) {
	f := newFixture(t, hybridRoute)
	clk := f.clocked()
	f.proofAnswers(refused, refused, refused, accepted)
	f.withNewSecret(hybridRoute, secretJSON(1, "v1", "2031-01-01T00:00:00Z"))
	f.On("PUT", secretsURL(hybridRoute, "1"), mocktest.Any, ok(secretJSON(1, "v1", "2030-06-01T13:35:00Z")))
	var stored string
	rot, err := f.rotateOnClock(t, clk, ctx, RotateRequest{Description: "v2", Store: f.storeInto(&stored, nil)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Probes at once, then after 5, 10 and 20 s: accepted 35 s after the store.
	proven := testNow.Add(35 * time.Second)
	if !rot.ProvenAt.Equal(proven) || rot.Probes != 4 || rot.Step != StepDone || !equalInts(ids(rot.Shortened), []int{1}) {
		t.Errorf("rotation = %+v", rot)
	}
	// Given its full expiry and stored only once proven; the grace counts from the end of
	// Store.
	f.WantCalls("GET "+pre+"?count=100", proofBody,
		"PROBE authorization_code", "GET "+pre+"/11", // refused at once: the new secret must still be there to wait for
		"PROBE authorization_code", "PROBE authorization_code", "PROBE authorization_code",
		lengthen, "STORE 11", "GET "+pre+"/11", "PUT "+pre+"/1 "+shortenedTo(proven.Add(DefaultGrace)))
}

// A new secret never proven was never stored: nobody holds its value, so it is deleted
// again, and the old secrets are untouched; when the delete fails, the error names it.
func TestRotateNeverProvenStoresNothingAndDeletesTheNewSecret(t *testing.T) {
	for _, deleteFails := range []bool{false, true} {
		t.Run(fmt.Sprint("delete fails ", deleteFails), func(t *testing.T) {
			f := newFixture(t, hybridRoute)
			clk := f.clocked()
			f.proofAnswers(refused)
			f.withNewSecret(hybridRoute, secretJSON(1, "a", ""), secretJSON(2, "b", "2031-01-01T00:00:00Z"))
			if deleteFails {
				f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
			} else {
				f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 204})
			}
			var stored string
			rot, err := f.rotateOnClock(t, clk, ctx, RotateRequest{Description: "v2", Store: f.storeInto(&stored, nil)}, nil)
			var pe *ProofError
			if !errors.Is(err, ErrNotProven) || !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ProofError", err)
			}
			if pe.ClientID != testClient || pe.NewID != 11 || !equalInts(pe.NotRetired, []int{1, 2}) || pe.Err != nil || pe.Waited != DefaultProofTimeout || (pe.DeleteErr != nil) != deleteFails {
				t.Errorf("ProofError = %+v", pe)
			}
			// At once, six doubling waits from 5 s (315 s), then every 5 min to 70 min: 20 probes.
			if pe.Probes != 20 || rot.Probes != 20 {
				t.Errorf("%d probes, want 20", pe.Probes)
			}
			wants := []string{"new secret 11 was added, but the identity server did not accept it", "it was deleted again (its value was never stored)", "old secrets [1 2] are untouched and still work", "invalid_client"}
			newID, step := 0, StepNone
			if deleteFails {
				wants[1] = "new secret 11 is left on the client and nobody holds its value: delete it"
				newID, step = 11, StepAdded
			}
			for _, want := range wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err %q lacks %q", err, want)
				}
			}
			if rot.New.ID != newID || rot.Step != step || !rot.ProvenAt.IsZero() || !equalInts(ids(rot.NotRetired), []int{1, 2}) ||
				len(rot.Deleted)+len(rot.Shortened)+len(rot.Kept) != 0 || stored != "" {
				t.Errorf("rotation = %+v, stored %q", rot, stored)
			}
			for _, call := range f.Calls() {
				if strings.HasPrefix(call, "STORE") || strings.HasPrefix(call, "PUT") || (strings.HasPrefix(call, "DELETE") && call != "DELETE "+pre+"/11") {
					t.Errorf("%s: stored, or an old secret changed, before the new one was accepted", call)
				}
			}
		})
	}
}

func TestRotateProofStopsAtAnAnswerThatSaysNothingAboutTheClient(t *testing.T) {
	for _, reply := range []Reply{
		{Status: 400, Body: `{"error":"invalid_request"}`},
		{Status: 307, Header: http.Header{"Location": {"https://elsewhere.example.com/token"}}},
	} {
		t.Run(fmt.Sprint(reply.Status), func(t *testing.T) {
			f := newFixture(t, hybridRoute)
			clk := f.clocked()
			f.proofAnswers(reply)
			f.withNewSecret(hybridRoute, secretJSON(1, "a", ""))
			_, err := f.rotateOnClock(t, clk, ctx, RotateRequest{Description: "v2", Store: func(context.Context, Added) error { return nil }}, nil)
			var pe *ProofError
			if !errors.As(err, &pe) || pe.Probes != 1 || !errors.Is(err, identity.ErrUnauthorized) || !equalInts(pe.NotRetired, []int{1}) {
				t.Fatalf("err = %v, want a *ProofError after one probe, wrapping the AuthError", err)
			}
			if strings.Contains(err.Error(), testValue) {
				t.Error("the error holds the new value")
			}
		})
	}
}

func TestRotateProofAsksAgainAfterNoAnswer(t *testing.T) {
	f := newFixture(t, hybridRoute)
	clk := f.clocked()
	// A code probe is sent once (a code is good for one try), so a 5xx is the proof's to
	// retry, after its first wait.
	f.proofAnswers(Reply{Status: 503, Body: `{"error":"temporarily_unavailable"}`}, accepted)
	f.withNewSecret(hybridRoute, secretJSON(1, "a", ""))
	f.On("PUT", secretsURL(hybridRoute, "1"), mocktest.Any, ok(secretJSON(1, "a", "2030-06-01T13:00:05Z")))
	rot, err := f.rotateOnClock(t, clk, ctx, RotateRequest{Description: "v2", Store: func(context.Context, Added) error { return nil }}, nil)
	if err != nil || rot.Probes != 2 || !rot.ProvenAt.Equal(testNow.Add(proofFirstWait)) {
		t.Fatalf("Rotate = %+v, %v", rot, err)
	}
}

// A throttled probe (429, 408) is no verdict: the proof asks again after its backoff, or
// after the answer's Retry-After (capped at the backoff's most), and the rotation ends.
func TestRotateProofAsksAgainAfterAThrottle(t *testing.T) {
	for _, c := range []struct {
		name  string
		reply Reply
		next  time.Duration // when the second probe goes
	}{
		{"429 slow_down", Reply{Status: 429, Body: `{"error":"slow_down"}`}, proofFirstWait},
		{"429 Retry-After 30", Reply{Status: 429, Header: http.Header{"Retry-After": {"30"}}}, 30 * time.Second},
		{"429 Retry-After a day", Reply{Status: 429, Header: http.Header{"Retry-After": {"86400"}}}, proofMaxWait},
		{"429 Retry-After too large for any integer", Reply{Status: 429, Header: http.Header{"Retry-After": {"99999999999999999999"}}}, proofMaxWait},
		{"408", Reply{Status: 408}, proofFirstWait},
		{"503 Retry-After 60", Reply{Status: 503, Header: http.Header{"Retry-After": {"60"}}}, time.Minute},
		{"503", Reply{Status: 503}, proofFirstWait},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, hybridRoute)
			clk := f.clocked()
			f.proofAnswers(c.reply, accepted)
			f.withNewSecret(hybridRoute, secretJSON(1, "a", ""))
			f.On("PUT", secretsURL(hybridRoute, "1"), mocktest.Any, ok(secretJSON(1, "a", "2030-06-01T13:00:05Z")))
			rot, err := f.rotateOnClock(t, clk, ctx, RotateRequest{Description: "v2", Store: func(context.Context, Added) error { return nil }}, nil)
			if err != nil || rot.Step != StepDone || rot.Probes != 2 || !rot.ProvenAt.Equal(testNow.Add(c.next)) {
				t.Fatalf("Rotate = %+v, %v; want done after 2 probes, the second %s after the first", rot, err, c.next)
			}
		})
	}
}

func TestRotateProvesAClientCredentialClientWithItsOwnGrant(t *testing.T) {
	f := newFixture(t, clientCredentialRoute)
	f.proofAnswers(Reply{Status: 200, Body: `{"access_token":"at-proof","token_type":"Bearer","expires_in":60}`})
	f.withNewSecret(clientCredentialRoute, secretJSON(1, "a", ""))
	f.On("PUT", secretsURL(clientCredentialRoute, "1"), mocktest.Any, ok(secretJSON(1, "a", "2030-06-01T13:00:00Z")))
	rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", Store: func(context.Context, Added) error { return nil }})
	if err != nil || rot.Probes != 1 || rot.ProvenAt.IsZero() {
		t.Fatalf("Rotate = %+v, %v", rot, err)
	}
	if got := f.Calls(); !slices.Contains(got, "PROBE client_credentials") {
		t.Errorf("calls %q: no client_credentials probe", got)
	}
	// Its token is dropped: nowhere in the result.
	if s := fmt.Sprintf("%v %+v %#v", rot, rot, rot); strings.Contains(s, "at-proof") {
		t.Error("the probe's token is in the rotation")
	}
}

func TestRotateWithoutProofSendsNoProbe(t *testing.T) {
	for _, req := range []RotateRequest{{RetireAtOnce: true}, {SkipProof: true, Grace: 2 * time.Hour}} {
		f := newFixture(t, hybridRoute)
		f.withNewSecret(hybridRoute, secretJSON(1, "a", ""))
		f.On("DELETE", secretsURL(hybridRoute, "1"), mocktest.Any, mocktest.Reply{Status: 204})
		f.On("PUT", secretsURL(hybridRoute, "1"), mocktest.Any, ok(secretJSON(1, "a", "2030-06-01T14:00:00Z")))
		req.Description, req.Store = "v2", func(context.Context, Added) error { return nil }
		rot, err := f.c.Rotate(ctx, testClient, req)
		if err != nil || rot.Probes != 0 || !rot.ProvenAt.IsZero() || rot.Step != StepDone {
			t.Fatalf("%+v: Rotate = %+v, %v", req, rot, err)
		}
		for _, c := range f.Calls() {
			if strings.HasPrefix(c, "PROBE") {
				t.Errorf("%+v: %s", req, c)
			}
		}
	}
}

func TestRotateProofEndsWithTheContext(t *testing.T) {
	f := newFixture(t, hybridRoute)
	clk := f.clocked()
	f.proofAnswers(refused)
	f.withNewSecret(hybridRoute, secretJSON(1, "a", ""))
	f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 204})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The caller gives up while the proof waits: the new secret, never stored, is deleted
	// all the same.
	stored := false
	rot, err := f.rotateOnClock(t, clk, cctx, RotateRequest{Description: "v2", Store: func(context.Context, Added) error { stored = true; return nil }}, cancel)
	if !errors.Is(err, ErrNotProven) || !errors.Is(err, context.Canceled) || rot.Step != StepNone || rot.New.ID != 0 || stored || !equalInts(ids(rot.NotRetired), []int{1}) {
		t.Fatalf("Rotate = %+v, %v", rot, err)
	}
	if calls := f.Calls(); calls[len(calls)-1] != "DELETE "+pre+"/11" {
		t.Errorf("calls %v: the new secret was not deleted", calls)
	}
}

func TestRotateRefusesBadProofOptions(t *testing.T) {
	f := newFixture(t, hybridRoute)
	store := func(context.Context, Added) error { return nil }
	for _, req := range []RotateRequest{
		{ProofTimeout: -time.Minute, Store: store},
		{ProofTimeout: time.Hour, SkipProof: true, Store: store},
		{ProofTimeout: time.Hour, RetireAtOnce: true, Store: store},
	} {
		if _, err := f.c.Rotate(ctx, testClient, req); !errors.Is(err, identity.ErrInvalidInput) || !strings.Contains(err.Error(), "invalid ProofTimeout") {
			t.Errorf("%+v: err = %v", req, err)
		}
	}
	f.WantCalls()
}

// TestRotateNeverLocksTheApplicationOutWhileTheNewSecretPropagates runs a rotation against
// the fake with the service's hour of propagation, its clock moved to the end of each of
// the rotation's waits; before every move the application (a client-credential client)
// signs in with the value Store last delivered, and nothing else: Store replaces the old
// value (as ReplaceFile does). Every refused sign-in is a lockout. With the proof, Store
// delivers the new value only once it works, and the old one works until then; without
// (SkipProof, a one-minute grace) the application is locked out, which shows the check
// can see it.
func TestRotateNeverLocksTheApplicationOutWhileTheNewSecretPropagates(t *testing.T) {
	for _, withProof := range []bool{true, false} {
		t.Run(fmt.Sprint("proof ", withProof), func(t *testing.T) {
			clk := hct.NewClock(time.Now().UTC().Truncate(time.Second))
			srv := hct.NewServer(t, &hct.Options{Clock: clk, PropagationDelay: PropagationDelay, TokenLifetime: 24 * time.Hour})
			c := emuClient(t, srv)
			app := srv.AddAccount(hct.RoleMember)
			held := app.Secret // the value the application reads: Store replaces it
			start := clk.Now()
			var storedAt time.Time
			var lockouts, checks int
			signIn := func() {
				checks++
				if !tokenFor(t, srv, app.ClientID, held) {
					lockouts++
				}
			}
			req := RotateRequest{Description: "rotated", Store: func(_ context.Context, s Added) error {
				held, storedAt = s.Value, clk.Now()
				return nil
			}}
			if !withProof {
				req.SkipProof, req.Grace = true, MinGrace
			}
			var rot *Rotation
			var err error
			clk.Run(func() { rot, err = c.Rotate(ctx, app.ClientID, req) }, signIn)
			if err != nil {
				t.Fatal(err)
			}
			// After the rotation, through the end of the grace.
			for range 3 {
				clk.Advance(DefaultGrace / 2)
				signIn()
			}
			t.Logf("proof %v: %d sign-ins, %d locked out; %d probes; stored %v after the start", withProof, checks, lockouts, rot.Probes, storedAt.Sub(start))
			switch {
			case withProof && (lockouts != 0 || rot.ProvenAt.Before(start.Add(PropagationDelay)) || storedAt.Before(rot.ProvenAt)):
				t.Errorf("%d of %d sign-ins locked out with the proof; proven %v, stored %v after the start", lockouts, checks, rot.ProvenAt.Sub(start), storedAt.Sub(start))
			case !withProof && lockouts == 0:
				t.Error("no sign-in locked out without the proof and a short grace: the check cannot see a lockout")
			}
		})
	}
}

// TestRotateNeverLocksOutAnApplicationReadingTheFileStoreReplaced: the README's Store is
// ReplaceFile, after which the file holds the new value alone. An application reading
// that file before every move of the clock is never refused: the file holds the old value
// until the new one works.
func TestRotateNeverLocksOutAnApplicationReadingTheFileStoreReplaced(t *testing.T) {
	clk := hct.NewClock(time.Now().UTC().Truncate(time.Second))
	srv := hct.NewServer(t, &hct.Options{Clock: clk, PropagationDelay: PropagationDelay, TokenLifetime: 24 * time.Hour})
	c := emuClient(t, srv)
	app := srv.AddAccount(hct.RoleMember)
	file := filepath.Join(t.TempDir(), "client.secret")
	if err := app.Secret.WriteFile(file); err != nil {
		t.Fatal(err)
	}
	var refused, checks int
	signInFromFile := func() {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		checks++
		if !tokenFor(t, srv, app.ClientID, identity.NewSecret(string(b))) {
			refused++
		}
	}
	req := RotateRequest{Description: "rotated", Store: func(_ context.Context, s Added) error { return s.Value.ReplaceFile(file) }}
	var rot *Rotation
	var err error
	clk.Run(func() { rot, err = c.Rotate(ctx, app.ClientID, req) }, signInFromFile)
	for range 3 { // through the end of the grace
		clk.Advance(DefaultGrace / 2)
		signInFromFile()
	}
	if err != nil || rot.Step != StepDone || checks < 10 {
		t.Fatalf("Rotate = %+v, %v after %d sign-ins", rot, err, checks)
	}
	if refused > 0 {
		t.Errorf("an application reading the file Store replaced was refused %d times of %d", refused, checks)
	}
}

// tokenFor reports whether the fake's token endpoint gives clientID a token for value,
// as the application's own sign-in would.
func tokenFor(t *testing.T, srv *hct.Server, clientID string, value identity.Secret) bool {
	t.Helper()
	resp, err := http.PostForm(srv.URL+"/identity/connect/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {value.Reveal()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestPendingRotationNeverShowsTheValueAndDropsItWhenFinished(t *testing.T) {
	f := newFixture(t, hybridRoute)
	clk := f.clocked()
	f.proofAnswers(refused)
	f.withNewSecret(hybridRoute, secretJSON(1, "a", ""))
	f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 204})
	p, err := f.c.StartRotation(ctx, testClient, RotateRequest{Description: "v2", Store: func(context.Context, Added) error { return nil }})
	if err != nil || p.ClientID() != testClient || p.Rotation().Step != StepAdded || !p.Deadline().Equal(testNow.Add(DefaultProofTimeout)) {
		t.Fatalf("StartRotation = %v, %v", p, err)
	}
	if !p.Next().Equal(testNow) {
		t.Errorf("Next before the first probe = %v, want at once", p.Next())
	}
	if ok, err := p.Prove(ctx); ok || err != nil {
		t.Fatalf("Prove = %v, %v; want false (invalid_client)", ok, err)
	}
	if !p.Next().Equal(testNow.Add(proofFirstWait)) {
		t.Errorf("Next after a refused probe = %v, want %s later", p.Next(), proofFirstWait)
	}
	var finishErr error
	clk.Run(func() { _, finishErr = p.Finish(ctx) }, nil)
	shown := []any{p, finishErr}
	for _, v := range shown {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, testValue) {
				t.Errorf("%s of %T shows the value: %s", verb, v, s)
			}
		}
	}
	if !p.value.IsZero() || !p.Next().IsZero() {
		t.Error("a finished rotation still holds the value, or means to probe again")
	}
	if _, err := p.Finish(ctx); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("a second Finish: %v", err)
	}
	if _, err := p.Prove(ctx); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("Prove after Finish: %v", err)
	}
}

func TestPendingRotationRefusesNilAndStopped(t *testing.T) {
	var nilP *PendingRotation
	if _, err := nilP.Prove(ctx); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("nil Prove: %v", err)
	}
	if rot, err := nilP.Finish(ctx); rot == nil || !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("nil Finish: %v, %v", rot, err)
	}
	if nilP.ClientID() != "" || !nilP.Deadline().IsZero() || nilP.Rotation().Step != StepNone || fmt.Sprint(nilP) != "secrets.PendingRotation(nil)" {
		t.Error("a nil PendingRotation's accessors")
	}
	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
	p, err := f.c.StartRotation(ctx, testClient, RotateRequest{Store: func(context.Context, Added) error { return nil }})
	if !errors.Is(err, identity.ErrForbidden) || p == nil {
		t.Fatalf("StartRotation = %v, %v", p, err)
	}
	if _, perr := p.Prove(ctx); !errors.Is(perr, identity.ErrForbidden) || perr.Error() != err.Error() {
		t.Errorf("Prove after a failed start: %v", perr)
	}
	if rot, ferr := p.Finish(ctx); !errors.Is(ferr, identity.ErrForbidden) || ferr.Error() != err.Error() || rot.Step != StepNone {
		t.Errorf("Finish after a failed start: %+v, %v", rot, ferr)
	}
	var nilCtx context.Context
	p2, _ := f.c.StartRotation(nilCtx, testClient, RotateRequest{Store: func(context.Context, Added) error { return nil }})
	if _, err := p2.Prove(nilCtx); err == nil {
		t.Error("Prove with a nil context")
	}
}

func TestProveStopsTheRotationWhenTheNewSecretVanished(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.proofAnswers(refused)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "a", "")))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(11, "v2", "2031-06-01T11:00:00Z")})
	f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 404, Body: mocktest.ErrorBody}) // another rotation deleted it
	f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 404, Body: mocktest.ErrorBody})
	p, err := f.c.StartRotation(ctx, testClient, RotateRequest{Description: "v2", Store: func(context.Context, Added) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Prove(ctx); ok || !errors.Is(err, ErrLockoutRisk) {
		t.Fatalf("Prove = %v, %v; want ErrLockoutRisk", ok, err)
	}
	rot, err := p.Finish(ctx)
	if !errors.Is(err, ErrLockoutRisk) || rot.Step != StepNone || !equalInts(ids(rot.NotRetired), []int{1}) || !p.value.IsZero() || !p.Next().IsZero() {
		t.Errorf("Finish = %+v, %v", rot, err)
	}
	for _, c := range f.Calls() {
		if strings.HasPrefix(c, "PUT") || (strings.HasPrefix(c, "DELETE") && c != "DELETE "+pre+"/11") {
			t.Errorf("%s: retired after the new secret vanished", c)
		}
	}
}

// A probe that takes longer than the wait before the next one (a slow token endpoint)
// does not end the proof: the next probe goes at once.
func TestRotateProofOutlastsProbesSlowerThanTheirBackoff(t *testing.T) {
	f := newFixture(t, hybridRoute)
	clk := f.clocked()
	n := 0
	f.Transport.RegisterResponder(http.MethodPost, tokenURL, func(*http.Request) (*http.Response, error) {
		clk.Advance(time.Minute) // each probe takes a minute
		if n++; n < 4 {
			return httpmock.NewStringResponse(400, `{"error":"invalid_client"}`), nil
		}
		return httpmock.NewStringResponse(400, `{"error":"invalid_grant"}`), nil
	})
	f.withNewSecret(hybridRoute, secretJSON(1, "a", ""))
	f.On("PUT", secretsURL(hybridRoute, "1"), mocktest.Any, ok(secretJSON(1, "a", "2030-06-01T14:00:00Z")))
	rot, err := f.rotateOnClock(t, clk, ctx, RotateRequest{Description: "v2", Store: func(context.Context, Added) error { return nil }}, nil)
	if err != nil || rot.Probes != 4 || rot.Step != StepDone {
		t.Fatalf("Rotate = %+v, %v", rot, err)
	}
}

// TestNothingKeepsTheValueAfterTheProof: the value a proof needs is held by the
// PendingRotation until its proof is settled; once Finish (or Rotate) returns, neither the
// Rotation, nor the error, nor the Client, nor the PendingRotation holds it, whether the
// proof came, never came, or the new secret vanished.
func TestNothingKeepsTheValueAfterTheProof(t *testing.T) {
	for _, c := range []struct {
		name    string
		answers []Reply
		check   Reply
	}{
		{"proven", []Reply{refused, accepted}, ok(secretJSON(11, "v2", "2031-06-01T11:00:00Z"))},
		{"never proven", []Reply{refused}, ok(secretJSON(11, "v2", "2031-06-01T11:00:00Z"))},
		{"the new secret vanished", []Reply{refused}, mocktest.Reply{Status: 404, Body: mocktest.ErrorBody}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, hybridRoute)
			clk := f.clocked()
			f.proofAnswers(c.answers...)
			f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "a", "")))
			f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(11, "v2", "2031-06-01T11:00:00Z")})
			f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, c.check)
			f.On("PUT", secretsURL(hybridRoute, "1"), mocktest.Any, ok(secretJSON(1, "a", "2030-06-01T13:00:05Z")))
			f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 204})
			p, err := f.c.StartRotation(ctx, testClient, RotateRequest{Description: "v2", Store: func(context.Context, Added) error { return nil }})
			if err != nil {
				t.Fatal(err)
			}
			if holds(p, testValue) == "" {
				t.Fatal("the pending rotation does not hold the value its proof needs: the walk sees nothing")
			}
			var rot *Rotation
			clk.Run(func() { rot, err = p.Finish(ctx) }, nil)
			for what, v := range map[string]any{"the Rotation": rot, "the error": err, "the Client": f.c, "the PendingRotation": p} {
				if path := holds(v, testValue); path != "" {
					t.Errorf("%s holds the value at %s (Finish: %v)", what, path, err)
				}
			}
		})
	}
}
