// Package transport is the one HTTP path every call of the SDK takes: Do builds the
// request, runs the retry loop (retry.go: try, classify, decide, wait; each try takes
// the credentials' token and the pacer's turn, then sends through the base transport),
// reads the answer with a bound and maps it to a typed error.
package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/google/go-querystring/query"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/idserver"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/telemetry"
	"github.com/ocs-go/identity/internal/validate"
)

// Client sends requests to one tenant's API routes. It is safe for concurrent use.
type Client struct {
	tenantBase *url.URL     // {resource}/api/v1/Tenants/{tenant}
	basePath   string       // its path, with a leading slash
	baseRaw    string       // the same, escaped
	uaHeader   []string     // the User-Agent header's value, shared by every request
	hc         *http.Client // the base transport, refusing redirects
	// shareHeaders: the base transport is an *http.Transport, which only reads a request's
	// header map, so one map per token serves every request (auth.go); another transport
	// may write to it, and gets a copy.
	shareHeaders bool
	creds        identity.Credentials
	treq         identity.TokenRequest
	last         atomic.Pointer[bearer] // the header value of the last token (auth.go)
	logger       *slog.Logger
	userAgent    string
	maxBody      int64
	policy       policy
	base         http.RoundTripper
	tel          *telemetry.Telemetry // nil: no provider set
	road         *idserver.Road       // the credentials' road to the identity server, shared with IDServer
}

// New validates cfg and builds the layers. It makes no network call.
func New(cfg identity.Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	resource, _ := rules.ResourceURL(cfg.Resource) // Validate applied the same rule
	pol := policy{identity.RetryPolicy(rules.Retry(cfg.Retry).WithDefaults())}

	// Only the Transport and Timeout of the caller's client are used: every client of the
	// SDK refuses redirects and keeps no cookies.
	base, timeout := idserver.Base(cfg.HTTPClient)
	tel, err := telemetry.New(cfg.TracerProvider, cfg.MeterProvider, resource.Hostname())
	if err != nil {
		return nil, fmt.Errorf("setting up telemetry: %w", err)
	}
	tenantBase := resource.JoinPath("api", identity.APIVersion, "Tenants", cfg.TenantID)
	c := &Client{
		tenantBase: tenantBase,
		basePath:   "/" + strings.TrimPrefix(tenantBase.Path, "/"),
		baseRaw:    "/" + strings.TrimPrefix(tenantBase.EscapedPath(), "/"),
		logger:     cfg.Logger,
		userAgent:  "ocs-go-identity/" + identity.Version + " (" + runtime.Version() + ")",
		maxBody:    cfg.MaxResponseBytes,
		policy:     pol,
		base:       base,
		hc:         idserver.NewClient(base, timeout),
		creds:      cfg.Credentials,
		tel:        tel,
	}
	c.road = road(resource, c.hc, pol, cfg.MaxResponseBytes, tel)
	c.treq = identity.TokenRequest{Resource: resource, Endpoint: c.road}
	if c.maxBody == 0 {
		c.maxBody = identity.DefaultMaxResponseBytes
	}
	if ua := strings.TrimSpace(cfg.UserAgent); ua != "" {
		c.userAgent += " " + ua
	}
	c.uaHeader = []string{c.userAgent}
	_, c.shareHeaders = base.(*http.Transport)
	return c, nil
}

// IDServer returns the road to the identity server of cfg.Resource, for sign-in: OpenID
// discovery is retried as cfg.Retry says (connection errors and 5xx, never a 4xx),
// authorization codes and refresh tokens are sent once; only the Transport and Timeout of
// cfg.HTTPClient are used.
func IDServer(cfg identity.Config) (*idserver.Road, error) {
	resource, p := rules.ResourceURL(cfg.Resource)
	if p != nil {
		return nil, validate.Problem(p)
	}
	return road(resource, cfg.HTTPClient, policy{identity.RetryPolicy(rules.Retry(cfg.Retry).WithDefaults())}, cfg.MaxResponseBytes, nil), nil
}

// IDServer returns the road to the identity server that the Client's credentials take:
// the same connections, the same token retries.
func (c *Client) IDServer() *idserver.Road { return c.road }

