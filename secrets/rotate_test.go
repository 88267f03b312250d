package secrets

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/harness/mocktest"
)

const pre = "HybridClients/" + testClient + "/Secrets"

// newBody is the POST body of a rotation with the default options that waits for no
// proof (RetireAtOnce, SkipProof): the year asked for, marked an hour earlier.
const newBody = `POST ` + pre + ` {"Description":"v2","Expires":true,"Expiration":"2031-06-01T11:00:00Z"}`

// proofBody is the POST body of a rotation with the default options that waits for its
// proof: a short expiry (the proof's 70 min, proofExpiryMargin's 90 min, marked 16 min
// earlier) until the proof came; lengthen is the update that then sets the year asked for.
const (
	proofBody = `POST ` + pre + ` {"Description":"v2","Expires":true,"Expiration":"2030-06-01T14:24:00Z"}`
	lengthen  = `PUT ` + pre + `/11 {"Expires":true,"Expiration":"` + fullExpiry + `"}`
)

// storeInto returns a Store function that logs the call and keeps the value.
func (f *fixture) storeInto(kept *string, err error) func(context.Context, Added) error {
	return func(_ context.Context, s Added) error {
		f.Record("STORE " + strconv.Itoa(s.ID))
		if err == nil {
			*kept = s.Value.Reveal()
		}
		return err
	}
}

func TestRotateSuccess(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "v0", "2030-01-01T00:00:00Z"), secretJSON(2, "v1", "")))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(11, "v2", "2031-06-01T11:00:00Z")})
	f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, ok(secretJSON(11, "v2", fullExpiry)))
	f.lengthened(hybridRoute)
	f.On("DELETE", secretsURL(hybridRoute, "1"), mocktest.Any, mocktest.Reply{Status: 204})
	f.On("DELETE", secretsURL(hybridRoute, "2"), mocktest.Any, mocktest.Reply{Status: 204})
	var stored string
	rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", RetireAtOnce: true, Store: f.storeInto(&stored, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if stored != testValue || rot.New.ID != 11 || !equalInts(ids(rot.Deleted), []int{1, 2}) ||
		len(rot.Shortened)+len(rot.Kept)+len(rot.FreedRoom) != 0 {
		t.Errorf("rotation = %+v", rot)
	}
	// Add, then store, then retire.
	f.WantCalls("GET "+pre+"?count=100", newBody, "STORE 11", "GET "+pre+"/11", "DELETE "+pre+"/1", "DELETE "+pre+"/2")
}

func TestRotateRetirePolicies(t *testing.T) {
	old := list(
		secretJSON(1, "expired", "2030-01-01T00:00:00Z"),
		secretJSON(2, "soon", "2030-06-05T00:00:00Z"),
		secretJSON(3, "later", "2030-12-01T00:00:00Z"),
		secretJSON(4, "never", ""))
	for _, tt := range []struct {
		policy RetirePolicy
		want   []int
	}{
		{RetireAll(), []int{1, 2, 3, 4}},
		{RetirePolicy{}, []int{1, 2, 3, 4}},
		{RetireExpired(), []int{1}},
		{RetireExpiringBefore(testNow.Add(7 * 24 * time.Hour)), []int{1, 2}},
		{RetireExpiringBefore(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)), []int{1, 2, 3}},
	} {
		t.Run(tt.policy.String(), func(t *testing.T) {
			f := newFixture(t, hybridRoute)
			f.On("GET", secretsURL(hybridRoute), mocktest.Any, old)
			f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(11, "v2", "2031-06-01T11:00:00Z")})
			f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, ok(secretJSON(11, "v2", fullExpiry)))
			f.lengthened(hybridRoute)
			f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, ok(secretJSON(11, "v2", fullExpiry)))
			f.lengthened(hybridRoute)
			for i := 1; i <= 4; i++ {
				f.On("DELETE", secretsURL(hybridRoute, strconv.Itoa(i)), mocktest.Any, mocktest.Reply{Status: 204})
			}
			var stored string
			rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", RetireAtOnce: true, Retire: tt.policy, Store: f.storeInto(&stored, nil)})
			if err != nil {
				t.Fatal(err)
			}
			if !equalInts(ids(rot.Deleted), tt.want) {
				t.Errorf("deleted %v, want %v", ids(rot.Deleted), tt.want)
			}
		})
	}
}

