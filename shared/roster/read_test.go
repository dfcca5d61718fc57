package roster

import (
	"archive/zip"
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/roster/rostertest"
)

func TestReadBundleMaplewood(t *testing.T) {
	f := readZip(t, rostertest.Zip(t, maplewood(t, nil)...), Limits{})
	if f.IssueCount != 0 || f.Fatal {
		t.Fatalf("issues = %+v, want none", f.Issues)
	}
	if got, want := f.IgnoredFiles, []string{"academicSessions.csv", "classes.csv", "courses.csv", "enrollments.csv"}; !cmp.Equal(got, want) {
		t.Errorf("IgnoredFiles = %q, want %q", got, want)
	}
	var ignored []string
	for _, c := range f.IgnoredColumns {
		ignored = append(ignored, c.File+":"+c.Column)
		if !c.Known {
			t.Errorf("ignored column %s is not known, want every OneRoster column known", c.Column)
		}
	}
	wantIgnored := []string{"orgs.csv:dateLastModified", "orgs.csv:identifier", "users.csv:dateLastModified", "users.csv:userIds",
		"users.csv:middleName", "users.csv:identifier", "users.csv:sms", "users.csv:phone", "users.csv:password"}
	if diff := cmp.Diff(wantIgnored, ignored); diff != "" {
		t.Errorf("IgnoredColumns (-want +got):\n%s", diff)
	}
	if len(f.Orgs) != 4 || len(f.Rows) != 10 {
		t.Fatalf("%d orgs and %d rows, want 4 and 10", len(f.Orgs), len(f.Rows))
	}
	byName := map[string]Row{}
	for _, r := range f.Rows {
		byName[r.Username] = r
	}
	for _, test := range []struct {
		username string
		want     Row
	}{
		{"ava.nguyen", Row{File: "users.csv", Row: 2, ExternalID: "stu-1001", Username: "ava.nguyen", FirstName: "Ava", LastName: "Nguyen",
			Role: rekey.RoleStudent, OrgIDs: []string{"org-school-10"}, Grade: "K", Status: rekey.StatusActive, AgentIDs: []string{"grd-5001"}}},
		{"liam.okafor", Row{File: "users.csv", Row: 3, ExternalID: "stu-1002", Username: "liam.okafor", FirstName: "Liam", LastName: "Okafor",
			Email: "liam.okafor@students.maplewood.example.org", Role: rekey.RoleStudent, OrgIDs: []string{"org-school-10"}, Grade: "5",
			Status: rekey.StatusActive, AgentIDs: []string{"grd-5001"}}},
		{"sofia.garcia", Row{File: "users.csv", Row: 4, ExternalID: "stu-1003", Username: "sofia.garcia", FirstName: "Sofía", LastName: "García",
			Email: "sofia.garcia@students.maplewood.example.org", Role: rekey.RoleStudent, OrgIDs: []string{"org-school-20"}, Grade: "12",
			Status: rekey.StatusActive, AgentIDs: []string{"grd-5002"}}},
		{"noah.smith", Row{File: "users.csv", Row: 5, ExternalID: "stu-1004", Username: "noah.smith", FirstName: "Noah", LastName: "Smith",
			Role: rekey.RoleStudent, OrgIDs: []string{"org-school-20"}, Grade: "9", Status: rekey.StatusDisabled, Deleted: true}},
		{"k.tanaka", Row{File: "users.csv", Row: 7, ExternalID: "tch-2002", Username: "k.tanaka", FirstName: "Kenji", LastName: "Tanaka",
			Email: "k.tanaka@maplewood.example.org", Role: rekey.RoleTeacher, OrgIDs: []string{"org-dept-21"}, Status: rekey.StatusDisabled}},
		{"c.garcia", Row{File: "users.csv", Row: 11, ExternalID: "grd-5002", Username: "c.garcia", FirstName: "Carlos", LastName: "García",
			Email: "carlos.garcia@home.example.net", Role: RoleGuardian, OrgIDs: []string{"org-school-20"}, Status: rekey.StatusActive,
			AgentIDs: []string{"stu-1003"}}},
	} {
		if diff := cmp.Diff(test.want, byName[test.username], cmp.AllowUnexported(Row{})); diff != "" {
			t.Errorf("row of %s (-want +got):\n%s", test.username, diff)
		}
	}
	if r := byName["j.oconnor"]; r.Role != rekey.RoleSchoolAdmin || !r.administrator {
		t.Errorf("an administrator reads as %s (administrator=%v), want school_admin until Plan places it", r.Role, r.administrator)
	}
}

