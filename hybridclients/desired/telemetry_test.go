package desired

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Diff, Apply and Export are each a span of the Config's TracerProvider, as the SDK's
// other operations are, with the requests they make under it; its attributes are the
// SDK's allow-list (operation, outcome), never a name, a setting, a file's content or a
// secret value.
func TestDiffApplyAndExportAreSpansThatHoldNoValue(t *testing.T) {
	srv := hybridclientstest.NewServer(t, nil)
	spans := tracetest.NewSpanRecorder()
	cfg := srv.Config()
	cfg.Retry = identity.RetryPolicy{MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond}
	cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	c, err := hybridclients.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	ctx := context.Background()

	s := State{Clients: []Client{webApp(idA, "Billing portal secretive-name"), webApp(idB, "Reports")}}
	s.Clients[0].Secrets = &SecretPolicy{Description: "secretive description"}
	p, err := Diff(ctx, c, s, PlanOptions{Tenant: "secretive tenant"})
	if err != nil {
		t.Fatal(err)
	}
	v := newVault()
	if _, err := Apply(ctx, c, p, ApplyOptions{Store: v.Store, Tenant: "secretive tenant"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Export(ctx, c, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = Apply(ctx, c, p, ApplyOptions{Store: v.Store}) // stale now
	mustErr(t, "Apply again", err, ErrStale)

	ended := spans.Ended()
	ops := map[string][]sdktrace.ReadOnlySpan{}
	for _, sp := range ended {
		if strings.HasPrefix(sp.Name(), "desired.") {
			ops[sp.Name()] = append(ops[sp.Name()], sp)
		}
	}
	for name, n := range map[string]int{"desired.Diff": 1, "desired.Apply": 2, "desired.Export": 1} {
		if len(ops[name]) != n {
			t.Errorf("%d spans named %s, want %d", len(ops[name]), name, n)
		}
	}
	// Every request of an operation is under its span.
	for _, sp := range append(ops["desired.Diff"], ops["desired.Export"]...) {
		children := 0
		for _, other := range ended {
			if other.Parent().SpanID() == sp.SpanContext().SpanID() && strings.HasPrefix(other.Name(), "hybridclients.") {
				children++
			}
		}
		if children == 0 {
			t.Errorf("%s has no hybridclients operation under it", sp.Name())
		}
	}
	if sp := ops["desired.Apply"]; len(sp) == 2 {
		outcome := func(s sdktrace.ReadOnlySpan) string {
			for _, kv := range s.Attributes() {
				if kv.Key == "ocs.outcome" {
					return kv.Value.String()
				}
			}
			return ""
		}
		if outcome(sp[0]) != "ok" || outcome(sp[1]) != "error" {
			t.Errorf("outcomes of the applies: %q, %q; want ok, then error", outcome(sp[0]), outcome(sp[1]))
		}
	}

	// Nothing of the values, the names, the settings or the file in any span.
	var values []string
	for _, id := range []string{idA, idB} {
		if a, ok := v.last(id); ok {
			values = append(values, a.Value.Reveal())
		}
	}
	if len(values) != 2 {
		t.Fatalf("the store holds %d values", len(values))
	}
	forbidden := append(values, "secretive", "billing-portal", "Reports")
	for _, sp := range ended {
		text := sp.Name() + " " + sp.Status().Description
		for _, kv := range sp.Attributes() {
			text += fmt.Sprintf(" %s=%s", kv.Key, kv.Value.String())
		}
		for _, ev := range sp.Events() {
			text += " " + ev.Name
			for _, kv := range ev.Attributes {
				text += fmt.Sprintf(" %s=%s", kv.Key, kv.Value.String())
			}
		}
		for _, f := range forbidden {
			if strings.Contains(text, f) {
				t.Errorf("span %s holds %q", sp.Name(), f[:min(len(f), 9)])
			}
		}
		if strings.HasPrefix(sp.Name(), "desired.") {
			for _, kv := range sp.Attributes() {
				switch kv.Key {
				case "ocs.operation", "ocs.outcome", "ocs.retry.count", "error.type", "http.response.status_code":
				default:
					t.Errorf("span %s has attribute %s, outside the SDK's allow-list", sp.Name(), kv.Key)
				}
			}
		}
	}
}
