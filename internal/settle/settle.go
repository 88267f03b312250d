// Package settle sends a POST that the service does not make idempotent (create a client,
// add a secret) and settles an outcome that a lost answer left unknown: look at what the
// service holds, decide, and post again, all within one budget of RetryPolicy.MaxAttempts
// POSTs. What a look may prove and delete is the operation's own business (its Look); the
// loop, the budget, the waits and the re-reading of unreadable checks are written once, here.
package settle

import (
	"context"
	"errors"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/transport"
)

// Op is one create, described by its own steps.
type Op[T any] struct {
	// Post sends the request once; the retry layer's own retries (after a 429, or a
	// connection that never opened) draw on b.
	Post func(ctx context.Context, b *transport.Budget) (T, error)
	// Look finds out what the attempts not yet looked at did, after failure (acted: a 2xx
	// answered, so the service acted), and decides: a result (done), again (nothing of this
	// call is left, or what was is deleted: post again), or the error the caller gets,
	// naming what may be left.
	Look func(ctx context.Context, failure error, acted bool) (v T, again bool, err error)
	// SafeToRepeat: a POST repeated after an unknown outcome cannot act twice (a create
	// with the same client id meets 409), so Look runs only once posting stops. Otherwise
	// (an add, which a repeat would do twice) Look runs after every unknown outcome.
	SafeToRepeat bool
}

// Post runs op: post; on an unknown outcome look, decide, and post again while the budget
// of t.MaxAttempts() POSTs, the waits of the retry policy and ctx allow. An answer that
// says the service did not act ends it at once, unless an earlier attempt's outcome is
// still unknown: then Look settles that one.
func Post[T any](ctx context.Context, t *transport.Client, op Op[T]) (T, error) {
	budget := transport.NewBudget(t.MaxAttempts())
	unlooked := false // an attempt whose outcome is unknown has not been looked at
	for attempt := 1; ; attempt++ {
		v, err := op.Post(ctx, budget)
		outcome := transport.OutcomeOf(err)
		switch {
		case outcome == transport.Done:
			return v, nil
		case outcome == transport.NotActed && !unlooked:
			return v, err
		case outcome == transport.Unknown && op.SafeToRepeat:
			unlooked = true
			if budget.Left() > 0 && t.Wait(ctx, attempt, err) == nil {
				continue
			}
		}
		v, again, lerr := op.Look(ctx, err, outcome == transport.ActedUnreadable)
		if !again || budget.Left() <= 0 || t.Wait(ctx, attempt, err) != nil {
			return v, lerr
		}
		unlooked = false
	}
}

// Read runs read (an idempotent GET) and runs it again, with the retry policy's wait,
// after an unusable 2xx answer (cut short, not JSON), which the retry layer does not
// retry, while attempts and ctx allow: one unreadable check must not end a settling with
// time to spare. (Connection errors and 5xx were retried by the retry layer already.)
func Read[T any](ctx context.Context, t *transport.Client, read func(context.Context) (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := read(ctx)
		if err == nil || !errors.Is(err, identity.ErrInvalidResponse) || attempt >= t.MaxAttempts() || t.Wait(ctx, attempt, err) != nil {
			return v, err
		}
	}
}

// NamingTimeout bounds the one look past the caller's deadline that names what a failed
// settling may have left (it never deletes anything).
const NamingTimeout = 10 * time.Second

// ForNaming returns the context of that look: ctx's values without its end, bounded by
// NamingTimeout. It is used also while ctx still runs: the failure may be the retry layer
// giving up early (a wait that would outlast the deadline), and a look under ctx could
// fail the same way, leaving something no field names.
func ForNaming(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), NamingTimeout)
}

// Look reads what a lost answer may have left (Read). When that fails for any reason, it
// reads again under ForNaming (Persist) and returns checkErr, the first failure: the caller may
// then name what it sees, but must delete nothing on its strength, as a request still in
// flight may yet act. err is set when the naming read failed too.
func Look[T any](ctx context.Context, t *transport.Client, read func(context.Context) (T, error)) (v T, checkErr, err error) {
	v, err = Read(ctx, t, read)
	if err == nil {
		return v, nil, nil
	}
	nctx, cancel := ForNaming(ctx)
	defer cancel()
	if v, nerr := Persist(nctx, t, read); nerr == nil {
		return v, err, nil
	}
	var zero T
	return zero, err, err
}

// Persist runs Read again and again, with the retry policy's wait, until it succeeds,
// fails for good (not found, forbidden, a bad request or input), or ctx ends. It is for
// the naming look, which has up to NamingTimeout: the retry layer's attempts can be used
// up in milliseconds by passing failures (5xx, 429, cut connections), and giving up then
// would leave what a lost answer made with no id in any field.
func Persist[T any](ctx context.Context, t *transport.Client, read func(context.Context) (T, error)) (T, error) {
	for round := 1; ; round++ {
		v, err := Read(ctx, t, read)
		if err == nil || lasting(err) || t.Wait(ctx, round, err) != nil {
			return v, err
		}
	}
}

// lasting reports whether err will not go away by asking again.
func lasting(err error) bool {
	return errors.Is(err, identity.ErrNotFound) || errors.Is(err, identity.ErrForbidden) ||
		errors.Is(err, identity.ErrBadRequest) || errors.Is(err, identity.ErrInvalidInput)
}
