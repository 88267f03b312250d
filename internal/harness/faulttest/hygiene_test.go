package faulttest

import (
	"bytes"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

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
}

var rec = &recorder{secrets: map[string]bool{}}

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
	defer r.mu.Unlock()
	all := append([]string{r.logs.String()}, r.strs...)
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
