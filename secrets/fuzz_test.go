package secrets

// Fuzz target for hostile input to secret expiry validation.
// Plain `go test` runs the seed corpus (f.Add below and testdata/fuzz/FuzzExpiry/).

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/validate"
)

// fzKnown fails on a property that fuzzing once found broken; finding names the reproducer
// kept in testdata/fuzz/<FuzzName>/.
func fzKnown(t *testing.T, finding, format string, args ...any) {
	t.Helper()
	t.Fatalf("finding %s: "+format, append([]any{finding}, args...)...)
}

const (
	fzUnset = iota
	fzAt
	fzAtNear // ExpiresAt(now + v): times around now
	fzIn
	fzNever
	fzZero
	fzModes
)

func fzExpiry(mode uint8, sec, nsec int64, now time.Time) (Expiry, int) {
	m := int(mode % fzModes)
	switch m {
	case fzAt:
		return ExpiresAt(time.Unix(sec, nsec)), m
	case fzAtNear:
		return ExpiresAt(now.Add(time.Duration(sec))), m
	case fzIn:
		return ExpiresIn(time.Duration(sec)), m
	case fzNever:
		return NeverExpires(), m
	case fzZero:
		return ExpiresAt(time.Time{}), m
	}
	return Expiry{}, m
}

// fzCheckRefusal: a refusal is one or more *identity.ValidationError naming known fields.
func fzCheckRefusal(t *testing.T, err error, fields ...string) {
	t.Helper()
	if !errors.Is(err, identity.ErrInvalidInput) {
		t.Fatalf("refusal does not match ErrInvalidInput: %T %v", err, err)
	}
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		ve, ok := e.(*identity.ValidationError)
		if !ok || ve.Field == "" || ve.Rule == "" || !slices.Contains(fields, ve.Field) {
			t.Fatalf("refusal holds %T %v: want *identity.ValidationError naming one of %q", e, e, fields)
		}
	}
	walk(err)
	if msg := err.Error(); len(msg) > 4096 || !utf8.ValidString(msg) {
		t.Fatalf("refusal message of %d bytes, valid UTF-8 %v", len(msg), utf8.ValidString(msg))
	}
}

// fzCheckWire marshals a ClientSecretCreateOrUpdate body and checks the pairs the service
// accepts: Expires true with an RFC 3339 time after now, Expires false with an explicit
// null, or neither property. It returns what was sent: "time", "never" or "unset".
func fzCheckWire(t *testing.T, w *wireWrite, now time.Time, desc *string) string {
	t.Helper()
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatalf("accepted request whose body does not marshal: %v", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body is not a JSON object: %s", b)
	}
	for k := range m {
		if k != "Description" && k != "Expires" && k != "Expiration" {
			t.Fatalf("body has unexpected property %q: %s", k, b)
		}
	}
	raw, ok := m["Description"]
	if ok != (desc != nil) {
		t.Fatalf("description %v sent as %s", desc, raw)
	}
	if ok {
		var got string
		if err := json.Unmarshal(raw, &got); err != nil || got != *desc {
			if !utf8.ValidString(*desc) {
				// Add's reconciliation compares the listed description with the one sent.
				fzKnown(t, "invalid-utf8-accepted", "description %q, not valid UTF-8, sent as %s", *desc, raw)
			}
			t.Fatalf("description %q sent as %s", *desc, raw)
		}
	}
	expires, hasExpires := m["Expires"]
	expiration, hasExpiration := m["Expiration"]
	switch {
	case !hasExpires && !hasExpiration:
		return "unset"
	case string(expires) == "false" && hasExpiration && string(expiration) == "null":
		return "never"
	case string(expires) == "true" && hasExpiration && string(expiration) != "null":
		var s string
		if err := json.Unmarshal(expiration, &s); err != nil {
			t.Fatalf("Expiration is not a string: %s", b)
		}
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			fzKnown(t, "expiry-year-out-of-range", "Expiration %q is not an RFC 3339 date-time: %v", s, err)
		}
		if !at.After(now) {
			fzKnown(t, "expiry-not-after-now", "Expiration %s is not after now %s", s, now.Format(time.RFC3339Nano))
		}
		return "time"
	}
	t.Fatalf("body with an expiry pair the service refuses: %s", b)
	return ""
}

