package imports

import (
	"context"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/roster"
)

// The dry run reads the file twice (roster.SummarizeRows); a users CSV
// and a bundle are each planned, a file of another type is refused with
// its own code, not an internal error.
func TestPreviewReadsEachFormat(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, test := range []struct {
		name       string
		src        Source
		wantCreate int
		wantErrors int
		wantCode   string
	}{
		{"a bundle", Source{Body: bundle(t, 30, 2), ContentType: TypeZip}, 30, 0, ""},
		{"a users CSV", Source{Body: []byte("username,firstName,lastName,role\r\nnew.kid,New,Kid,student\r\nnew.kid,Same,Kid,student\r\n"), ContentType: TypeCSV}, 0, 2, ""}, // the duplicate, and a student without a school
		{"another type", Source{Body: []byte("{}"), ContentType: "application/json"}, 0, 0, rekey.ECodeUnsupportedMedia},
	} {
		t.Run(test.name, func(t *testing.T) {
			summary, err := w.svc.Preview(ctx, w.admin, test.src)
			if test.wantCode != "" {
				if code := rekey.ErrorCode(err); code != test.wantCode {
					t.Fatalf("Preview error %v (code %q), want code %q", err, code, test.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if summary.Create < test.wantCreate || summary.ErrorCount != test.wantErrors {
				t.Errorf("Preview = %+v, want %d creates and %d errors", summary, test.wantCreate, test.wantErrors)
			}
		})
	}
}

func TestTaskName(t *testing.T) {
	for _, tc := range []struct {
		format roster.Format
		rows   int
		want   string
	}{
		{roster.FormatOneRoster, 50000, "Roster import · OneRoster 1.1 bundle · 50,000 rows"},
		{roster.FormatOneRoster, 1234567, "Roster import · OneRoster 1.1 bundle · 1,234,567 rows"},
		{roster.FormatUsersCSV, 1, "Users CSV import · 1 row"},
		{roster.FormatUsersCSV, 999, "Users CSV import · 999 rows"},
		{roster.FormatUsersCSV, 0, "Users CSV import · 0 rows"},
	} {
		if got := TaskName(tc.format, tc.rows); got != tc.want {
			t.Errorf("TaskName(%s, %d) = %q, want %q", tc.format, tc.rows, got, tc.want)
		}
	}
}
