package bulk_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rekey/rekey/infra/testwait"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/rekey"
)

// The cancel tests run a 22-student email-link task at 12 emails a second and cancel it at every point of the
// first chunk. After the cancel has answered no email of the task may
// leave beyond one already being handed to SES, and no password changes:
// every user not emailed keeps the password they had. The task's counters
// always equal the tally of its results.

// cancelWorld is a world whose worker sends slowly enough to be cancelled
// midway, and notices a cancel within 2 s (moto on a busy machine can take
// a second per call).
func cancelWorld(t *testing.T, students int) *world {
	return newWorld(t, worldOptions{extraStudents: map[string]int{"s2": students}, config: func(c *bulk.Config) {
		c.SendRate, c.CancelWait, c.Lease, c.CheckpointEvery = 12, 2*time.Second, 6*time.Second, 4
	}})
}

// startCancellable starts dana.admin's reset of school s2's students by
// mode, plans it and takes its first chunk message off the work queue for
// the test's own worker; c cancels the task.
func startCancellable(t *testing.T, w *world, mode rekey.DeliveryMode) (task rekey.Task, msg bulk.Message, c *canceller) {
	t.Helper()
	task = w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s2"}, rekey.Delivery{Mode: mode})
	w.drain(t, w.planPoll)
	return task, w.receiveChunk(t), newCanceller(t, w, task.ID)
}

// canceller cancels a task once, in the background, and remembers when
// the cancel answered.
type canceller struct {
	w        *world
	t        *testing.T
	taskID   string
	once     sync.Once
	done     chan struct{}
	answered time.Time
	err      error
}

func newCanceller(t *testing.T, w *world, taskID string) *canceller {
	return &canceller{w: w, t: t, taskID: taskID, done: make(chan struct{})}
}

func (c *canceller) start() {
	c.once.Do(func() {
		actor := c.w.current(c.t, "dana.admin")
		go func() {
			defer close(c.done)
			_, c.err = c.w.svc.Cancel(c.w.ctx, actor, c.taskID, "req-cancel")
			c.answered = time.Now()
		}()
	})
}

// cancelDuring is an onSaveStore's before: it starts the cancel, and lets
// the chunk write w go on once the store shows the task cancelled (the
// cancel then waits CancelWait to answer).
func (c *canceller) cancelDuring(ctx context.Context, w rekey.ChunkWrite) error {
	c.start()
	// Wait for the cancel to be written, up to the test's deadline (past
	// it, the write goes on and the test's checks say why).
	for deadline := testwait.Deadline(c.t); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(20 * time.Millisecond) {
		if task, err := c.w.store.GetTask(ctx, w.Chunk.TaskID); err == nil && task.Task.Status == rekey.TaskCancelled {
			break
		}
	}
	return nil
}

func (c *canceller) wait(t *testing.T) {
	t.Helper()
	<-c.done
	if c.err != nil {
		t.Fatalf("Cancel: %v", c.err)
	}
}

// sendClock records when SES accepted each email.
type sendClock struct {
	mu sync.Mutex
	at []time.Time
}

func (s *sendClock) add() {
	s.mu.Lock()
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
}

// after counts the emails SES accepted after t.
func (s *sendClock) after(t time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, at := range s.at {
		if at.After(t) {
			n++
		}
	}
	return n
}

// worstEmailsAfterCancel is the most emails seen leaving after a cancel
// answered, over the tests of this file (reported by the last one).
var worstEmailsAfterCancel struct {
	sync.Mutex
	n int
}

