package roster

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/users"
)

// The files of a OneRoster 1.1 CSV bundle that Rekey reads.
const (
	fileManifest = "manifest.csv"
	fileOrgs     = "orgs.csv"
	fileUsers    = "users.csv"
)

// The columns of the OneRoster 1.1 CSV binding, in its order.
var (
	manifestColumns = []string{"propertyName", "value"}
	orgColumns      = []string{"sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"}
	userColumns     = []string{"sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username",
		"userIds", "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades", "password"}

	manifestUsed = set("propertyName", "value")
	orgUsed      = set("sourcedId", "status", "name", "type", "parentSourcedId")
	orgRequired  = set("sourcedId", "name", "type")
	userUsed     = set("sourcedId", "status", "enabledUser", "orgSourcedIds", "role", "username", "givenName", "familyName",
		"email", "agentSourcedIds", "grades")
	userRequired = set("sourcedId", "enabledUser", "orgSourcedIds", "role", "username", "givenName", "familyName")
)

// MaxLinks is the most agentSourcedIds a row may have: more students than
// any family has for a guardian, more guardians than any student has. A
// longer list is a mistake of the export (a school's whole roster pasted
// into one guardian), and each link is a write.
const MaxLinks = 20

// orgTypes are OneRoster 1.1's org types.
var orgTypes = set("department", "school", "district", "local", "state", "national")

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// ReadBundle reads a OneRoster 1.1 CSV bundle: the zip in r (size bytes).
// Problems of the file are Issues of the returned File (with Fatal set
// when it cannot be read as a whole); the error is only for a failure to
// read r itself.
func ReadBundle(r io.ReaderAt, size int64, limits Limits) (*File, error) {
	return ReadBundleRows(r, size, limits, nil)
}

// ReadBundleRows is ReadBundle giving each row that passes the checks of a
// single row to each, in file order, instead of keeping it in Rows (nil
// each: ReadBundle). A file found Fatal may have given some rows first.
func ReadBundleRows(r io.ReaderAt, size int64, limits Limits, each func(Row)) (*File, error) {
	limits = limits.withDefaults()
	is := &issues{max: limits.MaxIssues}
	f := &File{Format: FormatOneRoster, limits: limits, each: each}
	err := readBundle(f, r, size, limits, is)
	f.Issues, f.IssueCount = is.list, is.count
	if err != nil {
		return nil, err
	}
	if f.Fatal {
		f.Rows = nil
	}
	return f, nil
}

