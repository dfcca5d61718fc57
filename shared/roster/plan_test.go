package roster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/roster/rostertest"
)

// maplewoodSchools are the district's schools before any import: the
// elementary school exists under its name, without an externalId.
func maplewoodSchools() []rekey.School {
	return []rekey.School{
		{ID: "sch10", DistrictID: district, Name: "Maplewood Elementary"},
		{ID: "other", DistrictID: "d2", Name: "Maplewood High School"},
	}
}

func plan(t *testing.T, f *File, dir Directory, actor rekey.User) *Result {
	t.Helper()
	res, err := Plan(t.Context(), f, dir, actor)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return res
}

func counts(s Summary) [6]int {
	return [6]int{s.Create, s.Update, s.Unchanged, s.Disable, s.SchoolsCreate, s.SchoolsUpdate}
}

// TestPlanFirstImportThenReimport: the whole story of a district's
// roster: the first import creates users and the missing school and gives
// the existing school its sourcedId; applied, the same file again is all
// unchanged; one changed email is one update with before and after.
func TestPlanFirstImportThenReimport(t *testing.T) {
	dir := newDirectory(maplewoodSchools())
	bundle := rostertest.Zip(t, maplewood(t, nil)...)
	res := plan(t, readZip(t, bundle, Limits{}), dir, districtAdmin)
	if err := res.Err(); err != nil {
		t.Fatalf("errors: %+v", res.Summary.Errors)
	}
	// 10 rows: noah.smith is tobedeleted and new (nothing to do); the
	// disabled teacher is created disabled.
	if got, want := counts(res.Summary), [6]int{9, 0, 1, 0, 1, 1}; got != want {
		t.Errorf("create, update, unchanged, disable, schools created, updated = %v, want %v", got, want)
	}
	var newSchool rekey.School
	for _, s := range res.Schools {
		if s.Kind == KindCreate {
			newSchool = s.School
		}
		if s.Kind == KindUpdate && (s.School.ID != "sch10" || !cmp.Equal(s.Fields, []FieldChange{{FieldExternalID, "", "org-school-10"}})) {
			t.Errorf("school update = %+v, want sch10 given its externalId", s)
		}
	}
	if newSchool.Name != "Maplewood High School" || newSchool.ExternalID != "org-school-20" || newSchool.DistrictID != district || !rekey.ValidID(newSchool.ID) {
		t.Errorf("new school = %+v", newSchool)
	}
	users := map[string]rekey.User{}
	for _, c := range res.Changes {
		if c.Kind == KindCreate {
			u := c.Apply(rekey.User{DistrictID: district})
			users[u.Username] = u
		}
	}
	for _, test := range []struct {
		username string
		want     rekey.User
	}{
		{"ava.nguyen", rekey.User{DistrictID: district, SchoolID: "sch10", Role: rekey.RoleStudent, FirstName: "Ava", LastName: "Nguyen",
			Username: "ava.nguyen", Grade: "K", ExternalID: "stu-1001", Status: rekey.StatusActive}},
		{"r.bianchi", rekey.User{DistrictID: district, SchoolID: newSchool.ID, Role: rekey.RoleTeacher, FirstName: "Rosa", LastName: "Bianchi",
			Username: "r.bianchi", Email: "r.bianchi@maplewood.example.org", ExternalID: "tch-2001", Status: rekey.StatusActive}},
		{"k.tanaka", rekey.User{DistrictID: district, SchoolID: newSchool.ID, Role: rekey.RoleTeacher, FirstName: "Kenji", LastName: "Tanaka",
			Username: "k.tanaka", Email: "k.tanaka@maplewood.example.org", ExternalID: "tch-2002", Status: rekey.StatusDisabled}},
		{"p.adeyemi", rekey.User{DistrictID: district, SchoolID: "sch10", Role: rekey.RoleSchoolAdmin, FirstName: "Patience", LastName: "Adeyemi",
			Username: "p.adeyemi", Email: "p.adeyemi@maplewood.example.org", ExternalID: "adm-3001", Status: rekey.StatusActive}},
		{"j.oconnor", rekey.User{DistrictID: district, Role: rekey.RoleDistrictAdmin, FirstName: "Jamie", LastName: "O'Connor",
			Username: "j.oconnor", Email: "j.oconnor@maplewood.example.org", ExternalID: "adm-3002", Status: rekey.StatusActive}},
		{"m.okafor-nguyen", rekey.User{DistrictID: district, SchoolID: "sch10", Role: RoleGuardian, FirstName: "Mei", LastName: "Okafor-Nguyen",
			Username: "m.okafor-nguyen", Email: "mei.family@home.example.net", ExternalID: "grd-5001", Status: rekey.StatusActive}},
	} {
		if diff := cmp.Diff(test.want, users[test.username]); diff != "" {
			t.Errorf("created %s (-want +got):\n%s", test.username, diff)
		}
	}
	for _, c := range res.Changes {
		if c.Row == 10 && !cmp.Equal(c.GuardianLinks, []string{"stu-1001", "stu-1002"}) {
			t.Errorf("guardian links = %q, want both students", c.GuardianLinks)
		}
	}

	dir.apply(t, district, res)
	again := plan(t, readZip(t, bundle, Limits{}), dir, districtAdmin)
	if got, want := counts(again.Summary), [6]int{0, 0, 10, 0, 0, 0}; got != want || again.Err() != nil {
		t.Errorf("re-import counts = %v, want %v (errors %+v)", got, want, again.Summary.Errors)
	}
	for _, c := range again.Changes {
		if len(c.Fields) != 0 {
			t.Errorf("re-import row %d changes %+v", c.Row, c.Fields)
		}
	}

	changed := rostertest.Zip(t, maplewood(t, func(name, c string) string {
		if name == "users.csv" {
			return strings.Replace(c, "liam.okafor@students.maplewood.example.org", "liam.o@students.maplewood.example.org", 1)
		}
		return c
	})...)
	third := plan(t, readZip(t, changed, Limits{}), dir, districtAdmin)
	if got, want := counts(third.Summary), [6]int{0, 1, 9, 0, 0, 0}; got != want {
		t.Errorf("changed email counts = %v, want %v", got, want)
	}
	for _, c := range third.Changes {
		if c.Kind == KindUpdate {
			want := []FieldChange{{FieldEmail, "liam.okafor@students.maplewood.example.org", "liam.o@students.maplewood.example.org"}}
			if !cmp.Equal(c.Fields, want) || c.Row != 3 || c.UserID == "" || c.Version != 1 {
				t.Errorf("update = %+v, want row 3's email before and after", c)
			}
		}
	}
}

