package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/harness/mocktest"
)

// mocktestPkg is the package of the mocked service.
var mocktestPkg = reflect.TypeFor[mocktest.Reply]().PkgPath()

// holds returns the path at which v, followed through pointers, interfaces, structs
// (unexported fields too), slices, arrays and maps, reaches a string or byte slice that
// contains value; "" when it reaches none. It does not enter the standard library's
// networking, synchronisation and context types (the connection pool, whose goroutines
// may still write to it; the http.Client in front of it is entered) or the mocked
// service (which holds the value by design), nor functions and channels.
func holds(v any, value string) string {
	seen := map[uintptr]bool{}
	var walk func(rv reflect.Value, path string) string
	walk = func(rv reflect.Value, path string) string {
		if !rv.IsValid() {
			return ""
		}
		switch typ := rv.Type(); typ.PkgPath() {
		case "net", "crypto/tls", "context", "sync", "sync/atomic", mocktestPkg:
			return ""
		case "net/http":
			if typ.Name() == "Transport" {
				return ""
			}
		}
		switch rv.Kind() {
		case reflect.String:
			if strings.Contains(rv.String(), value) {
				return path
			}
		case reflect.Pointer, reflect.Map:
			if rv.IsNil() || seen[rv.Pointer()] {
				return ""
			}
			seen[rv.Pointer()] = true
			if rv.Kind() == reflect.Pointer {
				return walk(rv.Elem(), "(*"+path+")")
			}
			for it := rv.MapRange(); it.Next(); {
				if p := walk(it.Key(), path+"[key]"); p != "" {
					return p
				}
				if p := walk(it.Value(), fmt.Sprintf("%s[%v]", path, it.Key())); p != "" {
					return p
				}
			}
		case reflect.Interface:
			return walk(rv.Elem(), path)
		case reflect.Struct:
			for i := range rv.NumField() {
				if p := walk(rv.Field(i), path+"."+rv.Type().Field(i).Name); p != "" {
					return p
				}
			}
		case reflect.Slice, reflect.Array:
			if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
				if bytes.Contains(rv.Bytes(), []byte(value)) {
					return path
				}
				return ""
			}
			for i := range rv.Len() {
				if p := walk(rv.Index(i), fmt.Sprintf("%s[%d]", path, i)); p != "" {
					return p
				}
			}
		}
		return ""
	}
	return walk(reflect.ValueOf(v), "v")
}

// keeper is an error that keeps a secret where no method shows it.
type keeper struct{ kept *Added }

func (keeper) Error() string { return "kept" }

// TestHoldsFindsAValueWhereverItHides proves that the walk of holds can fail: it finds a
// value in a Secret behind an unexported pointer of an error deep in a chain.
func TestHoldsFindsAValueWhereverItHides(t *testing.T) {
	secret := &Added{Value: identity.NewSecret(testValue)}
	for _, c := range []struct {
		v     any
		finds bool
	}{
		{*secret, true},
		{keeper{secret}, true},
		{fmt.Errorf("a: %w", errors.Join(errors.New("b"), fmt.Errorf("c: %w", keeper{secret}))), true},
		{map[string]any{"k": []byte("..." + testValue + "...")}, true},
		{&rotateError{clientID: testClient, step: "retiring", state: []string{"ok"}, err: errors.New("x")}, false},
		{Added{Value: identity.NewSecret("another value")}, false},
	} {
		if got := holds(c.v, testValue); (got != "") != c.finds {
			t.Errorf("holds(%T) = %q, want found %v", c.v, got, c.finds)
		}
	}
}

// TestNothingKeepsTheValueAfterStore: once Rotate returns, neither the Rotation, nor the
// error, nor the Client that made the call holds the new secret's value, whether the
// rotation succeeded or stopped at any step after the add; so the value lives only where
// Store put it. The same for the error and the Client after an Add whose answer was cut.
func TestNothingKeepsTheValueAfterStore(t *testing.T) {
	added := mocktest.Reply{Status: 201, Body: addedJSON(11, "v2", "2031-06-01T11:00:00Z")}
	stored := ok(secretJSON(11, "v2", fullExpiry))
	storeFails := func(context.Context, Added) error { return errors.New("vault unreachable") }
	for _, c := range []struct {
		name  string
		setup func(f *fixture)
		store func(context.Context, Added) error
		fails bool
	}{
		{"success", func(f *fixture) {
			f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, stored)
			f.On("PUT", secretsURL(hybridRoute, "1"), mocktest.Any, ok(secretJSON(1, "v1", "2030-06-01T13:00:00Z")))
		}, nil, false},
		{"retiring fails", func(f *fixture) {
			f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, stored)
			f.On("PUT", secretsURL(hybridRoute, "1"), mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
		}, nil, true},
		{"the check finds the stored secret gone", func(f *fixture) {
			f.On("GET", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 404, Body: mocktest.ErrorBody})
		}, nil, true},
		{"setting the full expiry fails, the new secret is deleted", func(f *fixture) {
			f.On("PUT", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
			f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 204})
		}, func(context.Context, Added) error { panic("Store must not be called when the full expiry was not set") }, true},
		{"Store fails, the new secret is deleted", func(f *fixture) {
			f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 204})
		}, storeFails, true},
		{"Store fails, deleting fails too", func(f *fixture) {
			f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
		}, storeFails, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, hybridRoute)
			f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "v1", "2031-01-01T00:00:00Z")))
			f.On("POST", secretsURL(hybridRoute), mocktest.Any, added)
			f.lengthened(hybridRoute)
			c.setup(f)
			vault := map[string]string{}
			store := c.store
			if store == nil {
				store = func(_ context.Context, s Added) error { vault["app"] = s.Value.Reveal(); return nil }
			}
			rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Description: "v2", Store: store})
			if (err != nil) != c.fails {
				t.Fatalf("Rotate: %v", err)
			}
			if c.store == nil && vault["app"] != testValue {
				t.Fatal("Store did not receive the value")
			}
			for what, v := range map[string]any{"the Rotation": rot, "the error": err, "the Client": f.c} {
				if p := holds(v, testValue); p != "" {
					t.Errorf("%s holds the value at %s", what, p)
				}
			}
		})
	}

	t.Run("an add whose answer was cut", func(t *testing.T) {
		f := newFixture(t, hybridRoute)
		f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(), mocktest.Reply{Status: 500}, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
		f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: `{"Id":11,"Secret":"` + testValue + `","Expires":tru`})
		_, err := f.c.Add(ctx, testClient, AddRequest{})
		if err == nil {
			t.Fatal("no error")
		}
		for what, v := range map[string]any{"the error": err, "the Client": f.c} {
			if p := holds(v, testValue); p != "" {
				t.Errorf("%s holds the value at %s", what, p)
			}
		}
	})
}
