package roster

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/roster/rostertest"
)

// summarizeRows is the dry run's plan of a bundle read twice.
func summarizeRows(t testing.TB, data []byte, dir Directory, actor rekey.User) *Result {
	t.Helper()
	res, err := SummarizeRows(context.Background(), func(each func(Row)) (*File, error) {
		return ReadBundleRows(bytes.NewReader(data), int64(len(data)), Limits{}, each)
	}, dir, actor)
	if err != nil {
		t.Fatalf("SummarizeRows: %v", err)
	}
	return res
}

// The dry run reads the file twice instead of holding its rows; what it
// says must be what Summarize of the whole file says: the counts, every
// issue (the reader's, then the plan's, in order), the schools.
func TestSummarizeRowsIsSummarize(t *testing.T) {
	header := `"sourcedId","enabledUser","orgSourcedIds","role","username","givenName","familyName","email","agentSourcedIds","grades"` + "\r\n"
	bundle := func(rows ...string) []byte {
		return rostertest.Zip(t, "manifest.csv", manifestOf("bulk"), "orgs.csv", orgsCSV, "users.csv", header+strings.Join(rows, "\r\n")+"\r\n")
	}
	schools := []rekey.School{{ID: "sch10", DistrictID: district, Name: "Maplewood Elementary", ExternalID: "org-school-10"}}
	existing := []rekey.User{
		{ID: "x2", DistrictID: district, Role: rekey.RoleStudent, SchoolID: "sch10", Username: "local.kid", ExternalID: "stu-9", Status: rekey.StatusActive, Version: 2},
		{ID: "x5", DistrictID: district, Role: rekey.RoleTeacher, SchoolID: "sch10", Username: "a.teacher5", ExternalID: "tch-5", Status: rekey.StatusActive},
	}
	// 250 rows: three batches, a link to a row of a later batch.
	var many []string
	many = append(many, `"g1","true","org-school-10","guardian","a.parent","A","B","","s249",""`)
	for i := 1; i < 250; i++ {
		many = append(many, `"s`+strconv.Itoa(i)+`","true","org-school-10","student","kid`+strconv.Itoa(i)+`","A","B","","",""`)
	}
	for _, test := range []struct {
		name string
		data []byte
	}{
		{"the maplewood bundle", rostertest.Zip(t, maplewood(t, nil)...)},
		{"duplicates in the file", bundle(`"s1","true","org-school-10","student","kid","A","B","k@example.org","",""`,
			`"s1","true","org-school-10","student","kid","A","B","k@example.org","",""`,
			`"s2","true","org-school-10","student","kid2","A","B","K@example.org","",""`)},
		{"links to the file and to Rekey", bundle(`"g1","true","org-school-10","guardian","a.parent","A","B","","stu-9,s2,t1,tch-5,nobody",""`,
			`"s2","true","org-school-10","student","kid.two","A","B","","g1",""`, `"t1","true","org-school-10","teacher","a.teacher","A","B","","",""`)},
		{"the same user twice and an update", bundle(`"stu-9","true","org-school-10","student","local.kid","A","B","","",""`,
			`"s3","true","org-school-10","student","local.kid","C","D","","",""`)},
		{"rows the reader refuses", bundle(`"s1","maybe","org-school-10","student","kid","A","B","","",""`, `"s2","true","org-school-10","aide","kid2","A","B","","",""`)},
		{"a link to a later batch", bundle(many...)},
		{"not a zip", []byte("PK not really")},
	} {
		t.Run(test.name, func(t *testing.T) {
			dir := newDirectory(schools, existing...)
			f := readZip(t, test.data, Limits{})
			want, err := Summarize(context.Background(), f, dir, districtAdmin)
			if err != nil {
				t.Fatal(err)
			}
			got := summarizeRows(t, test.data, newDirectory(schools, existing...), districtAdmin)
			for i := range got.Schools { // new schools get new ids
				got.Schools[i].School.ID = want.Schools[i].School.ID
			}
			if !reflect.DeepEqual(got.Summary, want.Summary) || len(got.Schools) != len(want.Schools) || got.Changes != nil {
				t.Errorf("SummarizeRows:\n%+v\nwant (Summarize):\n%+v", got.Summary, want.Summary)
			}
		})
	}
}

