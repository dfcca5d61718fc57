// Package schedule is Rekey's scheduled bulk resets (PRODUCT.md "Scheduled
// bulk resets"): saved bulk resets that run on an EventBridge-syntax
// expression in a time zone, the service that creates, lists, edits and
// deletes them, and the dispatcher that starts each due occurrence as an
// ordinary bulk task, exactly once.
//
// # Expressions
//
// Package cron (shared/schedule/cron) reads the expressions,
// rate(N minute|minutes|hour|hours|day|days) and cron(Minutes Hours
// Day-of-month Month Day-of-week Year) with EventBridge's rules, and walks
// their occurrences. Cron expressions follow the wall clock of the
// schedule's IANA time zone, across daylight-saving changes: a skipped time
// runs at the end of the gap, a repeated time runs at its first instant,
// each once. Rates are fixed intervals counted from the schedule's creation.
// What is a schedule's rule rather than the syntax's stays here: a new or
// edited schedule runs at most once an hour (MinInterval) and must run again
// after now, and cron's plain errors become 422 answers on the expression
// or timezone field.
//
// # Who may do what
//
// Only active admins (school_admin and up) create schedules. A schedule
// belongs to its creator's district and always runs with the creator's
// authority as it stands at run time, never the editor's. It is visible to,
// and may be edited, paused or deleted by, its creator, the district admins
// of its district, and support: users whose scope covers the creator's.
// Nobody else learns it exists (404); in particular two school admins of one
// school do not see each other's schedules (deny by default: equal scope is
// not authority over the other's saved resets). A support user's schedule
// reaches every district, so it belongs to none and only support sees it.
// Being the creator grants nothing by itself (SECURITY.md 21): a school
// admin's schedule is bound to their school when saved, and a creator who
// was demoted or moved to another school or district no longer sees it,
// and its runs fail, saying why.
//
// # Why no default password
//
// A schedule refuses the default_password delivery. It would have to keep
// the password, in clear or reversibly encrypted, in the table for as long
// as the schedule exists (months or years), readable by anyone who can read
// the table or its backups, and it would set the same known password on
// every run; SECURITY.md keeps only hashes of secrets. email_link and
// generated_passwords make fresh secrets at run time instead.
//
// # Dispatching
//
// See Dispatcher: an EventBridge rule (rate(1 minute)) or the local runner's
// ticker calls Run, which claims each due occurrence with a conditional
// write before starting its task, so that overlapping or repeated
// invocations start it once.
package schedule

import (
	"errors"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// Audit actions of schedules; each entry's TargetID is the schedule id.
const (
	ActionScheduleCreate = "schedule.create"
	ActionScheduleUpdate = "schedule.update"
	ActionScheduleDelete = "schedule.delete"
	// ActionScheduleRun records a dispatched occurrence: success with the
	// task id, or failure with the reason no task was started.
	ActionScheduleRun = "schedule.run"
)

// Filter selects the schedules of a listing. The service sets it from the
// actor's scope, never from the caller alone.
type Filter struct {
	// AllDistricts lists every schedule (support); DistrictID is then
	// ignored.
	AllDistricts bool
	DistrictID   string
	// CreatedBy, when set, keeps only the schedules this user created.
	CreatedBy string
	Limit     int
	Cursor    string // the store's cursor
}

// Page is one page of schedules; Next is empty on the last page.
type Page struct {
	Items []rekey.Schedule
	Next  string
}

// RunState is where one occurrence of a schedule stands.
type RunState string

// Run states. A run is claimed before its task is started, then started
// (with the task id) or failed (with the reason).
const (
	RunClaimed RunState = "claimed"
	RunStarted RunState = "started"
	RunFailed  RunState = "failed"
)

// Finished reports whether the occurrence needs no more work.
func (s RunState) Finished() bool { return s == RunStarted || s == RunFailed }

// Run is the record of one occurrence of a schedule: the claim that makes
// the occurrence start at most once, and its outcome.
type Run struct {
	ScheduleID string
	Occurrence time.Time
	State      RunState
	// Attempts counts the claims so far, this one included.
	Attempts int
	// ClaimID identifies the claim that may record the outcome; LeaseUntil
	// is when another dispatcher may take the claim over (its holder is
	// presumed dead).
	ClaimID    string
	LeaseUntil time.Time
	TaskID     string // set once started
	Reason     string // set once failed
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Errors of claiming a run.
var (
	// ErrRunFinished: the occurrence was already started or failed; the
	// dispatcher only moves the schedule on.
	ErrRunFinished = errors.New("schedule: run already finished")
	// ErrRunBusy: another dispatcher holds a live claim on the occurrence.
	ErrRunBusy = errors.New("schedule: run claimed by another dispatcher")
)
