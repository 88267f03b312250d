package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/harness/mocktest"
)

func TestAddExpiryRules(t *testing.T) {
	tests := []struct {
		name   string
		expiry Expiry
		body   string // "" means refused
		rule   string // part of the refusal
	}{
		{"unset is one year ahead", Expiry{}, `{"Expires":true,"Expiration":"2031-06-01T11:00:00Z"}`, ""},
		{"future time", ExpiresAt(testNow.Add(time.Hour)), `{"Expires":true,"Expiration":"2030-06-01T12:54:00Z"}`, ""},
		{"future time in another zone is sent in UTC", ExpiresAt(time.Date(2030, 6, 2, 0, 0, 0, 0, time.FixedZone("x", 3600))), `{"Expires":true,"Expiration":"2030-06-01T22:00:00Z"}`, ""},
		{"duration", ExpiresIn(48 * time.Hour), `{"Expires":true,"Expiration":"2030-06-03T11:00:00Z"}`, ""},
		{"never, with an explicit null", NeverExpires(), `{"Expires":false,"Expiration":null}`, ""},
		{"past time", ExpiresAt(testNow.Add(-time.Second)), "", "must be in the future"},
		{"present time", ExpiresAt(testNow), "", "must be in the future"},
		{"zero time is not never", ExpiresAt(time.Time{}), "", "a zero time does not mean never"},
		{"zero duration", ExpiresIn(0), "", "positive duration"},
		{"negative duration", ExpiresIn(-time.Hour), "", "positive duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, hybridRoute)
			f.On("GET", secretsURL(hybridRoute), mocktest.Any, list())
			f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(1, "", "2031-06-01T11:00:00Z")})
			_, err := f.c.Add(ctx, testClient, AddRequest{Expiry: tt.expiry})
			if tt.body == "" {
				var ve *identity.ValidationError
				if !errors.As(err, &ve) || ve.Field != "Expiry" || !strings.Contains(ve.Rule, tt.rule) {
					t.Fatalf("err = %v, want a ValidationError of Expiry saying %q", err, tt.rule)
				}
				f.WantCalls() // nothing sent
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f.WantCalls("GET HybridClients/"+testClient+"/Secrets?count=100", "POST HybridClients/"+testClient+"/Secrets "+tt.body)
		})
	}
}

func TestAddSendsDescription(t *testing.T) {
	w, err := AddRequest{Description: "billing"}.validate(testNow)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(w)
	if want := `{"Description":"billing","Expires":true,"Expiration":"2031-06-01T12:00:00Z"}`; string(b) != want {
		t.Errorf("body %s, want %s", b, want)
	}
}

func TestDescriptionsWithControlOrBidiCharactersAreRefused(t *testing.T) {
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

func TestUpdateRules(t *testing.T) {
	tests := []struct {
		name string
		req  UpdateRequest
		body string // "" means refused
	}{
		{"description only", UpdateRequest{Description: identity.Ptr("x")}, `{"Description":"x"}`},
		{"clear description", UpdateRequest{Description: identity.Ptr("")}, `{"Description":""}`},
		{"expiry only", UpdateRequest{Expiry: ExpiresIn(time.Hour)}, `{"Expires":true,"Expiration":"2030-06-01T13:00:00Z"}`},
		{"never", UpdateRequest{Expiry: NeverExpires()}, `{"Expires":false,"Expiration":null}`},
		{"both", UpdateRequest{Description: identity.Ptr("x"), Expiry: ExpiresAt(testNow.Add(time.Minute))}, `{"Description":"x","Expires":true,"Expiration":"2030-06-01T12:01:00Z"}`},
		{"nothing set", UpdateRequest{}, ""},
		{"past expiry", UpdateRequest{Description: identity.Ptr("x"), Expiry: ExpiresAt(testNow.Add(-time.Hour))}, ""},
		{"zero time", UpdateRequest{Expiry: ExpiresAt(time.Time{})}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, hybridRoute)
			f.On("PUT", secretsURL(hybridRoute, "3"), mocktest.Any, ok(secretJSON(3, "x", "")))
			_, err := f.c.Update(ctx, testClient, 3, tt.req)
			if tt.body == "" {
				if !errors.Is(err, identity.ErrInvalidInput) {
					t.Fatalf("err = %v, want a ValidationError", err)
				}
				f.WantCalls()
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f.WantCalls("PUT HybridClients/" + testClient + "/Secrets/3 " + tt.body)
		})
	}
}

