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

// post posts once.
func post(c *transport.Client) func(context.Context, *transport.Budget) (string, error) {
	return func(ctx context.Context, b *transport.Budget) (string, error) {
		_, err := c.Do(ctx, transport.Request{Method: http.MethodPost, Path: []string{"X"}, Budget: b}, nil)
		return "posted", err
	}
}

// op posts once per Post and counts its Looks; look decides what they return.
func op(c *transport.Client, looks *int, look func(acted bool) (bool, error)) Op[string] {
	return Op[string]{
		Post: post(c),
		Look: func(_ context.Context, failure error, acted bool) (bool, error) {
			*looks++
			again, err := look(acted)
			return again, errors.Join(failure, err)
		},
	}
}

// However they are spent (the retry layer's 429 retries, posts again after a look, or
// repeats), one call never sends more than MaxAttempts POSTs.
func TestOneCallSendsAtMostMaxAttemptsPOSTs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		repeat   bool
	}{
		{"429 then lost answers, looking each time", []int{429, 429, 503}, false},
		{"429s only", []int{429}, false},
		{"lost answers, repeating blindly", []int{503}, true},
		{"429 then lost answers, repeating", []int{429, 503}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, mt := newClient(t, tc.statuses...)
			var err error
			if tc.repeat {
				err = Repeat(context.Background(), c, post(c)).Err
			} else {
				looks := 0
				_, err = Post(context.Background(), c, op(c, &looks, func(bool) (bool, error) { return true, nil }))
			}
			if err == nil {
				t.Fatal("no error")
			}
			if n := mt.GetTotalCallCount(); n != 4 {
				t.Errorf("%d POSTs, want 4 (MaxAttempts)", n)
			}
		})
	}
}

// An add (Post) looks after every unknown outcome; a create (Repeat) repeats the POST and
// leaves one settling to its caller, once posting stops.
func TestPostLooksAfterEveryUnknownOutcomeRepeatLeavesOneSettling(t *testing.T) {
	c, _ := newClient(t, 503)
	looks := 0
	if _, err := Post(context.Background(), c, op(c, &looks, func(bool) (bool, error) { return true, nil })); !errors.Is(err, identity.ErrServer) || looks != 4 {
		t.Errorf("Post: %d looks, want 4; err %v", looks, err)
	}
	c, mt := newClient(t, 503)
	p := Repeat(context.Background(), c, post(c))
	if !errors.Is(p.Err, identity.ErrServer) || !p.Unsettled || p.Acted || mt.GetTotalCallCount() != 4 {
		t.Errorf("Repeat: %+v after %d POSTs, want unsettled 503 after 4", p, mt.GetTotalCallCount())
	}
}

// An answer that says the service did not act ends the call without a look, unless an
// earlier attempt's outcome is still unknown; a look that says "stop" ends it.
func TestNotActedEndsTheCallUnlessAnEarlierOutcomeIsUnknown(t *testing.T) {
	c, mt := newClient(t, 409)
	if p := Repeat(context.Background(), c, post(c)); !errors.Is(p.Err, identity.ErrConflict) || p.Unsettled || mt.GetTotalCallCount() != 1 {
		t.Errorf("409 first: %+v, %d POSTs", p, mt.GetTotalCallCount())
	}

	c, mt = newClient(t, 503, 409)
	if p := Repeat(context.Background(), c, post(c)); !errors.Is(p.Err, identity.ErrConflict) || !p.Unsettled || p.Acted || mt.GetTotalCallCount() != 2 {
		t.Errorf("503 then 409: %+v, %d POSTs", p, mt.GetTotalCallCount())
	}

	c, mt = newClient(t, 503, 201)
	looks := 0
	stop := errors.New("left as it is")
	_, err := Post(context.Background(), c, op(c, &looks, func(bool) (bool, error) { return false, stop }))
	if !errors.Is(err, stop) || !errors.Is(err, identity.ErrServer) || looks != 1 || mt.GetTotalCallCount() != 1 {
		t.Errorf("look says stop: err %v, %d looks, %d POSTs", err, looks, mt.GetTotalCallCount())
	}
}

// A 2xx without a usable answer is settled as acted.
func TestUnusableSuccessIsSettledAsActed(t *testing.T) {
	c, _ := newClient(t, 201)
	unusable := func(ctx context.Context, b *transport.Budget) (string, error) {
		if _, err := post(c)(ctx, b); err != nil {
			return "", err
		}
		return "", &identity.ResponseError{StatusCode: 201, Err: errors.New("no value")}
	}
	if p := Repeat(context.Background(), c, unusable); p.Err == nil || !p.Unsettled || !p.Acted {
		t.Errorf("Repeat: %+v", p)
	}
	looks, sawActed := 0, false
	o := op(c, &looks, func(acted bool) (bool, error) { sawActed = acted; return false, nil })
	o.Post = unusable
	if _, err := Post(context.Background(), c, o); err == nil || looks != 1 || !sawActed {
		t.Errorf("Post: err %v, %d looks, acted %v", err, looks, sawActed)
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