func readBundle(f *File, r io.ReaderAt, size int64, limits Limits, is *issues) error {
	fatal := func(file, code, format string, args ...any) error {
		is.add(file, 0, "", code, format, args...)
		f.Fatal = true
		return nil
	}
	if n, ok := declaredEntries(r, size); ok && n > limits.MaxEntries {
		return fatal("", CodeTooLarge, "The zip holds %d files; a OneRoster bundle has at most %d.", n, limits.MaxEntries)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		if errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrAlgorithm) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fatal("", CodeNotAZip, "The file is not a zip archive. Upload the OneRoster bundle as the .zip your student information system exports, or a users file as CSV.")
		}
		return fmt.Errorf("roster: open zip: %w", err)
	}
	if len(zr.File) > limits.MaxEntries {
		return fatal("", CodeTooLarge, "The zip holds %d files; a OneRoster bundle has at most %d.", len(zr.File), limits.MaxEntries)
	}
	entries := map[string]*zip.File{}
	nested := map[string]string{}
	for _, zf := range zr.File {
		if strings.HasSuffix(zf.Name, "/") {
			continue
		}
		name := strings.ToLower(zf.Name)
		switch {
		case name == fileManifest || name == fileOrgs || name == fileUsers:
			if entries[name] != nil {
				return fatal(name, CodeDuplicateInFile, "The zip holds %s twice.", name)
			}
			entries[name] = zf
		case path.Base(name) == fileManifest || path.Base(name) == fileOrgs || path.Base(name) == fileUsers:
			nested[path.Base(name)] = zf.Name
			f.IgnoredFiles = append(f.IgnoredFiles, zf.Name)
		default:
			f.IgnoredFiles = append(f.IgnoredFiles, zf.Name)
		}
	}
	sort.Strings(f.IgnoredFiles)
	missing := func(name string) error {
		if where, ok := nested[name]; ok {
			return fatal(name, CodeMissingFile, "%s must be at the top of the zip, not in a folder (found %s). Zip the files themselves, not their folder.", name, where)
		}
		return fatal(name, CodeMissingFile, "The bundle has no %s; a OneRoster 1.1 bundle needs manifest.csv, orgs.csv and users.csv.", name)
	}
	b := newBudget(limits.MaxBytes)

	if entries[fileManifest] == nil {
		return missing(fileManifest)
	}
	manifest, err := readManifest(entries[fileManifest], b, is)
	if err != nil || manifest == nil {
		f.Fatal = true
		return err
	}
	if !checkManifest(manifest, is) {
		f.Fatal = true
		return nil
	}
	if entries[fileUsers] == nil {
		return missing(fileUsers)
	}
	orgsDeclared := manifest["file.orgs"] == "bulk" || manifest["file.orgs"] == "delta"
	if orgsDeclared && entries[fileOrgs] == nil {
		return missing(fileOrgs)
	}
	if !orgsDeclared && entries[fileOrgs] != nil {
		f.IgnoredFiles = append(f.IgnoredFiles, entries[fileOrgs].Name)
		sort.Strings(f.IgnoredFiles)
	}
	if orgsDeclared {
		ok, err := readOrgs(f, entries[fileOrgs], b, is)
		if err != nil || !ok {
			f.Fatal = true
			return err
		}
	}
	ok, err := readUsers(f, entries[fileUsers], b, limits, is)
	if err != nil || !ok {
		f.Fatal = true
		return err
	}
	return nil
}

// declaredEntries reads the entry count of a zip's end-of-central-directory
// record, so that a zip listing millions of entries is refused before
// archive/zip reads its directory. ok is false when the record is not
// found or the count needs ZIP64 (archive/zip then checks).
func declaredEntries(r io.ReaderAt, size int64) (int, bool) {
	const eocdLen, maxComment = 22, 65535
	n := min(size, eocdLen+maxComment)
	if n < eocdLen {
		return 0, false
	}
	tail := make([]byte, n)
	if _, err := r.ReadAt(tail, size-n); err != nil && err != io.EOF {
		return 0, false
	}
	i := bytes.LastIndex(tail, []byte("PK\x05\x06"))
	if i < 0 || len(tail)-i < eocdLen {
		return 0, false
	}
	count := binary.LittleEndian.Uint16(tail[i+10:])
	if count == 0xffff {
		return 0, false
	}
	return int(count), true
}

// open opens a zip entry, the budget counting what it inflates. A broken
// entry is an issue; err is only a read failure of the zip itself.
func open(zf *zip.File, is *issues) (io.ReadCloser, bool) {
	rc, err := zf.Open()
	if err != nil {
		is.add(zf.Name, 0, "", CodeNotAZip, "%s cannot be read from the zip (%v). Export the bundle again.", zf.Name, err)
		return nil, false
	}
	return rc, true
}

// readManifest returns manifest.csv's properties, or nil after adding
// issues.
func readManifest(zf *zip.File, b *budget, is *issues) (map[string]string, error) {
	rc, ok := open(zf, is)
	if !ok {
		return nil, nil
	}
	defer rc.Close()
	t, _ := openTable(fileManifest, rc, b, manifestColumns, manifestUsed, manifestUsed, is)
	if t == nil {
		return nil, b.err
	}
	props := map[string]string{}
	for range t.records() {
		name := t.get("propertyName")
		if len(props) > 100 {
			is.add(fileManifest, t.row, "", CodeInvalidManifest, "manifest.csv has too many rows for a OneRoster manifest.")
			return nil, nil
		}
		props[name] = strings.ToLower(t.get("value"))
	}
	if t.stopped {
		return nil, b.err
	}
	return props, nil
}

