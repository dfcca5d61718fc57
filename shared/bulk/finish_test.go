package bulk

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// tellAfterChunk is the worker's call after completing a chunk of rec's
// task, as loaded before the other chunks completed (so the task is read).
func tellAfterChunk(ctx context.Context, w *Worker, rec rekey.TaskRecord, creator rekey.User) error {
	stale := rec
	stale.Task.Processed, stale.Task.Succeeded, stale.Task.Failed = 0, 0, 0
	return w.tellIfFinished(ctx, &chunkRun{w: w, initiator: creator}, stale)
}

// TestTellFinished: the creator of a finished task is emailed once, with
// its name and counts, unless they most likely watched a short task they
// started by hand finish; a scheduled task always emails; a cancelled or
// running task, or a creator without email, emails nothing; a failed
// queuing gives the claim back so that a retry emails.
func TestTellFinished(t *testing.T) {
	created := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	creator := rekey.User{ID: "da1", DistrictID: "d1", Role: rekey.RoleDistrictAdmin, Email: "dana@example.org", Status: rekey.StatusActive}
	for _, test := range []struct {
		name      string
		took      time.Duration
		schedule  string
		status    rekey.TaskStatus // as stored
		failed    int
		processed int
		noEmail   bool
		wantSent  bool
		wantState rekey.TaskStatus
	}{
		{name: "short task started by hand", took: 30 * time.Second, status: rekey.TaskRunning, processed: 3},
		{name: "task started by hand that took a minute", took: time.Minute, status: rekey.TaskRunning, processed: 3, wantSent: true, wantState: rekey.TaskCompleted},
		{name: "short scheduled task", took: 5 * time.Second, schedule: "sched1", status: rekey.TaskRunning, processed: 3, wantSent: true, wantState: rekey.TaskCompleted},
		{name: "with errors", took: time.Hour, status: rekey.TaskRunning, processed: 3, failed: 1, wantSent: true, wantState: rekey.TaskCompletedWithErrors},
		{name: "still running", took: time.Hour, status: rekey.TaskRunning, processed: 2},
		{name: "cancelled", took: time.Hour, status: rekey.TaskCancelled, processed: 3},
		{name: "creator without email", took: time.Hour, schedule: "sched1", status: rekey.TaskRunning, processed: 3, noEmail: true},
	} {
		t.Run(test.name, func(t *testing.T) {
			ctx := context.Background()
			now := created.Add(test.took)
			store := newTestStore(func() time.Time { return now })
			rec := rekey.TaskRecord{
				Task: rekey.Task{ID: rekey.NewID(), Kind: rekey.TaskKindBulkReset, Name: "Email reset links · all schools · students", Status: test.status,
					DistrictID: "d1", Delivery: rekey.Delivery{Mode: rekey.DeliverEmailLink}, ScheduleID: test.schedule,
					Total: 3, Processed: test.processed, Succeeded: test.processed - test.failed, Failed: test.failed, CreatedBy: creator.ID, CreatedAt: created},
				Plan: rekey.TaskPlan{Done: true, Chunks: 1}, StartedAt: created, LastProcessedAt: now, RequestID: "req",
			}
			if _, _, err := store.CreateTask(ctx, rec, nil, rekey.Idempotency{}, rekey.AuditEntry{ID: rekey.NewID(), At: created}); err != nil {
				t.Fatal(err)
			}
			who := creator
			if test.noEmail {
				who.Email = ""
			}
			queue := &jobRecorder{}
			w := &Worker{store: store, notices: queue, log: slog.New(slog.DiscardHandler), now: func() time.Time { return now }}
			for range 2 { // the last chunk's completion seen twice
				if err := tellAfterChunk(ctx, w, rec, who); err != nil {
					t.Fatalf("tellIfFinished() = %v", err)
				}
			}
			job, ok := queue.only(t, test.wantSent)
			if !ok {
				return
			}
			want := rekey.TaskSummary{Name: rec.Task.Name, Status: test.wantState, Delivery: rekey.DeliverEmailLink, Total: 3, Succeeded: 3 - test.failed, Failed: test.failed}
			if job.Kind != rekey.JobTaskFinished || job.UserID != creator.ID || job.TaskID != rec.Task.ID || job.Key() != "task_finished#"+rec.Task.ID ||
				job.Summary == nil || *job.Summary != want || job.Validate() != nil {
				t.Errorf("queued %+v (summary %+v), want the task_finished job of %s to %s with %+v", job, job.Summary, rec.Task.ID, creator.ID, want)
			}
		})
	}
}

// TestTellFinishedRetriesAFailedQueuing: a finish email that could not be
// queued leaves no claim behind, so the retried message queues it.
func TestTellFinishedRetriesAFailedQueuing(t *testing.T) {
	ctx := context.Background()
	created := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	now := created.Add(time.Hour)
	store := newTestStore(func() time.Time { return now })
	rec := rekey.TaskRecord{
		Task: rekey.Task{ID: rekey.NewID(), Kind: rekey.TaskKindBulkReset, Name: "n", Status: rekey.TaskRunning, DistrictID: "d1",
			Delivery: rekey.Delivery{Mode: rekey.DeliverEmailLink}, Total: 1, Processed: 1, Succeeded: 1, CreatedBy: "da1", CreatedAt: created},
		Plan: rekey.TaskPlan{Done: true, Chunks: 1}, LastProcessedAt: now,
	}
	if _, _, err := store.CreateTask(ctx, rec, nil, rekey.Idempotency{}, rekey.AuditEntry{ID: rekey.NewID(), At: created}); err != nil {
		t.Fatal(err)
	}
	creator := rekey.User{ID: "da1", Email: "dana@example.org"}
	queue := &jobRecorder{fail: 1}
	w := &Worker{store: store, notices: queue, log: slog.New(slog.DiscardHandler), now: func() time.Time { return now }}
	if err := tellAfterChunk(ctx, w, rec, creator); err == nil {
		t.Fatal("tellIfFinished() with the mail queue down = nil, want an error (the message is retried)")
	}
	for range 2 {
		if err := tellAfterChunk(ctx, w, rec, creator); err != nil {
			t.Fatalf("tellIfFinished() = %v", err)
		}
	}
	if len(queue.messages) != 1 {
		t.Errorf("queued %d jobs after the retry, want 1", len(queue.messages))
	}
}
