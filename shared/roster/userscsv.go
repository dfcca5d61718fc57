package roster

import (
	"fmt"
	"io"
	"strings"

	"github.com/rekey/rekey/shared/rekey"
)

// usersFile is the name issues give a users CSV.
const usersFile = "users.csv"

// The columns of a users CSV (API.md "Creating and importing users").
var (
	csvColumns  = []string{"username", "firstName", "lastName", "email", "role", "school", "grade", "title", "externalId"}
	csvUsed     = set(csvColumns...)
	csvRequired = set("username")
)

// csvRoles are the roles a users CSV may give, by the API's names.
var csvRoles = map[string]rekey.Role{
	"student": rekey.RoleStudent, "teacher": rekey.RoleTeacher, "school_admin": rekey.RoleSchoolAdmin,
	"district_admin": rekey.RoleDistrictAdmin, "guardian": RoleGuardian,
}

// ReadUsersCSV reads a plain users CSV: a header with username and any of
// firstName, lastName, email, role, school (id or name), grade, title and
// externalId, in any order and case. Problems of the file are Issues of the
// returned File; the error is only for a failure to read r itself.
func ReadUsersCSV(r io.Reader, limits Limits) (*File, error) {
	return ReadUsersCSVRows(r, limits, nil)
}

// ReadUsersCSVRows is ReadUsersCSV giving each row that passes the checks
// of a single row to each, in file order, instead of keeping it in Rows
// (nil each: ReadUsersCSV). A file found Fatal may have given some rows
// first.
func ReadUsersCSVRows(r io.Reader, limits Limits, each func(Row)) (*File, error) {
	limits = limits.withDefaults()
	is := &issues{max: limits.MaxIssues}
	f := &File{Format: FormatUsersCSV, limits: limits, each: each}
	b := newBudget(limits.MaxBytes)
	t, ignored := openTable(usersFile, r, b, csvColumns, csvUsed, csvRequired, is)
	f.IgnoredColumns = ignored
	if t != nil {
		readCSVRows(f, t, limits, is)
	}
	f.Issues, f.IssueCount = is.list, is.count
	if t == nil || t.stopped {
		f.Fatal, f.Rows = true, nil
	}
	if b.err != nil {
		return nil, b.err
	}
	return f, nil
}

func readCSVRows(f *File, t *table, limits Limits, is *issues) {
	dups := newDuplicates()
	for range t.records() {
		if t.row-1 > limits.MaxRows {
			is.add(usersFile, 0, "", CodeTooLarge, "The file has more than %d users; split it into smaller files.", limits.MaxRows)
			t.stopped = true
			return
		}
		c := rowChecker{file: usersFile, row: t.row, is: is, ok: true}
		r := Row{File: usersFile, Row: t.row}
		r.Username = c.username("username", t.get("username"))
		r.FirstName = c.text("firstName", "firstName", t.get("firstName"), false)
		r.LastName = c.text("lastName", "lastName", t.get("lastName"), false)
		r.Email = c.email("email", t.get("email"))
		r.ExternalID = c.text("externalId", "externalId", t.get("externalId"), false)
		r.Title = c.text("title", "title", t.get("title"), false)
		r.School = t.get("school")
		if g := t.get("grade"); g != "" {
			r.Grade = c.grade("grade", g)
		}
		if role := t.get("role"); role != "" {
			r.Role = c.csvRole(role)
		}
		dups.check(&c, r, "externalId", "username", "email")
		if c.ok {
			f.add(r)
		}
	}
}

func (c *rowChecker) csvRole(role string) rekey.Role {
	key := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(role), " ", "_"))
	if r, ok := csvRoles[key]; ok {
		return r
	}
	if key == string(rekey.RoleSupport) {
		c.fail("role", CodeForbidden, "Support users cannot be imported.")
		return ""
	}
	c.fail("role", CodeUnknownRole, "%s", fmt.Sprintf("Unknown role %q; use student, teacher, school_admin, district_admin or guardian.", role))
	return ""
}
