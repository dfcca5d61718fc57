package bulk

import (
	"context"
	"time"

	"github.com/rekey/rekey/shared/bulk/envelope"
	"github.com/rekey/rekey/shared/rekey"
)

// Store is everything the bulk pipeline reads and writes; *dynamo.Store
// satisfies it. The Service, the Planner and the Worker each ask only for
// their part.
type Store interface {
	taskStore
	planStore
	chunkStore
	sweepStore
}

// userReader reads users and their places.
type userReader interface {
	GetUser(ctx context.Context, id string) (rekey.User, error)
	GetDistrict(ctx context.Context, id string) (rekey.District, error)
	GetSchool(ctx context.Context, id string) (rekey.School, error)
	ListSchools(ctx context.Context, districtID string) ([]rekey.School, error)
}

// taskWriter creates and ends tasks.
//
// CreateTask writes rec, secrets (when not nil) and audit unless
// idem.Key (already scoped to the actor; "" for none) was used before, in
// one transaction; it returns the id of the task the key belongs to and
// whether it was created now. A key used before with another
// idem.RequestHash is rekey.ErrIdempotencyKeyReused. CancelTask sets a task that
// is not finished to cancelled at audit.At, with audit, and returns it
// (rekey.ErrConflict when it is finished). FailTask ends a task that
// cannot run, saying why.
type taskWriter interface {
	CreateTask(ctx context.Context, rec rekey.TaskRecord, secrets *rekey.TaskSecrets, idem rekey.Idempotency, audit rekey.AuditEntry) (taskID string, created bool, err error)
	CancelTask(ctx context.Context, id, reason string, audit rekey.AuditEntry) (rekey.TaskRecord, error)
	FailTask(ctx context.Context, id, reason string, at time.Time) error
}

// taskReader reads tasks, their secrets and their chunks. GetTaskSecrets
// answers rekey.ErrNotFound when the task has none or they expired;
// ListChunks returns up to max chunks from index from on, in order.
type taskReader interface {
	GetTask(ctx context.Context, id string) (rekey.TaskRecord, error)
	ListTasks(ctx context.Context, f rekey.TaskFilter) ([]rekey.TaskRecord, string, error)
	GetTaskSecrets(ctx context.Context, id string) (rekey.TaskSecrets, error)
	ListChunks(ctx context.Context, taskID string, from, max int) ([]rekey.Chunk, error)
}

// rowUserReader reads the current records of a task's result rows, many
// at a time (*dynamo.Store: one BatchGetItem per 100 users); missing users
// are left out.
type rowUserReader interface {
	GetUsers(ctx context.Context, ids []string) (map[string]rekey.User, error)
}

// mailStateReader reads what SES last reported (delivered, bounced,
// complained) about sent emails, by SES message id; emails with no report
// are left out (*dynamo.Store: one BatchGetItem per 100 ids). Events are
// kept apart from the chunks, which their workers rewrite whole.
type mailStateReader interface {
	MailStates(ctx context.Context, messageIDs []string) (map[string]string, error)
}

// funnelSaver remembers a task's funnel, worked out at at (see
// Service.Get): a write of the funnel's own attributes only, which the
// workers' writes neither fail nor are failed by; rekey.ErrConflict when
// the task is gone or holds a funnel worked out later.
type funnelSaver interface {
	SaveFunnel(ctx context.Context, id string, f rekey.Funnel, at time.Time) error
}

// taskStore is the Service's store. SelectUsers is the planner's (see
// planStore): previews and approval thresholds count through it.
// DecideTask records the decision on a task awaiting approval: approved,
// it becomes queued with approvedBy (audit.ActorID); rejected, it ends
// cancelled with reason; with audit, in one write, and rekey.ErrConflict
// (nothing written) when the task is no longer awaiting approval.
type taskStore interface {
	userReader
	rowUserReader
	mailStateReader
	funnelSaver
	taskWriter
	taskReader
	SelectUsers(ctx context.Context, f rekey.UserFilter, cursor string, limit int) ([]rekey.User, string, error)
	DecideTask(ctx context.Context, id string, approve bool, reason string, audit rekey.AuditEntry) (rekey.TaskRecord, error)
}