func TestDecodeExpiry(t *testing.T) {
	at := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		body  string
		never bool
	}{
		{`{"Id":1,"Expires":true,"Expiration":"2031-01-02T03:04:05Z"}`, false},
		{`{"Id":1,"Expiration":"2031-01-02T03:04:05Z"}`, false},
		{`{"Id":1,"Expires":null,"Expiration":"2031-01-02T05:04:05+02:00"}`, false},
		{`{"Id":1,"Expires":true,"Expiration":"2031-01-02T03:04:05"}`, false},
		{`{"Id":1,"Expires":false,"Expiration":null}`, true},
		{`{"Id":1,"Expires":false,"Expiration":"2031-01-02T03:04:05Z"}`, true},
		{`{"Id":1,"Expires":true,"Expiration":null}`, true},
		{`{"Id":1}`, true},
	}
	for _, tt := range tests {
		var w wireSecret
		if err := json.Unmarshal([]byte(tt.body), &w); err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		m, err := w.metadata()
		if err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		got := m.Expiry.At()
		if m.Expiry.Never() != tt.never || (!tt.never && !got.Equal(at)) || (tt.never && !got.IsZero()) {
			t.Errorf("%s: Expiry = %v", tt.body, m.Expiry)
		}
	}
}

func TestMetadataExpired(t *testing.T) {
	m := ClientSecret{ID: 1, Expiry: ExpiresAt(testNow)}
	if !m.Expired(testNow) || m.Expired(testNow.Add(-time.Nanosecond)) {
		t.Error("Expired is wrong at the boundary")
	}
	if (ClientSecret{Expiry: NeverExpires()}).Expired(testNow.AddDate(100, 0, 0)) {
		t.Error("a never-expiring secret expired")
	}
}

func TestAddMissingValueIsResponseError(t *testing.T) {
	// The answer lacks the value on both of the 2 attempts allowed: each time the secret it
	// added is found by listing, deleted (nobody holds its value), and the add tried again
	// while attempts remain.
	f := newFixtureAttempts(t, hybridRoute, 2)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any,
		list(secretJSON(1, "old", "")),
		list(secretJSON(1, "old", ""), secretJSON(11, "new", "2031-06-01T11:00:00Z")),
		list(secretJSON(1, "old", ""), secretJSON(12, "new", "2031-06-01T11:00:00Z")))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any,
		mocktest.Reply{Status: 201, Body: secretJSON(11, "new", "2031-06-01T11:00:00Z")},
		mocktest.Reply{Status: 201, Body: secretJSON(12, "new", "2031-06-01T11:00:00Z")})
	f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 204})
	f.On("DELETE", secretsURL(hybridRoute, "12"), mocktest.Any, mocktest.Reply{Status: 204})
	a, err := f.c.Add(ctx, testClient, AddRequest{Description: "new"})
	var re *identity.ResponseError
	if a != nil || !errors.As(err, &re) || errors.Is(err, identity.ErrOutcomeUnknown) {
		t.Fatalf("Add = %v, %v", a, err)
	}
	if !strings.Contains(err.Error(), "secret 12 was added but its value was lost; it was deleted again") {
		t.Errorf("err = %v", err)
	}
	pre := "HybridClients/" + testClient + "/Secrets"
	body := ` {"Description":"new","Expires":true,"Expiration":"2031-06-01T11:00:00Z"}`
	f.WantCalls("GET "+pre+"?count=100", "POST "+pre+body, "GET "+pre+"?count=100", "DELETE "+pre+"/11",
		"POST "+pre+body, "GET "+pre+"?count=100", "DELETE "+pre+"/12")
}

