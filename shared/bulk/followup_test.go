package bulk_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/rekey"
)

// plannedUsers plans the queued tasks and returns the users task id's
// chunks hold, sorted: whom the task reaches.
func (w *world) plannedUsers(t *testing.T, id string) []string {
	t.Helper()
	w.drain(t, w.planPoll)
	var ids []string
	for from := 0; ; from += 100 {
		chunks, err := w.store.ListChunks(w.ctx, id, from, 100)
		if err != nil {
			t.Fatalf("ListChunks(%s): %v", id, err)
		}
		for _, c := range chunks {
			ids = append(ids, c.UserIDs...)
		}
		if len(chunks) < 100 {
			break
		}
	}
	slices.Sort(ids)
	return ids
}

// TestFollowUpOfAnySize: a follow-up is not capped at MaxSelectedUsers. A
// parent with 1,100 failed users (written straight through the store, as
// the worker would have left them, beside one user emailed and one
// without email) gets a retry_failed follow-up that starts, named and
// counted from the parent's counters, and whose plan reaches exactly the
// 1,100. Before, the follow-up listed user ids and refused more than
// 1,000 with invalid_input.
func TestFollowUpOfAnySize(t *testing.T) {
	t.Parallel()
	const failed = 1100
	w := newWorld(t, worldOptions{extraStudents: map[string]int{"s1": failed}})
	admin := w.current(t, "dana.admin")

	var entries []rekey.ChunkEntry
	var want []string
	for i := range failed {
		id := fmt.Sprintf("p-s1-%03d", i)
		want = append(want, id)
		entries = append(entries, rekey.ChunkEntry{Result: rekey.TaskResult{UserID: id, Outcome: rekey.OutcomeFailed, Error: "the mail service refused it", Attempts: 3}})
	}
	entries = append(entries,
		rekey.ChunkEntry{Result: rekey.TaskResult{UserID: "st1", Outcome: rekey.OutcomeEmailed, ReachedAt: w.clock.Now()}, MessageID: "m-st1"},
		rekey.ChunkEntry{Result: rekey.TaskResult{UserID: "st5", Outcome: rekey.OutcomeNoEmail}})
	slices.Sort(want)

	parent := rekey.TaskRecord{Task: rekey.Task{
		ID: rekey.NewID(), Kind: rekey.TaskKindBulkReset, Status: rekey.TaskQueued, DistrictID: "d1",
		Selection: rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1"}, Delivery: rekey.Delivery{Mode: rekey.DeliverEmailLink},
		Processed: len(entries), Failed: failed, Succeeded: 1, Emailed: 1, NoEmail: 1,
		CreatedBy: admin.ID, CreatedAt: w.clock.Now(),
	}, CreatorRole: admin.Role}
	audit := rekey.AuditEntry{ID: rekey.NewID(), At: w.clock.Now(), DistrictID: "d1", ActorID: admin.ID, TargetID: parent.Task.ID,
		Action: rekey.ActionBulkStart, Outcome: rekey.OutcomeSuccess}
	if _, _, err := w.store.CreateTask(w.ctx, parent, nil, rekey.Idempotency{}, audit); err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	var chunks []rekey.Chunk
	for start := 0; start < len(entries); start += rekey.ChunkSize {
		part := entries[start:min(start+rekey.ChunkSize, len(entries))]
		c := rekey.Chunk{TaskID: parent.Task.ID, Index: len(chunks), Entries: part, Done: true}
		for _, e := range part {
			c.UserIDs = append(c.UserIDs, e.Result.UserID)
		}
		chunks = append(chunks, c)
	}
	var plan rekey.TaskPlan
	for start := 0; start < len(chunks); start += 10 {
		page := chunks[start:min(start+10, len(chunks))]
		users := 0
		for _, c := range page {
			users += len(c.UserIDs)
		}
		to := rekey.TaskPlan{Cursor: fmt.Sprint(start + len(page)), Chunks: start + len(page), Done: start+len(page) == len(chunks)}
		if to.Done {
			to.Cursor = ""
		}
		if err := w.store.SavePlanPage(w.ctx, parent.Task.ID, plan, to, page, users, w.clock.Now()); err != nil {
			t.Fatalf("SavePlanPage: %v", err)
		}
		plan = to
	}

	res, err := w.svc.FollowUp(w.ctx, admin, parent.Task.ID, bulk.FollowUpRetryFailed, "", "req-retry")
	if err != nil {
		t.Fatalf("FollowUp(retry_failed) of %d failed users: %v", failed, err)
	}
	if res.Task.ParentTaskID != parent.Task.ID || res.Task.Delivery.Mode != rekey.DeliverEmailLink || res.Task.Name != "Email reset links · 1100 failed users" {
		t.Errorf("follow-up = parent %q, delivery %s, name %q", res.Task.ParentTaskID, res.Task.Delivery.Mode, res.Task.Name)
	}
	if got := w.plannedUsers(t, res.Task.ID); !slices.Equal(got, want) {
		t.Errorf("the follow-up reaches %d users (first %v), want the %d failed ones", len(got), got[:min(3, len(got))], failed)
	}
	if got := w.task(t, "dana.admin", res.Task.ID); got.Total != failed {
		t.Errorf("follow-up total = %d, want %d", got.Total, failed)
	}
	if _, err := w.svc.FollowUp(w.ctx, admin, parent.Task.ID, bulk.FollowUpGeneratedForNoEmail, "", "req-noemail"); err != nil {
		t.Fatalf("FollowUp(generated_passwords_for_no_email): %v", err)
	}
}

