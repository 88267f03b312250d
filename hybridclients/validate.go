package hybridclients

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ocs-go/identity"
)

// Limits of the service (API.md), checked before a request is sent.
const (
	MaxRedirectURIs           = 10
	MaxPostLogoutRedirectURIs = 10
	MinAccessTokenLifetime    = time.Minute
	MaxAccessTokenLifetime    = time.Hour
	// DefaultAccessTokenLifetime is used when CreateRequest.AccessTokenLifetime is zero.
	DefaultAccessTokenLifetime = time.Hour
)

// rules collects every broken rule of one request, up to maxReported: an input with
// thousands of bad entries must not make an error of megabytes.
type rules []error

// maxReported is how many broken rules one error lists; one more entry says there are more.
const maxReported = 20

func (r *rules) add(field, rule string, value any) {
	switch {
	case len(*r) < maxReported:
		*r = append(*r, &identity.ValidationError{Field: field, Rule: rule, Value: value})
	case len(*r) == maxReported:
		*r = append(*r, &identity.ValidationError{Field: field, Rule: fmt.Sprintf("%s; and more rules are broken beyond the %d listed", rule, maxReported), Value: value})
	}
}

// text checks what every string sent must be: valid UTF-8, which JSON would otherwise
// silently turn into U+FFFD.
func (r *rules) text(field, v string) {
	if !utf8.ValidString(v) {
		r.add(field, "must be valid UTF-8", v)
	}
}

func (r *rules) name(field, v string) {
	if strings.TrimSpace(v) == "" {
		r.add(field, "must not be blank", v)
	}
	r.text(field, v)
}

func (r *rules) lifetime(field string, d time.Duration) {
	switch {
	case d%time.Second != 0:
		r.add(field, "must be a whole number of seconds", d.String())
	case d < MinAccessTokenLifetime || d > MaxAccessTokenLifetime:
		r.add(field, "must be from 1m0s to 1h0m0s", d.String())
	}
}

// redirects checks a list of redirect URIs: count within [min, max], each absolute with
// no fragment, whitespace or "*" (the service matches exactly; a "*" is not a pattern),
// no duplicates.
func (r *rules) redirects(field string, uris []string, min, max int) {
	if len(uris) < min || len(uris) > max {
		r.add(field, fmt.Sprintf("must hold %d to %d URIs", min, max), len(uris))
	}
	var seen map[string]int // only for long lists: a scan is cheaper for the usual few
	if len(uris) > 16 {
		seen = make(map[string]int, len(uris))
	}
	for i, u := range uris {
		j, dup := -1, false
		if seen != nil {
			if j, dup = seen[u]; !dup {
				seen[u] = i
			}
		} else {
			j = slices.Index(uris[:i], u)
			dup = j >= 0
		}
		if dup {
			r.add(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("must not repeat %s[%d]", field, j), u)
			continue
		}
		if rule := redirectRule(u); rule != "" {
			r.add(fmt.Sprintf("%s[%d]", field, i), rule, u)
		}
	}
}

func redirectRule(u string) string {
	switch {
	case u == "":
		return "must not be empty"
	case !utf8.ValidString(u):
		return "must be valid UTF-8"
	case strings.ContainsFunc(u, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) }):
		return "must not hold whitespace or control characters"
	case strings.Contains(u, "*"):
		return `must not hold "*": redirect URIs are matched exactly, not as patterns`
	case strings.Contains(u, "#"):
		return "must not have a fragment"
	}
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || (p.Host == "" && p.Opaque == "" && p.Path == "") {
		return "must be an absolute URI (scheme:...)"
	}
	return ""
}

// webURI checks ClientURI and LogoURI: absolute http(s) with a host.
func (r *rules) webURI(field, u string) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || !utf8.ValidString(u) ||
		strings.ContainsFunc(u, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) }) {
		r.add(field, "must be an absolute http or https URL", u)
	}
}

func (r *rules) tags(field string, tags []string) {
	for i, t := range tags {
		if strings.TrimSpace(t) == "" {
			r.add(fmt.Sprintf("%s[%d]", field, i), "must not be blank", t)
		}
		r.text(fmt.Sprintf("%s[%d]", field, i), t)
	}
}

// ids checks list filters: a blank id would be ignored by the service, silently turning a
// filtered list into a list of every client.
func (r *rules) ids(field string, ids []string) {
	for i, id := range ids {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.TrimSpace(id) == "" {
			r.add(f, "must not be blank (the service would ignore it and list every client)", id)
		} else if strings.ContainsFunc(id, unicode.IsControl) {
			r.add(f, "must not hold control characters", id)
		}
		r.text(f, id)
	}
}
