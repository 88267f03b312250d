package transport

// Fuzz targets for hostile input: API error decoding,
// path-parameter checks and Retry-After parsing. Plain `go test` runs the seed corpora
// (f.Add below and testdata/fuzz/<FuzzName>/).

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jarcoal/httpmock"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/harness/mocktest"
	"github.com/ocs-go/identity/internal/rules"
)

// fzKnown fails on a property that fuzzing once found broken; finding names the reproducer
// kept in testdata/fuzz/<FuzzName>/.
func fzKnown(t *testing.T, finding, format string, args ...any) {
	t.Helper()
	t.Fatalf("finding %s: "+format, append([]any{finding}, args...)...)
}

// fzClient is newClient without retries: one fuzzed answer, one attempt.
func fzClient(t *testing.T, mod func(*identity.Config)) (*Client, *httpmock.MockTransport) {
	t.Helper()
	return newClient(t, func(cfg *identity.Config) {
		cfg.Retry.MaxAttempts = 1
		if mod != nil {
			mod(cfg)
		}
	})
}

var fzSentinels = []error{identity.ErrBadRequest, identity.ErrUnauthorized, identity.ErrForbidden, identity.ErrNotFound,
	identity.ErrTimeout, identity.ErrConflict, identity.ErrRateLimited, identity.ErrServer,
	identity.ErrInvalidInput, identity.ErrInvalidResponse, identity.ErrResponseTooLarge, identity.ErrOutcomeUnknown}

func fzSentinel(status int) error {
	switch status {
	case 400:
		return identity.ErrBadRequest
	case 401:
		return identity.ErrUnauthorized
	case 403:
		return identity.ErrForbidden
	case 404:
		return identity.ErrNotFound
	case 408:
		return identity.ErrTimeout
	case 409:
		return identity.ErrConflict
	case 429:
		return identity.ErrRateLimited
	}
	if status >= 500 {
		return identity.ErrServer
	}
	return nil
}

// fzUnprintable reports a rune that could garble or forge a log line.
func fzUnprintable(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\u0085' ||
		unicode.Is(unicode.Bidi_Control, r)
}

func fzDeep(open, close string, n int) string {
	return strings.Repeat(open, n) + strings.Repeat(close, n)
}

