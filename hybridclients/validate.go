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
	"github.com/ocs-go/identity/internal/textrule"
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
// silently turn into U+FFFD, and free of what could rewrite a terminal or a log line when
// it is shown (textrule.Forbidden: control characters such as newlines and ANSI escapes,
// U+2028/U+2029, bidirectional overrides).
func (r *rules) text(field, v string) {
	if !utf8.ValidString(v) {
		r.add(field, "must be valid UTF-8", v)
	} else if rule := textrule.Check(v); rule != "" {
		r.add(field, rule, v)
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

// redirects checks a list of redirect URIs: count within [min, max], each a URL that
// redirectRule accepts, no duplicates.
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
			r.add(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("must not repeat %s[%d]", field, j), shownURI(u))
			continue
		}
		if rule := redirectRule(u); rule != "" {
			r.add(fmt.Sprintf("%s[%d]", field, i), rule, shownURI(u))
		}
	}
}

// Rules of redirect URIs, named in the ValidationError.
const (
	// A hybrid client is a server-side web app: the browser comes back to it over HTTP.
	// javascript:, data: and file: URIs would run or read something in the browser, and
	// private-use schemes (com.example.app:/cb) belong to native apps, which are not
	// hybrid clients. Plain http is allowed on any host, as the service may accept it for
	// development; outside loopback it exposes the authorization code on the network.
	ruleRedirectScheme   = "must be an absolute https URL (or http, meant for development): javascript:, data:, file: and private-use schemes are refused"
	ruleRedirectHost     = "must be an absolute http or https URL with a host (scheme://host/path)"
	ruleRedirectUserInfo = "must not hold user info (user:password@)"
)

// redirectRule returns the rule u breaks as a RedirectURIs or PostLogoutRedirectURIs
// entry, or "" when it breaks none: an absolute http(s) URL with a host, no user info,
// no fragment, no "*" (the service matches exactly; a "*" is not a pattern), no
// backslash, whitespace or control characters.
func redirectRule(u string) string {
	switch {
	case u == "":
		return "must not be empty"
	case !utf8.ValidString(u):
		return "must be valid UTF-8"
	case strings.ContainsFunc(u, func(c rune) bool { return unicode.IsSpace(c) || textrule.Forbidden(c) }):
		return "must not hold whitespace, control or bidirectional formatting characters"
	case strings.Contains(u, "*"):
		return `must not hold "*": redirect URIs are matched exactly, not as patterns`
	case strings.Contains(u, "#"):
		return "must not have a fragment"
	case strings.Contains(u, `\`):
		return `must not hold "\": browsers read it as "/", the service does not`
	}
	p, err := url.Parse(u)
	switch {
	case err != nil || p.Scheme == "":
		return ruleRedirectHost
	case p.Scheme != "https" && p.Scheme != "http":
		return ruleRedirectScheme
	case p.Opaque != "" || p.Hostname() == "":
		return ruleRedirectHost
	case p.User != nil:
		return ruleRedirectUserInfo
	}
	return ""
}

// shownURI is u for a ValidationError's Value, with the password of its user info (a
// rule breaker) masked: an error must never show a secret.
func shownURI(u string) string {
	if !strings.Contains(u, "@") {
		return u
	}
	p, err := url.Parse(u)
	switch {
	case err == nil && p.User != nil:
		return p.Redacted()
	case err == nil:
		return u
	}
	// Not parsable, so where user info ends is unknown: keep only what follows the last "@".
	return "…@" + u[strings.LastIndex(u, "@")+1:]
}

// webURI checks ClientURI and LogoURI: absolute http(s) with a host, no user info.
func (r *rules) webURI(field, u string) {
	p, err := url.Parse(u)
	switch {
	case err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Hostname() == "" || !utf8.ValidString(u) ||
		strings.ContainsFunc(u, func(c rune) bool { return unicode.IsSpace(c) || textrule.Forbidden(c) }):
		r.add(field, "must be an absolute http or https URL", shownURI(u))
	case p.User != nil:
		r.add(field, ruleRedirectUserInfo, shownURI(u))
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
		}
		r.text(f, id)
	}
}
