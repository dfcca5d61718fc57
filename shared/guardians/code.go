package guardians

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Parent codes are 12 characters of Crockford's base32 (digits and capital
// letters without I, L, O and U, so nothing reads as another character
// aloud or on paper), shown as XXXX-XXXX-XXXX: 60 random bits. A guess
// meets one of a district's pending codes with odds of about one in 10^12
// per hundred thousand pending codes, and guesses are throttled like
// forgot-password requests; every code is single-use and expires after
// rekey.ParentCodeTTL.
const (
	codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	codeLength   = 12
	codeGroup    = 4
)

// newCode returns a fresh random code in its display form.
func newCode() (string, error) {
	var b strings.Builder
	buf := make([]byte, codeLength)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	for i, x := range buf {
		if i > 0 && i%codeGroup == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(codeAlphabet[x&31]) // 256 is a multiple of 32: no bias
	}
	return b.String(), nil
}

// normaliseCode turns what a person typed into the canonical 12 characters:
// case, spaces and hyphens do not matter, and the letters Crockford's
// base32 reads as digits (I and L as 1, O as 0) are read so. ok is false for
// anything that cannot be a code.
func normaliseCode(typed string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(typed) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r == 'I' || r == 'L':
			r = '1'
		case r == 'O':
			r = '0'
		}
		if r > 127 || !strings.ContainsRune(codeAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
		if b.Len() > codeLength {
			return "", false
		}
	}
	return b.String(), b.Len() == codeLength
}

// hashCode is what is stored of a code: the SHA-256 (hex) of its canonical
// form.
func hashCode(canonical string) string {
	sum := sha256.Sum256([]byte("rekey-parent-code:" + canonical))
	return hex.EncodeToString(sum[:])
}
