package transport

import (
	"io"
	"net/http"

	"github.com/ocs-go/identity/internal/rules"
	"golang.org/x/oauth2"
)

// bearer is a token and the header maps of the requests that carry it, built once per
// token (shared, never modified).
type bearer struct {
	tok   *oauth2.Token
	plain http.Header // Accept, User-Agent, Authorization
	json  http.Header // the same and Content-Type, for a request with a JSON body
}

// headers returns the header map of a request with tok (with a JSON body or not). The
// token goes only with requests to the tenant's routes, whose URLs the Client builds on
// the Resource's origin and never lets a redirect change. The map is shared by every
// request with that token when the base transport only reads it (shareHeaders), else
// each request gets its own copy.
func (c *Client) headers(tok *oauth2.Token, withBody bool) http.Header {
	b := c.last.Load()
	if b == nil || b.tok != tok {
		auth := []string{"Bearer " + tok.AccessToken}
		b = &bearer{tok: tok,
			plain: http.Header{"Accept": jsonType, "User-Agent": c.uaHeader, "Authorization": auth},
			json:  http.Header{"Accept": jsonType, "User-Agent": c.uaHeader, "Authorization": auth, "Content-Type": jsonBodyType},
		}
		c.last.Store(b)
	}
	h := b.plain
	if withBody {
		h = b.json
	}
	if !c.shareHeaders {
		h = h.Clone()
	}
	return h
}

// authFailure wraps an error of the credentials, so the retry policy does not retry it
// (the token client has already retried what was transient). It names the call once:
// "GET /api/...: getting a token: ...", without the prefix of the credentials' Token.
type authFailure struct {
	method, path string
	err          error
}

func (e *authFailure) Error() string {
	return e.method + " " + e.path + ": getting a token: " + rules.Unprefixed(e.err).Error()
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
