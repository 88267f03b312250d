package hybridclients_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	"github.com/ocs-go/identity/secrets"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A caller who passes a secret where a client id goes (the arguments swapped) must not
// put it in a span: a client id is recorded only once it is a GUID.
func TestASpanNeverRecordsAClientIDThatIsNoGUID(t *testing.T) {
	const mistake = "Xy7~q2PlaceOfTheSecretValue.notAGuid_9f" // what a secret looks like
	srv := hybridclientstest.NewServer(t, nil)
	spans := tracetest.NewSpanRecorder()
	cfg := srv.Config()
	cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	clients, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sc := clients.Secrets()
	store := func(context.Context, secrets.Added) error { return nil }
	calls := map[string]func() error{
		"hybridclients.Get":    func() error { _, err := clients.Get(ctx, mistake); return err },
		"hybridclients.Exists": func() error { _, err := clients.Exists(ctx, mistake); return err },
		"hybridclients.Delete": func() error { return clients.Delete(ctx, mistake) },
		"hybridclients.Update": func() error { _, err := clients.Update(ctx, mistake, hybridclients.UpdateRequest{}); return err },
		"hybridclients.Create": func() error {
			_, err := clients.Create(ctx, hybridclients.CreateRequest{ID: mistake, Name: "x", RedirectURIs: []string{"https://app.example.com/cb"}})
			return err
		},
		"secrets.List":   func() error { _, err := sc.Count(ctx, mistake); return err },
		"secrets.Get":    func() error { _, err := sc.Get(ctx, mistake, 1); return err },
		"secrets.Add":    func() error { _, err := sc.Add(ctx, mistake, secrets.AddRequest{}); return err },
		"secrets.Delete": func() error { return sc.Delete(ctx, mistake, 1) },
		"secrets.Rotate": func() error { _, err := sc.Rotate(ctx, mistake, secrets.RotateRequest{Store: store}); return err },
		"secrets.StartRotation": func() error {
			_, err := sc.StartRotation(ctx, mistake, secrets.RotateRequest{Store: store})
			return err
		},
		"secrets.PlanRotation": func() error { _, err := sc.PlanRotation(ctx, mistake, secrets.Policy{}); return err },
		"secrets.CheckExpiry":  func() error { _, err := sc.CheckExpiry(ctx, mistake, 0); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s took %q as a client id", name, mistake)
		}
	}
	ended := spans.Ended()
	if len(ended) < len(calls) {
		t.Fatalf("%d spans, want one per call at least", len(ended))
	}
	for _, s := range ended {
		var b strings.Builder
		fmt.Fprint(&b, s.Name(), s.Status(), s.Attributes(), s.Events(), s.Links())
		if strings.Contains(b.String(), mistake) || strings.Contains(b.String(), "PlaceOfTheSecret") {
			t.Errorf("span %s records the argument given as a client id", s.Name())
		}
	}
}
