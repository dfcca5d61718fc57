package roster

import (
	"hash/maphash"
	"slices"

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

// fingerprint is a key's 8-byte hash, which the uniqueness checks keep
// instead of the key so that their memory per row stays small (a file's
// rows need not be held, see ReadBundleRows). Two keys of one file share a
// fingerprint with odds of about n²/2⁶⁵ (1 in 10¹⁰ for 50,000 rows); the
// seed is new for every file, so no file collides on purpose.
type fingerprint struct{ seed maphash.Seed }

func newFingerprint() fingerprint { return fingerprint{seed: maphash.MakeSeed()} }

func (f fingerprint) of(key string) uint64 { return maphash.String(f.seed, key) }

// duplicates finds the same key on two rows of one file.
type duplicates struct {
	fp                             fingerprint
	externalIDs, usernames, emails map[uint64]int
}

func newDuplicates() *duplicates {
	return &duplicates{fp: newFingerprint(), externalIDs: map[uint64]int{}, usernames: map[uint64]int{}, emails: map[uint64]int{}}
}

// check records r's keys, adding an issue for a key an earlier row holds.
// The column names are the file's for externalId, username and email.
func (d *duplicates) check(c *rowChecker, r Row, externalIDColumn, usernameColumn, emailColumn string) {
	seen := func(m map[uint64]int, key, column, what string) {
		if key == "" {
			return
		}
		h := d.fp.of(key)
		if first, ok := m[h]; ok {
			c.fail(column, CodeDuplicateInFile, "The %s %s is also on row %d.", what, key, first)
			return
		}
		m[h] = c.row
	}
	seen(d.externalIDs, r.ExternalID, externalIDColumn, externalIDColumn)
	seen(d.usernames, r.Username, usernameColumn, "username")
	seen(d.emails, r.Email, emailColumn, "email address")
}

// fileRoles are the roles of a file's rows by the fingerprint of their
// externalId, for the links' checks: a partner in the file is judged by
// the file's role.
type fileRoles struct {
	fp    fingerprint
	roles map[uint64]uint8 // index in roleCodes
}

// roleCodes are the roles a row may have.
var roleCodes = []rekey.Role{"", rekey.RoleStudent, rekey.RoleTeacher, rekey.RoleSchoolAdmin, rekey.RoleDistrictAdmin, RoleGuardian, rekey.RoleSupport}

func newFileRoles() *fileRoles { return &fileRoles{fp: newFingerprint(), roles: map[uint64]uint8{}} }

// add records r's externalId and role (a later row of the same externalId
// wins, as it did when these were kept by externalId).
func (f *fileRoles) add(r Row) {
	if r.ExternalID == "" {
		return
	}
	code := slices.Index(roleCodes, r.Role)
	if code < 0 {
		code = 0
	}
	f.roles[f.fp.of(r.ExternalID)] = uint8(code)
}

// role returns the file's role of the row with externalId id.
func (f *fileRoles) role(id string) (rekey.Role, bool) {
	code, ok := f.roles[f.fp.of(id)]
	return roleCodes[code], ok
}
