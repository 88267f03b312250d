package rules

import (
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// DefaultResource is the resource used when a Config names none (identity.RegionUSWest).
const DefaultResource = "https://uswe.datahub.connect.aveva.com"

// GUIDRule is the rule of a GUID field, in the words of a ValidationError.
const GUIDRule = "must be a GUID like 00000000-0000-0000-0000-000000000000"

// IsGUID reports whether value is a GUID in the "8-4-4-4-12" hex form; braces and urn
// forms, which uuid.Validate accepts, are refused.
func IsGUID(value string) bool { return len(value) == 36 && uuid.Validate(value) == nil }

// IsLoopback reports whether host (a name or an IP, without port) is a loopback host:
// "localhost" or an address in 127.0.0.0/8 or ::1.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Problem is one broken rule: what the caller wraps into an *identity.ValidationError.
type Problem struct {
	Field string
	Rule  string
	Value any
}

// CheckURL applies the rules of every URL the SDK sends credentials to: absolute, https
// (plain http only on a loopback host), no user info, no query, no fragment. raw is the
// value as given, for the message; a password in it never reaches a Problem.
func CheckURL(field, s, raw string) (*url.URL, *Problem) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, &Problem{Field: field, Rule: "must be an absolute URL", Value: withoutUserInfo(raw)}
	}
	switch {
	case !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return nil, &Problem{Field: field, Rule: "must be an absolute URL", Value: withoutUserInfo(raw)}
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, &Problem{Field: field, Rule: "must not hold user info, a query or a fragment", Value: withoutUserInfo(u.Redacted())}
	case u.Scheme == "https":
	case u.Scheme == "http" && IsLoopback(u.Hostname()):
	default:
		return nil, &Problem{Field: field, Rule: "must be https (plain http only on a loopback host)", Value: raw}
	}
	return u, nil
}

// withoutUserInfo returns r for an error message with whatever precedes an "@" of its
// authority masked: r did not parse as an absolute URL, and that part may be a password.
func withoutUserInfo(r string) string {
	at := strings.LastIndex(r, "@")
	if at < 0 {
		return r
	}
	start := 0
	if i := strings.Index(r, "//"); i >= 0 && i < at {
		start = i + 2
	}
	return r[:start] + "xxxxx" + r[at:]
}

// ResourceURL returns the parsed resource (DefaultResource when empty), without a
// trailing slash. The resource is the service's base URL only: the SDK adds
// /api/v1/Tenants/... itself, so a path (other than "/"), a query or a fragment is refused.
func ResourceURL(resource string) (*url.URL, *Problem) {
	r := resource
	if r == "" {
		r = DefaultResource
	}
	u, p := CheckURL("Resource", strings.TrimRight(r, "/"), r)
	if p != nil {
		return nil, p
	}
	if u.Path != "" || u.RawPath != "" {
		// "https://host/api/v1" would make every call go to /api/v1/api/v1/...
		return nil, &Problem{Field: "Resource", Rule: "must be the service's base URL without a path (the SDK adds /api/v1/...), e.g. " + DefaultResource, Value: u.Redacted()}
	}
	return u, nil
}

// Retry has the fields of identity.RetryPolicy, in the same order, so that each converts
// to the other.
type Retry struct {
	MaxAttempts   int
	MinWait       time.Duration
	MaxWait       time.Duration
	MaxRetryAfter time.Duration
}

// WithDefaults returns p with every zero field set to its default.
func (p Retry) WithDefaults() Retry {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 4
	}
	if p.MinWait == 0 {
		p.MinWait = 500 * time.Millisecond
	}
	if p.MaxWait == 0 {
		p.MaxWait = 30 * time.Second
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = 60 * time.Second
	}
	return p
}
