package bulk_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/mailworker"
	"github.com/rekey/rekey/shared/rekey"
)

// The students of school s1 a password delivery reaches: st1–st4 have an
// email address, st5 (no.mail) has none, st6 is disabled and skipped.
var (
	withEmail    = []string{"st1", "st2", "st3", "st4"}
	s1NoRoleSel  = rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1"}
	noticeHeader = "Your password was changed"
)

// queuedUsers lists, per user, how many notices jobs names them, and fails
// the test for a job that is not a bulk password-changed job of task.
func queuedUsers(t *testing.T, jobs []rekey.MailJob, taskID string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, j := range jobs {
		if j.Kind != rekey.JobPasswordChanged || j.ID != "bulk#"+taskID || j.UserID != "" || j.Validate() != nil {
			t.Errorf("queued job %+v, want a valid password_changed job of task %s naming users", j, taskID)
		}
		for _, id := range j.UserIDs {
			out[id]++
		}
	}
	return out
}

// sendNotices runs jobs through the mail worker, on the real outbox in
// DynamoDB and the reset service, as the mail queue's consumer would.
func (w *world) sendNotices(t *testing.T, jobs []rekey.MailJob) {
	t.Helper()
	h, err := mailworker.NewHandler(mailworker.Config{PublicBaseURL: consoleOrigin, NoticeRate: 1000}, mailworker.Deps{
		Deliveries: w.store, Resets: w.resetsService(t), Mailer: w.mailer, Now: w.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	var event events.SQSEvent
	for i, j := range jobs {
		body, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		event.Records = append(event.Records, events.SQSMessage{MessageId: "m" + string(rune('a'+i)), Body: string(body)})
	}
	resp, err := h.Handle(w.ctx, event)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("mail worker: %+v, %v; want every notice sent", resp.BatchItemFailures, err)
	}
}

// noticesTo returns the password-changed notices w's mailer sent to the
// user with id.
func (w *world) noticesTo(t *testing.T, id string) []string {
	t.Helper()
	var bodies []string
	for _, m := range w.sentTo(w.byID(t, id).Username) {
		if m.Subject == noticeHeader {
			bodies = append(bodies, m.Text+m.HTML)
		}
	}
	return bodies
}

// TestPasswordDeliveriesQueueNotices: default and generated passwords
// queue one password-changed notice per user with an email address (in
// one SQS call for the chunk) and none for the user without; the task and
// the results say who was notified; sent by the mail worker, each notice
// reaches its user once and never holds the password.
func TestPasswordDeliveriesQueueNotices(t *testing.T) {
	t.Parallel()
	for _, del := range []rekey.Delivery{
		{Mode: rekey.DeliverDefaultPassword, DefaultPassword: defaultPassword},
		{Mode: rekey.DeliverGeneratedPasswords},
	} {
		t.Run(string(del.Mode), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOptions{})
			task := w.start(t, "dana.admin", s1NoRoleSel, del)
			w.run(t)

			jobs := w.notices.taken()
			want := map[string]int{"st1": 1, "st2": 1, "st3": 1, "st4": 1}
			if diff := cmp.Diff(want, queuedUsers(t, jobs, task.ID)); diff != "" {
				t.Errorf("users queued for a notice (-want +got):\n%s", diff)
			}
			if w.notices.calls != 1 {
				t.Errorf("%d SendBatch calls for one chunk, want 1", w.notices.calls)
			}
			for _, j := range jobs {
				body, _ := json.Marshal(j)
				if strings.Contains(string(body), defaultPassword) {
					t.Errorf("queued job %s holds the password", body)
				}
			}
			got := w.task(t, "dana.admin", task.ID)
			if got.Notified != 4 || got.Succeeded != 5 {
				t.Errorf("task = %+v, want 5 passwords set and 4 notified", got)
			}
			results := w.results(t, "dana.admin", task.ID)
			for id, r := range results {
				if wantNotified := want[id] == 1; r.Notified != wantNotified {
					t.Errorf("%s: result notified = %v, want %v", id, r.Notified, wantNotified)
				}
			}

			passwords := map[string]string{}
			if del.Mode == rekey.DeliverGeneratedPasswords {
				passwords = w.csvPasswords(t, "dana.admin", task.ID)
			}
			w.sendNotices(t, jobs)
			for _, id := range append(withEmail, "st5") {
				notices := w.noticesTo(t, id)
				wantN := want[id]
				if len(notices) != wantN {
					t.Errorf("%s got %d notices, want %d", id, len(notices), wantN)
				}
				pw := defaultPassword
				if del.Mode == rekey.DeliverGeneratedPasswords {
					pw = passwords[w.byID(t, id).Username]
				}
				for _, body := range notices {
					if pw == "" || strings.Contains(body, pw) {
						t.Errorf("%s: the notice holds the password %q (or it is unknown):\n%s", id, pw, body)
					}
				}
			}
			// The notices are the only email of a password delivery.
			if n := len(w.mailer.log); n != 4 {
				t.Errorf("%d emails in all, want the 4 notices", n)
			}
		})
	}
}

