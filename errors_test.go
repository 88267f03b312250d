package identity_test

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ocs-go/identity"
)

var statusSentinels = []error{
	identity.ErrBadRequest,
	identity.ErrUnauthorized,
	identity.ErrForbidden,
	identity.ErrNotFound,
	identity.ErrTimeout,
	identity.ErrConflict,
	identity.ErrRateLimited,
	identity.ErrServer,
}

var otherSentinels = []error{
	identity.ErrInvalidInput,
	identity.ErrInvalidResponse,
	identity.ErrResponseTooLarge,
	identity.ErrOutcomeUnknown,
	identity.ErrFileExists,
}

func TestErrorIsMatchesOnlyItsSentinel(t *testing.T) {
	cases := []struct {
		status int
		want   error // nil: matches no sentinel
	}{
		{400, identity.ErrBadRequest},
		{401, identity.ErrUnauthorized},
		{403, identity.ErrForbidden},
		{404, identity.ErrNotFound},
		{408, identity.ErrTimeout},
		{409, identity.ErrConflict},
		{429, identity.ErrRateLimited},
		{500, identity.ErrServer},
		{501, identity.ErrServer},
		{502, identity.ErrServer},
		{503, identity.ErrServer},
		{504, identity.ErrServer},
		{599, identity.ErrServer},
		{0, nil},
		{200, nil},
		{302, nil},
		{402, nil},
		{405, nil},
		{410, nil},
		{418, nil},
		{499, nil},
		{600, nil},
	}
	for _, c := range cases {
		t.Run(strconv.Itoa(c.status), func(t *testing.T) {
			e := &identity.Error{StatusCode: c.status, Method: "GET", Path: "/p"}
			wrapped := fmt.Errorf("call: %w", e)
			for _, s := range append(append([]error{}, statusSentinels...), otherSentinels...) {
				want := s == c.want
				if got := errors.Is(e, s); got != want {
					t.Errorf("errors.Is(%d, %v) = %v, want %v", c.status, s, got, want)
				}
				if got := errors.Is(wrapped, s); got != want {
					t.Errorf("errors.Is(wrapped %d, %v) = %v, want %v", c.status, s, got, want)
				}
			}
			if errors.Is(e, nil) {
				t.Errorf("errors.Is(%d, nil) = true", c.status)
			}
			var got *identity.Error
			if !errors.As(wrapped, &got) || got != e {
				t.Errorf("errors.As did not find the *Error")
			}
		})
	}
}

func TestSentinelsAreDistinct(t *testing.T) {
	all := append(append([]error{}, statusSentinels...), otherSentinels...)
	seen := map[string]bool{}
	for i, a := range all {
		if a == nil || seen[a.Error()] {
			t.Errorf("sentinel %d (%v) is nil or has a duplicate message", i, a)
		}
		seen[a.Error()] = true
		for j, b := range all {
			if i != j && errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = true", a, b)
			}
		}
	}
}

func TestErrorMessage(t *testing.T) {
	e := &identity.Error{
		StatusCode:  409,
		Method:      "POST",
		Path:        "/api/v1/Tenants/t/HybridClients",
		OperationID: "op-12345",
		Code:        "Conflict",
		Reason:      "A client with this id exists.",
		Resolution:  "Use another id.",
		EventID:     "ev-1",
		RetryAfter:  3 * time.Second,
	}
	msg := e.Error()
	for _, want := range []string{"POST", "/api/v1/Tenants/t/HybridClients", "409", "Conflict", "A client with this id exists.", "Use another id.", "op-12345"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Error() = %q, want it to contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("Error() spans lines: %q", msg)
	}
	if strings.Contains(msg, "body:") {
		t.Errorf("Error() shows a body although Excerpt is empty: %q", msg)
	}

	bare := (&identity.Error{StatusCode: 404, Method: "GET", Path: "/x"}).Error()
	if !strings.Contains(bare, "GET /x") || !strings.Contains(bare, "404 Not Found") {
		t.Errorf("bare Error() = %q", bare)
	}
	if strings.Contains(bare, "operation") || strings.Contains(bare, "resolution") {
		t.Errorf("bare Error() mentions absent parts: %q", bare)
	}
}