func TestAddLostAnswerRecovered(t *testing.T) {
	// A 502 after the service added the secret: the orphan is deleted and the add repeated.
	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any,
		list(),
		list(secretJSON(11, "", "2031-06-01T11:00:00Z")))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any,
		mocktest.Reply{Status: 502, Body: "bad gateway"},
		mocktest.Reply{Status: 201, Body: addedJSON(12, "", "2031-06-01T11:00:00Z")})
	f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 204})
	a, err := f.c.Add(ctx, testClient, AddRequest{})
	if err != nil || a.ID != 12 || a.Value.Reveal() != testValue {
		t.Fatalf("Add = %v, %v", a, err)
	}
	if n := len(f.Calls()); n != 5 {
		t.Errorf("calls: %q", f.Calls())
	}
}

func TestAddOutcomeUnknown(t *testing.T) {
	t.Run("listing fails", func(t *testing.T) {
		f := newFixture(t, hybridRoute)
		f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "", "")), mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
		f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 500, Body: mocktest.ErrorBody})
		_, err := f.c.Add(ctx, testClient, AddRequest{})
		if !errors.Is(err, identity.ErrOutcomeUnknown) || !errors.Is(err, identity.ErrServer) ||
			!strings.Contains(err.Error(), "it would be one not among [1]") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("several new secrets", func(t *testing.T) {
		f := newFixture(t, hybridRoute)
		f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(), list(secretJSON(11, "", "2031-06-01T11:00:00Z"), secretJSON(12, "", "2031-06-01T11:00:00Z")))
		f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 408})
		_, err := f.c.Add(ctx, testClient, AddRequest{})
		var oe *identity.OutcomeError
		if !errors.As(err, &oe) || len(oe.Orphans) != 0 || !errors.Is(err, identity.ErrTimeout) ||
			!strings.Contains(err.Error(), "secrets [11 12] appeared") {
			t.Fatalf("err = %v", err)
		}
		for _, c := range f.Calls() {
			if strings.HasPrefix(c, "DELETE") {
				t.Errorf("deleted a secret that may be someone else's: %s", c)
			}
		}
	})
	t.Run("orphan cannot be deleted", func(t *testing.T) {
		f := newFixture(t, hybridRoute)
		f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(), list(secretJSON(11, "", "2031-06-01T11:00:00Z")))
		f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: `{"Id":11}`})
		f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
		_, err := f.c.Add(ctx, testClient, AddRequest{})
		var oe *identity.OutcomeError
		if !errors.As(err, &oe) || !equalInts(oe.Orphans, []int{11}) || oe.ClientID != testClient ||
			!errors.Is(err, identity.ErrInvalidResponse) || !errors.Is(err, identity.ErrForbidden) ||
			!strings.Contains(err.Error(), "secrets [11] were made by this call and nobody holds their value: delete them") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("nothing added", func(t *testing.T) {
		f := newFixtureAttempts(t, hybridRoute, 2)
		f.On("GET", secretsURL(hybridRoute), mocktest.Any, list())
		f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 500})
		_, err := f.c.Add(ctx, testClient, AddRequest{})
		if errors.Is(err, identity.ErrOutcomeUnknown) || !errors.Is(err, identity.ErrServer) || !strings.Contains(err.Error(), "no secret was added") {
			t.Fatalf("err = %v", err)
		}
		if n := len(f.Calls()); n != 5 { // GET, POST, GET, POST (second and last attempt), GET
			t.Errorf("calls: %q", f.Calls())
		}
	})
}

func TestAddAtLimitSendsNothing(t *testing.T) {
	f := newFixture(t, hybridRoute)
	var ten []string
	for i := 1; i <= MaxPerClient; i++ {
		ten = append(ten, secretJSON(i, "", "2030-01-01T00:00:00Z"))
	}
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(ten...))
	_, err := f.c.Add(ctx, testClient, AddRequest{})
	if !errors.Is(err, ErrLimitReached) || !strings.Contains(err.Error(), "has 10 secrets (the limit is 10), 10 of them expired") {
		t.Fatalf("err = %v", err)
	}
	if n := f.Count("POST", secretsURL(hybridRoute)); n != 0 {
		t.Errorf("%d POSTs sent", n)
	}
}

