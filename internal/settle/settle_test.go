package settle

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/transport"
)

const tenant = "11111111-2222-3333-4444-555555555555"

// newClient returns a transport whose requests end in a mock answering every POST with
// the next of statuses (the last one repeated), retrying quickly, at most 4 attempts.
func newClient(t *testing.T, statuses ...int) (*transport.Client, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	n := 0
	mt.RegisterNoResponder(func(*http.Request) (*http.Response, error) {
		s := statuses[min(n, len(statuses)-1)]
		n++
		return httpmock.NewStringResponse(s, `{}`), nil
	})
	c, err := transport.New(identity.Config{
		Resource:    "https://uswe.datahub.connect.aveva.com",
		TenantID:    tenant,
		Credentials: identity.NewStaticToken(identity.NewSecret("test-token")),
		HTTPClient:  &http.Client{Transport: mt},
		Retry:       identity.RetryPolicy{MaxAttempts: 4, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, mt
}

// op posts once per Post and counts its Looks; look decides what they return.
func op(c *transport.Client, looks *int, safe bool, look func(acted bool) (bool, error)) Op[string] {
	return Op[string]{
		Post: func(ctx context.Context, b *transport.Budget) (string, error) {
			_, err := c.Do(ctx, transport.Request{Method: http.MethodPost, Path: []string{"X"}, Budget: b}, nil)
			return "posted", err
		},
		Look: func(_ context.Context, failure error, acted bool) (string, bool, error) {
			*looks++
			again, err := look(acted)
			return "", again, errors.Join(failure, err)
		},
		SafeToRepeat: safe,
	}
}

// However they are spent (the retry layer's 429 retries, or posts again after a look),
// one call never sends more than MaxAttempts POSTs.
func TestPostSendsAtMostMaxAttemptsPOSTs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		safe     bool
	}{
		{"429 then lost answers, looking each time", []int{429, 429, 503}, false},
		{"lost answers, repeating blindly", []int{503}, true},
		{"429s only", []int{429}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, mt := newClient(t, tc.statuses...)
			looks := 0
			_, err := Post(context.Background(), c, op(c, &looks, tc.safe, func(bool) (bool, error) { return true, nil }))
			if err == nil {
				t.Fatal("no error")
			}
			if n := mt.GetTotalCallCount(); n != 4 {
				t.Errorf("%d POSTs, want 4 (MaxAttempts)", n)
			}
		})
	}
}

// An add (not SafeToRepeat) looks after every unknown outcome; a create (SafeToRepeat)
// repeats the POST and looks once, when posting stops.
func TestPostLooksWhenItMust(t *testing.T) {
	for _, tc := range []struct {
		safe      bool
		wantLooks int
	}{{false, 4}, {true, 1}} {
		c, _ := newClient(t, 503)
		looks := 0
		_, err := Post(context.Background(), c, op(c, &looks, tc.safe, func(bool) (bool, error) { return true, nil }))
		if !errors.Is(err, identity.ErrServer) || looks != tc.wantLooks {
			t.Errorf("SafeToRepeat %v: %d looks, want %d; err %v", tc.safe, looks, tc.wantLooks, err)
		}
	}
}

// An answer that says the service did not act ends the call without a look, unless an
// earlier attempt's outcome is still unknown; a look that says "stop" ends it.
func TestPostStopsOnNotActedAndOnLookVerdict(t *testing.T) {
	c, mt := newClient(t, 409)
	looks := 0
	if _, err := Post(context.Background(), c, op(c, &looks, true, nil)); !errors.Is(err, identity.ErrConflict) || looks != 0 || mt.GetTotalCallCount() != 1 {
		t.Errorf("409 first: err %v, %d looks, %d POSTs", err, looks, mt.GetTotalCallCount())
	}

	c, mt = newClient(t, 503, 409)
	looks = 0
	stop := errors.New("left as it is")
	_, err := Post(context.Background(), c, op(c, &looks, true, func(acted bool) (bool, error) { return acted, stop }))
	if !errors.Is(err, stop) || !errors.Is(err, identity.ErrConflict) || looks != 1 || mt.GetTotalCallCount() != 2 {
		t.Errorf("503 then 409: err %v, %d looks, %d POSTs", err, looks, mt.GetTotalCallCount())
	}
}

// A 2xx without a usable answer is looked at as acted.
func TestPostLooksAtUnusableSuccessAsActed(t *testing.T) {
	c, _ := newClient(t, 201)
	looks, sawActed := 0, false
	o := op(c, &looks, true, func(acted bool) (bool, error) { sawActed = acted; return false, nil })
	post := o.Post
	o.Post = func(ctx context.Context, b *transport.Budget) (string, error) {
		if _, err := post(ctx, b); err != nil {
			return "", err
		}
		return "", &identity.ResponseError{StatusCode: 201, Err: errors.New("no value")}
	}
	if _, err := Post(context.Background(), c, o); err == nil || looks != 1 || !sawActed {
		t.Errorf("err %v, %d looks, acted %v", err, looks, sawActed)
	}
}

// Read reads again after an unusable answer, and not after any other failure.
func TestReadRetriesOnlyUnusableAnswers(t *testing.T) {
	c, _ := newClient(t, 200)
	for _, tc := range []struct {
		err   error
		reads int
	}{
		{&identity.ResponseError{StatusCode: 200, Err: errors.New("cut short")}, 4},
		{&identity.Error{StatusCode: 404}, 1},
	} {
		reads := 0
		_, err := Read(context.Background(), c, func(context.Context) (int, error) { reads++; return 0, tc.err })
		if !errors.Is(err, tc.err) || reads != tc.reads {
			t.Errorf("%v: %d reads, want %d", tc.err, reads, tc.reads)
		}
	}
}
