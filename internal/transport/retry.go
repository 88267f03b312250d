package transport

// The retry policy, whole: which requests are tried again (check), how long to wait
// (waitAfter), how attempts are counted (attempts, Budget), and what the caller learns
// (Response.EarlierAttemptMayHaveActed from attempts.mayHaveActed; failure's
// *identity.ConnectionError). go-retryablehttp runs the loop (try, check, wait, try
// again); this file is everything it is told, for API calls (call) and for token
// requests (tokenRetrying). Posts that their caller settles itself: internal/settle.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/idserver"
)

// policy is the configured RetryPolicy, defaults filled in.
type policy struct {
	identity.RetryPolicy
}

// retryableStatus reports whether an idempotent request answered with status may be tried
// again.
func retryableStatus(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// attempts is the retry state of one call of Do. go-retryablehttp asks check whether to
// retry and then backoff how long to wait, in two calls; the wait must be known when
// deciding (a wait past the deadline ends the retries), so check decides it once and
// backoff returns it. The value belongs to one call and is never shared.
type attempts struct {
	policy
	method string
	budget *Budget // nil, or the count shared with the caller's own retries of a POST

	n    int           // attempts made so far
	wait time.Duration // decided by check, returned by backoff
	// mayHaveActed: an attempt that was retried may have been acted on by the service
	// (a connection error after sending, 408, 5xx): a later 404 on DELETE then means done.
	mayHaveActed bool
	lastErr      error // the last attempt's network error, nil when it had an answer
}

// call is one call's attempts and the go-retryablehttp client that asks them, its logger
// off (ours is slog), the policy of the attempts as its CheckRetry and Backoff, and the
// last answer or error returned as they are (Do maps them). A call is used by one Do at a
// time and then kept in the Client's pool: made anew for each request, the pair costs
// four allocations (the client, the attempts, two method values), 3% of a Get.
type call struct {
	attempts
	rc retryablehttp.Client
}

// call returns a call for one request, from the pool when it has one; release returns it.
func (c *Client) call(method string, budget *Budget) *call {
	k, _ := c.calls.Get().(*call)
	if k == nil {
		k = &call{}
		k.rc = retryablehttp.Client{
			HTTPClient:     c.hc,
			Logger:         nil, // its default logger prints to stderr
			CheckRetry:     k.check,
			Backoff:        k.backoff,
			ErrorHandler:   retryablehttp.PassthroughErrorHandler,
			RequestLogHook: c.logRetry,
		}
	}
	k.attempts = attempts{policy: c.policy, method: method, budget: budget}
	k.rc.RetryMax = k.MaxAttempts - 1
	return k
}

func (c *Client) release(k *call) {
	k.attempts = attempts{}
	c.calls.Put(k)
}

// logRetry is go-retryablehttp's RequestLogHook: a debug line for each attempt after the
// first.
func (c *Client) logRetry(_ retryablehttp.Logger, r *http.Request, attempt int) {
	if attempt > 0 {
		c.log(r.Context(), "identity: retrying", slog.String("method", r.Method),
			slog.String("path", r.URL.EscapedPath()), slog.Int("attempt", attempt+1))
	}
}

// check is go-retryablehttp's CheckRetry, called once after each attempt:
//   - idempotent methods (all but POST) retry on connection errors and retryableStatus;
//   - POST retries only where the service cannot have acted: 429, or a connection that
//     never opened; and never once its Budget is spent;
//   - a wait that would outlast the context's deadline, or a Retry-After over
//     MaxRetryAfter, ends the retries at once with the last answer, instead of sleeping
//     into a certain failure.
func (a *attempts) check(ctx context.Context, resp *http.Response, err error) (bool, error) {
	a.n++
	a.lastErr = err
	if a.budget != nil {
		a.budget.left--
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if a.budget != nil && a.budget.left <= 0 {
		return false, nil
	}
	post := a.method == http.MethodPost
	switch {
	case err != nil && (permanent(err) || (post && !idserver.NeverSent(err))):
		return false, nil
	case err == nil && (!retryableStatus(resp.StatusCode) || (post && resp.StatusCode != http.StatusTooManyRequests)):
		return false, nil
	}
	wait := a.waitAfter(a.n, resp)
	if wait < 0 {
		return false, nil // Retry-After beyond the cap
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return false, nil
	}
	a.wait = wait
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		a.mayHaveActed = true // a 429 is the only retried answer that says "not done"
	}
	return true, nil
}

// backoff is go-retryablehttp's Backoff: the wait check decided.
func (a *attempts) backoff(_, _ time.Duration, _ int, _ *http.Response) time.Duration {
	return a.wait
}

// failure turns the error of the retry layer into what the caller learns:
//   - the credentials' failure, named once with the call (a discovery or token request
//     that got no answer is an *identity.ConnectionError of this call, never sent);
//   - the last attempt's network failure (the context's error kept in the chain when it
//     ended) is an *identity.ConnectionError, Sent unless no connection was opened;
//   - the context ending after an answer (while waiting to retry) stays that error.
func (a *attempts) failure(ctx context.Context, method, path string, err error) error {
	err = unwrapURLError(err)
	var af *authFailure
	if errors.As(err, &af) {
		var ce *identity.ConnectionError
		if errors.As(af.err, &ce) {
			return &identity.ConnectionError{Method: method, Path: path, Sent: false,
				Err: fmt.Errorf("getting a token: %s %s: %w", ce.Method, ce.Path, ce.Err)}
		}
		return af
	}
	ctxErr := ctx.Err()
	netErr := a.lastErr
	if netErr == nil {
		if ctxErr != nil && a.n > 0 && !errors.Is(err, ctxErr) {
			return fmt.Errorf("identity: %s %s: %w (%w)", method, path, ctxErr, err)
		}
		if ctxErr != nil || a.n == 0 {
			// The last attempt had an answer; the context ended before the next one.
			return fmt.Errorf("identity: %s %s: %w", method, path, err)
		}
		netErr = err
	}
	netErr = unwrapURLError(netErr)
	if ctxErr != nil && !errors.Is(netErr, ctxErr) {
		netErr = fmt.Errorf("%w (%w)", ctxErr, netErr)
	}
	return idserver.ConnectionError(method, path, netErr)
}

// unwrapURLError drops net/http's *url.Error wrapper, whose message repeats the whole URL
// with its query; the caller's message names method and path instead.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// waitAfter returns the wait after n attempts: the server's Retry-After when it sent one
// (-1 when that exceeds MaxRetryAfter), else exponential from MinWait, capped at MaxWait,
// with jitter over the upper half so concurrent clients spread out. It is never less than
// MinWait: a "Retry-After: 0" or a date in the past does not make retries go back to back.
func (p policy) waitAfter(n int, resp *http.Response) time.Duration {
	if resp != nil {
		if ra, ok := RetryAfter(resp.Header, time.Now()); ok {
			if ra > p.MaxRetryAfter {
				return -1
			}
			return max(ra, p.MinWait)
		}
	}
	d := p.MinWait
	for i := 1; i < n && d < p.MaxWait; i++ {
		d *= 2
	}
	d = min(d, p.MaxWait)
	return max(d/2+rand.N(d/2+1), p.MinWait)
}

// tokenRetrying returns go-retryablehttp set up for token and discovery requests through
// hc: retried on connection errors and 5xx only, never on a 4xx (a wrong secret does not
// get better by asking again), with the policy's exponential wait (a token endpoint's
// Retry-After is not read).
func (p policy) tokenRetrying(hc *http.Client) *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient: hc,
		Logger:     nil,
		RetryMax:   p.MaxAttempts - 1,
		CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			if err != nil {
				return !permanent(err), nil
			}
			return resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented, nil
		},
		Backoff: func(_, _ time.Duration, n int, _ *http.Response) time.Duration {
			return p.waitAfter(n+1, nil)
		},
		ErrorHandler: responseOrError,
	}
}

