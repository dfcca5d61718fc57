package dynamo

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/rekey"
)

// The bulk pipeline's store, as the bulk package asks for it.
var _ bulk.Store = (*Store)(nil)

func testTask(id, district, createdBy string, at time.Time) rekey.TaskRecord {
	return rekey.TaskRecord{
		Task: rekey.Task{
			ID: id, Kind: rekey.TaskKindBulkReset, Status: rekey.TaskQueued, DistrictID: district,
			Selection: rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"u1", "u2"}, SchoolID: "s1", Role: rekey.RoleStudent, Grade: "7"},
			Delivery:  rekey.Delivery{Mode: rekey.DeliverEmailLink}, CreatedBy: createdBy, CreatedAt: at,
		},
		CreatorRole: rekey.RoleSchoolAdmin, CreatorSchoolID: "s1", Policy: rekey.DefaultPasswordPolicy, RequestID: "req",
	}
}

func TestTaskLifecycle(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	rec := testTask("task1", "d1", "sa1", t0)
	secrets := &rekey.TaskSecrets{SealedKey: []byte("sealed-key"), SealedDefaultPassword: []byte("sealed-pw"), ExpiresAt: t0.Add(24 * time.Hour)}
	idem := rekey.Idempotency{Key: "sa1#k", RequestHash: "hash-a"}
	id, created, err := s.CreateTask(ctx, rec, secrets, idem, rekey.AuditEntry{TargetID: "task1", ActorID: "sa1", Action: rekey.ActionBulkStart})
	if err != nil || id != "task1" || !created {
		t.Fatalf("CreateTask = %s, %v, %v; want task1 created", id, created, err)
	}
	again := testTask("task2", "d1", "sa1", t0)
	if id, created, err := s.CreateTask(ctx, again, nil, idem, rekey.AuditEntry{TargetID: "task2", Action: rekey.ActionBulkStart}); err != nil || id != "task1" || created {
		t.Errorf("CreateTask with a used key = %s, %v, %v; want task1, not created", id, created, err)
	}
	other := rekey.Idempotency{Key: "sa1#k", RequestHash: "hash-b"}
	if id, created, err := s.CreateTask(ctx, again, nil, other, rekey.AuditEntry{TargetID: "task2", Action: rekey.ActionBulkStart}); !errors.Is(err, rekey.ErrIdempotencyKeyReused) || id != "" || created {
		t.Errorf("CreateTask with a used key and another request = %s, %v, %v; want idempotency_key_reused", id, created, err)
	}
	if _, err := s.GetTask(ctx, "task2"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("the refused task was written: %v", err)
	}
	got, err := s.GetTask(ctx, "task1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rec, got); diff != "" {
		t.Errorf("GetTask round trip (-want +got):\n%s", diff)
	}
	gotSecrets, err := s.GetTaskSecrets(ctx, "task1")
	if err != nil || string(gotSecrets.SealedKey) != "sealed-key" || string(gotSecrets.SealedDefaultPassword) != "sealed-pw" {
		t.Errorf("GetTaskSecrets = %+v, %v", gotSecrets, err)
	}

	// Plan: one page, then a stale second writer loses.
	chunk := rekey.Chunk{TaskID: "task1", Index: 0, UserIDs: []string{"u1", "u2"}}
	to := rekey.TaskPlan{Chunks: 1, Done: true}
	if err := s.SavePlanPage(ctx, "task1", rekey.TaskPlan{}, to, []rekey.Chunk{chunk}, 2, t0); err != nil {
		t.Fatalf("SavePlanPage: %v", err)
	}
	if err := s.SavePlanPage(ctx, "task1", rekey.TaskPlan{}, to, []rekey.Chunk{chunk}, 2, t0); !errors.Is(err, rekey.ErrConflict) {
		t.Errorf("SavePlanPage from a stale plan = %v, want ErrConflict", err)
	}
	if err := s.MarkEnqueued(ctx, "task1", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkEnqueued(ctx, "task1", 0); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetTask(ctx, "task1")
	if got.Task.Status != rekey.TaskRunning || got.Task.Total != 2 || got.Plan != (rekey.TaskPlan{Chunks: 1, Enqueued: 1, Done: true}) || !got.StartedAt.Equal(t0) {
		t.Errorf("task after planning = %+v, want running, total 2, planned and queued", got)
	}

	// Work: a user that changed fails its write alone; a stale chunk fails.
	if err := s.CreateUser(ctx, rekey.User{ID: "u1", Username: "u1", Role: rekey.RoleStudent, Status: rekey.StatusActive, Version: 1}, nil); err != nil {
		t.Fatal(err)
	}
	u1, _ := s.GetUser(ctx, "u1")
	stale := u1
	stale.Version = 7
	staleAfter := stale
	staleAfter.Version = 8
	work, err := s.LoadChunk(ctx, "task1", 0, "sa1", []string{"u1", "u2"})
	if err != nil || len(work.Users) != 1 || work.Task.Task.ID != "task1" || string(work.Secrets.SealedKey) != "sealed-key" {
		t.Fatalf("LoadChunk = %+v, %v; want the chunk, the task, its key and u1", work, err)
	}
	next := work.Chunk
	next.Version = 1
	next.Entries = []rekey.ChunkEntry{{Result: rekey.TaskResult{UserID: "u1", Outcome: rekey.OutcomePasswordSet}}, {Result: rekey.TaskResult{UserID: "u2", Outcome: rekey.OutcomeFailed}}}
	next.Done = true
	audit := func() *rekey.AuditEntry {
		return &rekey.AuditEntry{ID: rekey.NewID(), At: t0, ActorID: "sa1", TargetID: "u1", Action: rekey.ActionResetTemporary, Outcome: rekey.OutcomeSuccess}
	}
	err = s.SaveChunk(ctx, rekey.ChunkWrite{Chunk: next, ExpectVersion: 0, Users: []rekey.UserWrite{{Before: stale, After: staleAfter, Audit: audit()}}, Add: &rekey.TaskCounts{Processed: 2, Succeeded: 1, Failed: 1}, At: t0})
	var conflict *rekey.ChunkConflictError
	if !errors.As(err, &conflict) || conflict.ChunkChanged || !cmp.Equal(conflict.Users, []string{"u1"}) {
		t.Fatalf("SaveChunk with a stale user = %v, want a conflict naming u1", err)
	}
	if page, err := s.ListAudit(ctx, "u1", 10, ""); err != nil || len(page.Items) != 0 {
		t.Errorf("audit of u1 after a failed chunk write = %+v, %v; want nothing", page.Items, err)
	}
	after := u1
	after.Version, after.MustChangePassword = 2, true
	write := rekey.ChunkWrite{Chunk: next, ExpectVersion: 0, Users: []rekey.UserWrite{{Before: u1, After: after, Audit: audit()}}, Add: &rekey.TaskCounts{Processed: 2, Succeeded: 1, Failed: 1}, At: t0.Add(time.Minute)}
	if err := s.SaveChunk(ctx, write); err != nil {
		t.Fatalf("SaveChunk: %v", err)
	}
	if page, err := s.ListAudit(ctx, "u1", 10, ""); err != nil || len(page.Items) != 1 || page.Items[0].Action != rekey.ActionResetTemporary {
		t.Errorf("audit of u1 after the chunk write = %+v, %v; want the reset", page.Items, err)
	}
	write.Users = nil
	if err := s.SaveChunk(ctx, write); !errors.As(err, &conflict) || !conflict.ChunkChanged {
		t.Errorf("completing the chunk twice = %v, want the chunk changed", err)
	}
	got, _ = s.GetTask(ctx, "task1")
	if got.Task.Processed != 2 || got.Task.Succeeded != 1 || got.Task.Failed != 1 || !got.LastProcessedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("counters = %+v, want processed 2, succeeded 1, failed 1 (added once)", got.Task)
	}
	chunks, err := s.ListChunks(ctx, "task1", 0, 10)
	if err != nil || len(chunks) != 1 || !chunks[0].Done || chunks[0].Entries[0].Result.Outcome != rekey.OutcomePasswordSet {
		t.Errorf("ListChunks = %+v, %v", chunks, err)
	}

	// A finished task cannot be cancelled; the key expires after 24 hours.
	if _, err := s.CancelTask(ctx, "task1", "by test", rekey.AuditEntry{TargetID: "task1", Action: rekey.ActionBulkCancel}); !errors.Is(err, rekey.ErrConflict) {
		t.Errorf("CancelTask of a finished task = %v, want ErrConflict", err)
	}
	clock.Set(t0.Add(24 * time.Hour))
	if _, err := s.GetTaskSecrets(ctx, "task1"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("GetTaskSecrets after 24 hours = %v, want ErrNotFound", err)
	}
}

