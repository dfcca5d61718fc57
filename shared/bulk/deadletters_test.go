package bulk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/rekey"
)

// newDeadLetters returns the dead-letter consumer of w's store, logging
// into log when it is not nil.
func (w *world) newDeadLetters(t *testing.T, log *bytes.Buffer) *bulk.DeadLetters {
	t.Helper()
	deps := bulk.DeadLetterDeps{Store: w.store, Now: w.clock.Now}
	if log != nil {
		deps.Logger = slog.New(slog.NewJSONHandler(log, nil))
	}
	d, err := bulk.NewDeadLetters(w.cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// deadLetter hands d one message from a dead-letter queue, as the event
// source does, and returns the ids of the messages it failed.
func deadLetter(t *testing.T, d *bulk.DeadLetters, body string) []string {
	t.Helper()
	resp, err := d.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{
		MessageId: "dlq-1", Body: body, EventSource: "aws:sqs", Attributes: map[string]string{"ApproximateReceiveCount": "1"},
	}}})
	if err != nil {
		t.Fatalf("DeadLetters.Handle: %v", err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	return failed
}

func messageBody(t *testing.T, msg bulk.Message) string {
	t.Helper()
	body, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

var dlqUsers = []string{"st1", "st2", "st3", "st4"}

// checkGivenUp checks that every user of dlqUsers ended failed with a
// reason naming the tries, can sign in with their old password, that the
// counters equal the results and the task finished, and that retry_failed
// takes them all.
func checkGivenUp(t *testing.T, w *world, taskID, wantReason string) {
	t.Helper()
	results := checkCounters(t, w, taskID)
	for _, id := range dlqUsers {
		r := results[id]
		if r.Outcome != rekey.OutcomeFailed || r.State != rekey.StateFailed || !strings.Contains(r.Error, wantReason) {
			t.Errorf("%s: result = %s/%s %q, want failed with %q", id, r.Outcome, r.State, r.Error, wantReason)
		}
		if r.Username == "" {
			t.Errorf("%s: the given-up result has no username: %+v", id, r)
		}
		if u := w.current(t, w.byID(t, id).Username); u.PasswordHash == "" || u.ResetID != "" {
			t.Errorf("%s: password hash set %v, pending reset %q; want the old password back and no reset", id, u.PasswordHash != "", u.ResetID)
		}
	}
	got := w.task(t, "dana.admin", taskID)
	if got.Status != rekey.TaskCompletedWithErrors || got.Failed != len(dlqUsers) || got.Processed != got.Total {
		t.Errorf("task = %s, %d of %d processed, %d failed; want completed_with_errors with %d failed", got.Status, got.Processed, got.Total, got.Failed, len(dlqUsers))
	}
	follow, err := w.svc.FollowUp(w.ctx, w.current(t, "dana.admin"), taskID, bulk.FollowUpRetryFailed, "", "req-retry")
	if err != nil {
		t.Fatalf("FollowUp(retry_failed): %v", err)
	}
	ids := w.plannedUsers(t, follow.Task.ID)
	if !slices.Equal(ids, dlqUsers) {
		t.Errorf("retry_failed selects %v, want %v", ids, dlqUsers)
	}
}

// TestDeadLetteredChunkFails: a chunk whose work message ended in the
// dead-letter queue — untouched, or after its worker died holding it with
// every password voided — ends with each user failed, saying so, their
// password back, the task finished with counters equal to its results,
// and retry_failed taking them. The same message seen again changes
// nothing. Without the consumer the users stayed pending and the task
// running.
func TestDeadLetteredChunkFails(t *testing.T) {
	for _, test := range []struct {
		name  string
		crash bool
	}{
		{"never taken", false},
		{"worker died after voiding the passwords", true},
	} {
		t.Run(test.name, func(t *testing.T) {
			w := newWorld(t, worldOptions{})
			task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: dlqUsers}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
			w.drain(t, w.planPoll)
			msg := w.receiveChunk(t)
			if test.crash {
				crashed, die := context.WithCancel(w.ctx)
				dying := w.newWorker(t, func(deps *bulk.WorkerDeps) { deps.Mailer = dyingMailer{die} })
				if err := dying.Process(crashed, msg); err == nil {
					t.Fatal("the dying worker settled its chunk")
				}
				if u := w.current(t, "jo.quill"); u.PasswordHash != "" {
					t.Fatal("the crash left jo.quill's password in place; the test needs it voided")
				}
				w.clock.Add(bulk.DefaultLease)
			}
			d := w.newDeadLetters(t, nil)
			if failed := deadLetter(t, d, messageBody(t, msg)); len(failed) != 0 {
				t.Fatalf("dead letter failed %v, want it handled", failed)
			}
			checkGivenUp(t, w, task.ID, "could not be processed after 5 tries; the message is in the dead-letter queue")
			if len(w.mailer.log) != 0 {
				t.Errorf("%d emails sent, want none", len(w.mailer.log))
			}

			// The same message again (a duplicate delivery, or an
			// operator's redrive through the consumer): dropped.
			before := w.task(t, "dana.admin", task.ID)
			if failed := deadLetter(t, d, messageBody(t, msg)); len(failed) != 0 {
				t.Fatalf("second delivery failed %v, want it dropped", failed)
			}
			// An operator's redrive to the work queue: dropped too.
			if err := w.worker.Process(w.ctx, msg); err != nil {
				t.Fatalf("redriven message: %v", err)
			}
			after := w.task(t, "dana.admin", task.ID)
			if after.Processed != before.Processed || after.Failed != before.Failed || after.Status != before.Status {
				t.Errorf("the message seen again changed the task: %+v → %+v", before, after)
			}
			if len(w.mailer.log) != 0 {
				t.Errorf("%d emails sent after the redrive, want none", len(w.mailer.log))
			}
			restores := 0
			for _, id := range dlqUsers {
				for _, e := range w.auditOfTask(t, id, task.ID) {
					if e.Action == rekey.ActionBulkRestore {
						restores++
					}
				}
			}
			if want := map[bool]int{false: 0, true: len(dlqUsers)}[test.crash]; restores != want {
				t.Errorf("%d restore entries in the users' activity, want %d (one each when the passwords were voided)", restores, want)
			}
		})
	}
}

// TestDeadLetterLeavesALiveWorkersChunk: a dead-lettered message whose
// chunk a live worker holds (the Sweeper's copy, say) is retried, not
// acted on: the worker finishes the chunk, every user is emailed once and
// nobody is failed; the retried message then finds the chunk done.
func TestDeadLetterLeavesALiveWorkersChunk(t *testing.T) {
	w := newWorld(t, worldOptions{config: func(c *bulk.Config) { c.Lease = 300 * time.Millisecond }})
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: dlqUsers}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.drain(t, w.planPoll)
	msg := w.receiveChunk(t)
	done, release := w.holdWhileSending(t, msg)

	d := w.newDeadLetters(t, nil)
	if failed := deadLetter(t, d, messageBody(t, msg)); !slices.Equal(failed, []string{"dlq-1"}) {
		t.Errorf("dead letter while a worker holds the chunk: failed %v, want it retried", failed)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("Process: %v", err)
	}
	if failed := deadLetter(t, d, messageBody(t, msg)); len(failed) != 0 {
		t.Errorf("dead letter after the chunk was done: failed %v, want it dropped", failed)
	}
	results := checkCounters(t, w, task.ID)
	for _, id := range dlqUsers {
		if r := results[id]; r.Outcome != rekey.OutcomeEmailed {
			t.Errorf("%s: %s %q, want emailed", id, r.Outcome, r.Error)
		}
		if n := len(w.sentTo(w.byID(t, id).Username)); n != 1 {
			t.Errorf("%s got %d emails, want 1", id, n)
		}
	}
	if got := w.task(t, "dana.admin", task.ID); got.Status != rekey.TaskCompleted || got.Failed != 0 {
		t.Errorf("task = %s with %d failed, want completed with none", got.Status, got.Failed)
	}
}