func FuzzExpiry(f *testing.F) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC).Unix()
	type seed struct {
		mode      uint8
		sec, nsec int64
		nowSec    int64
		nowNsec   int64
		defMode   uint8
		desc      string
		flags     uint8
	}
	seeds := []seed{
		// Documented examples (README, expiry_test.go, example_test.go).
		{fzIn, int64(7 * 24 * time.Hour), 0, now, 0, 1, "billing, prod", 0b11},
		{fzIn, int64(90 * 24 * time.Hour), 0, now, 0, 1, "", 0},
		{fzAt, now + 365*24*3600, 0, now, 0, 0, "first", 0b01},
		{fzNever, 0, 0, now, 0, 0, "legacy", 0b01},
		{fzUnset, 0, 0, now, 0, 1, "", 0},
		// Edges and nasty values.
		{fzZero, 0, 0, now, 0, 1, "", 0},
		{fzAt, now, 0, now, 0, 0, "", 0},
		{fzAt, now, 1, now, 0, 0, "", 0},
		{fzAt, now - 1, 999_999_999, now, 0, 0, "", 0},
		{fzAtNear, 1, 0, now, 0, 0, "", 0},
		{fzAtNear, -1, 0, now, 0, 0, "", 0},
		{fzIn, 0, 0, now, 0, 0, "", 0},
		{fzIn, -1, 0, now, 0, 0, "", 0},
		{fzIn, int64(time.Second), 0, now, 500_000_000, 0, "", 0},
		{fzIn, 1<<63 - 1, 0, now, 0, 0, "", 0},
		{fzIn, -1 << 63, 0, now, 0, 0, "", 0},
		{fzAt, 253402300799, 999_999_999, now, 0, 0, "", 0}, // 9999-12-31T23:59:59.999999999Z
		{fzAt, 1 << 62, 0, now, 0, 0, "", 0},
		{fzAt, -1 << 62, 0, now, 0, 0, "", 0},
		{fzIn, 1, 0, now, 999_999_999, 0, "\xff", 1},
		{fzAt, -62135596800, 0, now, 0, 0, "", 0}, // year 1, the zero time's second
		{fzUnset, 0, 0, 253402300799 - 3600, 0, 0, "", 0},
		{fzNever, 0, 0, now, 0, 2, "\x00\u2028\u00a0", 0b11},
		{fzUnset, 0, 0, now, 0, 2, "", 0b10},
		{fzZero, 0, 0, now, 0, 2, "", 0b10},
	}
	for _, s := range seeds {
		f.Add(s.mode, s.sec, s.nsec, s.nowSec, s.nowNsec, s.defMode, s.desc, s.flags)
	}

	f.Fuzz(func(t *testing.T, mode uint8, sec, nsec, nowSec, nowNsec int64, defMode uint8, desc string, flags uint8) {
		// The clock is sane (1970 to 9000); the requested expiry is anything.
		nowSec = int64(uint64(nowSec) % uint64(int64(7030)*365*24*3600))
		now := time.Unix(nowSec, nowNsec%1e9).UTC()
		e, m := fzExpiry(mode, sec, nsec, now)

		// Resolve, with each kind of default.
		var def Expiry
		switch defMode % 3 {
		case 1:
			def = defaultExpiry(now)
		case 2:
			def = NeverExpires()
		}
		at, never, err := fzResolve(e, now, def)
		chosenNever := m == fzNever || (m == fzUnset && def.Never())
		switch {
		case err != nil:
			fzCheckRefusal(t, err, "Expiry")
			if at != (time.Time{}) || never {
				t.Fatalf("refusal came with %v, %v", at, never)
			}
		case never:
			if !chosenNever || !at.IsZero() {
				t.Fatalf("%v (default %v) resolved to never, at %v", e, def, at)
			}
		case at.IsZero():
			if m != fzUnset || !def.IsZero() {
				t.Fatalf("%v (default %v) resolved to nothing", e, def)
			}
		default:
			if chosenNever {
				t.Fatalf("never resolved to %v", at)
			}
			if !at.After(now) {
				fzKnown(t, "expiry-not-after-now", "%v resolved to %s, not after now %s", e, at.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
			}
		}
		if m == fzZero && err == nil {
			t.Fatal("a zero time was accepted")
		}

		// Add: the default applies, so an expiry is always sent.
		var descPtr *string
		if flags&1 != 0 {
			descPtr = &desc
		}
		aw, aerr := AddRequest{Description: deref(descPtr), Expiry: e}.validate(now)
		if aerr != nil {
			fzCheckRefusal(t, aerr, "Expiry", "Description")
		} else {
			if fzUnsafeText(deref(descPtr)) {
				t.Fatalf("add accepted description %q: control, separator or bidi character", deref(descPtr))
			}
			got := fzCheckWire(t, aw, now, nonEmpty(descPtr))
			if want := map[bool]string{true: "never", false: "time"}[m == fzNever]; got != want {
				t.Fatalf("add with %v sent %s, want %s", e, got, want)
			}
		}

		// Update: unset leaves the expiry as it is; nothing set is refused.
		uw, uerr := UpdateRequest{Description: descPtr, Expiry: e}.validate(now)
		if uerr != nil {
			fzCheckRefusal(t, uerr, "Expiry", "Description", "UpdateRequest")
			if m == fzUnset && descPtr != nil && utf8.ValidString(desc) && !fzUnsafeText(desc) {
				t.Fatalf("update of the description refused: %v", uerr)
			}
		} else {
			got := fzCheckWire(t, uw, now, descPtr)
			want := map[int]string{fzUnset: "unset", fzNever: "never"}[m]
			if want == "" {
				want = "time"
			}
			if got != want || (got == "unset" && descPtr == nil) {
				t.Fatalf("update with %v, description %v sent %s, want %s", e, descPtr, got, want)
			}
		}

		// Rotate's options: the same expiry rules, plus Store and Grace.
		grace := time.Duration(nsec)
		opts := RotateRequest{Description: desc, Expiry: e, Grace: grace}
		if flags&2 != 0 {
			opts.Store = func(context.Context, Added) error { return nil }
		}
		rw, rerr := opts.validate(now)
		graceOK := grace == 0 || grace >= MinGrace
		aw2, addErr := AddRequest{Description: desc, Expiry: e}.validate(now) // the same description
		wantOK, unsure := addErr == nil && opts.Store != nil && graceOK, false
		if wantOK && aw2.Expiration.at != nil {
			// Rotate also refuses a new secret that would not outlive the grace period (an
			// hour when zero) and the hour it may take to work, after the marker moved its
			// expiry up to a tenth of its lifetime (at most an hour) earlier.
			left := aw2.Expiration.at.Sub(now)
			margin := left - min(left/10, time.Hour) - max(grace, time.Hour)
			wantOK, unsure = margin >= 0, margin > -2*time.Second && margin < 2*time.Second
		}
		if (rerr == nil) != wantOK && !unsure {
			t.Fatalf("rotate options (expiry %v, store %v, grace %v) gave %v; add gave %v", e, opts.Store != nil, grace, rerr, addErr)
		}
		if rerr != nil {
			fzCheckRefusal(t, rerr, "Expiry", "Description", "Store", "Grace")
		} else {
			fzCheckWire(t, rw, now, nonEmpty(&desc))
		}
	})
}

// fzUnsafeText reports text that could rewrite a terminal or a log line (control, line
// and bidirectional-override characters), listed here independently of internal/rules.
func fzUnsafeText(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x20 || r >= 0x7f && r < 0xa0 || r == 0x2028 || r == 0x2029 || r == 0x061c ||
			r == 0x200e || r == 0x200f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
	})
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// nonEmpty is p when it points to a non-empty string (Add leaves "" out), else nil.
func nonEmpty(p *string) *string {
	if p == nil || *p == "" {
		return nil
	}
	return p
}

// fzResolve resolves e as setExpiry does: unset becomes def, and unset stays unset.
func fzResolve(e Expiry, now time.Time, def Expiry) (time.Time, bool, error) {
	if e.IsZero() {
		e = def
	}
	if e.IsZero() {
		return time.Time{}, false, nil
	}
	return validate.ExpiryAt("Expiry", e, now)
}
