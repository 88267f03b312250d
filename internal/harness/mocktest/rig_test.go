package mocktest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recorder is a testing.TB that keeps the errors the rig reports instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}
func (r *recorder) Fatalf(format string, a ...any) { r.Errorf(format, a...) }

// send makes a request as the SDK does, with the headers changed by edit.
func send(t *testing.T, rig *Rig, method, url, body string, edit func(http.Header)) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+Token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if body != "" {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if edit != nil {
		edit(req.Header)
	}
	resp, err := (&http.Client{Transport: rig.Transport}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp
}

func TestRigReportsEveryBrokenRule(t *testing.T) {
	url := TenantURL + "/HybridClients"
	for _, tc := range []struct {
		name         string
		want         Want
		method, path string
		body         string
		edit         func(http.Header)
		report       string // "" means none
	}{
		{"as wanted", Want{Query: "count=2", JSONBody: `{"a":1,"b":[true]}`}, "POST", "?count=2", `{"b":[true], "a":1}`, nil, ""},
		{"any", Any, "POST", "?x=1", `{"a":1}`, nil, ""},
		{"query", Want{Query: "count=2"}, "GET", "?count=3", "", nil, `query "count=3", want "count=2"`},
		{"no query wanted", Want{}, "GET", "?count=3", "", nil, `query "count=3", want ""`},
		{"body", Want{JSONBody: `{"a":1}`}, "PUT", "", `{"a":2}`, nil, "body mismatch"},
		{"no body wanted", Want{}, "PUT", "", `{"a":2}`, nil, `a body {"a":2}, want none`},
		{"body missing", Want{JSONBody: `{"a":1}`}, "PUT", "", "", nil, `no body, want {"a":1}`},
		{"body not JSON", Want{JSONBody: `{"a":1}`}, "PUT", "", `{"a":`, nil, "is not JSON"},
		{"body on GET", Any, "GET", "", `{"a":1}`, nil, "a body"},
		{"content type", Any, "POST", "", `{"a":1}`, func(h http.Header) { h.Set("Content-Type", "text/plain") }, `Content-Type "text/plain"`},
		{"token", Any, "GET", "", "", func(h http.Header) { h.Set("Authorization", "Bearer other-token-77") }, "Authorization is not the test token's"},
		{"no token", Any, "GET", "", "", func(h http.Header) { h.Del("Authorization") }, "Authorization is not the test token's"},
		{"accept", Any, "GET", "", "", func(h http.Header) { h.Set("Accept", "*/*") }, `Accept "*/*"`},
		{"user agent", Any, "GET", "", "", func(h http.Header) { h.Set("User-Agent", "Go-http-client/1.1") }, `User-Agent "Go-http-client/1.1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			rig := New(rec, Options{})
			rig.On(tc.method, url, tc.want, Reply{Status: 200})
			send(t, rig, tc.method, url+tc.path, tc.body, tc.edit)
			got := strings.Join(rec.errs, "\n")
			if tc.report == "" && got != "" || !strings.Contains(got, tc.report) {
				t.Errorf("reported %q, want %q", got, tc.report)
			}
			if strings.Contains(got, "other-token-77") {
				t.Errorf("the report shows the token: %s", got)
			}
		})
	}
}

func TestRigRepliesInTurnAndLogs(t *testing.T) {
	rig := New(t, Options{MaxAttempts: 2})
	if rig.Config.Retry.MaxAttempts != 2 {
		t.Errorf("MaxAttempts = %d", rig.Config.Retry.MaxAttempts)
	}
	url := TenantURL + "/HybridClients/x"
	rig.On("DELETE", url, Want{}, Reply{Status: 502}, Reply{Status: 404, Header: http.Header{"total-count": {"3"}}})
	var got []int
	for range 3 {
		resp := send(t, rig, "DELETE", url, "", nil)
		got = append(got, resp.StatusCode)
		if resp.StatusCode == 404 && (resp.Header.Get("Total-Count") != "3" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")) {
			t.Errorf("header %v", resp.Header)
		}
	}
	if diff := cmp.Diff([]int{502, 404, 404}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	rig.Record("STEP")
	rig.On("PUT", url, Any, Reply{Status: 200})
	send(t, rig, "PUT", url+"?q=1", `{"a":1}`, nil)
	rig.WantCalls("DELETE HybridClients/x", "DELETE HybridClients/x", "DELETE HybridClients/x", "STEP", `PUT HybridClients/x?q=1 {"a":1}`)
	if rig.Count("DELETE", url) != 3 || rig.Count("PUT", url) != 1 || rig.Total() != 4 {
		t.Errorf("counts %d %d %d", rig.Count("DELETE", url), rig.Count("PUT", url), rig.Total())
	}
	rig.ClearCalls()
	rig.WantCalls()

	rec := &recorder{TB: t}
	New(rec, Options{}).WantCalls("GET x")
	if len(rec.errs) != 1 {
		t.Errorf("a missing call was not reported: %q", rec.errs)
	}
}