// planStore is the Planner's store.
//
// SelectUsers returns one page of at most limit users matching f (which
// the planner has already restricted to the creator's scope) from cursor
// on, with at least their id, role, district, school and status, and the
// cursor of the next page ("" after the last). SavePlanPage writes chunks
// and moves the task's plan from from to to (to.Enqueued, at most
// from.Chunks, included), adding users to its total, in one transaction that fails with rekey.ErrConflict when the stored plan is
// no longer from (another planner got there first). MarkEnqueued records
// that the first n chunks are on the work queue. The finish notice's claim
// is for the email to the creator of a task the planner fails.
type planStore interface {
	finishNoticeStore
	GetUser(ctx context.Context, id string) (rekey.User, error)
	FailTask(ctx context.Context, id, reason string, at time.Time) error
	SelectUsers(ctx context.Context, f rekey.UserFilter, cursor string, limit int) ([]rekey.User, string, error)
	SavePlanPage(ctx context.Context, taskID string, from, to rekey.TaskPlan, chunks []rekey.Chunk, users int, at time.Time) error
	MarkEnqueued(ctx context.Context, taskID string, n int) error
}

// chunkStore is the Worker's store.
//
// GetSchool tells the worker which users' schools sign in with their own
// single sign-on (see worker_sso.go).
// LoadChunk reads a chunk with its task, the task's secrets, the creator
// and the chunk's users (userIDs, from the message, lets it do so in one
// round trip), consistently; a missing chunk or task is rekey.ErrNotFound. SaveChunk applies one
// ChunkWrite atomically; a failed condition is a *ChunkConflictError.
// GetUsers reads users by id (missing ones are left out). SetWaiting
// records why a task is paused and when it should finish.
// AcquireDailySends counts up to want sends against the daily limit of day
// and returns how many it granted. RenewChunkLease moves a chunk's lease on
// to until while holder holds it (else rekey.ErrConflict), without changing
// its version.
type chunkStore interface {
	finishNoticeStore
	GetSchool(ctx context.Context, id string) (rekey.School, error)
	LoadChunk(ctx context.Context, taskID string, index int, initiatorID string, userIDs []string) (rekey.ChunkWork, error)
	SaveChunk(ctx context.Context, w rekey.ChunkWrite) error
	RenewChunkLease(ctx context.Context, taskID string, index int, holder string, until time.Time) error
	GetUsers(ctx context.Context, ids []string) (map[string]rekey.User, error)
	SetWaiting(ctx context.Context, taskID, waiting string, estimatedFinishAt time.Time) error
	AcquireDailySends(ctx context.Context, day string, want, limit int) (int, error)
}

// finishNoticeStore is what the worker needs to tell a task's creator, once,
// that the task finished (see finish.go). GetTask reads the task as its
// last chunk left it; ClaimFinishNotice records the claim of that email
// unless it was claimed before (rekey.ErrConflict); ReleaseFinishNotice
// gives back the claim made at at, when the email could not be queued.
type finishNoticeStore interface {
	GetTask(ctx context.Context, id string) (rekey.TaskRecord, error)
	ClaimFinishNotice(ctx context.Context, id string, at time.Time) error
	ReleaseFinishNotice(ctx context.Context, id string, at time.Time) error
}

// sweepStore is the Sweeper's store.
//
// StaleChunks returns up to limit chunks, not done, whose lease ended at or
// before now and which no sweep has claimed since, reading only the chunks
// that hold a lease. ClaimStaleChunk marks such a chunk, read at now, as
// put back on the queue, so that sweeps leave it alone until recheckAt, on
// the condition that it is still as StaleChunks returned it and unclaimed
// (else rekey.ErrConflict).
type sweepStore interface {
	StaleChunks(ctx context.Context, now time.Time, limit int) ([]rekey.Chunk, error)
	ClaimStaleChunk(ctx context.Context, c rekey.Chunk, now, recheckAt time.Time) error
	GetTask(ctx context.Context, id string) (rekey.TaskRecord, error)
}

// Queue puts messages on one SQS queue; *queue.Sender satisfies it.
type Queue interface {
	Send(ctx context.Context, message any) error
	SendBatch(ctx context.Context, messages []any) error
}

// DelayedQueue is a Queue that can also hold a message back for a while
// (at most 15 minutes, SQS's limit): the worker puts the rest of a paused
// chunk back that way, and a message for a chunk another worker holds;
// *queue.Sender satisfies it.
type DelayedQueue interface {
	Queue
	SendDelayed(ctx context.Context, message any, delay time.Duration) error
}

// Keyring makes and opens a task's data key; *kmskeys.Keys satisfies it.
type Keyring interface {
	NewKey(ctx context.Context, owner string) (envelope.Key, []byte, error)
	OpenKey(ctx context.Context, owner string, sealed []byte) (envelope.Key, error)
}

// hasher hashes passwords; password.Hasher satisfies it.
type hasher interface {
	Hash(password string) (string, error)
}