func TestCancelStopsSendingAndKeepsPasswords(t *testing.T) {
	t.Parallel()
	// The subtests run in parallel: report once they have all ended.
	t.Cleanup(func() {
		worstEmailsAfterCancel.Lock()
		defer worstEmailsAfterCancel.Unlock()
		t.Logf("worst case: %d emails left after a cancel answered", worstEmailsAfterCancel.n)
	})
	emailed := func(w rekey.ChunkWrite) (n int) {
		for _, e := range w.Chunk.Entries {
			if e.Result.Outcome == rekey.OutcomeEmailed {
				n++
			}
		}
		return n
	}
	for _, test := range []struct {
		name string
		// afterSends cancels after that many emails (0: not by count).
		afterSends int
		// onSave cancels during the first matching chunk write.
		onSave func(rekey.ChunkWrite) bool
		// crashAfter kills the worker after that many emails; the chunk
		// is redelivered after the cancel.
		crashAfter int
	}{
		{name: "right after the users were prepared, before the first send", onSave: func(w rekey.ChunkWrite) bool { return len(w.Users) > 0 }},
		{name: "after 1 send", afterSends: 1},
		{name: "after 7 sends", afterSends: 7},
		{name: "during the store of results", onSave: func(w rekey.ChunkWrite) bool { return len(w.Users) == 0 && emailed(w) > 0 }},
		{name: "after a crash after 5 sends, then a redelivery", crashAfter: 5},
	} {
		t.Run(test.name, func(t *testing.T) {
			t.Parallel()
			w := cancelWorld(t, 20)
			task, msg, c := startCancellable(t, w, rekey.DeliverEmailLink)
			clock := &sendClock{}

			worker := w.worker
			if test.onSave != nil {
				store := &onSaveStore{Store: w.store, match: test.onSave, before: c.cancelDuring}
				worker = w.newWorker(t, func(deps *bulk.WorkerDeps) { deps.Store = store })
			}
			ctx, crash := context.WithCancel(w.ctx)
			defer crash()
			w.mailer.afterSend = func(n int) {
				clock.add()
				switch {
				case test.crashAfter > 0 && n == test.crashAfter:
					crash()
				case test.afterSends > 0 && n == test.afterSends:
					c.start()
				}
			}
			err := worker.Process(ctx, msg)
			if test.crashAfter > 0 {
				if err == nil {
					t.Fatal("the crashed worker reported its chunk done")
				}
				c.start()
				c.wait(t)
				w.clock.Add(time.Minute) // the crashed worker's lease ends
				if err := w.worker.Process(w.ctx, msg); err != nil {
					t.Fatalf("redelivered chunk: %v", err)
				}
			} else if err != nil {
				t.Fatalf("Process: %v", err)
			}
			c.start() // a no-op unless the chunk ended before the cancel point
			c.wait(t)
			w.run(t)

			late := clock.after(c.answered)
			worstEmailsAfterCancel.Lock()
			worstEmailsAfterCancel.n = max(worstEmailsAfterCancel.n, late)
			worstEmailsAfterCancel.Unlock()
			if late > 1 {
				t.Errorf("%d emails left after the cancel answered, want at most 1 (already being handed to SES)", late)
			}
			if len(w.mailer.log) >= 22 {
				t.Errorf("%d emails sent in all: the cancel did not stop the chunk", len(w.mailer.log))
			}
			results := checkCounters(t, w, task.ID)
			if got := w.task(t, "dana.admin", task.ID); got.Status != rekey.TaskCancelled || got.Name != "Email reset links · Hillcrest High · students" {
				t.Errorf("status = %s, name %q; want cancelled, named for what, whom and how", got.Status, got.Name)
			}
			// Users not emailed keep their password and can sign in.
			now := w.snapshot(t)
			for id, r := range results {
				if r.Outcome == rekey.OutcomeEmailed {
					continue
				}
				u, seeded := now[id], w.byID(t, id)
				if r.Outcome != rekey.OutcomeSkipped {
					t.Errorf("%s: outcome %s, want skipped", seeded.Username, r.Outcome)
				}
				if u.PasswordHash != seeded.PasswordHash || u.Status != rekey.StatusActive || u.ResetID != "" {
					t.Errorf("%s (%s): status %s, password kept %v, pending reset %q; want active with the old password",
						seeded.Username, r.Error, u.Status, u.PasswordHash == seeded.PasswordHash, u.ResetID)
				}
			}
		})
	}
}

// TestCancelBetweenPasswordWrites: a generated-passwords task cancelled
// between the two writes of a full chunk keeps the first 48 users' new
// passwords and changes no other.
func TestCancelBetweenPasswordWrites(t *testing.T) {
	t.Parallel()
	w := cancelWorld(t, 100)
	task, msg, c := startCancellable(t, w, rekey.DeliverGeneratedPasswords)
	writes := 0
	store := &onSaveStore{Store: w.store, before: c.cancelDuring, match: func(cw rekey.ChunkWrite) bool {
		if len(cw.Users) > 0 {
			writes++
		}
		return writes == 2 // the second users' write meets the cancel
	}}
	worker := w.newWorker(t, func(deps *bulk.WorkerDeps) { deps.Store = store })
	if err := worker.Process(w.ctx, msg); err != nil {
		t.Fatalf("Process: %v", err)
	}
	c.wait(t)
	w.run(t)
	results := checkCounters(t, w, task.ID)
	now := w.snapshot(t)
	set := 0
	for id, r := range results {
		u, seeded := now[id], w.byID(t, id)
		switch r.Outcome {
		case rekey.OutcomePasswordSet:
			set++
		case rekey.OutcomeSkipped:
			if u.PasswordHash != seeded.PasswordHash {
				t.Errorf("%s skipped but their password changed", seeded.Username)
			}
		default:
			t.Errorf("%s: outcome %s", seeded.Username, r.Outcome)
		}
	}
	if set != rekey.MaxUsersPerWrite {
		t.Errorf("%d passwords set, want the first write's %d", set, rekey.MaxUsersPerWrite)
	}
}

