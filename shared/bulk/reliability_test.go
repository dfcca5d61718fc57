package bulk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/mail/sentmail"
	"github.com/rekey/rekey/shared/queue"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
)

// TestHundredUsersEndToEnd runs a 100-student email-link task through the
// queues with two workers at once: one email per student with an address
// (read back from moto's SES), exact counters, and a call budget.
func TestHundredUsersEndToEnd(t *testing.T) {
	t.Parallel()
	// The budget counts the calls that grow with the users. Lease renewals
	// grow with wall time instead (every CancelWait/2: half a second in the
	// other tests' worlds), which a busy machine stretches: the default
	// CancelWait keeps them out of the count.
	w := newWorld(t, worldOptions{extraStudents: map[string]int{"s2": 98}, config: func(c *bulk.Config) { c.CancelWait = bulk.DefaultCancelWait }})
	w.calls.Reset()
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s2"}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.drain(t, w.planPoll)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if n, err := w.workPoll.PollOnce(w.ctx); err != nil || n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	w.run(t)
	nonSES := w.calls.Total("SESv2")
	t.Logf("calls for 100 users: %s", w.calls)
	// 34 measured on 2026-12-02, after the chunks' finish probe (no read of
	// the task after a chunk that is not the last) and one read of each
	// place at Start took about four calls off; two calls of slack for the
	// pollers' receives and the workers' school cache.
	if nonSES > 36 {
		t.Errorf("%d non-SES calls for 100 users, want at most 36 (%s)", nonSES, w.calls)
	}
	if n := w.calls.Of("SESv2.SendEmail"); n != 100 {
		t.Errorf("%d SendEmail calls, want 100", n)
	}

	got := w.task(t, "dana.admin", task.ID)
	if got.Status != rekey.TaskCompleted || got.Total != 100 || got.Processed != 100 || got.Emailed != 100 || got.Emailed+got.NoEmail != got.Total {
		t.Errorf("task = %+v, want 100 of 100 emailed, completed", got)
	}
	sent, err := sentmail.Read(w.ctx, nil, w.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range w.users {
		if u.SchoolID != "s2" || u.Role != rekey.RoleStudent {
			continue
		}
		if mails := sentmail.To(sent, u.Email); len(mails) != 1 || mails[0].From != senderAddress || mails[0].Subject != "Choose a new password" {
			t.Errorf("%s got %d emails, want 1 reset link", u.Username, len(mails))
		}
	}
}

// TestDuplicateAndRedrivenMessages: after a task is done, its plan message
// and every chunk message arrive again (a duplicate delivery, or a redrive
// from the dead-letter queue with new message ids): no email is sent
// twice and the counters do not move.
func TestDuplicateAndRedrivenMessages(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1"}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.run(t)
	before, emails := w.task(t, "dana.admin", task.ID), w.allEmails(t)

	plan := bulk.Message{Kind: bulk.KindPlan, TaskID: task.ID, InitiatorID: "da1"}
	chunk := bulk.Message{Kind: bulk.KindChunk, TaskID: task.ID, InitiatorID: "da1"}
	withIDs := chunk
	withIDs.UserIDs = []string{"st1", "st2", "st3", "st4", "st5", "st6"}
	if err := queue.NewSender(w.sqs, w.planURL).SendBatch(w.ctx, []any{plan, plan}); err != nil {
		t.Fatal(err)
	}
	if err := w.work.SendBatch(w.ctx, []any{chunk, withIDs, chunk}); err != nil {
		t.Fatal(err)
	}
	w.run(t)
	if diff := diffCounts(emails, w.allEmails(t)); diff != "" {
		t.Errorf("redelivered messages sent email: %s", diff)
	}
	sent, err := sentmail.Read(w.ctx, nil, w.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"jo.quill", "ann.lee", "bo.chen", "cy.diaz"} {
		if n := len(sentmail.To(sent, w.users[name].Email)); n != 1 {
			t.Errorf("SES accepted %d emails for %s, want 1", n, name)
		}
	}
	if diff := cmp.Diff(before, w.task(t, "dana.admin", task.ID)); diff != "" {
		t.Errorf("task changed by redelivered messages (-before +after):\n%s", diff)
	}
}

func diffCounts(before, after map[string]int) string {
	var out []string
	for k, v := range after {
		if before[k] != v {
			out = append(out, fmt.Sprintf("%s: %d -> %d", k, before[k], v))
		}
	}
	return strings.Join(out, ", ")
}

// TestCrashBetweenSendAndCheckpoint: the worker dies after SES accepted an
// email but before its progress was recorded. Another worker takes the
// chunk over once the lease ends and sends at most one extra email to the
// unrecorded user, whose older link then no longer works (SECURITY.md 18).
func TestCrashBetweenSendAndCheckpoint(t *testing.T) {
	t.Parallel()
	// At 3 emails a second a worker has one send in flight at a time, so
	// the crash comes after exactly the third.
	w := newWorld(t, worldOptions{config: func(c *bulk.Config) { c.CheckpointEvery, c.SendRate = 2, 3 }})
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st2", "st3", "st4"}}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.drain(t, w.planPoll)
	msg := w.receiveChunk(t)

	crashed, crash := context.WithCancel(w.ctx)
	w.mailer.afterSend = func(n int) {
		if n == 3 {
			crash() // dies right after SES took the third email
		}
	}
	_ = w.worker.Process(crashed, msg)
	w.mailer.afterSend = nil
	if n := len(w.mailer.log); n != 3 {
		t.Fatalf("%d emails before the crash, want 3", n)
	}
	// Progress shows before the chunk is done: the checkpoint after the
	// second email counted two users.
	if got := w.task(t, "dana.admin", task.ID); got.Processed != 2 || got.Emailed != 2 || got.Status != rekey.TaskRunning {
		t.Errorf("task after the crash = %+v, want running with 2 processed and emailed", got)
	}
	if err := w.worker.Process(w.ctx, msg); err == nil {
		t.Fatal("a second worker took the chunk while the first one's lease was live")
	}
	w.clock.Add(16 * time.Minute)
	if err := w.worker.Process(w.ctx, msg); err != nil {
		t.Fatalf("Process after the lease ended: %v", err)
	}

	counts := map[string]int{}
	for _, id := range []string{"st1", "st2", "st3", "st4"} {
		counts[id] = len(w.sentTo(w.byID(t, id).Username))
	}
	extra := 0
	for id, n := range counts {
		switch {
		case n == 2:
			extra++
			mails := w.sentTo(w.byID(t, id).Username)
			svc := w.resetsService(t)
			if err := svc.ResetWithToken(w.ctx, tokenIn(t, mails[0].HTML), "a brand new passphrase", "req"); !errors.Is(err, resets.ErrInvalidToken) {
				t.Errorf("%s: the link sent before the crash = %v, want invalid_token", id, err)
			}
			if err := svc.ResetWithToken(w.ctx, tokenIn(t, mails[1].HTML), "a brand new passphrase", "req"); err != nil {
				t.Errorf("%s: the newest link = %v, want success", id, err)
			}
		case n != 1:
			t.Errorf("%s got %d emails, want 1 (or 2 for the one the crash left unrecorded)", id, n)
		}
	}
	if extra != 1 {
		t.Errorf("%d users got an extra email, want exactly 1 (%v)", extra, counts)
	}
	if got := w.task(t, "dana.admin", task.ID); got.Emailed != 4 || got.Status != rekey.TaskCompleted {
		t.Errorf("task = %+v, want 4 emailed, completed", got)
	}
}

// receiveChunk takes the next chunk message off the work queue.
// holdWhileSending starts a worker on msg whose first email waits for
// release, and returns once that email has started; done gives Process's
// answer. The worker holds the chunk's lease meanwhile.
func (w *world) holdWhileSending(t *testing.T, msg bulk.Message) (done <-chan error, release func()) {
	t.Helper()
	slow := &blockingMailer{next: w.mailer, started: make(chan struct{}), release: make(chan struct{})}
	worker := w.newWorker(t, func(deps *bulk.WorkerDeps) { deps.Mailer = slow })
	answer := make(chan error, 1)
	go func() { answer <- worker.Process(w.ctx, msg) }()
	<-slow.started
	return answer, func() { close(slow.release) }
}

func (w *world) receiveChunk(t *testing.T) bulk.Message {
	t.Helper()
	out, err := w.sqs.ReceiveMessage(w.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(w.workURL), MaxNumberOfMessages: 1})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive a chunk message: %v, %d messages", err, len(out.Messages))
	}
	var msg bulk.Message
	if err := json.Unmarshal([]byte(aws.ToString(out.Messages[0].Body)), &msg); err != nil {
		t.Fatal(err)
	}
	if _, err := w.sqs.DeleteMessage(w.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(w.workURL), ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestSendFailures: a send failing three times then succeeding ends
// emailed after 4 attempts (three retries) with one email; one failing 4
// times ends failed with the
// reason, without holding up the others; throttling costs no attempt.
func TestSendFailures(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	w.mailer.failures[w.users["jo.quill"].Email] = 3
	w.mailer.rejected[w.users["ann.lee"].Email] = true
	w.mailer.throttle = 3
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st2", "st3", "st4"}}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.run(t)
	results := w.results(t, "dana.admin", task.ID)
	for _, test := range []struct {
		id       string
		outcome  rekey.Outcome
		attempts int
		error    string
	}{
		{"st1", rekey.OutcomeEmailed, 4, ""},
		{"st2", rekey.OutcomeFailed, 4, "email not sent after 4 attempts: rejected: MessageRejected"},
		{"st3", rekey.OutcomeEmailed, 1, ""},
		{"st4", rekey.OutcomeEmailed, 1, ""},
	} {
		r := results[test.id]
		if r.Outcome != test.outcome || r.Attempts != test.attempts || r.Error != test.error {
			t.Errorf("%s: %s after %d attempts (%q), want %s after %d (%q)", test.id, r.Outcome, r.Attempts, r.Error, test.outcome, test.attempts, test.error)
		}
	}
	if n := len(w.sentTo("jo.quill")); n != 1 {
		t.Errorf("jo.quill got %d emails, want 1", n)
	}
	got := w.task(t, "dana.admin", task.ID)
	if got.Status != rekey.TaskCompletedWithErrors || got.Emailed != 3 || got.Failed != 1 || got.Processed != 4 {
		t.Errorf("task = %+v, want 3 emailed, 1 failed, completed_with_errors", got)
	}
}

// TestCancelMidway: one chunk of two is done when the task is cancelled;
// the other's users are all skipped, what was done stays done, and the
// counters still add up.
func TestCancelMidway(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{extraStudents: map[string]int{"s2": 100}})
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s2"}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.drain(t, w.planPoll)
	w.workPoll.MaxMessages = 1
	if n, err := w.workPoll.PollOnce(w.ctx); err != nil || n != 1 {
		t.Fatalf("first chunk: %d messages, %v", n, err)
	}
	sentBefore := len(w.mailer.log)
	cancelled, err := w.svc.Cancel(w.ctx, w.current(t, "dana.admin"), task.ID, "req-cancel")
	if err != nil || cancelled.Status != rekey.TaskCancelled {
		t.Fatalf("Cancel = %+v, %v; want cancelled", cancelled, err)
	}
	w.run(t)
	if len(w.mailer.log) != sentBefore {
		t.Errorf("%d emails after cancelling, want none", len(w.mailer.log)-sentBefore)
	}
	got := w.task(t, "dana.admin", task.ID)
	if got.Status != rekey.TaskCancelled || got.Total != 102 || got.Processed != 102 || got.Emailed != sentBefore ||
		got.Skipped != 102-sentBefore || got.FinishedAt.IsZero() {
		t.Errorf("task = %+v, want cancelled with %d emailed and the rest skipped", got, sentBefore)
	}
	if _, err := w.svc.Cancel(w.ctx, w.current(t, "ted.teach"), task.ID, "req"); rekey.ErrorCode(err) != rekey.ECodeNotFound {
		t.Errorf("a teacher cancelling the district admin's task = %v, want not_found", err)
	}
}

