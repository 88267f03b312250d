package faulttest

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/ocs-go/identity"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/goleak"
)

// recorder collects everything the SDK could leak a secret into — its log records at debug
// level, every error string, every %v/%+v/%#v rendering of a returned value — and every
// secret value and bearer token seen, so TestMain can check none appears in any of them.
type recorder struct {
	mu      sync.Mutex
	logs    bytes.Buffer
	strs    []string
	secrets map[string]bool
	// tel holds every distinct rendering of a span (name, attributes, events, status)
	// and, after the run, of a metric (name, description, unit, attribute sets); spans
	// counts the spans ended.
	tel    map[string]bool
	spans  int
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

var rec = newRecorder()

func newRecorder() *recorder {
	r := &recorder{secrets: map[string]bool{}, tel: map[string]bool{}, reader: sdkmetric.NewManualReader()}
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spanStrings{r}))
	r.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	return r
}

// instrument makes cfg's SDK clients log, trace and meter into r.
func (r *recorder) instrument(cfg *identity.Config) {
	cfg.Logger = r.logger()
	cfg.TracerProvider = r.tp
	cfg.MeterProvider = r.mp
}

// spanStrings is a span processor that keeps the rendering of every span that ends.
type spanStrings struct{ r *recorder }

func (p spanStrings) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (p spanStrings) Shutdown(context.Context) error                  { return nil }
func (p spanStrings) ForceFlush(context.Context) error                { return nil }

func (p spanStrings) OnEnd(s sdktrace.ReadOnlySpan) {
	var b strings.Builder
	b.WriteString(s.Name())
	attrs := func(kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			b.WriteString(" " + string(kv.Key) + "=" + kv.Value.String())
		}
	}
	attrs(s.Attributes())
	for _, e := range s.Events() {
		b.WriteString(" event " + e.Name)
		attrs(e.Attributes)
	}
	b.WriteString(" status " + s.Status().Code.String() + " " + s.Status().Description)
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	p.r.spans++
	p.r.tel[b.String()] = true
}

// collectMetrics renders every metric recorded (name, description, unit and each data
// point's attributes) into r.tel and returns how many data points there were.
func (r *recorder) collectMetrics() (int, error) {
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		return 0, err
	}
	points := 0
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			head := m.Name + " " + m.Description + " " + m.Unit
			r.tel[head] = true
			var sets []attribute.Set
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					sets = append(sets, p.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					sets = append(sets, p.Attributes)
				}
			default:
				return 0, fmt.Errorf("metric %s: data of type %T not rendered", m.Name, m.Data)
			}
			for _, set := range sets {
				r.tel[head+" "+set.Encoded(attribute.DefaultEncoder())] = true
			}
			points += len(sets)
		}
	}
	return points, nil
}

// checkTelemetry returns how many telemetry renderings (and log records) were checked and
// the leaks found in them.
func (r *recorder) checkTelemetry() (checked int, leaks []string) {
	r.mu.Lock()
	all := []string{r.logs.String()}
	for s := range r.tel {
		all = append(all, s)
	}
	r.mu.Unlock()
	return r.scan(all)
}

// Write receives the slog handler's output.
func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logs.Write(p)
}

func (r *recorder) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(r, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// see records the renderings of values the SDK returned (results and errors).
func (r *recorder) see(vs ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range vs {
		if v == nil {
			continue
		}
		r.strs = append(r.strs, fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v))
		if err, ok := v.(error); ok {
			r.strs = append(r.strs, err.Error())
		}
	}
}

// secret records a value that must never appear in what see and the logs collected.
func (r *recorder) secret(s string) {
	if len(s) < 8 {
		panic("faulttest: implausibly short secret " + fmt.Sprint(len(s)))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets[s] = true
}

// tokenSpy records every bearer token the SDK sends.
type tokenSpy struct{ base http.RoundTripper }

func (s tokenSpy) RoundTrip(req *http.Request) (*http.Response, error) {
	if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		rec.secret(tok)
	}
	return s.base.RoundTrip(req)
}

// check returns how many strings were checked and the leaks found.
func (r *recorder) check() (checked int, leaks []string) {
	r.mu.Lock()
	all := append([]string{r.logs.String()}, r.strs...)
	r.mu.Unlock()
	return r.scan(all)
}

// scan returns how many of all were checked and the leaks found in them.
func (r *recorder) scan(all []string) (checked int, leaks []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	scanner := newLeakScanner(r.secrets)
	for _, s := range all {
		scanner.scan(s, func(sec string, i int) {
			// Show where, never what: the secret itself is masked in the report.
			ctx := s[max(0, i-80):min(len(s), i+len(sec)+40)]
			for other := range r.secrets {
				ctx = strings.ReplaceAll(ctx, other, "[SECRET]")
			}
			leaks = append(leaks, fmt.Sprintf("a secret of %d bytes appears in %q", len(sec), ctx))
		})
	}
	return len(all), leaks
}

func TestMain(m *testing.M) {
	// The cases wait on the network and on Retry-After, not on the CPU: run more at once
	// than the default of GOMAXPROCS, unless -parallel was given.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "32")
	}
	code := m.Run()
	points, err := rec.collectMetrics()
	if err != nil {
		fmt.Println("FAIL: collecting metrics:", err)
		code = 1
	}
	telChecked, telLeaks := rec.checkTelemetry()
	fmt.Printf("telemetry hygiene: %d spans ended, %d metric data points; %d distinct renderings and the log checked: %d leaks\n",
		rec.spans, points, telChecked-1, len(telLeaks))
	fmt.Printf("figure: telemetry: secret values or tokens in spans, attributes, metrics or logs: %d\n", len(telLeaks))
	for _, l := range telLeaks {
		fmt.Println("LEAK (telemetry):", l)
	}
	if len(telLeaks) > 0 || (code == 0 && (rec.spans == 0 || points == 0)) {
		fmt.Println("FAIL: telemetry hygiene")
		code = 1
	}
	checked, leaks := rec.check()
	logLines := strings.Count(rec.logs.String(), "\n")
	fmt.Printf("secret hygiene: %d strings checked (%d log records, %d renderings and error strings) against %d secret values and tokens: %d leaks\n",
		checked+logLines-1, logLines, checked-1, len(rec.secrets), len(leaks))
	for _, l := range leaks {
		fmt.Println("LEAK:", l)
	}
	if len(leaks) > 0 || (code == 0 && (len(rec.secrets) == 0 || logLines == 0)) {
		fmt.Println("FAIL: secret hygiene")
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Println("FAIL: goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}