func TestClassifyOrdersEachListByExpiry(t *testing.T) {
	s := func(id int, e Expiry) ClientSecret { return ClientSecret{ID: id, Expiry: e} }
	in := []ClientSecret{
		s(2, ExpiresAt(testNow.Add(-time.Hour))),
		s(4, ExpiresAt(testNow.Add(2*time.Hour))),
		s(5, ExpiresAt(testNow)),                      // expires at now: expired
		s(6, ExpiresAt(testNow.Add(30*24*time.Hour))), // at the window's end: within it
		s(7, ExpiresAt(testNow.Add(-48*time.Hour))),
	}
	withSuccessors := append([]ClientSecret{s(1, ExpiresAt(testNow.Add(40*24*time.Hour)))}, in...)
	withSuccessors = append(withSuccessors, s(3, NeverExpires()))
	for _, c := range []struct {
		name string
		in   []ClientSecret
		want map[string][]int
	}{
		{"no successor", in, map[string][]int{"expired": {7, 2, 5}, "soon": {4, 6}}},
		{"successors", withSuccessors, map[string][]int{"retired": {7, 2, 5}, "retiring": {4, 6}, "never": {3}, "valid": {1}}},
	} {
		r := Classify(c.in, 30*24*time.Hour, testNow)
		for k, got := range classes(r) {
			if !equalInts(got, c.want[k]) {
				t.Errorf("%s: %s = %v, want %v", c.name, k, got, c.want[k])
			}
		}
	}
}

// classes names the lists of r, each as its secrets' ids.
func classes(r ExpiryReport) map[string][]int {
	return map[string][]int{"expired": ids(r.Expired), "soon": ids(r.ExpiringSoon), "retiring": ids(r.Retiring),
		"retired": ids(r.Retired), "never": ids(r.NeverExpiring), "valid": ids(r.Valid)}
}