func TestListAndCancelTasks(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for i, rec := range []rekey.TaskRecord{
		testTask("a", "d1", "sa1", t0),
		testTask("b", "d1", "t1", t0.Add(time.Minute)),
		testTask("c", "d2", "x", t0.Add(2*time.Minute)),
	} {
		if rec.Task.CreatedBy == "t1" {
			rec.CreatorRole, rec.CreatorSchoolID = rekey.RoleTeacher, "s2"
		}
		if rec.Task.ID != "b" {
			rec.Task.ScheduleID = "sched-" + rec.Task.DistrictID
		}
		if _, _, err := s.CreateTask(ctx, rec, nil, rekey.Idempotency{}, rekey.AuditEntry{TargetID: rec.Task.ID, Action: rekey.ActionBulkStart}); err != nil {
			t.Fatalf("CreateTask %d: %v", i, err)
		}
	}
	ids := func(f rekey.TaskFilter) []string {
		recs, _, err := s.ListTasks(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs {
			out = append(out, r.Task.ID)
		}
		return out
	}
	for _, test := range []struct {
		f    rekey.TaskFilter
		want []string
	}{
		{rekey.TaskFilter{AllDistricts: true}, []string{"c", "b", "a"}},
		{rekey.TaskFilter{DistrictID: "d1"}, []string{"b", "a"}},
		{rekey.TaskFilter{DistrictID: "d1", CreatedBy: "t1"}, []string{"b"}},
		{rekey.TaskFilter{DistrictID: "d1", CreatedBy: "nobody", CreatorSchoolID: "s1"}, []string{"a"}},
		{rekey.TaskFilter{DistrictID: "d9"}, nil},
		{rekey.TaskFilter{DistrictID: "d1", ScheduleID: "sched-d1"}, []string{"a"}},
		{rekey.TaskFilter{DistrictID: "d1", ScheduleID: "sched-d2"}, nil},
		{rekey.TaskFilter{AllDistricts: true, ScheduleID: "sched-d2"}, []string{"c"}},
	} {
		if got := ids(test.f); !cmp.Equal(got, test.want) {
			t.Errorf("ListTasks(%+v) = %v, want %v", test.f, got, test.want)
		}
	}
	page, next, err := s.ListTasks(ctx, rekey.TaskFilter{AllDistricts: true, Limit: 2})
	if err != nil || len(page) != 2 || next == "" {
		t.Fatalf("first page = %d, %q, %v", len(page), next, err)
	}
	rest, next, err := s.ListTasks(ctx, rekey.TaskFilter{AllDistricts: true, Limit: 2, Cursor: next})
	if err != nil || len(rest) != 1 || rest[0].Task.ID != "a" || next != "" {
		t.Errorf("second page = %+v, %q, %v; want a alone", rest, next, err)
	}

	rec, err := s.CancelTask(ctx, "a", "cancelled by test", rekey.AuditEntry{TargetID: "a", ActorID: "sa1", Action: rekey.ActionBulkCancel, At: t0.Add(time.Hour)})
	if err != nil || rec.Task.Status != rekey.TaskCancelled || !rec.Task.FinishedAt.Equal(t0.Add(time.Hour)) || rec.Reason != "cancelled by test" {
		t.Errorf("CancelTask = %+v, %v; want cancelled at the audit time", rec, err)
	}
	if _, err := s.CancelTask(ctx, "a", "again", rekey.AuditEntry{TargetID: "a", Action: rekey.ActionBulkCancel}); !errors.Is(err, rekey.ErrConflict) {
		t.Errorf("cancelling twice = %v, want ErrConflict", err)
	}
	if err := s.FailTask(ctx, "b", "creator left", t0); err != nil {
		t.Fatal(err)
	}
	if rec, _ := s.GetTask(ctx, "b"); rec.Task.Status != rekey.TaskFailed || rec.Reason != "creator left" {
		t.Errorf("failed task = %+v", rec)
	}
}

func TestAcquireDailySends(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for _, test := range []struct {
		day        string
		want, gave int
	}{
		{"2026-09-01", 4, 4}, {"2026-09-01", 4, 4}, {"2026-09-01", 4, 2}, {"2026-09-01", 1, 0}, {"2026-09-02", 3, 3},
	} {
		got, err := s.AcquireDailySends(ctx, test.day, test.want, 10)
		if err != nil || got != test.gave {
			t.Errorf("AcquireDailySends(%s, %d, 10) = %d, %v; want %d", test.day, test.want, got, err, test.gave)
		}
	}
}

// TestLeasedChunkIndex: only chunks under a lease are in the sweeper's
// index; a renewal by another holder, or after the chunk is done, is a
// conflict; a stale chunk is claimed once, and not again after its holder
// renewed the lease or within the claim's recheck time.
func TestLeasedChunkIndex(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if _, _, err := s.CreateTask(ctx, testTask("task1", "d1", "sa1", t0), nil, rekey.Idempotency{}, rekey.AuditEntry{TargetID: "task1", ActorID: "sa1", Action: rekey.ActionBulkStart}); err != nil {
		t.Fatal(err)
	}
	chunks := []rekey.Chunk{{TaskID: "task1", Index: 0, UserIDs: []string{"u1"}}, {TaskID: "task1", Index: 1, UserIDs: []string{"u2"}}}
	if err := s.SavePlanPage(ctx, "task1", rekey.TaskPlan{}, rekey.TaskPlan{Chunks: 2, Done: true}, chunks, 2, t0); err != nil {
		t.Fatal(err)
	}
	stale := func(at time.Time) []int {
		t.Helper()
		got, err := s.StaleChunks(ctx, at, 10)
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, c := range got {
			out = append(out, c.Index)
		}
		return out
	}
	if got := stale(t0.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("StaleChunks before any lease = %v, want none", got)
	}
	// Chunk 0 is taken under a 30 s lease; chunk 1 is done.
	leased := chunks[0]
	leased.Version, leased.LeaseUntil, leased.Holder = 1, t0.Add(30*time.Second), "run-a"
	if err := s.SaveChunk(ctx, rekey.ChunkWrite{Chunk: leased, ExpectVersion: 0, At: t0}); err != nil {
		t.Fatal(err)
	}
	finished := chunks[1]
	finished.Version, finished.Done = 1, true
	if err := s.SaveChunk(ctx, rekey.ChunkWrite{Chunk: finished, ExpectVersion: 0, Add: &rekey.TaskCounts{}, At: t0}); err != nil {
		t.Fatal(err)
	}
	if got := stale(t0.Add(29 * time.Second)); len(got) != 0 {
		t.Errorf("StaleChunks during the lease = %v, want none", got)
	}
	if got := stale(t0.Add(30 * time.Second)); !cmp.Equal(got, []int{0}) {
		t.Errorf("StaleChunks when the lease ends = %v, want [0] (never the done chunk)", got)
	}
	for _, test := range []struct {
		index  int
		holder string
	}{{0, "run-b"}, {1, "run-a"}} {
		if err := s.RenewChunkLease(ctx, "task1", test.index, test.holder, t0.Add(time.Minute)); !errors.Is(err, rekey.ErrConflict) {
			t.Errorf("RenewChunkLease(chunk %d, %s) = %v, want conflict", test.index, test.holder, err)
		}
	}
	// The holder renews: the chunk is not stale, and a claim of what the
	// sweeper read before the renewal fails.
	seen, err := s.StaleChunks(ctx, t0.Add(30*time.Second), 10)
	if err != nil || len(seen) != 1 {
		t.Fatalf("StaleChunks = %v, %v", seen, err)
	}
	if err := s.RenewChunkLease(ctx, "task1", 0, "run-a", t0.Add(70*time.Second)); err != nil {
		t.Fatalf("RenewChunkLease by its holder: %v", err)
	}
	if got := stale(t0.Add(69 * time.Second)); len(got) != 0 {
		t.Errorf("StaleChunks after the renewal = %v, want none", got)
	}
	if err := s.ClaimStaleChunk(ctx, seen[0], t0.Add(30*time.Second), t0.Add(5*time.Minute)); !errors.Is(err, rekey.ErrConflict) {
		t.Errorf("ClaimStaleChunk after a renewal = %v, want conflict", err)
	}
	// The holder dies: claimed once, then left alone until the recheck.
	seen, err = s.StaleChunks(ctx, t0.Add(70*time.Second), 10)
	if err != nil || len(seen) != 1 {
		t.Fatalf("StaleChunks = %v, %v", seen, err)
	}
	if err := s.ClaimStaleChunk(ctx, seen[0], t0.Add(70*time.Second), t0.Add(6*time.Minute)); err != nil {
		t.Fatalf("ClaimStaleChunk: %v", err)
	}
	if err := s.ClaimStaleChunk(ctx, seen[0], t0.Add(70*time.Second), t0.Add(6*time.Minute)); !errors.Is(err, rekey.ErrConflict) {
		t.Errorf("a second sweep claiming the same read = %v, want conflict", err)
	}
	if got := stale(t0.Add(6*time.Minute - time.Second)); len(got) != 0 {
		t.Errorf("StaleChunks before the recheck = %v, want none", got)
	}
	if got := stale(t0.Add(6 * time.Minute)); !cmp.Equal(got, []int{0}) {
		t.Errorf("StaleChunks at the recheck = %v, want [0]", got)
	}
}

// TestDecideTask: only a task awaiting approval can be approved (queued,
// with its approver) or rejected (cancelled, finished, with the reason),
// each with its audit entry; a second decision, or a decision on a task
// that never awaited approval, is a conflict that writes nothing.
func TestDecideTask(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for _, id := range []string{"wait1", "wait2", "queued"} {
		rec := testTask(id, "d1", "sa1", t0)
		if id != "queued" {
			rec.Task.Status = rekey.TaskAwaitingApproval
		}
		if _, _, err := s.CreateTask(ctx, rec, nil, rekey.Idempotency{}, rekey.AuditEntry{ID: "start-" + id, TargetID: id, ActorID: "sa1", Action: rekey.ActionBulkStart, At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	at := t0.Add(time.Hour)
	approve := rekey.AuditEntry{ID: "a1", TargetID: "wait1", ActorID: "da2", Action: rekey.ActionBulkApprove, At: at}
	rec, err := s.DecideTask(ctx, "wait1", true, "", approve)
	if err != nil || rec.Task.Status != rekey.TaskQueued || rec.Task.ApprovedBy != "da2" || !rec.Task.DecidedAt.Equal(at) || !rec.Task.FinishedAt.IsZero() {
		t.Errorf("DecideTask(approve) = %+v, %v; want queued, approved by da2", rec.Task, err)
	}
	reject := rekey.AuditEntry{ID: "r1", TargetID: "wait2", ActorID: "da2", Action: rekey.ActionBulkReject, At: at}
	rec, err = s.DecideTask(ctx, "wait2", false, "rejected by test", reject)
	if err != nil || rec.Task.Status != rekey.TaskCancelled || rec.Task.ApprovedBy != "" || !rec.Task.FinishedAt.Equal(at) || rec.Reason != "rejected by test" {
		t.Errorf("DecideTask(reject) = %+v, %v; want cancelled at the audit time", rec, err)
	}
	for _, test := range []struct {
		id      string
		approve bool
	}{{"wait1", true}, {"wait1", false}, {"wait2", true}, {"queued", true}, {"queued", false}, {"missing", true}} {
		before, _ := s.GetTask(ctx, test.id)
		audit := rekey.AuditEntry{ID: "again-" + test.id, TargetID: test.id, ActorID: "da3", Action: rekey.ActionBulkApprove, At: at.Add(time.Hour)}
		if _, err := s.DecideTask(ctx, test.id, test.approve, "again", audit); !errors.Is(err, rekey.ErrConflict) {
			t.Errorf("DecideTask(%s, %v) again = %v, want ErrConflict", test.id, test.approve, err)
		}
		after, _ := s.GetTask(ctx, test.id)
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("a refused decision on %s changed the task (-before +after):\n%s", test.id, diff)
		}
		if page, err := s.ListAudit(ctx, test.id, 10, ""); err != nil || slices.ContainsFunc(page.Items, func(e rekey.AuditEntry) bool { return e.ActorID == "da3" }) {
			t.Errorf("a refused decision on %s was audited: %+v, %v", test.id, page.Items, err)
		}
	}
	for id, action := range map[string]string{"wait1": rekey.ActionBulkApprove, "wait2": rekey.ActionBulkReject} {
		page, err := s.ListAudit(ctx, id, 10, "")
		if err != nil || !slices.ContainsFunc(page.Items, func(e rekey.AuditEntry) bool { return e.Action == action && e.ActorID == "da2" }) {
			t.Errorf("audit of %s = %+v, %v; want %s by da2", id, page.Items, err, action)
		}
	}
}

// TestChunkWriteFinishProbe: a completing chunk write with a finish probe
// is applied when the task goes on after it (still being planned, or its
// processed counter stays below the total read), and refused with
// MayFinish, writing nothing, when it would finish the task; without the
// probe the same write is applied.
func TestChunkWriteFinishProbe(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for _, test := range []struct {
		name          string
		planDone      bool
		before, add   int // processed before the write, and what it adds
		probe         int // the total the worker read
		wantMayFinish bool
	}{
		{name: "not the last chunk", planDone: true, before: 2, add: 2, probe: 5},
		{name: "the last chunk", planDone: true, before: 3, add: 2, probe: 5, wantMayFinish: true},
		{name: "the last chunk, counted before its completion", planDone: true, before: 5, add: 0, probe: 5, wantMayFinish: true},
		{name: "total read before it grew", planDone: true, before: 3, add: 2, probe: 4, wantMayFinish: true},
		{name: "still being planned", planDone: false, before: 3, add: 2, probe: 5},
	} {
		t.Run(test.name, func(t *testing.T) {
			id := rekey.NewID()
			if _, _, err := s.CreateTask(ctx, testTask(id, "d1", "sa1", t0), nil, rekey.Idempotency{}, rekey.AuditEntry{TargetID: id, Action: rekey.ActionBulkStart}); err != nil {
				t.Fatal(err)
			}
			chunks := []rekey.Chunk{{TaskID: id, Index: 0, UserIDs: []string{"u1"}}, {TaskID: id, Index: 1, UserIDs: []string{"u2"}}}
			if err := s.SavePlanPage(ctx, id, rekey.TaskPlan{}, rekey.TaskPlan{Chunks: 2, Cursor: "more", Done: test.planDone}, chunks, 5, t0); err != nil {
				t.Fatal(err)
			}
			first := chunks[0]
			first.Version, first.Done = 1, true
			if err := s.SaveChunk(ctx, rekey.ChunkWrite{Chunk: first, Add: &rekey.TaskCounts{Processed: test.before}, At: t0}); err != nil {
				t.Fatal(err)
			}
			last := chunks[1]
			last.Version, last.Done = 1, true
			probe := test.probe
			write := rekey.ChunkWrite{Chunk: last, Add: &rekey.TaskCounts{Processed: test.add}, At: t0, FinishProbe: &probe}
			err := s.SaveChunk(ctx, write)
			var conflict *rekey.ChunkConflictError
			if got := errors.As(err, &conflict) && conflict.MayFinish && !conflict.ChunkChanged && len(conflict.Users) == 0; got != test.wantMayFinish || !got && err != nil {
				t.Fatalf("SaveChunk with a finish probe = %v, want MayFinish %v", err, test.wantMayFinish)
			}
			want := test.before + test.add
			if test.wantMayFinish {
				if got, _ := s.GetTask(ctx, id); got.Task.Processed != test.before {
					t.Errorf("processed after the refused write = %d, want %d (nothing written)", got.Task.Processed, test.before)
				}
				write.FinishProbe = nil
				if err := s.SaveChunk(ctx, write); err != nil {
					t.Fatalf("SaveChunk without the probe = %v", err)
				}
			}
			if got, _ := s.GetTask(ctx, id); got.Task.Processed != want {
				t.Errorf("processed = %d, want %d", got.Task.Processed, want)
			}
			write.RequireLive = true
			write.FinishProbe = &probe
			if err := s.SaveChunk(ctx, write); err == nil || errors.As(err, &conflict) {
				t.Errorf("SaveChunk with a finish probe and a liveness check = %v, want an error", err)
			}
		})
	}
}
