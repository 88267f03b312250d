package rules

import (
	"strings"
	"testing"
)

// A disabled client is never due, and the rule says why; an enabled one is left to its
// policy.
func TestNeverDueIsADisabledClientAndSaysWhy(t *testing.T) {
	if why, never := NeverDue(false); !never || !strings.Contains(why, "disabled") {
		t.Errorf("NeverDue(disabled) = %q, %v", why, never)
	}
	if why, never := NeverDue(true); never || why != "" {
		t.Errorf("NeverDue(enabled) = %q, %v", why, never)
	}
}
