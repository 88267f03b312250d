// Package mocktest is the unit-test rig of the SDK's packages: New gives a Rig whose routes
// check every request in one place. The mock transport goes in as the base transport under
// the SDK's retry and auth layers, so the tests exercise the real retry policy;
// httpmock.Activate would not intercept it (it swaps http.DefaultTransport). Only tests
// import this package.
package mocktest

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/ocs-go/identity"
)

// Fixed values of the unit tests.
const (
	Resource = "https://uswe.datahub.connect.aveva.com"
	TenantID = "11111111-2222-3333-4444-555555555555"
	Token    = "test-bearer-token-5f2a9c"
	// TenantURL is the base of every API route of the test tenant.
	TenantURL = Resource + "/api/v1/Tenants/" + TenantID
)

// Config returns a Config whose requests end in a new mock transport, authenticated with
// the static token Token, and retrying quickly (1 ms waits) so retry tests stay fast.
func Config() (identity.Config, *httpmock.MockTransport) {
	mt := httpmock.NewMockTransport()
	return identity.Config{
		Resource:    Resource,
		TenantID:    TenantID,
		Credentials: identity.NewStaticToken(identity.NewSecret(Token)),
		HTTPClient:  &http.Client{Transport: mt},
		Retry:       identity.RetryPolicy{MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond},
	}, mt
}

// Loopback returns a Config for a loopback server that runs h, closed when the test ends:
// for what the mock transport cannot do, such as cutting a connection, or a service that
// pages however the test likes. Requests carry the static token Token; a request is tried
// twice at most, 1 to 2 ms apart.
func Loopback(t testing.TB, h http.Handler) identity.Config {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return identity.Config{
		Resource:    srv.URL,
		TenantID:    TenantID,
		Credentials: identity.NewStaticToken(identity.NewSecret(Token)),
		Retry:       identity.RetryPolicy{MaxAttempts: 2, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond},
	}
}

// ErrorBody is a documented ErrorResponse body, for error-mapping tests.
const ErrorBody = `{"OperationId":"op-1","Error":"Something failed","Reason":"Because","Resolution":"Do better","EventId":"ev-1","DynamicProperties":{"k":"v"}}`

// Statuses are the documented error statuses and the sentinel each must match.
var Statuses = []struct {
	Status   int
	Sentinel error
}{
	{400, identity.ErrBadRequest},
	{401, identity.ErrUnauthorized},
	{403, identity.ErrForbidden},
	{404, identity.ErrNotFound},
	{408, identity.ErrTimeout},
	{409, identity.ErrConflict},
	{429, identity.ErrRateLimited},
	{500, identity.ErrServer},
	{503, identity.ErrServer},
}

// RouteTo is a transport that sends every request, whatever its host, to h: a Resource of
// any spelling can be tested without the network.
type RouteTo struct{ Handler http.Handler }

// RoundTrip serves req with the Handler.
func (r RouteTo) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	r.Handler.ServeHTTP(rec, req)
	return rec.Result(), nil
}

// ReturnsWithin runs f and fails the test when f has not returned after limit of real
// time: a guard against a hang, which a fake clock cannot show. f is left running then
// (the test ends).
func ReturnsWithin(t *testing.T, limit time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("still running after %s of real time", limit)
	}
}
