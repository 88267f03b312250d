package transport

// The retry policy of API calls, whole, in one loop (send): try (try: the token, the
// pacer's turn, the request), classify (classify), decide (attempts, Budget, deadline,
// capped Retry-After) and wait (waitAfter, sleep); then what the caller learns
// (Response.EarlierAttemptMayHaveActed, failure's *identity.ConnectionError).
//
// The loop is this SDK's own, not go-retryablehttp's Client.Do: that Do asks CheckRetry
// whether to retry and Backoff how long in two callbacks, so a wait that depends on the
// deadline, a Budget shared with the caller's own retries of a POST and a pacer that
// sees each attempt had to be split across callbacks and shared state. What
// go-retryablehttp still does: its DefaultRetryPolicy tells the connection errors no
// retry mends (permanent), and its Client, configured by tokenRetrying, retries
// discovery and token requests, which need none of that. Posts that their caller
// settles itself (create, add): internal/settle.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/idserver"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/telemetry"
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

// tries is what the loop of one call learned about its attempts.
type tries struct {
	n int // attempts made
	// mayHaveActed: an attempt that was retried may have been acted on by the service
	// (sent, then the connection was lost, 408, 5xx): a later 404 on DELETE then means done.
	mayHaveActed bool
}

// send is the retry loop of one call, whole: try (token, pacer, request), classify the
// result, decide (retry or stop), wait. It returns the last answer, or the error the caller
// gets when the last attempt had none. go-retryablehttp classifies the connection errors
// that no retry mends (permanent); the rest is this SDK's policy (see the top of this file).
func (c *Client) send(ctx context.Context, req *http.Request, body []byte, path, route string, budget *Budget) (*http.Response, tries, error) {
	var t tries
	for {
		// Try.
		resp, err := c.try(ctx, req, body, route, t.n)
		t.n++
		if budget != nil {
			budget.left--
		}

		// Classify.
		again, acted := c.policy.classify(req.Method, resp, err)

		// Decide: stop when the policy, the attempts, the budget or the context say so, or
		// when the wait would outlast the deadline or the capped Retry-After: returning the
		// last answer now beats sleeping into a certain failure.
		var wait time.Duration
		if again && t.n < c.policy.MaxAttempts && (budget == nil || budget.left > 0) && ctx.Err() == nil {
			wait = c.policy.waitAfter(t.n, resp)
			if dl, ok := ctx.Deadline(); wait < 0 || (ok && time.Until(dl) < wait) {
				again = false
			}
		} else {
			again = false
		}
		if !again {
			switch {
			case err != nil:
				return nil, t, failure(ctx, req.Method, path, err)
			case ctx.Err() != nil:
				// An answer came, but the caller has gone: it is not read.
				drain(resp.Body)
				return nil, t, fmt.Errorf("%s %s: %w", req.Method, path, ctx.Err())
			}
			return resp, t, nil
		}
		t.mayHaveActed = t.mayHaveActed || acted

		// Wait.
		if resp != nil {
			drain(resp.Body) // so the connection is reused
		}
		c.log(ctx, "identity: retrying", slog.String("method", req.Method), slog.String("path", path),
			slog.Int("attempt", t.n+1), slog.Duration("wait", wait))
		if werr := sleep(ctx, wait); werr != nil {
			if err != nil {
				return nil, t, failure(ctx, req.Method, path, err)
			}
			return nil, t, fmt.Errorf("%s %s: %w", req.Method, path, werr)
		}
	}
}