// TestRedeliveredChunkSendsOneNotice: a worker that dies after queuing the
// notices but before completing the chunk queues them again on the next
// delivery, with the same task#user keys, and the mail worker's outbox
// sends each user one notice all the same; a delivery of a completed
// chunk queues nothing; a mail queue that fails leaves the chunk to be
// retried, with the passwords set once.
func TestRedeliveredChunkSendsOneNotice(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	task := w.start(t, "dana.admin", s1NoRoleSel, rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: defaultPassword})
	w.drain(t, w.planPoll)
	msg := w.receiveChunk(t)

	// The worker dies after queuing the chunk's notices, at the write that
	// completes chunk 0.
	crashing := &onSaveStore{Store: w.store, before: workerDies, match: func(cw rekey.ChunkWrite) bool { return cw.Chunk.Index == 0 && cw.Chunk.Done }}
	dying := w.newWorker(t, func(deps *bulk.WorkerDeps) { deps.Store = crashing })
	// First the mail queue fails: nothing is queued, the chunk stays open.
	w.notices.fail = 1
	if err := dying.Process(w.ctx, msg); err == nil {
		t.Fatal("Process with the mail queue failing succeeded, want an error (the message is retried)")
	}
	if n := len(w.notices.jobs); n != 0 {
		t.Fatalf("%d jobs queued by a failed call, want 0", n)
	}
	// Then the worker dies between queuing and completing.
	if err := dying.Process(w.ctx, msg); err == nil {
		t.Fatal("Process through the crash succeeded, want an error")
	}
	first := w.notices.taken()
	// The passwords are set, but the task does not show them processed
	// (nor itself completed) before the chunk has recorded its notices.
	if got := w.task(t, "dana.admin", task.ID); got.Notified != 0 || got.Processed != 0 || got.Status != rekey.TaskRunning {
		t.Errorf("task after the crash = %+v, want running with nothing counted yet", got)
	}
	// The redelivered message queues the same notices again and completes.
	if err := w.worker.Process(w.ctx, msg); err != nil {
		t.Fatalf("Process after the crash: %v", err)
	}
	second := w.notices.taken()
	keys := func(jobs []rekey.MailJob) []string {
		var out []string
		for _, j := range jobs {
			for _, one := range j.Split() {
				out = append(out, one.Key())
			}
		}
		return out
	}
	if diff := cmp.Diff(keys(first), keys(second)); diff != "" || len(first) == 0 {
		t.Errorf("outbox keys queued again differ (-first +again):\n%s", diff)
	}
	// Once complete, a duplicate delivery queues nothing.
	if err := w.worker.Process(w.ctx, msg); err != nil {
		t.Fatalf("Process of the completed chunk: %v", err)
	}
	if n := len(w.notices.taken()); n != 0 {
		t.Errorf("a completed chunk delivered again queued %d jobs, want 0", n)
	}
	got := w.task(t, "dana.admin", task.ID)
	if got.Notified != 4 || got.Processed != 6 || got.Status != rekey.TaskCompleted {
		t.Errorf("task = %+v, want completed with 6 processed and 4 notified, counted once", got)
	}
	for _, id := range withEmail {
		if after, before := w.current(t, w.byID(t, id).Username), w.byID(t, id); after.Version != before.Version+1 {
			t.Errorf("%s: version %d, want %d (password set once)", id, after.Version, before.Version+1)
		}
	}

	// Both rounds of jobs reach the mail worker: one notice per user.
	w.sendNotices(t, append(first, second...))
	for _, id := range withEmail {
		if n := len(w.noticesTo(t, id)); n != 1 {
			t.Errorf("%s got %d notices from a chunk queued twice, want 1", id, n)
		}
	}
}