// TestIdempotencyKey: the same actor and key return the original task; the
// same key from another actor is another task.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	sel, del := rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1"}, rekey.Delivery{Mode: rekey.DeliverEmailLink}
	first, err := w.svc.Start(w.ctx, w.current(t, "dana.admin"), sel, del, "key-123", "req-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := w.svc.Start(w.ctx, w.current(t, "dana.admin"), sel, del, "key-123", "req-2")
	if err != nil || again.ID != first.ID {
		t.Fatalf("repeat with the same key = %s, %v; want the original %s", again.ID, err, first.ID)
	}
	other, err := w.svc.Start(w.ctx, w.current(t, "dev.admin"), sel, del, "key-123", "req-3")
	if err != nil || other.ID == first.ID {
		t.Fatalf("another actor with the same key = %s, %v; want a new task", other.ID, err)
	}
	w.run(t)
	if again, err := w.svc.Start(w.ctx, w.current(t, "dana.admin"), sel, del, "key-123", "req-4"); err != nil || again.ID != first.ID || again.Status != rekey.TaskCompleted {
		t.Errorf("repeat after the task ran = %+v, %v; want the original, completed", again, err)
	}
	page, err := w.svc.List(w.ctx, w.current(t, "dana.admin"), 10, "")
	if err != nil || len(page.Items) != 2 {
		t.Errorf("List = %d tasks, %v; want 2 (one per actor)", len(page.Items), err)
	}
	for _, u := range w.users {
		if u.SchoolID == "s1" && u.Role == rekey.RoleStudent && u.Email != "" && u.Status == rekey.StatusActive {
			if n := len(w.sentTo(u.Username)); n != 2 {
				t.Errorf("%s got %d emails, want 2 (one per task)", u.Username, n)
			}
		}
	}
}

