// Package bulk runs bulk password resets as background tasks (PRODUCT.md
// "Bulk resets", SECURITY.md 15–25): the Service that validates, records
// and queues a task and serves the task centre, the Planner that expands a
// task's selection into chunks, and the Worker that resets each chunk's
// users and sends their email.
//
// The pipeline:
//
//	POST /api/bulk-resets ─ Service.Start: validate, put the task (queued),
//	                        one plan message ──────────────▶ plan queue
//	Planner (plan queue):  reload the creator, page through the selection
//	                        inside the creator's scope, write chunks of up
//	                        to ChunkSize users and one message per chunk ──▶ work queue
//	Worker (work queue):   per chunk, one read of the chunk, the task, its
//	                        key, the creator and the users; per user the
//	                        creator's current permissions; transactions
//	                        of up to 48 users reset them with their audit
//	                        entries; emails paced to the SES rate; every
//	                        chunk write adds what it settled to the task.
//	Sweeper (every minute): chunks whose worker died holding them (its
//	                        30 s lease, renewed while it works, ran out)
//	                        ───────────────────────────────────────────▶ work queue
//
// A worker that dies after voiding a chunk's passwords and before sending
// the links would leave those users locked out until the work queue's
// visibility timeout (30 minutes, 6 × the worker's timeout) brought the
// message back; the Sweeper resumes the chunk within about a minute
// instead, without shortening the queue's timeouts (see Sweeper).
//
// Every piece of state is keyed by business identity, never by SQS message
// id (SECURITY.md 17): a chunk is TASK#<task>/CHUNK#<n>, and its entry for
// a user is the (task, user) record of what was done to them — prepared,
// sent with the SES message id, attempts, outcome. A duplicated or redriven
// message finds that record and does not redo what it says is done, so no
// user gets two emails for one task unless a worker dies between handing an
// email to SES and recording it (SECURITY.md 18); the retry then sends one
// more with a new token, and only that newest link works.
//
// Counters are exact and not a hot key: each chunk write adds the users it
// settled to the task's counters in the same transaction, on the condition
// that the chunk is still at the version the worker read, so progress
// shows while a chunk is worked on and nothing is counted twice. A task
// is finished when it is fully planned
// and processed equals total; its status and finishedAt are derived from
// the counters when it is read, so finishing costs no write.
package bulk

