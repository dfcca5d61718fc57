package rekey

import (
	"encoding/json"
	"time"
)

// SelectionMode says which users a bulk reset reaches, before the actor's
// scope and the optional narrowing are applied.
type SelectionMode string

// Selection modes (the four filters of the bulk reset screen).
const (
	SelectAll         SelectionMode = "all"
	SelectAllExcept   SelectionMode = "all_except"
	SelectWithoutRole SelectionMode = "without_role" // end users: students only
	SelectSelected    SelectionMode = "selected"
	// SelectFollowUp is a follow-up's selection (POST
	// /api/tasks/{id}/follow-ups): the results of a parent task that the
	// follow-up's action picks, read when the task is planned, so that a
	// follow-up reaches any number of users. Only the server makes it
	// (Selection.FollowUp has no JSON name, and Valid refuses the mode), so
	// it is never a selection a request can ask for.
	SelectFollowUp SelectionMode = "follow_up"
)

// Valid reports whether m is a defined mode.
func (m SelectionMode) Valid() bool {
	return m == SelectAll || m == SelectAllExcept || m == SelectWithoutRole || m == SelectSelected
}

// Selection picks the users of a bulk reset. It is always intersected with
// the initiator's scope; SchoolID, Role and Grade narrow it further.
type Selection struct {
	Mode     SelectionMode `json:"mode"`
	UserIDs  []string      `json:"userIds"`
	SchoolID string        `json:"schoolId,omitempty"`
	Role     Role          `json:"role,omitempty"`
	Grade    string        `json:"grade,omitempty"`
	// FollowUp is set with SelectFollowUp only, by the server.
	FollowUp *FollowUpOf `json:"-"`
}

// FollowUpOf is what a follow-up task reaches: the results of task TaskID
// that Action (a follow-up action) picks. Count is how many the parent's
// counters said when it started (what its name, approval threshold and
// notices count); the planner reads the results themselves.
type FollowUpOf struct {
	TaskID string
	Action string
	Count  int
}

// DeliveryMode says how users learn their new credentials.
type DeliveryMode string

// Delivery modes.
const (
	DeliverEmailLink          DeliveryMode = "email_link"
	DeliverDefaultPassword    DeliveryMode = "default_password"
	DeliverGeneratedPasswords DeliveryMode = "generated_passwords"
)

// Valid reports whether m is a defined delivery.
func (m DeliveryMode) Valid() bool {
	return m == DeliverEmailLink || m == DeliverDefaultPassword || m == DeliverGeneratedPasswords
}

// Delivery is how a bulk reset reaches its users. DefaultPassword is set
// only for default_password and is never stored in clear or echoed back.
type Delivery struct {
	Mode            DeliveryMode `json:"mode"`
	DefaultPassword string       `json:"defaultPassword,omitempty"`
}

// TaskStatus is a background task's state.
type TaskStatus string

// Task states.
const (
	// TaskAwaitingApproval: a bulk reset above the district's approval
	// threshold waits, sending nothing, until a second person approves it
	// (then queued) or rejects it (then cancelled).
	TaskAwaitingApproval    TaskStatus = "awaiting_approval"
	TaskQueued              TaskStatus = "queued"
	TaskRunning             TaskStatus = "running"
	TaskCompleted           TaskStatus = "completed"
	TaskCompletedWithErrors TaskStatus = "completed_with_errors"
	TaskCancelled           TaskStatus = "cancelled"
	TaskFailed              TaskStatus = "failed"
)

// Finished reports whether no more work will happen for the task.
func (s TaskStatus) Finished() bool {
	return s == TaskCompleted || s == TaskCompletedWithErrors || s == TaskCancelled || s == TaskFailed
}

// TaskKindBulkReset is the kind of task a bulk reset runs as.
const TaskKindBulkReset = "bulk_reset"

// Task is a background job as the task centre shows it. Counters are exact
// and disjoint: processed = succeeded + failed + skipped + noEmail, and
// each user is counted once, by the write that records their outcome. Notified counts the users of a password delivery
// (default or generated passwords) whose "your password was changed" notice
// was queued: those with an email address.
type Task struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Name says what the task does, to whom and how (see bulk.TaskName).
	Name         string     `json:"name"`
	ParentTaskID string     `json:"parentTaskId,omitempty"`
	Status       TaskStatus `json:"status"`
	DistrictID   string     `json:"districtId"`
	Selection    Selection  `json:"selection"`
	Delivery     Delivery   `json:"delivery"`
	ScheduleID   string     `json:"scheduleId,omitempty"`
	Total        int        `json:"total"`
	Processed    int        `json:"processed"`
	Succeeded    int        `json:"succeeded"`
	Emailed      int        `json:"emailed"`
	NoEmail      int        `json:"noEmail"`
	Notified     int        `json:"notified"`
	Failed       int        `json:"failed"`
	Skipped      int        `json:"skipped"`
	CreatedBy    string     `json:"createdBy"`
	CreatedAt    time.Time  `json:"createdAt"`
	FinishedAt   time.Time  `json:"finishedAt,omitzero"`
	// ApprovedBy is the second person who approved a task that needed it
	// (or the approver of the schedule that started it); DecidedAt is when
	// it was approved or rejected.
	ApprovedBy string    `json:"approvedBy,omitempty"`
	DecidedAt  time.Time `json:"decidedAt,omitzero"`
	// Waiting explains a pause, such as the SES daily quota running out;
	// EstimatedFinishAt is when the task should end at the current pace.
	Waiting           string    `json:"waiting,omitempty"`
	EstimatedFinishAt time.Time `json:"estimatedFinishAt,omitzero"`
	// Funnel is worked out when one task is read (nil in listings).
	Funnel *Funnel `json:"funnel,omitempty"`
	// ImportCounts are an import task's counts as its plan said when it
	// started, the dry run's (API.md: "a task of kind import with the same
	// counts"): its counters say how far it got, these what it is doing
	// (created versus updated users). Nil for other tasks.
	ImportCounts *ImportCounts `json:"importCounts,omitempty"`
}

