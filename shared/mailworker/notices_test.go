package mailworker

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
)

// fakeRequeue records the jobs put back on the queue and their delays.
type fakeRequeue struct {
	mu     sync.Mutex
	jobs   []rekey.MailJob
	delays []time.Duration
}

func (q *fakeRequeue) SendDelayed(_ context.Context, message any, delay time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, message.(rekey.MailJob))
	q.delays = append(q.delays, delay)
	return nil
}

// bulkNotices is a worker with n users st0…st(n-1) (with email) whose
// notices are prepared as the reset service would, and a bulk task's jobs
// for them.
func bulkNotices(t *testing.T, cfg Config, n int) (*testWorker, *fakeRequeue, []rekey.MailJob) {
	t.Helper()
	w := &testWorker{
		deliveries: &fakeDeliveries{records: map[string]rekey.MailDelivery{}},
		preparer:   &fakePreparer{out: map[string]resets.Outgoing{}},
		mailer:     &fakeMailer{},
	}
	requeue := &fakeRequeue{}
	cfg.PublicBaseURL = "https://console.example.org"
	h, err := NewHandler(cfg, Deps{
		Deliveries: w.deliveries, Resets: w.preparer, Mailer: w.mailer, Requeue: requeue, Now: func() time.Time { return workerT0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.sleep = func(context.Context, time.Duration) error { return nil }
	w.h = h
	var ids []string
	for i := range n {
		u := rekey.User{ID: "st" + string(rune('a'+i)), FirstName: "Pupil", Username: "pupil" + string(rune('a'+i)), Email: "pupil" + string(rune('a'+i)) + "@example.org"}
		ids = append(ids, u.ID)
		w.preparer.out["bulk#t1#"+u.ID] = resets.Outgoing{Kind: mail.KindPasswordChanged, User: u, ChangedAt: workerT0}
	}
	return w, requeue, resets.BulkPasswordChangedJobs("t1", ids, "req-1")
}

func records(t *testing.T, jobs []rekey.MailJob, prefix string) []events.SQSMessage {
	t.Helper()
	var out []events.SQSMessage
	for i, j := range jobs {
		out = append(out, message(t, prefix+string(rune('0'+i)), j))
	}
	return out
}

// A bulk task's notices: one email per user, each with its own outbox
// record keyed by task and user, and a job queued again (a chunk redone
// after a crash) or redriven sends nobody a second notice.
func TestBulkNoticesSendOncePerUser(t *testing.T) {
	ctx := context.Background()
	w, requeue, jobs := bulkNotices(t, Config{}, 12)
	if len(jobs) != 2 || len(jobs[0].UserIDs) != rekey.MaxJobUsers {
		t.Fatalf("BulkPasswordChangedJobs made %d jobs (first of %d users), want 2 with %d users first", len(jobs), len(jobs[0].UserIDs), rekey.MaxJobUsers)
	}
	resp, err := w.h.Handle(ctx, events.SQSEvent{Records: records(t, jobs, "m")})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %v, %v; want no failures", failedIDs(resp), err)
	}
	if len(w.mailer.sent) != 12 || len(requeue.jobs) != 0 {
		t.Fatalf("sent %d notices and put back %d jobs, want 12 and none", len(w.mailer.sent), len(requeue.jobs))
	}
	seen := map[string]int{}
	for _, m := range w.mailer.sent {
		seen[m.To]++
		if m.Subject != "Your password was changed" {
			t.Errorf("email to %s has subject %q, want the password-changed notice", m.To, m.Subject)
		}
	}
	for to, n := range seen {
		if n != 1 {
			t.Errorf("%s got %d notices, want 1", to, n)
		}
	}
	if d := w.deliveries.records["password_changed#bulk#t1#sta"]; d.State != rekey.DeliverySent {
		t.Errorf("outbox of the first user = %+v, want SENT under password_changed#bulk#t1#sta", d)
	}

	// The same notices queued again (new message ids), as a chunk redone
	// after its worker stopped between queuing and recording them does.
	resp, _ = w.h.Handle(ctx, events.SQSEvent{Records: records(t, jobs, "again")})
	if len(resp.BatchItemFailures) != 0 || len(w.mailer.sent) != 12 {
		t.Errorf("jobs queued again: failures %v, %d emails in all; want none and still 12", failedIDs(resp), len(w.mailer.sent))
	}
}

// Notices beyond an invocation's budget go back on the queue, delayed, as
// one job with the same id; sending them later completes the task's
// notices without repeating one.
func TestBulkNoticesBeyondTheBudgetWait(t *testing.T) {
	ctx := context.Background()
	w, requeue, jobs := bulkNotices(t, Config{NoticeBudget: 4, NoticeDelay: 45 * time.Second}, 12)
	resp, _ := w.h.Handle(ctx, events.SQSEvent{Records: records(t, jobs, "m")})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v, want none: the rest is put back, not failed", failedIDs(resp))
	}
	if len(w.mailer.sent) != 4 {
		t.Fatalf("sent %d notices, want the budget of 4", len(w.mailer.sent))
	}
	want := []rekey.MailJob{
		{Kind: rekey.JobPasswordChanged, ID: "bulk#t1", UserIDs: jobs[0].UserIDs[4:], RequestID: "req-1"},
		{Kind: rekey.JobPasswordChanged, ID: "bulk#t1", UserIDs: jobs[1].UserIDs, RequestID: "req-1"},
	}
	if diff := cmp.Diff(want, requeue.jobs); diff != "" {
		t.Errorf("jobs put back (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{45 * time.Second, 45 * time.Second}, requeue.delays); diff != "" {
		t.Errorf("delays (-want +got):\n%s", diff)
	}
	for len(requeue.jobs) > 0 {
		back := requeue.jobs
		requeue.jobs = nil
		w.h.Handle(ctx, events.SQSEvent{Records: records(t, back, "later")})
	}
	if len(w.mailer.sent) != 12 {
		t.Errorf("after the later slices %d notices were sent, want 12", len(w.mailer.sent))
	}
}

// A throttled notice stops the job: the user throttled and those after go
// back on the queue for a minute, and the worker's own next notice waits
// as long; nothing is failed or sent twice.
func TestBulkNoticeThrottledBacksOff(t *testing.T) {
	ctx := context.Background()
	w, requeue, jobs := bulkNotices(t, Config{}, 5)
	w.mailer.failures = 1 // the fake's failures are throttles
	var waited []time.Duration
	w.h.sleep = func(_ context.Context, d time.Duration) error { waited = append(waited, d); return nil }
	resp, _ := w.h.Handle(ctx, events.SQSEvent{Records: records(t, jobs, "m")})
	if len(resp.BatchItemFailures) != 0 || len(w.mailer.sent) != 0 {
		t.Fatalf("failures %v, %d sent; want the job put back and nothing sent", failedIDs(resp), len(w.mailer.sent))
	}
	if len(requeue.jobs) != 1 || len(requeue.jobs[0].UserIDs) != 5 || requeue.delays[0] != throttledDelay {
		t.Fatalf("put back %+v after %v, want all 5 users after %v", requeue.jobs, requeue.delays, throttledDelay)
	}
	if d := w.deliveries.records["password_changed#bulk#t1#sta"]; d.State != rekey.DeliveryPending || !strings.Contains(d.LastError, "throttled") {
		t.Errorf("throttled user's outbox = %+v, want PENDING with the reason", d)
	}
	// The next notice this worker sends waits out the back-off.
	w.h.Handle(ctx, events.SQSEvent{Records: records(t, requeue.jobs, "later")})
	if len(waited) == 0 || waited[0] != throttledDelay {
		t.Errorf("waits before the next notices = %v, want the first to be %v", waited, throttledDelay)
	}
	if len(w.mailer.sent) != 5 {
		t.Errorf("sent %d notices in the end, want 5", len(w.mailer.sent))
	}
}

// Notices are paced: with a rate of 4/s each notice after the first waits
// a quarter of a second.
func TestBulkNoticesArePaced(t *testing.T) {
	ctx := context.Background()
	w, _, jobs := bulkNotices(t, Config{NoticeRate: 4}, 3)
	var waited []time.Duration
	w.h.sleep = func(_ context.Context, d time.Duration) error { waited = append(waited, d); return nil }
	w.h.Handle(ctx, events.SQSEvent{Records: records(t, jobs, "m")})
	// The fake clock stands still, so the slots add up.
	if diff := cmp.Diff([]time.Duration{250 * time.Millisecond, 500 * time.Millisecond}, waited); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}

// Without a way to put notices back, the leftovers fail the message, so
// that SQS retries it; the users already sent are skipped then.
func TestBulkNoticesWithoutRequeueRetryTheMessage(t *testing.T) {
	ctx := context.Background()
	w, _, jobs := bulkNotices(t, Config{NoticeBudget: 3}, 5)
	w.h.requeue = nil
	msg := message(t, "m1", jobs[0])
	resp, _ := w.h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{msg}})
	if diff := cmp.Diff([]string{"m1"}, failedIDs(resp)); diff != "" || len(w.mailer.sent) != 3 {
		t.Fatalf("first attempt: failures %v, %d sent; want m1 retried after 3", failedIDs(resp), len(w.mailer.sent))
	}
	resp, _ = w.h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{msg}})
	if len(resp.BatchItemFailures) != 0 || len(w.mailer.sent) != 5 {
		t.Errorf("retry: failures %v, %d sent; want done with 5", failedIDs(resp), len(w.mailer.sent))
	}
}