// A forbidden actor and a failing directory end the dry run with an
// error, as Summarize's do.
func TestSummarizeRowsErrors(t *testing.T) {
	data := rostertest.Zip(t, maplewood(t, nil)...)
	read := func(each func(Row)) (*File, error) {
		return ReadBundleRows(bytes.NewReader(data), int64(len(data)), Limits{}, each)
	}
	teacher := rekey.User{ID: "t", DistrictID: district, SchoolID: "sch10", Role: rekey.RoleTeacher, Status: rekey.StatusActive}
	if _, err := SummarizeRows(context.Background(), read, newDirectory(nil), teacher); err != rekey.ErrForbidden {
		t.Errorf("SummarizeRows(teacher) error = %v, want ErrForbidden", err)
	}
	if _, err := SummarizeRows(context.Background(), read, failingDirectory{newDirectory(nil)}, districtAdmin); !errors.Is(err, errLookup) {
		t.Errorf("SummarizeRows with a failing directory: error %v, want the lookup's", err)
	}
}

// ReadBundleRows gives the rows and keeps none.
func TestReadBundleRowsKeepsNoRows(t *testing.T) {
	data := rostertest.Zip(t, maplewood(t, nil)...)
	want := readZip(t, data, Limits{}).Rows
	var got []Row
	f, err := ReadBundleRows(bytes.NewReader(data), int64(len(data)), Limits{}, func(r Row) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	if f.Rows != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ReadBundleRows: kept %d rows, gave %d, want none kept and the %d of ReadBundle", len(f.Rows), len(got), len(want))
	}
}

// The dry run's memory grows with the rows only by its uniqueness
// checks' fingerprints (issue 12): from 2,000 to 20,000 rows, under
// 300 bytes a row more, where holding the rows and their keys took
// some 700.
func TestSummarizeRowsMemoryNearlyFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 22,000 generated rows")
	}
	peak := func(n int) uint64 {
		var buf bytes.Buffer
		if err := GenerateBundle(&buf, n, 40); err != nil {
			t.Fatal(err)
		}
		data := buf.Bytes()
		dir := &peakDirectory{Directory: newDirectory(nil)}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		dir.base = ms.HeapAlloc
		res := summarizeRows(t, data, dir, districtAdmin)
		if res.Summary.Create != n {
			t.Fatalf("%d rows: summary %+v", n, res.Summary)
		}
		runtime.KeepAlive(data)
		return dir.peak
	}
	small, large := peak(2_000), peak(20_000)
	perRow := (float64(large) - float64(small)) / 18_000
	t.Logf("live heap: %d B at 2,000 rows, %d B at 20,000: %.0f B a row", small, large, perRow)
	if perRow > 300 {
		t.Errorf("the dry run keeps %.0f B a row, want under 300", perRow)
	}
}

// peakDirectory notes the live heap above base (after a collection) at
// every tenth lookup.
type peakDirectory struct {
	Directory
	base, peak uint64
	calls      int
}

func (d *peakDirectory) FindUsers(ctx context.Context, districtID string, keys Keys) ([]rekey.User, error) {
	if d.calls++; d.calls%10 == 0 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > d.base && ms.HeapAlloc-d.base > d.peak {
			d.peak = ms.HeapAlloc - d.base
		}
	}
	return d.Directory.FindUsers(ctx, districtID, keys)
}

var errLookup = errors.New("lookup failed")

// failingDirectory fails every lookup of users.
type failingDirectory struct{ Directory }

func (failingDirectory) FindUsers(context.Context, string, Keys) ([]rekey.User, error) {
	return nil, errLookup
}
