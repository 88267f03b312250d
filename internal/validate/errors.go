package validate

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
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

// Rules of redirect URIs, named in the ValidationError. A hybrid client serves native
// apps as well as server-side web apps, so redirect URIs follow RFC 8252 (OAuth 2.0 for
// Native Apps): private-use schemes (7.1), claimed https (7.2) and loopback http (7.3).
// Plain http stays allowed on any host, for development, as the service may accept it:
// the code it exposes on the network is bound to the PKCE verifier and the client secret.
const (
	ruleRedirectAbsolute  = `must be an absolute URI with a scheme: https://host/path, http://127.0.0.1:{port}/path or a native app's com.example.app:/path`
	ruleRedirectScheme    = `must start with a scheme as RFC 3986 writes it (a letter, then letters, digits, "+", "-" or ".", such as com.example.app) followed by ":"`
	ruleRedirectLookAlike = `must not use a scheme that looks like http or https (htps:, httpss:, http2:, hxxps:...): ` +
		`it would be a private-use scheme that any app can claim; write http or https`
	ruleRedirectHost      = "must have a host when http or https (https://host/path)"
	ruleRedirectPath      = `must continue with "/" after a private-use scheme and name a path or host (com.example.app:/oauth2redirect, myapp://callback); for a host and port write http://host:port/...`
	ruleRedirectPort      = "must have a port from 1 to 65535, when it has one"
	ruleRedirectMalformed = "must be a well-formed URI (RFC 3986: valid host, port and percent-escapes)"
	ruleRedirectUserInfo  = "must not hold user info (user:password@)"
)

// The schemes that redirectScheme refuses, as the rules list them.
const (
	// Schemes that run or show something in the browser or on the device instead of
	// handing the sign-in to an app: script, local data, or an app component the URI
	// names (intent:).
	browserSchemes = "javascript:, vbscript:, data:, blob:, file:, filesystem:, about:, view-source:, intent:"
	// Schemes of other protocols, or addresses handed to mail, phone and chat programs
	// (urn: was the retired out-of-band flow's urn:ietf:wg:oauth:2.0:oob).
	protocolSchemes = "ftp:, ftps:, sftp:, tftp:, ws:, wss:, ssh:, telnet:, gopher:, ldap:, ldaps:, smb:, nfs:, mailto:, tel:, sms:, news:, nntp:, irc:, urn:"

	ruleRedirectBrowser  = "must not use a scheme that runs or shows something in the browser or device itself (" + browserSchemes + ")"
	ruleRedirectProtocol = "must not use the scheme of another protocol, where no app receives a sign-in (" + protocolSchemes + ")"
)

// redirectScheme returns the rule that refuses scheme (lower case) whatever the rest of
// the URI, or "".
func redirectScheme(scheme string) string {
	switch {
	case scheme == "http" || scheme == "https":
		return ""
	case listed(browserSchemes, scheme):
		return ruleRedirectBrowser
	case listed(protocolSchemes, scheme):
		return ruleRedirectProtocol
	case looksLikeHTTP(scheme):
		return ruleRedirectLookAlike
	}
	return ""
}

// listed reports whether list, as browserSchemes writes it, names scheme: the rule's
// words are the list checked, so they cannot drift apart.
func listed(list, scheme string) bool {
	for s := range strings.SplitSeq(list, ", ") {
		if strings.TrimSuffix(s, ":") == scheme {
			return true
		}
	}
	return false
}

// redirectRule returns the rule u breaks as a RedirectURIs or PostLogoutRedirectURIs
// entry, or "" when it breaks none. Whatever the scheme: not empty, no whitespace,
// control or bidirectional characters, no "*" (the service matches exactly; a "*" is
// not a pattern), no fragment, no backslash, no user info, a port (if any) from 1 to
// 65535. Then an https or http URL needs a host, a private-use URI a "/" after its
// scheme, and the schemes redirectScheme names are refused.
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
	// The scheme ends at the first ":" before any "/" or "?"; url.Parse would take a
	// scheme with odd characters for a relative path and say only that it has a colon.
	end := strings.IndexAny(u, ":/?")
	switch {
	case end <= 0 || u[end] != ':':
		return ruleRedirectAbsolute
	case !schemeSyntax(u[:end]):
		return ruleRedirectScheme
	}
	p, err := url.Parse(u)
	if err != nil {
		return ruleRedirectMalformed
	}
	scheme := strings.ToLower(p.Scheme)
	if rule := redirectScheme(scheme); rule != "" {
		return rule
	}
	switch {
	case scheme == "https" || scheme == "http":
		if p.Opaque != "" || p.Hostname() == "" {
			return ruleRedirectHost
		}
	case p.Opaque != "" || p.Host == "" && p.Path == "":
		// "localhost:8400/cb" and "app.example.com:443/cb" parse as the schemes
		// localhost and app.example.com: a forgotten http://, not a native app.
		return ruleRedirectPath
	}
	if p.User != nil {
		return ruleRedirectUserInfo
	}
	if port := p.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return ruleRedirectPort
		}
	}
	return ""
}

// schemeSyntax reports whether s is a scheme of RFC 3986, section 3.1:
// ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func schemeSyntax(s string) bool {
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// looksLikeHTTP reports whether scheme (lower case), not http or https itself, reads as
// one of them mistyped or altered: it starts with "http" or "hxxp" (httpss, http2,
// https-dev, a defanged hxxps), or is one edit away from http or https (a letter added,
// dropped or changed, or two neighbours swapped: htps, htp, shttp, htpts).
func looksLikeHTTP(scheme string) bool {
	return strings.HasPrefix(scheme, "http") || strings.HasPrefix(scheme, "hxxp") ||
		oneEditApart(scheme, "http") || oneEditApart(scheme, "https")
}

// oneEditApart reports whether a and b differ by exactly one edit: a byte added, dropped
// or changed, or two neighbouring bytes swapped.
func oneEditApart(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	switch len(b) - len(a) {
	case 0:
		if i == len(a) {
			return false // equal
		}
		return a[i+1:] == b[i+1:] ||
			i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
	case 1:
		return a[i:] == b[i+1:]
	}
	return false
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

// IDs checks list filters: each a GUID, as every client id the SDK sends. A blank id
// would be ignored by the service, silently turning a filtered list into a list of every
// client; any other non-GUID could only match nothing.
func (r *Errors) IDs(field string, ids []string) {
	for i, id := range ids {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case strings.TrimSpace(id) == "":
			r.Add(f, "must not be blank (the service would ignore it and list every client)", id)
		case !rules.IsGUID(id):
			r.Add(f, rules.GUIDRule, id)
		}
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
