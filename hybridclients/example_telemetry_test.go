package hybridclients_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ocs-go/identity/hybridclients"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Trace and meter the SDK with OpenTelemetry: set the providers of your program's
// OpenTelemetry SDK in the Config (here in-memory ones; in a program, those that export to
// your collector, or otel.GetTracerProvider() and otel.GetMeterProvider() to follow the
// global ones). Each operation is a span, each HTTP attempt a span under it; spans and
// metrics never hold a secret value, a token, a header or a body.
func Example_telemetry() {
	srv, cfg := fakeTenant()
	defer srv.Close()
	spans := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	cfg.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	clients, err := hybridclients.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer clients.CloseIdleConnections()
	ctx := context.Background()
	created, err := clients.Create(ctx, hybridclients.CreateRequest{Name: "traced", RedirectURIs: []string{"https://app.example.com/cb"}})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := clients.Get(ctx, created.Client.ID); err != nil {
		log.Fatal(err)
	}

	ended := spans.Ended()
	get := ended[len(ended)-1] // the operation ends after its attempts
	fmt.Println(get.SpanKind(), get.Name())
	for _, s := range ended {
		if s.Parent().SpanID() == get.SpanContext().SpanID() {
			fmt.Println(" ", s.SpanKind(), s.Name())
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "ocs.identity.requests" {
			for _, p := range sum.DataPoints {
				op, _ := p.Attributes.Value("ocs.operation")
				status, _ := p.Attributes.Value("http.response.status_code")
				fmt.Println(m.Name, op.AsString(), status.AsInt64(), p.Value)
			}
		}
	}
	// Unordered output:
	// internal hybridclients.Get
	//   client GET /api/v1/Tenants/{tenantId}/HybridClients/{clientId}
	// ocs.identity.requests hybridclients.Create 201 1
	// ocs.identity.requests hybridclients.Get 200 1
}
