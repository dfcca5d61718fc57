package users

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/rekey/rekey/shared/rekey"
)

// Field limits, in Unicode code points.
const (
	maxNameLen       = 100
	maxEmailLen      = 254
	minUsernameLen   = 3
	maxUsernameLen   = 64
	maxGradeLen      = 16
	maxTitleLen      = 100
	maxExternalIDLen = 64
	maxQueryLen      = 100
)

// invalid is a 422 answer about one field.
func invalid(field, format string, args ...any) *rekey.Error {
	return rekey.FieldError(rekey.ECodeInvalidInput, field, fmt.Sprintf(format, args...))
}

// text checks a free-text field: trimmed of surrounding space, no control
// characters, at most maxLen code points, and at least one when required.
func text(field, value string, required bool, maxLen int) (string, error) {
	value = strings.TrimSpace(value)
	switch {
	case rekey.HasControl(value):
		return "", invalid(field, "Must not contain control characters.")
	case required && value == "":
		return "", invalid(field, "Must not be empty.")
	case utf8.RuneCountInString(value) > maxLen:
		return "", invalid(field, "Must be at most %d characters.", maxLen)
	}
	return value, nil
}

// normaliseEmail checks an email address: empty (no email), or one bare
// address (no display name, no comments) of at most 254 characters. It
// returns the address lower-cased.
func normaliseEmail(value string) (string, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return "", nil
	}
	if len(value) > maxEmailLen || rekey.HasControl(value) {
		return "", invalid("email", "Enter a valid email address.")
	}
	addr, err := mail.ParseAddress(value)
	if err != nil || addr.Name != "" || addr.Address != value {
		return "", invalid("email", "Enter a valid email address, such as name@example.org.")
	}
	local, domain, ok := strings.Cut(value, "@")
	if !ok || local == "" || !strings.Contains(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", invalid("email", "Enter a valid email address, such as name@example.org.")
	}
	return strings.ToLower(value), nil
}

// normaliseUsername checks a username: 3 to 64 of a-z, 0-9, '.', '_', '-',
// compared and stored lower-cased.
func normaliseUsername(value string) (string, error) {
	value = strings.ToLower(strings.TrimSpace(value))
	if n := len(value); n < minUsernameLen || n > maxUsernameLen {
		return "", invalid("username", "Must be %d to %d characters.", minUsernameLen, maxUsernameLen)
	}
	if strings.ContainsFunc(value, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) {
		return "", invalid("username", "Use only letters, digits, '.', '_' and '-'.")
	}
	return value, nil
}

// checkID checks a reference to another record (a district or school id).
func checkID(field, value string, allowEmpty bool) error {
	if value == "" && allowEmpty {
		return nil
	}
	if !rekey.ValidID(value) {
		return invalid(field, "Not a valid id.")
	}
	return nil
}

// validateFilter checks and normalises a listing filter in place.
func validateFilter(f *rekey.UserFilter) error {
	if f.Role != "" && !f.Role.Valid() {
		return invalid("role", "Unknown role.")
	}
	if err := checkID("schoolId", f.SchoolID, true); err != nil {
		return err
	}
	if err := checkID("districtId", f.DistrictID, true); err != nil {
		return err
	}
	var err error
	if f.Grade, err = text("grade", f.Grade, false, maxGradeLen); err != nil {
		return err
	}
	if f.Query, err = text("q", f.Query, false, maxQueryLen); err != nil {
		return err
	}
	f.Limit, err = rekey.UserPaging.Limit(f.Limit)
	return err
}