// responseOrError is the token client's go-retryablehttp ErrorHandler: the last response
// when there is no error, else the error alone (its response drained). A RoundTripper
// must not return both: net/http would log "RoundTripper returned a response & error"
// through the standard logger.
func responseOrError(resp *http.Response, err error, _ int) (*http.Response, error) {
	if err != nil {
		if resp != nil {
			drain(resp.Body)
		}
		return nil, err
	}
	return resp, nil
}

// Budget bounds the attempts of a POST that its caller retries itself (internal/settle):
// this policy's retries (after a 429, or a connection that never opened) and the
// caller's draw on one count, so one call never sends more than RetryPolicy.MaxAttempts
// POSTs in all. It is used by one call, not shared.
type Budget struct{ left int }

// NewBudget returns a Budget of n attempts.
func NewBudget(n int) *Budget { return &Budget{left: n} }

// Left is the number of attempts not yet used.
func (b *Budget) Left() int { return b.left }

// MaxAttempts is the configured number of tries of one call.
func (c *Client) MaxAttempts() int { return c.policy.MaxAttempts }

// Wait sleeps before the next try of a call that the caller retries itself (after n tries
// so far), with this policy's wait and err's Retry-After. It returns an error instead
// when the context ends first or its deadline would pass.
func (c *Client) Wait(ctx context.Context, n int, err error) error {
	if ctx == nil {
		return idserver.NilContext()
	}
	var resp *http.Response
	var ae *identity.Error
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		resp = &http.Response{Header: http.Header{"Retry-After": {formatSeconds(ae.RetryAfter)}}}
	}
	d := c.policy.waitAfter(n, resp)
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

func formatSeconds(d time.Duration) string {
	return itoa(int64((d + time.Second - 1) / time.Second))
}

// RetryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' && strings.Trim(v, "0123456789") == "" {
		// delay-seconds; a number too large to parse still says "wait very long".
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil || s > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if t.After(now.Add(maxRetryAfter)) {
			return maxRetryAfter, true
		}
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// maxRetryAfter bounds what RetryAfter returns, so no arithmetic on it can overflow; any
// Retry-After that long is over every sensible RetryPolicy.MaxRetryAfter anyway.
const maxRetryAfter = 24 * time.Hour

// permanent reports connection-level errors that a retry cannot mend: bad certificates,
// bad schemes, too many redirects, and refusals by the auth layer.
func permanent(err error) bool {
	var ae *authFailure
	if errors.As(err, &ae) {
		return true
	}
	ok, _ := retryablehttp.DefaultRetryPolicy(context.Background(), nil, err)
	return !ok
}