func FuzzErrorDecoding(f *testing.F) {
	bodies := []string{
		mocktest.ErrorBody,
		`{"OperationId":"op-1","Error":"The client limit was reached.","Reason":"At most 50000 clients.","Resolution":"Delete unused clients.","EventId":"ev"}`,
		`{"OperationId":"","Error":"","Reason":""}`,
		`{"Error":5,"Reason":null,"OperationId":{"a":1}}`,
		`{"error":"lower case","operationid":"x"}`,
		`{"Error":"a","Error":"b"}`,
		`{"Error":"line1\r\nX-Forged: yes\u2028\u2029\u0085\u202e\u0000\u001b[31m"}`,
		`{"Reason":"` + strings.Repeat("r", 100_000) + `"}`,
		`{"OperationId":"` + strings.Repeat("\\u0000", 10_000) + `"}`,
		"{\"Error\":\"\xff\xfe\xc0\xaf\"}",
		`{"Error":"x","DynamicProperties":` + fzDeep(`{"a":`, "}", 5000) + `}`,
		`[]`, `null`, `"string"`, `42`, ``, ` `, `{}`, `{`,
		"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
		"\x00\x01\x02\r\n\x1b[2J\xff\xfe\u2028",
		strings.Repeat("\xe2\x80\xa8", 200),
		strings.Repeat("a", 255) + "\xe2\x82\xac",
		fzDeep("[", "]", 100_000),
		fzDeep(`{"a":`, "}", 100_000),
		strings.Repeat("x", 1<<20),
	}
	retryAfters := []string{"", "0", "5", "120", "-3", "86401", "99999999999999999999", "Thu, 01 Jan 2099 00:00:00 GMT",
		"Wed, 31 Dec 1969 23:59:59 GMT", "soon", "1\r\nSet-Cookie: a=b", " 7 "}
	statuses := []uint16{0, 1, 3, 4, 8, 9, 29, 100, 101, 102, 103, 104, 199}
	for i, b := range bodies {
		f.Add(statuses[i%len(statuses)], []byte(b), retryAfters[i%len(retryAfters)], uint8(i))
	}

	f.Fuzz(func(t *testing.T, st uint16, body []byte, retryAfter string, method uint8) {
		status := 400 + int(st%200)
		m := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}[method%4]
		c, mt := fzClient(t, nil)
		mt.RegisterNoResponder(func(*http.Request) (*http.Response, error) {
			resp := httpmock.NewBytesResponse(status, body)
			if retryAfter != "" {
				resp.Header["Retry-After"] = []string{retryAfter}
			}
			return resp, nil
		})
		var req Request
		req.Method, req.Path = m, []string{"HybridClients", "x"}
		if m == http.MethodPost || m == http.MethodPut {
			req.Body = map[string]string{"Name": "n"}
		}
		var out map[string]any
		start := time.Now()
		resp, err := c.Do(context.Background(), req, &out)
		if err == nil {
			t.Fatalf("status %d gave no error", status)
		}
		if resp == nil || resp.StatusCode != status {
			t.Fatalf("status %d: response %+v", status, resp)
		}
		var e *identity.Error
		if !errors.As(err, &e) {
			t.Fatalf("status %d gave %T %v, want *identity.Error", status, err, err)
		}
		if e.StatusCode != status || e.Method != m || e.Path != "/api/v1/Tenants/"+mocktest.TenantID+"/HybridClients/x" {
			t.Fatalf("error %+v for %s %d", e, m, status)
		}
		want := fzSentinel(status)
		for _, s := range fzSentinels {
			if errors.Is(err, s) != (s == want) {
				t.Fatalf("status %d: errors.Is(err, %v) = %v", status, s, errors.Is(err, s))
			}
		}

		// What the body said: an ErrorResponse (an object with a non-empty string
		// OperationId, Error or Reason) is decoded; anything else is kept as an excerpt.
		var obj map[string]any
		isErrorResponse := false
		if json.Unmarshal(body, &obj) == nil && obj != nil {
			for _, k := range []string{"OperationId", "Error", "Reason"} {
				if s, ok := obj[k].(string); ok && s != "" {
					isErrorResponse = true
				}
			}
		}
		str := func(k string) string { s, _ := obj[k].(string); return s }
		if isErrorResponse {
			if e.OperationID != str("OperationId") || e.Code != str("Error") || e.Reason != str("Reason") ||
				e.Resolution != str("Resolution") || e.EventID != str("EventId") || e.Excerpt != "" {
				t.Fatalf("ErrorResponse %.300q decoded as %+v", body, e)
			}
		} else {
			if e.OperationID != "" || e.Code != "" || e.Reason != "" || e.Resolution != "" || e.EventID != "" || e.Properties != nil {
				t.Fatalf("non-ErrorResponse %.300q decoded as %+v", body, e)
			}
			if want := string(body[:min(len(body), 256)]); e.Excerpt != want {
				t.Fatalf("excerpt %q, want %q", e.Excerpt, want)
			}
		}
		if len(e.Excerpt) > 256 {
			t.Fatalf("excerpt of %d bytes", len(e.Excerpt))
		}

		// Retry-After: never negative, zero when absent or unreadable.
		if e.RetryAfter < 0 {
			t.Fatalf("RetryAfter %v for %q", e.RetryAfter, retryAfter)
		}
		if ra, ok := RetryAfter(http.Header{"Retry-After": {retryAfter}}, start); !ok && e.RetryAfter != 0 ||
			ok && (e.RetryAfter > ra+time.Second || e.RetryAfter < ra-time.Minute) {
			t.Fatalf("RetryAfter %v for %q, parsed alone %v %v", e.RetryAfter, retryAfter, ra, ok)
		}

		// The message: one printable, bounded, valid UTF-8 line, whatever the body held.
		for _, msg := range []string{err.Error(), e.Error()} {
			if !utf8.ValidString(msg) {
				t.Fatalf("message is not valid UTF-8: %q", msg)
			}
			if i := strings.IndexFunc(msg, fzUnprintable); i >= 0 {
				t.Fatalf("message holds %U at %d: %q", []rune(msg[i:])[0], i, msg)
			}
			if len(msg) > 4096 {
				t.Fatalf("message of %d bytes", len(msg))
			}
		}
		if n := mt.GetTotalCallCount(); n != 1 {
			t.Fatalf("%d calls with MaxAttempts 1", n)
		}
	})
}