// road builds the road to resource's identity server with the token retries of pol, its
// requests counted by tel; the discovery document is bounded by maxBody, and by 1 MiB at
// most.
func road(resource *url.URL, base *http.Client, pol policy, maxBody int64, tel *telemetry.Telemetry) *idserver.Road {
	if maxBody <= 0 {
		maxBody = identity.DefaultMaxResponseBytes
	}
	return idserver.New(resource, base, func(hc *http.Client) http.RoundTripper {
		return tel.TokenRequests(&retryablehttp.RoundTripper{Client: pol.tokenRetrying(hc)})
	}, min(maxBody, 1<<20))
}

// CloseIdleConnections closes the base transport's idle connections (when it has such a
// method), as http.Client.CloseIdleConnections does.
func (c *Client) CloseIdleConnections() {
	if ci, ok := c.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// Request is one API call. Path holds the segments after /api/v1/Tenants/{tenantId}/;
// each is checked and escaped.
type Request struct {
	Method string
	Path   []string
	Query  any // a struct with `url` tags for go-querystring, or nil
	Body   any // encoded as JSON, or nil
	// Budget, when not nil, is drawn on by every attempt; no retry is made once it is spent.
	Budget *Budget
}

// Response is the useful part of a successful answer.
type Response struct {
	Method     string
	Path       string // escaped, as sent
	StatusCode int
	Header     http.Header
	// EarlierAttemptMayHaveActed is true when the request was retried after an attempt
	// whose outcome was unknown (a connection error, 408, 5xx).
	EarlierAttemptMayHaveActed bool
}

// TotalCount returns the Total-Count header, and whether it was present and valid.
func (r *Response) TotalCount() (int, bool) {
	v := r.Header.Get("Total-Count")
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// RequireTotalCount returns the Total-Count header, or an *identity.ResponseError when the
// answer lacks a valid one.
func (r *Response) RequireTotalCount() (int, error) {
	if n, ok := r.TotalCount(); ok {
		return n, nil
	}
	return 0, &identity.ResponseError{StatusCode: r.StatusCode, Method: r.Method, Path: r.Path,
		Err: errors.New("no valid Total-Count header")}
}

// CheckPathSegment refuses ids that cannot be a single path segment: empty, "." or "..",
// or holding control characters. field names the offending input in the error.
func CheckPathSegment(field, v string) error {
	switch {
	case v == "":
		return &identity.ValidationError{Field: field, Rule: "must not be empty", Value: v}
	case v == "." || v == "..":
		return &identity.ValidationError{Field: field, Rule: `must not be "." or ".."`, Value: v}
	case strings.ContainsFunc(v, unicode.IsControl):
		return &identity.ValidationError{Field: field, Rule: "must not hold control characters", Value: v}
	}
	return nil
}

// URL returns the full URL of r, after checking its path segments.
func (c *Client) URL(r Request) (*url.URL, error) {
	u := *c.tenantBase
	var path strings.Builder
	path.Grow(len(c.basePath) + 40*len(r.Path))
	path.WriteString(c.basePath)
	plain := c.basePath == c.baseRaw // no segment needs escaping
	for i, seg := range r.Path {
		if err := CheckPathSegment("path segment", seg); err != nil {
			err.(*identity.ValidationError).Field = "path segment " + strconv.Itoa(i+1)
			return nil, err
		}
		path.WriteString("/")
		path.WriteString(seg)
		plain = plain && url.PathEscape(seg) == seg
	}
	u.Path, u.RawPath = path.String(), ""
	if !plain {
		// Only then is the escaped path another string (a GUID's is the same).
		raw := c.baseRaw
		for _, seg := range r.Path {
			raw += "/" + url.PathEscape(seg)
		}
		u.RawPath = raw
	}
	if r.Query != nil {
		v, err := query.Values(r.Query)
		if err != nil {
			return nil, fmt.Errorf("encoding query: %w", err)
		}
		u.RawQuery = v.Encode()
	}
	return &u, nil
}

// Telemetry returns the Client's telemetry, nil when no provider is set (or c is nil).
func (c *Client) Telemetry() *telemetry.Telemetry {
	if c == nil {
		return nil
	}
	return c.tel
}

// route is the template of the path to segments, for telemetry: the route's names as
// they are, its ids as placeholders (a client id, then a secret id).
func (c *Client) route(segments []string) string {
	route := "/api/" + identity.APIVersion + "/Tenants/{tenantId}"
	for i, seg := range segments {
		switch {
		case i%2 == 0:
			route += "/" + seg
		case i == 1:
			route += "/{clientId}"
		case i == 3:
			route += "/{secretId}"
		default:
			route += "/{id}"
		}
	}
	return route
}

// WirePath returns the URL path of a request to the given segments as it goes on the wire
// (escaped), as errors show it; "" when a segment is refused.
func (c *Client) WirePath(segments ...string) string {
	u, err := c.URL(Request{Path: segments})
	if err != nil {
		return ""
	}
	return u.EscapedPath()
}

// Do sends r and, on a 2xx answer, decodes its JSON body into out (unless out is nil or
// the method is HEAD). Any other answer becomes an *identity.Error; an unusable success body
// an *identity.ResponseError. The body is read with a bound, drained and closed on every
// path.
//
// A call whose last attempt got no answer (no connection, or the connection or the time
// ran out before the answer was read) returns an *identity.ConnectionError, which keeps
// the context's error in its chain when the context ended.
func (c *Client) Do(ctx context.Context, r Request, out any) (*Response, error) {
	if ctx == nil {
		return nil, idserver.NilContext()
	}
	u, err := c.URL(r)
	if err != nil {
		return nil, err
	}
	// Errors and logs name the path as it goes on the wire, escaped: what the service saw.
	path := u.EscapedPath()
	if err := ctx.Err(); err != nil {
		// Nothing is sent on a context that has ended already.
		return nil, &notSent{fmt.Errorf("%s %s: %w", r.Method, path, err)}
	}
	var body []byte
	if r.Body != nil {
		if body, err = json.Marshal(r.Body); err != nil {
			return nil, fmt.Errorf("encoding request body: %w", err)
		}
	}
	// Built from the *url.URL at hand: formatting it and parsing it again (as a URL string
	// would) costs a tenth of a small call.
	// Its header is set by each attempt, with the token (try).
	hr := (&http.Request{
		Method: r.Method, URL: u, Host: u.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}).WithContext(ctx)

	route := ""
	if c.tel != nil {
		route = c.route(r.Path)
	}
	start := time.Now()
	resp, tries, err := c.send(ctx, hr, body, path, route, r.Budget)
	if err != nil {
		c.log(ctx, "identity: request failed", slog.String("method", r.Method), slog.String("path", path),
			slog.Int("attempts", tries.n), slog.Duration("elapsed", time.Since(start)), slog.String("error", err.Error()))
		return nil, err
	}
	c.log(ctx, "identity: request", slog.String("method", r.Method), slog.String("path", path),
		slog.Int("status", resp.StatusCode), slog.Int("attempts", tries.n), slog.Duration("elapsed", time.Since(start)))
	readToEnd := false
	defer func() {
		if readToEnd {
			_ = resp.Body.Close()
		} else {
			drain(resp.Body)
		}
	}()

	out2 := &Response{Method: r.Method, Path: path, StatusCode: resp.StatusCode, Header: resp.Header, EarlierAttemptMayHaveActed: tries.mayHaveActed}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, _ := readBounded(resp.Body, c.maxBody, resp.ContentLength)
		return out2, apiError(r.Method, path, resp, data)
	}
	if out == nil || r.Method == http.MethodHead {
		return out2, nil
	}
	if err := decodeBounded(resp.Body, c.maxBody, out); err != nil {
		return out2, &identity.ResponseError{StatusCode: resp.StatusCode, Method: r.Method, Path: path,
			TooLarge: errors.Is(err, errTooLarge), Err: err}
	}
	readToEnd = true // nothing is left to drain
	return out2, nil
}

// decodeBounded decodes one JSON value from body into out as it streams in (no copy of the
// whole body first), reading at most limit bytes. More is errTooLarge; anything but white
// space after the value is an error, as with json.Unmarshal (a value after it is decoded
// into a nil pointer, which fails at once). On success body has been read
// to its end. Errors never quote the input.
func decodeBounded(body io.Reader, limit int64, out any) error {
	lr := &io.LimitedReader{R: body, N: limit + 1}
	dec := json.NewDecoder(lr)
	err := dec.Decode(out)
	if err == nil {
		// A second value, a stray ']' or '}' (which Decoder.More would miss) or a part of
		// one fails; white space alone ends in io.EOF, read to the end of the body.
		switch err = dec.Decode((*struct{})(nil)); {
		case err == io.EOF:
			err = nil
		case isJSONError(err):
			err = errors.New("data after the JSON value")
		}
	} else {
		err = jsonErr(err)
	}
	if lr.N <= 0 {
		return errTooLarge
	}
	return err
}

// isJSONError reports whether err is the decoder's, not the reader's.
func isJSONError(err error) bool {
	var se *json.SyntaxError
	var ue *json.InvalidUnmarshalError
	return errors.As(err, &se) || errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Header values shared by every request (never modified).
var (
	jsonType     = []string{"application/json"}
	jsonBodyType = []string{"application/json; charset=utf-8"}
)

var errTooLarge = errors.New("body exceeds the size limit")

// readBounded reads at most limit bytes; more is errTooLarge. A Content-Length sizes the
// buffer at once (never beyond the limit).
func readBounded(body io.Reader, limit int64, contentLength int64) ([]byte, error) {
	var buf bytes.Buffer
	if contentLength > 0 {
		buf.Grow(int(min(contentLength, limit) + 1))
	}
	_, err := buf.ReadFrom(io.LimitReader(body, limit+1))
	data := buf.Bytes()
	if err != nil {
		return data, err
	}
	if int64(len(data)) > limit {
		return data[:limit], errTooLarge
	}
	return data, nil
}

// jsonErr keeps the kind and position of a decoding error but drops any quoted input, so a
// secret in a broken success body cannot reach the message.
func jsonErr(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Errorf("JSON value of type %s at byte %d does not fit field %s", te.Value, te.Offset, te.Field)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("JSON cut short")
	}
	return errors.New("JSON not decodable")
}

// apiError builds the typed error of a non-2xx answer.
func apiError(method, path string, resp *http.Response, data []byte) *identity.Error {
	e := &identity.Error{StatusCode: resp.StatusCode, Method: method, Path: path}
	if ra, ok := RetryAfter(resp.Header, time.Now()); ok {
		e.RetryAfter = ra
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		// Named by its origin only: the target's path and query (and the body, which
		// repeats them) may carry what is not for logs.
		to := "an unnamed location"
		if loc, err := resp.Location(); err == nil {
			to = rules.Origin(loc)
		}
		e.Resolution = "the SDK never follows redirects; this one pointed to " + to + ": " + idserver.CheckResource
		return e
	}
	var body map[string]json.RawMessage
	if len(bytes.TrimSpace(data)) > 0 && json.Unmarshal(data, &body) == nil && body != nil {
		str := func(k string) string {
			var s string
			if raw, ok := body[k]; ok {
				_ = json.Unmarshal(raw, &s)
				delete(body, k)
			}
			return s
		}
		e.OperationID, e.Code, e.Reason = str("OperationId"), str("Error"), str("Reason")
		e.Resolution, e.EventID = str("Resolution"), str("EventId")
		for k, raw := range body {
			var v any
			if json.Unmarshal(raw, &v) == nil {
				if e.Properties == nil {
					e.Properties = map[string]any{}
				}
				e.Properties[k] = v
			}
		}
		if e.OperationID != "" || e.Code != "" || e.Reason != "" {
			return e
		}
		e.OperationID, e.Code, e.Reason, e.Resolution, e.EventID, e.Properties = "", "", "", "", "", nil
	}
	e.Excerpt = string(data[:min(len(data), 256)])
	return e
}

// CheckContext returns the error of a nil context, for an entry point that uses ctx before
// its first request (a scan derives its own context from it); nil otherwise.
func CheckContext(ctx context.Context) error {
	if ctx == nil {
		return idserver.NilContext()
	}
	return nil
}

// notSent is an error of a call that sent nothing because its context had already ended.
type notSent struct{ error }

func (e *notSent) Unwrap() error { return e.error }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (c *Client) log(ctx context.Context, msg string, attrs ...slog.Attr) {
	if c.logger != nil {
		c.logger.LogAttrs(ctx, slog.LevelDebug, msg, attrs...)
	}
}