// Outcome is what a bulk task did for one user.
type Outcome string

// Per-user outcomes.
const (
	OutcomeEmailed     Outcome = "emailed"
	OutcomePasswordSet Outcome = "password_set"
	OutcomeNoEmail     Outcome = "no_email"
	OutcomeFailed      Outcome = "failed"
	OutcomeSkipped     Outcome = "skipped"
)

// MarshalJSON writes finishedAt as null until the task ends, so that every
// field of the API's task is always present.
func (t Task) MarshalJSON() ([]byte, error) {
	type plain Task // without this method
	var finished *time.Time
	if !t.FinishedAt.IsZero() {
		finished = &t.FinishedAt
	}
	return json.Marshal(struct {
		plain
		FinishedAt *time.Time `json:"finishedAt"`
	}{plain(t), finished})
}

// TaskResult is one user's line in a task's results (and its CSV export).
// Password is the generated password, kept only for the task's creator and
// only for 24 hours.
type TaskResult struct {
	UserID     string  `json:"userId"`
	Username   string  `json:"username"`
	FirstName  string  `json:"firstName"`
	LastName   string  `json:"lastName"`
	ExternalID string  `json:"externalId"`
	SchoolID   string  `json:"schoolId"`
	Grade      string  `json:"grade"`
	Email      string  `json:"email"`
	Outcome    Outcome `json:"outcome"`
	// State is where the user stands now (see StatePending and the
	// others), worked out when the result is read.
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// ReachedAt is when the task emailed the user (SES accepted it) or
	// set their password.
	ReachedAt time.Time `json:"reachedAt,omitzero"`
	Error     string    `json:"error,omitempty"`
	// Notified: the user's password-changed notice was queued (password
	// deliveries).
	Notified bool   `json:"notified,omitempty"`
	Password string `json:"-"`
}

// Schedule is a saved bulk reset that runs on an EventBridge-syntax
// expression (cron(...) or rate(...)) in a time zone.
type Schedule struct {
	ID         string    `json:"id"`
	DistrictID string    `json:"districtId"`
	Name       string    `json:"name"`
	Expression string    `json:"expression"`
	Timezone   string    `json:"timezone"`
	Selection  Selection `json:"selection"`
	Delivery   Delivery  `json:"delivery"`
	Enabled    bool      `json:"enabled"`
	CreatedBy  string    `json:"createdBy"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	Version    int       `json:"version"`
	NextRunAt  time.Time `json:"nextRunAt,omitzero"`
	LastRunAt  time.Time `json:"lastRunAt,omitzero"`
	LastTaskID string    `json:"lastTaskId,omitempty"`
	// LastRunReason says why the last run started no task (such as a
	// schedule still waiting for approval); empty when it started one.
	LastRunReason string `json:"lastRunReason,omitempty"`
	// NeedsApproval is set when the schedule's selection reaches more
	// users than its district's approval threshold: it runs only once
	// another admin approved it (ApprovedBy, ApprovedAt), and a change of
	// what or when it resets asks for approval again. SubmittedBy is who
	// saved the version that needs it; neither they nor the creator may
	// approve it.
	NeedsApproval bool      `json:"needsApproval"`
	SubmittedBy   string    `json:"submittedBy,omitempty"`
	ApprovedBy    string    `json:"approvedBy,omitempty"`
	ApprovedAt    time.Time `json:"approvedAt,omitzero"`
}

// Result states (API.md "Tasks as campaigns"): where each user of a task
// stands. The mail states are rekey.NextMailState's.
const (
	StatePending     = "pending"
	StateSent        = "sent"
	StateDelivered   = MailDelivered
	StateBounced     = MailBounced
	StateComplained  = MailComplained
	StateCompleted   = "completed"
	StateExpired     = "expired"
	StatePasswordSet = "password_set"
	StateNoEmail     = "no_email"
	StateFailed      = "failed"
	StateSkipped     = "skipped"
	// StateUnfinished is a filter, not a state: every result not completed.
	StateUnfinished = "unfinished"
)

// ResultStates are the states a result can be in, for validating filters.
var ResultStates = []string{StatePending, StateSent, StateDelivered, StateBounced, StateComplained, StateCompleted,
	StateExpired, StatePasswordSet, StateNoEmail, StateFailed, StateSkipped}

// Funnel counts a task's users by how far its email got them: sent
// (accepted by SES), then what SES reported, completed (the user set a new
// password after the task reached them) and expired (the link lapsed
// unused).
type Funnel struct {
	Sent       int `json:"sent"`
	Delivered  int `json:"delivered"`
	Bounced    int `json:"bounced"`
	Complained int `json:"complained"`
	Completed  int `json:"completed"`
	Expired    int `json:"expired"`
}

// Add adds o's counts to f's: the funnel of two disjoint sets of results.
func (f *Funnel) Add(o Funnel) {
	f.Sent += o.Sent
	f.Delivered += o.Delivered
	f.Bounced += o.Bounced
	f.Complained += o.Complained
	f.Completed += o.Completed
	f.Expired += o.Expired
}

// AwaitingApproval reports whether the schedule may not run until another
// admin approves it.
func (sc Schedule) AwaitingApproval() bool { return sc.NeedsApproval && sc.ApprovedBy == "" }
