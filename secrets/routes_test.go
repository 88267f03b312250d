package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/harness/mocktest"
)

var ctx = context.Background()

func TestNewChoosesTheRoutesOfItsClients(t *testing.T) {
	cfg, _ := mocktest.Config()
	for want, newc := range map[route]func(identity.Config) (*Client, error){hybridRoute: New, clientCredentialRoute: NewForClientCredentialClients} {
		c, err := newc(cfg)
		if err != nil || c.kind != want {
			t.Fatalf("%s: %v %v", want, c, err)
		}
	}
}

func TestRoutes(t *testing.T) {
	for _, kind := range []route{hybridRoute, clientCredentialRoute} {
		pre := string(kind) + "/" + testClient + "/Secrets"
		t.Run(string(kind), func(t *testing.T) {
			t.Run("List", func(t *testing.T) {
				f := newFixture(t, kind)
				f.On("GET", secretsURL(kind), mocktest.Any, ok("["+
					secretJSON(3, "prod", "2031-01-02T03:04:05Z")+","+
					secretJSON(4, "forever", "")+","+
					`{"Id":5,"Description":null,"Expires":true,"Expiration":null}`+","+
					`{"Id":6,"Expiration":"2031-02-03T04:05:06"}`+"]", "Total-Count", "9"))
				p, err := f.c.List(ctx, testClient, ListOptions{Skip: 2, PageSize: 4})
				if err != nil {
					t.Fatal(err)
				}
				f.WantCalls("GET " + pre + "?count=4&skip=2")
				want := &Page{Total: 9, Secrets: []ClientSecret{
					{ID: 3, Description: "prod", Expiry: ExpiresAt(time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC))},
					{ID: 4, Description: "forever", Expiry: NeverExpires()},
					{ID: 5, Expiry: NeverExpires()},
					{ID: 6, Expiry: ExpiresAt(time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC))},
				}}
				if diff := cmp.Diff(want, p, cmpExpiry); diff != "" {
					t.Errorf("List mismatch (-want +got):\n%s", diff)
				}
			})
			t.Run("Count", func(t *testing.T) {
				f := newFixture(t, kind)
				f.On("HEAD", secretsURL(kind), mocktest.Any, ok("", "Total-Count", "7"))
				n, err := f.c.Count(ctx, testClient)
				if err != nil || n != 7 {
					t.Fatalf("Count = %d, %v", n, err)
				}
				f.WantCalls("HEAD " + pre)
			})
			t.Run("Get", func(t *testing.T) {
				f := newFixture(t, kind)
				f.On("GET", secretsURL(kind, "3"), mocktest.Any, ok(secretJSON(3, "prod", "2031-01-02T03:04:05.5+02:00")))
				m, err := f.c.Get(ctx, testClient, 3)
				if err != nil {
					t.Fatal(err)
				}
				at := m.Expiry.At()
				if m.ID != 3 || m.Description != "prod" || !at.Equal(time.Date(2031, 1, 2, 1, 4, 5, 5e8, time.UTC)) {
					t.Errorf("Get = %+v", m)
				}
				f.WantCalls("GET " + pre + "/3")
			})
			t.Run("Exists", func(t *testing.T) {
				f := newFixture(t, kind)
				f.On("HEAD", secretsURL(kind, "3"), mocktest.Any, ok(""))
				f.On("HEAD", secretsURL(kind, "4"), mocktest.Any, mocktest.Reply{Status: 404, Body: mocktest.ErrorBody})
				if ok, err := f.c.Exists(ctx, testClient, 3); !ok || err != nil {
					t.Errorf("Exists(3) = %v, %v", ok, err)
				}
				if ok, err := f.c.Exists(ctx, testClient, 4); ok || err != nil {
					t.Errorf("Exists(4) = %v, %v", ok, err)
				}
				f.WantCalls("HEAD "+pre+"/3", "HEAD "+pre+"/4")
			})
			t.Run("Add", func(t *testing.T) {
				f := newFixture(t, kind)
				f.On("GET", secretsURL(kind), mocktest.Any, list(secretJSON(1, "old", "")))
				f.On("POST", secretsURL(kind), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(2, "new", "2030-07-01T00:00:00Z")})
				a, err := f.c.Add(ctx, testClient, AddRequest{Description: "new", Expiry: ExpiresAt(time.Date(2030, 7, 1, 2, 0, 0, 0, time.FixedZone("x", 2*3600)))})
				if err != nil {
					t.Fatal(err)
				}
				if a.ID != 2 || a.Description != "new" || a.Value.Reveal() != testValue || a.Expiry.String() != "2030-07-01T00:00:00Z" {
					t.Errorf("Add = %+v", a)
				}
				f.WantCalls("GET "+pre+"?count=100",
					"POST "+pre+` {"Description":"new","Expires":true,"Expiration":"2030-06-30T23:00:00Z"}`)
			})
			t.Run("Update", func(t *testing.T) {
				f := newFixture(t, kind)
				f.On("PUT", secretsURL(kind, "3"), mocktest.Any, ok(secretJSON(3, "renamed", "")))
				m, err := f.c.Update(ctx, testClient, 3, UpdateRequest{Description: identity.Ptr("renamed"), Expiry: NeverExpires()})
				if err != nil {
					t.Fatal(err)
				}
				if m.ID != 3 || m.Description != "renamed" || !m.Expiry.Never() {
					t.Errorf("Update = %+v", m)
				}
				f.WantCalls("PUT " + pre + `/3 {"Description":"renamed","Expires":false,"Expiration":null}`)
			})
			t.Run("Delete", func(t *testing.T) {
				f := newFixture(t, kind)
				f.On("DELETE", secretsURL(kind, "3"), mocktest.Any, mocktest.Reply{Status: 204})
				if err := f.c.Delete(ctx, testClient, 3); err != nil {
					t.Fatal(err)
				}
				f.WantCalls("DELETE " + pre + "/3")
			})
		})
	}
}

