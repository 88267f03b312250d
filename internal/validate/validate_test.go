package validate

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ocs-go/identity"
)

func TestErrorsCapsTheList(t *testing.T) {
	var v Errors
	for i := range maxReported + 5 {
		v.Add("Tags", "must not be blank", i)
	}
	ves := identity.ValidationErrors(v.Err())
	if len(ves) != maxReported+1 || !strings.Contains(ves[maxReported].Rule, "more rules are broken") {
		t.Fatalf("got %d errors, last %v; want %d, the last saying more are broken", len(ves), ves[len(ves)-1], maxReported+1)
	}
	var none Errors
	none.Append(nil)
	if err := none.Err(); err != nil {
		t.Errorf("empty Errors = %v, want nil", err)
	}
}

func TestGUID(t *testing.T) {
	if err := GUID("ClientID", "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"); err != nil {
		t.Errorf("GUID(valid) = %v", err)
	}
	var ve *identity.ValidationError
	if err := GUID("ClientID", "{6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b}"); !errors.As(err, &ve) || ve.Field != "ClientID" {
		t.Errorf("GUID(braces) = %v, want a ValidationError of ClientID", err)
	}
}

// expiry is an Expiry for the test, as secrets.Expiry reads.
type expiry struct {
	zero, never bool
	at          time.Time
	in          time.Duration
	s           string
}

func (e expiry) IsZero() bool      { return e.zero }
func (e expiry) Never() bool       { return e.never }
func (e expiry) At() time.Time     { return e.at }
func (e expiry) In() time.Duration { return e.in }
func (e expiry) String() string    { return e.s }

func TestExpiryAt(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		e     expiry
		at    time.Time
		never bool
		rule  string
	}{
		{"never", expiry{never: true}, time.Time{}, true, ""},
		{"fixed", expiry{at: now.Add(time.Hour)}, now.Add(time.Hour), false, ""},
		{"relative rounds up to a second", expiry{in: time.Millisecond}, now.Add(time.Second), false, ""},
		{"zero time or duration", expiry{s: "0001-01-01T00:00:00Z"}, time.Time{}, false, "a zero time does not mean never"},
		{"negative duration", expiry{in: -time.Hour}, time.Time{}, false, "positive duration"},
		{"past", expiry{at: now.Add(-time.Hour)}, time.Time{}, false, "must be in the future"},
		{"now", expiry{at: now}, time.Time{}, false, "must be in the future"},
		{"year 10000", expiry{at: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, time.Time{}, false, "year 10000"},
	}
	for _, c := range cases {
		at, never, err := ExpiryAt("SecretExpiry", c.e, now)
		if c.rule == "" {
			if err != nil || !at.Equal(c.at) || never != c.never {
				t.Errorf("%s: %v, %v, %v; want %v, %v", c.name, at, never, err, c.at, c.never)
			}
			continue
		}
		var ve *identity.ValidationError
		if !errors.As(err, &ve) || ve.Field != "SecretExpiry" || !strings.Contains(ve.Rule, c.rule) || !at.IsZero() || never {
			t.Errorf("%s: %v, %v, %v; want a refusal of SecretExpiry: %s", c.name, at, never, err, c.rule)
		}
	}
}
