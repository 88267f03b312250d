package integration

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// telemetryEnv is a fake tenant whose SDK clients record into an in-memory span recorder
// and a manual metric reader.
type telemetryEnv struct {
	*env
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
}

func newTelemetryEnv(t *testing.T) *telemetryEnv {
	t.Helper()
	e := newEnv(t, nil)
	sr := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	cfg := e.srv.Config()
	cfg.Retry = identity.RetryPolicy{MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond}
	cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	cfg.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	e.clients = newClients(t, cfg)
	return &telemetryEnv{env: e, spans: sr, reader: reader}
}

// ended returns the ended spans named name.
func (e *telemetryEnv) ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range e.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// counts sums each Int64 sum of the named metric by the attribute set's rendering.
func (e *telemetryEnv) counts(t *testing.T, name string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[p.Attributes.Encoded(attribute.DefaultEncoder())] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[p.Attributes.Encoded(attribute.DefaultEncoder())] += int64(p.Count)
				}
			}
		}
	}
	return out
}

// Each operation is a span with its client id, last status, retries and outcome, and each
// HTTP attempt a client span under it, named by method and route template.
func TestTelemetrySpansPerOperationAndAttempt(t *testing.T) {
	e := newTelemetryEnv(t)
	ctx := context.Background()
	created, err := e.clients.Create(ctx, hybridclients.CreateRequest{Name: "traced", RedirectURIs: []string{"https://app.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	id := created.Client.ID
	e.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpGetClient, Status: http.StatusServiceUnavailable, Times: 1})
	if _, err := e.clients.Get(ctx, id); err != nil {
		t.Fatal(err)
	}

	gets := e.ended("hybridclients.Get")
	if len(gets) != 1 {
		t.Fatalf("%d hybridclients.Get spans, want 1", len(gets))
	}
	op := gets[0]
	for key, want := range map[string]attribute.Value{
		"ocs.operation":             attribute.StringValue("hybridclients.Get"),
		"ocs.client.id":             attribute.StringValue(id),
		"ocs.outcome":               attribute.StringValue("ok"),
		"ocs.retry.count":           attribute.Int64Value(1),
		"http.response.status_code": attribute.IntValue(200),
	} {
		if got, ok := attr(op, key); !ok || got != want {
			t.Errorf("Get span: %s = %v, want %v", key, got.String(), want.String())
		}
	}
	const route = "GET /api/v1/Tenants/{tenantId}/HybridClients/{clientId}"
	var attempts []sdktrace.ReadOnlySpan
	for _, s := range e.ended(route) {
		if s.Parent().SpanID() == op.SpanContext().SpanID() {
			attempts = append(attempts, s)
		}
	}
	if len(attempts) != 2 {
		t.Fatalf("%d attempt spans under Get, want 2 (a 503, then a 200)", len(attempts))
	}
	for i, want := range []int{503, 200} {
		a := attempts[i]
		if status, _ := attr(a, "http.response.status_code"); status.AsInt64() != int64(want) {
			t.Errorf("attempt %d: status %v, want %d", i+1, status.String(), want)
		}
		if m, _ := attr(a, "http.request.method"); m.AsString() != "GET" {
			t.Errorf("attempt %d: method %v", i+1, m.String())
		}
		if tpl, _ := attr(a, "url.template"); tpl.AsString() != "/api/v1/Tenants/{tenantId}/HybridClients/{clientId}" {
			t.Errorf("attempt %d: url.template %v", i+1, tpl.String())
		}
		resend, ok := attr(a, "http.request.resend_count")
		if (i == 0) == ok || (ok && resend.AsInt64() != int64(i)) {
			t.Errorf("attempt %d: resend count %v (set %v)", i+1, resend.String(), ok)
		}
	}

	// A failed operation says so, by kind, without its message.
	if _, err := e.clients.Get(ctx, "00000000-0000-0000-0000-000000000001"); err == nil {
		t.Fatal("a missing client was found")
	}
	gets = e.ended("hybridclients.Get")
	last := gets[len(gets)-1]
	if got, _ := attr(last, "ocs.outcome"); got.AsString() != "error" {
		t.Errorf("missing client: outcome %v", got.String())
	}
	if got, _ := attr(last, "error.type"); got.AsString() != "404" || last.Status().Description != "404" {
		t.Errorf("missing client: error.type %v, status %q", got.String(), last.Status().Description)
	}

	// Create is one span, named by the client id the SDK generated.
	creates := e.ended("hybridclients.Create")
	if len(creates) != 1 {
		t.Fatalf("%d Create spans", len(creates))
	}
	if got, _ := attr(creates[0], "ocs.client.id"); got.AsString() != id {
		t.Errorf("Create span: client id %v, want %s", got.String(), id)
	}
}

// With telemetry on, a nil context is still an error, not a panic, and records nothing.
func TestTelemetryNilContextIsAnError(t *testing.T) {
	e := newTelemetryEnv(t)
	var nilCtx context.Context
	if _, err := e.clients.Get(nilCtx, "00000000-0000-0000-0000-000000000001"); !errors.Is(err, identity.ErrInvalidInput) {
		t.Fatalf("err = %v, want ErrInvalidInput", err)
	}
	for r, err := range e.clients.All(nilCtx, hybridclients.ListOptions{}) {
		if !errors.Is(err, identity.ErrInvalidInput) {
			t.Fatalf("All: %v, %v", r, err)
		}
	}
	store := func(context.Context, secrets.Added) error { return nil }
	if _, err := e.clients.Secrets().Rotate(nilCtx, "00000000-0000-0000-0000-000000000001", secrets.RotateRequest{Store: store}); !errors.Is(err, identity.ErrInvalidInput) {
		t.Fatalf("Rotate: err = %v, want ErrInvalidInput", err)
	}
	if n := len(e.spans.Ended()); n != 0 {
		t.Errorf("%d spans recorded for calls with a nil context", n)
	}
}

// The metrics count requests by operation and status, retries, 429s, token requests,
// rotations by result, days to expiry and clients at risk of lockout.
func TestTelemetryMetrics(t *testing.T) {
	e := newTelemetryEnv(t)
	ctx := context.Background()
	created, err := e.clients.Create(ctx, hybridclients.CreateRequest{Name: "metered", RedirectURIs: []string{"https://app.example.com/cb"},
		SecretExpiry: secrets.ExpiresIn(10 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	id := created.Client.ID
	e.srv.Inject(hybridclientstest.Fault{Op: hybridclientstest.OpGetClient, Status: http.StatusTooManyRequests, Times: 1})
	if _, err := e.clients.Get(ctx, id); err != nil {
		t.Fatal(err)
	}
	sc := e.clients.Secrets()
	if _, err := sc.CheckExpiry(ctx, id, 30*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Rotate(ctx, id, secrets.RotateRequest{Store: func(context.Context, secrets.Added) error { return nil }}); err != nil {
		t.Fatal(err)
	}

	get := `ocs.operation=hybridclients.Get`
	if c := e.counts(t, "ocs.identity.requests"); c["http.response.status_code=429,"+get] != 1 || c["http.response.status_code=200,"+get] != 1 {
		t.Errorf("requests: %v", c)
	}
	if c := e.counts(t, "ocs.identity.retries"); c[get] != 1 {
		t.Errorf("retries: %v", c)
	}
	if c := e.counts(t, "ocs.identity.throttled"); c[get] != 1 {
		t.Errorf("429s: %v", c)
	}
	if c := e.counts(t, "ocs.identity.token.requests"); c["ocs.outcome=ok,ocs.token.request=token"] != 1 {
		t.Errorf("token requests: %v", c)
	}
	if c := e.counts(t, "ocs.identity.rotations"); c["ocs.rotation.result=rotated"] != 1 {
		t.Errorf("rotations: %v", c)
	}
	if c := e.counts(t, "ocs.identity.secret.days_to_expiry"); c[""] != 1 {
		t.Errorf("days to expiry: %v", c)
	}
	if c := e.counts(t, "ocs.identity.clients.lockout_risk"); c[""] != 1 {
		t.Errorf("lockout risk (the only secret expires within the 30 days asked about): %v", c)
	}
}