// Rotate retires only secrets of its first listing: one that appears later (another
// caller's new secret) is never touched.
func TestRotateNeverRetiresLaterSecrets(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "old", "")),
		list(secretJSON(1, "old", ""), secretJSON(7, "someone else's", ""), secretJSON(11, "v2", "2031-06-01T11:00:00Z")))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(11, "v2", "2031-06-01T11:00:00Z")})
	f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, ok(secretJSON(11, "v2", fullExpiry)))
	f.lengthened(hybridRoute)
	f.On("PUT", secretsURL(hybridRoute, "1"), mocktest.Any, ok(secretJSON(1, "old", "2030-06-01T13:00:00Z")))
	rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", Store: func(context.Context, Added) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if !equalInts(ids(rot.Shortened), []int{1}) || len(rot.Deleted)+len(rot.Kept) != 0 {
		t.Errorf("rotation %+v", rot)
	}
	for _, c := range f.Calls() {
		if strings.Contains(c, "/7") {
			t.Errorf("touched a secret that appeared after the first listing: %s", c)
		}
	}
}

func TestRotateStoreFails(t *testing.T) {
	storeErr := errors.New("vault sealed")
	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "v1", "")))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(11, "v2", "2031-06-01T11:00:00Z")})
	f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, ok(secretJSON(11, "v2", fullExpiry)))
	f.lengthened(hybridRoute)
	f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 204})
	var stored string
	rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", Store: f.storeInto(&stored, storeErr)})
	if !errors.Is(err, storeErr) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"storing the new secret failed", "new secret 11 was deleted again", "old secrets are untouched", "vault sealed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err %q lacks %q", err, want)
		}
	}
	if rot == nil || rot.New.ID != 0 || len(rot.Deleted) != 0 {
		t.Errorf("rotation = %+v", rot)
	}
	// The new secret was removed; the old one was not touched.
	f.WantCalls("GET "+pre+"?count=100", proofBody, "PROBE authorization_code", lengthen, "STORE 11", "DELETE "+pre+"/11")
}

func TestRotateStoreFailsAndCleanupFails(t *testing.T) {
	storeErr := errors.New("vault sealed")
	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "v1", "")))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(11, "v2", "2031-06-01T11:00:00Z")})
	f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, ok(secretJSON(11, "v2", fullExpiry)))
	f.lengthened(hybridRoute)
	f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
	// Store cancels the caller's context: the cleanup must still run.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rot, err := f.c.Rotate(cctx, testClient, RotateRequest{Description: "v2", Store: func(_ context.Context, s Added) error {
		cancel()
		f.Record("STORE " + strconv.Itoa(s.ID))
		return storeErr
	}})
	if !errors.Is(err, storeErr) || !errors.Is(err, identity.ErrForbidden) ||
		!strings.Contains(err.Error(), "new secret 11 is left on the client") {
		t.Fatalf("err = %v", err)
	}
	if rot.New.ID != 11 {
		t.Errorf("rotation = %+v", rot)
	}
	f.WantCalls("GET "+pre+"?count=100", proofBody, "PROBE authorization_code", lengthen, "STORE 11", "DELETE "+pre+"/11")
}

func tenSecrets(expired ...int) mocktest.Reply {
	var items []string
	for i := 1; i <= MaxPerClient; i++ {
		exp := "2031-01-01T00:00:00Z"
		for _, e := range expired {
			if e == i {
				exp = fmt.Sprintf("2030-0%d-01T00:00:00Z", 1+i%5)
			}
		}
		items = append(items, secretJSON(i, "s"+strconv.Itoa(i), exp))
	}
	return list(items...)
}

