package transport

import (
	"context"
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
