// Package settle sends a POST that the service does not make idempotent (create a client,
// add a secret) and settles an outcome that a lost answer left unknown, all within one
// budget of RetryPolicy.MaxAttempts POSTs:
//
//   - Repeat is for a POST that a repeat cannot make act twice (a create whose client id
//     the SDK chose meets 409): it posts again while the outcome is unknown, and tells the
//     caller when it must settle what an attempt may have done, once, after the loop;
//   - Post is for a POST that a repeat would do twice (an add): after every unknown
//     outcome it looks (the operation's Look: what may it prove and delete?) and posts
//     again only when the look says nothing of this call is left.
//
// Reading what a lost answer left is written once too: Read (an unusable answer read
// again), Check (Read, then a naming read when it fails) and ReadPatiently.
package settle

import (
	"context"
	"errors"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/transport"
)

// Posted is the end of Repeat.
type Posted[T any] struct {
	Value T     // the answer, when Err is nil
	Err   error // the last attempt's error
	// Unsettled: an attempt's outcome is unknown (Err, or an earlier attempt: a 409 after
	// a lost answer may be this call's own client), and the caller must find out what it did.
	Unsettled bool
	// Acted: a 2xx answered, so the service acted, but the answer was unusable.
	Acted bool
}

// Repeat posts while the outcome is unknown (a lost connection, 408, 5xx), with the retry
// policy's waits, until an answer says what happened or the budget of t.MaxAttempts()
// POSTs (the retry layer's own retries included) or ctx ends.
func Repeat[T any](ctx context.Context, t *transport.Client, post func(context.Context, *transport.Budget) (T, error)) Posted[T] {
	budget := transport.NewBudget(t.MaxAttempts())
	unknown := false // an attempt's outcome is unknown
	for attempt := 1; ; attempt++ {
		v, err := post(ctx, budget)
		switch transport.OutcomeOf(err) {
		case transport.Done:
			return Posted[T]{Value: v}
		case transport.NotActed:
			return Posted[T]{Value: v, Err: err, Unsettled: unknown}
		case transport.ActedUnreadable:
			return Posted[T]{Err: err, Unsettled: true, Acted: true}
		}
		unknown = true
		if budget.Left() <= 0 || t.Wait(ctx, attempt, err) != nil {
			return Posted[T]{Err: err, Unsettled: true}
		}
	}
}

// Op is one add, described by its own steps.
type Op[T any] struct {
	// Post sends the request once; the retry layer's own retries (after a 429, or a
	// connection that never opened) draw on b.
	Post func(ctx context.Context, b *transport.Budget) (T, error)
	// Look finds out what the attempt did, after failure (acted: a 2xx answered, so the
	// service acted), and decides: again (nothing of this call is left, or what was is
	// deleted: post again), or the error the caller gets, naming what may be left.
	Look func(ctx context.Context, failure error, acted bool) (again bool, err error)
}

// Post runs op: post; after an unknown outcome look, decide, and post again while the
// budget of t.MaxAttempts() POSTs, the waits of the retry policy and ctx allow. An answer
// that says the service did not act ends it at once.
func Post[T any](ctx context.Context, t *transport.Client, op Op[T]) (T, error) {
	budget := transport.NewBudget(t.MaxAttempts())
	for attempt := 1; ; attempt++ {
		v, err := op.Post(ctx, budget)
		outcome := transport.OutcomeOf(err)
		if outcome == transport.Done || outcome == transport.NotActed {
			return v, err
		}
		again, lerr := op.Look(ctx, err, outcome == transport.ActedUnreadable)
		if !again || budget.Left() <= 0 || t.Wait(ctx, attempt, err) != nil {
			var zero T
			return zero, lerr
		}
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

// NamingContext returns the context of that look: ctx's values without its end, bounded
// by NamingTimeout. It is used also while ctx still runs: the failure may be the retry
// layer giving up early (a wait that would outlast the deadline), and a look under ctx
// could fail the same way, leaving something no field names.
func NamingContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), NamingTimeout)
}

// Checked is what Check learned.
type Checked[T any] struct {
	// Value is what was read, when Seen.
	Value T
	// Seen: Value was read, by the check itself or by the naming read after it failed.
	Seen bool
	// Err is the check's own failure. When it is set, Value (if Seen) came from the
	// naming read: the caller may name what it shows, but must delete nothing on its
	// strength, as a request still in flight may yet act.
	Err error
}

// Check reads what a lost answer may have left (Read). When that fails for any reason, it
// reads again under NamingContext (ReadPatiently), only so that the caller can name what
// may be left.
func Check[T any](ctx context.Context, t *transport.Client, read func(context.Context) (T, error)) Checked[T] {
	v, err := Read(ctx, t, read)
	if err == nil {
		return Checked[T]{Value: v, Seen: true}
	}
	nctx, cancel := NamingContext(ctx)
	defer cancel()
	v, nerr := ReadPatiently(nctx, t, read)
	return Checked[T]{Value: v, Seen: nerr == nil, Err: err}
}

// ReadPatiently runs Read again and again, with the retry policy's wait, until it
// succeeds, fails for good (not found, forbidden, a bad request or input), or ctx ends.
// It is for the naming look, which has up to NamingTimeout: the retry layer's attempts
// can be used up in milliseconds by passing failures (5xx, 429, cut connections), and
// giving up then would leave what a lost answer made with no id in any field.
func ReadPatiently[T any](ctx context.Context, t *transport.Client, read func(context.Context) (T, error)) (T, error) {
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