// TestPlanStatus: enabledUser and status disable and re-enable; nothing is
// deleted and a tobedeleted stranger is not created.
func TestPlanStatus(t *testing.T) {
	existing := func(status rekey.Status) *memDirectory {
		return newDirectory(maplewoodSchools(), rekey.User{ID: "ava", DistrictID: district, SchoolID: "sch10", Role: rekey.RoleStudent,
			FirstName: "Ava", LastName: "Nguyen", Username: "ava.nguyen", Grade: "K", ExternalID: "stu-1001", Status: status})
	}
	onlyAva := func(enabled, status string) *File {
		users := `"sourcedId","status","enabledUser","orgSourcedIds","role","username","givenName","familyName","grades"` + "\r\n" +
			`"stu-1001","` + status + `","` + enabled + `","org-school-10","student","ava.nguyen","Ava","Nguyen","KG"` + "\r\n"
		return readZip(t, rostertest.Zip(t, "manifest.csv", manifestOf("bulk"), "orgs.csv", orgsCSV, "users.csv", users), Limits{})
	}
	for _, test := range []struct {
		name            string
		dir             *memDirectory
		enabled, status string
		want            Kind
		fields          []FieldChange
	}{
		{"enabledUser=false disables", existing(rekey.StatusActive), "false", "", KindDisable, []FieldChange{{FieldStatus, "active", "disabled"}}},
		{"tobedeleted disables", existing(rekey.StatusActive), "true", "tobedeleted", KindDisable, []FieldChange{{FieldStatus, "active", "disabled"}}},
		{"disabled stays disabled", existing(rekey.StatusDisabled), "false", "active", KindUnchanged, nil},
		{"enabledUser=true re-enables", existing(rekey.StatusDisabled), "true", "", KindUpdate, []FieldChange{{FieldStatus, "disabled", "active"}}},
		{"a pending reset is no business of the roster", existing(rekey.StatusResetRequired), "true", "active", KindUnchanged, nil},
		{"tobedeleted and new: nothing to do", newDirectory(maplewoodSchools()), "true", "tobedeleted", KindUnchanged, nil},
		{"disabled and new: created disabled", newDirectory(maplewoodSchools()), "false", "", KindCreate, nil},
	} {
		t.Run(test.name, func(t *testing.T) {
			res := plan(t, onlyAva(test.enabled, test.status), test.dir, districtAdmin)
			if res.Err() != nil || len(res.Changes) != 1 {
				t.Fatalf("errors %+v, changes %+v", res.Summary.Errors, res.Changes)
			}
			c := res.Changes[0]
			if c.Kind != test.want {
				t.Errorf("kind = %s, want %s", c.Kind, test.want)
			}
			if test.want == KindCreate {
				if u := c.Apply(rekey.User{}); u.Status != rekey.StatusDisabled {
					t.Errorf("created with status %s, want disabled", u.Status)
				}
			} else if !cmp.Equal(c.Fields, test.fields) {
				t.Errorf("fields = %+v, want %+v", c.Fields, test.fields)
			}
		})
	}
}