// TestFollowUpLeavesOutAndRechecks: resend_unfinished leaves out the
// bounced address and says so, and never the users without email; a user
// of the parent who has since moved out of the creator's scope is not
// reset by the follow-up (the worker refuses them, as for any task:
// failed, saying they are not in the creator's scope), and
// the creator's authority is judged as it is when the follow-up runs.
func TestFollowUpLeavesOutAndRechecks(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st2", "st3", "st5"}}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.run(t)
	msg := map[string]string{}
	for _, r := range w.chunkEntries(t, task.ID) {
		msg[r.Result.UserID] = r.MessageID
	}
	if err := w.store.RecordMailEvent(w.ctx, rekey.MailEvent{MessageID: msg["st2"], Type: rekey.MailBounced}); err != nil {
		t.Fatalf("RecordMailEvent: %v", err)
	}
	before := w.current(t, "bo.chen")
	after := before
	after.DistrictID, after.SchoolID, after.Version = "d2", "x1", before.Version+1
	if err := w.store.UpdateUser(w.ctx, before, after, nil); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}

	res, err := w.svc.FollowUp(w.ctx, w.current(t, "dana.admin"), task.ID, bulk.FollowUpResendUnfinished, "", "req-resend")
	if err != nil {
		t.Fatalf("FollowUp(resend_unfinished): %v", err)
	}
	if res.LeftOut != 1 {
		t.Errorf("leftOut = %d, want 1 (st2 bounced)", res.LeftOut)
	}
	if got := w.plannedUsers(t, res.Task.ID); !slices.Equal(got, []string{"st1", "st3"}) {
		t.Errorf("resend_unfinished reaches %v, want [st1 st3]", got)
	}
	w.run(t)
	results := w.results(t, "dana.admin", res.Task.ID)
	if r := results["st1"]; r.Outcome != rekey.OutcomeEmailed {
		t.Errorf("st1: %s, want emailed again", r.Outcome)
	}
	if r := results["st3"]; r.Outcome == rekey.OutcomeEmailed || !strings.Contains(r.Error, "scope") {
		t.Errorf("st3, now outside the creator's scope: %s %q, want refused", r.Outcome, r.Error)
	}
	if u := w.current(t, "bo.chen"); u.ResetID != "" && u.ResetID != before.ResetID {
		t.Errorf("st3 got a new reset from the follow-up")
	}
	if _, ok := results["st2"]; ok {
		t.Errorf("the bounced st2 is in the follow-up")
	}
}

