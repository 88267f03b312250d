package transport

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/ocs-go/identity"
)

// Outcome is what an error of Do says about whether the service acted on the request.
type Outcome int

const (
	// Done: no error.
	Done Outcome = iota
	// NotActed: the service cannot have acted (refused locally, never sent, rejected
	// with a 4xx other than 408, or rate limited).
	NotActed
	// ActedUnreadable: the service answered 2xx, so it acted, but the answer was unusable.
	ActedUnreadable
	// Unknown: the request may or may not have been acted on (connection lost after
	// sending, 408, 5xx, context ended while waiting for the answer).
	Unknown
)

// OutcomeOf classifies an error returned by Do.
func OutcomeOf(err error) Outcome {
	if err == nil {
		return Done
	}
	var ve *identity.ValidationError
	var re *identity.ResponseError
	var ae *identity.Error
	var af *authFailure
	var ns *notSent
	var ce *identity.ConnectionError
	switch {
	case errors.As(err, &ve), errors.As(err, &af), errors.As(err, &ns):
		return NotActed
	case errors.As(err, &ce):
		if ce.Sent {
			return Unknown
		}
		return NotActed
	case errors.As(err, &re):
		return ActedUnreadable
	case errors.As(err, &ae):
		if ae.StatusCode == http.StatusRequestTimeout || ae.StatusCode >= 500 {
			return Unknown
		}
		return NotActed
	case neverSent(err):
		return NotActed
	}
	return Unknown
}

// Wait sleeps before the next try of a call that the caller retries itself (after
// attempts tries so far), with the same backoff as the retry layer and err's Retry-After.
// It returns an error instead when the context ends first or its deadline would pass.
func (c *Client) Wait(ctx context.Context, attempts int, err error) error {
	if ctx == nil {
		return errNilContext()
	}
	var resp *http.Response
	var ae *identity.Error
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		resp = &http.Response{Header: http.Header{"Retry-After": {formatSeconds(ae.RetryAfter)}}}
	}
	d := c.policy.backoffFor(attempts, resp)
	if d < 0 {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.DeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Settled returns err for a call whose outcome the caller has established after all (it
// looked, and the service did not act): the same message and chain for errors.As, but it
// no longer matches identity.ErrOutcomeUnknown, which err's *identity.ConnectionError of
// a write would.
func Settled(err error) error {
	if err == nil || !errors.Is(err, identity.ErrOutcomeUnknown) {
		return err
	}
	return &settled{err}
}

type settled struct{ err error }

func (s *settled) Error() string { return s.err.Error() }

// Is matches what err matches, except ErrOutcomeUnknown.
func (s *settled) Is(target error) bool {
	return target != identity.ErrOutcomeUnknown && errors.Is(s.err, target)
}

// As finds what err holds.
func (s *settled) As(target any) bool { return errors.As(s.err, target) }

// MaxAttempts is the configured number of tries of one call.
func (c *Client) MaxAttempts() int { return c.policy.MaxAttempts }

func formatSeconds(d time.Duration) string {
	return itoa(int64((d + time.Second - 1) / time.Second))
}

// Budget bounds the attempts of a POST that its caller retries itself (create a client,
// add a secret): the retry layer's own retries (after a 429, or a connection that never
// opened) and the caller's retries draw on one count, so one call never sends more than
// RetryPolicy.MaxAttempts POSTs in all. It is used by one call, not shared.
type Budget struct{ left int }

// NewBudget returns a Budget of n attempts.
func NewBudget(n int) *Budget { return &Budget{left: n} }

// Left is the number of attempts not yet used.
func (b *Budget) Left() int { return b.left }

type budgetKey struct{}

// budgetFrom returns the Budget of a request's context, or nil.
func budgetFrom(ctx context.Context) *Budget {
	b, _ := ctx.Value(budgetKey{}).(*Budget)
	return b
}

// withinBudget wraps a CheckRetry so that no retry is made once the call's Budget is spent.
func withinBudget(check func(context.Context, *http.Response, error) (bool, error)) func(context.Context, *http.Response, error) (bool, error) {
	return func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if b := budgetFrom(ctx); b != nil && b.left <= 0 {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return false, nil
		}
		return check(ctx, resp, err)
	}
}