func TestListWithoutTotalCount(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, ok("["+secretJSON(1, "a", "")+"]"))
	p, err := f.c.List(ctx, testClient, ListOptions{Skip: 3})
	if err != nil || p.Total != 4 {
		t.Fatalf("List = %+v, %v", p, err)
	}
}

func TestListRefusesBadOptionsAndBadAnswers(t *testing.T) {
	f := newFixture(t, hybridRoute)
	_, err := f.c.List(ctx, testClient, ListOptions{Skip: -1, PageSize: -1})
	var ve *identity.ValidationError
	if !errors.As(err, &ve) || strings.Count(err.Error(), "invalid") != 2 {
		t.Errorf("List(-1,-1): %v", err)
	}
	for _, body := range []string{`[{"Description":"no id"}]`, `[{"Id":1,"Expiration":"yesterday"}]`, `{"Id":1}`} {
		f := newFixture(t, hybridRoute)
		f.On("GET", secretsURL(hybridRoute), mocktest.Any, ok(body))
		if _, err := f.c.List(ctx, testClient, ListOptions{}); !errors.Is(err, identity.ErrInvalidResponse) {
			t.Errorf("List of %s: %v", body, err)
		}
	}
}

func TestAllPagesLazily(t *testing.T) {
	f := newFixture(t, hybridRoute)
	pages := map[string]string{
		"count=2":        "[" + secretJSON(1, "a", "") + "," + secretJSON(2, "b", "") + "]",
		"count=2&skip=2": "[" + secretJSON(3, "c", "") + "," + secretJSON(4, "d", "") + "]",
		"count=2&skip=4": "[" + secretJSON(5, "e", "") + "]",
	}
	f.OnFunc("GET", secretsURL(hybridRoute), func(r *http.Request) mocktest.Reply {
		return ok(pages[r.URL.RawQuery], "Total-Count", "5")
	})
	var got []int
	for s, err := range f.c.All(ctx, testClient, ListOptions{PageSize: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s.ID)
	}
	if !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Errorf("All = %v", got)
	}
	pre := "GET HybridClients/" + testClient + "/Secrets?"
	f.WantCalls(pre+"count=2", pre+"count=2&skip=2", pre+"count=2&skip=4")

	// Breaking out of the loop fetches no further page.
	f.ClearCalls()
	for range f.c.All(ctx, testClient, ListOptions{PageSize: 2}) {
		break
	}
	f.WantCalls(pre + "count=2")
}

func TestAllYieldsErrorOnce(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
	n := 0
	for _, err := range f.c.All(ctx, testClient, ListOptions{}) {
		n++
		if !errors.Is(err, identity.ErrForbidden) {
			t.Errorf("err = %v", err)
		}
	}
	if n != 1 {
		t.Errorf("yielded %d times", n)
	}
}

