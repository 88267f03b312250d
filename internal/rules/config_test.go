package rules

import (
	"strings"
	"testing"
	"time"
)

const testTenant = "2f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

func TestResourceURL(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"", DefaultResource},
		{"https://auea.datahub.connect.aveva.com" + "///", "https://auea.datahub.connect.aveva.com"},
		{"https://example.com/", "https://example.com"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
	}
	for _, c := range cases {
		u, p := ResourceURL(c.in)
		if p != nil {
			t.Errorf("ResourceURL(%q): %v", c.in, p)
			continue
		}
		if u.String() != c.want {
			t.Errorf("ResourceURL(%q) = %q, want %q", c.in, u, c.want)
		}
	}
}

func TestRetryWithDefaults(t *testing.T) {
	def := Retry{MaxAttempts: 4, MinWait: 500 * time.Millisecond, MaxWait: 30 * time.Second, MaxRetryAfter: 60 * time.Second}
	cases := []struct {
		name   string
		in     Retry
		want   Retry
		mutate bool
	}{
		{"zero", Retry{}, def, false},
		{"attempts kept", Retry{MaxAttempts: 1},
			Retry{MaxAttempts: 1, MinWait: def.MinWait, MaxWait: def.MaxWait, MaxRetryAfter: def.MaxRetryAfter}, false},
		{"all set", Retry{MaxAttempts: 7, MinWait: time.Millisecond, MaxWait: time.Second, MaxRetryAfter: 2 * time.Second},
			Retry{MaxAttempts: 7, MinWait: time.Millisecond, MaxWait: time.Second, MaxRetryAfter: 2 * time.Second}, false},
		{"waits only", Retry{MinWait: time.Second, MaxRetryAfter: time.Hour},
			Retry{MaxAttempts: 4, MinWait: time.Second, MaxWait: def.MaxWait, MaxRetryAfter: time.Hour}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			if got := in.WithDefaults(); got != c.want {
				t.Errorf("WithDefaults = %+v, want %+v", got, c.want)
			}
			if in != c.in {
				t.Errorf("WithDefaults changed its receiver to %+v", in)
			}
		})
	}
}

func TestIsGUID(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{testTenant, true},
		{strings.ToUpper(testTenant), true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"", false},
		{"not-a-guid", false},
		{"{" + testTenant + "}", false},
		{"urn:uuid:" + testTenant, false},
		{strings.ReplaceAll(testTenant, "-", ""), false},
		{testTenant + " ", false},
		{" " + testTenant, false},
		{testTenant[:35], false},
		{testTenant + "0", false},
		{"2f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4g", false},
		{"2f1b2c3d_4e5f_4a6b_8c7d_9e0f1a2b3c4d", false},
	}
	for _, c := range cases {
		if got := IsGUID(c.in); got != c.ok {
			t.Errorf("IsGUID(%q) = %v, want %v", c.in, got, c.ok)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	cases := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LocalHost", true},
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"::1", true},
		{"[::1]", true},
		{"0:0:0:0:0:0:0:1", true},
		{"", false},
		{"0.0.0.0", false},
		{"::", false},
		{"128.0.0.1", false},
		{"10.0.0.1", false},
		{"example.com", false},
		{"localhost.example.com", false},
		{"mylocalhost", false},
		{"127.0.0.1.nip.io", false},
		{"::2", false},
	}
	for _, c := range cases {
		if got := IsLoopback(c.host); got != c.want {
			t.Errorf("IsLoopback(%q) = %v, want %v", c.host, got, c.want)
		}
	}
}