const orgsCSV = `"sourcedId","status","dateLastModified","name","type","identifier","parentSourcedId"` + "\r\n" +
	`"org-district-1","","","Maplewood Unified School District","district","",""` + "\r\n" +
	`"org-school-10","","","Maplewood Elementary","school","","org-district-1"` + "\r\n" +
	`"org-school-20","","","Maplewood High School","school","","org-district-1"` + "\r\n"

func manifestOf(orgs string) string {
	return "propertyName,value\r\nmanifest.version,1.0\r\noneroster.version,1.1\r\nfile.orgs," + orgs + "\r\nfile.users,bulk\r\n"
}

// TestPlanRowErrors: rows the reader accepts but Rekey's state refuses,
// each with its code on its row and column.
func TestPlanRowErrors(t *testing.T) {
	header := `"sourcedId","enabledUser","orgSourcedIds","role","username","givenName","familyName","email","agentSourcedIds","grades"` + "\r\n"
	bundle := func(rows ...string) []byte {
		return rostertest.Zip(t, "manifest.csv", manifestOf("bulk"), "orgs.csv", orgsCSV, "users.csv", header+strings.Join(rows, "\r\n")+"\r\n")
	}
	schools := []rekey.School{{ID: "sch10", DistrictID: district, Name: "Maplewood Elementary", ExternalID: "org-school-10"},
		{ID: "sch20", DistrictID: district, Name: "Maplewood High School", ExternalID: "org-school-20"}}
	others := []rekey.User{
		{ID: "x1", DistrictID: "d2", Role: rekey.RoleStudent, SchoolID: "z", Username: "taken.elsewhere", Email: "elsewhere@example.org", Status: rekey.StatusActive},
		{ID: "x2", DistrictID: district, Role: rekey.RoleStudent, SchoolID: "sch10", Username: "local.kid", Email: "local@example.org", ExternalID: "stu-9", Status: rekey.StatusActive},
		{ID: "x3", DistrictID: district, Role: rekey.RoleStudent, SchoolID: "sch10", Username: "no.ext", Status: rekey.StatusActive},
		{ID: "x4", DistrictID: district, Role: rekey.RoleStudent, SchoolID: "sch20", Username: "high.kid", ExternalID: "stu-20", Status: rekey.StatusActive},
		{ID: "x5", DistrictID: district, Role: rekey.RoleTeacher, SchoolID: "sch10", Username: "a.teacher5", ExternalID: "tch-5", Status: rekey.StatusActive},
		// A parent of Maplewood Elementary whose child is at the high school.
		{ID: "x6", DistrictID: district, Role: RoleGuardian, SchoolID: "sch10", Username: "a.parent6", Email: "par6@home.example",
			ExternalID: "par-6", GuardianOf: []string{"x4"}, FirstName: "A", LastName: "B", Status: rekey.StatusActive},
	}
	for _, test := range []struct {
		name  string
		data  []byte
		actor rekey.User
		want  Issue
	}{
		{"a username of another district", bundle(`"s1","true","org-school-10","student","taken.elsewhere","A","B","","",""`), districtAdmin,
			Issue{File: "users.csv", Row: 2, Field: "username", Code: CodeUsernameTaken, Message: "another district"}},
		{"a username of another person of the district", bundle(`"s1","true","org-school-10","student","local.kid","A","B","","",""`), districtAdmin,
			Issue{File: "users.csv", Row: 2, Field: "username", Code: CodeUsernameTaken, Message: "externalId stu-9"}},
		{"a rename onto a taken username", bundle(`"stu-9","true","org-school-10","student","no.ext","A","B","","",""`), districtAdmin,
			Issue{File: "users.csv", Row: 2, Field: "username", Code: CodeUsernameTaken}},
		{"an email someone else has", bundle(`"s1","true","org-school-10","student","new.kid","A","B","elsewhere@example.org","",""`), districtAdmin,
			Issue{File: "users.csv", Row: 2, Field: "email", Code: CodeEmailTaken}},
		{"rows that are fine", bundle(`"stu-9","true","org-school-10","student","local.kid","A","B","","",""`,
			`"s2","true","org-school-10","student","no.ext","A","B","","",""`, `"s3","true","org-school-10","student","third","A","B","","",""`,
			`"stu-7","true","org-school-10","student","no-ext-2","A","B","","",""`), districtAdmin,
			Issue{}}, // a control: rows that match by externalId, by username, or nobody
		{"an org that exists nowhere", bundle(`"s1","true","org-school-99","student","new.kid","A","B","","",""`), districtAdmin,
			Issue{File: "users.csv", Row: 2, Field: "orgSourcedIds", Code: CodeUnknownOrg, Message: "org-school-99"}},
		{"a student of the district alone", bundle(`"s1","true","org-district-1","student","new.kid","A","B","","",""`), districtAdmin,
			Issue{File: "users.csv", Row: 2, Field: "orgSourcedIds", Code: CodeMissingValue, Message: "A student needs a school"}},
		{"an agent nobody knows", bundle(`"g1","true","org-school-10","guardian","a.parent","A","B","","stu-404",""`), districtAdmin,
			Issue{File: "users.csv", Row: 2, Field: "agentSourcedIds", Code: CodeUnknownAgent, Message: "stu-404"}},
		{"a guardian linked to a teacher of the file", bundle(`"g1","true","org-school-10","guardian","a.parent","A","B","","t1",""`,
			`"t1","true","org-school-10","teacher","a.teacher","A","B","","",""`), districtAdmin,
			Issue{File: "users.csv", Row: 2, Field: "agentSourcedIds", Code: CodeInvalidLink, Message: "t1 is a teacher"}},
		{"a guardian linked to an existing teacher", bundle(`"g1","true","org-school-10","guardian","a.parent","A","B","","tch-5",""`), districtAdmin,
			Issue{File: "users.csv", Row: 2, Field: "agentSourcedIds", Code: CodeInvalidLink, Message: "tch-5 is a teacher"}},
		{"a student linked to a student", bundle(`"s1","true","org-school-10","student","new.kid","A","B","","stu-9",""`), districtAdmin,
			Issue{File: "users.csv", Row: 2, Field: "agentSourcedIds", Code: CodeInvalidLink, Message: "guardians only"}},
		{"a guardian linked to a student and a school admin", bundle(`"g1","true","org-school-10","guardian","a.parent","A","B","","stu-9,a1",""`,
			`"a1","true","org-school-10","administrator","an.admin","A","B","","",""`), districtAdmin,
			Issue{File: "users.csv", Row: 2, Field: "agentSourcedIds", Code: CodeInvalidLink, Message: "a1 is a school admin"}},
		{"a guardian linked to an existing student and one of the file", bundle(`"g1","true","org-school-10","guardian","a.parent","A","B","","stu-9,s2",""`,
			`"s2","true","org-school-10","student","kid.two","A","B","","",""`), districtAdmin,
			Issue{}}, // a control: both partners are students
		{"a guardian of more than MaxLinks students", bundle(`"g1","true","org-school-10","guardian","a.parent","A","B","","` + manyAgents(MaxLinks+1) + `",""`), districtAdmin,
			Issue{File: "users.csv", Row: 2, Field: "agentSourcedIds", Code: CodeTooManyLinks, Message: "at most 20 students"}},
		{"a role change the matrix forbids", bundle(`"stu-9","true","org-school-10","teacher","local.kid","A","B","","",""`), districtAdmin,
			Issue{File: "users.csv", Row: 2, Field: "role", Code: CodeForbidden}},
		{"a student who becomes a guardian", bundle(`"stu-9","true","org-school-10","parent","local.kid","A","B","","",""`), districtAdmin,
			Issue{File: "users.csv", Row: 2, Field: "role", Code: CodeForbidden, Message: "guardian"}},
		{"a school admin's row for another school", bundle(`"s1","true","org-school-20","student","new.kid","A","B","","",""`), schoolAdmin10,
			Issue{File: "users.csv", Row: 2, Field: "orgSourcedIds", Code: CodeOutOfScope, Message: "Maplewood High School"}},
		{"a school admin's row matching a user of another school", bundle(`"stu-20","true","org-school-10","student","high.kid","A","B","","",""`), schoolAdmin10,
			Issue{File: "users.csv", Row: 2, Field: "username", Code: CodeOutOfScope}},
		{"a school admin's new email for a parent of a child elsewhere", bundle(`"par-6","true","org-school-10","guardian","a.parent6","A","B","head@attacker.example","",""`), schoolAdmin10,
			Issue{File: "users.csv", Row: 2, Field: "email", Code: CodeForbidden, Message: "district admin"}},
		{"a district admin's new email for that parent", bundle(`"par-6","true","org-school-10","guardian","a.parent6","A","B","pat@home.example","",""`), districtAdmin,
			Issue{}},
		{"a school admin's new name for that parent", bundle(`"par-6","true","org-school-10","guardian","a.parent6","Pat","B","","",""`), schoolAdmin10,
			Issue{}},
		{"a school admin's district administrator", bundle(`"a1","true","org-district-1","administrator","boss","A","B","","",""`), schoolAdmin10,
			Issue{File: "users.csv", Row: 2, Field: "role", Code: CodeForbidden, Message: "above yours"}},
	} {
		t.Run(test.name, func(t *testing.T) {
			dir := newDirectory(schools, others...)
			res := plan(t, readZip(t, test.data, Limits{}), dir, test.actor)
			if test.want == (Issue{}) {
				if res.Err() != nil {
					t.Errorf("errors = %+v, want none", res.Summary.Errors)
				}
				return
			}
			if _, ok := AsInvalid(res.Err()); !ok || rekey.ErrorCode(res.Err()) != rekey.ECodeImportInvalid {
				t.Errorf("Err() = %v, want an import_invalid *InvalidError", res.Err())
			}
			for _, got := range res.Summary.Errors {
				if got.File == test.want.File && got.Row == test.want.Row && got.Field == test.want.Field &&
					got.Code == test.want.Code && strings.Contains(got.Message, test.want.Message) {
					return
				}
			}
			t.Errorf("errors = %+v, want one like %+v", res.Summary.Errors, test.want)
		})
	}
}

