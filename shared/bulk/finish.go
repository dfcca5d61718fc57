package bulk

import (
	"context"
	"fmt"
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
// not yet claimed, unless WatchedTaskTime says they saw it finish. A
// cancelled task is not emailed: cancelling is done by a person in the
// console, who sees its end there (the creator's task list shows it too).
func finishEmailWanted(rec rekey.TaskRecord, t rekey.Task) bool {
	switch {
	case t.Status != rekey.TaskCompleted && t.Status != rekey.TaskCompletedWithErrors:
		return false
	case !rec.FinishNoticeAt.IsZero():
		return false
	case rec.Task.ScheduleID != "":
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
	t := taskView(rec, w.now())
	if !finishEmailWanted(rec, t) {
		return nil
	}
	if creator.Email == "" || w.notices == nil {
		w.log.InfoContext(ctx, "bulk: the task finished; its creator has no email address (or no mail queue is configured): no email", "task", t.ID, "creator", creator.ID)
		return nil
	}
	at := w.now()
	err := w.store.ClaimFinishNotice(ctx, t.ID, at)
	if rekey.ErrorCode(err) == rekey.ECodeConflict {
		return nil
	}
	if err != nil {
		return fmt.Errorf("claim the finish email: %w", err)
	}
	job := rekey.MailJob{Kind: rekey.JobTaskFinished, ID: t.ID, UserID: creator.ID, TaskID: t.ID, Summary: rekey.SummaryOf(t), RequestID: rec.RequestID}
	if err := w.notices.SendBatch(ctx, []any{job}); err != nil {
		if rerr := w.store.ReleaseFinishNotice(ctx, t.ID, at); rerr != nil {
			w.log.ErrorContext(ctx, "bulk: give back the finish email's claim", "task", t.ID, "error", rerr)
		}
		return fmt.Errorf("queue the finish email: %w", err)
	}
	w.log.InfoContext(ctx, "bulk: the task's creator is told it finished", "task", t.ID, "creator", creator.ID, "status", string(t.Status))
	return nil
}

// tellIfFinished reads task taskID after one of its chunks completed and
// tells its creator when that was the last (tellFinished).
func (w *Worker) tellIfFinished(ctx context.Context, taskID string, creator rekey.User) error {
	rec, err := w.store.GetTask(ctx, taskID)
	if err != nil {
		return fmt.Errorf("read the task after its chunk: %w", err)
	}
	return w.tellFinished(ctx, rec, creator)
}