// A service that ignores skip, answering the same page or endless new ids under a lying
// Total-Count, cannot keep All going: it ends with ErrInvalidResponse, never yielding a
// secret twice.
func TestAllStopsWhenTheServiceIgnoresSkip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fresh bool // new ids on every page (a lying Total-Count), else the same page
	}{{"same page", false}, {"endless new ids", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int32
			c, err := New(mocktest.Loopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(requests.Add(1))
				count, _ := strconv.Atoi(r.URL.Query().Get("count"))
				page := make([]map[string]any, count)
				for i := range page {
					id := i + 1
					if tc.fresh {
						id += (n - 1) * count
					}
					page[i] = map[string]any{"Id": id, "Description": "d", "Expires": false, "Expiration": nil}
				}
				w.Header().Set("Total-Count", "10000000")
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(page)
			})))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.CloseIdleConnections)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var last error
			seen := map[int]bool{}
			for s, err := range c.All(ctx, "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b", ListOptions{PageSize: 2}) {
				if err != nil {
					last = err
					break
				}
				if seen[s.ID] {
					t.Errorf("secret %d yielded twice", s.ID)
					break
				}
				seen[s.ID] = true
			}
			if !errors.Is(last, identity.ErrInvalidResponse) {
				t.Fatalf("All ended with %v, want ErrInvalidResponse", last)
			}
			if n := requests.Load(); n > 50 {
				t.Errorf("%d list requests before stopping", n)
			}
		})
	}
}

func TestCountWithoutTotalCount(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.On("HEAD", secretsURL(hybridRoute), mocktest.Any, ok(""))
	if _, err := f.c.Count(ctx, testClient); !errors.Is(err, identity.ErrInvalidResponse) {
		t.Errorf("Count: %v", err)
	}
}

// Every method refuses a client id that is not a GUID before any request, for both kinds
// of client, with the rule hybridclients applies to every client id.
func TestNonGUIDClientIDsAreRefusedBeforeAnyRequest(t *testing.T) {
	store := func(context.Context, Added) error { return nil }
	for _, kind := range []route{hybridRoute, clientCredentialRoute} {
		f := newFixture(t, kind)
		for _, cid := range []string{"not-a-guid", "../../x", "x/y", "%2e%2e", "{" + testClient + "}", testClient[:35]} {
			calls := map[string]error{
				"List":   func() error { _, err := f.c.List(ctx, cid, ListOptions{}); return err }(),
				"Count":  func() error { _, err := f.c.Count(ctx, cid); return err }(),
				"Get":    func() error { _, err := f.c.Get(ctx, cid, 1); return err }(),
				"Exists": func() error { _, err := f.c.Exists(ctx, cid, 1); return err }(),
				"Add":    func() error { _, err := f.c.Add(ctx, cid, AddRequest{}); return err }(),
				"Update": func() error {
					_, err := f.c.Update(ctx, cid, 1, UpdateRequest{Description: identity.Ptr("x")})
					return err
				}(),
				"Delete":      f.c.Delete(ctx, cid, 1),
				"Rotate":      func() error { _, err := f.c.Rotate(ctx, cid, RotateRequest{Store: store}); return err }(),
				"CheckExpiry": func() error { _, err := f.c.CheckExpiry(ctx, cid, time.Hour); return err }(),
			}
			for _, err := range f.c.All(ctx, cid, ListOptions{}) {
				calls["All"] = err
				break
			}
			for name, err := range calls {
				var ve *identity.ValidationError
				if !errors.As(err, &ve) || ve.Field != "ClientID" || !strings.HasPrefix(ve.Rule, "must be a GUID like ") || ve.Value != cid {
					t.Errorf("%s %s(%q) = %v, want ClientID refused as not a GUID", kind, name, cid, err)
				}
			}
		}
		f.WantCalls()
	}
}

