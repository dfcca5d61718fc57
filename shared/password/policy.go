package password

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rekey/rekey/shared/rekey"
)

// minAcceptedMaxLength is the longest password every policy must accept,
// whatever a district configures (NIST SP 800-63B-4 asks for at least 64).
const minAcceptedMaxLength = 64

// minContextWordLen is the shortest context word Check looks for; shorter
// ones ("Al", "Li", "HS") would reject reasonable passwords by accident.
const minContextWordLen = 4

// Check reports whether password may be set for user under policy, in the
// style of NIST SP 800-63B-4: length by role counted in Unicode code points
// (never truncated), no composition rules, a blocklist of common passwords,
// and context words. It returns nil, or a *rekey.Error with Code
// rekey.ECodeWeakPassword, Field set to field, and a Message that names the
// reason in plain words.
//
// Context words are the user's username, first and last names and email
// local part, plus every contextWords entry (such as school and district
// names); a password that contains one of them, ignoring case, is refused.
// Words shorter than 4 characters are ignored.
func Check(policy rekey.PasswordPolicy, field, password string, user rekey.User, contextWords ...string) error {
	weak := func(format string, args ...any) error {
		return rekey.FieldError(rekey.ECodeWeakPassword, field, "Password "+fmt.Sprintf(format, args...)+".")
	}
	if !utf8.ValidString(password) {
		return weak("is not valid text (UTF-8)")
	}
	for _, r := range password {
		if r == 0 {
			return weak("must not contain a NUL character")
		}
		if unicode.IsControl(r) {
			return weak("must not contain control characters such as tabs or line breaks")
		}
	}

	length := utf8.RuneCountInString(password)
	if minLength := policy.MinLength(user.Role); length < minLength {
		return weak("must be at least %d characters", minLength)
	}
	if maxLength := max(policy.WithDefaults().MaxLength, minAcceptedMaxLength); length > maxLength {
		return weak("must be at most %d characters", maxLength)
	}
	if isOneRepeatedCharacter(password) {
		return weak("must not be a single character repeated")
	}

	lower := strings.ToLower(password)
	if isCommon(lower) {
		return weak("is on the list of commonly used passwords")
	}
	for _, word := range userContextWords(user, contextWords) {
		if containsContextWord(lower, word.text) {
			return weak("must not contain %s", word.description)
		}
	}
	return nil
}

// isOneRepeatedCharacter reports whether s is one code point repeated,
// such as "aaaaaaaa" or only spaces.
func isOneRepeatedCharacter(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	return strings.Trim(s, string(first)) == ""
}

// contextWord is a word a password must not contain, with how to name it
// in the refusal.
type contextWord struct {
	text        string
	description string
}

// userContextWords lists user's own context words and the extra ones, in
// the order Check reports them.
func userContextWords(user rekey.User, extra []string) []contextWord {
	emailLocal, _, _ := strings.Cut(user.Email, "@")
	words := []contextWord{
		{user.Username, "your username"},
		{user.FirstName, "your first name"},
		{user.LastName, "your last name"},
		{emailLocal, "your email address"},
	}
	for _, w := range extra {
		words = append(words, contextWord{w, fmt.Sprintf("%q", strings.TrimSpace(w))})
	}
	return words
}

// containsContextWord reports whether lower, a lower-cased password,
// contains word ignoring case, either as written or with its spaces and
// punctuation removed ("Mary-Ann" also matches "maryann"). Words shorter
// than minContextWordLen never match.
func containsContextWord(lower, word string) bool {
	word = strings.ToLower(strings.TrimSpace(word))
	if utf8.RuneCountInString(word) < minContextWordLen {
		return false
	}
	if strings.Contains(lower, word) {
		return true
	}
	squeezed := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsPunct(r) {
			return -1
		}
		return r
	}, word)
	return utf8.RuneCountInString(squeezed) >= minContextWordLen && strings.Contains(lower, squeezed)
}
