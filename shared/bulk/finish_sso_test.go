package bulk_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/dynamo"
	"github.com/rekey/rekey/shared/rekey"
)

// jobsOf returns the jobs of kind the worker queued on the mail queue so
// far (and forgets every job).
func (w *world) jobsOf(kind rekey.JobKind) []rekey.MailJob {
	var out []rekey.MailJob
	for _, j := range w.notices.taken() {
		if j.Kind == kind {
			out = append(out, j)
		}
	}
	return out
}

// TestFinishEmail: on moto, the creator of a task that ran a minute or
// more is emailed once when it finishes (a redelivered message of its
// last chunk queues nothing more), with the task's name, counts and a link
// to its page; a short task started by hand emails nothing; a short task
// a schedule started, named with the schedule's name, does.
func TestFinishEmail(t *testing.T) {
	w := newWorld(t, worldOptions{})
	one := func(id string) rekey.Selection {
		return rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{id}}
	}
	link := rekey.Delivery{Mode: rekey.DeliverEmailLink}

	// Short, started by hand: the creator watched it.
	w.start(t, "dana.admin", one("st1"), link)
	w.run(t)
	if jobs := w.jobsOf(rekey.JobTaskFinished); len(jobs) != 0 {
		t.Errorf("a short task started by hand queued %+v, want no finish email", jobs)
	}

	// Long, started by hand.
	long := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st2", "st5"}}, link)
	w.clock.Add(2 * time.Minute)
	w.run(t)
	jobs := w.jobsOf(rekey.JobTaskFinished)
	if len(jobs) != 1 {
		t.Fatalf("a long task queued %d finish emails, want 1: %+v", len(jobs), jobs)
	}
	want := rekey.TaskSummary{Name: long.Name, Status: rekey.TaskCompleted, Delivery: rekey.DeliverEmailLink, Total: 2, Succeeded: 1, NoEmail: 1}
	if j := jobs[0]; j.UserID != "da1" || j.TaskID != long.ID || j.Summary == nil || *j.Summary != want {
		t.Errorf("finish email job %+v (summary %+v), want to da1 about %s with %+v", j, j.Summary, long.ID, want)
	}
	if rec, err := w.store.GetTask(w.ctx, long.ID); err != nil || rec.FinishNoticeAt.IsZero() {
		t.Errorf("task %s after its finish email: claim at %v (%v), want claimed", long.ID, rec.FinishNoticeAt, err)
	}
	// Its last chunk's message again: nothing more.
	if err := w.work.Send(w.ctx, bulk.Message{Kind: bulk.KindChunk, TaskID: long.ID, InitiatorID: "da1", Chunk: 0}); err != nil {
		t.Fatal(err)
	}
	w.run(t)
	if again := w.jobsOf(rekey.JobTaskFinished); len(again) != 0 {
		t.Errorf("a redelivered last chunk queued %+v, want nothing more", again)
	}
	// The mail worker sends it, once, with the task's page.
	w.sendNotices(t, append(jobs, jobs...))
	var finished []string
	for _, m := range w.sentTo("dana.admin") {
		if strings.HasPrefix(m.Subject, "Your bulk task finished") {
			finished = append(finished, m.Subject+"\n"+m.Text)
		}
	}
	if len(finished) != 1 || !strings.Contains(finished[0], long.Name) || !strings.Contains(finished[0], consoleOrigin+"/#/tasks/"+long.ID) ||
		!strings.Contains(finished[0], "Of 2 users: 1 reset, 1 without an email address") {
		t.Errorf("finish emails to the creator = %q, want one naming the task, its counts and its page", finished)
	}

	// Short, started by a schedule.
	sc := rekey.Schedule{ID: "sched1", Name: "Nightly check", Selection: one("st3"), Delivery: link}
	scheduled, err := w.svc.StartScheduled(w.ctx, sc, w.current(t, "dana.admin"), "schedule#sched1#1", "req")
	if err != nil {
		t.Fatal(err)
	}
	w.run(t)
	jobs = w.jobsOf(rekey.JobTaskFinished)
	if len(jobs) != 1 || jobs[0].TaskID != scheduled.ID || !strings.HasPrefix(jobs[0].Summary.Name, "Nightly check · ") {
		t.Errorf("a scheduled task queued %+v, want one finish email naming the schedule", jobs)
	}

	// The claim is taken once.
	if err := w.store.ClaimFinishNotice(w.ctx, scheduled.ID, w.clock.Now()); rekey.ErrorCode(err) != rekey.ECodeConflict {
		t.Errorf("ClaimFinishNotice(claimed) = %v, want a conflict", err)
	}
}