// checkCounters reads a finished task and its results and checks that each
// user has one outcome and the counters equal the results' tally; it
// returns the results.
func checkCounters(t *testing.T, w *world, taskID string) map[string]rekey.TaskResult {
	t.Helper()
	got := w.task(t, "dana.admin", taskID)
	results := w.results(t, "dana.admin", taskID)
	var want rekey.Task
	for _, r := range results {
		want.Processed++
		switch r.Outcome {
		case rekey.OutcomeEmailed:
			want.Succeeded++
			want.Emailed++
		case rekey.OutcomePasswordSet:
			want.Succeeded++
		case rekey.OutcomeNoEmail:
			want.NoEmail++
		case rekey.OutcomeFailed:
			want.Failed++
		case rekey.OutcomeSkipped:
			want.Skipped++
		default:
			t.Errorf("%s has no outcome (%q)", r.UserID, r.Outcome)
		}
	}
	if got.Total != len(results) || got.Processed != want.Processed || got.Succeeded != want.Succeeded || got.Emailed != want.Emailed ||
		got.NoEmail != want.NoEmail || got.Failed != want.Failed || got.Skipped != want.Skipped {
		t.Errorf("counters total %d processed %d succeeded %d emailed %d noEmail %d failed %d skipped %d; the %d results tally processed %d succeeded %d emailed %d noEmail %d failed %d skipped %d",
			got.Total, got.Processed, got.Succeeded, got.Emailed, got.NoEmail, got.Failed, got.Skipped,
			len(results), want.Processed, want.Succeeded, want.Emailed, want.NoEmail, want.Failed, want.Skipped)
	}
	if sum := got.Succeeded + got.NoEmail + got.Failed + got.Skipped; sum != got.Processed || got.Processed > got.Total {
		t.Errorf("succeeded+noEmail+failed+skipped = %d, processed %d, total %d: each user must be counted once", sum, got.Processed, got.Total)
	}
	return results
}

// slowSES stands in for an SES that takes a while to answer: it counts the
// sends in progress at once and when each one started and ended, then
// hands the email to next.
type slowSES struct {
	next    bulk.Mailer
	delay   time.Duration
	onStart func(n int)

	mu           sync.Mutex
	active, peak int
	started      int
	spans        [][2]time.Time
}

func (s *slowSES) Send(ctx context.Context, msg mail.Message) (string, error) {
	s.mu.Lock()
	s.active++
	s.peak = max(s.peak, s.active)
	s.started++
	n, begin := s.started, time.Now()
	s.mu.Unlock()
	if s.onStart != nil {
		s.onStart(n)
	}
	time.Sleep(s.delay)
	id, err := s.next.Send(ctx, msg)
	s.mu.Lock()
	s.active--
	s.spans = append(s.spans, [2]time.Time{begin, time.Now()})
	s.mu.Unlock()
	return id, err
}

// inProgressAfter counts the sends still in SES's hands, or started, at or
// after t.
func (s *slowSES) inProgressAfter(t time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, span := range s.spans {
		if !span[1].Before(t) {
			n++
		}
	}
	return n
}

// TestCancelLeavesAtMostOneSendPerWorker: a worker whose share of the SES
// rate is high (200 a second) and whose SES answers slowly hands SES one
// email at a time, so a cancel that has answered leaves at most that one
// in SES's hands.
func TestCancelLeavesAtMostOneSendPerWorker(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{extraStudents: map[string]int{"s2": 20}, config: func(c *bulk.Config) {
		c.SendRate, c.WorkerConcurrency, c.CancelWait, c.Lease = 200, 1, 2*time.Second, 6*time.Second
	}})
	task, msg, c := startCancellable(t, w, rekey.DeliverEmailLink)
	ses := &slowSES{next: w.mailer, delay: 250 * time.Millisecond, onStart: func(n int) {
		if n == 3 {
			c.start()
		}
	}}
	worker := w.newWorker(t, func(deps *bulk.WorkerDeps) { deps.Mailer = ses })
	if err := worker.Process(w.ctx, msg); err != nil {
		t.Fatalf("Process: %v", err)
	}
	c.start()
	c.wait(t)
	w.run(t)

	ses.mu.Lock()
	peak, started := ses.peak, ses.started
	ses.mu.Unlock()
	if peak != 1 {
		t.Errorf("%d sends were in SES's hands at once, want 1 per worker", peak)
	}
	if late := ses.inProgressAfter(c.answered); late > 1 {
		t.Errorf("%d sends in progress or started after the cancel answered, want at most 1", late)
	}
	if started >= 22 {
		t.Errorf("%d sends in all: the cancel did not stop the chunk", started)
	}
	if got := w.task(t, "dana.admin", task.ID); got.Status != rekey.TaskCancelled {
		t.Errorf("status = %s, want cancelled", got.Status)
	}
	checkCounters(t, w, task.ID)
}
