package password

import (
	"strings"
	"testing"
	"unicode"
)

func TestBlocklistFile(t *testing.T) {
	if !strings.HasPrefix(commonPasswordsFile, "# Source: npm @zxcvbn-ts/language-common@") {
		t.Errorf("blocklist header = %q, want it to name its source", strings.SplitN(commonPasswordsFile, "\n", 2)[0])
	}
	set := commonPasswords()
	if len(set) < 10000 {
		t.Errorf("blocklist has %d entries, want at least 10,000", len(set))
	}
	for entry := range set {
		if entry != strings.ToLower(entry) || strings.IndexFunc(entry, unicode.IsSpace) >= 0 {
			t.Errorf("blocklist entry %q is not lower-case without spaces; Check compares lower-cased passwords", entry)
		}
	}
	for _, want := range []string{"123456", "password", "qwerty", "iloveyou", "#name?"} {
		if _, ok := set[want]; !ok {
			t.Errorf("blocklist lacks %q", want)
		}
	}
	for line := range strings.Lines(commonPasswordsFile) {
		if strings.HasPrefix(line, "# ") {
			if _, ok := set[strings.TrimSpace(line)]; ok {
				t.Errorf("comment line %q was taken as a password", line)
			}
		}
	}
}

func TestIsCommon(t *testing.T) {
	for _, test := range []struct {
		lower string
		want  bool
	}{
		{"password", true},
		{"password1", true},
		{"password2024!!", true},
		{"dragon...", true},
		{"1234567890", true},
		{"passwordx", false},
		{"xpassword", false},
		{"12345678901234567890123", false},
		{"!!!!", false},
		{"tq8vzk3m", false},
	} {
		if got := isCommon(test.lower); got != test.want {
			t.Errorf("isCommon(%q) = %v, want %v", test.lower, got, test.want)
		}
	}
}
