package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/secrets"
)

// TestProgressLineFitsItsWidth: whatever the numbers (a tenant's 50,000 clients, or the
// largest an int holds) and however much throttling, the line fits the width it is given,
// 79 columns on an 80-column terminal, and says what matters first.
func TestProgressLineFitsItsWidth(t *testing.T) {
	huge := math.MaxInt
	cases := []struct {
		name    string
		p       hybridclients.Progress
		elapsed time.Duration
		holds   []string
	}{
		{"start", hybridclients.Progress{Total: 50_000}, 0, []string{"audit 0/50000   0%", "0/s eta ?"}},
		{"unknown total", hybridclients.Progress{Done: 7}, time.Second, []string{"audit 7/?", "7/s"}},
		{"midway", hybridclients.Progress{Done: 12_345, Total: 50_000}, 30 * time.Second, []string{"audit 12345/50000  24% [", "] 411/s eta 1m32s"}},
		{"throttled", hybridclients.Progress{Done: 12_345, Total: 50_000, Throttled: 312, Rate: 300.4, Concurrency: 5}, 30 * time.Second,
			[]string{"audit 12345/50000  24%", "411/s eta 1m32s throttled 312 limit 300/s"}},
		{"a long throttling", hybridclients.Progress{Done: 49_999, Total: 50_000, Failed: 12_000, Throttled: 1_234_567, Rate: 0.5}, 99 * time.Hour,
			[]string{"audit 49999/50000  99%", "failed 12000 throttled 1.2M limit 0/s"}},
		{"more done than counted", hybridclients.Progress{Done: 50_010, Total: 50_000}, time.Minute, []string{"50010/50000 100%", "eta 0s"}},
		{"slow", hybridclients.Progress{Done: 1, Total: 50_000}, time.Hour, []string{"0/s eta >99h"}},
		{"the largest numbers", hybridclients.Progress{Done: huge, Total: huge, Failed: huge, Throttled: huge, Rate: math.MaxFloat64},
			time.Nanosecond, []string{"audit 9.2E/9.2E 100% "}},
	}
	for _, c := range cases {
		for _, width := range []int{79, 60, 40, 0} {
			line := progressLine(c.p, c.elapsed, width)
			if len(line) > width || strings.ContainsAny(line, "\r\n\x1b") {
				t.Errorf("%s, width %d: %d columns: %q", c.name, width, len(line), line)
			}
			if width != 79 {
				continue
			}
			for _, h := range c.holds {
				if !strings.Contains(line, h) {
					t.Errorf("%s: %q lacks %q", c.name, line, h)
				}
			}
		}
	}
	if got := progressLine(hybridclients.Progress{Done: 25, Total: 100}, 5*time.Second, 79); got != "audit 25/100  25% [#######.......................] 5/s eta 15s" {
		t.Errorf("the line of a quarter done is %q", got)
	}
}

func TestShortAndCompactStayShort(t *testing.T) {
	for n, want := range map[float64]string{0: "0", -3: "0", 99_999: "99999", 100_000: "100k", 999_499: "999k",
		999_500: "1.0M", 9_949_999: "9.9M", 9_950_000: "10M", 12_345_678_901: "12G", math.MaxInt64: "9.2E"} {
		if got := short(n); got != want {
			t.Errorf("short(%.0f) = %q, want %q", n, got, want)
		}
	}
	for secs, want := range map[float64]string{0: "0s", 59.4: "59s", 59.6: "1m00s", 3599.6: "1h00m", 7_380: "2h03m",
		359_999.6: ">99h", 359_999: "99h59m", 1e300: ">99h"} {
		if got := compact(secs); got != want {
			t.Errorf("compact(%g) = %q, want %q", secs, got, want)
		}
	}
}

