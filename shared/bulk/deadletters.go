package bulk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/queue/batch"
	"github.com/rekey/rekey/shared/rekey"
)

// How a chunk the pipeline cannot finish ends (issue 10, item 4):
//
//   - A work message that failed MaxChunkTries receives lands in its
//     queue's dead-letter queue (BulkWorkDLQ, BulkPasswordDLQ). DeadLetters,
//     the consumer of both, gives its chunk up: every user the chunk did not
//     settle ends failed with deadLetterReason, prepared users get their
//     password back first (as a cancel does), and the chunk completes, so
//     the task's counters equal its results and the task finishes. The
//     admin's retry is the retry_failed follow-up, which takes them.
//   - A chunk that kills its worker (a poison chunk) never fails a receive:
//     its lease runs out and the Sweeper sends it again. The worker counts
//     each takeover from a dead holder (rekey.Chunk.Retakes) and, at the
//     MaxChunkTries-th, gives the chunk up the same way (retakenReason).
//   - Giving up is one conditional chunk write, like a worker's: it
//     happens only while no live worker holds the chunk's lease, and a
//     worker that takes the chunk meanwhile (a new version) makes it stop,
//     so a user never gets two outcomes. A chunk already done is left
//     alone: a message seen twice, or redriven by an operator after its
//     chunk was given up, is dropped.

// MaxChunkTries is how many times one chunk is tried before it is given
// up: the work queues' maxReceiveCount (template.yaml), and the worker
// takeovers of a chunk whose holder died.
const MaxChunkTries = 5

// deadLetterReason is the result of a user whose chunk's work message
// ended in a dead-letter queue.
var deadLetterReason = fmt.Sprintf("could not be processed after %d tries; the message is in the dead-letter queue. Use Retry failed to try again", MaxChunkTries)

// retakenReason is the result of a user whose chunk stopped its worker
// MaxChunkTries times.
var retakenReason = fmt.Sprintf("could not be processed after %d tries; the worker stopped each time. Use Retry failed to try again", MaxChunkTries)

// givenUp is how a given-up chunk ends its users: failed, with why.
func givenUp(why string) ending {
	return ending{
		outcome: rekey.OutcomeFailed, notReached: why + "; their password was not changed",
		restored: why + "; their password was restored and any link sent no longer works",
		replaced: why + "; a newer reset or password change had replaced this task's link",
		changing: why + "; the user's record kept changing, so their password was not restored",
		audit:    "given up before the link was sent; the password was restored",
	}
}

// DeadLetterDeps are the DeadLetters consumer's collaborators.
type DeadLetterDeps struct {
	Store chunkStore
	// Logger may be nil: nothing is logged.
	Logger *slog.Logger
	// Now may be nil: time.Now.
	Now func() time.Time
}

// DeadLetters gives up the chunks whose work messages ended in a
// dead-letter queue: the consumer of BulkWorkDLQ and BulkPasswordDLQ.
type DeadLetters struct {
	w *Worker
}

// NewDeadLetters returns a DeadLetters consumer. It sends nothing: it
// needs only the store.
func NewDeadLetters(cfg Config, deps DeadLetterDeps) (*DeadLetters, error) {
	if deps.Store == nil {
		return nil, errors.New("bulk: the dead-letter consumer needs a Store")
	}
	w := &Worker{cfg: cfg.withDefaults(), store: deps.Store, log: deps.Logger, now: deps.Now}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.now == nil {
		w.now = time.Now
	}
	return &DeadLetters{w: w}, nil
}

// Handle gives up the chunk of each dead-lettered work message. A
// malformed message is logged and dropped; a chunk a live worker holds is
// retried (the dead-letter queue's visibility timeout later), when it is
// done, given up, or held again.
func (d *DeadLetters) Handle(ctx context.Context, event events.SQSEvent) (events.SQSEventResponse, error) {
	return batch.Handle(ctx, event, batch.Options{Name: "bulk dead letters", Logger: d.w.log}, d.handleMessage), nil
}

func (d *DeadLetters) handleMessage(ctx context.Context, m events.SQSMessage) error {
	msg, err := decodeMessage(m.Body, KindChunk)
	if err != nil {
		return batch.Drop(err)
	}
	if err := d.w.GiveUp(ctx, msg, deadLetterReason); err != nil {
		return fmt.Errorf("task %s chunk %d not given up: %w", msg.TaskID, msg.Chunk, err)
	}
	return nil
}

// GiveUp ends the chunk msg names with every user it has not settled
// failed, saying why (after giving prepared users their password back),
// unless it is done already; a chunk of a cancelled task ends as a cancel
// ends it. An error means "try again later": a live worker holds the chunk
// (errChunkBusy), took it meanwhile (errChunkTaken), or the store failed.
func (w *Worker) GiveUp(ctx context.Context, msg Message, why string) error {
	work, found, err := w.loadFreeChunk(ctx, msg, "dead-lettered message")
	if !found || err != nil {
		return err
	}
	if work.Chunk.Done {
		w.log.InfoContext(ctx, "bulk: dead-lettered message of a settled chunk; dropped", "task", msg.TaskID, "chunk", msg.Chunk)
		return nil
	}
	return w.newRun(msg, work).giveUp(ctx, why)
}

// giveUp ends the run's chunk as given up (see GiveUp).
func (r *chunkRun) giveUp(ctx context.Context, why string) error {
	if r.chunk.Entries == nil {
		r.chunk.Entries = make([]rekey.ChunkEntry, len(r.chunk.UserIDs))
		for i, id := range r.chunk.UserIDs {
			r.chunk.Entries[i].Result.UserID = id
		}
	}
	for i := range r.chunk.Entries {
		if e := &r.chunk.Entries[i]; !e.Final() {
			if u, ok := r.users[e.Result.UserID]; ok && authz.Allowed(r.initiator, u, authz.ActionView) {
				e.Snapshot(u)
			}
		}
	}
	how := givenUp(why)
	if s := r.task.Task.Status; s == rekey.TaskCancelled || s == rekey.TaskFailed {
		how = cancelEnding
	}
	if err := r.end(ctx, how); err != nil {
		return fmt.Errorf("give up: %w", err)
	}
	r.w.log.ErrorContext(ctx, "bulk: gave up a chunk; its unsettled users are failed",
		"task", r.task.Task.ID, "chunk", r.chunk.Index, "reason", why)
	return nil
}