func TestRotateLimitReached(t *testing.T) {
	for _, tt := range []struct {
		name     string
		expired  []int
		freeRoom bool
	}{
		{"FreeRoom not allowed", []int{3}, false},
		{"nothing expired", nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, hybridRoute)
			f.On("GET", secretsURL(hybridRoute), mocktest.Any, tenSecrets(tt.expired...))
			called := false
			rot, err := f.c.Rotate(ctx, testClient, RotateRequest{FreeRoom: tt.freeRoom, Store: func(context.Context, Added) error { called = true; return nil }})
			if !errors.Is(err, ErrLimitReached) || !strings.Contains(err.Error(), "nothing was changed") || !strings.Contains(err.Error(), "has 10 secrets (the limit is 10)") {
				t.Fatalf("err = %v", err)
			}
			if called || rot == nil || rot.New.ID != 0 {
				t.Errorf("rotation = %+v", rot)
			}
			f.WantCalls("GET " + pre + "?count=100") // no POST, no DELETE
		})
	}
}

func TestRotateFreeRoom(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, tenSecrets(4, 7)) // 4 expired 2030-05-01, 7 expired 2030-03-01
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(11, "v2", "2031-06-01T11:00:00Z")})
	f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, ok(secretJSON(11, "v2", fullExpiry)))
	f.lengthened(hybridRoute)
	f.On("DELETE", secretsURL(hybridRoute, "4"), mocktest.Any, mocktest.Reply{Status: 204})
	f.On("DELETE", secretsURL(hybridRoute, "7"), mocktest.Any, mocktest.Reply{Status: 204})
	var stored string
	rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", FreeRoom: true, Retire: RetireExpired(), Store: f.storeInto(&stored, nil)})
	if err != nil {
		t.Fatal(err)
	}
	// The earliest expired goes first to make room; the other expired one is retired after.
	if !equalInts(ids(rot.FreedRoom), []int{7}) || !equalInts(ids(rot.Deleted), []int{4}) || rot.New.ID != 11 {
		t.Errorf("rotation = %+v", rot)
	}
	f.WantCalls("GET "+pre+"?count=100", "DELETE "+pre+"/7", proofBody, "PROBE authorization_code", lengthen, "STORE 11", "GET "+pre+"/11", "DELETE "+pre+"/4")
}

// FreeRoom must not delete a secret that expired only moments ago by the local
// clock, which may run ahead of the service's.
func TestRotateFreeRoomSparesSecretsExpiredWithinTheClockSkewMargin(t *testing.T) {
	f := newFixture(t, hybridRoute)
	var ten []string
	for i := 1; i <= MaxPerClient; i++ {
		exp := "2031-01-01T00:00:00Z"
		if i == 4 {
			exp = testNow.Add(-time.Minute).Format(time.RFC3339) // expired a minute ago, locally
		}
		ten = append(ten, secretJSON(i, "s", exp))
	}
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(ten...))
	f.On("DELETE", secretsURL(hybridRoute, "4"), mocktest.Any, mocktest.Reply{Status: 204})
	_, err := f.c.Rotate(ctx, testClient, RotateRequest{FreeRoom: true, Store: func(context.Context, Added) error { return nil }})
	if !errors.Is(err, ErrLimitReached) {
		t.Errorf("err = %v, want ErrLimitReached", err)
	}
	f.WantCalls("GET " + pre + "?count=100")
}

