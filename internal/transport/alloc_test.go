package transport

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/harness/mocktest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// canned answers every request with a copy of one 200 JSON answer, without a network.
type canned struct{ body string }

func (c canned) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(c.body)),
		ContentLength: int64(len(c.body)), Request: r}, nil
}

// A GET allocates hardly more than the same request written by hand with net/http and
// encoding/json over the same base transport: the per-call performance guard measures
// allocations as time. (With an *http.Transport, which only reads a request's header, the
// SDK also shares its header maps: two allocations fewer than here.)
func TestGetAllocatesAsLittleAsHandWrittenNetHTTP(t *testing.T) {
	const body = `{"Id":"x","Name":"n"}`
	cfg, _ := mocktest.Config()
	cfg.HTTPClient = &http.Client{Transport: canned{body}}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ ID, Name string }
	req := Request{Method: http.MethodGet, Path: []string{"HybridClients", "x"}}
	hc := &http.Client{Transport: canned{body}}
	url := mocktest.TenantURL + "/HybridClients/x"
	floor := testing.AllocsPerRun(100, func() {
		r, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
		r.Header.Set("Authorization", "Bearer "+mocktest.Token)
		r.Header.Set("Accept", "application/json")
		resp, err := hc.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
	})
	got := testing.AllocsPerRun(100, func() {
		if _, err := c.Do(context.Background(), req, &out); err != nil {
			t.Fatal(err)
		}
	})
	if extra := got - floor; extra > 2 {
		t.Errorf("a GET allocates %.0f times, %.0f more than by hand (%.0f), want at most 2 more", got, extra, floor)
	}

	// With providers set, the spans and metrics cost what the OpenTelemetry SDK makes
	// them cost; reported, and bounded against a runaway.
	cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	cfg.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	traced, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	withTelemetry := testing.AllocsPerRun(100, func() {
		ctx, op := traced.Telemetry().Start(context.Background(), "hybridclients.Get", "x")
		_, err := traced.Do(ctx, req, &out)
		op.End(err)
	})
	if withTelemetry > got+120 {
		t.Errorf("with providers a GET allocates %.0f times", withTelemetry)
	}
	t.Logf("a GET allocates %.0f times (by hand %.0f); with a tracer and a meter provider %.0f", got, floor, withTelemetry)
}

// headerWriter is a base transport that breaks the RoundTripper contract by writing to
// the request's header, and records whether a request arrived with its mark already.
type headerWriter struct{ marked *int }

func (h headerWriter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("X-Mark") != "" {
		*h.marked++
	}
	r.Header.Set("X-Mark", "1")
	return canned{"{}"}.RoundTrip(r)
}

// Header maps are shared between requests only over an *http.Transport: any other base
// transport gets a map of its own with each request, so what it writes there reaches no
// other request.
func TestBaseTransportThatWritesHeadersGetsItsOwnCopy(t *testing.T) {
	marked := 0
	cfg, _ := mocktest.Config()
	cfg.HTTPClient = &http.Client{Transport: headerWriter{&marked}}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Request{
		{Method: http.MethodGet, Path: []string{"HybridClients", "x"}},
		{Method: http.MethodGet, Path: []string{"HybridClients", "y"}},
		{Method: http.MethodPut, Path: []string{"HybridClients", "x"}, Body: map[string]string{}},
		{Method: http.MethodPut, Path: []string{"HybridClients", "y"}, Body: map[string]string{}},
	} {
		if _, err := c.Do(context.Background(), r, nil); err != nil {
			t.Fatal(err)
		}
	}
	if marked != 0 {
		t.Fatalf("%d requests carried a header another request's transport wrote", marked)
	}
}

// A success body is one JSON value, then white space at most.
func TestSuccessBodyIsOneValueThenWhiteSpace(t *testing.T) {
	for body, ok := range map[string]bool{
		"{}": true, "{} \r\n\t ": true, " {}\n": true,
		"{} {}": false, "{}}": false, "{}]": false, "{} x": false, `{} "`: false, "{} 1": false,
	} {
		cfg, _ := mocktest.Config()
		cfg.HTTPClient = &http.Client{Transport: canned{body}}
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var out struct{}
		_, err = c.Do(context.Background(), Request{Method: http.MethodGet, Path: []string{"HybridClients", "x"}}, &out)
		if (err == nil) != ok || (err != nil && !errors.Is(err, identity.ErrInvalidResponse)) {
			t.Errorf("body %q: err = %v, want ok %v", body, err, ok)
		}
	}
}
