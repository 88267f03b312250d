package identity

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// pkgName starts the text of every error that a function or method of this package
// returns (see the package doc's Errors section); the typed errors and sentinels print
// without it, as the package the caller called names them.
const pkgName = "identity"

// Sentinel errors. An *Error matches the sentinel of its HTTP status with errors.Is, so a
// caller writes errors.Is(err, identity.ErrNotFound) without looking at status codes.
var (
	ErrBadRequest   = errors.New("bad request (400)")
	ErrUnauthorized = errors.New("unauthorized (401)")
	ErrForbidden    = errors.New("forbidden (403)")
	ErrNotFound     = errors.New("not found (404)")
	ErrTimeout      = errors.New("request timeout (408)")
	ErrConflict     = errors.New("conflict (409)")
	ErrRateLimited  = errors.New("rate limited (429)")
	ErrServer       = errors.New("server error (5xx)")

	// ErrInvalidInput matches every *ValidationError: the request was refused locally and
	// nothing was sent.
	ErrInvalidInput = errors.New("invalid input")
	// ErrInvalidResponse matches a *ResponseError: the service answered with a success
	// status but a body the SDK could not use (not JSON, truncated, too large).
	ErrInvalidResponse = errors.New("invalid response")
	// ErrResponseTooLarge matches a response whose body exceeded Config.MaxResponseBytes.
	ErrResponseTooLarge = errors.New("response too large")
	// ErrOutcomeUnknown means the SDK could not establish whether a call that changes
	// something took effect; the error says what may be left. An *OutcomeError (create,
	// add, rotate) or a *ConnectionError of a write whose request may have arrived.
	ErrOutcomeUnknown = errors.New("outcome unknown")
	// ErrUnreachable matches a *ConnectionError: the service could not be reached, or the
	// connection broke before its answer was read, and no attempt left could mend it.
	ErrUnreachable = errors.New("service unreachable or answer lost")
)

// ConnectionError is a call whose last attempt ended without an answer: the connection
// could not be opened, or broke (or the time ran out) before the answer was read. It
// matches ErrUnreachable. When the request may have reached the service (Sent) and the
// method changes something (POST, PUT, DELETE, PATCH), the outcome is unknown and it also
// matches ErrOutcomeUnknown: look before doing it again.
type ConnectionError struct {
	Method string
	Path   string // URL path of the request as sent, escaped (%2F in an id); never the query
	// Sent is false only when the request provably never reached the service (the
	// connection was never opened).
	Sent bool
	Err  error // the network error; never holds a credential
}

// Error names the call and what broke.
func (e *ConnectionError) Error() string {
	what := "service unreachable"
	if e.Sent {
		what = "connection lost before the answer was read"
	}
	return fmt.Sprintf("%s %s: %s: %v", e.Method, e.Path, what, e.Err)
}

// Unwrap returns the network error.
func (e *ConnectionError) Unwrap() error { return e.Err }

// Is matches ErrUnreachable, and ErrOutcomeUnknown for a write that may have arrived.
func (e *ConnectionError) Is(target error) bool {
	switch target {
	case ErrUnreachable:
		return true
	case ErrOutcomeUnknown:
		return e.Sent && e.Method != http.MethodGet && e.Method != http.MethodHead
	}
	return false
}

// Error is an error answer of the service (any status outside 2xx). It carries the
// service's ErrorResponse when the body had one, or a short printable excerpt of the body
// when it did not (a gateway's HTML page, an empty body).
type Error struct {
	StatusCode int    // HTTP status, e.g. 404
	Method     string // HTTP method of the request
	Path       string // URL path of the request as sent, escaped (%2F in an id); never the query

	// The service's ErrorResponse properties (empty when the body was not one).
	OperationID string
	Code        string // the ErrorResponse "Error" property
	Reason      string
	Resolution  string
	EventID     string
	// DynamicProperties and any further properties of the ErrorResponse, undecoded.
	Properties map[string]any

	// RetryAfter is the service's Retry-After header, zero when absent.
	RetryAfter time.Duration
	// Excerpt is the start (at most 256 bytes, as received) of a body that was not an
	// ErrorResponse; empty when the body was one, or was empty. Error() prints it quoted,
	// so control characters and invalid UTF-8 cannot garble a log line.
	Excerpt string
}

