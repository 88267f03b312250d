package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"time"

	"github.com/ocs-go/identity/internal/rules"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Regional hosts of CONNECT data services ("resources"). The US-West host is the primary
// region and the default.
const (
	RegionUSWest = "https://uswe.datahub.connect.aveva.com"
	// RegionEUWest is the region the service's own docs label "EU-West (northeurope)":
	// its host is named "euno" after the Azure region, though it reads as "EU north".
	RegionEUWest    = "https://euno.datahub.connect.aveva.com"
	RegionAustralia = "https://auea.datahub.connect.aveva.com"
	RegionJapan     = "https://jpea.datahub.connect.aveva.com"
	// LegacyOCS is the host of OSIsoft Cloud Services before the renaming.
	LegacyOCS = "https://dat-b.osisoft.com"

	// DefaultResource is used when Config.Resource is empty.
	DefaultResource = RegionUSWest
	// APIVersion is the version of the Identity API this SDK speaks.
	APIVersion = "v1"
	// DefaultMaxResponseBytes bounds a response body when Config.MaxResponseBytes is 0.
	DefaultMaxResponseBytes = 16 << 20
)

// Config says how to reach and authenticate to one tenant. It is a plain value: build it
// once and pass it to hybridclients.New and secrets.New. Those make no network call; the
// first token is fetched by the first API call. hybridclients.DiscoverSignIn, which takes
// a Config too, reads the identity server's discovery document at once.
//
// A Config prints without its secret: credentials show their kind and client id only.
type Config struct {
	// Resource is the service's base URL, e.g. RegionEUWest. Empty means DefaultResource.
	// It must be https, except on a loopback host (an emulator, a test server).
	Resource string
	// TenantID is the tenant's id, a GUID.
	TenantID string
	// Credentials supply every call's bearer token: NewClientCredentials, NewTokenSource
	// (for example a signed-in Tenant Administrator's token) or NewStaticToken.
	Credentials Credentials
	// HTTPClient's Transport (and Timeout) are the base every request goes through; its
	// other settings are not used. Nil means a pooled transport of the SDK's own.
	HTTPClient *http.Client
	// Retry tunes retries of transient failures; the zero value means the defaults.
	Retry RetryPolicy
	// Logger receives a debug record of every API request (method, path, status,
	// attempts, time taken; the error of one that failed) and of each retry. Nil means
	// silent. Records never hold a secret value, a token or a request body.
	Logger *slog.Logger
	// UserAgent is appended to the SDK's User-Agent header, e.g. "my-provisioner/1.2".
	UserAgent string
	// MaxResponseBytes bounds how much of a response body is read; larger bodies give an
	// error matching ErrResponseTooLarge. Zero means DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// Clock is the time expiries are decided by (see Clock); nil means the system clock.
	Clock Clock
	// TracerProvider receives an OpenTelemetry span for each operation (Get, Create, Add,
	// Rotate, a scan, a desired state's Diff, Apply and Export, ...) with a child span for
	// each HTTP attempt. Nil records no spans;
	// OpenTelemetry's global provider is not used unless you pass it
	// (otel.GetTracerProvider()), so that a program that set one for other purposes
	// costs nothing here until it asks. Spans never hold a secret value, a token, a
	// header, a body or an error message.
	TracerProvider trace.TracerProvider
	// MeterProvider receives the SDK's OpenTelemetry metrics: requests by operation and
	// status, retries, 429s, token requests, rotations by result, days to expiry of the
	// secrets that expiry checks see, and clients at risk of lockout. Nil records none
	// (the global provider is not used unless you pass it).
	MeterProvider metric.MeterProvider
}

// RetryPolicy says how transient failures are retried. Idempotent calls (GET, HEAD, PUT,
// DELETE) are retried on connection errors and on 408, 429, 500, 502, 503 and 504; POST
// only when the service cannot have acted on it. Waits grow exponentially with jitter,
// honour a Retry-After header up to MaxRetryAfter, and end when the context ends.
type RetryPolicy struct {
	// MaxAttempts is the number of tries of one request, the first included. Zero means 4;
	// 1 turns retries off.
	MaxAttempts int
	// MinWait is the wait before the first retry, and the shortest wait between any two
	// attempts (a Retry-After of 0 or in the past included); zero means 500ms.
	MinWait time.Duration
	// MaxWait caps the exponential wait; zero means 30s.
	MaxWait time.Duration
	// MaxRetryAfter caps how long a Retry-After header may make the SDK wait; a longer
	// Retry-After ends the retries and returns the error. Zero means 60s.
	MaxRetryAfter time.Duration
}