// TestReadBundleBadInput: each way a bundle can be wrong gives its code,
// on the file, row and column at fault.
func TestReadBundleBadInput(t *testing.T) {
	users := func(edit func(string) string) []string {
		return maplewood(t, func(name, content string) string {
			if name == "users.csv" {
				return edit(content)
			}
			return content
		})
	}
	manifest := func(prop, value string) []string {
		return maplewood(t, func(name, content string) string {
			if name == "manifest.csv" {
				return replaceLine(content, `"`+prop+`"`, `"`+prop+`","`+value+`"`)
			}
			return content
		})
	}
	without := func(file string) []string {
		all := maplewood(t, nil)
		var out []string
		for i := 0; i < len(all); i += 2 {
			if all[i] != file {
				out = append(out, all[i], all[i+1])
			}
		}
		return out
	}
	userLine := func(prefix, line string) []string {
		return users(func(c string) string { return replaceLine(c, prefix, line) })
	}
	header := `"sourcedId","status","dateLastModified","enabledUser","orgSourcedIds","role","username","userIds","givenName","familyName","middleName","identifier","email","sms","phone","agentSourcedIds","grades","password"`
	ava := func(cells map[int]string) string {
		base := []string{"stu-1001", "", "", "true", "org-school-10", "student", "ava.nguyen", "", "Ava", "Nguyen", "", "", "", "", "", "", "KG", ""}
		for i, v := range cells {
			base[i] = v
		}
		return `"` + strings.Join(base, `","`) + `"`
	}
	for _, test := range []struct {
		name   string
		data   []byte
		limits Limits
		want   Issue // Message is matched as a substring
		fatal  bool
	}{
		{"not a zip", []byte("username,email\nava,ava@example.org\n"), Limits{},
			Issue{Code: CodeNotAZip, Message: "not a zip"}, true},
		{"a truncated zip", rostertest.Zip(t, maplewood(t, nil)...)[:300], Limits{},
			Issue{Code: CodeNotAZip}, true},
		{"more entries than allowed", rostertest.Zip(t, manyFiles(70)...), Limits{},
			Issue{Code: CodeTooLarge, Message: "70 files"}, true},
		{"a zip bomb: users.csv inflating past the byte limit", bomb(t, 4<<20), Limits{MaxBytes: 1 << 20},
			Issue{File: "users.csv", Code: CodeTooLarge, Message: "over 1 MB"}, true},
		{"no manifest", rostertest.Zip(t, without("manifest.csv")...), Limits{},
			Issue{File: "manifest.csv", Code: CodeMissingFile}, true},
		{"no users.csv", rostertest.Zip(t, without("users.csv")...), Limits{},
			Issue{File: "users.csv", Code: CodeMissingFile}, true},
		{"orgs declared but absent", rostertest.Zip(t, without("orgs.csv")...), Limits{},
			Issue{File: "orgs.csv", Code: CodeMissingFile}, true},
		{"files in a folder", rostertest.Zip(t, nested(maplewood(t, nil))...), Limits{},
			Issue{File: "manifest.csv", Code: CodeMissingFile, Message: "not in a folder (found Maplewood/manifest.csv)"}, true},
		{"users.csv twice", rostertest.Zip(t, append(maplewood(t, nil), "Users.csv", "x")...), Limits{},
			Issue{File: "users.csv", Code: CodeDuplicateInFile, Message: "twice"}, true},
		{"OneRoster 1.2", rostertest.Zip(t, manifest("oneroster.version", "1.2")...), Limits{},
			Issue{File: "manifest.csv", Field: "oneroster.version", Code: CodeUnsupportedVersion, Message: "Export it as OneRoster 1.1"}, true},
		{"manifest version 2.0", rostertest.Zip(t, manifest("manifest.version", "2.0")...), Limits{},
			Issue{File: "manifest.csv", Field: "manifest.version", Code: CodeUnsupportedVersion}, true},
		{"users absent", rostertest.Zip(t, manifest("file.users", "absent")...), Limits{},
			Issue{File: "manifest.csv", Field: "file.users", Code: CodeInvalidManifest}, true},
		{"manifest without its header", rostertest.Zip(t, "manifest.csv", "oneroster.version,1.1\n", "users.csv", header+"\n"), Limits{},
			Issue{File: "manifest.csv", Row: 1, Field: "propertyName", Code: CodeMissingColumn}, true},
		{"a required column missing", rostertest.Zip(t, users(func(c string) string { return strings.Replace(c, `"givenName"`, `"firstName"`, 1) })...), Limits{},
			Issue{File: "users.csv", Row: 1, Field: "givenName", Code: CodeMissingColumn}, true},
		{"a column twice", rostertest.Zip(t, users(func(c string) string { return strings.Replace(c, `"middleName"`, `"email"`, 1) })...), Limits{},
			Issue{File: "users.csv", Row: 1, Field: "email", Code: CodeDuplicateColumn}, true},
		{"a duplicate sourcedId", rostertest.Zip(t, userLine(`"stu-1002"`, ava(map[int]string{6: "liam.okafor"}))...), Limits{},
			Issue{File: "users.csv", Row: 3, Field: "sourcedId", Code: CodeDuplicateInFile, Message: "also on row 2"}, false},
		{"a duplicate username", rostertest.Zip(t, userLine(`"stu-1002"`, ava(map[int]string{0: "stu-1002", 6: "AVA.Nguyen"}))...), Limits{},
			Issue{File: "users.csv", Row: 3, Field: "username", Code: CodeDuplicateInFile}, false},
		{"a duplicate email", rostertest.Zip(t, userLine(`"stu-1001"`, ava(map[int]string{12: "Liam.Okafor@students.maplewood.example.org"}))...), Limits{},
			Issue{File: "users.csv", Row: 3, Field: "email", Code: CodeDuplicateInFile}, false},
		{"an invalid email", rostertest.Zip(t, userLine(`"stu-1001"`, ava(map[int]string{12: "ava at school"}))...), Limits{},
			Issue{File: "users.csv", Row: 2, Field: "email", Code: CodeInvalidEmail}, false},
		{"an email with a display name", rostertest.Zip(t, userLine(`"stu-1001"`, ava(map[int]string{12: "Ava <ava@example.org>"}))...), Limits{},
			Issue{File: "users.csv", Row: 2, Field: "email", Code: CodeInvalidEmail}, false},
		{"an invalid username", rostertest.Zip(t, userLine(`"stu-1001"`, ava(map[int]string{6: "ava nguyen"}))...), Limits{},
			Issue{File: "users.csv", Row: 2, Field: "username", Code: CodeInvalidUsername}, false},
		{"an unknown role", rostertest.Zip(t, userLine(`"stu-1001"`, ava(map[int]string{5: "wizard"}))...), Limits{},
			Issue{File: "users.csv", Row: 2, Field: "role", Code: CodeUnknownRole}, false},
		{"an aide", rostertest.Zip(t, userLine(`"stu-1001"`, ava(map[int]string{5: "aide"}))...), Limits{},
			Issue{File: "users.csv", Row: 2, Field: "role", Code: CodeUnknownRole, Message: "no role for aide"}, false},
		{"an unknown grade", rostertest.Zip(t, userLine(`"stu-1001"`, ava(map[int]string{16: "Year 3"}))...), Limits{},
			Issue{File: "users.csv", Row: 2, Field: "grades", Code: CodeUnknownGrade}, false},
		{"enabledUser not a boolean", rostertest.Zip(t, userLine(`"stu-1001"`, ava(map[int]string{3: "yes"}))...), Limits{},
			Issue{File: "users.csv", Row: 2, Field: "enabledUser", Code: CodeInvalidValue}, false},
		{"an unknown status", rostertest.Zip(t, userLine(`"stu-1001"`, ava(map[int]string{1: "gone"}))...), Limits{},
			Issue{File: "users.csv", Row: 2, Field: "status", Code: CodeInvalidValue}, false},
		{"a blank family name", rostertest.Zip(t, userLine(`"stu-1001"`, ava(map[int]string{9: "  "}))...), Limits{},
			Issue{File: "users.csv", Row: 2, Field: "familyName", Code: CodeMissingValue}, false},
		{"no orgs", rostertest.Zip(t, userLine(`"stu-1001"`, ava(map[int]string{4: ""}))...), Limits{},
			Issue{File: "users.csv", Row: 2, Field: "orgSourcedIds", Code: CodeMissingValue}, false},
		{"a control character in a name", rostertest.Zip(t, userLine(`"stu-1001"`, ava(map[int]string{8: "A\u202eva"}))...), Limits{},
			Issue{File: "users.csv", Row: 2, Field: "givenName", Code: CodeInvalidValue, Message: "control characters"}, false},
		{"a row with too few cells", rostertest.Zip(t, userLine(`"stu-1001"`, `"stu-1001","","","true"`)...), Limits{},
			Issue{File: "users.csv", Row: 2, Code: CodeInvalidCSV, Message: "4 cells; the header has 18"}, false},
		{"a bare quote", rostertest.Zip(t, userLine(`"stu-1002"`, `"stu-1002","","","true","org-school-10","student","liam","","Li"am"`)...), Limits{},
			Issue{File: "users.csv", Row: 3, Code: CodeInvalidCSV, Message: "quote"}, true},
		{"a Windows-1252 file", rostertest.Zip(t, userLine(`"stu-1001"`, ava(map[int]string{8: "Zo\xeb"}))...), Limits{},
			Issue{File: "users.csv", Row: 2, Code: CodeInvalidEncoding, Message: "Windows-1252"}, true},
		{"a UTF-16 file", rostertest.Zip(t, users(func(c string) string { return "\xff\xfe" + c })...), Limits{},
			Issue{File: "users.csv", Code: CodeInvalidEncoding, Message: "UTF-16"}, true},
		{"more rows than allowed", rostertest.Zip(t, maplewood(t, nil)...), Limits{MaxRows: 3},
			Issue{File: "users.csv", Code: CodeTooLarge, Message: "more than 3 users"}, true},
		{"an org of an unknown type", rostertest.Zip(t, maplewood(t, func(name, c string) string {
			if name == "orgs.csv" {
				return replaceLine(c, `"org-dept-21"`, `"org-dept-21","","","Science","faculty","",""`)
			}
			return c
		})...), Limits{},
			Issue{File: "orgs.csv", Row: 5, Field: "type", Code: CodeInvalidValue}, false},
	} {
		t.Run(test.name, func(t *testing.T) {
			f := readZip(t, test.data, test.limits)
			if f.Fatal != test.fatal {
				t.Errorf("Fatal = %v, want %v (issues %+v)", f.Fatal, test.fatal, f.Issues)
			}
			if f.Fatal && len(f.Rows) != 0 {
				t.Errorf("a fatal file kept %d rows", len(f.Rows))
			}
			for _, got := range f.Issues {
				if got.File == test.want.File && got.Row == test.want.Row && got.Field == test.want.Field &&
					got.Code == test.want.Code && strings.Contains(got.Message, test.want.Message) {
					return
				}
			}
			t.Errorf("issues = %+v, want one like %+v", f.Issues[:min(len(f.Issues), 5)], test.want)
		})
	}
}

