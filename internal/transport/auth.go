package transport

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/rules"
	"golang.org/x/oauth2"
)

// authTransport adds the bearer token to requests for the resource's own origin, and to no
// other. Redirects are not followed (the SDK's clients refuse them); this check keeps the
// token home should a request for another origin ever reach it. On a 401 for a token it
// believed valid, it fetches a new token once and tries once more.
//
// It deliberately has no CloseIdleConnections method: go-retryablehttp calls that after a
// failed call, which would throw away pooled connections that are still good.
type authTransport struct {
	base   http.RoundTripper
	creds  identity.Credentials
	treq   identity.TokenRequest
	origin *url.URL
	last   atomic.Pointer[bearer] // the header value of the last token, built once per token
}

// bearer is a token and its Authorization header value (shared, never modified).
type bearer struct {
	tok    *oauth2.Token
	header []string
}

// header returns the Authorization value for tok.
func (t *authTransport) header(tok *oauth2.Token) []string {
	if b := t.last.Load(); b != nil && b.tok == tok {
		return b.header
	}
	b := &bearer{tok: tok, header: []string{"Bearer " + tok.AccessToken}}
	t.last.Store(b)
	return b.header
}

// authFailure wraps an error of the credentials, so the retry policy does not retry it
// (the token client has already retried what was transient). It names the call once:
// "identity: GET /api/...: getting a token: ...".
type authFailure struct {
	method, path string
	err          error
}

func (e *authFailure) Error() string {
	return "identity: " + e.method + " " + e.path + ": getting a token: " + strings.TrimPrefix(e.err.Error(), "identity: ")
}
func (e *authFailure) Unwrap() error { return e.err }

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !rules.SameOrigin(req.URL, t.origin) {
		req = req.Clone(req.Context())
		req.Header.Del("Authorization")
		return t.base.RoundTrip(req)
	}
	tok, err := t.creds.Token(req.Context(), t.treq)
	if err != nil {
		closeBody(req)
		return nil, &authFailure{method: req.Method, path: req.URL.EscapedPath(), err: err}
	}
	resp, err := t.base.RoundTrip(withToken(req, t.header(tok), req.Body))
	if err != nil || resp.StatusCode != http.StatusUnauthorized || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
		return resp, err
	}
	// The token was rejected although it looked valid (revoked, clock skew): once more
	// with a new one, if the credentials can give a different token.
	t.creds.Invalidate(tok)
	fresh, ferr := t.creds.Token(req.Context(), t.treq)
	if ferr != nil || fresh.AccessToken == tok.AccessToken {
		return resp, nil
	}
	body := req.Body
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	drain(resp.Body)
	return t.base.RoundTrip(withToken(req, t.header(fresh), body))
}

// withToken returns a shallow copy of req with its own header map holding the token: a
// RoundTripper must not change the request it was given (a deep Clone would copy more
// than the headers for nothing).
func withToken(req *http.Request, authorization []string, body io.ReadCloser) *http.Request {
	r := *req
	r.Body = body
	r.Header = make(http.Header, len(req.Header)+1)
	for k, v := range req.Header {
		r.Header[k] = v
	}
	r.Header["Authorization"] = authorization
	return &r
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// drain reads what is left of a body, bounded, and closes it, so the connection can be
// reused.
func drain(body io.ReadCloser) {
	if body == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}