// checkManifest checks the versions and that users are declared.
func checkManifest(m map[string]string, is *issues) bool {
	ok := true
	check := func(prop, want string) {
		got, present := m[prop]
		switch {
		case !present:
			is.add(fileManifest, 0, prop, CodeInvalidManifest, "manifest.csv has no %s row; a OneRoster 1.1 manifest says %s,%s.", prop, prop, want)
			ok = false
		case got != want:
			is.add(fileManifest, 0, prop, CodeUnsupportedVersion, "This bundle is %s %s; Rekey reads OneRoster 1.1 CSV bundles (%s %s). Export it as OneRoster 1.1.", prop, got, prop, want)
			ok = false
		}
	}
	check("manifest.version", "1.0")
	check("oneroster.version", "1.1")
	if !ok {
		return false
	}
	switch m["file.users"] {
	case "bulk", "delta":
	case "", "absent":
		is.add(fileManifest, 0, "file.users", CodeInvalidManifest, "manifest.csv declares no users (file.users is %q); there is nothing to import.", m["file.users"])
		return false
	default:
		is.add(fileManifest, 0, "file.users", CodeInvalidManifest, "manifest.csv says file.users,%s; it must be bulk, delta or absent.", m["file.users"])
		return false
	}
	switch m["file.orgs"] {
	case "", "absent", "bulk", "delta":
	default:
		is.add(fileManifest, 0, "file.orgs", CodeInvalidManifest, "manifest.csv says file.orgs,%s; it must be bulk, delta or absent.", m["file.orgs"])
		return false
	}
	return true
}

// readOrgs reads orgs.csv into f.Orgs. ok is false when the file could not
// be read as a whole.
func readOrgs(f *File, zf *zip.File, b *budget, is *issues) (bool, error) {
	rc, ok := open(zf, is)
	if !ok {
		return false, nil
	}
	defer rc.Close()
	t, ignored := openTable(fileOrgs, rc, b, orgColumns, orgUsed, orgRequired, is)
	f.IgnoredColumns = append(f.IgnoredColumns, ignored...)
	if t == nil {
		return false, b.err
	}
	seen := map[string]int{}
	districts := 0
	for range t.records() {
		o := Org{Row: t.row, SourcedID: t.get("sourcedId"), Name: t.get("name"), Type: strings.ToLower(t.get("type")), ParentID: t.get("parentSourcedId")}
		good := true
		bad := func(field, code, format string, args ...any) {
			is.add(fileOrgs, t.row, field, code, format, args...)
			good = false
		}
		switch {
		case o.SourcedID == "":
			bad("sourcedId", CodeMissingValue, "Every org needs a sourcedId.")
		case seen[o.SourcedID] > 0:
			bad("sourcedId", CodeDuplicateInFile, "The sourcedId %s is also on row %d.", o.SourcedID, seen[o.SourcedID])
		default:
			seen[o.SourcedID] = t.row
		}
		if _, err := users.NormaliseText("externalId", o.SourcedID); err != nil && o.SourcedID != "" {
			bad("sourcedId", CodeInvalidValue, "%s", rekey.ErrorMessage(err))
		}
		if o.Name == "" {
			bad("name", CodeMissingValue, "Every org needs a name.")
		} else if _, err := users.NormaliseText("firstName", o.Name); err != nil {
			// A school's name is held to the rules of a person's name.
			bad("name", CodeInvalidValue, "%s", rekey.ErrorMessage(err))
		}
		if !orgTypes[o.Type] {
			bad("type", CodeInvalidValue, "Unknown org type %q; OneRoster's are district, school, department, local, state and national.", t.get("type"))
		}
		if o.Type == "district" {
			if districts++; districts == 2 {
				bad("type", CodeInvalidValue, "The bundle has more than one district org; import one district at a time.")
			}
		}
		if good {
			f.Orgs = append(f.Orgs, o)
		}
	}
	if t.stopped {
		return false, b.err
	}
	return true, nil
}