// manyFiles is n small files, name then content.
func manyFiles(n int) []string {
	var files []string
	for i := range n {
		files = append(files, fmt.Sprintf("f%03d.csv", i), "x")
	}
	return files
}

// nested puts every file in a folder, as zipping the folder does.
func nested(files []string) []string {
	out := append([]string(nil), files...)
	for i := 0; i < len(out); i += 2 {
		out[i] = "Maplewood/" + out[i]
	}
	return out
}

// bomb is a bundle whose users.csv inflates to size bytes from a few
// kilobytes. (archive/zip itself refuses an entry that inflates past the
// size it declares; the byte limit is what stops an honest-looking one.)
func bomb(t *testing.T, size int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files := maplewood(t, nil)
	for i := 0; i < len(files); i += 2 {
		if files[i] == "users.csv" {
			continue
		}
		w, _ := zw.Create(files[i])
		w.Write([]byte(files[i+1]))
	}
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "users.csv", Method: zip.Deflate})
	if err != nil {
		t.Fatal(err)
	}
	header := strings.SplitN(files[len(files)-1], "\r\n", 2)[0]
	w.Write([]byte(header + "\r\n\"" + strings.Repeat("a", size)))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > size/100 {
		t.Fatalf("bomb is %d bytes, want a small zip", buf.Len())
	}
	return buf.Bytes()
}

