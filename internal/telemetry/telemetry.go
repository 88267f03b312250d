// Package telemetry is the SDK's OpenTelemetry instrumentation, named in one place so that
// each call site is one line: a span per SDK operation (Start, End) with a child span per
// HTTP attempt (Attempt), and the metrics of requests, retries, 429s, token requests,
// rotations and secret expiry.
//
// It uses the OpenTelemetry API only; the program chooses the SDK and exporters through
// identity.Config's providers. A nil *Telemetry (no provider set) records nothing and
// costs a nil check.
//
// What is recorded is fixed here, by allow-list: operation names, client ids (only GUIDs,
// so never a credential passed in an id's place), HTTP methods, route templates,
// status codes, counts, outcomes and error kinds. Never a secret value, a token, a header,
// a body, a query, an error message or a description.
package telemetry

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/rules"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of every span and instrument.
const ScopeName = "github.com/ocs-go/identity"

// Attribute keys of the SDK's own (the rest are OpenTelemetry's semantic conventions).
const (
	OperationKey   = attribute.Key("ocs.operation")   // "hybridclients.Get", "secrets.Add", ...
	ClientIDKey    = attribute.Key("ocs.client.id")   // the hybrid (or client-credential) client's id
	RetriesKey     = attribute.Key("ocs.retry.count") // attempts after the first, of every request of the operation
	OutcomeKey     = attribute.Key("ocs.outcome")     // see Outcome
	TokenKindKey   = attribute.Key("ocs.token.request")
	RotationKey    = attribute.Key("ocs.rotation.result")
	outcomeOK      = "ok"
	outcomeError   = "error"
	outcomeUnknown = "unknown"
)

// Telemetry holds the tracer and instruments of one SDK client.
type Telemetry struct {
	tracer trace.Tracer // nil: no spans
	meter  bool         // the instruments below record
	// Instruments (each nil unless meter).
	requests     metric.Int64Counter
	retries      metric.Int64Counter
	throttled    metric.Int64Counter
	tokens       metric.Int64Counter
	rotations    metric.Int64Counter
	lockoutRisk  metric.Int64Counter
	daysToExpiry metric.Float64Histogram
	server       attribute.KeyValue // server.address of the Resource
}

// New returns the Telemetry of providers tp and mp for the service at host, or nil when
// both are nil.
func New(tp trace.TracerProvider, mp metric.MeterProvider, host string) (*Telemetry, error) {
	if tp == nil && mp == nil {
		return nil, nil
	}
	t := &Telemetry{server: semconv.ServerAddress(host)}
	if tp != nil {
		t.tracer = tp.Tracer(ScopeName, trace.WithInstrumentationVersion(identity.Version))
	}
	if mp == nil {
		return t, nil
	}
	m := mp.Meter(ScopeName, metric.WithInstrumentationVersion(identity.Version))
	var errs []error
	for _, c := range []struct {
		to                *metric.Int64Counter
		name, unit, about string
	}{
		{&t.requests, "ocs.identity.requests", "{request}", "HTTP requests to the service's API, by operation and response status (0: no answer)"},
		{&t.retries, "ocs.identity.retries", "{request}", "HTTP requests that retried an earlier attempt, by operation"},
		{&t.throttled, "ocs.identity.throttled", "{response}", "429 Too Many Requests answers, by operation"},
		{&t.tokens, "ocs.identity.token.requests", "{request}", "token fetches and discovery requests to the identity server, by kind and outcome"},
		{&t.rotations, "ocs.identity.rotations", "{rotation}", "secret rotations, by result"},
		{&t.lockoutRisk, "ocs.identity.clients.lockout_risk", "{client}", "expiry checks that found no secret still working at the end of the period asked about"},
	} {
		var err error
		*c.to, err = m.Int64Counter(c.name, metric.WithUnit(c.unit), metric.WithDescription(c.about))
		errs = append(errs, err)
	}
	var err error
	t.daysToExpiry, err = m.Float64Histogram("ocs.identity.secret.days_to_expiry", metric.WithUnit("d"),
		metric.WithDescription("days until each expiring secret seen by an expiry check expires (negative: expired)"),
		metric.WithExplicitBucketBoundaries(-30, -7, 0, 1, 7, 14, 30, 60, 90, 180, 365))
	errs = append(errs, err)
	t.meter = true
	return t, errors.Join(errs...)
}

