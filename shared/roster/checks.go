package roster

import (
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/users"
)

// rowChecker checks the cells of one row, adding an issue per bad cell;
// ok says whether the row passed.
type rowChecker struct {
	file string
	row  int
	is   *issues
	ok   bool
}

func (c *rowChecker) fail(column, code, format string, args ...any) {
	c.is.add(c.file, c.row, column, code, format, args...)
	c.ok = false
}

// text checks a free-text cell by the rules of the user field it fills.
func (c *rowChecker) text(column, field, value string, required bool) string {
	if value == "" {
		if required {
			c.fail(column, CodeMissingValue, "%s must not be blank.", column)
		}
		return ""
	}
	v, err := users.NormaliseText(field, value)
	if err != nil {
		c.fail(column, CodeInvalidValue, "%s", rekey.ErrorMessage(err))
	}
	return v
}

func (c *rowChecker) username(column, value string) string {
	if value == "" {
		c.fail(column, CodeMissingValue, "Every user needs a username.")
		return ""
	}
	v, err := users.NormaliseUsername(value)
	if err != nil {
		c.fail(column, CodeInvalidUsername, "Username %q: %s", value, rekey.ErrorMessage(err))
	}
	return v
}

func (c *rowChecker) email(column, value string) string {
	v, err := users.NormaliseEmail(value)
	if err != nil {
		c.fail(column, CodeInvalidEmail, "%q is not an email address Rekey accepts: %s", value, rekey.ErrorMessage(err))
	}
	return v
}

func (c *rowChecker) grade(column, value string) string {
	g, ok := Grade(value)
	if !ok {
		c.fail(column, CodeUnknownGrade, "Unknown grade %q; use KG, 01 to 12 (or K, 1 to 12), PK, TK, IT, PR, PS, UG, 13 or Other.", value)
	}
	return g
}

// duplicates finds the same key on two rows of one file.
type duplicates struct {
	externalIDs, usernames, emails map[string]int
}

func newDuplicates() *duplicates {
	return &duplicates{externalIDs: map[string]int{}, usernames: map[string]int{}, emails: map[string]int{}}
}

// check records r's keys, adding an issue for a key an earlier row holds.
// The column names are the file's for externalId, username and email.
func (d *duplicates) check(c *rowChecker, r Row, externalIDColumn, usernameColumn, emailColumn string) {
	seen := func(m map[string]int, key, column, what string) {
		if key == "" {
			return
		}
		if first, ok := m[key]; ok {
			c.fail(column, CodeDuplicateInFile, "The %s %s is also on row %d.", what, key, first)
			return
		}
		m[key] = c.row
	}
	seen(d.externalIDs, r.ExternalID, externalIDColumn, externalIDColumn)
	seen(d.usernames, r.Username, usernameColumn, "username")
	seen(d.emails, r.Email, emailColumn, "email address")
}