// TestReadBundleOrgsAbsent: an orgs.csv the manifest calls absent is
// not read, and listed as ignored.
func TestReadBundleOrgsAbsent(t *testing.T) {
	f := readZip(t, rostertest.Zip(t, "manifest.csv", manifestOf("absent"), "orgs.csv", "not,even,orgs\n",
		"users.csv", "sourcedId,enabledUser,orgSourcedIds,role,username,givenName,familyName\ns1,true,o1,student,kid,A,B\n"), Limits{})
	if f.IssueCount != 0 || len(f.Orgs) != 0 || len(f.Rows) != 1 || !cmp.Equal(f.IgnoredFiles, []string{"orgs.csv"}) {
		t.Errorf("file = %+v, want one row, no orgs, orgs.csv ignored", f)
	}
}

func TestReadBundleIgnoresHugeFilesItDoesNotRead(t *testing.T) {
	files := append(maplewood(t, nil), "results.csv", strings.Repeat("x", 3<<20))
	f := readZip(t, rostertest.Zip(t, files...), Limits{MaxBytes: 1 << 20})
	if f.IssueCount != 0 {
		t.Fatalf("issues = %+v: an ignored file counted against the byte limit", f.Issues)
	}
	if !strings.Contains(strings.Join(f.IgnoredFiles, ","), "results.csv") {
		t.Errorf("IgnoredFiles = %q, want results.csv listed", f.IgnoredFiles)
	}
}