import (
	"fmt"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// ChunkSize is the most users one chunk (and one work message) carries. It
// is what fits one DynamoDB read: a BatchGetItem of the chunk, the task,
// its key, the creator and 96 users is 100 keys.
const ChunkSize = 96

// MaxUsersPerWrite is the most users one chunk write changes: each user's
// update and its audit entry, the chunk and the task make 98 items, under
// DynamoDB's 100 per transaction. A chunk's users are reset in two writes.
const MaxUsersPerWrite = 48

// MaxWriteItems is DynamoDB's limit of items in one transaction: a chunk
// write's users, their audit entries, refusal entries, the chunk and the
// task together stay within it.
const MaxWriteItems = 100

// MaxSelectedUsers bounds selection.userIds.
const MaxSelectedUsers = 1000

// PasswordRetention is how long a task's generated passwords can be read,
// by its creator only (PRODUCT.md "Bulk resets"); after it the task's data
// key is gone, so the sealed passwords can never be opened again.
const PasswordRetention = 24 * time.Hour

// ResultRetention is how long a task and its per-user results are kept
// before DynamoDB deletes them. The results are the per-user trail of what
// a bulk task did (actor, target, outcome, no secrets).
const ResultRetention = 90 * 24 * time.Hour

// MaxSendAttempts is how many times one user's email is tried before the
// user's outcome is failed (throttling does not count).
const MaxSendAttempts = 3

// Record is a task as stored: what the task centre shows (Task) and what
// the pipeline needs to run it.
type Record struct {
	Task rekey.Task
	// CreatorRole and CreatorSchoolID decide who else may see the task.
	CreatorRole     rekey.Role
	CreatorSchoolID string
	// Policy is the password policy of the creator's district when the
	// task started; default passwords are checked per user against it.
	Policy    rekey.PasswordPolicy
	RequestID string
	// Reason says why a task failed or who cancelled it.
	Reason string
	// StartedAt is when planning began; LastProcessedAt when a chunk last
	// completed (a finished task's finishedAt).
	StartedAt       time.Time
	LastProcessedAt time.Time
	Plan            Plan
}

// Plan is how far the planner has expanded a task's selection. Chunks and
// the cursor move together in one conditional write, so a planner retried
// midway resumes after the last page it wrote and never writes a page twice.
type Plan struct {
	// Cursor resumes the selection after the last page planned.
	Cursor string
	// Chunks is how many chunks exist; Enqueued how many of them are known
	// to be on the work queue (a retried planner re-sends the others).
	Chunks   int
	Enqueued int
	// Done is set once the whole selection is planned: Task.Total is final.
	Done bool
}

// Secrets is a task's sealed key material, kept apart from the task so
// that it can expire on its own after PasswordRetention.
type Secrets struct {
	// SealedKey is the task's data key, encrypted under the KMS key.
	SealedKey []byte
	// SealedDefaultPassword is the default password sealed with the data
	// key (default_password tasks only).
	SealedDefaultPassword []byte
	ExpiresAt             time.Time
}

// Chunk is up to ChunkSize users of one task and what was done to each.
type Chunk struct {
	TaskID  string
	Index   int
	UserIDs []string
	// Entries holds one entry per user id, in the same order, once a
	// worker has started the chunk (nil before).
	Entries []Entry
	// Version moves on with every write; each write is conditioned on the
	// version read, so two workers can never both act on one chunk.
	Version int
	// LeaseUntil keeps other workers off a chunk whose emails are being
	// sent. The lease is short (Config.Lease) and its Holder renews it
	// while it works, so a lease that ran out means a dead worker: the
	// Sweeper finds such chunks and puts them back on the work queue.
	LeaseUntil time.Time
	// Holder identifies the worker run that holds the lease ("" when
	// none); only that run may renew it.
	Holder string
	Done   bool
}

// Entry is the (task, user) record: the user's result so far and where
// their email stands.
type Entry struct {
	// Result.Outcome is empty while the user is still to be done.
	Result rekey.TaskResult
	// Prepared: the user's reset and a token are written and the email
	// may have been handed to SES, but is not recorded as sent.
	Prepared bool
	// MessageID is the SES message id of the email sent.
	MessageID string
	// SealedPassword is the generated password sealed with the task's key.
	SealedPassword []byte
	// Held: the outcome is recorded but not yet added to the task's
	// counters; the chunk's completion adds it. A password delivery holds
	// its last users' counts until their notices are queued, so that the
	// task does not show completed before it has counted its notices.
	Held bool
}

// Final reports whether nothing more will be done for the entry's user.
func (e Entry) Final() bool { return e.Result.Outcome != "" }

// Counts are what a chunk adds to its task's counters when it completes.
type Counts struct {
	Processed, Succeeded, Emailed, NoEmail, Failed, Skipped int
	// Notified counts password-changed notices queued.
	Notified int
}

// countsOf totals the outcomes of the settled entries: what a chunk in
// that state has added to its task's counters.
func countsOf(entries []Entry) Counts {
	var c Counts
	for _, e := range entries {
		if !e.Final() || e.Held {
			continue
		}
		c.Processed++
		if e.Result.Notified {
			c.Notified++
		}
		switch e.Result.Outcome {
		case rekey.OutcomeEmailed:
			c.Succeeded++
			c.Emailed++
		case rekey.OutcomePasswordSet:
			c.Succeeded++
		case rekey.OutcomeNoEmail:
			c.Skipped++
			c.NoEmail++
		case rekey.OutcomeFailed:
			c.Failed++
		default:
			c.Skipped++
		}
	}
	return c
}

// minus is c less d, field by field.
func (c Counts) minus(d Counts) Counts {
	return Counts{
		Processed: c.Processed - d.Processed, Succeeded: c.Succeeded - d.Succeeded, Emailed: c.Emailed - d.Emailed,
		NoEmail: c.NoEmail - d.NoEmail, Failed: c.Failed - d.Failed, Skipped: c.Skipped - d.Skipped,
		Notified: c.Notified - d.Notified,
	}
}

// UserWrite is one user's change in a chunk write: After is stored only if
// the user is still at Before's version.
type UserWrite struct {
	Before, After rekey.User
	// Audit, when set, is the entry about this change in the user's
	// activity; it is written with the change or not at all.
	Audit *rekey.AuditEntry
}

// ChunkWrite is one atomic step of a worker: the chunk's new state (written
// only if its stored version is still ExpectVersion), the users it changes,
// and what the step settled, added to the task's counters: each user is
// counted by the write that records their outcome, so the task's counters
// move as the chunk does and always equal what its chunks hold.
type ChunkWrite struct {
	Chunk         Chunk
	ExpectVersion int
	Users         []UserWrite
	// Refusals are the audit entries of users this write settles without
	// changing them because the task's creator may not reset them
	// (SECURITY.md 25): each goes into the refused user's activity,
	// written with the chunk or not at all.
	Refusals []rekey.AuditEntry
	// Add, when not nil, is added to the task's counters (and the task's
	// last progress set to At); the write that completes a chunk always
	// has one.
	Add *Counts
	At  time.Time
}

// ChunkConflictError is a chunk write that was not applied because a
// condition failed: Users lists the users that changed since they were
// read, ChunkChanged says the chunk itself did (another worker has it).
type ChunkConflictError struct {
	Users        []string
	ChunkChanged bool
}

func (e *ChunkConflictError) Error() string {
	if e.ChunkChanged {
		return "bulk: chunk changed by another worker"
	}
	return fmt.Sprintf("bulk: %d users changed while being reset", len(e.Users))
}

// ChunkWork is everything a worker reads for one chunk, in one round trip.
type ChunkWork struct {
	Chunk   Chunk
	Task    Record
	Secrets Secrets // zero when the task has none (email link) or they expired
	// Initiator is the task's creator as they are now (zero if deleted).
	Initiator rekey.User
	// Users are the chunk's users that exist, by id.
	Users map[string]rekey.User
}

// TaskFilter picks the tasks a listing returns: every task (AllDistricts)
// or those of DistrictID; and, when CreatedBy or CreatorSchoolID is set,
// only tasks created by CreatedBy or by someone of school CreatorSchoolID.
type TaskFilter struct {
	AllDistricts    bool
	DistrictID      string
	CreatedBy       string
	CreatorSchoolID string
	// ScheduleID, when set, keeps only the tasks that schedule started.
	ScheduleID string
	Limit      int
	Cursor     string
}

// Message is one message on the plan or work queue, as JSON:
//
//	{"kind":"plan","taskId":"…","initiatorId":"…"}
//	{"kind":"chunk","taskId":"…","initiatorId":"…","chunk":12,"userIds":["…",…]}
//
// A chunk message carries its users' ids only so that the worker can read
// the chunk and its users in one call; the chunk item is what counts.
type Message struct {
	Kind        string   `json:"kind"`
	TaskID      string   `json:"taskId"`
	InitiatorID string   `json:"initiatorId"`
	Chunk       int      `json:"chunk,omitempty"`
	UserIDs     []string `json:"userIds,omitempty"`
}

// Message kinds.
const (
	KindPlan  = "plan"
	KindChunk = "chunk"
)

// validate reports whether m is a message of kind.
func (m Message) validate(kind string) error {
	if m.Kind != kind || !rekey.ValidID(m.TaskID) || !rekey.ValidID(m.InitiatorID) || m.Chunk < 0 {
		return fmt.Errorf("bulk: not a %s message: %+v", kind, m)
	}
	return nil
}

// taskResetID is the reset id a task's email links carry, so that a worker
// can tell its own pending reset from a newer one.
func taskResetID(taskID string) string { return "task-" + taskID }
