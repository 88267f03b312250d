package hybridclients

// Fuzz targets for hostile input: create and update request
// validation, and list decoding with Total-Count. Plain `go test` runs the seed corpora
// (f.Add below and testdata/fuzz/<FuzzName>/); .ci/fuzz.sh fuzzes each target for a while.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jarcoal/httpmock"
	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/harness/mocktest"
	"github.com/ocs-go/identity/secrets"
)

const (
	fzGUID   = "c0ffee00-1234-4abc-8def-0123456789ab"
	fzNewID  = "0f0f0f0f-0000-4000-8000-000000000000"
	fzMaxMsg = 64 << 10 // bound of any validation message, whatever the input's size
	fzMarker = "SECRETMARK"
)

// fzNow has a fractional second, so that truncation to whole seconds is exercised.
var fzNow = time.Date(2030, 6, 1, 12, 0, 0, 500_000_000, time.UTC)

var fzGUIDRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// fzKnown fails on a property that fuzzing once found broken; finding names the reproducer
// kept in testdata/fuzz/<FuzzName>/.
func fzKnown(t *testing.T, finding, format string, args ...any) {
	t.Helper()
	t.Fatalf("finding %s: "+format, append([]any{finding}, args...)...)
}

// fzCheckUTF8 reports strings that JSON cannot carry unchanged (encoding/json replaces
// invalid UTF-8 with U+FFFD): accepting one sends something else than what was asked.
func fzCheckUTF8(t *testing.T, field string, vs ...string) {
	t.Helper()
	for i, v := range vs {
		if !utf8.ValidString(v) {
			fzKnown(t, "invalid-utf8-accepted", "accepted %s[%d] = %q, not valid UTF-8: it would be sent as %q", field, i, v, strings.ToValidUTF8(v, "\uFFFD"))
		}
	}
}

// fzList turns a fuzzed string into a list: nil when absent, else split on sep ("" gives
// an empty, non-nil list).
func fzList(s string, sep byte, present bool) []string {
	if !present {
		return nil
	}
	if s == "" {
		return []string{}
	}
	return strings.Split(s, string([]byte{sep}))
}

func fzBlank(s string) bool { return strings.TrimSpace(s) == "" }

func fzSpaceOrControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

// fzUnsafeText reports text that could rewrite a terminal or a log line (control, line
// and bidirectional-override characters), listed here independently of internal/rules.
func fzUnsafeText(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x20 || r >= 0x7f && r < 0xa0 || r == 0x2028 || r == 0x2029 || r == 0x061c ||
			r == 0x200e || r == 0x200f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
	})
}

// fzCheckText fails on accepted text that fzUnsafeText finds.
func fzCheckText(t *testing.T, field string, vs ...string) {
	t.Helper()
	for i, v := range vs {
		if fzUnsafeText(v) {
			t.Fatalf("accepted %s[%d] = %q: control, separator or bidi character", field, i, v)
		}
	}
}

// fzRedirectProblem re-checks one redirect URI independently of validate.go: RFC 8252's
// forms (private-use schemes, loopback and other http, https) and nothing that no app
// receives a sign-in at.
func fzRedirectProblem(u string) string {
	switch {
	case u == "":
		return "empty"
	case fzSpaceOrControl(u) || fzUnsafeText(u):
		return "whitespace or control character"
	case strings.ContainsRune(u, '*'):
		return "wildcard"
	case strings.ContainsRune(u, '#'):
		return "fragment"
	case strings.ContainsRune(u, '\\'):
		return "backslash"
	case !fzSchemeRe.MatchString(u):
		return "no RFC 3986 scheme"
	}
	p, err := url.Parse(u)
	if err != nil {
		return "not a URI"
	}
	scheme := strings.ToLower(p.Scheme)
	web := scheme == "http" || scheme == "https"
	switch {
	case fzRefusedSchemes[scheme]:
		return "scheme " + scheme + " refused"
	case !web && fzLooksLikeHTTP(scheme):
		return "look-alike of http(s)"
	case web && (p.Host == "" || p.Hostname() == "" || p.Opaque != ""):
		return "no host"
	case !web && (p.Opaque != "" || p.Host == "" && p.Path == ""):
		return "private-use URI without a path"
	case p.User != nil:
		return "user info"
	}
	if port := p.Port(); port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return "port out of range"
		}
	}
	return ""
}

