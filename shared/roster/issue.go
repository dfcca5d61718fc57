package roster

import (
	"errors"
	"fmt"

	"github.com/rekey/rekey/shared/rekey"
)

// Issue codes: stable snake_case names of what is wrong with a file or a
// row, for the dry-run table and the 422 import_invalid answer. Where a
// row repeats an application error (a username or email held by someone
// else) the application's code is used.
const (
	CodeNotAZip            = "not_a_zip"              // the body is not a zip archive
	CodeTooLarge           = "too_large"              // a limit of Limits was passed
	CodeMissingFile        = "missing_file"           // manifest.csv, users.csv or a declared orgs.csv is absent
	CodeUnsupportedVersion = "unsupported_version"    // manifest.version is not 1.0 or oneroster.version not 1.1
	CodeInvalidManifest    = "invalid_manifest"       // manifest.csv is not propertyName,value or declares no users
	CodeInvalidEncoding    = "invalid_encoding"       // not UTF-8 text (e.g. Windows-1252 or UTF-16)
	CodeInvalidCSV         = "invalid_csv"            // a quote error, or a row with the wrong number of cells
	CodeMissingColumn      = "missing_column"         // a required column is not in the header
	CodeDuplicateColumn    = "duplicate_column"       // a column appears twice in the header
	CodeMissingValue       = "missing_value"          // a required cell is blank
	CodeInvalidValue       = "invalid_value"          // a cell is not acceptable for its column
	CodeInvalidEmail       = "invalid_email"          // not one bare email address
	CodeInvalidUsername    = "invalid_username"       // not 3–64 of a-z 0-9 . _ -
	CodeUnknownRole        = "unknown_role"           // a role Rekey has no place for
	CodeUnknownGrade       = "unknown_grade"          // not a grade level Rekey knows
	CodeDuplicateInFile    = "duplicate_in_file"      // a sourcedId, username or email given twice in the file
	CodeUnknownOrg         = "unknown_org"            // an orgSourcedId in neither orgs.csv nor Rekey
	CodeUnknownSchool      = "unknown_school"         // a users CSV school that is no school of the district
	CodeUnknownAgent       = "unknown_agent"          // an agentSourcedId that is nobody in the file or the district
	CodeOutOfScope         = "out_of_scope"           // a row outside the importer's school or district
	CodeForbidden          = rekey.ECodeForbidden     // a change the importer may not make (e.g. a role above theirs)
	CodeUsernameTaken      = rekey.ECodeUsernameTaken // another user holds the username
	CodeEmailTaken         = rekey.ECodeEmailTaken    // another user holds the email address
	CodeSameUser           = "same_user"              // two rows match the same existing user
	CodeInvalidLink        = "invalid_link"           // an agentSourcedId of a guardian that is no student, or of a student that is no guardian
	CodeTooManyLinks       = "too_many_links"         // more agentSourcedIds on a row than MaxLinks
)

// Issue is one error of an import: the file, the row as a spreadsheet
// numbers it (1 is the header; 0 means the file as a whole), the column,
// a code and a message for people.
type Issue struct {
	File    string `json:"file"`
	Row     int    `json:"row"`
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Column names a column of a file that the import ignores. Known is true
// for OneRoster columns Rekey has no use for (middleName, password …),
// false for columns neither format defines.
type Column struct {
	File   string `json:"file"`
	Column string `json:"column"`
	Known  bool   `json:"known"`
}

// Limits bound what one import may cost. The zero value of a field means
// its DefaultLimits value.
type Limits struct {
	// MaxEntries is the most entries (files and folders) a zip may list.
	MaxEntries int
	// MaxBytes is the most uncompressed bytes read in all: the three files
	// of a bundle together, or a users CSV. Reading stops at the limit
	// whatever sizes the zip declares.
	MaxBytes int64
	// MaxRows is the most user rows a file may hold.
	MaxRows int
	// MaxIssues is the most issues listed; more are counted only.
	MaxIssues int
}

// DefaultLimits fit the largest districts Rekey expects (100,000 people,
// some 30 MB of users.csv) with room, and keep a hostile zip's cost to
// reading 128 MiB: a 5 MB upload of zeros that claims to be users.csv is
// refused after 128 MiB of work, not after 5 GB.
var DefaultLimits = Limits{MaxEntries: 64, MaxBytes: 128 << 20, MaxRows: 100_000, MaxIssues: 1_000}

func (l Limits) withDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultLimits.MaxEntries
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxRows <= 0 {
		l.MaxRows = DefaultLimits.MaxRows
	}
	if l.MaxIssues <= 0 {
		l.MaxIssues = DefaultLimits.MaxIssues
	}
	return l
}

// issues collects a file's issues, listing at most max row issues;
// issues of a whole file (row 0), which end reading, are always listed.
type issues struct {
	max   int
	list  []Issue
	count int
}

func (is *issues) add(file string, row int, field, code, format string, args ...any) {
	is.count++
	if len(is.list) < is.max || row == 0 {
		is.list = append(is.list, Issue{File: file, Row: row, Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
	}
}

// InvalidError is the refusal of a file with errors: a rekey.Error with
// code import_invalid (422) that also carries every listed issue, for the
// API's answer {error, errors}.
type InvalidError struct {
	Issues []Issue
	Count  int // all issues, when more than Issues lists
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("roster: import refused: %d errors", e.Count)
}

// Unwrap makes the refusal an import_invalid application error.
func (e *InvalidError) Unwrap() error {
	return &rekey.Error{Code: rekey.ECodeImportInvalid,
		Message: fmt.Sprintf("The file has %d errors, so nothing was imported. Correct them and upload it again.", e.Count)}
}

// AsInvalid returns the *InvalidError in err's chain, if any.
func AsInvalid(err error) (*InvalidError, bool) {
	var e *InvalidError
	ok := errors.As(err, &e)
	return e, ok
}