// FuzzPathSegment checks that an id is refused or travels as exactly one path segment.
func FuzzPathSegment(f *testing.F) {
	for _, id := range []string{
		"c0ffee00-1234-4abc-8def-0123456789ab", "x", "", ".", "..", "...", "%2e%2e", "%2E%2E", ".%2e", "%2e.",
		"a/b", "../../../Users", "..\\..", "a%2Fb", "%2F", "/", "//", "a?b=c", "?", "#", "a#b", "a b", "a+b", ";",
		"a;b=c", "@evil.example.com", "http://evil.example.com/", "\x00", "a\x00b", "\r\n", "a\r\nHost: evil",
		"\x7f", "\u0085", "\u00a0", "\u2028", "\u202e", "\ufeff", "\xff", "\xc0\xae\xc0\xae", "%", "%zz", "%%",
		"é", "日本", "*", "~", strings.Repeat("a", 100_000), strings.Repeat("../", 1000), strings.Repeat("%", 10_000),
	} {
		f.Add(id, uint8(0))
		f.Add(id, uint8(1))
	}
	base := "/api/v1/Tenants/" + mocktest.TenantID + "/"

	f.Fuzz(func(t *testing.T, id string, where uint8) {
		err := CheckPathSegment("ID", id)
		mustRefuse := id == "" || id == "." || id == ".." || strings.ContainsFunc(id, unicode.IsControl)
		if mustRefuse != (err != nil) {
			t.Fatalf("CheckPathSegment(%q) = %v", id, err)
		}
		c, mt := fzClient(t, nil)
		var sent *url.URL
		mt.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
			sent = r.URL
			return httpmock.NewStringResponse(http.StatusOK, `{}`), nil
		})
		// The id as a client id (in the middle) or as the last segment.
		path := []string{"HybridClients", id}
		if where%2 == 1 {
			path = []string{"HybridClients", id, "Secrets"}
		}
		u, uerr := c.URL(Request{Method: http.MethodGet, Path: path})
		_, derr := c.Do(context.Background(), Request{Method: http.MethodGet, Path: path}, nil)
		if err != nil {
			if !errors.Is(err, identity.ErrInvalidInput) {
				t.Fatalf("refusal %T %v does not match ErrInvalidInput", err, err)
			}
			if uerr == nil || derr == nil || !errors.Is(derr, identity.ErrInvalidInput) || sent != nil {
				t.Fatalf("refused id %q: URL err %v, Do err %v, sent %v", id, uerr, derr, sent)
			}
			if msg := err.Error(); len(msg) > 1024 || !utf8.ValidString(msg) || strings.ContainsFunc(msg, fzUnprintable) {
				t.Fatalf("refusal message %q", msg)
			}
			return
		}
		if uerr != nil || derr != nil || sent == nil {
			t.Fatalf("accepted id %q: URL err %v, Do err %v, sent %v", id, uerr, derr, sent)
		}
		for _, got := range []*url.URL{u, sent} {
			if got.RawQuery != "" || got.Fragment != "" || got.RawFragment != "" || got.ForceQuery ||
				got.Scheme != "https" || got.Host != "uswe.datahub.connect.aveva.com" || got.User != nil || got.Opaque != "" {
				t.Fatalf("id %q gave URL %q (query %q, fragment %q, host %q)", id, got.String(), got.RawQuery, got.Fragment, got.Host)
			}
			esc := got.EscapedPath()
			rest, ok := strings.CutPrefix(esc, base)
			if !ok {
				t.Fatalf("id %q gave path %q", id, esc)
			}
			segs := strings.Split(rest, "/")
			if len(segs) != len(path) || strings.Count(esc, "/") != 4+len(path) {
				t.Fatalf("id %q gave %d segments: %q", id, len(segs), esc)
			}
			for i, s := range segs {
				un, err := url.PathUnescape(s)
				if err != nil || un != path[i] {
					t.Fatalf("segment %d of %q is %q, unescaped %q, want %q", i, esc, s, un, path[i])
				}
				if s == "." || s == ".." || strings.EqualFold(s, "%2e") || strings.EqualFold(s, "%2e%2e") ||
					strings.ContainsAny(s, "/?#\\") {
					t.Fatalf("segment %q of %q could be read as a path step", s, esc)
				}
			}
		}
		// The URL as a string, as a server or proxy receives it, reads back the same.
		back, err := url.Parse(u.String())
		if err != nil || back.EscapedPath() != u.EscapedPath() || back.RawQuery != "" || back.Fragment != "" || back.Path != u.Path {
			t.Fatalf("id %q: %q reads back as %+v (%v)", id, u.String(), back, err)
		}
	})
}