var (
	fzSchemeRe       = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9.+-]*:`)
	fzRefusedSchemes = map[string]bool{
		"javascript": true, "vbscript": true, "data": true, "blob": true, "file": true, "filesystem": true,
		"about": true, "view-source": true, "intent": true,
		"ftp": true, "ftps": true, "sftp": true, "tftp": true, "ws": true, "wss": true, "ssh": true, "telnet": true,
		"gopher": true, "ldap": true, "ldaps": true, "smb": true, "nfs": true, "mailto": true, "tel": true,
		"sms": true, "news": true, "nntp": true, "irc": true, "urn": true,
	}
)

// fzLooksLikeHTTP: starts with http or hxxp, or becomes http or https by dropping,
// changing or adding one letter, or swapping two neighbours.
func fzLooksLikeHTTP(s string) bool {
	if strings.HasPrefix(s, "http") || strings.HasPrefix(s, "hxxp") {
		return true
	}
	for _, t := range []string{"http", "https"} {
		for i := range len(s) {
			if s[:i]+s[i+1:] == t { // s has one letter more
				return true
			}
			if len(s) == len(t) && s[:i] == t[:i] && s[i+1:] == t[i+1:] { // one changed
				return true
			}
			if i+1 < len(s) && s[:i]+s[i+1:i+2]+s[i:i+1]+s[i+2:] == t { // two swapped
				return true
			}
		}
		for i := range len(t) {
			if t[:i]+t[i+1:] == s { // s lacks one letter
				return true
			}
		}
	}
	return false
}

// fzCheckRedirects re-checks a list of redirect URIs as sent.
func fzCheckRedirects(t *testing.T, field string, uris []string, min, max int) {
	t.Helper()
	if len(uris) < min || len(uris) > max {
		t.Fatalf("accepted %s with %d URIs (want %d..%d)", field, len(uris), min, max)
	}
	seen := map[string]bool{}
	for i, u := range uris {
		if p := fzRedirectProblem(u); p != "" {
			t.Fatalf("accepted %s[%d] = %q: %s", field, i, u, p)
		}
		if seen[u] {
			t.Fatalf("accepted duplicate %s[%d] = %q", field, i, u)
		}
		seen[u] = true
	}
}

func fzCheckWebURI(t *testing.T, field, u string) {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || fzSpaceOrControl(u) || fzUnsafeText(u) || p.User != nil {
		t.Fatalf("accepted %s = %q: not an absolute http(s) URL without user info", field, u)
	}
}

// fzCheckRefusal checks a refusal: ErrInvalidInput, every joined error a *ValidationError
// with a field and a rule, and a bounded, valid UTF-8 message.
func fzCheckRefusal(t *testing.T, err error, fields ...string) {
	t.Helper()
	if !errors.Is(err, identity.ErrInvalidInput) {
		t.Fatalf("refusal does not match ErrInvalidInput: %T %v", err, err)
	}
	var leaves []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		leaves = append(leaves, e)
	}
	walk(err)
	if len(leaves) == 0 {
		t.Fatalf("refusal without any rule: %v", err)
	}
	for _, l := range leaves {
		ve, ok := l.(*identity.ValidationError)
		if !ok {
			t.Fatalf("joined error is %T, not *identity.ValidationError: %v", l, l)
		}
		if ve.Field == "" || ve.Rule == "" {
			t.Fatalf("ValidationError without field or rule: %#v", ve)
		}
		base, _, _ := strings.Cut(ve.Field, "[")
		if !slices.Contains(fields, base) {
			t.Fatalf("ValidationError names unknown field %q", ve.Field)
		}
	}
	msg := err.Error()
	if len(msg) >= fzMaxMsg {
		fzKnown(t, "unbounded-validation-message", "validation message is %d bytes (%d rules), want < %d", len(msg), len(leaves), fzMaxMsg)
	}
	if !utf8.ValidString(msg) {
		t.Fatalf("validation message is not valid UTF-8: %q", msg)
	}
}

// fzDecode marshals the wire body, checks its property names against allowed, and decodes
// it into out (a struct with exact wire names).
func fzDecode(t *testing.T, body any, allowed []string, out any) map[string]json.RawMessage {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("accepted request whose body does not marshal: %v", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, b)
	}
	for k := range m {
		if !slices.Contains(allowed, k) {
			t.Fatalf("body has unexpected property %q: %s", k, b)
		}
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("body does not decode: %v: %s", err, b)
	}
	return m
}

type fzClientBody struct {
	Id                          *string
	Name                        *string
	Enabled                     *bool
	AccessTokenLifetime         *int32
	Tags                        []string
	RedirectUris                []string
	PostLogoutRedirectUris      []string
	ClientUri                   *string
	LogoUri                     *string
	AllowOfflineAccess          *bool
	AllowAccessTokensViaBrowser *bool
}

var fzClientProps = []string{"Id", "Name", "Enabled", "AccessTokenLifetime", "Tags", "RedirectUris",
	"PostLogoutRedirectUris", "ClientUri", "LogoUri", "AllowOfflineAccess", "AllowAccessTokensViaBrowser"}

type fzCreateBody struct {
	fzClientBody
	SecretDescription    *string
	SecretExpirationDate json.RawMessage
}

// fzSameList reports whether a list came through the wire unchanged (nil and empty alike
// when absent is allowed).
func fzSameList(sent, got []string) bool {
	if len(sent) == 0 && len(got) == 0 {
		return true
	}
	return slices.Equal(sent, got)
}

// fzExpiry builds a secret expiry from fuzzed numbers.
func fzExpiry(mode uint8, v int64, now time.Time) secrets.Expiry {
	switch mode % 6 {
	case 1:
		return secrets.ExpiresAt(now.Add(time.Duration(v)))
	case 2:
		return secrets.ExpiresIn(time.Duration(v))
	case 3:
		return secrets.NeverExpires()
	case 4:
		return secrets.ExpiresAt(time.Time{})
	case 5:
		return secrets.ExpiresAt(time.Unix(v, 0))
	}
	return secrets.Expiry{}
}

// fzCreateFields are the Go names a create refusal may name.
var fzCreateFields = []string{"ID", "Name", "RedirectURIs", "PostLogoutRedirectURIs", "AccessTokenLifetime",
	"Tags", "ClientURI", "LogoURI", "SecretDescription", "SecretExpiry"}

func FuzzCreateValidate(f *testing.F) {
	type seed struct {
		id, name, redirects, postLogout string
		sep                             byte
		lifetime                        int64
		tags, clientURI, logoURI        string
		expMode                         uint8
		expVal                          int64
		flags                           uint8
	}
	ok := seed{"", "Billing", "https://billing.example.com/signin-oidc", "", byte('|'), 0, "prod|eu",
		"https://billing.example.com", "", 0, 0, 0b1000}
	seeds := []seed{
		ok,
		// The documented examples (README, API.md, example_test.go).
		{fzGUID, "Billing portal", "https://app.example.com/callback|http://localhost:5000/signin-oidc", "https://app.example.com/", byte('|'), 3600e9, "", "", "", 3, 0, 0b1111},
		{"", "Reports", "https://reports.example.com/signin", "", byte('|'), 60e9, "", "", "", 1, int64(30 * 24 * time.Hour), 0b1000},
		// Native apps (RFC 8252): private-use schemes, loopback with a port.
		{"", "Native", "com.example.app:/oauth2redirect|myapp://callback|http://127.0.0.1:8400/callback", "com.example.app:/signed-out", byte('|'), 900e9, "", "", "", 2, int64(time.Hour), 0b1000},
		// Nasty inputs. The retired out-of-band flow, look-alikes of http(s), a forgotten http://.
		{"", "Native", "com.example.app:/oauth2redirect|urn:ietf:wg:oauth:2.0:oob", "", byte('|'), 900e9, "", "", "", 2, int64(time.Hour), 0b1000},
		{"", "ok", "htps://a.example.com/cb|hxxps://a.example.com/cb|localhost:8400/cb|com.example.app:|my_app://cb", "vbscript:x|blob:https://a/x|about:blank|ws://a/", byte('|'), 0, "", "", "", 0, 0, 0b1000},
		{"", "ok", "http://127.0.0.1:0/cb|http://127.0.0.1:65536/cb|myapp://u:pw@cb/x", "", byte('|'), 0, "", "", "", 0, 0, 0b1000},
		{"", "red \x1b[31mX", "https://user:pw@a.example.com/cb|data:text/html,x|file:///etc/passwd", "https://a.example.com\\@b.example.com/", byte('|'), 0, "a\u202Eb|c\u2029", "https://u:p@a.example.com", "", 0, 0, 0b1000},
		{"", "", "", "", byte('|'), 0, "", "", "", 0, 0, 0},
		{"..", " ", "https://*.example.com/cb", "", byte('|'), 59e9, " |\u00a0", "", "", 4, 0, 0b1000},
		{"%2e%2e", "\u2028", "https://a.example.com/cb#frag", "javascript:alert(1)", byte('|'), 3601e9, "", "javascript:alert(1)", "ftp://x", 5, -1, 0b1000},
		{"a/b", "\x00", "https://a.example.com/c b|https://a.example.com/c\u00a0b|https://a.example.com/\u2028", "", byte('|'), 60_500_000_000, "\x00", "https://x\r\n.example.com", "", 0, 0, 0b1000},
		{"{" + fzGUID + "}", "n\r\nX-Injected: 1", "\r\n|https://ok.example.com/\r\nSet-Cookie: a", "", byte('|'), -60e9, "", "", "", 0, 0, 0b1000},
		{"urn:uuid:" + fzGUID, "ok", "javascript:alert(document.cookie)", "", byte('|'), 1, "", "", "", 2, 0, 0b1000},
		{strings.ToUpper(fzGUID), "\xff\xfe", "https://a.example.com/\xff|*", "https://a.example.com/\xc0\xaf", byte('|'), 0, "\xff", "", "", 0, 0, 0b1000},
		{fzGUID + " ", "ok", "https://a.example.com/x|https://a.example.com/x", "", byte('|'), 0, "", "", "", 0, 0, 0b1000},
		{"", "ok", strings.Repeat("https://a.example.com/x|", 11) + "https://b.example.com", "", byte('|'), 0, "", "", "", 0, 0, 0b1000},
		{"", "ok", "https://a.example.com/cb", strings.Repeat("|", 11), byte('|'), 0, "", "", "", 0, 0, 0b1000},
		{"", "ok", "x", "", byte('|'), 0, "", "", "", 0, 0, 0b1000},
		{"", "ok", "/relative/path|//host.example.com/cb|:nope", "", byte('|'), 0, "", "", "", 0, 0, 0b1000},
		{"", strings.Repeat("n", 1<<20), "https://a.example.com/" + strings.Repeat("p", 100_000), "", byte('|'), 0, strings.Repeat("t", 100_000), "", "", 0, 0, 0b1000},
		{"", strings.Repeat("\x00", 1<<16), strings.Repeat("*", 1<<16), "", byte('|'), 0, "", "", "", 4, 0, 0b1000},
		{"", "ok", "https://a.example.com/cb", "", byte('|'), int64(1 << 62), "", "", "", 1, -int64(1 << 62), 0b1000},
		{"", "ok", "https://a.example.com/cb", "", byte('|'), 0, "", "", "", 1, 1, 0b1000},
		{"", "ok", "https://a.example.com/cb", "", byte('|'), 0, "", "", "", 5, 1 << 40, 0b1000},
		{"", "ok", "https://a.example.com/cb", "", byte('|'), 0, "", "", "", 2, 1, 0b1000},
		{"", "ok", "https://a.example.com/cb", "", byte('|'), 0, "", "", "", 0, 0, 0b11000}, // Enabled nil: enabled
	}
	for _, s := range seeds {
		f.Add(s.id, s.name, s.redirects, s.postLogout, s.sep, s.lifetime, s.tags, s.clientURI, s.logoURI, s.expMode, s.expVal, s.flags)
	}

	f.Fuzz(func(t *testing.T, id, name, redirects, postLogout string, sep byte, lifetime int64,
		tags, clientURI, logoURI string, expMode uint8, expVal int64, flags uint8) {
		req := CreateRequest{
			ID:                          id,
			Name:                        name,
			Enabled:                     fzEnabled(flags),
			AllowRefreshTokens:          flags&2 != 0,
			AllowAccessTokensViaBrowser: flags&4 != 0,
			RedirectURIs:                fzList(redirects, sep, flags&8 != 0 || redirects != ""),
			PostLogoutRedirectURIs:      fzList(postLogout, sep, postLogout != ""),
			AccessTokenLifetime:         time.Duration(lifetime),
			Tags:                        fzList(tags, sep, tags != ""),
			ClientURI:                   clientURI,
			LogoURI:                     logoURI,
			SecretDescription:           "first secret",
			SecretExpiry:                fzExpiry(expMode, expVal, fzNow),
		}
		w, err := req.validate(fzNow, func() string { return fzNewID })
		if err != nil {
			if w != nil {
				t.Fatal("refusal came with a body")
			}
			fzCheckRefusal(t, err, fzCreateFields...)
			return
		}

		// Accepted: every rule must hold on what would be sent.
		fzCheckUTF8(t, "ID", id)
		fzCheckUTF8(t, "Name", name)
		fzCheckText(t, "Name", name)
		fzCheckText(t, "Tags", req.Tags...)
		fzCheckUTF8(t, "RedirectURIs", req.RedirectURIs...)
		fzCheckUTF8(t, "PostLogoutRedirectURIs", req.PostLogoutRedirectURIs...)
		fzCheckUTF8(t, "Tags", req.Tags...)
		fzCheckUTF8(t, "ClientURI", clientURI)
		fzCheckUTF8(t, "LogoURI", logoURI)
		if e := w.SecretExpirationDate; e != nil && (e.Year() < 0 || e.Year() > 9999) {
			fzKnown(t, "expiry-year-out-of-range", "accepted expiry %v, year %d: it cannot be sent as an RFC 3339 date-time", req.SecretExpiry, e.Year())
		}
		var got fzCreateBody
		m := fzDecode(t, w, append(slices.Clone(fzClientProps), "SecretDescription", "SecretExpirationDate"), &got)
		wantID := id
		if wantID == "" {
			wantID = fzNewID
		}
		if got.Id == nil || *got.Id != wantID || !fzGUIDRe.MatchString(*got.Id) {
			t.Fatalf("accepted id %q sent as %v: want the GUID %q", id, got.Id, wantID)
		}
		if got.Name == nil || *got.Name != name || fzBlank(name) {
			t.Fatalf("accepted name %q sent as %q", name, deref(got.Name))
		}
		if got.Enabled == nil || *got.Enabled != (flags&1 == 0) || got.AllowOfflineAccess == nil || *got.AllowOfflineAccess != (flags&2 != 0) ||
			got.AllowAccessTokensViaBrowser == nil || *got.AllowAccessTokensViaBrowser != (flags&4 != 0) {
			t.Fatalf("flags %b sent wrong: %+v", flags, got)
		}
		if !fzSameList(req.RedirectURIs, got.RedirectUris) || !fzSameList(req.PostLogoutRedirectURIs, got.PostLogoutRedirectUris) || !fzSameList(req.Tags, got.Tags) {
			t.Fatalf("lists changed on the wire: redirects %q -> %q, post-logout %q -> %q, tags %q -> %q",
				req.RedirectURIs, got.RedirectUris, req.PostLogoutRedirectURIs, got.PostLogoutRedirectUris, req.Tags, got.Tags)
		}
		fzCheckRedirects(t, "RedirectURIs", got.RedirectUris, 1, 10)
		fzCheckRedirects(t, "PostLogoutRedirectURIs", got.PostLogoutRedirectUris, 0, 10)
		for i, tag := range got.Tags {
			if fzBlank(tag) {
				t.Fatalf("accepted blank Tags[%d] = %q", i, tag)
			}
		}
		wantSecs := lifetime / 1e9
		if lifetime == 0 {
			wantSecs = 3600
		} else if lifetime%1e9 != 0 {
			t.Fatalf("accepted a lifetime of %v, not whole seconds", time.Duration(lifetime))
		}
		if got.AccessTokenLifetime == nil || int64(*got.AccessTokenLifetime) != wantSecs || wantSecs < 60 || wantSecs > 3600 {
			t.Fatalf("accepted lifetime %v sent as %v", time.Duration(lifetime), got.AccessTokenLifetime)
		}
		for _, u := range []struct {
			field, in string
			got       *string
		}{{"ClientURI", clientURI, got.ClientUri}, {"LogoURI", logoURI, got.LogoUri}} {
			if u.in == "" {
				if u.got != nil {
					t.Fatalf("empty %s sent as %q", u.field, *u.got)
				}
				continue
			}
			if u.got == nil || *u.got != u.in {
				t.Fatalf("%s %q sent as %v", u.field, u.in, u.got)
			}
			fzCheckWebURI(t, u.field, u.in)
		}
		// The first secret's expiry: null only when "never" was chosen; otherwise an RFC 3339
		// date-time after now.
		raw, present := m["SecretExpirationDate"]
		if !present {
			t.Fatal("SecretExpirationDate missing: the service would read it as never expiring")
		}
		if expMode%6 == 3 {
			if string(raw) != "null" {
				t.Fatalf("NeverExpires sent as %s", raw)
			}
		} else {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatalf("expiry %v sent as %s: not a date-time string", req.SecretExpiry, raw)
			}
			at, err := time.Parse(time.RFC3339, s)
			if err != nil {
				t.Fatalf("expiry %v sent as %q: not RFC 3339: %v", req.SecretExpiry, s, err)
			}
			if !at.After(fzNow) {
				fzKnown(t, "expiry-not-after-now", "expiry %v sent as %s: not after now (%s)", req.SecretExpiry, s, fzNow.Format(time.RFC3339Nano))
			}
		}
	})
}

func FuzzUpdateValidate(f *testing.F) {
	// set: which pointer/list fields are set (bit per field, in UpdateRequest's order).
	f.Add(uint16(0b1), "Billing", false, false, int64(0), "", "", "", byte('|'), "", "", false)
	f.Add(uint16(0b10), "", false, false, int64(0), "", "", "", byte('|'), "", "", false)
	f.Add(uint16(0), "", false, false, int64(0), "", "", "", byte('|'), "", "", false)
	f.Add(uint16(0b1111111111), "Billing", true, true, int64(time.Hour), "a|b", "https://a.example.com/cb|http://localhost/cb",
		"https://a.example.com/", byte('|'), "https://a.example.com", "https://a.example.com/logo.png", true)
	f.Add(uint16(0b0000001000), "", false, false, int64(59*time.Second), "", "", "", byte('|'), "", "", false)
	f.Add(uint16(0b0000001000), "", false, false, int64(3600*time.Second+1), "", "", "", byte('|'), "", "", false)
	f.Add(uint16(0b0000001000), "", false, false, int64(1<<62), "", "", "", byte('|'), "", "", false)
	f.Add(uint16(0b0000001000), "", false, false, int64(-1<<63), "", "", "", byte('|'), "", "", false)
	f.Add(uint16(0b0000010000), "", false, false, int64(0), "", "", "", byte('|'), "", "", false) // Tags: [] clears
	f.Add(uint16(0b0000100000), "", false, false, int64(0), "", "", "", byte('|'), "", "", false) // RedirectURIs: [] refused
	f.Add(uint16(0b0001000000), "", false, false, int64(0), "", "", "", byte('|'), "", "", false) // PostLogout: [] clears
	f.Add(uint16(0b0010000000), "", false, false, int64(0), "", "", "", byte('|'), "", "", false) // ClientURI "" clears
	f.Add(uint16(0b0100000000), "", false, false, int64(0), "", "", "javascript:x", byte('|'), "", "", false)
	f.Add(uint16(0b0000100001), "\u00a0\u2028", false, false, int64(0), " ", "https://*.example.com|https://a.example.com/#x|..|%2e%2e|a/b", "", byte('|'), "", "", false)
	f.Add(uint16(0b0110100000), "", false, false, int64(0), "", "https://a.example.com/\xff|https://a.example.com/\x00", "", byte('|'), "http://", "https://\r\nHost: evil", false)
	f.Add(uint16(0b0000100001), strings.Repeat("\xff", 1<<16), false, false, int64(0), "", strings.Repeat("|", 50), "", byte('|'), "", "", false)
	f.Add(uint16(0b0000110000), "", false, false, int64(0), strings.Repeat(" |", 20), strings.Repeat("javascript:alert(1)|", 20), "", byte('|'), "", "", false)

	fields := []string{"Name", "AccessTokenLifetime", "Tags", "RedirectURIs", "PostLogoutRedirectURIs", "ClientURI", "LogoURI", "UpdateRequest"}
	f.Fuzz(func(t *testing.T, set uint16, name string, enabled, refresh bool, lifetime int64, tags, redirects, postLogout string,
		sep byte, clientURI, logoURI string, browser bool) {
		has := func(i int) bool { return set&(1<<i) != 0 }
		var req UpdateRequest
		if has(0) {
			req.Name = &name
		}
		if has(1) {
			req.Enabled = &enabled
		}
		if has(2) {
			req.AllowRefreshTokens = &refresh
		}
		if has(3) {
			d := time.Duration(lifetime)
			req.AccessTokenLifetime = &d
		}
		req.Tags = fzList(tags, sep, has(4))
		req.RedirectURIs = fzList(redirects, sep, has(5))
		req.PostLogoutRedirectURIs = fzList(postLogout, sep, has(6))
		if has(7) {
			req.ClientURI = &clientURI
		}
		if has(8) {
			req.LogoURI = &logoURI
		}
		if has(9) {
			req.AllowAccessTokensViaBrowser = &browser
		}

		w, err := req.validate()
		if err != nil {
			fzCheckRefusal(t, err, fields...)
			return
		}
		fzCheckUTF8(t, "Name", deref(req.Name))
		fzCheckText(t, "Name", deref(req.Name))
		fzCheckText(t, "Tags", req.Tags...)
		fzCheckUTF8(t, "RedirectURIs", req.RedirectURIs...)
		fzCheckUTF8(t, "PostLogoutRedirectURIs", req.PostLogoutRedirectURIs...)
		fzCheckUTF8(t, "Tags", req.Tags...)
		fzCheckUTF8(t, "ClientURI", deref(req.ClientURI))
		fzCheckUTF8(t, "LogoURI", deref(req.LogoURI))
		var got fzClientBody
		m := fzDecode(t, w, fzClientProps, &got)
		if len(m) == 0 {
			t.Fatal("accepted an update that sets nothing")
		}
		// Exactly the set properties are sent, unchanged.
		wantProps := map[string]bool{"Name": has(0), "Enabled": has(1), "AllowOfflineAccess": has(2),
			"AccessTokenLifetime": has(3), "Tags": has(4), "RedirectUris": has(5), "PostLogoutRedirectUris": has(6),
			"ClientUri": has(7), "LogoUri": has(8), "AllowAccessTokensViaBrowser": has(9), "Id": false}
		for p, want := range wantProps {
			if _, sent := m[p]; sent != want {
				t.Fatalf("property %s sent = %v, set = %v", p, sent, want)
			}
		}
		if has(0) && (*got.Name != name || fzBlank(name)) {
			t.Fatalf("accepted name %q sent as %q", name, *got.Name)
		}
		if (has(1) && *got.Enabled != enabled) || (has(2) && *got.AllowOfflineAccess != refresh) || (has(9) && *got.AllowAccessTokensViaBrowser != browser) {
			t.Fatalf("booleans sent wrong: %+v", got)
		}
		if has(3) {
			if lifetime%1e9 != 0 || lifetime < 60e9 || lifetime > 3600e9 || int64(*got.AccessTokenLifetime) != lifetime/1e9 {
				t.Fatalf("accepted lifetime %v sent as %d", time.Duration(lifetime), *got.AccessTokenLifetime)
			}
		}
		if !slices.Equal(req.Tags, got.Tags) || !slices.Equal(req.RedirectURIs, got.RedirectUris) || !slices.Equal(req.PostLogoutRedirectURIs, got.PostLogoutRedirectUris) {
			if !(fzSameList(req.Tags, got.Tags) && fzSameList(req.RedirectURIs, got.RedirectUris) && fzSameList(req.PostLogoutRedirectURIs, got.PostLogoutRedirectUris)) {
				t.Fatalf("lists changed on the wire: %q %q %q -> %q %q %q", req.Tags, req.RedirectURIs, req.PostLogoutRedirectURIs,
					got.Tags, got.RedirectUris, got.PostLogoutRedirectUris)
			}
		}
		for i, tag := range got.Tags {
			if fzBlank(tag) {
				t.Fatalf("accepted blank Tags[%d] = %q", i, tag)
			}
		}
		if has(5) {
			fzCheckRedirects(t, "RedirectURIs", got.RedirectUris, 1, 10)
		}
		if has(6) {
			fzCheckRedirects(t, "PostLogoutRedirectURIs", got.PostLogoutRedirectUris, 0, 10)
		}
		if has(7) && *got.ClientUri != clientURI || has(8) && *got.LogoUri != logoURI {
			t.Fatalf("URIs changed on the wire: %q %q -> %v %v", clientURI, logoURI, got.ClientUri, got.LogoUri)
		}
		if has(7) && clientURI != "" {
			fzCheckWebURI(t, "ClientURI", clientURI)
		}
		if has(8) && logoURI != "" {
			fzCheckWebURI(t, "LogoURI", logoURI)
		}
	})
}

// fzTotalCount parses Total-Count independently: optional sign, decimal digits, within
// int, not negative; surrounding whitespace allowed.
func fzTotalCount(v string) (int, bool) {
	s := strings.TrimSpace(v)
	digits := strings.TrimLeft(s, "+-")
	if len(s)-len(digits) > 1 || digits == "" || strings.ContainsFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, strconv.IntSize)
	if err != nil || n < 0 {
		return 0, false
	}
	return int(n), true
}

func fzDeep(open, close string, n int) string {
	return strings.Repeat(open, n) + strings.Repeat(close, n)
}

// FuzzListDecoding answers a list (hybrid clients or secrets) or a count with a fuzzed 200
// body and Total-Count header, through the real transport against a mock.
func FuzzListDecoding(f *testing.F) {
	good := `[{"Id":"` + fzGUID + `","Name":"Billing","Enabled":true,"AccessTokenLifetime":3600,"Tags":["a"],"RedirectUris":["https://a.example.com/cb"]}]`
	goodSecrets := `[{"Id":1,"Description":"d","Expires":true,"Expiration":"2031-01-01T00:00:00Z"},{"Id":2,"Description":"n","Expires":false,"Expiration":null}]`
	bodies := []string{
		good, goodSecrets, `[]`, `null`, ``, ` `, `{}`, `[null]`, `[{}]`,
		`[{"Id":"SECRETMARK","Name":"SECRETMARK"}]`,
		`[{"AccessTokenLifetime":"SECRETMARK"}]`,
		`[{"Tags":{"SECRETMARK":1}}]`,
		`[{"Name":SECRETMARK}]`,
		`[{"Secret":"SECRETMARK","Id":1,"Expires":true,"Expiration":"SECRETMARK"}]`,
		`[{"Id":"SECRETMARK"}]`,
		`[{"Id":0,"Description":"SECRETMARK"}]`,
		`[{"Id":1,"Expiration":"2031-01-01T00:00:00"},{"Id":2,"Expiration":12}]`,
		`[{"Id":2147483648}]`,
		`[{"AccessTokenLifetime":1e100}]`,
		`[{"Name":"SECRETMARK` + strings.Repeat("x", 300),
		`[{"Name":"\ud800SECRETMARK\u0000"}]`,
		"[{\"Name\":\"\xff\xfe\x00SECRETMARK\"}]",
		"<html><body>SECRETMARK 502 Bad Gateway</body></html>",
		"\x00\x00\x00",
		fzDeep("[", "]", 100_000),
		fzDeep(`{"a":`, "}", 20_000),
		`[` + strings.Repeat(good[1:len(good)-1]+",", 3000) + good[1:],
		`["` + strings.Repeat("SECRETMARK", 100_000) + `"]`,
		strings.Repeat(" ", 1<<20) + "[]",
	}
	counts := []string{"1", "", "0", " 7 ", "-1", "+3", "-0", "x", "99999999999999999999", "1\r\nSet-Cookie: a=b", "1,2", "\u00a01", "0x10", "1e3"}
	for i, b := range bodies {
		f.Add(uint8(i%3), counts[i%len(counts)], []byte(b), uint16(0))
		f.Add(uint8(i%3+1), counts[(i+5)%len(counts)], []byte(b), uint16(64))
	}

	f.Fuzz(func(t *testing.T, what uint8, totalCount string, body []byte, limit uint16) {
		cfg, mt := mocktest.Config()
		cfg.Retry.MaxAttempts = 1
		max := int64(identity.DefaultMaxResponseBytes)
		if limit != 0 {
			cfg.MaxResponseBytes = int64(limit)
			max = int64(limit)
		}
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		op := what % 3
		mt.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
			b := body
			if r.Method == http.MethodHead {
				b = nil // a HEAD answer has no body
			}
			resp := httpmock.NewBytesResponse(http.StatusOK, b)
			resp.Header.Set("Content-Type", "application/json")
			resp.Header["Total-Count"] = []string{totalCount}
			return resp, nil
		})
		ctx := context.Background()
		var n int
		switch op {
		case 0:
			var p *Page
			if p, err = c.List(ctx, ListOptions{Skip: 5}); err == nil {
				n = len(p.Clients)
				if want, ok := fzTotalCount(totalCount); ok && p.Total != want || !ok && p.Total != 5+n {
					t.Fatalf("Total = %d for Total-Count %q and %d clients", p.Total, totalCount, n)
				}
			}
		case 1:
			var p *secrets.Page
			if p, err = c.Secrets().List(ctx, fzGUID, secrets.ListOptions{Skip: 5}); err == nil {
				n = len(p.Secrets)
				if want, ok := fzTotalCount(totalCount); ok && p.Total != want || !ok && p.Total != 5+n {
					t.Fatalf("Total = %d for Total-Count %q and %d secrets", p.Total, totalCount, n)
				}
				for _, s := range p.Secrets {
					if s.ID <= 0 {
						t.Fatalf("secret with id %d accepted", s.ID)
					}
				}
			}
		case 2:
			var got int
			got, err = c.Count(ctx, CountOptions{})
			want, ok := fzTotalCount(totalCount)
			if ok != (err == nil) || ok && got != want {
				t.Fatalf("Count for Total-Count %q = %d, %v; want %d, %v", totalCount, got, err, want, ok)
			}
		}
		if err == nil {
			if op != 2 {
				if int64(len(body)) > max {
					t.Fatalf("%d-byte body accepted over a limit of %d", len(body), max)
				}
				var items []json.RawMessage
				if json.Unmarshal(body, &items) != nil || len(items) != n {
					t.Fatalf("accepted a body that is not a JSON array of %d items: %.200q", n, body)
				}
			}
			return
		}
		if op == 2 {
			if !errors.Is(err, identity.ErrInvalidResponse) {
				t.Fatalf("bad Total-Count %q: %v, want ErrInvalidResponse", totalCount, err)
			}
		} else {
			var re *identity.ResponseError
			if !errors.As(err, &re) || !errors.Is(err, identity.ErrInvalidResponse) || re.StatusCode != http.StatusOK {
				t.Fatalf("unusable 200 body gave %T %v, want *identity.ResponseError", err, err)
			}
			if tooLarge := int64(len(body)) > max; tooLarge != errors.Is(err, identity.ErrResponseTooLarge) || tooLarge != re.TooLarge {
				t.Fatalf("%d-byte body, limit %d: TooLarge = %v, errors.Is(ErrResponseTooLarge) = %v",
					len(body), max, re.TooLarge, errors.Is(err, identity.ErrResponseTooLarge))
			}
		}
		msg := err.Error()
		for _, s := range []string{msg, fmtAll(err)} {
			if strings.Contains(s, fzMarker) {
				t.Fatalf("error shows part of the body: %q", s)
			}
		}
		if len(msg) > 4096 || !utf8.ValidString(msg) {
			t.Fatalf("error message of %d bytes, valid UTF-8 %v", len(msg), utf8.ValidString(msg))
		}
	})
}

// fmtAll renders err the ways a log line might.
func fmtAll(err error) string {
	var b strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		b.WriteString(fmt.Sprintf(verb, err))
		b.WriteByte('\n')
	}
	return b.String()
}

// fzEnabled is CreateRequest.Enabled from the fuzzed flags: bit 0 disables, bit 4 leaves
// it nil (which must create an enabled client).
func fzEnabled(flags uint8) *bool {
	if flags&1 == 0 && flags&16 != 0 {
		return nil
	}
	return identity.Ptr(flags&1 == 0)
}