// readUsers reads users.csv into f.Rows. ok is false when the file could
// not be read as a whole.
func readUsers(f *File, zf *zip.File, b *budget, limits Limits, is *issues) (bool, error) {
	rc, ok := open(zf, is)
	if !ok {
		return false, nil
	}
	defer rc.Close()
	t, ignored := openTable(fileUsers, rc, b, userColumns, userUsed, userRequired, is)
	f.IgnoredColumns = append(f.IgnoredColumns, ignored...)
	if t == nil {
		return false, b.err
	}
	dups := newDuplicates()
	for range t.records() {
		if t.row-1 > limits.MaxRows {
			is.add(fileUsers, 0, "", CodeTooLarge, "users.csv has more than %d users; split the roster into smaller files.", limits.MaxRows)
			return false, nil
		}
		c := rowChecker{file: fileUsers, row: t.row, is: is, ok: true}
		r := Row{File: fileUsers, Row: t.row}
		r.ExternalID = c.text("sourcedId", "externalId", t.get("sourcedId"), true)
		r.Username = c.username("username", t.get("username"))
		r.FirstName = c.text("givenName", "firstName", t.get("givenName"), true)
		r.LastName = c.text("familyName", "lastName", t.get("familyName"), true)
		r.Email = c.email("email", t.get("email"))
		r.Role, r.administrator = c.oneRosterRole(t.get("role"))
		r.OrgIDs = list(t.get("orgSourcedIds"))
		if len(r.OrgIDs) == 0 {
			c.fail("orgSourcedIds", CodeMissingValue, "Every user needs the sourcedId of its school or district.")
		}
		r.AgentIDs = list(t.get("agentSourcedIds"))
		if len(r.AgentIDs) > MaxLinks {
			c.fail("agentSourcedIds", CodeTooManyLinks, "This row has %d agentSourcedIds; a guardian may be linked to at most %d students and a student to at most %d guardians.", len(r.AgentIDs), MaxLinks, MaxLinks)
		}
		if levels := list(t.get("grades")); len(levels) > 0 && r.Role == rekey.RoleStudent {
			r.Grade = c.grade("grades", levels[0])
		}
		enabled := strings.ToLower(t.get("enabledUser"))
		switch enabled {
		case "true":
			r.Status = rekey.StatusActive
		case "false":
			r.Status = rekey.StatusDisabled
		case "":
			c.fail("enabledUser", CodeMissingValue, "enabledUser must be true or false.")
		default:
			c.fail("enabledUser", CodeInvalidValue, "enabledUser must be true or false, not %q.", t.get("enabledUser"))
		}
		switch status := strings.ToLower(t.get("status")); status {
		case "", "active":
		case "tobedeleted", "inactive":
			r.Status, r.Deleted = rekey.StatusDisabled, true
		default:
			c.fail("status", CodeInvalidValue, "status must be active or tobedeleted, not %q.", t.get("status"))
		}
		dups.check(&c, r, "sourcedId", "username", "email")
		if c.ok {
			f.add(r)
		}
	}
	if t.stopped {
		return false, b.err
	}
	return true, nil
}

// oneRosterRole maps a OneRoster role to Rekey's.
func (c *rowChecker) oneRosterRole(role string) (rekey.Role, bool) {
	switch strings.ToLower(role) {
	case "student":
		return rekey.RoleStudent, false
	case "teacher":
		return rekey.RoleTeacher, false
	case "administrator":
		return rekey.RoleSchoolAdmin, true
	case "guardian", "parent", "relative":
		return RoleGuardian, false
	case "":
		c.fail("role", CodeMissingValue, "Every user needs a role.")
	case "aide", "proctor":
		c.fail("role", CodeUnknownRole, "Rekey has no role for %s users; remove these rows or give them another role.", strings.ToLower(role))
	default:
		c.fail("role", CodeUnknownRole, "Unknown role %q; OneRoster 1.1's are student, teacher, administrator, guardian, parent, relative, aide and proctor.", role)
	}
	return "", false
}
