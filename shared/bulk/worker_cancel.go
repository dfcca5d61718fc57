package bulk

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
)

// How a cancel stops a running task (API.md "Tasks as campaigns"):
//
//   - Every worker write that voids or sets passwords is conditioned on the
//     task still running (rekey.ChunkWrite.RequireLive), in the same
//     transaction: after the cancel is written no password changes.
//   - A sending worker renews its chunk lease before its window of sends
//     closes (renewMargin before; its chunk writes renew it too),
//     and the renewal checks the task in the same call. It hands an email
//     to SES only within CancelWait of the start of the last renewal (or
//     write) that found the task running, checked right before each send.
//   - The Service answers a cancel of a running task CancelWait after it
//     was written. A renewal that found the task running was serialized
//     before the cancel, so it started before it: by the time the cancel
//     answers, every worker's window has closed, and only the sends already
//     handed to SES (at most one per worker: it sends one at a time) can
//     still leave.
//   - The users a worker prepared (password voided, link made) but did not
//     email get their password back: stopCancelled restores what
//     rekey.PriorAccess recorded and ends them skipped, in one write with
//     the chunk, as it does after a crash and a redelivery.

// errTaskEnded: the task was cancelled (or failed) under this worker.
var errTaskEnded = errors.New("bulk: the task has ended")

// cancelledReason is the result of a user the task did not reach.
const cancelledReason = "the task was cancelled before this user was reached; their password was not changed"

// restoredReason is the result of a user the task had prepared but did not
// email when it was cancelled.
const restoredReason = "the task was cancelled before this user's email was recorded as sent; their password was restored and any link sent no longer works"

// confirmLive records that a call started at started found the task
// running: sends may start until CancelWait after it.
func (r *chunkRun) confirmLive(started time.Time) {
	until := started.Add(r.w.cfg.CancelWait).UnixNano()
	for {
		old := r.liveUntil.Load()
		if old >= until || r.liveUntil.CompareAndSwap(old, until) {
			return
		}
	}
}

// live reports whether this run may still hand an email to SES.
func (r *chunkRun) live() bool {
	return !r.ended.Load() && time.Now().UnixNano() < r.liveUntil.Load()
}

// awaitLive reports whether this run may hand an email to SES now,
// waiting up to CancelWait for a renewal in flight to confirm the task
// still runs (a slow store call must not drop the round's sends).
func (r *chunkRun) awaitLive(ctx context.Context) bool {
	deadline := time.Now().Add(r.w.cfg.CancelWait)
	for !r.live() {
		if r.ended.Load() || ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// stopCancelled ends the chunk of a cancelled (or failed) task: users not
// reached end skipped; users prepared but not recorded as emailed get
// their password back (restoreAccess) and end skipped; then the chunk
// completes.
func (r *chunkRun) stopCancelled(ctx context.Context) error {
	return r.end(ctx, cancelEnding)
}

// ending says how end settles the users a chunk did not reach.
type ending struct {
	outcome rekey.Outcome
	// notReached: users never prepared; restored: prepared users given
	// their password back; replaced: prepared users whose link a newer
	// reset or password change replaced; changing: prepared users whose
	// record kept changing, left as they are.
	notReached, restored, replaced, changing string
	// audit is the detail of a restored user's audit entry.
	audit string
}

// cancelEnding is how a cancelled (or failed) task ends its chunks.
var cancelEnding = ending{
	outcome: rekey.OutcomeSkipped, notReached: cancelledReason, restored: restoredReason,
	replaced: "the task was cancelled; a newer reset or password change had replaced this task's link",
	changing: "the task was cancelled; the user's record kept changing, so their password was not restored",
	audit:    "cancelled before the link was sent; the password was restored",
}

// end completes the chunk, settling the users it did not reach as how
// says: users prepared but not recorded as emailed get their password back
// (restoreAccess). Users whose record changed since are read again.
func (r *chunkRun) end(ctx context.Context, how ending) error {
	r.ended.Store(true)
	r.stopping = true
	r.stopRenewing()
	// What the run holds in memory beyond its last write is either
	// recorded sends (kept) or unsaved password settings of a refused
	// write (dropped: they never happened).
	for i := range r.chunk.Entries {
		e := &r.chunk.Entries[i]
		written := i < len(r.written) && r.written[i].Final()
		if e.Result.Outcome == rekey.OutcomePasswordSet && !written {
			e.Result.Outcome, e.Result.Error, e.Result.ReachedAt, e.SealedPassword = "", "", time.Time{}, nil
		}
	}
	resetID := taskResetID(r.task.Task.ID)
	for round := 1; ; round++ {
		saved := cloneEntries(r.chunk.Entries)
		now := r.w.now()
		var writes []rekey.UserWrite
		for i := range r.chunk.Entries {
			e := &r.chunk.Entries[i]
			if e.Final() {
				continue
			}
			if !e.Prepared {
				e.Finish(how.outcome, how.notReached)
				continue
			}
			if len(writes) == rekey.MaxUsersPerWrite {
				continue // the next write
			}
			u, ok := r.users[e.Result.UserID]
			after, restorable := restoreAccess(u, e.Prior, resetID, now)
			if !ok || !restorable {
				e.Finish(how.outcome, how.replaced)
				continue
			}
			e.Finish(how.outcome, how.restored)
			writes = append(writes, rekey.UserWrite{Before: u, After: after,
				Audit: r.auditEntry(u, after, rekey.ActionBulkRestore, now, how.audit)})
		}
		last := len(r.pending()) == 0
		if last {
			r.chunk.LeaseUntil, r.chunk.Holder = time.Time{}, ""
		}
		err := r.save(ctx, writes, last)
		var conflict *rekey.ChunkConflictError
		if errors.As(err, &conflict) && len(conflict.Users) > 0 {
			r.chunk.Entries = saved
			if err := r.reread(ctx, conflict.Users); err != nil {
				return err
			}
			if round >= maxUserRounds {
				for i := range r.chunk.Entries {
					if e := &r.chunk.Entries[i]; !e.Final() && slices.Contains(conflict.Users, e.Result.UserID) {
						e.Finish(how.outcome, how.changing)
					}
				}
			}
			continue
		}
		if err != nil {
			r.chunk.Entries = saved
			return fmt.Errorf("end the chunk: %w", err)
		}
		if last {
			r.leased = false
			return nil
		}
	}
}

// restoreAccess is u with the sign-in it had before this task's link reset
// resetID (prior): the voided password hash back in place, the status and
// must-change flag as they were, the task's link void. It reports false
// when u no longer has the task's pending reset (a newer reset or a
// password change replaced it: nothing to give back).
func restoreAccess(u rekey.User, prior *rekey.PriorAccess, resetID string, now time.Time) (rekey.User, bool) {
	pending, ok := resets.PendingReset(u)
	if !ok || pending.ID != resetID || prior == nil {
		return u, false
	}
	after := resets.WithoutReset(u)
	if prior.HadPassword {
		after.PasswordHash, after.VoidedPasswordHash = u.VoidedPasswordHash, ""
	}
	after.Status, after.MustChangePassword = prior.Status, prior.MustChangePassword
	after.Version, after.UpdatedAt = u.Version+1, now
	return after, true
}
