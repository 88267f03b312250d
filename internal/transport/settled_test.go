package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/ocs-go/identity"
)

// A context that ended before the call sends nothing, and says so.
func TestEndedContextSendsNothing(t *testing.T) {
	c, mt := newClient(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Do(ctx, Request{Method: http.MethodPost, Path: []string{"HybridClients"}}, nil)
	if !errors.Is(err, context.Canceled) || OutcomeOf(err) != NotActed || errors.Is(err, identity.ErrUnreachable) {
		t.Fatalf("err = %v, outcome %v", err, OutcomeOf(err))
	}
	if n := mt.GetTotalCallCount(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestNilContextIsAnErrorAndSendsNothing(t *testing.T) {
	c, mt := newClient(t, nil)
	mt.RegisterResponder("GET", itemURL, httpmock.NewStringResponder(200, "{}"))
	var nilCtx context.Context
	noPanic(t, "Do", func() {
		if _, err := c.Do(nilCtx, Request{Method: http.MethodGet, Path: []string{"HybridClients", "x"}}, nil); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("Do(nil ctx) = %v, want ErrInvalidInput", err)
		}
	})
	noPanic(t, "Wait", func() {
		if err := c.Wait(nilCtx, 1, errors.New("x")); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("Wait(nil ctx) = %v, want ErrInvalidInput", err)
		}
	})
	if n := mt.GetTotalCallCount(); n != 0 {
		t.Fatalf("%d requests sent with a nil context", n)
	}
}

func TestSettledDropsOutcomeUnknownOnly(t *testing.T) {
	ce := &identity.ConnectionError{Method: http.MethodPost, Path: "/p", Sent: true, Err: io.EOF}
	err := Settled(fmt.Errorf("%w (no secret was added)", ce))
	var got *identity.ConnectionError
	if errors.Is(err, identity.ErrOutcomeUnknown) || !errors.Is(err, identity.ErrUnreachable) || !errors.Is(err, io.EOF) || !errors.As(err, &got) || got != ce {
		t.Fatalf("Settled: %v", err)
	}
	if err.Error() != "POST /p: connection lost before the answer was read: EOF (no secret was added)" {
		t.Fatalf("message changed: %q", err)
	}
	if Settled(nil) != nil || Settled(io.EOF) != io.EOF {
		t.Fatal("Settled changed an error that matched no ErrOutcomeUnknown")
	}
}
