package password

import (
	_ "embed"
	"strings"
	"sync"
)

// commonPasswordsFile is the shipped list of common passwords, one a line,
// lower-cased, with "# " comment lines naming its source and licence. See
// blocklist/generate.sh for where it comes from.
//
//go:embed blocklist/common-passwords.txt
var commonPasswordsFile string

// commonPasswords is the set of blocklisted passwords, built on first use.
// Its keys are substrings of the embedded file, so building it copies no
// password text.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, strings.Count(commonPasswordsFile, "\n")+1)
	for line := range strings.Lines(commonPasswordsFile) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || strings.HasPrefix(line, "# ") {
			continue
		}
		set[line] = struct{}{}
	}
	return set
})

// isCommon reports whether lower, a lower-cased password, is on the
// blocklist either as it is or once trailing digits and punctuation are
// taken off ("dragon2024!" is "dragon" with a suffix every cracker tries).
func isCommon(lower string) bool {
	set := commonPasswords()
	if _, ok := set[lower]; ok {
		return true
	}
	base := strings.TrimRightFunc(lower, isDigitOrPunct)
	if base == "" || base == lower {
		return false
	}
	_, ok := set[base]
	return ok
}

// isDigitOrPunct reports whether r is an ASCII digit or ASCII punctuation,
// the characters people most often tack onto a common password.
func isDigitOrPunct(r rune) bool {
	return ('0' <= r && r <= '9') || strings.ContainsRune("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", r)
}
