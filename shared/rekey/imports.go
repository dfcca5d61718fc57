package rekey

import "time"

// TaskKindImport is the kind of task a roster or users-CSV import runs as
// (POST /api/imports).
const TaskKindImport = "import"

// ActionImportStart is the audit entry of an import's start, on the task.
const ActionImportStart = "import.start"

// Per-row outcomes of an import task.
const (
	ImportCreated   = "created"
	ImportUpdated   = "updated"
	ImportDisabled  = "disabled"
	ImportUnchanged = "unchanged"
	ImportFailed    = "failed"
)

// ImportJob is what an import task needs besides its rows: who started it
// (re-read at every chunk, so lost rights stop the import), the file's
// format and organisations (as shared/roster encodes them), the plan's
// counts, and the uploaded object to delete once every chunk is done.
type ImportJob struct {
	TaskID     string
	DistrictID string
	ActorID    string
	Format     string
	Orgs       []byte // JSON of the file's orgs (roster.Org)
	SourceKey  string // the uploaded S3 object, "" for a file sent in the request
	Chunks     int
	Counts     ImportCounts
	CreatedAt  time.Time
}

// ImportCounts are the dry run's counts of an import: what its plan said
// it would do when it started.
type ImportCounts struct {
	Create        int `json:"create"`
	Update        int `json:"update"`
	Unchanged     int `json:"unchanged"`
	Disable       int `json:"disable"`
	SchoolsCreate int `json:"schoolsCreate"`
}

// ImportChunk is one slice of an import's rows (JSON of roster.Row) and,
// once a worker finished it, the result of each row. Done is set once,
// conditionally, together with the task's counters.
type ImportChunk struct {
	TaskID  string
	Index   int
	Rows    []byte
	Done    bool
	Results []ImportRowResult
}

// ImportRowResult is one row's line in an import task's results.
type ImportRowResult struct {
	File     string `json:"file"`
	Row      int    `json:"row"`
	Outcome  string `json:"outcome"`
	UserID   string `json:"userId,omitempty"`
	Username string `json:"username,omitempty"`
	// Fields lists what changed: "email: a@x.org → b@x.org".
	Fields []string `json:"fields,omitempty"`
	Error  string   `json:"error,omitempty"`
}

// ImportTally is what one finished chunk adds to its task's counters:
// succeeded (created, updated, disabled), skipped (unchanged)
// and failed rows.
type ImportTally struct {
	Succeeded, Skipped, Failed int
}

// ImportWrite is one row of an import as the store writes it: a new user
// (Before is the zero User) or the update of Before to After, with its
// audit entry. The user, its username, email and externalId claims and the
// entry are written together or not at all, whatever else shares the
// store's transaction.
type ImportWrite struct {
	Before, After User
	Audit         AuditEntry
}

// Creates reports whether w creates its user.
func (w ImportWrite) Creates() bool { return w.Before.ID == "" }