// TestGeneratedPasswordsAndCSV: the creator's CSV holds each generated
// password (they sign in), formula-like cells are neutralised, another
// viewer gets no passwords, and after 24 hours nobody does.
func TestGeneratedPasswordsAndCSV(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	evil := w.users["jo.quill"]
	evil.FirstName, evil.LastName, evil.ExternalID = "=HYPERLINK(\"http://evil.example\")", "+SUM(A1)", "@cmd"
	evil.Version++
	if err := w.store.UpdateUser(w.ctx, w.current(t, "jo.quill"), evil, nil); err != nil {
		t.Fatal(err)
	}
	task := w.start(t, "sam.head", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st3"}}, rekey.Delivery{Mode: rekey.DeliverGeneratedPasswords})
	w.run(t)

	rows := w.csv(t, "sam.head", task.ID)
	if got, want := strings.Join(rows[0], ","), "username,firstName,lastName,externalId,school,grade,email,outcome,error,password"; got != want {
		t.Errorf("CSV header = %s, want %s", got, want)
	}
	passwords := w.csvPasswords(t, "sam.head", task.ID)
	for _, name := range []string{"jo.quill", "bo.chen"} {
		pw := passwords[name]
		if ok, _, _ := fastHasher.Verify(w.current(t, name).PasswordHash, pw); !ok || len(pw) < 20 {
			t.Errorf("%s: CSV password %q does not verify", name, pw)
		}
	}
	for _, row := range rows[1:] {
		if row[0] != "jo.quill" {
			continue
		}
		if row[1] != `'=HYPERLINK("http://evil.example")` || row[2] != "'+SUM(A1)" || row[3] != "'@cmd" || row[4] != "Northfield Elementary" {
			t.Errorf("CSV row = %q, want formula cells prefixed with ' and the school's name", row)
		}
	}

	// Another viewer of the task (the district admin) sees no password.
	for name, pw := range w.csvPasswords(t, "dana.admin", task.ID) {
		if pw != "" {
			t.Errorf("the district admin's CSV shows %s's password", name)
		}
	}
	// The results JSON never carries passwords.
	for _, r := range w.results(t, "sam.head", task.ID) {
		if b, _ := json.Marshal(r); strings.Contains(string(b), passwords[r.Username]) {
			t.Errorf("results JSON %s holds the password", b)
		}
	}
	w.clock.Add(rekey.PasswordRetention + time.Second)
	for name, pw := range w.csvPasswords(t, "sam.head", task.ID) {
		if pw != "" {
			t.Errorf("after 24 hours the creator's CSV still shows %s's password", name)
		}
	}
	if _, err := w.svc.Get(w.ctx, w.current(t, "sol.head"), task.ID); rekey.ErrorCode(err) != rekey.ECodeNotFound {
		t.Errorf("another school's admin reading the task = %v, want not_found", err)
	}
}

// TestDailyQuotaWaits: with a daily quota of 3, a task of 5 emails sends 3,
// says it is waiting with an estimated finish, puts the rest back with a
// delay, and finishes the next day.
func TestDailyQuotaWaits(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{config: func(c *bulk.Config) { c.DailyQuota = 3 }})
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st2", "st3", "st4", "st7"}}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.drain(t, w.planPoll)
	w.workPoll.MaxMessages = 1
	if n, err := w.workPoll.PollOnce(w.ctx); err != nil || n != 1 {
		t.Fatalf("work: %d, %v", n, err)
	}
	got := w.task(t, "dana.admin", task.ID)
	if len(w.mailer.log) != 3 || got.Status != rekey.TaskRunning || !strings.Contains(got.Waiting, "quota") || got.EstimatedFinishAt.IsZero() {
		t.Fatalf("after the quota ran out: %d emails, task %+v; want 3 and running, waiting with an estimate", len(w.mailer.log), got)
	}
	if len(w.work.delays) != 1 || w.work.delays[0] <= 0 || w.work.delays[0] > 15*time.Minute {
		t.Errorf("delays = %v, want the rest queued once with a delay of at most 15 minutes", w.work.delays)
	}
	// Still the same day: the message comes back and waits again.
	if n, err := w.workPoll.PollOnce(w.ctx); err != nil || n != 1 || len(w.mailer.log) != 3 {
		t.Fatalf("same day: %d messages, %d emails, %v; want the message back and no more email", n, len(w.mailer.log), err)
	}
	w.clock.Add(24 * time.Hour)
	w.run(t)
	got = w.task(t, "dana.admin", task.ID)
	if len(w.mailer.log) != 5 || got.Status != rekey.TaskCompleted || got.Waiting != "" || got.Emailed != 5 {
		t.Errorf("next day: %d emails, task %+v; want 5, completed, not waiting", len(w.mailer.log), got)
	}
}