// TestABadClientIDIsReportedWithTheRequestsOtherRules: a bad client id comes back together with the
// request's other broken rules, as in the hybridclients package.
func TestABadClientIDIsReportedWithTheRequestsOtherRules(t *testing.T) {
	f := newFixture(t, hybridRoute)
	past := ExpiresAt(testNow.Add(-time.Hour))
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"Add", func() error { _, err := f.c.Add(ctx, "", AddRequest{Description: "a\nb", Expiry: past}); return err }(), []string{"ClientID", "Description", "Expiry"}},
		{"Update", func() error { _, err := f.c.Update(ctx, "", 0, UpdateRequest{}); return err }(), []string{"ClientID", "SecretID", "UpdateRequest"}},
		{"Update desc", func() error {
			_, err := f.c.Update(ctx, "..", 1, UpdateRequest{Description: identity.Ptr("\x1b[0m"), Expiry: past})
			return err
		}(), []string{"ClientID", "Description", "Expiry"}},
		{"Rotate", func() error { _, err := f.c.Rotate(ctx, "", RotateRequest{Expiry: past}); return err }(), []string{"ClientID", "Expiry", "Store"}},
		{"List", func() error { _, err := f.c.List(ctx, "", ListOptions{Skip: -1, PageSize: -1}); return err }(), []string{"ClientID", "Skip", "PageSize"}},
		{"CheckExpiry", func() error { _, err := f.c.CheckExpiry(ctx, "", -time.Hour); return err }(), []string{"ClientID", "Within"}},
		{"Get", func() error { _, err := f.c.Get(ctx, "", -1); return err }(), []string{"ClientID", "SecretID"}},
	} {
		if got := fields(tc.err); !slices.Equal(got, tc.want) {
			t.Errorf("%s: rules on %v, want %v: %v", tc.name, got, tc.want, tc.err)
		}
	}
	f.WantCalls()
}

func TestZeroOrNilClientReturnsErrorsNotPanics(t *testing.T) {
	for name, c := range map[string]*Client{"zero": {}, "nil": nil, "zero kind": {kind: hybridRoute}} {
		check := func(method string, err error) {
			t.Helper()
			if !errors.Is(err, identity.ErrInvalidInput) || err == nil || !strings.Contains(err.Error(), "secrets.New") {
				t.Errorf("%s Client.%s: err = %v, want ErrInvalidInput saying to use secrets.New", name, method, err)
			}
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s Client panicked: %v", name, r)
				}
			}()
			_, err := c.List(ctx, testClient, ListOptions{})
			check("List", err)
			n := 0
			for _, err := range c.All(ctx, testClient, ListOptions{}) {
				n++
				check("All", err)
			}
			if n != 1 {
				t.Errorf("%s Client.All yielded %d times, want once", name, n)
			}
			_, err = c.Count(ctx, testClient)
			check("Count", err)
			_, err = c.Get(ctx, testClient, 1)
			check("Get", err)
			_, err = c.Exists(ctx, testClient, 1)
			check("Exists", err)
			_, err = c.Add(ctx, testClient, AddRequest{})
			check("Add", err)
			_, err = c.Update(ctx, testClient, 1, UpdateRequest{Description: identity.Ptr("x")})
			check("Update", err)
			check("Delete", c.Delete(ctx, testClient, 1))
			rot, err := c.Rotate(ctx, testClient, RotateRequest{Store: func(context.Context, Added) error { return nil }})
			check("Rotate", err)
			if rot == nil {
				t.Errorf("%s Client.Rotate returned a nil *Rotation", name)
			}
			_, err = c.CheckExpiry(ctx, testClient, time.Hour)
			check("CheckExpiry", err)
			c.CloseIdleConnections()
			// Other broken rules come with it.
			_, err = c.Add(ctx, "", AddRequest{Description: "a\nb"})
			if got := fields(err); !slices.Equal(got, []string{"secrets.Client", "ClientID", "Description"}) {
				t.Errorf("%s Client.Add(\"\", bad): rules on %v: %v", name, got, err)
			}
		}()
	}
}

func TestIDsRefusedBeforeSending(t *testing.T) {
	f := newFixture(t, hybridRoute)
	for _, id := range []int{0, -1, 1 << 31} {
		if _, err := f.c.Get(ctx, testClient, id); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("Get(%d): %v", id, err)
		}
		if _, err := f.c.Exists(ctx, testClient, id); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("Exists(%d): %v", id, err)
		}
		if _, err := f.c.Update(ctx, testClient, id, UpdateRequest{Description: identity.Ptr("x")}); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("Update(%d): %v", id, err)
		}
		if err := f.c.Delete(ctx, testClient, id); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("Delete(%d): %v", id, err)
		}
	}
	for _, cid := range []string{"", "..", "a\nb"} {
		if _, err := f.c.List(ctx, cid, ListOptions{}); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("List(%q): %v", cid, err)
		}
		if _, err := f.c.Add(ctx, cid, AddRequest{}); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("Add(%q): %v", cid, err)
		}
		if _, err := f.c.Count(ctx, cid); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("Count(%q): %v", cid, err)
		}
		if _, err := f.c.CheckExpiry(ctx, cid, time.Hour); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("CheckExpiry(%q): %v", cid, err)
		}
	}
	f.WantCalls()
}

