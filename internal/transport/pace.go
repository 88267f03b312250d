package transport

import (
	"context"
	"net/http"
	"time"
)

// Pacer paces and observes every attempt (first tries and retries alike) of the calls
// whose context carries it: the adaptive limit of a tenant-wide scan. An attempt waits in
// Wait before it is sent, and its outcome is reported to Done with the time it was sent,
// so a pacer can tell the answers to requests sent before it slowed down from those sent
// after.
type Pacer interface {
	// Wait blocks until an attempt may be sent, or ctx ends (then it returns ctx's error).
	Wait(ctx context.Context) error
	// Done reports an attempt's answer: its status, 0 when no answer was read.
	Done(sent time.Time, status int)
}

type pacerKey struct{}

// WithPacer returns a context whose calls are paced by p.
func WithPacer(ctx context.Context, p Pacer) context.Context {
	return context.WithValue(ctx, pacerKey{}, p)
}

// paced is the base transport's wrapper that lets a context's Pacer see each attempt.
// A call without a Pacer pays one context lookup.
type paced struct{ base http.RoundTripper }

func (t paced) RoundTrip(r *http.Request) (*http.Response, error) {
	p, _ := r.Context().Value(pacerKey{}).(Pacer)
	if p == nil {
		return t.base.RoundTrip(r)
	}
	if err := p.Wait(r.Context()); err != nil {
		if r.Body != nil {
			_ = r.Body.Close() // a RoundTripper must close the body, even on error
		}
		return nil, err
	}
	sent := time.Now()
	resp, err := t.base.RoundTrip(r)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	p.Done(sent, status)
	return resp, err
}

func (t paced) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
