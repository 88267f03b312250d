package secrets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ocs-go/identity/internal/harness/mocktest"
)

// TestNothingPrintsTheValue prints every result and error that met a secret value, with
// every verb a log line might use.
func TestNothingPrintsTheValue(t *testing.T) {
	var shown []any

	f := newFixture(t, hybridRoute)
	f.On("GET", secretsURL(hybridRoute), mocktest.Any, list(secretJSON(1, "old", "")))
	f.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: addedJSON(11, "new", "2031-06-01T12:00:00Z")})
	f.On("DELETE", secretsURL(hybridRoute, "1"), mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
	f.On("DELETE", secretsURL(hybridRoute, "11"), mocktest.Any, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
	a, err := f.c.Add(ctx, testClient, AddRequest{Description: "new"})
	if err != nil || a.Value.Reveal() != testValue {
		t.Fatalf("Add = %v, %v", a, err)
	}
	shown = append(shown, a, *a)

	// Retiring fails: a partial Rotation and an error.
	rot, err := f.c.Rotate(ctx, testClient, RotateRequest{Store: func(context.Context, Added) error { return nil }})
	if err == nil {
		t.Fatal("no error")
	}
	shown = append(shown, rot, err)

	// Store fails with the Added in hand, and the cleanup fails too.
	rot, err = f.c.Rotate(ctx, testClient, RotateRequest{Store: func(_ context.Context, s Added) error {
		return fmt.Errorf("could not store %v", s)
	}})
	if err == nil {
		t.Fatal("no error")
	}
	shown = append(shown, rot, err)

	// An add answer cut short after the value: unusable, reconciled, outcome unknown.
	f2 := newFixture(t, hybridRoute)
	// The check meets a 500, then a lasting 403, so that the naming look ends at once.
	f2.On("GET", secretsURL(hybridRoute), mocktest.Any, list(), mocktest.Reply{Status: 500}, mocktest.Reply{Status: 403, Body: mocktest.ErrorBody})
	f2.On("POST", secretsURL(hybridRoute), mocktest.Any, mocktest.Reply{Status: 201, Body: `{"Id":11,"Secret":"` + testValue + `","Expires":tru`})
	_, err = f2.c.Add(ctx, testClient, AddRequest{})
	if err == nil {
		t.Fatal("no error")
	}
	shown = append(shown, err, errors.Unwrap(err))

	for _, v := range shown {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, testValue) {
				t.Errorf("%s of %T shows the value: %s", verb, v, s)
			}
		}
	}
}
