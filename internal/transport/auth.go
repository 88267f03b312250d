package transport

import (
	"io"
	"strings"

	"golang.org/x/oauth2"
)

// bearer is a token and its Authorization header value (shared, never modified).
type bearer struct {
	tok    *oauth2.Token
	header []string
}

// header returns the Authorization value for tok, built once per token: the token goes
// only with requests to the tenant's routes, whose URLs the Client builds on the
// Resource's origin and never lets a redirect change.
func (c *Client) header(tok *oauth2.Token) []string {
	if b := c.last.Load(); b != nil && b.tok == tok {
		return b.header
	}
	b := &bearer{tok: tok, header: []string{"Bearer " + tok.AccessToken}}
	c.last.Store(b)
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

// drain reads what is left of a body, bounded, and closes it, so the connection can be
// reused.
func drain(body io.ReadCloser) {
	if body == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}