// Error describes the failure on one line: method, path, status, and what the service
// said, e.g. "GET /api/v1/Tenants/…/HybridClients/…: 404 Not Found: The client does not
// exist." (returned by hybridclients.Get, it reads "hybridclients: GET ..."). Code is left
// out when it only repeats the status text.
func (e *Error) Error() string {
	var b strings.Builder
	status := http.StatusText(e.StatusCode)
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.StatusCode, status)
	// The service's texts are made printable and bounded: a reply cannot forge log lines.
	// Its Error property mostly repeats the status text ("Not Found"): shown once.
	if e.Code != "" && !sameWords(e.Code, status) {
		b.WriteString(": " + excerpt(e.Code, 200))
	}
	if e.Reason != "" {
		b.WriteString(": " + excerpt(e.Reason, 500))
	}
	if e.Resolution != "" {
		b.WriteString(" (resolution: " + excerpt(e.Resolution, 300) + ")")
	}
	if e.OperationID != "" {
		b.WriteString(" [operation " + excerpt(e.OperationID, 64) + "]")
	}
	if e.Excerpt != "" {
		b.WriteString(": body: " + strconv.Quote(e.Excerpt))
	}
	return b.String()
}

// sameWords reports whether a and b are the same words, ignoring case and spaces:
// "NotFound" and "not found" are "Not Found".
func sameWords(a, b string) bool {
	return strings.EqualFold(strings.ReplaceAll(a, " ", ""), strings.ReplaceAll(b, " ", ""))
}

// Is makes errors.Is match the sentinel of the error's status (ErrNotFound for 404, ...).
func (e *Error) Is(target error) bool {
	return target != nil && target == sentinelFor(e.StatusCode)
}

// sentinelFor returns the sentinel error of an HTTP status, or nil when it has none.
func sentinelFor(status int) error {
	switch {
	case status == http.StatusBadRequest:
		return ErrBadRequest
	case status == http.StatusUnauthorized:
		return ErrUnauthorized
	case status == http.StatusForbidden:
		return ErrForbidden
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusRequestTimeout:
		return ErrTimeout
	case status == http.StatusConflict:
		return ErrConflict
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status >= 500 && status <= 599:
		return ErrServer
	}
	return nil
}

// ResponseError is a success answer (2xx) that the SDK could not use: a body that was not
// JSON, was cut short, or was larger than Config.MaxResponseBytes. It never carries the
// body, which may hold a one-time secret value. It matches ErrInvalidResponse, and
// ErrResponseTooLarge when the body was too large.
type ResponseError struct {
	StatusCode int
	Method     string
	Path       string // URL path of the request as sent, escaped; never the query
	TooLarge   bool
	Err        error // the decoding or reading error; never holds the body
}

// Error describes the failure without any of the body.
func (e *ResponseError) Error() string {
	what := "unusable response body"
	if e.TooLarge {
		what = "response body over the size limit"
	}
	return fmt.Sprintf("%s %s: %d: %s: %v", e.Method, e.Path, e.StatusCode, what, e.Err)
}

// Unwrap returns the underlying reading or decoding error.
func (e *ResponseError) Unwrap() error { return e.Err }

// Is matches ErrInvalidResponse, and ErrResponseTooLarge for a body over the limit.
func (e *ResponseError) Is(target error) bool {
	return target == ErrInvalidResponse || (e.TooLarge && target == ErrResponseTooLarge)
}

// ValidationError is one broken rule of a request, found before anything was sent. A
// request that breaks several rules gets all of them back at once, joined with
// errors.Join; errors.As finds the first, ValidationErrors returns them all, and
// errors.Is(err, ErrInvalidInput) matches.
type ValidationError struct {
	// Field names what is wrong by its Go name as the caller sees it, in every package of
	// the SDK: a field of a request or options struct or of Config as in Go, with an index
	// where it applies ("RedirectURIs[2]", "SecretExpiry", "Retry.MaxAttempts"); a method
	// parameter in exported form ("ID", "ClientID", "SecretID", "Within", "Ctx"); a whole
	// request by its type ("UpdateRequest") and a receiver by its qualified type
	// ("secrets.Client").
	Field string
	Rule  string // what the field must be: "must be an absolute URI without a fragment"
	Value any    // the offending value; never a secret
}

