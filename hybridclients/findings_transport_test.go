package hybridclients_test

// Regression tests, through the public API, of calls that must end: a cut connection is
// identity.ErrUnreachable, All stops when the service ignores skip, a nil context is an
// error. Each failed on the code before its fix; the number in TestFindingNN is the finding's number in the security review, kept so a
// test can be traced to it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/secrets"
)

const findingTenant = "11111111-2222-3333-4444-555555555555"

func findingClient(t *testing.T, h http.Handler) *hybridclients.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := hybridclients.New(identity.Config{
		Resource:    srv.URL,
		TenantID:    findingTenant,
		Credentials: identity.NewStaticToken(identity.NewSecret("tok")),
		Retry:       identity.RetryPolicy{MaxAttempts: 2, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestFinding16_CutConnectionsAreUnreachable(t *testing.T) {
	var n atomic.Int32
	c := findingClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	ctx := context.Background()
	const id = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
	name := "renamed"
	for _, tc := range []struct {
		op    string
		write bool
		call  func() error
	}{
		{"Get", false, func() error { _, err := c.Get(ctx, id); return err }},
		{"Update", true, func() error { _, err := c.Update(ctx, id, hybridclients.UpdateRequest{Name: &name}); return err }},
		{"Delete", true, func() error { return c.Delete(ctx, id) }},
		{"Secrets().Delete", true, func() error { return c.Secrets().Delete(ctx, id, 3) }},
	} {
		err := tc.call()
		var ce *identity.ConnectionError
		if !errors.Is(err, identity.ErrUnreachable) || !errors.As(err, &ce) || !ce.Sent {
			t.Errorf("%s: err = %v, want a sent *identity.ConnectionError (ErrUnreachable)", tc.op, err)
		}
		if got := errors.Is(err, identity.ErrOutcomeUnknown); got != tc.write {
			t.Errorf("%s: errors.Is(err, ErrOutcomeUnknown) = %v, want %v", tc.op, got, tc.write)
		}
	}
	if n.Load() == 0 {
		t.Fatal("no request reached the server")
	}
}

// sameClientsForever ignores skip: every list answer is the same full page, with a
// Total-Count that never ends the loop.
func sameClientsForever(requests *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		count, _ := strconv.Atoi(r.URL.Query().Get("count"))
		page := make([]map[string]any, count)
		for i := range page {
			page[i] = map[string]any{"Id": fmt.Sprintf("00000000-0000-0000-0000-%012d", i), "Name": "c"}
		}
		w.Header().Set("Total-Count", "10000000")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	})
}

func TestFinding18_AllStopsWhenServiceIgnoresSkip(t *testing.T) {
	var requests atomic.Int32
	c := findingClient(t, sameClientsForever(&requests))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got int
	var last error
	for _, err := range c.All(ctx, hybridclients.ListOptions{PageSize: 10}) {
		if err != nil {
			last = err
			break
		}
		got++
	}
	var re *identity.ResponseError
	if !errors.Is(last, identity.ErrInvalidResponse) || !errors.As(last, &re) {
		t.Fatalf("All ended with %v, want an *identity.ResponseError (ErrInvalidResponse)", last)
	}
	if got != 10 {
		t.Errorf("All yielded %d clients, want the 10 distinct ones once each", got)
	}
	if n := requests.Load(); n > 5 {
		t.Errorf("%d list requests before stopping", n)
	}
}

func TestFinding18_SecretsAllStops(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fresh bool // new ids on every page (a lying Total-Count), else the same page
	}{{"same page", false}, {"endless new ids", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int32
			c := findingClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
			}))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var last error
			seen := map[int]bool{}
			for s, err := range c.Secrets().All(ctx, "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b", secrets.ListOptions{PageSize: 2}) {
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

// Every public call given a nil context returns an error and sends nothing.
func TestFinding12_NilContextPublicCalls(t *testing.T) {
	var requests atomic.Int32
	c := findingClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "unexpected", http.StatusTeapot)
	}))
	var nilCtx context.Context
	const id = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
	name := "n"
	sc := c.Secrets()
	calls := map[string]func() error{
		"Get":    func() error { _, err := c.Get(nilCtx, id); return err },
		"Exists": func() error { _, err := c.Exists(nilCtx, id); return err },
		"List":   func() error { _, err := c.List(nilCtx, hybridclients.ListOptions{}); return err },
		"All": func() error {
			for _, err := range c.All(nilCtx, hybridclients.ListOptions{}) {
				return err
			}
			return nil
		},
		"Count":  func() error { _, err := c.Count(nilCtx, hybridclients.CountOptions{}); return err },
		"Update": func() error { _, err := c.Update(nilCtx, id, hybridclients.UpdateRequest{Name: &name}); return err },
		"Delete": func() error { return c.Delete(nilCtx, id) },
		"Create": func() error {
			_, err := c.Create(nilCtx, hybridclients.CreateRequest{Name: "n", RedirectURIs: []string{"https://app.example.com/cb"}})
			return err
		},
		"Secrets.List":   func() error { _, err := sc.List(nilCtx, id, secrets.ListOptions{}); return err },
		"Secrets.Count":  func() error { _, err := sc.Count(nilCtx, id); return err },
		"Secrets.Get":    func() error { _, err := sc.Get(nilCtx, id, 1); return err },
		"Secrets.Exists": func() error { _, err := sc.Exists(nilCtx, id, 1); return err },
		"Secrets.Add":    func() error { _, err := sc.Add(nilCtx, id, secrets.AddRequest{Description: "d"}); return err },
		"Secrets.Update": func() error {
			_, err := sc.Update(nilCtx, id, 1, secrets.UpdateRequest{Description: &name})
			return err
		},
		"Secrets.Delete": func() error { return sc.Delete(nilCtx, id, 1) },
		"Secrets.Rotate": func() error { _, err := sc.Rotate(nilCtx, id, secrets.RotateRequest{Description: "d"}); return err },
		"Secrets.CheckExpiry": func() error {
			_, err := sc.CheckExpiry(nilCtx, id, time.Hour)
			return err
		},
	}
	for op, call := range calls {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s(nil ctx) panicked: %v", op, r)
				}
			}()
			if err := call(); !errors.Is(err, identity.ErrInvalidInput) {
				t.Errorf("%s(nil ctx) = %v, want ErrInvalidInput", op, err)
			}
		}()
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("%d requests sent with a nil context", n)
	}
}

