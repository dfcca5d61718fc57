package bulk_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/rekey"
)

// dyingMailer kills its worker at the first email, before SES takes it:
// it cancels the worker's context, so nothing the worker tries afterwards
// (a checkpoint, a lease renewal) reaches the store.
type dyingMailer struct{ die context.CancelFunc }

func (m dyingMailer) Send(ctx context.Context, _ mail.Message) (string, error) {
	m.die()
	return "", context.Canceled
}

// newSweeper returns a Sweeper of w's store and work queue.
func (w *world) newSweeper(t *testing.T) *bulk.Sweeper {
	t.Helper()
	s, err := bulk.NewSweeper(bulk.SweeperDeps{Store: w.store, Work: w.work})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lockedOut returns the seeded students of school s2 whose password is
// voided by a pending reset and who have no email yet.
func (w *world) lockedOut(t *testing.T) []string {
	t.Helper()
	var out []string
	for id, u := range w.snapshot(t) {
		if u.SchoolID == "s2" && u.Role == rekey.RoleStudent && u.PasswordHash == "" && u.ResetID != "" && len(w.sentTo(u.Username)) == 0 {
			out = append(out, id)
		}
	}
	return out
}

// TestCrashAfterPrepareIsSwept: a worker dies after voiding the passwords
// of 48 users of a chunk and before sending any of their links. Once the
// lease it no longer renews has run out (Config.Lease, 30 s), the next
// sweep puts the chunk back on the work queue: every user gets exactly one
// working link, the counters are exact, and the original message coming
// back later (after the queue's 30-minute visibility timeout) changes
// nothing. Before the sweeper, those users waited for that message.
func TestCrashAfterPrepareIsSwept(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{extraStudents: map[string]int{"s2": 98}})
	sweeper := w.newSweeper(t)
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s2"}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.drain(t, w.planPoll)
	var doomed bulk.Message
	for range 2 {
		msg := w.receiveChunk(t)
		if msg.Chunk != 0 {
			if err := w.worker.Process(w.ctx, msg); err != nil {
				t.Fatalf("Process(chunk %d): %v", msg.Chunk, err)
			}
			continue
		}
		doomed = msg
	}

	crashed, die := context.WithCancel(w.ctx)
	defer die()
	dying := w.newWorker(t, func(deps *bulk.WorkerDeps) { deps.Mailer = dyingMailer{die} })
	if err := dying.Process(crashed, doomed); err == nil {
		t.Fatal("the dying worker settled its chunk")
	}
	crashAt := w.clock.Now()
	if n := len(w.lockedOut(t)); n != rekey.MaxUsersPerWrite {
		t.Fatalf("%d users locked out by the crash, want %d (the first write of the chunk)", n, rekey.MaxUsersPerWrite)
	}

	// The message comes back while the dead worker's lease still runs
	// (a local restart): it is put back to be seen when the lease ends,
	// and not failed.
	body, _ := json.Marshal(doomed)
	resp, err := w.worker.Handle(w.ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m-early", Body: string(body)}}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle during the lease = %+v, %v; want no failure", resp, err)
	}
	if last := w.work.delays[len(w.work.delays)-1]; last <= 0 || last > bulk.DefaultLease+time.Second {
		t.Errorf("a message for the held chunk is put back for %v, want the rest of the lease (at most %v)", last, bulk.DefaultLease+time.Second)
	}
	w.receiveChunk(t) // the test queue does not hold it back; leave it to the sweep

	// Sweeps at these times after the crash: nothing until the lease
	// ends, then the chunk, once.
	for _, test := range []struct {
		after time.Duration
		want  int
	}{
		{0, 0}, {bulk.DefaultLease - time.Second, 0}, {bulk.DefaultLease, 1}, {bulk.DefaultLease + time.Second, 0}, {bulk.DefaultLease + bulk.SweepGrace - time.Second, 0},
	} {
		if n, err := sweeper.Sweep(w.ctx, crashAt.Add(test.after)); err != nil || n != test.want {
			t.Fatalf("Sweep(crash + %v) = %d, %v; want %d", test.after, n, err, test.want)
		}
	}
	t.Logf("recovery gap after a crash: the chunk is back on the work queue %v after the crash (its lease); with the one-minute sweep schedule, %v to %v", bulk.DefaultLease, bulk.DefaultLease, bulk.DefaultLease+time.Minute)
	w.clock.Set(crashAt.Add(bulk.DefaultLease))
	w.run(t)
	if locked := w.lockedOut(t); len(locked) != 0 {
		t.Errorf("after the sweep %d users still have no password and no link: %v", len(locked), locked)
	}

	check := func(when string) {
		t.Helper()
		got := w.task(t, "dana.admin", task.ID)
		if got.Status != rekey.TaskCompleted || got.Total != 100 || got.Processed != 100 || got.Emailed != 100 || got.Failed != 0 {
			t.Errorf("%s: task = %+v, want 100 of 100 emailed, completed", when, got)
		}
		for _, u := range w.users {
			if u.SchoolID == "s2" && u.Role == rekey.RoleStudent {
				if n := len(w.sentTo(u.Username)); n != 1 {
					t.Errorf("%s: %s got %d emails, want 1", when, u.Username, n)
				}
			}
		}
	}
	check("after the sweep")
	mails := w.sentTo("pupil.s2.000")
	if err := w.resetsService(t).ResetWithToken(w.ctx, tokenIn(t, mails[0].HTML), "a brand new passphrase", "req"); err != nil {
		t.Errorf("the link sent after the sweep = %v, want it to work", err)
	}

	// The original message comes back after the visibility timeout.
	before := w.task(t, "dana.admin", task.ID)
	w.clock.Add(30 * time.Minute)
	if err := w.work.Send(w.ctx, doomed); err != nil {
		t.Fatal(err)
	}
	w.run(t)
	check("after the original message came back")
	// The funnel moves with time (links expire), not with the message.
	if diff := cmp.Diff(before, w.task(t, "dana.admin", task.ID), cmpopts.IgnoreFields(rekey.Task{}, "Funnel")); diff != "" {
		t.Errorf("the original message changed the task (-before +after):\n%s", diff)
	}
	// Done chunks leave the index: no later sweep sees them.
	if n, err := sweeper.Sweep(w.ctx, w.clock.Now().Add(24*time.Hour)); err != nil || n != 0 {
		t.Errorf("sweep after the task finished = %d, %v; want 0", n, err)
	}
}

