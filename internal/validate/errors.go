package validate

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/rules"
)

// Errors collects every broken rule of one request, up to maxReported: an input with
// thousands of bad entries must not make an error of megabytes.
type Errors []error

// maxReported is how many broken rules one error lists; one more entry says there are more.
const maxReported = 20

// Add records one broken rule.
func (r *Errors) Add(field, rule string, value any) {
	switch {
	case len(*r) < maxReported:
		*r = append(*r, &identity.ValidationError{Field: field, Rule: rule, Value: value})
	case len(*r) == maxReported:
		*r = append(*r, &identity.ValidationError{Field: field, Rule: fmt.Sprintf("%s; and more rules are broken beyond the %d listed", rule, maxReported), Value: value})
	}
}

// Text checks what every string sent must be: valid UTF-8, which JSON would otherwise
// silently turn into U+FFFD, and free of what could rewrite a terminal or a log line when
// it is shown (rules.ForbiddenInText: control characters such as newlines and ANSI escapes,
// U+2028/U+2029, bidirectional overrides).
func (r *Errors) Text(field, v string) {
	if !utf8.ValidString(v) {
		r.Add(field, "must be valid UTF-8", v)
	} else if rule := rules.CheckText(v); rule != "" {
		r.Add(field, rule, v)
	}
}

// Name checks a name: not blank, and Text.
func (r *Errors) Name(field, v string) {
	if strings.TrimSpace(v) == "" {
		r.Add(field, "must not be blank", v)
	}
	r.Text(field, v)
}

// Lifetime checks a duration sent in whole seconds within [min, max].
func (r *Errors) Lifetime(field string, d, min, max time.Duration) {
	switch {
	case d%time.Second != 0:
		r.Add(field, "must be a whole number of seconds", d.String())
	case d < min || d > max:
		r.Add(field, fmt.Sprintf("must be from %s to %s", min, max), d.String())
	}
}

// Redirects checks a list of redirect URIs: count within [min, max], each a URL that
// redirectRule accepts, no duplicates.
func (r *Errors) Redirects(field string, uris []string, min, max int) {
	if len(uris) < min || len(uris) > max {
		r.Add(field, fmt.Sprintf("must hold %d to %d URIs", min, max), len(uris))
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
			r.Add(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("must not repeat %s[%d]", field, j), shownURI(u))
			continue
		}
		if rule := redirectRule(u); rule != "" {
			r.Add(fmt.Sprintf("%s[%d]", field, i), rule, shownURI(u))
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
	case strings.ContainsFunc(u, func(c rune) bool { return unicode.IsSpace(c) || rules.ForbiddenInText(c) }):
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

// WebURI checks ClientURI and LogoURI: absolute http(s) with a host, no user info.
func (r *Errors) WebURI(field, u string) {
	p, err := url.Parse(u)
	switch {
	case err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Hostname() == "" || !utf8.ValidString(u) ||
		strings.ContainsFunc(u, func(c rune) bool { return unicode.IsSpace(c) || rules.ForbiddenInText(c) }):
		r.Add(field, "must be an absolute http or https URL", shownURI(u))
	case p.User != nil:
		r.Add(field, ruleRedirectUserInfo, shownURI(u))
	}
}

// Tags checks each tag: not blank, and Text.
func (r *Errors) Tags(field string, tags []string) {
	for i, t := range tags {
		if strings.TrimSpace(t) == "" {
			r.Add(fmt.Sprintf("%s[%d]", field, i), "must not be blank", t)
		}
		r.Text(fmt.Sprintf("%s[%d]", field, i), t)
	}
}

// IDs checks list filters: a blank id would be ignored by the service, silently turning a
// filtered list into a list of every client.
func (r *Errors) IDs(field string, ids []string) {
	for i, id := range ids {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.TrimSpace(id) == "" {
			r.Add(f, "must not be blank (the service would ignore it and list every client)", id)
		}
		r.Text(f, id)
	}
}

// Append records err, a broken rule found elsewhere (nil is ignored).
func (r *Errors) Append(err error) {
	if err != nil {
		*r = append(*r, err)
	}
}

// Err returns every broken rule at once (errors.Join), or nil.
func (r Errors) Err() error { return errors.Join(r...) }
