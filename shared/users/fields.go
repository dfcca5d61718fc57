package users

import "github.com/rekey/rekey/shared/rekey"

// The field rules of a user record, exported for importers (shared/roster)
// so that a row of a roster file is held to exactly the rules of an edit in
// the console. Each returns the value in its stored form or an invalid_input
// *rekey.Error naming the field.

// NormaliseEmail checks an email address ("" is no email) and lower-cases it.
func NormaliseEmail(value string) (string, error) { return normaliseEmail(value) }

// NormaliseUsername checks a username and lower-cases it.
func NormaliseUsername(value string) (string, error) { return normaliseUsername(value) }

// NormaliseText checks one of the free-text fields firstName, lastName
// (both required), grade, title and externalId, with that field's length
// limit: trimmed, no control characters, valid UTF-8.
func NormaliseText(field, value string) (string, error) {
	switch field {
	case "firstName", "lastName":
		return text(field, value, true, maxNameLen)
	case "grade":
		return text(field, value, false, maxGradeLen)
	case "title":
		return text(field, value, false, maxTitleLen)
	case "externalId":
		return text(field, value, false, maxExternalIDLen)
	}
	return "", rekey.FieldError(rekey.ECodeInvalidInput, field, "Unknown field.")
}