// TestResultPagesAndListing: results come in pages; the task centre shows
// a teacher's task to them, their school admin, the district admin and
// support only.
func TestResultPagesAndListing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	task := w.start(t, "tia.teach", rekey.Selection{Mode: rekey.SelectAll}, rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: defaultPassword})
	w.run(t)
	if got := w.resultPages(t, "tia.teach", task.ID, 4); len(got) != 6 {
		t.Errorf("results in pages of 4 = %d users, want 6", len(got))
	}
	for _, test := range []struct {
		viewer string
		want   int
	}{
		{"tia.teach", 1}, {"sam.head", 1}, {"dana.admin", 1}, {"support", 1}, {"ted.teach", 0}, {"sol.head", 0}, {"jo.quill", 0},
	} {
		page, err := w.svc.List(w.ctx, w.current(t, test.viewer), 0, "")
		if err != nil || len(page.Items) != test.want {
			t.Errorf("List as %s = %d tasks, %v; want %d", test.viewer, len(page.Items), err, test.want)
		}
	}
	if _, err := w.svc.Results(w.ctx, w.current(t, "tia.teach"), task.ID, 10, "not-a-cursor"); rekey.ErrorCode(err) != rekey.ECodeInvalidCursor {
		t.Errorf("Results with a bad cursor = %v, want invalid_cursor", err)
	}
}