func TestRotateGrace(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(
		secretJSON(1, "expired", "2030-05-01T00:00:00Z"),
		secretJSON(2, "expires within the grace", "2030-06-01T13:00:00Z"),
		secretJSON(3, "at the grace's end", "2030-06-01T14:00:00Z"),
		secretJSON(4, "later", "2031-01-01T00:00:00Z"),
		secretJSON(5, "never", "")))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(11, "v2", "2031-06-01T11:00:00Z")})
	f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, ok(secretJSON(11, "v2", fullExpiry)))
	f.lengthened(hybridRoute)
	f.On("DELETE", secretsURL(hybridRoute, "1"), mocktest.Any, mocktest.Reply{Status: 204})
	f.On("PUT", secretsURL(hybridRoute, "4"), mocktest.Any, ok(secretJSON(4, "later", "2030-06-01T14:00:00Z")))
	f.On("PUT", secretsURL(hybridRoute, "5"), mocktest.Any, ok(secretJSON(5, "never", "2030-06-01T14:00:00Z")))
	var stored string
	rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", Grace: 2 * time.Hour, Store: f.storeInto(&stored, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !equalInts(ids(rot.Deleted), []int{1}) || !equalInts(ids(rot.Kept), []int{2, 3}) || !equalInts(ids(rot.Shortened), []int{4, 5}) {
		t.Errorf("rotation = %+v", rot)
	}
	if rot.Shortened[1].Expiry.Never() {
		t.Errorf("shortened secret 5 still never expires: %+v", rot.Shortened[1])
	}
	short := `{"Expires":true,"Expiration":"2030-06-01T14:00:00Z"}`
	f.WantCalls("GET "+pre+"?count=100", proofBody, "PROBE authorization_code", lengthen, "STORE 11", "GET "+pre+"/11", "DELETE "+pre+"/1",
		"PUT "+pre+"/4 "+short, "PUT "+pre+"/5 "+short)
}

// The default rotation keeps the old secrets working for at least an hour, as
// a new secret can take that long to reach sign-in.
func TestRotateByDefaultKeepsOldSecretsWorkingAnHour(t *testing.T) {
	e := newEmu(t)
	before := time.Now()
	rot, err := e.c.Rotate(context.Background(), e.subject.ClientID, RotateRequest{Store: func(context.Context, Added) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if !e.srv.CheckSecret(e.subject.ClientID, e.subject.Secret) {
		t.Fatalf("the old secret stopped working at once: %+v", rot)
	}
	if len(rot.Deleted) != 0 || len(rot.Shortened) != 1 {
		t.Fatalf("rotation %+v, want the old secret shortened, not deleted", rot)
	}
	if at := rot.Shortened[0].Expiry.At(); at.Before(before.Add(time.Hour - time.Second)) {
		t.Errorf("old secret expires at %v, less than an hour after the rotation", at)
	}
}

func TestRotateRetireFailsHalfway(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "a", ""), secretJSON(2, "b", ""), secretJSON(3, "c", "")))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(11, "v2", "2031-06-01T11:00:00Z")})
	f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, ok(secretJSON(11, "v2", fullExpiry)))
	f.lengthened(hybridRoute)
	f.On("DELETE", secretsURL(hybridRoute, "1"), mocktest.Any, mocktest.Reply{Status: 204})
	f.On("DELETE", secretsURL(hybridRoute, "2"), mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
	f.On("DELETE", secretsURL(hybridRoute, "3"), mocktest.Any, mocktest.Reply{Status: 204})
	var stored string
	rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", RetireAtOnce: true, Store: f.storeInto(&stored, nil)})
	if !errors.Is(err, identity.ErrForbidden) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"new secret 11 was added, proven and stored", "deleting old secret 2 failed", "old secrets [1] were deleted", "not yet retired: [2 3]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err %q lacks %q", err, want)
		}
	}
	if rot.New.ID != 11 || !equalInts(ids(rot.Deleted), []int{1}) || stored != testValue {
		t.Errorf("rotation = %+v", rot)
	}
	f.WantCalls("GET "+pre+"?count=100", newBody, "STORE 11", "GET "+pre+"/11", "DELETE "+pre+"/1", "DELETE "+pre+"/2")
}

func TestRotateShortenFailsHalfway(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "a", ""), secretJSON(2, "b", "")))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(11, "v2", "2031-06-01T11:00:00Z")})
	f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, ok(secretJSON(11, "v2", fullExpiry)))
	f.lengthened(hybridRoute)
	f.On("PUT", secretsURL(hybridRoute, "1"), mocktest.Any, ok(secretJSON(1, "a", "2030-06-02T12:00:00Z")))
	f.On("PUT", secretsURL(hybridRoute, "2"), mocktest.Any, mocktest.Reply{Status: 400, Body: mocktest.ErrorBody})
	var stored string
	rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", Grace: 24 * time.Hour, Store: f.storeInto(&stored, nil)})
	if !errors.Is(err, identity.ErrBadRequest) || !strings.Contains(err.Error(), "shortening the expiry of old secret 2 failed") ||
		!strings.Contains(err.Error(), "old secrets [1] now expire at the end of the grace period") || !strings.Contains(err.Error(), "not yet retired: [2]") {
		t.Fatalf("err = %v", err)
	}
	if !equalInts(ids(rot.Shortened), []int{1}) {
		t.Errorf("rotation = %+v", rot)
	}
}

