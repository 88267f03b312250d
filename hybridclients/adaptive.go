package hybridclients

import (
	"context"

	"github.com/ocs-go/identity/internal/limit"
)

// adaptive is the limit of one tenant-wide scan: the limit.Adaptive that the
// desired-state apply shares, under the names the scan uses. Its Wait and Done make it
// the transport.Pacer of the scan's context.
type adaptive struct{ *limit.Adaptive }

func newAdaptive(concurrency int) *adaptive { return &adaptive{limit.New(concurrency)} }

func (a *adaptive) acquire(ctx context.Context) error { return a.Acquire(ctx) }

func (a *adaptive) release() { a.Release() }

func (a *adaptive) state() (ratePerSec float64, concurrency, throttles int) { return a.State() }