func TestErrorStatuses(t *testing.T) {
	type op struct {
		name   string
		routes func(f *fixture, r mocktest.Reply)
		call   func(c *Client) error
	}
	one := secretsURL(hybridRoute, "3")
	all := secretsURL(hybridRoute)
	ops := []op{
		{"List", func(f *fixture, r mocktest.Reply) { f.On("GET", all, mocktest.Any, r) },
			func(c *Client) error { _, err := c.List(ctx, testClient, ListOptions{}); return err }},
		{"Count", func(f *fixture, r mocktest.Reply) { f.On("HEAD", all, mocktest.Any, r) },
			func(c *Client) error { _, err := c.Count(ctx, testClient); return err }},
		{"Get", func(f *fixture, r mocktest.Reply) { f.On("GET", one, mocktest.Any, r) },
			func(c *Client) error { _, err := c.Get(ctx, testClient, 3); return err }},
		{"Exists", func(f *fixture, r mocktest.Reply) { f.On("HEAD", one, mocktest.Any, r) },
			func(c *Client) error { _, err := c.Exists(ctx, testClient, 3); return err }},
		{"Add", func(f *fixture, r mocktest.Reply) {
			f.On("GET", all, mocktest.Any, list())
			f.On("POST", all, mocktest.Any, r)
		},
			func(c *Client) error { _, err := c.Add(ctx, testClient, AddRequest{}); return err }},
		{"Update", func(f *fixture, r mocktest.Reply) { f.On("PUT", one, mocktest.Any, r) },
			func(c *Client) error {
				_, err := c.Update(ctx, testClient, 3, UpdateRequest{Description: identity.Ptr("x")})
				return err
			}},
		{"Delete", func(f *fixture, r mocktest.Reply) { f.On("DELETE", one, mocktest.Any, r) },
			func(c *Client) error { return c.Delete(ctx, testClient, 3) }},
		{"CheckExpiry", func(f *fixture, r mocktest.Reply) { f.On("GET", all, mocktest.Any, r) },
			func(c *Client) error { _, err := c.CheckExpiry(ctx, testClient, time.Hour); return err }},
	}
	for _, o := range ops {
		for _, s := range mocktest.Statuses {
			t.Run(fmt.Sprintf("%s/%d", o.name, s.Status), func(t *testing.T) {
				f := newFixture(t, hybridRoute)
				body := mocktest.ErrorBody
				if s.Status == 503 {
					body = "<html>gateway</html>" // not JSON: still the status's sentinel
				}
				o.routes(f, mocktest.Reply{Status: s.Status, Body: body})
				err := o.call(f.c)
				if o.name == "Exists" && s.Status == 404 {
					if err != nil {
						t.Fatalf("Exists on 404: %v", err)
					}
					return
				}
				if !errors.Is(err, s.Sentinel) {
					t.Fatalf("err = %v, want %v", err, s.Sentinel)
				}
				var ae *identity.Error
				if !errors.As(err, &ae) || ae.StatusCode != s.Status {
					t.Fatalf("err = %#v", err)
				}
				if s.Status != 503 && (ae.Code != "Something failed" || ae.OperationID != "op-1") {
					t.Errorf("ErrorResponse not decoded: %#v", ae)
				}
			})
		}
	}
}

func TestDeleteRetriedIntoNotFoundIsDone(t *testing.T) {
	f := newFixture(t, hybridRoute)
	f.On("DELETE", secretsURL(hybridRoute, "3"), mocktest.Any, mocktest.Reply{Status: 503}, mocktest.Reply{Status: 404, Body: mocktest.ErrorBody})
	if err := f.c.Delete(ctx, testClient, 3); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	f.WantCalls("DELETE HybridClients/"+testClient+"/Secrets/3", "DELETE HybridClients/"+testClient+"/Secrets/3")
}