// TestFollowUpIdempotencyKey (SECURITY.md 19): a follow-up is a bulk POST
// too. A repeat of POST /api/tasks/{id}/follow-ups with the same
// Idempotency-Key — a double click, or a client retrying after a lost
// answer — answers the follow-up the key first started and sends nobody a
// second email (nor voids the link of the first); the key with another
// action or another parent is idempotency_key_reused. Before, the key was
// dropped and every repeat started another follow-up.
func TestFollowUpIdempotencyKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	sel := rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st2", "st5"}}
	parent := w.start(t, "dana.admin", sel, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	other := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st3", "st4"}}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.run(t)
	admin := w.current(t, "dana.admin")

	first, err := w.svc.FollowUp(w.ctx, admin, parent.ID, bulk.FollowUpResendUnfinished, "resend-1", "req-1")
	if err != nil {
		t.Fatalf("FollowUp(resend_unfinished): %v", err)
	}
	again, err := w.svc.FollowUp(w.ctx, admin, parent.ID, bulk.FollowUpResendUnfinished, "resend-1", "req-2")
	if err != nil || again.Task.ID != first.Task.ID {
		t.Fatalf("repeat of the key = %+v, %v; want the first follow-up %s", again.Task, err, first.Task.ID)
	}
	w.run(t)
	for _, name := range []string{"jo.quill", "ann.lee"} {
		if got := len(w.sentTo(name)); got != 2 {
			t.Errorf("%s got %d emails, want 2 (the parent's and one follow-up's)", name, got)
		}
	}
	for _, test := range []struct {
		name, parent, action string
	}{
		{"another action", parent.ID, bulk.FollowUpGeneratedForNoEmail},
		{"another parent", other.ID, bulk.FollowUpResendUnfinished},
	} {
		if _, err := w.svc.FollowUp(w.ctx, admin, test.parent, test.action, "resend-1", "req-3"); rekey.ErrorCode(err) != rekey.ECodeIdempotencyKeyReused {
			t.Errorf("%s with the same key: %v, want %s", test.name, err, rekey.ECodeIdempotencyKeyReused)
		}
	}
	// Without a key, each request is its own follow-up.
	a, errA := w.svc.FollowUp(w.ctx, admin, other.ID, bulk.FollowUpResendUnfinished, "", "req-4")
	b, errB := w.svc.FollowUp(w.ctx, admin, other.ID, bulk.FollowUpResendUnfinished, "", "req-5")
	if errA != nil || errB != nil || a.Task.ID == b.Task.ID {
		t.Errorf("two follow-ups without a key = %s %v, %s %v; want two tasks", a.Task.ID, errA, b.Task.ID, errB)
	}
}

// chunkEntries reads every entry of task id's chunks.
func (w *world) chunkEntries(t *testing.T, id string) []rekey.ChunkEntry {
	t.Helper()
	chunks, err := w.store.ListChunks(w.ctx, id, 0, 100)
	if err != nil {
		t.Fatalf("ListChunks(%s): %v", id, err)
	}
	var out []rekey.ChunkEntry
	for _, c := range chunks {
		out = append(out, c.Entries...)
	}
	return out
}

// TestPlannerFailureEmailsCreator: a task the planner fails (its creator
// may no longer reset users) emails its creator that it failed, as the
// worker emails a task's end: once, claimed on the task, and again when
// the mail queue refused the first try (the plan message comes back).
// Before, only the worker's finish path emailed, so a failed task sent
// nothing.
func TestPlannerFailureEmailsCreator(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1"}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	before := w.current(t, "dana.admin")
	after := before
	after.Role, after.SchoolID, after.Version = rekey.RoleStudent, "s1", before.Version+1
	if err := w.store.UpdateUser(w.ctx, before, after, nil); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	notices := &noticeRecorder{fail: 1}
	p, err := bulk.NewPlanner(w.cfg, bulk.PlannerDeps{Store: w.store, Work: w.work, Plans: w.work, Notices: notices, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Plan(w.ctx, task.ID); err == nil {
		t.Errorf("Plan with the mail queue down = nil, want an error (the message comes back)")
	}
	if got := w.task(t, "dev.admin", task.ID); got.Status != rekey.TaskFailed {
		t.Fatalf("task = %s, want failed", got.Status)
	}
	for range 2 {
		if err := p.Plan(w.ctx, task.ID); err != nil {
			t.Fatalf("Plan again: %v", err)
		}
	}
	jobs := notices.taken()
	if len(jobs) != 1 {
		t.Fatalf("mail jobs = %+v, want one task_finished", jobs)
	}
	if j := jobs[0]; j.Kind != rekey.JobTaskFinished || j.UserID != before.ID || j.TaskID != task.ID || j.Summary == nil || j.Summary.Status != rekey.TaskFailed {
		t.Errorf("job = %+v, want task_finished to the creator with status failed", j)
	}
}