const fzRetryAfterCap = 24 * time.Hour

// FuzzRetryAfter checks Retry-After parsing, and the backoff that uses it.
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, v := range []string{
		"0", "5", "120", " 7 ", "+5", "-3", "-0", "86400", "86401", "9223372036854775807", "9223372036854775808", "99999999999999999999",
		strings.Repeat("9", 10_000), "Fri, 31 Dec 9999 23:59:59 GMT", "1.5", "1e3", "0x10", "５", "", " ", "soon",
		"Thu, 01 Jan 2026 00:00:30 GMT", "Wed, 31 Dec 2025 00:00:00 GMT", "Fri, 01 Jan 2027 00:00:00 GMT",
		"Mon, 01 Jan 0001 00:00:00 GMT", "Thursday, 01-Jan-26 00:00:30 GMT", "Thu Jan  1 00:00:30 2026",
		"Thu, 01 Jan 2026 00:00:30 GMT\r\nSet-Cookie: a=b", "5\r\n", "\x005", "5\x00", "\u00a05", "\u20285",
	} {
		f.Add(v, now, uint8(1))
	}

	f.Fuzz(func(t *testing.T, v string, nowSec int64, attempts uint8) {
		now := time.Unix(nowSec, 0)
		d, ok := RetryAfter(http.Header{"Retry-After": {v}}, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("RetryAfter(%q) = %v, %v", v, d, ok)
		}
		// delay-seconds (RFC 9110: 1*DIGIT): any number of digits is valid; huge values are
		// capped, not dropped.
		s := strings.TrimSpace(v)
		if s != "" && strings.Trim(s, "0123456789") == "" {
			n, _ := new(big.Int).SetString(s, 10)
			want := fzRetryAfterCap
			if n.Cmp(big.NewInt(int64(fzRetryAfterCap/time.Second))) < 0 {
				want = time.Duration(n.Int64()) * time.Second
			}
			if !ok || d != want {
				fzKnown(t, "retry-after-huge-seconds-dropped", "RetryAfter(%.60q) = %v, %v; want %v, true", v, d, ok, want)
			}
		}
		if ok && d > fzRetryAfterCap {
			fzKnown(t, "retry-after-date-uncapped", "RetryAfter(%q) at %s = %v: over the cap of %v", v, now.UTC().Format(time.RFC3339), d, fzRetryAfterCap)
		}

		// The backoff: the server's wait, or -1 past MaxRetryAfter, or the policy's own.
		p := policy{identity.RetryPolicy(rules.Retry{}.WithDefaults())}
		w := p.waitAfter(int(attempts), &http.Response{Header: http.Header{"Retry-After": {v}}})
		if w != -1 && (w < 0 || w > max(p.MaxRetryAfter, p.MaxWait)) {
			t.Fatalf("backoff for Retry-After %q = %v (MaxRetryAfter %v, MaxWait %v)", v, w, p.MaxRetryAfter, p.MaxWait)
		}
	})
}
