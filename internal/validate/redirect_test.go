package validate

import "testing"

// A look-alike of http or https is refused as a redirect URI's scheme; an app's own
// short scheme that only shares letters with them is not.
func TestLooksLikeHTTPOnlyForSchemesOneSlipFromHTTP(t *testing.T) {
	for _, s := range []string{"htp", "ttp", "htps", "htts", "hxtp", "htpt", "htpts", "thtps", "hhttp", "shttp", "httpss", "http2", "https-dev", "http.example.app", "hxxp", "hxxps"} {
		if !looksLikeHTTP(s) {
			t.Errorf("looksLikeHTTP(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"com.example.app", "myapp", "msauth", "fb1234567890", "heap", "help", "hope", "ftp", "tftp", "htmlapp", "app.http", "h", ""} {
		if looksLikeHTTP(s) {
			t.Errorf("looksLikeHTTP(%q) = true, want false", s)
		}
	}
}

// The schemes each rule lists are the schemes it refuses.
func TestRedirectSchemeRefusesWhatItsRuleLists(t *testing.T) {
	for _, s := range []string{"javascript", "vbscript", "data", "blob", "file", "filesystem", "about", "view-source", "intent"} {
		if got := redirectScheme(s); got != ruleRedirectBrowser {
			t.Errorf("redirectScheme(%q) = %q, want the browser rule", s, got)
		}
	}
	for _, s := range []string{"ftp", "ftps", "sftp", "tftp", "ws", "wss", "ssh", "telnet", "gopher", "ldap", "ldaps", "smb", "nfs", "mailto", "tel", "sms", "news", "nntp", "irc", "urn"} {
		if got := redirectScheme(s); got != ruleRedirectProtocol {
			t.Errorf("redirectScheme(%q) = %q, want the protocol rule", s, got)
		}
	}
	for _, s := range []string{"http", "https", "com.example.app", "myapp", "java", "script", "urn.example", "wsx"} {
		if got := redirectScheme(s); got != "" {
			t.Errorf("redirectScheme(%q) = %q, want none", s, got)
		}
	}
}
