package rules

import (
	"fmt"
	"strings"
	"unicode"
)

// TextRule is what a checked text must not hold, in the words of a ValidationError.
const TextRule = "must not hold control characters (newline, tab, escape...), U+2028, U+2029 or bidirectional formatting characters"

// ForbiddenInText reports whether r must not appear in a checked text: a control character
// (unicode.IsControl: C0 including \t \n \r and ESC, DEL, C1), U+2028 and U+2029, which
// some viewers break lines at, and the bidirectional marks, embeddings, overrides and
// isolates (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), which can make a
// name display as another ("Trojan Source"). Other format characters (zero-width
// joiners in emoji and scripts) are allowed.
func ForbiddenInText(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r == '\u2028', r == '\u2029':
		return true
	}
	return unicode.Is(unicode.Bidi_Control, r)
}

// CheckText returns "" when s holds no forbidden rune, else TextRule and which rune and where, for
// the Rule of a ValidationError (the Value shows such runes only as blanks).
func CheckText(s string) string {
	i := strings.IndexFunc(s, ForbiddenInText)
	if i < 0 {
		return ""
	}
	var r rune
	for _, r = range s[i:] {
		break
	}
	return fmt.Sprintf("%s; found U+%04X at byte %d", TextRule, r, i)
}