// TestOutOfTimeContinues: a worker close to its deadline sends nothing,
// puts the chunk back on the queue and leaves it free; the next worker
// does it all. The worker reads SES's quota from moto, which cannot say,
// so the configured rate applies.
func TestOutOfTimeContinues(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{sesAccount: true, config: func(c *bulk.Config) { c.StopMargin = time.Hour }})
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st3"}}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.drain(t, w.planPoll)
	msg := w.receiveChunk(t)
	late, cancel := context.WithTimeout(w.ctx, time.Minute)
	defer cancel()
	if err := w.worker.Process(late, msg); err != nil {
		t.Fatalf("Process near the deadline: %v", err)
	}
	if len(w.mailer.log) != 0 || len(w.work.delays) != 1 {
		t.Fatalf("near the deadline: %d emails, %d messages put back; want none sent and the chunk put back", len(w.mailer.log), len(w.work.delays))
	}
	w.run(t)
	if got := w.task(t, "dana.admin", task.ID); got.Emailed != 2 || got.Status != rekey.TaskCompleted {
		t.Errorf("task = %+v, want 2 emailed, completed", got)
	}
}

// TestPasswordsOfAFullChunk: a 100-student default-password task resets a
// full chunk of 96 in two writes of 48 (users and their audit entries); a
// worker dying between them leaves the first half done and recorded, and
// the redelivered message does only the rest: every student is set once,
// has one audit entry, and the counters add up once.
func TestPasswordsOfAFullChunk(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{extraStudents: map[string]int{"s2": 98}})
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s2"},
		rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: defaultPassword})
	w.drain(t, w.planPoll)

	// The worker dies between the two writes of a 96-user chunk: at the
	// second write of chunk 0.
	saves := 0
	crashing := &onSaveStore{Store: w.store, before: workerDies, match: func(cw rekey.ChunkWrite) bool {
		if cw.Chunk.Index == 0 {
			saves++
		}
		return cw.Chunk.Index == 0 && saves == 2
	}}
	dying := w.newWorker(t, func(deps *bulk.WorkerDeps) { deps.Store = crashing })
	msgs := []bulk.Message{w.receiveChunk(t), w.receiveChunk(t)}
	for _, msg := range msgs {
		_ = dying.Process(w.ctx, msg)
	}
	if !crashing.fired {
		t.Fatal("the worker never got to its second write")
	}
	// The first 48 of chunk 0 and all 4 of chunk 1 are done and counted.
	if got := w.task(t, "dana.admin", task.ID); got.Processed != 52 || got.Succeeded != 52 {
		t.Fatalf("task = %+v after the crash, want 52 of 100 processed", got)
	}
	for _, msg := range msgs {
		if err := w.worker.Process(w.ctx, msg); err != nil {
			t.Fatalf("Process after the crash: %v", err)
		}
	}

	got := w.task(t, "dana.admin", task.ID)
	if got.Status != rekey.TaskCompleted || got.Total != 100 || got.Processed != 100 || got.Succeeded != 100 {
		t.Errorf("task = %+v, want 100 of 100 set, completed", got)
	}
	for _, u := range w.users {
		if u.SchoolID != "s2" || u.Role != rekey.RoleStudent {
			continue
		}
		after := w.current(t, u.Username)
		if ok, _, _ := fastHasher.Verify(after.PasswordHash, defaultPassword); !ok || !after.MustChangePassword || after.Version != u.Version+1 {
			t.Errorf("%s: default password %v, must change %v, version %d; want true, true, %d (set once)", u.Username, ok, after.MustChangePassword, after.Version, u.Version+1)
		}
		if entries := w.auditOfTask(t, u.ID, task.ID); len(entries) != 1 || entries[0].Action != rekey.ActionResetTemporary || entries[0].ActorID != "da1" {
			t.Errorf("%s: audit entries of the task = %+v, want one temporary-password entry by da1", u.Username, entries)
		}
	}
}

// TestStartReadsEachPlaceOnce: starting a task reads the selection's
// school and the creator's district once each, however many checks use
// them (the school's scope, the task's name, the policy and its banned
// words, the kid-friendly grade limit).
func TestStartReadsEachPlaceOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	for _, del := range []rekey.Delivery{
		{Mode: rekey.DeliverEmailLink},
		{Mode: rekey.DeliverDefaultPassword, DefaultPassword: "purple otters juggle quietly"},
	} {
		admin := w.current(t, "dana.admin")
		w.calls.Reset()
		if _, err := w.svc.Start(w.ctx, admin, rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1"}, del, "", "req"); err != nil {
			t.Fatalf("Start(%s): %v", del.Mode, err)
		}
		if n := w.calls.Of("DynamoDB.GetItem"); n != 2 {
			t.Errorf("Start(%s) made %d GetItem calls, want 2 (the school and the district): %s", del.Mode, n, w.calls)
		}
	}
}