func TestMailJobManyUsersValidate(t *testing.T) {
	ok := rekey.MailJob{Kind: rekey.JobPasswordChanged, ID: "bulk#t1", UserIDs: []string{"a", "b"}}
	for _, test := range []struct {
		name string
		job  rekey.MailJob
		ok   bool
	}{
		{"many users", ok, true},
		{"one user", rekey.MailJob{Kind: rekey.JobPasswordChanged, ID: "u#v2", UserID: "u"}, true},
		{"both", rekey.MailJob{Kind: rekey.JobPasswordChanged, ID: "x", UserID: "u", UserIDs: []string{"a"}}, false},
		{"neither", rekey.MailJob{Kind: rekey.JobPasswordChanged, ID: "x"}, false},
		{"an empty id", rekey.MailJob{Kind: rekey.JobPasswordChanged, ID: "x", UserIDs: []string{"a", ""}}, false},
		{"too many", rekey.MailJob{Kind: rekey.JobPasswordChanged, ID: "x", UserIDs: make([]string, rekey.MaxJobUsers+1)}, false},
	} {
		if err := test.job.Validate(); (err == nil) != test.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", test.name, err, test.ok)
		}
	}
	var keys []string
	for _, one := range ok.Split() {
		keys = append(keys, one.Key())
	}
	if diff := cmp.Diff([]string{"password_changed#bulk#t1#a", "password_changed#bulk#t1#b"}, keys); diff != "" {
		t.Errorf("Split keys (-want +got):\n%s", diff)
	}
}

// After a throttle, an invocation that ends before the back-off does puts
// the notices back for the back-off instead of waiting on its claim.
func TestBulkNoticeBackOffLongerThanTheInvocation(t *testing.T) {
	w, requeue, jobs := bulkNotices(t, Config{}, 3)
	w.mailer.failures = 1
	w.h.Handle(context.Background(), events.SQSEvent{Records: records(t, jobs, "m")})
	back := requeue.jobs
	requeue.jobs, requeue.delays = nil, nil

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.h.sleep = func(context.Context, time.Duration) error {
		t.Error("the worker waited for the back-off inside a 30-second invocation")
		return nil
	}
	resp, _ := w.h.Handle(ctx, events.SQSEvent{Records: records(t, back, "later")})
	if len(resp.BatchItemFailures) != 0 || len(w.mailer.sent) != 0 {
		t.Fatalf("failures %v, %d sent; want the job put back, nothing sent", failedIDs(resp), len(w.mailer.sent))
	}
	if len(requeue.jobs) != 1 || len(requeue.jobs[0].UserIDs) != 3 || requeue.delays[0] < throttledDelay-time.Second {
		t.Errorf("put back %+v after %v, want the 3 users after about %v", requeue.jobs, requeue.delays, throttledDelay)
	}
}
