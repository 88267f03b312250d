package rules

import (
	"net/url"
	"strings"
)

// Origin returns u's scheme, host and port as one comparable string: scheme and host in
// lower case, the scheme's default port (80 for http, 443 for https) dropped. Two URLs
// with the same Origin reach the same server, however each was written: a Resource of
// "https://USWE.example.com:443" and an endpoint on "https://uswe.example.com" agree.
func Origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6
	}
	if port == "" || (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + port
}

// SameOrigin reports whether a and b have the same Origin.
func SameOrigin(a, b *url.URL) bool { return Origin(a) == Origin(b) }

// SameURL reports whether a and b are the same URL once their origins are normalised:
// same Origin, and the rest (path, query, fragment) identical, as OpenID Connect Discovery
// compares an issuer.
func SameURL(a, b *url.URL) bool {
	return SameOrigin(a, b) && a.EscapedPath() == b.EscapedPath() && a.RawQuery == b.RawQuery && a.Fragment == b.Fragment &&
		a.User.String() == b.User.String()
}
