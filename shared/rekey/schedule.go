package rekey

// A schedule's stored listings and runs, as the schedule service
// (shared/schedule) and its dispatcher keep them: in the domain so that the
// stores need no service package to store them.

import (
	"errors"
	"fmt"
	"time"
)

// Audit actions of schedules; each entry's TargetID is the schedule id.
const (
	ActionScheduleCreate = "schedule.create"
	ActionScheduleUpdate = "schedule.update"
	ActionScheduleDelete = "schedule.delete"
	// ActionScheduleRun records a dispatched occurrence: success with the
	// task id, or failure with the reason no task was started.
	ActionScheduleRun = "schedule.run"
	// ActionScheduleApprove records a second admin's approval of a
	// schedule above its district's approval threshold.
	ActionScheduleApprove = "schedule.approve"
)

// ScheduleFilter selects the schedules of a listing. The service sets it from the
// actor's scope, never from the caller alone.
type ScheduleFilter struct {
	// AllDistricts lists every schedule (support); DistrictID is then
	// ignored.
	AllDistricts bool
	DistrictID   string
	// CreatedBy, when set, keeps only the schedules this user created.
	CreatedBy string
	Limit     int
	Cursor    string // the store's cursor
}

// SchedulePage is one page of schedules; Next is empty on the last page.
type SchedulePage struct {
	Items []Schedule
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

// ScheduleRun is the record of one occurrence of a schedule: the claim that makes
// the occurrence start at most once, and its outcome.
type ScheduleRun struct {
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

// CheckOutcome reports whether r is an outcome a store may record for its
// claim: a claim id, and started with its task id or failed with its reason.
func (r ScheduleRun) CheckOutcome() error {
	switch {
	case r.ClaimID == "":
		return fmt.Errorf("run %s: no claim", r.ScheduleID)
	case r.State == RunStarted && r.TaskID == "":
		return fmt.Errorf("run %s: a started run needs its task id", r.ScheduleID)
	case r.State == RunFailed && r.Reason == "":
		return fmt.Errorf("run %s: a failed run needs its reason", r.ScheduleID)
	case !r.State.Finished():
		return fmt.Errorf("run %s: state %q is not an outcome", r.ScheduleID, r.State)
	}
	return nil
}

// Errors of claiming a run.
var (
	// ErrRunFinished: the occurrence was already started or failed; the
	// dispatcher only moves the schedule on.
	ErrRunFinished = errors.New("schedule: run already finished")
	// ErrRunBusy: another dispatcher holds a live claim on the occurrence.
	ErrRunBusy = errors.New("schedule: run claimed by another dispatcher")
)
