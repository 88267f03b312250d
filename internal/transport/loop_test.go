package transport

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/harness/mocktest"
)

// recordingPacer lets every attempt through (or none, with refuse) and records what it
// was told.
type recordingPacer struct {
	mu       sync.Mutex
	waits    int
	statuses []int
	refuse   error
}

func (p *recordingPacer) Wait(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waits++
	return p.refuse
}

func (p *recordingPacer) Done(_ time.Time, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.statuses = append(p.statuses, status)
}

// fastClient is a mocked Client that retries up to attempts times, 1-2 ms apart.
func fastClient(t *testing.T, attempts int) (*Client, *httpmock.MockTransport) {
	return newClient(t, func(cfg *identity.Config) {
		cfg.Retry = identity.RetryPolicy{MaxAttempts: attempts, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond}
	})
}

// A context's Pacer takes every attempt of a call, retries included, and hears each answer.
func TestPacerSeesEveryAttempt(t *testing.T) {
	c, mt := fastClient(t, 4)
	n := 0
	mt.RegisterResponder("GET", itemURL, func(*http.Request) (*http.Response, error) {
		if n++; n < 3 {
			return httpmock.NewStringResponse(503, mocktest.ErrorBody), nil
		}
		return httpmock.NewStringResponse(200, "{}"), nil
	})
	p := &recordingPacer{}
	if err := get(c, WithPacer(context.Background(), p)); err != nil {
		t.Fatal(err)
	}
	if p.waits != 3 || len(p.statuses) != 3 || p.statuses[0] != 503 || p.statuses[1] != 503 || p.statuses[2] != 200 {
		t.Fatalf("pacer: %d waits, answers %v; want 3 waits and [503 503 200]", p.waits, p.statuses)
	}
}

// A call its pacer does not let through (the scan's context ended while it queued) sent
// nothing, and its error says so: a create or add is not left to be settled.
func TestPacerRefusalIsNotSent(t *testing.T) {
	c, mt := newClient(t, nil)
	mt.RegisterResponder("POST", mocktest.TenantURL+"/HybridClients", httpmock.NewStringResponder(201, "{}"))
	p := &recordingPacer{refuse: context.Canceled}
	_, err := c.Do(WithPacer(context.Background(), p), Request{Method: http.MethodPost, Path: []string{"HybridClients"}, Body: struct{}{}}, nil)
	if !errors.Is(err, context.Canceled) || OutcomeOf(err) != NotActed || errors.Is(err, identity.ErrOutcomeUnknown) {
		t.Fatalf("err = %v (outcome %v), want context.Canceled, not acted", err, OutcomeOf(err))
	}
	if n := mt.GetTotalCallCount(); n != 0 {
		t.Fatalf("%d requests sent past a refusing pacer", n)
	}
}

// An attempt whose connection never opened cannot have acted: a DELETE retried after it
// that meets 404 did not delete anything, and is not told it did.
func TestDeleteAfterUnsentAttemptDoesNotClaimTheDeletion(t *testing.T) {
	c, mt := fastClient(t, 3)
	n := 0
	mt.RegisterResponder("DELETE", itemURL, func(*http.Request) (*http.Response, error) {
		if n++; n == 1 {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
		}
		return httpmock.NewStringResponse(404, mocktest.ErrorBody), nil
	})
	resp, err := c.Do(context.Background(), Request{Method: http.MethodDelete, Path: []string{"HybridClients", "x"}}, nil)
	if !errors.Is(err, identity.ErrNotFound) || resp == nil || resp.EarlierAttemptMayHaveActed {
		t.Fatalf("err = %v, response %+v: want a 404 with EarlierAttemptMayHaveActed false", err, resp)
	}
	if n != 2 {
		t.Fatalf("%d attempts, want 2", n)
	}
}
