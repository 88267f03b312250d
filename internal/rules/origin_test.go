package rules

import (
	"net/url"
	"testing"
)

func TestOriginIsNormalised(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://uswe.datahub.connect.aveva.com", "https://uswe.datahub.connect.aveva.com"},
		{"https://USWE.DataHub.connect.aveva.com:443/identity", "https://uswe.datahub.connect.aveva.com"},
		{"HTTPS://uswe.datahub.connect.aveva.com:/x", "https://uswe.datahub.connect.aveva.com"},
		{"http://LOCALHOST:80/", "http://localhost"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"https://example.com:80", "https://example.com:80"},
		{"http://example.com:443", "http://example.com:443"},
		{"http://[::1]:80/x", "http://[::1]"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"https://user:pw@example.com/p?q#f", "https://example.com"},
	} {
		u, err := url.Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := Origin(u); got != tc.want {
			t.Errorf("Origin(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSameURLComparesTheRestExactly(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"https://ID.example.com:443/identity", "https://id.example.com/identity", true},
		{"https://id.example.com/identity", "https://id.example.com/identity/", false},
		{"https://id.example.com/identity", "https://id.example.com/Identity", false},
		{"https://id.example.com/identity", "https://id.example.com:8443/identity", false},
		{"https://id.example.com/identity", "http://id.example.com/identity", false},
		{"https://id.example.com/identity", "https://id.example.com/identity?x=1", false},
		{"https://id.example.com/identity", "https://u@id.example.com/identity", false},
	} {
		a, _ := url.Parse(tc.a)
		b, _ := url.Parse(tc.b)
		if got := SameURL(a, b); got != tc.same {
			t.Errorf("SameURL(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
		if got := SameOrigin(a, b); tc.same && !got {
			t.Errorf("SameOrigin(%q, %q) = false", tc.a, tc.b)
		}
	}
}