// TestSSOSchool: on moto, users of a school that signs in with SSO are
// treated as the dry run says: an email-link task sends them the SSO
// notice instead of a link and leaves their password alone; a generated
// password task skips them; both record them skipped with the reason, and
// the counters equal the results.
func TestSSOSchool(t *testing.T) {
	w := newWorld(t, worldOptions{})
	ssoURL := "https://sso.example.org/hillcrest"
	if err := w.store.PutSchool(w.ctx, rekey.School{ID: "s2", DistrictID: "d1", Name: "Hillcrest High", SSO: true, SSOURL: ssoURL}); err != nil {
		t.Fatal(err)
	}
	students := rekey.Selection{Mode: rekey.SelectWithoutRole}
	ssoUsers := []string{"st7", "st8"}
	for _, test := range []struct {
		del        rekey.Delivery
		wantReason string
		wantNotice bool
	}{
		{rekey.Delivery{Mode: rekey.DeliverEmailLink}, "SSO school: sign-in notice sent", true},
		{rekey.Delivery{Mode: rekey.DeliverGeneratedPasswords}, "SSO school: signs in with the school's own sign-in", false},
	} {
		t.Run(string(test.del.Mode), func(t *testing.T) {
			preview, err := w.svc.Preview(w.ctx, w.current(t, "dana.admin"), students, test.del)
			if err != nil {
				t.Fatal(err)
			}
			before := map[string]int{}
			for _, id := range ssoUsers {
				before[id] = len(w.sentTo(w.byID(t, id).Username))
			}
			task := w.start(t, "dana.admin", students, test.del)
			w.run(t)
			results := w.results(t, "dana.admin", task.ID)
			ssoSkipped := 0
			for _, id := range ssoUsers {
				r := results[id]
				if r.Outcome != rekey.OutcomeSkipped || r.State != rekey.StateSkipped || !strings.HasPrefix(r.Error, test.wantReason) {
					t.Errorf("result of %s = %s/%s %q, want skipped: %q", id, r.Outcome, r.State, r.Error, test.wantReason)
				} else {
					ssoSkipped++
				}
				u := w.current(t, w.byID(t, id).Username)
				if u.PasswordHash != w.byID(t, id).PasswordHash || u.MustChangePassword || u.ResetID != "" {
					t.Errorf("%s at an SSO school: password changed or reset pending (%+v)", id, u)
				}
				if sent := w.sentTo(u.Username)[before[id]:]; len(sent) != 0 {
					t.Errorf("%s got %d emails from the worker, want none (the notice goes through the mail queue)", id, len(sent))
				}
			}
			if ssoSkipped != preview.SSO.Total {
				t.Errorf("SSO users skipped = %d, the dry run said %d", ssoSkipped, preview.SSO.Total)
			}
			// Counters equal the results; for email links the dry run's
			// noEmail is the task's (a password task sets the password of
			// users without email too).
			got := w.task(t, "dana.admin", task.ID)
			var skipped, noEmail int
			for _, r := range results {
				switch r.Outcome {
				case rekey.OutcomeSkipped:
					skipped++
				case rekey.OutcomeNoEmail:
					noEmail++
				}
			}
			if got.Processed != len(results) || got.Total != len(results) || got.Skipped != skipped || got.NoEmail != noEmail ||
				test.wantNotice && got.NoEmail != preview.NoEmail {
				t.Errorf("task counters %d/%d skipped %d noEmail %d; results %d, skipped %d, noEmail %d; dry run noEmail %d",
					got.Processed, got.Total, got.Skipped, got.NoEmail, len(results), skipped, noEmail, preview.NoEmail)
			}
			jobs := w.notices.taken()
			var notices []rekey.MailJob
			named := map[string]int{}
			for _, j := range jobs {
				for _, id := range j.UserIDs {
					if j.Kind == rekey.JobSSONotice {
						named[id]++
					} else if id == "st7" || id == "st8" {
						t.Errorf("job %+v names an SSO user", j)
					}
				}
				if j.Kind == rekey.JobSSONotice {
					notices = append(notices, j)
				}
			}
			if !test.wantNotice {
				if len(notices) != 0 {
					t.Errorf("queued SSO notices %+v, want none", notices)
				}
				return
			}
			if named["st7"] != 1 || named["st8"] != 1 || len(named) != 2 {
				t.Errorf("SSO notices name %v, want st7 and st8 once each", named)
			}
			w.sendNotices(t, notices)
			for _, id := range ssoUsers {
				sent := w.sentTo(w.byID(t, id).Username)
				if len(sent) != 1 || sent[0].Subject != "How to sign in to your school account" || !strings.Contains(sent[0].Text, ssoURL) || strings.Contains(sent[0].Text, "token=") {
					t.Errorf("emails to %s = %+v, want one SSO notice with the school's sign-in", id, sent)
				}
			}
		})
	}
}