// TestClassifyRetiringNeedsASuccessorBeyondTheWindow: a secret that ends within the
// window is retiring (or retired, once expired) only when another secret of the client
// works beyond the window's end; otherwise it is expiring soon (or expired).
func TestClassifyRetiringNeedsASuccessorBeyondTheWindow(t *testing.T) {
	const window = 30 * 24 * time.Hour
	end := testNow.Add(window)
	at := func(id int, t time.Time) ClientSecret { return ClientSecret{ID: id, Expiry: ExpiresAt(t)} }
	cases := []struct {
		name    string
		within  time.Duration
		in      []ClientSecret
		want    map[string][]int
		lockout bool
	}{
		{"a lone secret within the window expires soon", window,
			[]ClientSecret{at(1, testNow.Add(time.Hour))}, map[string][]int{"soon": {1}}, true},
		{"a rotation's grace period: the old secret is retiring", window,
			[]ClientSecret{at(1, testNow.Add(time.Hour)), at(2, testNow.Add(365*24*time.Hour))},
			map[string][]int{"retiring": {1}, "valid": {2}}, false},
		{"a finished rotation: the old secret is retired", window,
			[]ClientSecret{at(1, testNow.Add(-time.Hour)), at(2, testNow.Add(365*24*time.Hour))},
			map[string][]int{"retired": {1}, "valid": {2}}, false},
		{"a never-expiring successor covers too", window,
			[]ClientSecret{at(1, testNow.Add(-time.Hour)), at(2, testNow.Add(time.Hour)), {ID: 3, Expiry: NeverExpires()}},
			map[string][]int{"retired": {1}, "retiring": {2}, "never": {3}}, false},
		{"an unset expiry counts as never expiring", window,
			[]ClientSecret{at(1, testNow.Add(time.Hour)), {ID: 2}},
			map[string][]int{"retiring": {1}, "never": {2}}, false},
		{"a newer secret that also ends within the window is no successor", window,
			[]ClientSecret{at(1, testNow.Add(time.Hour)), at(2, testNow.Add(10*24*time.Hour))},
			map[string][]int{"soon": {1, 2}}, true},
		{"a secret ending at the window's end is no successor", window,
			[]ClientSecret{at(1, testNow.Add(time.Hour)), at(2, end)},
			map[string][]int{"soon": {1, 2}}, true},
		{"a secret ending a second after the window's end is one", window,
			[]ClientSecret{at(1, testNow.Add(time.Hour)), at(2, end.Add(time.Second))},
			map[string][]int{"retiring": {1}, "valid": {2}}, false},
		{"expired and expiring with no successor", window,
			[]ClientSecret{at(2, testNow.Add(time.Hour)), at(1, testNow.Add(-time.Hour))},
			map[string][]int{"expired": {1}, "soon": {2}}, true},
		{"only expired secrets", window,
			[]ClientSecret{at(1, testNow.Add(-time.Hour)), at(2, testNow)},
			map[string][]int{"expired": {1, 2}}, true},
		{"no secret", window, nil, map[string][]int{}, true},
		{"a zero window: what has not expired is valid", 0,
			[]ClientSecret{at(1, testNow.Add(-time.Hour)), at(2, testNow.Add(time.Second))},
			map[string][]int{"retired": {1}, "valid": {2}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Classify(c.in, c.within, testNow)
			for k, got := range classes(r) {
				if !equalInts(got, c.want[k]) {
					t.Errorf("%s = %v, want %v", k, got, c.want[k])
				}
			}
			if r.LockoutAhead() != c.lockout {
				t.Errorf("LockoutAhead = %v, want %v", r.LockoutAhead(), c.lockout)
			}
			if r.Len() != len(c.in) {
				t.Errorf("Len = %d, want %d", r.Len(), len(c.in))
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCheckExpiry(t *testing.T) {
	f := newFixture(t, clientCredentialRoute)
	f.On("GET", secretsURL(clientCredentialRoute), mocktest.Any, list(
		secretJSON(1, "old", "2030-05-01T00:00:00Z"),
		secretJSON(2, "soon", "2030-06-10T00:00:00Z"),
		secretJSON(3, "forever", ""),
		secretJSON(4, "fresh", "2031-06-01T00:00:00Z")))
	r, err := f.c.CheckExpiry(ctx, testClient, 30*24*time.Hour) // as of the client's clock
	if err != nil {
		t.Fatal(err)
	}
	// Secrets 3 and 4 work beyond the 30 days: 1 and 2 are a rotation's old secrets.
	want := map[string][]int{"retired": {1}, "retiring": {2}, "never": {3}, "valid": {4}}
	for k, got := range classes(*r) {
		if !equalInts(got, want[k]) {
			t.Errorf("%s = %v, want %v", k, got, want[k])
		}
	}
	f.WantCalls("GET ClientCredentialClients/" + testClient + "/Secrets?count=100")
	if _, err := f.c.CheckExpiry(ctx, testClient, -time.Second); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("negative within: %v", err)
	}
}

func TestExpiryAccessors(t *testing.T) {
	at := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		e         Expiry
		at        time.Time
		in        time.Duration
		never, is bool
	}{
		{Expiry{}, time.Time{}, 0, false, true},
		{ExpiresAt(at), at, 0, false, false},
		{ExpiresIn(time.Hour), time.Time{}, time.Hour, false, false},
		{NeverExpires(), time.Time{}, 0, true, false},
	}
	for _, c := range cases {
		if got := c.e.At(); !got.Equal(c.at) {
			t.Errorf("%v.At() = %v, want %v", c.e, got, c.at)
		}
		if got := c.e.In(); got != c.in {
			t.Errorf("%v.In() = %v, want %v", c.e, got, c.in)
		}
		if c.e.Never() != c.never || c.e.IsZero() != c.is {
			t.Errorf("%v: Never() = %v, IsZero() = %v; want %v, %v", c.e, c.e.Never(), c.e.IsZero(), c.never, c.is)
		}
	}
}
