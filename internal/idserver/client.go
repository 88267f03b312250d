package idserver

import (
	"net/http"
	"time"

	"github.com/hashicorp/go-cleanhttp"
)

// NewClient returns an *http.Client that sends through rt, bounded by timeout (zero: no
// bound), never follows a redirect (the 3xx comes back as the answer, for the caller to
// refuse) and has no cookie jar. It is the only place the SDK builds an *http.Client:
// those of API calls, discovery and token requests, sign-in, and the one SignIn hands to
// go-oidc; a test fails when another appears.
func NewClient(rt http.RoundTripper, timeout time.Duration) *http.Client {
	return &http.Client{Transport: rt, Timeout: timeout, CheckRedirect: refuseRedirect}
}

// refuseRedirect returns a 3xx answer as it is, instead of following it.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Base returns what the SDK takes of Config.HTTPClient: its Transport (http.DefaultTransport
// when nil, as net/http does) and its Timeout. For a nil client it returns a new pooled
// transport of the SDK's own and no timeout.
func Base(hc *http.Client) (http.RoundTripper, time.Duration) {
	if hc != nil {
		if hc.Transport == nil {
			return http.DefaultTransport, hc.Timeout
		}
		return hc.Transport, hc.Timeout
	}
	t := cleanhttp.DefaultPooledTransport()
	// At most 64 connections to the service, all kept when idle: 64 concurrent callers
	// never open a 65th, and more callers queue for a connection rather than opening
	// (and then dropping) extra ones. Pass your own HTTPClient for another trade-off.
	t.MaxConnsPerHost = 64
	t.MaxIdleConnsPerHost = 64
	return t, 0
}