// TestDefaultTimeoutGrowsWithTheTenant: the deadline of an audit that was given no
// -timeout, from the count of the clients and the concurrency (more than 8 workers earn no
// shorter deadline: a throttling service does not let them go faster).
func TestDefaultTimeoutGrowsWithTheTenant(t *testing.T) {
	for _, c := range []struct {
		n, concurrency int
		want           time.Duration
	}{
		{0, 8, 2 * time.Minute},
		{50_000, 8, 28*time.Minute + 3*time.Second},
		{50_000, 32, 28*time.Minute + 3*time.Second},
		{50_000, 1, 2*time.Minute + 12_500*time.Second},
		{1_000, 4, 3*time.Minute + 3*time.Second},
		{math.MaxInt, 1, 2*time.Minute + 2_500_000*time.Second},
	} {
		if got := derivedTimeout(c.n, c.concurrency); got != c.want {
			t.Errorf("derivedTimeout(%d, %d) = %s, want %s", c.n, c.concurrency, got, c.want)
		}
	}
}

// TestReportCountsWhatNeedsAPerson: expired and expiring secrets without a successor,
// never-expiring secrets and clients without a secret are findings; disabled clients and
// a rotation's retiring and retired secrets are not, and are reported apart.
func TestReportCountsWhatNeedsAPerson(t *testing.T) {
	now := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	at := func(id int, d time.Duration) secrets.ClientSecret {
		return secrets.ClientSecret{ID: id, Expiry: secrets.ExpiresAt(now.Add(d))}
	}
	never := secrets.ClientSecret{ID: 9, Expiry: secrets.NeverExpires()}
	day := 24 * time.Hour
	r := newReport(now, 30)
	add := func(name string, enabled bool, s ...secrets.ClientSecret) {
		r.add(hybridclients.HybridClient{ID: name, Name: name, Enabled: enabled}, secrets.Classify(s, 30*day, now), nil)
	}
	add("rotated", true, at(1, -day), at(2, time.Hour), at(3, 300*day))
	add("forgotten", true, at(1, 10*day))
	add("locked out", true, at(1, -day))
	add("legacy", false, never)
	add("empty", true)
	r.finish()
	names := func(l []Secret) string {
		var out []string
		for _, s := range l {
			out = append(out, s.Name)
		}
		return strings.Join(out, ",")
	}
	got := map[string]string{"expired": names(r.Expired), "expiring": names(r.ExpiringSoon),
		"never": names(r.NeverExpiring), "retiring": names(r.Retiring), "retired": names(r.Retired)}
	want := map[string]string{"expired": "locked out", "expiring": "forgotten", "never": "legacy", "retiring": "rotated", "retired": "rotated"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	if r.Findings != 4 || len(r.NoSecret) != 1 || len(r.Disabled) != 1 || r.Clients != 5 || r.Secrets != 6 {
		t.Errorf("findings %d, no secret %v, disabled %v, clients %d, secrets %d; want 4, [empty], [legacy], 5, 6",
			r.Findings, r.NoSecret, r.Disabled, r.Clients, r.Secrets)
	}
}

// TestPartialReportSaysSo: a report of an audit that stopped early says how many clients
// of how many it checked, in the table and in JSON, and JSON has every list, empty ones
// as [].
func TestPartialReportSaysSo(t *testing.T) {
	r := newReport(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC), 30)
	r.add(hybridclients.HybridClient{ID: "a", Name: "a", Enabled: true}, secrets.ExpiryReport{Valid: []secrets.ClientSecret{{ID: 1}}}, nil)
	r.Partial = &Partial{Checked: 1, Total: 3004, Reason: "gave up after -timeout 2s"}
	r.finish()
	var table, js bytes.Buffer
	if err := printReport(&table, r, false); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(table.String(), "PARTIAL REPORT: 1 of 3004 clients checked (gave up after -timeout 2s)\n") ||
		!strings.Contains(table.String(), "\n1 of 3004 clients, 1 secrets, as of 2030-06-01T00:00:00Z: ") {
		t.Errorf("table:\n%s", table.String())
	}
	if err := printReport(&js, r, true); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if p, _ := got["partial"].(map[string]any); p["checked"] != 1.0 || p["total"] != 3004.0 || p["reason"] != "gave up after -timeout 2s" {
		t.Errorf("partial = %v", got["partial"])
	}
	for _, k := range []string{"expired", "expiringSoon", "neverExpiring", "noSecret", "disabled", "retiring", "retired", "failed"} {
		if l, ok := got[k].([]any); !ok || len(l) != 0 {
			t.Errorf("%s = %v, want []", k, got[k])
		}
	}
}