// Rotate's partial retirement is in fields of its result, and an add whose
// outcome is unknown comes back as an *identity.OutcomeError that errors.As finds.
func TestRotateReportsPartialRetirementAndUnsettledAddsInFields(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "a", "2031-01-01T00:00:00Z"), secretJSON(2, "b", "2031-01-01T00:00:00Z"), secretJSON(3, "c", "2031-01-01T00:00:00Z")))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(11, "v2", "2031-06-01T11:00:00Z")})
	f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, ok(secretJSON(11, "v2", fullExpiry)))
	f.lengthened(hybridRoute)
	f.On("PUT", secretsURL(hybridRoute, "1"), mocktest.Any, ok(secretJSON(1, "a", "2030-06-01T13:00:00Z")))
	f.On("PUT", secretsURL(hybridRoute, "2"), mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
	rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", Store: func(context.Context, Added) error { return nil }})
	if !errors.Is(err, identity.ErrForbidden) {
		t.Fatalf("err = %v", err)
	}
	if !equalInts(ids(rot.Shortened), []int{1}) || !equalInts(ids(rot.NotRetired), []int{2, 3}) {
		t.Errorf("Shortened %v, NotRetired %v; want [1], [2 3]", ids(rot.Shortened), ids(rot.NotRetired))
	}

	// A never-expiring look-alike appeared after a lost answer: the add cannot be settled.
	f = newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "a", "")), list(secretJSON(1, "a", ""), secretJSON(12, "v2", "")))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 504})
	_, err = f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", Expiry: NeverExpires(), RetireAtOnce: true, Store: func(context.Context, Added) error { return nil }})
	var oe *identity.OutcomeError
	if !errors.As(err, &oe) || !equalInts(oe.Unclaimed, []int{12}) || len(oe.Orphans) != 0 {
		t.Fatalf("err = %v, want an OutcomeError with Unclaimed [12]", err)
	}
	for _, c := range f.Calls() {
		if strings.HasPrefix(c, "DELETE") {
			t.Errorf("deleted a secret that may be someone else's: %s", c)
		}
	}
}

func TestRotateAddFails(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "a", "")))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
	rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Store: func(context.Context, Added) error { t.Error("Store called"); return nil }})
	if !errors.Is(err, identity.ErrForbidden) || !strings.Contains(err.Error(), "old secrets are untouched") || rot == nil {
		t.Fatalf("Rotate = %+v, %v", rot, err)
	}
}

func TestRotateRefusesBadOptions(t *testing.T) {
	f := newFixture(t, hybridRoute)
	_, err := f.c.Rotate(ctx, testClient, RotateRequest{
		Expiry: ExpiresAt(testNow.Add(-time.Hour)),
		Retire: RetireExpiringBefore(time.Time{}),
		Grace:  -time.Hour,
	})
	for _, field := range []string{"Expiry", "Store", "Retire", "Grace"} {
		if !strings.Contains(err.Error(), "invalid "+field+":") {
			t.Errorf("err %q does not name %s", err, field)
		}
	}
	if !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("err = %v", err)
	}
	_, err = f.c.Rotate(ctx, testClient, RotateRequest{Grace: time.Second, Store: func(context.Context, Added) error { return nil }})
	if !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("Grace 1s: %v", err)
	}
	f.WantCalls()
}

