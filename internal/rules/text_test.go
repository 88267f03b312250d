package rules

import (
	"strings"
	"testing"
)

func TestCheckText(t *testing.T) {
	for _, s := range []string{"", "Billing portal", "Zahlungsportal – Ümlaut", "請求", "👩‍💻 team", "a-b_c.d:e/f"} {
		if got := CheckText(s); got != "" {
			t.Errorf("CheckText(%q) = %q, want accepted", s, got)
		}
	}
	for s, want := range map[string]string{
		"a\nb":                 "U+000A at byte 1",
		"\ttab":                "U+0009 at byte 0",
		"red \x1b[31mX":        "U+001B at byte 4",
		"nul\x00":              "U+0000 at byte 3",
		"del\x7f":              "U+007F at byte 3",
		"c1\u0085":             "U+0085 at byte 2",
		"line\u2028sep":        "U+2028 at byte 4",
		"para\u2029sep":        "U+2029 at byte 4",
		"rlo\u202Egnp.exe":     "U+202E at byte 3",
		"isolate\u2066x\u2069": "U+2066 at byte 7",
		"mark\u200F":           "U+200F at byte 4",
		"alm\u061C":            "U+061C at byte 3",
	} {
		got := CheckText(s)
		if !strings.HasPrefix(got, TextRule) || !strings.HasSuffix(got, want) {
			t.Errorf("CheckText(%q) = %q, want the rule ending %q", s, got, want)
		}
	}
}