// clientsFrom serves a tenant of total clients with distinct ids, paged by skip and count
// (total < 0: new clients without end, whatever the skip).
func clientsFrom(total int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		skip, _ := strconv.Atoi(q.Get("skip"))
		count, _ := strconv.Atoi(q.Get("count"))
		n := count
		if total >= 0 {
			n = max(0, min(count, total-skip))
		}
		page := make([]map[string]any, n)
		for i := range page {
			page[i] = map[string]any{"Id": fmt.Sprintf("00000000-0000-0000-0000-%012d", skip+i), "Name": "c"}
		}
		w.Header().Set("Total-Count", strconv.Itoa(max(total, 1<<30)))
		if total >= 0 {
			w.Header().Set("Total-Count", strconv.Itoa(total))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	})
}

// TestFinding18_AllCapIsAGuardNotTheTenantLimit: the cap on a walk stops a list that never
// ends, but does not cut short a tenant that holds a few more clients than the service's
// limit (a fake seeded past it, or clients created while the walk runs).
func TestFinding18_AllCapIsAGuardNotTheTenantLimit(t *testing.T) {
	ctx := context.Background()
	walk := func(c *hybridclients.Client) (n int, last error) {
		for _, err := range c.All(ctx, hybridclients.ListOptions{PageSize: 1000}) {
			if err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	}
	if n, err := walk(findingClient(t, clientsFrom(50_004))); err != nil || n != 50_004 {
		t.Errorf("a tenant of 50,004 clients: listed %d, err %v; want all, no error", n, err)
	}
	n, err := walk(findingClient(t, clientsFrom(-1)))
	if !errors.Is(err, identity.ErrInvalidResponse) || n > 100_000+1000 || n < 50_001 { // the page that passes the cap is yielded
		t.Errorf("a list without end: listed %d, err %v; want a stop by 100,000 (and the page that passes it) with ErrInvalidResponse", n, err)
	}
}
