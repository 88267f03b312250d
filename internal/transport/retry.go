package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/ocs-go/identity"
)

// callState travels in the request's context so that the retry policy and the backoff,
// which go-retryablehttp calls separately, agree on one decision per attempt.
type callState struct {
	method   string
	attempts int           // attempts made so far
	nextWait time.Duration // decided by checkRetry, used by backoff
	// unknown is set when a retried attempt may have been acted on by the service (a
	// connection error after sending, 408, 5xx): a later 404 on DELETE then means done.
	unknown bool
	// lastErr is the network error of the last attempt, nil when it had an answer.
	lastErr error
}

type stateKey struct{}

func stateFrom(ctx context.Context) *callState {
	s, _ := ctx.Value(stateKey{}).(*callState)
	return s
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

// policy decides retries for API calls. It is go-retryablehttp's CheckRetry and Backoff.
type policy struct {
	identity.RetryPolicy
}

// checkRetry: idempotent methods retry on connection errors and retryableStatus; POST only
// where the service cannot have acted (429, or the connection never opened). A wait that
// would outlast the context's deadline, or a Retry-After over the cap, ends the retries
// at once with the last answer instead of sleeping into a certain failure.
func (p policy) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	st := stateFrom(ctx)
	if st != nil {
		st.lastErr = err
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if st == nil {
		return false, nil
	}
	idempotent := st.method != http.MethodPost
	if err != nil {
		if permanent(err) {
			return false, nil
		}
		if !idempotent && !neverSent(err) {
			return false, nil
		}
	} else {
		if !retryableStatus(resp.StatusCode) || (!idempotent && resp.StatusCode != http.StatusTooManyRequests) {
			return false, nil
		}
	}
	wait := p.backoffFor(st.attempts, resp)
	if wait < 0 {
		return false, nil // Retry-After beyond the cap
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return false, nil
	}
	st.nextWait = wait
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		st.unknown = true
	}
	return true, nil
}

// backoff is go-retryablehttp's Backoff: it returns what checkRetry decided.
func (p policy) backoff(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && resp.Request != nil {
		if st := stateFrom(resp.Request.Context()); st != nil {
			return st.nextWait
		}
	}
	return p.backoffFor(attempt+1, resp)
}

// backoffFor returns the wait after the given number of attempts: the server's Retry-After
// when it sent one (-1 when that exceeds MaxRetryAfter), else exponential from MinWait,
// capped at MaxWait, with jitter over the upper half so concurrent clients spread out.
// It is never less than MinWait: a "Retry-After: 0" or a date in the past does not make
// retries go back to back.
func (p policy) backoffFor(attempts int, resp *http.Response) time.Duration {
	if resp != nil {
		if ra, ok := RetryAfter(resp.Header, time.Now()); ok {
			if ra > p.MaxRetryAfter {
				return -1
			}
			return max(ra, p.MinWait)
		}
	}
	d := p.MinWait
	for i := 1; i < attempts && d < p.MaxWait; i++ {
		d *= 2
	}
	d = min(d, p.MaxWait)
	return max(d/2+rand.N(d/2+1), p.MinWait)
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

// handshakeFailed reports a TLS handshake that failed: the request was never written.
func handshakeFailed(err error) bool {
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &rh) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// neverSent reports whether err shows that the request cannot have reached the service:
// the connection was never established (refused, no route, name not found).
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}