// blockingMailer holds every email until release is closed, after telling
// started about the first.
type blockingMailer struct {
	next    bulk.Mailer
	once    sync.Once
	started chan struct{}
	release chan struct{}
}

func (m *blockingMailer) Send(ctx context.Context, msg mail.Message) (string, error) {
	m.once.Do(func() { close(m.started) })
	<-m.release
	return m.next.Send(ctx, msg)
}

// TestLiveWorkerKeepsItsLease: a worker that is still sending renews its
// short lease, so however long it takes, the sweeper leaves its chunk
// alone and no other worker takes it; it then finishes with one email each.
func TestLiveWorkerKeepsItsLease(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{config: func(c *bulk.Config) { c.Lease = 300 * time.Millisecond }})
	sweeper := w.newSweeper(t)
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st3"}}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.drain(t, w.planPoll)
	msg := w.receiveChunk(t)
	done, release := w.holdWhileSending(t, msg)

	// Ten minutes pass on the worker's clock while it sends; its renewals
	// (every 100 ms of real time) keep the lease ahead of the clock.
	w.clock.Add(10 * time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for {
		chunks, err := w.store.ListChunks(w.ctx, task.ID, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(chunks) == 1 && chunks[0].LeaseUntil.After(w.clock.Now()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lease was not renewed past the clock: %+v", chunks)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n, err := sweeper.Sweep(w.ctx, w.clock.Now()); err != nil || n != 0 {
		t.Errorf("sweep while the worker sends = %d, %v; want 0", n, err)
	}
	if err := w.worker.Process(w.ctx, msg); err == nil {
		t.Error("another worker took the chunk of a live worker")
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("Process: %v", err)
	}
	got := w.task(t, "dana.admin", task.ID)
	if got.Status != rekey.TaskCompleted || got.Emailed != 2 || len(w.sentTo("jo.quill")) != 1 || len(w.sentTo("bo.chen")) != 1 {
		t.Errorf("task = %+v, emails %d and %d; want completed with one email each", got, len(w.sentTo("jo.quill")), len(w.sentTo("bo.chen")))
	}
}