// manyAgents lists n agentSourcedIds.
func manyAgents(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("stu-%d", 100+i)
	}
	return strings.Join(ids, ",")
}

// TestPlanLinkOnlyChange: a guardian whose fields are as stored but whose
// agentSourcedIds name a student it is not linked to is an update in the
// dry run; once linked, unchanged.
func TestPlanLinkOnlyChange(t *testing.T) {
	header := `"sourcedId","enabledUser","orgSourcedIds","role","username","givenName","familyName","email","agentSourcedIds","grades"` + "\r\n"
	data := rostertest.Zip(t, "manifest.csv", manifestOf("bulk"), "orgs.csv", orgsCSV, "users.csv",
		header+`"g1","true","org-school-10","guardian","a.parent","A","B","","stu-9,stu-8",""`+"\r\n")
	schools := []rekey.School{{ID: "sch10", DistrictID: district, Name: "Maplewood Elementary", ExternalID: "org-school-10"}}
	guardian := rekey.User{ID: "g", DistrictID: district, Role: rekey.RoleGuardian, SchoolID: "sch10", Username: "a.parent",
		FirstName: "A", LastName: "B", ExternalID: "g1", Status: rekey.StatusActive, GuardianOf: []string{"x8"}}
	kid := func(id, ext string) rekey.User {
		return rekey.User{ID: id, DistrictID: district, Role: rekey.RoleStudent, SchoolID: "sch10", Username: "kid." + id,
			ExternalID: ext, Status: rekey.StatusActive, Guardians: []string{}}
	}
	for _, test := range []struct {
		name       string
		guardianOf []string
		want       [6]int
	}{
		{"one student not linked yet", []string{"x8"}, [6]int{0, 1, 0, 0, 1, 0}}, // orgs.csv has a school more
		{"both linked", []string{"x8", "x9"}, [6]int{0, 0, 1, 0, 1, 0}},
	} {
		t.Run(test.name, func(t *testing.T) {
			g := guardian
			g.GuardianOf = test.guardianOf
			res := plan(t, readZip(t, data, Limits{}), newDirectory(schools, g, kid("x9", "stu-9"), kid("x8", "stu-8")), districtAdmin)
			if got := counts(res.Summary); got != test.want || res.Err() != nil {
				t.Errorf("counts = %v, want %v (errors %+v)", got, test.want, res.Summary.Errors)
			}
		})
	}
}