// resourceURL is Resource resolved by the rule the transport uses too.
func (c Config) resourceURL() (*url.URL, error) {
	u, p := rules.ResourceURL(c.Resource)
	if p != nil {
		return nil, problemError(p)
	}
	return u, nil
}

// problemError wraps a broken rule of internal/rules.
func problemError(p *rules.Problem) error {
	return &ValidationError{Field: p.Field, Rule: p.Rule, Value: p.Value}
}

// checkURL applies the rules of every URL the SDK sends credentials to (rules.CheckURL).
func checkURL(field, s, raw string) (*url.URL, error) {
	u, p := rules.CheckURL(field, s, raw)
	if p != nil {
		return nil, problemError(p)
	}
	return u, nil
}

// validateGUID returns a *ValidationError naming field when value is not a GUID.
func validateGUID(field, value string) error {
	if !rules.IsGUID(value) {
		return &ValidationError{Field: field, Rule: rules.GUIDRule, Value: value}
	}
	return nil
}

// Validate reports every broken rule of the Config at once, nil when the Config is
// usable: errors.As finds the first *ValidationError, ValidationErrors returns them all.
func (c Config) Validate() error {
	return rules.Prefixed(pkgName, c.validate())
}

func (c Config) validate() error {
	var errs []error
	if _, err := c.resourceURL(); err != nil {
		errs = append(errs, err)
	}
	if err := validateGUID("TenantID", c.TenantID); err != nil {
		errs = append(errs, err)
	}
	if c.Credentials == nil {
		errs = append(errs, &ValidationError{Field: "Credentials", Rule: "must be set", Value: nil})
	} else if v := reflect.ValueOf(c.Credentials); v.Kind() == reflect.Pointer && v.IsNil() {
		// var c *ClientCredentials; cfg.Credentials = c: not nil as an interface, but
		// every call would fail on it.
		errs = append(errs, &ValidationError{Field: "Credentials", Rule: "must not be a nil pointer", Value: fmt.Sprintf("%T(nil)", c.Credentials)})
	} else if cv, ok := c.Credentials.(interface{ validate() error }); ok {
		if err := cv.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	p := c.Retry
	if p.MaxAttempts < 0 {
		errs = append(errs, &ValidationError{Field: "Retry.MaxAttempts", Rule: "must not be negative", Value: p.MaxAttempts})
	}
	if p.MinWait < 0 || p.MaxWait < 0 || p.MaxRetryAfter < 0 {
		errs = append(errs, &ValidationError{Field: "Retry", Rule: "waits must not be negative", Value: fmt.Sprintf("MinWait=%s MaxWait=%s MaxRetryAfter=%s", p.MinWait, p.MaxWait, p.MaxRetryAfter)})
	}
	if d := rules.Retry(p).WithDefaults(); d.MaxWait < d.MinWait {
		errs = append(errs, &ValidationError{Field: "Retry.MaxWait", Rule: "must not be less than MinWait", Value: d.MaxWait})
	}
	if c.MaxResponseBytes < 0 {
		errs = append(errs, &ValidationError{Field: "MaxResponseBytes", Rule: "must not be negative", Value: c.MaxResponseBytes})
	}
	return errors.Join(errs...)
}

// String shows the Config without any secret.
func (c Config) String() string {
	creds := "none"
	if c.Credentials != nil {
		creds = fmt.Sprint(c.Credentials)
	}
	return fmt.Sprintf("identity.Config{Resource: %q, TenantID: %q, Credentials: %s, Retry: %+v, UserAgent: %q}",
		c.Resource, c.TenantID, creds, c.Retry, c.UserAgent)
}

// GoString makes %#v show the same as String.
func (c Config) GoString() string { return c.String() }