// opKey is the context key of the current operation.
type opKey struct{}

// Op is one SDK operation in progress. A nil *Op records nothing.
type Op struct {
	t       *Telemetry
	name    string
	span    trace.Span   // nil without a tracer
	retries atomic.Int64 // attempts after the first, summed over the operation's requests
	status  atomic.Int64 // the last HTTP status seen
}

// Start begins operation name (about client clientID, "" when none) and returns the
// context its requests take. End it with End. The client id is recorded only when it is
// a GUID: the caller's argument is not checked yet, and a secret passed in its place by
// mistake must not reach a span.
func (t *Telemetry) Start(ctx context.Context, name, clientID string) (context.Context, *Op) {
	if t == nil || ctx == nil {
		return ctx, nil
	}
	op := &Op{t: t, name: name}
	if t.tracer != nil {
		attrs := []attribute.KeyValue{OperationKey.String(name)}
		if rules.IsGUID(clientID) {
			attrs = append(attrs, ClientIDKey.String(clientID))
		}
		ctx, op.span = t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	}
	return context.WithValue(ctx, opKey{}, op), op
}

// Client names the operation's client once it is known (a Create's generated id), when
// id is a GUID.
func (o *Op) Client(id string) {
	if o != nil && o.span != nil && rules.IsGUID(id) {
		o.span.SetAttributes(ClientIDKey.String(id))
	}
}

// End ends the operation with its error (nil: success).
func (o *Op) End(err error) {
	if o == nil || o.span == nil {
		return
	}
	attrs := []attribute.KeyValue{RetriesKey.Int64(o.retries.Load()), OutcomeKey.String(Outcome(err))}
	if s := o.status.Load(); s != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(int(s)))
	}
	if err != nil {
		kind := ErrorKind(err)
		attrs = append(attrs, semconv.ErrorTypeKey.String(kind))
		o.span.SetStatus(codes.Error, kind)
	}
	o.span.SetAttributes(attrs...)
	o.span.End()
}

// Attempt is one HTTP attempt in progress. A nil *Attempt records nothing.
type Attempt struct {
	t    *Telemetry
	op   *Op
	span trace.Span
}

// Attempt begins an HTTP attempt of the operation in ctx: method on the route template
// (its ids as {placeholders}), resend: the attempts of this request before it. It returns
// the context the attempt takes (its token fetch included).
func (t *Telemetry) Attempt(ctx context.Context, method, template string, resend int) (context.Context, *Attempt) {
	if t == nil {
		return ctx, nil
	}
	op, _ := ctx.Value(opKey{}).(*Op)
	a := &Attempt{t: t, op: op}
	if t.tracer != nil {
		attrs := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(method), semconv.URLTemplate(template), t.server}
		if resend > 0 {
			attrs = append(attrs, semconv.HTTPRequestResendCount(resend))
		}
		ctx, a.span = t.tracer.Start(ctx, method+" "+template, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	}
	if op != nil && resend > 0 {
		op.retries.Add(1)
	}
	if t.meter {
		name := a.operation()
		if resend > 0 {
			t.retries.Add(ctx, 1, metric.WithAttributes(OperationKey.String(name)))
		}
	}
	return ctx, a
}

// operation is the name of the attempt's operation ("" outside one).
func (a *Attempt) operation() string {
	if a.op == nil {
		return ""
	}
	return a.op.name
}

