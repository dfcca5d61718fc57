package rekey

// A bulk task as the bulk pipeline (shared/bulk) stores it: the task's
// record, its sealed secrets, its chunks of users and what one worker step
// writes. They live in the domain so that the stores (shared/dynamo,
// shared/memstore) need no service package to store them.

import (
	"fmt"
	"time"
)

// Audit actions of bulk tasks. A task's start and cancellation are audited
// under the task's id (and the actor); what it did to each user is in its
// results.
const (
	ActionBulkStart  = "bulk_reset.start"
	ActionBulkCancel = "bulk_reset.cancel"
	// ActionBulkApprove and ActionBulkReject record the second person's
	// decision on a task that awaited approval.
	ActionBulkApprove = "bulk_reset.approve"
	ActionBulkReject  = "bulk_reset.reject"
	// ActionBulkRestore: a cancelled or given-up task gave a user it had prepared
	// but not reached their password back.
	ActionBulkRestore = "bulk_reset.restore"
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

// PasswordRetention is how long a task's generated passwords can be read,
// by its creator only (PRODUCT.md "Bulk resets"); after it the task's data
// key is gone, so the sealed passwords can never be opened again.
const PasswordRetention = 24 * time.Hour

// ResultRetention is how long a task and its per-user results are kept
// before DynamoDB deletes them. The results are the per-user trail of what
// a bulk task did (actor, target, outcome, no secrets).
const ResultRetention = 90 * 24 * time.Hour

// TaskRecord is a task as stored: what the task centre shows (Task) and what
// the pipeline needs to run it.
type TaskRecord struct {
	Task Task
	// CreatorRole and CreatorSchoolID decide who else may see the task.
	CreatorRole     Role
	CreatorSchoolID string
	// Policy is the password policy of the creator's district when the
	// task started; default passwords are checked per user against it.
	Policy    PasswordPolicy
	RequestID string
	// Reason says why a task failed or who cancelled it.
	Reason string
	// StartedAt is when planning began; LastProcessedAt when a chunk last
	// completed (a finished task's finishedAt).
	StartedAt       time.Time
	LastProcessedAt time.Time
	Plan            TaskPlan

	// FinishNoticeAt is when the email telling the creator that the task
	// finished was claimed (zero: not yet): the claim is a conditional
	// write, so that one email goes out however often the last chunk's
	// completion is seen.
	FinishNoticeAt time.Time

	// KidFriendlyMaxGrade is the creator's district's kid-friendly grade
	// limit when the task started (its settings), so that generated
	// passwords follow the settings the task was started under. Nil for a
	// task recorded before it was captured; see KidFriendlyGrade.
	KidFriendlyMaxGrade *int

	// Funnel is the task's funnel as last worked out, at FunnelAt (nil:
	// never). Working it out reads every chunk and every reached user, so
	// a read of one task reuses it while it is fresh (bulk.Service.Get);
	// it is kept apart from the counters the workers write.
	Funnel   *Funnel
	FunnelAt time.Time
}

// KidFriendlyGrade is the grade limit the task's generated passwords use:
// the one captured at its start, or the default when none was.
func (r TaskRecord) KidFriendlyGrade() int {
	if r.KidFriendlyMaxGrade == nil {
		return DefaultKidFriendlyMaxGrade
	}
	return *r.KidFriendlyMaxGrade
}

// TaskPlan is how far the planner has expanded a task's selection. Chunks and
// the cursor move together in one conditional write, so a planner retried
// midway resumes after the last page it wrote and never writes a page twice.
type TaskPlan struct {
	// Cursor resumes the selection after the last page planned.
	Cursor string
	// Chunks is how many chunks exist; Enqueued how many of them are known
	// to be on the work queue (a retried planner re-sends the others).
	Chunks   int
	Enqueued int
	// Done is set once the whole selection is planned: Task.Total is final.
	Done bool
}

// TaskSecrets is a task's sealed key material, kept apart from the task so
// that it can expire on its own after PasswordRetention.
type TaskSecrets struct {
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
	Entries []ChunkEntry
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
	// Retakes counts the times a worker took the chunk over from a holder
	// whose lease had run out (a worker that died or stalled on it): a
	// chunk that kills its worker every time is given up after
	// bulk.MaxChunkTries instead of being put back forever.
	Retakes int
	Done    bool
}

// ChunkEntry is the (task, user) record: the user's result so far and where
// their email stands.
type ChunkEntry struct {
	// Result.Outcome is empty while the user is still to be done.
	Result TaskResult
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
	// MailState is what SES last reported about the email (delivered,
	// bounced, complained; "" before any event), by rekey.NextMailState.
	MailState string
	// Prior is how the user could sign in before this task voided their
	// password (email links): a cancelled task gives it back to the users
	// it prepared but did not reach. Nil until prepared.
	Prior *PriorAccess
}

// PriorAccess is how a user signed in before a bulk link reset voided
// their password: enough to restore it (the hash itself stays on the
// user, as VoidedPasswordHash), never the hash.
type PriorAccess struct {
	Status             Status
	MustChangePassword bool
	HadPassword        bool
}

// Final reports whether nothing more will be done for the entry's user.
func (e ChunkEntry) Final() bool { return e.Result.Outcome != "" }

// Snapshot copies what the results file shows of u.
func (e *ChunkEntry) Snapshot(u User) {
	e.Result.Username, e.Result.FirstName, e.Result.LastName = u.Username, u.FirstName, u.LastName
	e.Result.ExternalID, e.Result.SchoolID, e.Result.Grade, e.Result.Email = u.ExternalID, u.SchoolID, u.Grade, u.Email
}

// Finish records the entry's outcome.
func (e *ChunkEntry) Finish(outcome Outcome, why string) {
	e.Result.Outcome, e.Result.Error = outcome, why
	e.Prepared = false
}

// TaskCounts are what a chunk adds to its task's counters when it completes.
type TaskCounts struct {
	Processed, Succeeded, Emailed, NoEmail, Failed, Skipped int
	// Notified counts password-changed notices queued.
	Notified int
}

// CountEntries totals the outcomes of the settled entries: what a chunk in
// that state has added to its task's counters.
func CountEntries(entries []ChunkEntry) TaskCounts {
	var c TaskCounts
	for _, e := range entries {
		if !e.Final() || e.Held {
			continue
		}
		c.Processed++
		if e.Result.Notified {
			c.Notified++
		}
		switch e.Result.Outcome {
		case OutcomeEmailed:
			c.Succeeded++
			c.Emailed++
		case OutcomePasswordSet:
			c.Succeeded++
		case OutcomeNoEmail:
			// Its own counter only: counted as skipped too, a task
			// read total 100, emailed 82, noEmail 14, skipped 18.
			c.NoEmail++
		case OutcomeFailed:
			c.Failed++
		default:
			c.Skipped++
		}
	}
	return c
}

// Add adds c to t's counters: what a chunk write settled.
func (t *Task) Add(c TaskCounts) {
	t.Processed += c.Processed
	t.Succeeded += c.Succeeded
	t.Emailed += c.Emailed
	t.NoEmail += c.NoEmail
	t.Notified += c.Notified
	t.Failed += c.Failed
	t.Skipped += c.Skipped
}

// Minus is c less d, field by field.
func (c TaskCounts) Minus(d TaskCounts) TaskCounts {
	return TaskCounts{
		Processed: c.Processed - d.Processed, Succeeded: c.Succeeded - d.Succeeded, Emailed: c.Emailed - d.Emailed,
		NoEmail: c.NoEmail - d.NoEmail, Failed: c.Failed - d.Failed, Skipped: c.Skipped - d.Skipped,
		Notified: c.Notified - d.Notified,
	}
}

// UserWrite is one user's change in a chunk write: After is stored only if
// the user is still at Before's version.
type UserWrite struct {
	Before, After User
	// Audit, when set, is the entry about this change in the user's
	// activity; it is written with the change or not at all.
	Audit *AuditEntry
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
	Refusals []AuditEntry
	// Add, when not nil, is added to the task's counters (and the task's
	// last progress set to At); the write that completes a chunk always
	// has one.
	Add *TaskCounts
	At  time.Time
	// RequireLive makes the write depend on the task being still queued
	// or running: a write that changes passwords (or voids them) is never
	// applied after the task was cancelled. A failed check is a
	// *ChunkConflictError with TaskEnded.
	RequireLive bool
	// Sent are the emails this write records as sent for the first time:
	// the store keeps a small lookup per message (written in the same
	// transaction, so never without the chunk) through which SES's later
	// events find their result without writing the chunk, which the
	// worker rewrites whole.
	Sent []SentMessage
	// FinishProbe, when not nil, is the task's Total as the worker read it
	// (totals only grow), and makes a write with Add depend on the task not
	// being finished by it: the task's plan still being made, or its
	// processed counter, with Add's, staying below *FinishProbe. A failed
	// probe is a *ChunkConflictError with MayFinish, and nothing is written.
	// It lets a chunk's completing write tell its worker that the task
	// goes on, so that only the write that may have finished it is followed
	// by a read of the task (for the creator's finish email). It cannot be
	// combined with RequireLive: a failure would not say which check failed.
	FinishProbe *int
}

// SentMessage is where an email SES accepted belongs: the task, chunk and
// user its events are recorded for.
type SentMessage struct {
	MessageID string
	TaskID    string
	Index     int // the chunk's
	UserID    string
}

// ChunkConflictError is a chunk write that was not applied because a
// condition failed: Users lists the users that changed since they were
// read, ChunkChanged says the chunk itself did (another worker has it).
type ChunkConflictError struct {
	Users        []string
	ChunkChanged bool
	// TaskEnded: the write required a live task (RequireLive) and the
	// task was cancelled or failed.
	TaskEnded bool
	// MayFinish: the write's FinishProbe failed: applied, the write would
	// (or, the total having grown since it was read, might) finish the task.
	MayFinish bool
}

func (e *ChunkConflictError) Error() string {
	if e.TaskEnded {
		return "bulk: the task has ended"
	}
	if e.ChunkChanged {
		return "bulk: chunk changed by another worker"
	}
	if e.MayFinish && len(e.Users) == 0 {
		return "bulk: the write may finish the task"
	}
	return fmt.Sprintf("bulk: %d users changed while being reset", len(e.Users))
}

// ChunkWork is everything a worker reads for one chunk, in one round trip.
type ChunkWork struct {
	Chunk   Chunk
	Task    TaskRecord
	Secrets TaskSecrets // zero when the task has none (email link) or they expired
	// Initiator is the task's creator as they are now (zero if deleted).
	Initiator User
	// Users are the chunk's users that exist, by id.
	Users map[string]User
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

// Idempotency is the Idempotency-Key a task claims: Key is the actor's id
// and a hash of the header; RequestHash is a keyed hash of the request
// that came with it, so that the key cannot start one task and then be
// answered for another request (SECURITY.md 19).
type Idempotency struct {
	Key         string
	RequestHash string
}

// IdempotencyKeep is how long an Idempotency-Key maps to its task; the
// store lets the record expire after it.
const IdempotencyKeep = 24 * time.Hour