// Error names the field, the rule and the offending value.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s: %s (got %s)", e.Field, e.Rule, showValue(e.Value))
}

// Is matches ErrInvalidInput.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidInput }

// ValidationErrors returns every *ValidationError in err's tree (errors.Join and %w
// wrapping included), in order; nil when there is none.
func ValidationErrors(err error) []*ValidationError {
	var out []*ValidationError
	var walk func(error)
	walk = func(err error) {
		switch x := err.(type) {
		case nil:
			return
		case *ValidationError:
			out = append(out, x)
			return
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				walk(e)
			}
			return
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	return out
}

// showValue renders v for a message: strings quoted and bounded, so control characters and
// huge inputs cannot garble a log line.
func showValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing"
	case string:
		return strconv.Quote(excerpt(x, 128))
	case fmt.Stringer:
		return strconv.Quote(excerpt(x.String(), 128))
	}
	return excerpt(fmt.Sprint(v), 128)
}

// excerpt returns at most max bytes of s, cut at a rune boundary, with invalid UTF-8 and
// non-printable runes replaced, and "…" appended when it was cut.
func excerpt(s string, max int) string {
	var b strings.Builder
	for i, r := range s {
		if b.Len() >= max {
			b.WriteString("…")
			break
		}
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				r = '\uFFFD'
			}
		}
		if !unicode.IsPrint(r) && r != '\uFFFD' {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}

// OutcomeError is returned when the SDK could not establish whether a call that creates
// something (creating a client, adding or rotating a secret) took effect, or could not
// finish putting things right after it did. It says, in fields, what may have been left
// behind, so the caller (or a person) can check and clean up. It matches
// ErrOutcomeUnknown, and unwraps to the errors met.
type OutcomeError struct {
	Op       string // "create hybrid client" or "add secret" (a Rotate's add too)
	ClientID string // the client concerned
	// ClientMayExist is true when the client of a create may have been created by this
	// call (it was, or nobody could check).
	ClientMayExist bool
	// Orphans are secrets that this call provably created and whose value nobody holds:
	// safe to delete once the service is reachable again.
	Orphans []int
	// Unclaimed are secrets that appeared on the client while this call ran and that may
	// be this call's or someone else's: look before deleting any of them, as another
	// application may be using it.
	Unclaimed []int
	Err       error
}

// Error says what is unknown and what may be left.
func (e *OutcomeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s for client %s: outcome unknown", e.Op, e.ClientID)
	if e.ClientMayExist {
		b.WriteString("; the client may exist")
	}
	if len(e.Orphans) > 0 {
		fmt.Fprintf(&b, "; secrets %v were made by this call and nobody holds their value: delete them", e.Orphans)
	}
	if len(e.Unclaimed) > 0 {
		fmt.Fprintf(&b, "; secrets %v appeared meanwhile and may be someone else's: check before deleting", e.Unclaimed)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the errors met.
func (e *OutcomeError) Unwrap() error { return e.Err }

// Is matches ErrOutcomeUnknown.
func (e *OutcomeError) Is(target error) bool { return target == ErrOutcomeUnknown }

// AuthError is a refusal (4xx) of the token endpoint: a wrong client id or secret, a
// disabled client, a used code; or a redirect (3xx) answered to OpenID discovery or a
// token request, which the SDK never follows (the client secret, a code or a token would
// go to whatever the redirect names). It matches ErrUnauthorized. A 5xx of the token
// endpoint is an *Error matching ErrServer instead. An invalid_client refusal (the client
// id and secret were not accepted) comes wrapped in a message that names the client and
// what to check: the client id and secret of Config.Credentials, or the secret given to
// a hybridclients.SignIn.
type AuthError struct {
	StatusCode  int
	Code        string // the OAuth2 "error", e.g. "invalid_client"
	Description string // the OAuth2 "error_description"
}

// Error describes the refusal; it never holds the credentials.
func (e *AuthError) Error() string {
	if e.StatusCode >= 300 && e.StatusCode <= 399 {
		return "redirect refused: " + excerpt(e.Description, 400)
	}
	s := fmt.Sprintf("token request refused: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Description != "" {
		s += ": " + strings.TrimSpace(excerpt(e.Description, 200))
	}
	return s
}

// Is matches ErrUnauthorized.
func (e *AuthError) Is(target error) bool { return target == ErrUnauthorized }