// The service's Error property mostly repeats the status text: the message says it once
// ("404 Not Found: The client does not exist.", not "404 Not Found: Not Found: ..."), and
// the field keeps it.
func TestErrorMessageNamesTheStatusOnce(t *testing.T) {
	for _, c := range []struct {
		status int
		code   string
		want   string
	}{
		{404, "Not Found", "GET /p: 404 Not Found: The client does not exist."},
		{404, "NotFound", "GET /p: 404 Not Found: The client does not exist."},
		{400, "Bad Request", "GET /p: 400 Bad Request: The client does not exist."},
		{400, "bad request", "GET /p: 400 Bad Request: The client does not exist."},
		{401, "Unauthorized", "GET /p: 401 Unauthorized: The client does not exist."},
		{403, "Forbidden", "GET /p: 403 Forbidden: The client does not exist."},
		{409, "Conflict", "GET /p: 409 Conflict: The client does not exist."},
		{500, "Internal Server Error", "GET /p: 500 Internal Server Error: The client does not exist."},
		{503, "Service Unavailable", "GET /p: 503 Service Unavailable: The client does not exist."},
		// A code that says more than the status stays.
		{400, "ClientLimitReached", "GET /p: 400 Bad Request: ClientLimitReached: The client does not exist."},
		{404, "Not Found here", "GET /p: 404 Not Found: Not Found here: The client does not exist."},
	} {
		e := &identity.Error{StatusCode: c.status, Method: "GET", Path: "/p", Code: c.code, Reason: "The client does not exist."}
		if got := e.Error(); got != c.want {
			t.Errorf("status %d, Code %q: Error() = %q, want %q", c.status, c.code, got, c.want)
		}
		if e.Code != c.code {
			t.Errorf("Code = %q, want %q kept", e.Code, c.code)
		}
	}
}

func TestErrorExcerptQuoted(t *testing.T) {
	cases := []struct {
		name    string
		excerpt string
		want    string   // must appear in Error()
		absent  []string // must not appear raw
	}{
		{"html", "<html>Bad Gateway</html>", `"<html>Bad Gateway</html>"`, nil},
		{"newlines", "line1\nline2\r\n", `"line1\nline2\r\n"`, []string{"\n", "\r"}},
		{"escape sequence", "\x1b[31mred\x1b[0m", `\x1b[31mred`, []string{"\x1b"}},
		{"NUL and bell", "a\x00b\x07", `"a\x00b\a"`, []string{"\x00", "\x07"}},
		{"invalid UTF-8", "ok\xff\xfe", `"ok\xff\xfe"`, []string{"\xff"}},
		{"quote", `say "hi"`, `"say \"hi\""`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := (&identity.Error{StatusCode: 502, Method: "GET", Path: "/p", Excerpt: c.excerpt}).Error()
			if !strings.Contains(msg, c.want) {
				t.Errorf("Error() = %q, want it to contain %q", msg, c.want)
			}
			for _, a := range c.absent {
				if strings.Contains(msg, a) {
					t.Errorf("Error() = %q holds raw %q", msg, a)
				}
			}
			if !utf8.ValidString(msg) {
				t.Errorf("Error() is not valid UTF-8: %q", msg)
			}
		})
	}
}

func TestResponseError(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	cases := []struct {
		name     string
		tooLarge bool
	}{
		{"undecodable", false},
		{"too large", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &identity.ResponseError{StatusCode: 200, Method: "GET", Path: "/api/v1/x", TooLarge: c.tooLarge, Err: cause}
			err := fmt.Errorf("wrap: %w", e)
			if !errors.Is(err, identity.ErrInvalidResponse) {
				t.Error("does not match ErrInvalidResponse")
			}
			if got := errors.Is(err, identity.ErrResponseTooLarge); got != c.tooLarge {
				t.Errorf("errors.Is(ErrResponseTooLarge) = %v, want %v", got, c.tooLarge)
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Error("does not unwrap to its cause")
			}
			for _, s := range statusSentinels {
				if errors.Is(err, s) {
					t.Errorf("matches %v", s)
				}
			}
			if errors.Is(err, identity.ErrInvalidInput) {
				t.Error("matches ErrInvalidInput")
			}
			msg := e.Error()
			for _, want := range []string{"GET", "/api/v1/x", "200", cause.Error()} {
				if !strings.Contains(msg, want) {
					t.Errorf("Error() = %q, want %q in it", msg, want)
				}
			}
			if c.tooLarge != strings.Contains(msg, "size limit") {
				t.Errorf("Error() = %q; too large = %v", msg, c.tooLarge)
			}
		})
	}
}

