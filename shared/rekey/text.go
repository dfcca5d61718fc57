package rekey

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// HasControl reports whether s holds a control character (C0, DEL, C1), a
// line or paragraph separator, or a bidirectional override or isolate, which
// could disguise how a name reads on a list or in an email; invalid UTF-8
// counts too. The names and free text of user records and schedules are
// refused with any of them.
func HasControl(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069' ||
			r == '\u2028' || r == '\u2029'
	})
}