// TestReadBundleBOMAndLineEnds: a BOM, CRLF, LF and quoted line breaks
// read the same rows.
func TestReadBundleBOMAndLineEnds(t *testing.T) {
	base := readZip(t, rostertest.Zip(t, maplewood(t, nil)...), Limits{})
	for _, test := range []struct {
		name string
		edit func(string) string
	}{
		{"BOM on every file", func(c string) string { return utf8BOM + c }},
		{"LF line ends", func(c string) string { return strings.ReplaceAll(c, "\r\n", "\n") }},
		{"BOM and LF", func(c string) string { return utf8BOM + strings.ReplaceAll(c, "\r\n", "\n") }},
	} {
		t.Run(test.name, func(t *testing.T) {
			f := readZip(t, rostertest.Zip(t, maplewood(t, func(_, c string) string { return test.edit(c) })...), Limits{})
			if f.IssueCount != 0 {
				t.Fatalf("issues = %+v", f.Issues)
			}
			if diff := cmp.Diff(base.Rows, f.Rows, cmp.AllowUnexported(Row{})); diff != "" {
				t.Errorf("rows differ from the CRLF file (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFormulaValuesStayText: cells a spreadsheet would run are read and
// planned as the text they are; exports neutralise them.
func TestFormulaValuesStayText(t *testing.T) {
	files := maplewood(t, func(name, c string) string {
		if name == "users.csv" {
			return replaceLine(c, `"stu-1001"`, `"stu-1001","","","true","org-school-10","student","ava.nguyen","","=HYPERLINK(""http://evil.example"",""x"")","+SUM(A1)","","","","","","","KG",""`)
		}
		return c
	})
	f := readZip(t, rostertest.Zip(t, files...), Limits{})
	if f.IssueCount != 0 {
		t.Fatalf("issues = %+v", f.Issues)
	}
	res, err := Plan(t.Context(), f, newDirectory(nil), districtAdmin)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Changes {
		if c.Row != 2 {
			continue
		}
		u := c.Apply(rekey.User{})
		if u.FirstName != `=HYPERLINK("http://evil.example","x")` || u.LastName != "+SUM(A1)" {
			t.Errorf("names = %q %q, want the cells verbatim", u.FirstName, u.LastName)
		}
		return
	}
	t.Fatal("no change for row 2")
}