// End ends the attempt with the answer's status (0: none) and its error.
func (a *Attempt) End(ctx context.Context, status int, err error) {
	if a == nil {
		return
	}
	t := a.t
	if a.op != nil && status != 0 {
		a.op.status.Store(int64(status))
	}
	if t.meter {
		op := OperationKey.String(a.operation())
		t.requests.Add(ctx, 1, metric.WithAttributes(op, semconv.HTTPResponseStatusCode(status)))
		if status == http.StatusTooManyRequests {
			t.throttled.Add(ctx, 1, metric.WithAttributes(op))
		}
	}
	if a.span == nil {
		return
	}
	switch {
	case status != 0:
		a.span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= 400 {
			a.span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
			a.span.SetStatus(codes.Error, strconv.Itoa(status))
		}
	case err != nil:
		kind := ErrorKind(err)
		a.span.SetAttributes(semconv.ErrorTypeKey.String(kind))
		a.span.SetStatus(codes.Error, kind)
	}
	a.span.End()
}

// TokenRequests returns rt counting each of its requests (one token fetch or discovery,
// with the retries inside rt) in the token requests metric.
func (t *Telemetry) TokenRequests(rt http.RoundTripper) http.RoundTripper {
	if t == nil || !t.meter {
		return rt
	}
	return tokenCounter{rt: rt, t: t}
}

type tokenCounter struct {
	rt http.RoundTripper
	t  *Telemetry
}

func (c tokenCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(r)
	kind := "discovery"
	if r.Method == http.MethodPost {
		kind = "token"
	}
	outcome := outcomeOK
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		outcome = outcomeError
	}
	c.t.tokens.Add(r.Context(), 1, metric.WithAttributes(TokenKindKey.String(kind), OutcomeKey.String(outcome)))
	return resp, err
}

// Rotation counts a rotation that ended with result (see RotationResult).
func (t *Telemetry) Rotation(ctx context.Context, result string) {
	if t == nil || !t.meter {
		return
	}
	if ctx == nil {
		ctx = context.Background() // a call refused for its nil context is counted too
	}
	t.rotations.Add(ctx, 1, metric.WithAttributes(RotationKey.String(result)))
}

// Expiry records an expiry check: the days to expiry of each secret that expires, and
// whether the client is at risk of lockout.
func (t *Telemetry) Expiry(ctx context.Context, daysToExpiry []float64, lockoutAhead bool) {
	if t == nil || !t.meter {
		return
	}
	for _, d := range daysToExpiry {
		t.daysToExpiry.Record(ctx, d)
	}
	if lockoutAhead {
		t.lockoutRisk.Add(ctx, 1)
	}
}

// Outcome is the ocs.outcome of an operation's error: "ok", "unknown" when the service
// may have acted and the SDK could not settle it (identity.ErrOutcomeUnknown), else "error".
func Outcome(err error) string {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, identity.ErrOutcomeUnknown):
		return outcomeUnknown
	}
	return outcomeError
}

// ErrorKind is the error.type of err: a word from a fixed list, or the HTTP status of the
// service's answer; never the message.
func ErrorKind(err error) string {
	var ve *identity.ValidationError
	var ae *identity.Error
	var re *identity.ResponseError
	var ce *identity.ConnectionError
	var au *identity.AuthError
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	case errors.Is(err, identity.ErrOutcomeUnknown):
		return "outcome_unknown"
	case errors.As(err, &ve):
		return "invalid_input"
	case errors.As(err, &au):
		return "auth"
	case errors.As(err, &ae):
		return strconv.Itoa(ae.StatusCode)
	case errors.As(err, &re):
		return "invalid_response"
	case errors.As(err, &ce):
		return "connection"
	}
	return semconv.ErrorTypeOther.Value.AsString()
}

// Seq2 runs the iterator that seq makes as one operation: its span covers the iteration
// and its outcome is the last error yielded (nil: ok). Without telemetry it is seq(ctx).
func Seq2[V any](ctx context.Context, t *Telemetry, name, clientID string, seq func(context.Context) iter.Seq2[V, error]) iter.Seq2[V, error] {
	if t == nil || ctx == nil {
		return seq(ctx)
	}
	return func(yield func(V, error) bool) {
		ctx, op := t.Start(ctx, name, clientID)
		var last error
		defer func() { op.End(last) }()
		for v, err := range seq(ctx) {
			if err != nil {
				last = err
			}
			if !yield(v, err) {
				return
			}
		}
	}
}