// try makes attempt n+1 (its span: route's template): the token, the pacer's turn, the
// request. A 401 for a token the credentials can replace is sent once more at once with
// the new token, within the same attempt: the service did not act, and a revoked or
// skewed token is not a transient failure to wait out. An earlier attempt used req, whose
// body and headers the transport may still hold, so a later one sends a copy.
func (c *Client) try(ctx context.Context, req *http.Request, body []byte, route string, n int) (resp *http.Response, err error) {
	if c.tel != nil {
		var at *telemetry.Attempt
		ctx, at = c.tel.Attempt(ctx, req.Method, route, n)
		req = req.WithContext(ctx)
		defer func() {
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			at.End(ctx, status, err)
		}()
	} else if n > 0 {
		req = fresh(req)
	}
	tok, err := c.creds.Token(ctx, c.treq)
	if err != nil {
		return nil, &authFailure{method: req.Method, path: req.URL.EscapedPath(), err: err}
	}
	req.Header = c.headers(tok, body != nil)
	withBody(req, body)
	resp, err = c.roundTrip(ctx, req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	c.creds.Invalidate(tok)
	renewed, err := c.creds.Token(ctx, c.treq)
	if err != nil || renewed.AccessToken == tok.AccessToken {
		return resp, nil
	}
	drain(resp.Body)
	req = fresh(req)
	req.Header = c.headers(renewed, body != nil)
	withBody(req, body)
	return c.roundTrip(ctx, req)
}

// roundTrip sends req once through the base transport, in the turn of the context's
// Pacer (a scan's adaptive limit) when it carries one, and tells the pacer the answer.
func (c *Client) roundTrip(ctx context.Context, req *http.Request) (*http.Response, error) {
	p, _ := ctx.Value(pacerKey{}).(Pacer)
	if p == nil {
		return c.hc.Do(req)
	}
	if err := p.Wait(ctx); err != nil {
		return nil, &notSent{fmt.Errorf("%s %s: %w", req.Method, req.URL.EscapedPath(), err)}
	}
	sent := time.Now()
	resp, err := c.hc.Do(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	p.Done(sent, status)
	return resp, err
}

// fresh returns a copy of req, for another send: the transport may still hold the last.
func fresh(req *http.Request) *http.Request {
	r := *req
	return &r
}

// withBody gives req a reader of body (nil: none).
func withBody(req *http.Request, body []byte) {
	if body == nil {
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
}

// classify says whether an attempt's result may be tried again, and whether the service
// may have acted on that attempt:
//   - idempotent methods (all but POST) are retried on connection errors and
//     retryableStatus;
//   - POST only where the service cannot have acted: 429, or a connection that never
//     opened;
//   - never a failure no retry mends (permanent: bad certificates, the credentials'
//     refusal, an ended context).
//
// A 429 is the only retried answer that says "not done"; a connection error after the
// request was written, 408 and 5xx may have been acted on.
func (p policy) classify(method string, resp *http.Response, err error) (again, acted bool) {
	post := method == http.MethodPost
	if err != nil {
		sent := !idserver.NeverSent(err)
		return !permanent(err) && !(post && sent), sent
	}
	if !retryableStatus(resp.StatusCode) || (post && resp.StatusCode != http.StatusTooManyRequests) {
		return false, false
	}
	return true, resp.StatusCode != http.StatusTooManyRequests
}

// sleep waits d, or until ctx ends (then it returns ctx's error).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// failure is what the caller learns of a call whose last attempt got no answer (err):
//   - the credentials' failure, named once with the call (a discovery or token request
//     that got no answer is an *identity.ConnectionError of this call, never sent);
//   - a call the pacer did not let through (its context ended), as it is;
//   - a network failure is an *identity.ConnectionError, Sent unless no connection was
//     opened, with the context's error kept in the chain when it ended.
func failure(ctx context.Context, method, path string, err error) error {
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
	var ns *notSent
	if errors.As(err, &ns) {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		err = fmt.Errorf("%w (%w)", ctxErr, err)
	}
	return idserver.ConnectionError(method, path, err)
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
	return sleep(ctx, d)
}

func formatSeconds(d time.Duration) string {
	return itoa(int64((d + time.Second - 1) / time.Second))
}

// RetryAfter parses a Retry-After header: delay-seconds or an HTTP date, at most a day
// (rules.RetryAfter).
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	return rules.RetryAfter(h.Get("Retry-After"), now)
}

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