// A new secret that would expire before the old ones' grace period ends (or
// within the hour a new secret may take to work) is refused before anything is sent.
func TestRotateRefusesANewSecretThatExpiresBeforeTheGraceEnds(t *testing.T) {
	for _, exp := range []Expiry{ExpiresIn(time.Second), ExpiresIn(30 * time.Minute), ExpiresAt(testNow.Add(time.Hour))} {
		f := newFixture(t, hybridRoute)
		_, err := f.c.Rotate(ctx, testClient, RotateRequest{Expiry: exp, Store: func(context.Context, Added) error { return nil }})
		var ve *identity.ValidationError
		if !errors.As(err, &ve) || ve.Field != "Expiry" {
			t.Errorf("Expiry %v: err = %v, want a ValidationError of Expiry", exp, err)
		}
		f.WantCalls()
	}
}

// TestRotateCountsAnOldSecretDeletedMeanwhileAsRetired: with a grace period, shortening an
// old secret that someone else deleted after Rotate listed it answers 404; the secret is
// retired all the same (Deleted), and the rotation goes on to the next one.
func TestRotateCountsAnOldSecretDeletedMeanwhileAsRetired(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "a", ""), secretJSON(2, "b", "")))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(11, "v2", "2031-06-01T11:00:00Z")})
	f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, ok(secretJSON(11, "v2", fullExpiry)))
	f.lengthened(hybridRoute)
	f.On("PUT", secretsURL(hybridRoute, "1"), mocktest.Any, mocktest.Reply{Status: 404, Body: mocktest.ErrorBody})
	f.On("PUT", secretsURL(hybridRoute, "2"), mocktest.Any, ok(secretJSON(2, "b", "2030-06-02T12:00:00Z")))
	var stored string
	rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", Store: f.storeInto(&stored, nil)})
	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if !equalInts(ids(rot.Deleted), []int{1}) || !equalInts(ids(rot.Shortened), []int{2}) || len(rot.NotRetired) != 0 {
		t.Errorf("rotation = %+v", rot)
	}
}

// A Store that panics, called once the new secret is proven, gets its new secret deleted
// (nobody holds its value) before the panic goes on to Rotate's caller; the old secrets
// are untouched.
func TestRotateStorePanicsAfterTheProofDeletesTheNewSecret(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.proofAnswers(accepted)
	f.withNewSecret(hybridRoute, secretJSON(1, "v1", ""))
	f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 204})
	func() {
		defer func() {
			if r := recover(); r != "store bug" {
				t.Errorf("recovered %v, want Store's panic", r)
			}
		}()
		_, _ = f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", Store: func(_ context.Context, s Added) error {
			f.Record("STORE " + strconv.Itoa(s.ID))
			panic("store bug")
		}})
	}()
	f.WantCalls("GET "+pre+"?count=100", proofBody, "PROBE authorization_code", lengthen, "STORE 11", "DELETE "+pre+"/11")
}

// A Store that panics when deleting its new secret again then fails: the panic goes on
// naming the client, the secret left (whose value nobody holds) and why the delete failed,
// and carries Store's own panic value: wrapped when it is an error, shown when it is not.
func TestAStorePanicNamesTheNewSecretWhenItsDeleteFails(t *testing.T) {
	errVault := errors.New("vault client bug")
	for _, c := range []struct {
		name  string
		value any
	}{{"an error", errVault}, {"a string", "vault client bug"}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, hybridRoute)
			f.proofAnswers(accepted)
			f.withNewSecret(hybridRoute, secretJSON(1, "v1", ""))
			f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
			var rec any
			func() {
				defer func() { rec = recover() }()
				_, _ = f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", Store: func(context.Context, Added) error { panic(c.value) }})
			}()
			err, ok := rec.(error)
			if !ok {
				t.Fatalf("recovered %T %v, want an error naming the secret left", rec, rec)
			}
			for _, want := range []string{"secrets: rotating the secret of client \"" + testClient + "\"", "Store panicked (vault client bug)",
				"new secret 11 is left on the client and nobody holds its value: delete it", "403", "the old secrets are untouched"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("panic %q lacks %q", err, want)
				}
			}
			if isErr := c.value == errVault; errors.Is(err, errVault) != isErr {
				t.Errorf("errors.Is(panic, Store's error) = %v, want %v", !isErr, isErr)
			}
			if strings.Contains(err.Error(), testValue) {
				t.Error("the panic shows the new secret's value")
			}
		})
	}
}
