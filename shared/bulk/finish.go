package bulk

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// WatchedTaskTime is how long a task started by a person may take and
// still finish without an email to its creator.
//
// A person who starts a bulk reset in the console lands on the task's
// page, which shows its progress live: a task that is over within a minute
// most likely finished in front of them, and an email saying so would be
// noise. A longer task has most likely been left to run (a district's
// start-of-term reset takes minutes to hours at the SES rate, and one that
// waited for a second person's approval starts when that person decides),
// so its creator is told. A task a schedule started always emails: nobody
// watched it start.
const WatchedTaskTime = time.Minute

// finishEmailWanted reports whether the creator of task rec, which now
// reads as t, gets the email that it finished: once it is completed (with
// or without errors) — the end the worker's last chunk brings about — and
// not yet claimed, unless WatchedTaskTime says they saw it finish; and
// once it failed (the planner could not plan it: its creator lost the
// right to reset users, say), however quickly: a task that did nothing
// needs the creator to act, and one that waited for approval or a
// schedule fails with nobody watching. A cancelled task is not emailed:
// cancelling is done by a person in the console, who sees its end there
// (the creator's task list shows it too).
func finishEmailWanted(rec rekey.TaskRecord, t rekey.Task) bool {
	switch {
	case t.Status != rekey.TaskCompleted && t.Status != rekey.TaskCompletedWithErrors && t.Status != rekey.TaskFailed:
		return false
	case !rec.FinishNoticeAt.IsZero():
		return false
	case rec.Task.ScheduleID != "" || t.Status == rekey.TaskFailed:
		return true
	}
	return t.FinishedAt.Sub(t.CreatedAt) >= WatchedTaskTime
}

// tellFinished queues the email that tells the creator of task rec that it
// finished, when finishEmailWanted says so, exactly once: it first claims
// the email on the task item with a conditional write, so that of the
// workers that see the task finish (the last chunk's worker, a duplicate
// or redelivered message of it) only one queues it; the mail worker then
// sends it, paced and retried like the other notices, at most once per
// task (its outbox key is the task id). When the job cannot be queued the
// claim is given back and the error returned, so that the message is
// retried and, finding its chunk done, tries again. A creator without an
// email address is logged and sent nothing.
func (w *Worker) tellFinished(ctx context.Context, rec rekey.TaskRecord, creator rekey.User) error {
	return tellFinished(ctx, w.store, w.notices, w.log, w.now(), rec, creator)
}

// tellFinished is Worker.tellFinished on store and the mail queue notices
// (nil: no email), at now; the planner tells a task it failed this way.
func tellFinished(ctx context.Context, store finishNoticeStore, notices NoticeQueue, log *slog.Logger, now time.Time, rec rekey.TaskRecord, creator rekey.User) error {
	t := taskView(rec, now)
	if !finishEmailWanted(rec, t) {
		return nil
	}
	if creator.Email == "" || notices == nil {
		log.InfoContext(ctx, "bulk: the task finished; its creator has no email address (or no mail queue is configured): no email", "task", t.ID, "creator", creator.ID)
		return nil
	}
	at := now
	err := store.ClaimFinishNotice(ctx, t.ID, at)
	if rekey.ErrorCode(err) == rekey.ECodeConflict {
		return nil
	}
	if err != nil {
		return fmt.Errorf("claim the finish email: %w", err)
	}
	job := rekey.MailJob{Kind: rekey.JobTaskFinished, ID: t.ID, UserID: creator.ID, TaskID: t.ID, Summary: rekey.SummaryOf(t), RequestID: rec.RequestID}
	if err := notices.SendBatch(ctx, []any{job}); err != nil {
		if rerr := store.ReleaseFinishNotice(ctx, t.ID, at); rerr != nil {
			log.ErrorContext(ctx, "bulk: give back the finish email's claim", "task", t.ID, "error", rerr)
		}
		return fmt.Errorf("queue the finish email: %w", err)
	}
	log.InfoContext(ctx, "bulk: the task's creator is told it finished", "task", t.ID, "creator", creator.ID, "status", string(t.Status))
	return nil
}

// tellIfFinished tells the creator of the task of run r, whose chunk just
// completed, that the task finished when that was its last chunk
// (tellFinished). loaded is the task as r's chunk was loaded. When loaded
// was fully planned and its counters plus what r's chunk added reach its
// total, no other chunk wrote in between (counters never pass the total),
// so that is the task as it finished, and nothing is read. When the
// chunk's completing write's finish probe passed (r.goesOn), the task was
// not finished by it, and nothing is read either: so only the chunk whose
// completion may have finished the task reads it (one GetItem per task,
// not one per chunk).
func (w *Worker) tellIfFinished(ctx context.Context, r *chunkRun, loaded rekey.TaskRecord) error {
	rec := loaded
	rec.Task.Add(r.counted.Minus(r.loadedCounts))
	switch {
	case rec.Plan.Done && rec.Task.Processed >= rec.Task.Total:
		rec.LastProcessedAt = w.now() // the completing write's, give or take
	case r.goesOn:
		return nil
	default:
		var err error
		if rec, err = w.store.GetTask(ctx, loaded.Task.ID); err != nil {
			return fmt.Errorf("read the task after its chunk: %w", err)
		}
	}
	return w.tellFinished(ctx, rec, r.initiator)
}