type stringerValue struct{}

func (stringerValue) String() string { return "from\nString" }

func TestValidationError(t *testing.T) {
	cases := []struct {
		name  string
		value any
		want  string // in the message
	}{
		{"string", "bad value", `(got "bad value")`},
		{"nil", nil, "(got nothing)"},
		{"int", -3, "(got -3)"},
		{"duration", -time.Second, `(got "-1s")`},
		{"control chars", "a\nb\x1bc", `(got "a b c")`},
		{"stringer", stringerValue{}, `(got "from String")`},
		{"secret", identity.NewSecret("hidden-value"), `(got "[REDACTED]")`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &identity.ValidationError{Field: "RedirectURIs[2]", Rule: "must be an absolute URI", Value: c.value}
			msg := e.Error()
			for _, want := range []string{"RedirectURIs[2]", "must be an absolute URI", c.want} {
				if !strings.Contains(msg, want) {
					t.Errorf("Error() = %q, want it to contain %q", msg, want)
				}
			}
			if strings.ContainsAny(msg, "\n\x1b") || strings.Contains(msg, "hidden-value") {
				t.Errorf("Error() = %q", msg)
			}
			if !errors.Is(fmt.Errorf("w: %w", e), identity.ErrInvalidInput) {
				t.Error("does not match ErrInvalidInput")
			}
			for _, s := range statusSentinels {
				if errors.Is(e, s) {
					t.Errorf("matches %v", s)
				}
			}
		})
	}
}

func TestValidationErrorBoundsValue(t *testing.T) {
	cases := []struct {
		name  string
		value any
	}{
		{"10 KB ascii", strings.Repeat("x", 10<<10)},
		{"10 KB multibyte", strings.Repeat("é", 5<<10)},
		{"10 KB invalid UTF-8", strings.Repeat("\xff", 10<<10)},
		{"10 KB slice", make([]int, 5<<10)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := (&identity.ValidationError{Field: "Name", Rule: "too long", Value: c.value}).Error()
			if len(msg) > 400 {
				t.Errorf("message is %d bytes long", len(msg))
			}
			if !strings.Contains(msg, "…") {
				t.Errorf("message %q does not show it was cut", msg)
			}
			if !utf8.ValidString(msg) {
				t.Errorf("message is not valid UTF-8: %q", msg)
			}
			if !strings.Contains(msg, "Name") || !strings.Contains(msg, "too long") {
				t.Errorf("message %q lost field or rule", msg)
			}
		})
	}
	// A value at the bound is not cut.
	msg := (&identity.ValidationError{Field: "F", Rule: "r", Value: strings.Repeat("y", 100)}).Error()
	if strings.Contains(msg, "…") || !strings.Contains(msg, strings.Repeat("y", 100)) {
		t.Errorf("short value was cut: %q", msg)
	}
}

func TestValidationErrorsJoined(t *testing.T) {
	err := errors.Join(
		&identity.ValidationError{Field: "Name", Rule: "required"},
		&identity.ValidationError{Field: "RedirectURIs", Rule: "1 to 10", Value: 0},
	)
	if !errors.Is(err, identity.ErrInvalidInput) {
		t.Error("joined errors do not match ErrInvalidInput")
	}
	var ve *identity.ValidationError
	if !errors.As(err, &ve) || ve.Field != "Name" {
		t.Errorf("errors.As = %+v, want the first", ve)
	}
	if n := len(joined(err)); n != 2 {
		t.Errorf("joined %d errors", n)
	}
}

func TestErrorServiceTextsCannotForgeLogLines(t *testing.T) {
	e := &identity.Error{StatusCode: 400, Method: "POST", Path: "/x",
		Code: "bad\nINFO forged line", Reason: "r\r\nFAKE", Resolution: strings.Repeat("z", 5000), OperationID: "op\x1b[31m"}
	msg := e.Error()
	if strings.ContainsAny(msg, "\n\r\x1b") {
		t.Fatalf("control characters reached the message: %q", msg)
	}
	if len(msg) > 1500 {
		t.Fatalf("message of %d bytes: the service's texts must be bounded", len(msg))
	}
}