// stagedStore is the worker's store on moto with a hook run once, after
// the chunk index hookChunk is loaded, and a count of the task reads.
type stagedStore struct {
	*dynamo.Store
	hookChunk int
	hook      func()
	taskReads int
}

func (s *stagedStore) LoadChunk(ctx context.Context, taskID string, index int, initiatorID string, userIDs []string) (rekey.ChunkWork, error) {
	work, err := s.Store.LoadChunk(ctx, taskID, index, initiatorID, userIDs)
	if hook := s.hook; hook != nil && index == s.hookChunk {
		s.hook = nil
		hook()
	}
	return work, err
}

func (s *stagedStore) GetTask(ctx context.Context, id string) (rekey.TaskRecord, error) {
	s.taskReads++
	return s.Store.GetTask(ctx, id)
}

// TestOnlyTheLastChunkReadsTheTask: a chunk's completing write tells its
// worker (by its finish probe) whether the task goes on, so a chunk that
// is not the last reads nothing more; the last one, loaded before the
// other chunk completed (its worker cannot tell from what it loaded), reads
// the task once and emails the creator once, with the final counts.
func TestOnlyTheLastChunkReadsTheTask(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{extraStudents: map[string]int{"s2": 98}})
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s2"}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.drain(t, w.planPoll)
	w.clock.Add(2 * time.Minute)
	store := &stagedStore{Store: w.store}
	worker, err := bulk.NewWorker(w.cfg, bulk.WorkerDeps{Store: store, Work: w.work, Notices: w.notices, Mailer: w.mailer, Hasher: fastHasher, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	chunk := func(i int) bulk.Message {
		return bulk.Message{Kind: bulk.KindChunk, TaskID: task.ID, InitiatorID: "da1", Chunk: i}
	}
	// Chunk 0 (96 users) is loaded; chunk 1 (4 users) completes meanwhile.
	store.hookChunk = 0
	store.hook = func() {
		if err := worker.Process(w.ctx, chunk(1)); err != nil {
			t.Errorf("Process(chunk 1) = %v", err)
		}
		if store.taskReads != 0 {
			t.Errorf("chunk 1, not the last to complete, read the task %d times, want 0", store.taskReads)
		}
		if jobs := w.jobsOf(rekey.JobTaskFinished); len(jobs) != 0 {
			t.Errorf("chunk 1 queued %+v, want no finish email yet", jobs)
		}
	}
	if err := worker.Process(w.ctx, chunk(0)); err != nil {
		t.Fatalf("Process(chunk 0) = %v", err)
	}
	if store.taskReads != 1 {
		t.Errorf("the two chunks read the task %d times, want 1 (the last chunk's)", store.taskReads)
	}
	jobs := w.jobsOf(rekey.JobTaskFinished)
	want := rekey.TaskSummary{Name: task.Name, Status: rekey.TaskCompleted, Delivery: rekey.DeliverEmailLink, Total: 100, Succeeded: 100}
	if len(jobs) != 1 || jobs[0].Summary == nil || *jobs[0].Summary != want {
		t.Fatalf("finish emails %+v, want one with %+v", jobs, want)
	}
	// The queued messages of both chunks find them done: nothing more.
	w.run(t)
	if again := w.jobsOf(rekey.JobTaskFinished); len(again) != 0 {
		t.Errorf("the chunks' messages queued %+v, want nothing more", again)
	}
	if got := w.task(t, "dana.admin", task.ID); got.Status != rekey.TaskCompleted || got.Processed != 100 || got.Emailed != 100 {
		t.Errorf("task = %+v, want 100 of 100 emailed, completed", got)
	}
}
