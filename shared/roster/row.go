package roster

import (
	"strings"

	"github.com/rekey/rekey/shared/rekey"
)

// RoleGuardian is the role of OneRoster's guardian, parent and relative
// users: Rekey's guardian role. Planned guardian changes carry their links
// (Change.GuardianLinks) for the store to keep.
const RoleGuardian = rekey.RoleGuardian

// Format is the kind of file an import reads.
type Format string

// The import formats.
const (
	FormatOneRoster Format = "oneroster" // a OneRoster 1.1 CSV zip bundle
	FormatUsersCSV  Format = "users_csv" // a plain users CSV
)

// File is what a reader found in an import file: the user rows that passed
// the checks of a single row, the orgs of a bundle, and every issue.
// Plan turns it into changes.
type File struct {
	Format Format
	Rows   []Row
	Orgs   []Org
	// Issues are the problems found while reading; IssueCount counts
	// them all when there are more than Limits.MaxIssues.
	Issues     []Issue
	IssueCount int
	// IgnoredFiles are the files of a bundle Rekey does not read
	// (classes.csv, enrollments.csv …).
	IgnoredFiles   []string
	IgnoredColumns []Column
	// Fatal is true when the file could not be read as a whole (not a
	// zip, no users.csv, a wrong version …): Rows is then incomplete
	// and Plan only reports the issues.
	Fatal bool
	// limits are the reader's, for Plan's issue cap.
	limits Limits
	// each, when set, is given every row instead of Rows (ReadBundleRows,
	// ReadUsersCSVRows): the file's rows are then not held.
	each func(Row)
}

// add keeps a row that passed the checks of a single row.
func (f *File) add(r Row) {
	if f.each != nil {
		f.each(r)
		return
	}
	f.Rows = append(f.Rows, r)
}

// Org is one row of a bundle's orgs.csv.
type Org struct {
	Row       int
	SourcedID string
	Name      string
	Type      string // district, school, department, local, state or national
	ParentID  string // parentSourcedId
}

// Row is one user row of a file in Rekey's terms, with every value in its
// stored form (trimmed; username and email lower-cased). An empty value
// means the file does not say (a blank cell never clears a field).
type Row struct {
	File       string
	Row        int // as a spreadsheet numbers it: 1 is the header
	ExternalID string
	Username   string
	FirstName  string
	LastName   string
	Email      string
	// Role is "" when a users CSV has no role for the row. A OneRoster
	// administrator is RoleSchoolAdmin here and becomes a district admin
	// in Plan when its only org is the district.
	Role rekey.Role
	// OrgIDs are a OneRoster row's orgSourcedIds, in the file's order.
	OrgIDs []string
	// School is a users CSV row's school: a school id or name.
	School string
	Grade  string
	Title  string
	// Status is active or disabled when the file says (OneRoster's
	// enabledUser and status), "" when it does not (a users CSV).
	Status rekey.Status
	// Deleted is status=tobedeleted: disabled, and not created when new.
	Deleted bool
	// AgentIDs are the agentSourcedIds: for a guardian the students it is
	// linked to, for a student its guardians.
	AgentIDs []string
	// administrator marks a OneRoster administrator, whose role Plan
	// decides from its orgs.
	administrator bool
}

// grades maps the grade levels of CEDS (OneRoster's grades) and the
// plain forms people type to Rekey's grades: K and 1…12 as the console's
// grades.js lists them; the other CEDS levels are kept as their code.
var grades = func() map[string]string {
	m := map[string]string{"KG": "K", "K": "K", "PK": "PK", "TK": "TK", "IT": "IT", "PR": "PR",
		"PS": "PS", "UG": "UG", "13": "13", "OTHER": "Other"}
	for i, s := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"} {
		m[s] = s
		if i < 9 {
			m["0"+s] = s
		}
	}
	return m
}()

// Grade returns Rekey's grade for a grade level as a roster spells it
// ("KG", "05", "5", "PK"), and false for one it does not know.
func Grade(level string) (string, bool) {
	g, ok := grades[strings.ToUpper(strings.TrimSpace(level))]
	return g, ok
}