// TestPlanUsersCSV: a plain users CSV matches by externalId, then
// username; fills in what it has; creates only with names and a role.
func TestPlanUsersCSV(t *testing.T) {
	schools := []rekey.School{{ID: "sch10", DistrictID: district, Name: "Maplewood Elementary"},
		{ID: "sch20", DistrictID: district, Name: "Maplewood High School"}}
	ava := rekey.User{ID: "ava", DistrictID: district, SchoolID: "sch10", Role: rekey.RoleStudent, FirstName: "Ava", LastName: "Nguyen",
		Username: "ava.nguyen", Grade: "K", ExternalID: "stu-1001", Status: rekey.StatusActive, Version: 3}
	noah := rekey.User{ID: "noah", DistrictID: district, SchoolID: "sch20", Role: rekey.RoleStudent, FirstName: "Noah", LastName: "Smith",
		Username: "noah.smith", Grade: "9", Status: rekey.StatusActive, Version: 1}
	read := func(content string) *File {
		f, err := ReadUsersCSV(strings.NewReader(content), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, test := range []struct {
		name    string
		csv     string
		actor   rekey.User
		changes []Change
		errors  []Issue
	}{
		{"update emails (the testdata file: BOM, CRLF, a column Rekey ignores)", readTestdata(t, "update-emails.csv"), districtAdmin,
			[]Change{
				{Kind: KindUpdate, File: "users.csv", Row: 2, UserID: "ava", Version: 3, Fields: []FieldChange{{FieldEmail, "", "ava.nguyen@students.maplewood.example.org"}}},
				{Kind: KindUpdate, File: "users.csv", Row: 3, UserID: "noah", Version: 1, Fields: []FieldChange{{FieldEmail, "", "noah.smith@students.maplewood.example.org"}}},
			}, nil},
		{"by externalId, renaming", "externalId,username,grade\nstu-1001,ava.n,01\n", districtAdmin,
			[]Change{{Kind: KindUpdate, File: "users.csv", Row: 2, UserID: "ava", Version: 3,
				Fields: []FieldChange{{FieldUsername, "ava.nguyen", "ava.n"}, {FieldGrade, "K", "1"}}}}, nil},
		{"a new student of a school named", "username,firstName,lastName,role,school,grade\nnew.kid,New,Kid,student,maplewood high school,KG\n", districtAdmin,
			[]Change{{Kind: KindCreate, File: "users.csv", Row: 2, Fields: []FieldChange{{FieldFirstName, "", "New"}, {FieldLastName, "", "Kid"},
				{FieldUsername, "", "new.kid"}, {FieldRole, "", "student"}, {FieldSchoolID, "", "sch20"}, {FieldGrade, "", "K"}, {FieldStatus, "", "active"}}}}, nil},
		{"a school admin's new teacher goes to their school", "username,firstName,lastName,role\nnew.t,New,Teacher,teacher\n", schoolAdmin10,
			[]Change{{Kind: KindCreate, File: "users.csv", Row: 2, Fields: []FieldChange{{FieldFirstName, "", "New"}, {FieldLastName, "", "Teacher"},
				{FieldUsername, "", "new.t"}, {FieldRole, "", "teacher"}, {FieldSchoolID, "", "sch10"}, {FieldStatus, "", "active"}}}}, nil},
		{"a new user without names or role", "username,email\nnobody.yet,n@example.org\n", districtAdmin, nil,
			[]Issue{{"users.csv", 2, "firstName", CodeMissingValue, "A new user needs a first name."},
				{"users.csv", 2, "lastName", CodeMissingValue, "A new user needs a last name."},
				{"users.csv", 2, "role", CodeMissingValue, "A new user needs a role."}}},
		{"a school that does not exist", "username,school\nava.nguyen,Hogwarts\n", districtAdmin, nil,
			[]Issue{{"users.csv", 2, "school", CodeUnknownSchool, `No school of your district has the id or name "Hogwarts".`}}},
		{"a school admin's row for a user of another school", "username,email\nnoah.smith,noah@example.org\n", schoolAdmin10, nil,
			[]Issue{{"users.csv", 2, "username", CodeOutOfScope, "noah.smith is not a user of your school; you may import only your school's rows."}}},
		{"a district admin made by a school admin", "username,firstName,lastName,role\nboss,A,B,district_admin\n", schoolAdmin10, nil,
			[]Issue{{"users.csv", 2, "role", CodeForbidden, "You may not import a district admin: the role is above yours."}}},
		{"a row without a username", "externalId,username,email\nstu-1001,,a1@example.org\n,ava.nguyen,a2@example.org\n", districtAdmin, nil,
			[]Issue{{"users.csv", 2, "username", CodeMissingValue, "Every user needs a username."}}},
		{"one user by externalId and again by username", "externalId,username,title\nstu-1001,ava.nguyen,x\nstu-2,ava.nguyen,y\n", districtAdmin, nil,
			[]Issue{{"users.csv", 3, "username", CodeDuplicateInFile, "The username ava.nguyen is also on row 2."}}},
	} {
		t.Run(test.name, func(t *testing.T) {
			res := plan(t, read(test.csv), newDirectory(schools, ava, noah), test.actor)
			if diff := cmp.Diff(test.errors, res.Summary.Errors, cmpEmpty); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if test.errors != nil {
				return
			}
			if diff := cmp.Diff(test.changes, res.Changes, cmpEmpty); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPlanSameUserTwice: a users CSV row matching a user by externalId
// and another matching the same user by username must not both write it.
func TestPlanSameUserTwice(t *testing.T) {
	dir := newDirectory(maplewoodSchools(), rekey.User{ID: "x", DistrictID: district, SchoolID: "sch10", Role: rekey.RoleStudent,
		FirstName: "A", LastName: "B", Username: "kid.one", ExternalID: "stu-1", Status: rekey.StatusActive})
	f, err := ReadUsersCSV(strings.NewReader("externalId,username,title\nstu-1,kid.renamed,\n,kid.one,x\n"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	res := plan(t, f, dir, districtAdmin)
	want := []Issue{{File: "users.csv", Row: 3, Field: "username", Code: CodeSameUser, Message: "This row and row 2 are the same user (kid.one)."}}
	if diff := cmp.Diff(want, res.Summary.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// cmpEmpty treats nil and empty slices alike.
var cmpEmpty = cmpopts.EquateEmpty()

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPlanOrgsFromRekey(t *testing.T) {
	// file.orgs absent: orgSourcedIds name schools Rekey has by externalId.
	schools := []rekey.School{{ID: "sch10", DistrictID: district, Name: "Maplewood Elementary", ExternalID: "org-school-10"}}
	users := "sourcedId,enabledUser,orgSourcedIds,role,username,givenName,familyName\r\ns1,true,org-school-10,teacher,t.one,A,B\r\n"
	f := readZip(t, rostertest.Zip(t, "manifest.csv", manifestOf("absent"), "users.csv", users), Limits{})
	res := plan(t, f, newDirectory(schools), districtAdmin)
	if res.Err() != nil || res.Summary.Create != 1 || res.Changes[0].Apply(rekey.User{}).SchoolID != "sch10" {
		t.Errorf("summary %+v, changes %+v; want one teacher of sch10", res.Summary, res.Changes)
	}
	// A school admin imports their school's bundle: the rows of their
	// school, no school created.
	f = readZip(t, rostertest.Zip(t, maplewood(t, func(name, c string) string {
		if name == "users.csv" {
			var keep []string
			for _, l := range strings.Split(c, "\r\n") {
				if !strings.Contains(l, "org-school-20") && !strings.Contains(l, "org-district-1") && !strings.Contains(l, "org-dept-21") {
					keep = append(keep, l)
				}
			}
			return strings.Join(keep, "\r\n")
		}
		return c
	})...), Limits{})
	res = plan(t, f, newDirectory(maplewoodSchools()), schoolAdmin10)
	if res.Err() != nil || res.Summary.Create != 4 || res.Summary.SchoolsCreate != 0 || res.Summary.SchoolsUpdate != 0 {
		t.Errorf("school admin's import: %+v", res.Summary)
	}
}

func TestPlanWhoMayImport(t *testing.T) {
	f := readZip(t, rostertest.Zip(t, maplewood(t, nil)...), Limits{})
	disabled := districtAdmin
	disabled.Status = rekey.StatusDisabled
	for _, actor := range []rekey.User{teacher10, {ID: "s", DistrictID: district, SchoolID: "sch10", Role: rekey.RoleStudent, Status: rekey.StatusActive},
		{ID: "sup", Role: rekey.RoleSupport, Status: rekey.StatusActive}, disabled} {
		if _, err := Plan(t.Context(), f, newDirectory(maplewoodSchools()), actor); !errors.Is(err, rekey.ErrForbidden) {
			t.Errorf("Plan by %s (%s) = %v, want forbidden", actor.Role, actor.Status, err)
		}
	}
}

func TestPlanFatalFileOnlyReports(t *testing.T) {
	f := readZip(t, []byte("not a zip"), Limits{})
	res := plan(t, f, newDirectory(nil), districtAdmin)
	if len(res.Changes) != 0 || res.Summary.ErrorCount != 1 || res.Summary.Errors[0].Code != CodeNotAZip {
		t.Errorf("result = %+v, want only the not_a_zip error", res.Summary)
	}
}

func TestPlanBatchesLookups(t *testing.T) {
	var buf bytes.Buffer
	if err := GenerateBundle(&buf, 1050, 3); err != nil {
		t.Fatal(err)
	}
	dir := newDirectory(nil)
	res := plan(t, readZip(t, buf.Bytes(), Limits{}), dir, districtAdmin)
	if res.Err() != nil {
		t.Fatalf("errors: %+v", res.Summary.Errors[:min(5, len(res.Summary.Errors))])
	}
	if res.Summary.Create != 1050 || res.Summary.SchoolsCreate != 3 {
		t.Errorf("summary = %+v, want 1050 users and 3 schools created", res.Summary)
	}
	if dir.calls != 2 || dir.maxKeys != BatchSize {
		t.Errorf("FindUsers called %d times with up to %d usernames, want 2 and %d", dir.calls, dir.maxKeys, BatchSize)
	}
}

func TestPlanIssueCap(t *testing.T) {
	var rows strings.Builder
	rows.WriteString("sourcedId,enabledUser,orgSourcedIds,role,username,givenName,familyName\r\n")
	for i := range 30 {
		rows.WriteString("s" + string(rune('a'+i%26)) + strings.Repeat("x", i) + ",true,org-school-10,wizard,kid" + strings.Repeat("x", i) + ",A,B\r\n")
	}
	f := readZip(t, rostertest.Zip(t, "manifest.csv", manifestOf("bulk"), "orgs.csv", orgsCSV, "users.csv", rows.String()), Limits{MaxIssues: 10})
	res := plan(t, f, newDirectory(maplewoodSchools()), districtAdmin)
	inv, ok := AsInvalid(res.Err())
	if !ok || len(inv.Issues) != 10 || inv.Count != 30 || res.Summary.ErrorCount != 30 {
		t.Errorf("refusal = %+v, want 10 of 30 errors listed", inv)
	}
}
