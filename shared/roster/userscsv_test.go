package roster

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
)

func TestReadUsersCSV(t *testing.T) {
	f, err := ReadUsersCSV(strings.NewReader(readTestdata(t, "update-emails.csv")), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := &File{Format: FormatUsersCSV, limits: DefaultLimits,
		Rows: []Row{{File: "users.csv", Row: 2, Username: "ava.nguyen", Email: "ava.nguyen@students.maplewood.example.org"},
			{File: "users.csv", Row: 3, Username: "noah.smith", Email: "noah.smith@students.maplewood.example.org"}},
		IgnoredColumns: []Column{{File: "users.csv", Column: "nickname"}}}
	if diff := cmp.Diff(want, f, cmp.AllowUnexported(File{}, Row{}), cmpEmpty); diff != "" {
		t.Errorf("ReadUsersCSV (-want +got):\n%s", diff)
	}
	f, err = ReadUsersCSV(strings.NewReader("Username,Role,School,Title\nt.one,School Admin,Maplewood Elementary,Head of Year\n"), Limits{})
	if err != nil || f.IssueCount != 0 {
		t.Fatalf("issues %+v, err %v", f.Issues, err)
	}
	if r := f.Rows[0]; r.Role != rekey.RoleSchoolAdmin || r.School != "Maplewood Elementary" || r.Title != "Head of Year" {
		t.Errorf("row = %+v", r)
	}
}

func TestReadUsersCSVBadInput(t *testing.T) {
	for _, test := range []struct {
		name  string
		csv   string
		want  Issue
		fatal bool
	}{
		{"no username column", "email,firstName\na@example.org,A\n", Issue{File: "users.csv", Row: 1, Field: "username", Code: CodeMissingColumn}, true},
		{"an empty file", "", Issue{File: "users.csv", Code: CodeMissingColumn, Message: "empty"}, true},
		{"an unknown role", "username,role\nkid,pupil\n", Issue{File: "users.csv", Row: 2, Field: "role", Code: CodeUnknownRole}, false},
		{"a support user", "username,role\nkid,support\n", Issue{File: "users.csv", Row: 2, Field: "role", Code: CodeForbidden}, false},
		{"an invalid email", "username,email\nkid,kid@\n", Issue{File: "users.csv", Row: 2, Field: "email", Code: CodeInvalidEmail}, false},
		{"a duplicate username", "username\nKid\nkid\n", Issue{File: "users.csv", Row: 3, Field: "username", Code: CodeDuplicateInFile}, false},
		{"a duplicate externalId", "username,externalId\na1,x\na2,x\n", Issue{File: "users.csv", Row: 3, Field: "externalId", Code: CodeDuplicateInFile}, false},
		{"a too long title", "username,title\nkid," + strings.Repeat("t", 101) + "\n", Issue{File: "users.csv", Row: 2, Field: "title", Code: CodeInvalidValue}, false},
		{"Windows-1252", "username,lastName\nkid,Mu\xf1oz\n", Issue{File: "users.csv", Row: 2, Code: CodeInvalidEncoding}, true},
		{"over the byte limit", "username,title\n" + strings.Repeat("kid,"+strings.Repeat("t", 60)+"\n", 1<<15), Issue{File: "users.csv", Code: CodeTooLarge, Message: "over 1 MB"}, true},
		{"over the row limit", "username\n" + strings.Repeat("kid\n", 100_001), Issue{File: "users.csv", Code: CodeTooLarge, Message: "more than 100000 users"}, true},
	} {
		t.Run(test.name, func(t *testing.T) {
			f, err := ReadUsersCSV(strings.NewReader(test.csv), Limits{MaxBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if f.Fatal != test.fatal {
				t.Errorf("Fatal = %v, want %v", f.Fatal, test.fatal)
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

func TestGrade(t *testing.T) {
	for _, test := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"KG", "K", true}, {"kg", "K", true}, {"K", "K", true}, {"01", "1", true}, {"05", "5", true}, {"5", "5", true},
		{"09", "9", true}, {"10", "10", true}, {"12", "12", true}, {"PK", "PK", true}, {"TK", "TK", true}, {"13", "13", true},
		{"Other", "Other", true}, {"UG", "UG", true}, {"010", "", false}, {"14", "", false}, {"Year 3", "", false}, {"", "", false},
	} {
		if got, ok := Grade(test.in); got != test.want || ok != test.ok {
			t.Errorf("Grade(%q) = %q, %v, want %q, %v", test.in, got, ok, test.want, test.ok)
		}
	}
}