// TestMalformedDeadLetterIsDropped: a message that is no chunk message is
// logged and dropped (not retried forever), and nothing is written.
func TestMalformedDeadLetterIsDropped(t *testing.T) {
	w := newWorld(t, worldOptions{})
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: dlqUsers}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.drain(t, w.planPoll)
	var log bytes.Buffer
	d := w.newDeadLetters(t, &log)
	for _, body := range []string{`not json`, `{"kind":"plan","taskId":"` + task.ID + `"}`, `{"kind":"chunk","taskId":"../x","chunk":0}`} {
		log.Reset()
		if failed := deadLetter(t, d, body); len(failed) != 0 {
			t.Errorf("Handle(%q) failed %v, want it dropped", body, failed)
		}
		if !strings.Contains(log.String(), "dropped a message") {
			t.Errorf("Handle(%q) logged %q, want the drop logged", body, log.String())
		}
	}
	if got := w.task(t, "dana.admin", task.ID); got.Processed != 0 || got.Status != rekey.TaskRunning {
		t.Errorf("task = %s with %d processed, want running with none", got.Status, got.Processed)
	}
}

// TestPoisonChunkIsGivenUp: a chunk that kills its worker every time is
// taken over after each lease runs out, MaxChunkTries times in all; the
// next take gives it up like a dead-lettered one instead of trying again.
func TestPoisonChunkIsGivenUp(t *testing.T) {
	w := newWorld(t, worldOptions{})
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: dlqUsers}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.drain(t, w.planPoll)
	msg := w.receiveChunk(t)
	for try := 1; try <= bulk.MaxChunkTries; try++ {
		crashed, die := context.WithCancel(w.ctx)
		dying := w.newWorker(t, func(deps *bulk.WorkerDeps) { deps.Mailer = dyingMailer{die} })
		if err := dying.Process(crashed, msg); err == nil {
			t.Fatalf("try %d: the dying worker settled its chunk", try)
		}
		w.clock.Add(bulk.DefaultLease)
	}
	if got := w.task(t, "dana.admin", task.ID); got.Processed != 0 {
		t.Fatalf("after %d crashes %d users are settled, want none", bulk.MaxChunkTries, got.Processed)
	}
	if err := w.worker.Process(w.ctx, msg); err != nil {
		t.Fatalf("Process after %d crashes: %v", bulk.MaxChunkTries, err)
	}
	if len(w.mailer.log) != 0 {
		t.Errorf("%d emails sent, want none: the chunk is given up, not tried again", len(w.mailer.log))
	}
	checkGivenUp(t, w, task.ID, "could not be processed after 5 tries; the worker stopped each time")
}
