package storetest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/testclock"
)

// BulkStore is the part of the contract the bulk pipeline (bulk.Store),
// the mail worker's outbox and the schedule dispatcher's runs rely on.
type BulkStore interface {
	CreateTask(ctx context.Context, rec rekey.TaskRecord, secrets *rekey.TaskSecrets, idem rekey.Idempotency, audit rekey.AuditEntry) (string, bool, error)
	GetTask(ctx context.Context, id string) (rekey.TaskRecord, error)
	GetTaskSecrets(ctx context.Context, id string) (rekey.TaskSecrets, error)
	ListTasks(ctx context.Context, f rekey.TaskFilter) ([]rekey.TaskRecord, string, error)
	CancelTask(ctx context.Context, id, reason string, audit rekey.AuditEntry) (rekey.TaskRecord, error)
	FailTask(ctx context.Context, id, reason string, at time.Time) error
	SetWaiting(ctx context.Context, id, waiting string, estimatedFinishAt time.Time) error
	SelectUsers(ctx context.Context, f rekey.UserFilter, cursor string, limit int) ([]rekey.User, string, error)
	SavePlanPage(ctx context.Context, taskID string, from, to rekey.TaskPlan, chunks []rekey.Chunk, users int, at time.Time) error
	MarkEnqueued(ctx context.Context, taskID string, n int) error
	ListChunks(ctx context.Context, taskID string, from, n int) ([]rekey.Chunk, error)
	LoadChunk(ctx context.Context, taskID string, index int, initiatorID string, userIDs []string) (rekey.ChunkWork, error)
	SaveChunk(ctx context.Context, w rekey.ChunkWrite) error
	RenewChunkLease(ctx context.Context, taskID string, index int, holder string, until time.Time) error
	StaleChunks(ctx context.Context, now time.Time, limit int) ([]rekey.Chunk, error)
	ClaimStaleChunk(ctx context.Context, c rekey.Chunk, now, recheckAt time.Time) error
	AcquireDailySends(ctx context.Context, day string, want, limit int) (int, error)
	ClaimFinishNotice(ctx context.Context, id string, at time.Time) error
	ReleaseFinishNotice(ctx context.Context, id string, at time.Time) error
	ClaimDelivery(ctx context.Context, key string, kind rekey.JobKind, at time.Time, lease time.Duration) (rekey.MailDelivery, error)
	SaveDelivery(ctx context.Context, d rekey.MailDelivery) error
	GetDelivery(ctx context.Context, key string) (rekey.MailDelivery, error)
	ClaimRun(ctx context.Context, scheduleID string, occurrence, at time.Time, lease time.Duration) (rekey.ScheduleRun, error)
	RecordRun(ctx context.Context, r rekey.ScheduleRun) error
	RecordMailEvent(ctx context.Context, ev rekey.MailEvent) error
	MailStates(ctx context.Context, messageIDs []string) (map[string]string, error)
	SaveFunnel(ctx context.Context, id string, f rekey.Funnel, at time.Time) error
}

// newTask is a queued email-link task of district d1 created by da1 at at.
func newTask(at time.Time) rekey.TaskRecord {
	return rekey.TaskRecord{
		Task: rekey.Task{
			ID: rekey.NewID(), Kind: rekey.TaskKindBulkReset, Status: rekey.TaskQueued, DistrictID: "d1",
			Selection: rekey.Selection{Mode: rekey.SelectAll}, Delivery: rekey.Delivery{Mode: rekey.DeliverEmailLink},
			CreatedBy: "da1", CreatedAt: at,
		},
		CreatorRole: rekey.RoleDistrictAdmin, Policy: rekey.DefaultPasswordPolicy,
	}
}

func createTask(t *testing.T, s Store, rec rekey.TaskRecord, secrets *rekey.TaskSecrets) rekey.TaskRecord {
	t.Helper()
	audit := rekey.AuditEntry{ID: rekey.NewID(), At: rec.Task.CreatedAt, TargetID: rec.Task.ID, ActorID: rec.Task.CreatedBy, Action: rekey.ActionBulkStart, Outcome: rekey.OutcomeSuccess}
	if _, created, err := s.CreateTask(context.Background(), rec, secrets, rekey.Idempotency{}, audit); err != nil || !created {
		t.Fatalf("CreateTask(%s) = %v, %v", rec.Task.ID, created, err)
	}
	return rec
}

func testTasks(t *testing.T, s Store, clock *testclock.Clock) {
	ctx := context.Background()
	rec := newTask(t0)
	idem := rekey.Idempotency{Key: "da1#key", RequestHash: "h1"}
	id, created, err := s.CreateTask(ctx, rec, &rekey.TaskSecrets{SealedKey: []byte("k"), ExpiresAt: t0.Add(time.Hour)}, idem, rekey.AuditEntry{ID: rekey.NewID(), At: t0, TargetID: rec.Task.ID})
	if err != nil || !created || id != rec.Task.ID {
		t.Fatalf("CreateTask = %q, %v, %v", id, created, err)
	}
	again := newTask(t0)
	if id, created, err := s.CreateTask(ctx, again, nil, idem, rekey.AuditEntry{ID: rekey.NewID(), At: t0, TargetID: again.Task.ID}); err != nil || created || id != rec.Task.ID {
		t.Errorf("CreateTask with the key again = %q, %v, %v; want the first task, not created", id, created, err)
	}
	_, _, err = s.CreateTask(ctx, again, nil, rekey.Idempotency{Key: idem.Key, RequestHash: "other"}, rekey.AuditEntry{ID: rekey.NewID(), At: t0, TargetID: again.Task.ID})
	wantErr(t, "CreateTask with the key and another request", err, rekey.ErrIdempotencyKeyReused)
	_, err = s.GetTask(ctx, again.Task.ID)
	wantErr(t, "GetTask of a task a used key did not create", err, rekey.ErrNotFound)
	_, _, err = s.CreateTask(ctx, rec, nil, rekey.Idempotency{}, rekey.AuditEntry{ID: rekey.NewID(), At: t0, TargetID: rec.Task.ID})
	wantErr(t, "CreateTask of an existing id", err, rekey.ErrConflict)

	got, err := s.GetTask(ctx, rec.Task.ID)
	if err != nil || got.Task.Status != rekey.TaskQueued || got.CreatorRole != rekey.RoleDistrictAdmin || !got.Task.CreatedAt.Equal(t0) {
		t.Errorf("GetTask = %+v, %v", got, err)
	}
	// The kid-friendly grade captured at start round-trips: none stays none
	// (a task recorded before grades were captured), and 0 (K) stays 0.
	zero, five := 0, 5
	for _, grade := range []*int{nil, &zero, &five} {
		withGrade := newTask(t0)
		withGrade.KidFriendlyMaxGrade = grade
		createTask(t, s, withGrade, nil)
		got, err := s.GetTask(ctx, withGrade.Task.ID)
		if err != nil || (got.KidFriendlyMaxGrade == nil) != (grade == nil) || grade != nil && *got.KidFriendlyMaxGrade != *grade {
			t.Errorf("GetTask(kidFriendlyMaxGrade %v) = %v, %v", grade, got.KidFriendlyMaxGrade, err)
		}
	}
	if secrets, err := s.GetTaskSecrets(ctx, rec.Task.ID); err != nil || string(secrets.SealedKey) != "k" {
		t.Errorf("GetTaskSecrets = %+v, %v", secrets, err)
	}
	clock.Set(t0.Add(time.Hour))
	_, err = s.GetTaskSecrets(ctx, rec.Task.ID)
	wantErr(t, "GetTaskSecrets once expired", err, rekey.ErrNotFound)
	_, err = s.GetTaskSecrets(ctx, rekey.NewID())
	wantErr(t, "GetTaskSecrets of no task", err, rekey.ErrNotFound)

	if err := s.SetWaiting(ctx, rec.Task.ID, "daily quota", t0.Add(2*time.Hour)); err != nil {
		t.Fatalf("SetWaiting: %v", err)
	}
	wantErr(t, "SetWaiting of no task", s.SetWaiting(ctx, rekey.NewID(), "x", t0), rekey.ErrNotFound)
	at := t0.Add(time.Minute)
	cancelled, err := s.CancelTask(ctx, rec.Task.ID, "cancelled by da1", rekey.AuditEntry{ID: rekey.NewID(), At: at, TargetID: rec.Task.ID, Action: rekey.ActionBulkCancel})
	if err != nil || cancelled.Task.Status != rekey.TaskCancelled || !cancelled.Task.FinishedAt.Equal(at) || cancelled.Reason != "cancelled by da1" || cancelled.Task.Waiting != "" {
		t.Errorf("CancelTask = %+v, %v", cancelled, err)
	}
	_, err = s.CancelTask(ctx, rec.Task.ID, "again", rekey.AuditEntry{ID: rekey.NewID(), At: at, TargetID: rec.Task.ID})
	wantErr(t, "CancelTask of a cancelled task", err, rekey.ErrConflict)
	_, err = s.CancelTask(ctx, rekey.NewID(), "none", rekey.AuditEntry{ID: rekey.NewID(), At: at})
	wantErr(t, "CancelTask of no task", err, rekey.ErrConflict)
	if err := s.FailTask(ctx, rec.Task.ID, "too late", at); err != nil {
		t.Errorf("FailTask of a finished task: %v", err)
	}
	if got, _ := s.GetTask(ctx, rec.Task.ID); got.Task.Status != rekey.TaskCancelled {
		t.Errorf("FailTask changed a finished task: %s", got.Task.Status)
	}
	if page, err := s.ListAudit(ctx, rec.Task.ID, 10, ""); err != nil || len(page.Items) != 2 {
		t.Errorf("audit of the task: %d entries, %v; want the start and the cancel", len(page.Items), err)
	}
}

func testListTasks(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	var want []string // newest first
	for i := range 5 {
		rec := newTask(t0.Add(time.Duration(i) * time.Minute))
		if i%2 == 1 {
			rec.Task.CreatedBy, rec.CreatorRole, rec.CreatorSchoolID = "sa1", rekey.RoleSchoolAdmin, "s1"
		}
		if i >= 3 {
			rec.Task.ScheduleID = "sched1"
		}
		createTask(t, s, rec, nil)
		want = append([]string{rec.Task.ID}, want...)
	}
	other := newTask(t0)
	other.Task.DistrictID = "d2"
	createTask(t, s, other, nil)

	list := func(f rekey.TaskFilter) []string {
		t.Helper()
		var ids []string
		for pages := 0; ; pages++ {
			recs, next, err := s.ListTasks(ctx, f)
			if err != nil || pages > 10 {
				t.Fatalf("ListTasks(%+v) = %v (page %d)", f, err, pages)
			}
			for _, r := range recs {
				ids = append(ids, r.Task.ID)
			}
			if next == "" {
				return ids
			}
			f.Cursor = next
		}
	}
	if got := list(rekey.TaskFilter{DistrictID: "d1", Limit: 2}); !slices.Equal(got, want) {
		t.Errorf("tasks of d1, 2 a page = %v, want %v", got, want)
	}
	if got := list(rekey.TaskFilter{AllDistricts: true, Limit: 4}); len(got) != 6 {
		t.Errorf("every task = %d tasks, want 6", len(got))
	}
	if got := list(rekey.TaskFilter{DistrictID: "d1", CreatedBy: "sa1", Limit: 10}); !slices.Equal(got, []string{want[1], want[3]}) {
		t.Errorf("tasks of sa1 = %v, want %v", got, []string{want[1], want[3]})
	}
	if got := list(rekey.TaskFilter{DistrictID: "d1", CreatedBy: "da1", CreatorSchoolID: "s1", Limit: 10}); len(got) != 5 {
		t.Errorf("tasks of da1 or of school s1 = %d, want 5", len(got))
	}
	if got := list(rekey.TaskFilter{DistrictID: "d1", ScheduleID: "sched1", Limit: 1}); !slices.Equal(got, want[:2]) {
		t.Errorf("tasks of schedule sched1, 1 a page = %v, want %v", got, want[:2])
	}
	if got := list(rekey.TaskFilter{DistrictID: "d1", CreatedBy: "sa1", ScheduleID: "sched1", Limit: 10}); !slices.Equal(got, want[1:2]) {
		t.Errorf("tasks of sa1 and schedule sched1 = %v, want %v", got, want[1:2])
	}
	if got := list(rekey.TaskFilter{}); len(got) != 0 {
		t.Errorf("tasks of no district = %v, want none", got)
	}
	_, _, err := s.ListTasks(ctx, rekey.TaskFilter{DistrictID: "d1", Cursor: "not-a-cursor"})
	if rekey.ErrorCode(err) != rekey.ECodeInvalidCursor {
		t.Errorf("ListTasks with a bad cursor: %v, want invalid_cursor", err)
	}
}

// planTask creates a task and plans it into chunks of the given users.
func planTask(t *testing.T, s Store, chunks ...[]string) rekey.TaskRecord {
	t.Helper()
	rec := createTask(t, s, newTask(t0), nil)
	var cs []rekey.Chunk
	users := 0
	for i, ids := range chunks {
		cs = append(cs, rekey.Chunk{TaskID: rec.Task.ID, Index: i, UserIDs: ids})
		users += len(ids)
	}
	to := rekey.TaskPlan{Chunks: len(cs), Done: true}
	if err := s.SavePlanPage(context.Background(), rec.Task.ID, rekey.TaskPlan{}, to, cs, users, t0); err != nil {
		t.Fatalf("SavePlanPage: %v", err)
	}
	return rec
}

func testPlan(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	for _, id := range []string{"u1", "u2", "u3"} {
		create(t, s, user(id, "user."+id, ""))
	}
	rec := createTask(t, s, newTask(t0), nil)
	id := rec.Task.ID
	page1 := []rekey.Chunk{{TaskID: id, Index: 0, UserIDs: []string{"u1", "u2"}}}
	to := rekey.TaskPlan{Cursor: "c1", Chunks: 1}
	if err := s.SavePlanPage(ctx, id, rekey.TaskPlan{}, to, page1, 2, t0); err != nil {
		t.Fatalf("SavePlanPage: %v", err)
	}
	err := s.SavePlanPage(ctx, id, rekey.TaskPlan{}, to, []rekey.Chunk{{TaskID: id, Index: 5, UserIDs: []string{"u3"}}}, 1, t0)
	wantErr(t, "SavePlanPage from a plan no longer stored", err, rekey.ErrConflict)
	page2 := []rekey.Chunk{{TaskID: id, Index: 1, UserIDs: []string{"u3"}}}
	if err := s.SavePlanPage(ctx, id, to, rekey.TaskPlan{Chunks: 2, Done: true}, page2, 1, t0.Add(time.Second)); err != nil {
		t.Fatalf("SavePlanPage (last page): %v", err)
	}
	err = s.SavePlanPage(ctx, id, rekey.TaskPlan{Chunks: 2, Done: true}, rekey.TaskPlan{Chunks: 3, Done: true}, nil, 0, t0)
	wantErr(t, "SavePlanPage of a planned task", err, rekey.ErrConflict)
	got, _ := s.GetTask(ctx, id)
	if got.Task.Status != rekey.TaskRunning || got.Task.Total != 3 || got.Plan != (rekey.TaskPlan{Chunks: 2, Done: true}) || !got.StartedAt.Equal(t0) {
		t.Errorf("after planning: status %s, total %d, plan %+v, started %v", got.Task.Status, got.Task.Total, got.Plan, got.StartedAt)
	}
	if err := s.MarkEnqueued(ctx, id, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkEnqueued(ctx, id, 1); err != nil {
		t.Errorf("MarkEnqueued backwards: %v", err)
	}
	if got, _ := s.GetTask(ctx, id); got.Plan.Enqueued != 2 {
		t.Errorf("enqueued = %d, want 2 (never moved back)", got.Plan.Enqueued)
	}
	chunks, err := s.ListChunks(ctx, id, 1, 10)
	if err != nil || len(chunks) != 1 || chunks[0].Index != 1 || !slices.Equal(chunks[0].UserIDs, []string{"u3"}) {
		t.Errorf("ListChunks(from 1) = %+v, %v", chunks, err)
	}
	if chunks, _ := s.ListChunks(ctx, id, 0, 1); len(chunks) != 1 || chunks[0].Index != 0 {
		t.Errorf("ListChunks(0, 1) = %+v, want chunk 0", chunks)
	}

	users, next, err := s.SelectUsers(ctx, rekey.UserFilter{DistrictID: "d1"}, "", 2)
	if err != nil || len(users) != 2 || next == "" {
		t.Fatalf("SelectUsers page 1 = %d users, next %q, %v", len(users), next, err)
	}
	more, next, err := s.SelectUsers(ctx, rekey.UserFilter{DistrictID: "d1"}, next, 2)
	if err != nil || len(more) != 1 || next != "" || more[0].ID == users[0].ID || more[0].ID == users[1].ID {
		t.Errorf("SelectUsers page 2 = %+v, next %q, %v", more, next, err)
	}
}

func testChunkWrites(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	create(t, s, user("da1", "district.admin", ""))
	u1, u2 := create(t, s, user("u1", "user.one", "")), create(t, s, user("u2", "user.two", ""))
	rec := planTask(t, s, []string{"u1", "u2", "gone"})
	id := rec.Task.ID

	_, err := s.LoadChunk(ctx, id, 7, "da1", nil)
	wantErr(t, "LoadChunk of no chunk", err, rekey.ErrNotFound)
	_, err = s.LoadChunk(ctx, rekey.NewID(), 0, "da1", nil)
	wantErr(t, "LoadChunk of no task", err, rekey.ErrNotFound)
	work, err := s.LoadChunk(ctx, id, 0, "da1", []string{"u1", "u2", "gone"})
	if err != nil {
		t.Fatalf("LoadChunk: %v", err)
	}
	if work.Task.Task.ID != id || work.Initiator.ID != "da1" || len(work.Users) != 2 || work.Users["u2"].Username != "user.two" || work.Chunk.Version != 0 {
		t.Errorf("LoadChunk = task %s, initiator %q, users %v, version %d", work.Task.Task.ID, work.Initiator.ID, len(work.Users), work.Chunk.Version)
	}

	// The first write takes the chunk and resets u1.
	c := work.Chunk
	c.Version, c.Holder, c.LeaseUntil = 1, "w1", t0.Add(30*time.Second)
	c.Entries = []rekey.ChunkEntry{{Result: rekey.TaskResult{UserID: "u1", Outcome: rekey.OutcomeEmailed}}, {Result: rekey.TaskResult{UserID: "u2"}}, {Result: rekey.TaskResult{UserID: "gone", Outcome: rekey.OutcomeFailed}}}
	after := next(u1)
	after.ResetID = "r1"
	audit := &rekey.AuditEntry{ID: rekey.NewID(), At: t0, TargetID: "u1", Action: rekey.ActionResetLink}
	w := rekey.ChunkWrite{Chunk: c, ExpectVersion: 0, Users: []rekey.UserWrite{{Before: u1, After: after, Audit: audit}},
		Add: &rekey.TaskCounts{Processed: 2, Succeeded: 1, Emailed: 1, Failed: 1}, At: t0.Add(time.Second)}
	if err := s.SaveChunk(ctx, w); err != nil {
		t.Fatalf("SaveChunk: %v", err)
	}
	// The same write again (with an audit entry of its own): the chunk
	// moved on and u1 too.
	var conflict *rekey.ChunkConflictError
	repeat := w
	repeat.Users = []rekey.UserWrite{{Before: u1, After: after, Audit: &rekey.AuditEntry{ID: rekey.NewID(), At: t0, TargetID: "u1"}}}
	if err := s.SaveChunk(ctx, repeat); !errors.As(err, &conflict) || !conflict.ChunkChanged || !slices.Equal(conflict.Users, []string{"u1"}) {
		t.Fatalf("SaveChunk repeated = %v, want a conflict naming the chunk and u1", err)
	}
	// A stale user alone.
	stale := u2
	stale.Version = 7
	w2 := rekey.ChunkWrite{Chunk: c, ExpectVersion: 1, Users: []rekey.UserWrite{{Before: stale, After: next(stale)}}}
	w2.Chunk.Version = 2
	if err := s.SaveChunk(ctx, w2); !errors.As(err, &conflict) || conflict.ChunkChanged || !slices.Equal(conflict.Users, []string{"u2"}) {
		t.Fatalf("SaveChunk with a stale user = %v, want a conflict naming u2 only", err)
	}
	if got, _ := s.GetUser(ctx, "u2"); got.Version != u2.Version {
		t.Errorf("a refused write changed u2: version %d", got.Version)
	}

	got, _ := s.GetTask(ctx, id)
	if got.Task.Processed != 2 || got.Task.Succeeded != 1 || got.Task.Emailed != 1 || got.Task.Failed != 1 || !got.LastProcessedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("counters after one write: %+v, last %v", got.Task, got.LastProcessedAt)
	}
	if u, _ := s.GetUser(ctx, "u1"); u.ResetID != "r1" || u.Version != after.Version {
		t.Errorf("u1 after the write: reset %q, version %d", u.ResetID, u.Version)
	}
	if page, _ := s.ListAudit(ctx, "u1", 10, ""); len(page.Items) != 1 {
		t.Errorf("u1's activity: %d entries, want 1", len(page.Items))
	}
	work, _ = s.LoadChunk(ctx, id, 0, "da1", nil)
	if work.Chunk.Version != 1 || work.Chunk.Holder != "w1" || len(work.Chunk.Entries) != 3 || work.Chunk.Entries[0].Result.Outcome != rekey.OutcomeEmailed {
		t.Errorf("chunk after the write: %+v", work.Chunk)
	}

	// The completing write; after it the chunk takes no more writes.
	done := work.Chunk
	done.Version, done.Done, done.Holder, done.LeaseUntil = 2, true, "", time.Time{}
	if err := s.SaveChunk(ctx, rekey.ChunkWrite{Chunk: done, ExpectVersion: 1, Add: &rekey.TaskCounts{Processed: 1, Skipped: 1}, At: t0.Add(2 * time.Second)}); err != nil {
		t.Fatalf("SaveChunk (complete): %v", err)
	}
	again := done
	again.Version = 3
	if err := s.SaveChunk(ctx, rekey.ChunkWrite{Chunk: again, ExpectVersion: 2}); !errors.As(err, &conflict) || !conflict.ChunkChanged {
		t.Errorf("SaveChunk of a done chunk = %v, want the chunk changed", err)
	}
	if got, _ := s.GetTask(ctx, id); got.Task.Processed != 3 || got.Task.Skipped != 1 {
		t.Errorf("counters after completing: processed %d, skipped %d", got.Task.Processed, got.Task.Skipped)
	}
}

func testChunkLeases(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	rec := planTask(t, s, []string{"u1"}, []string{"u2"})
	id := rec.Task.ID
	if stale, err := s.StaleChunks(ctx, t0.Add(time.Hour), 10); err != nil || len(stale) != 0 {
		t.Fatalf("StaleChunks before any lease = %+v, %v; want none", stale, err)
	}
	// Worker w1 takes chunk 0 until t0+30s.
	work, err := s.LoadChunk(ctx, id, 0, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := work.Chunk
	c.Version, c.Holder, c.LeaseUntil = 1, "w1", t0.Add(30*time.Second)
	if err := s.SaveChunk(ctx, rekey.ChunkWrite{Chunk: c, ExpectVersion: 0}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RenewChunkLease by another holder", s.RenewChunkLease(ctx, id, 0, "w2", t0.Add(time.Hour)), rekey.ErrConflict)
	wantErr(t, "RenewChunkLease of a chunk nobody holds", s.RenewChunkLease(ctx, id, 1, "", t0.Add(time.Hour)), rekey.ErrConflict)
	if err := s.RenewChunkLease(ctx, id, 0, "w1", t0.Add(time.Minute)); err != nil {
		t.Fatalf("RenewChunkLease by its holder: %v", err)
	}
	if stale, _ := s.StaleChunks(ctx, t0.Add(59*time.Second), 10); len(stale) != 0 {
		t.Errorf("StaleChunks while the renewed lease runs = %+v", stale)
	}
	after := t0.Add(time.Minute)
	stale, err := s.StaleChunks(ctx, after, 10)
	if err != nil || len(stale) != 1 || stale[0].Index != 0 || stale[0].Version != 1 || !stale[0].LeaseUntil.Equal(after) {
		t.Fatalf("StaleChunks once the lease ended = %+v, %v", stale, err)
	}
	recheck := after.Add(5 * time.Minute)
	if err := s.ClaimStaleChunk(ctx, stale[0], after, recheck); err != nil {
		t.Fatalf("ClaimStaleChunk: %v", err)
	}
	wantErr(t, "ClaimStaleChunk by a second sweep", s.ClaimStaleChunk(ctx, stale[0], after, recheck), rekey.ErrConflict)
	if again, _ := s.StaleChunks(ctx, after.Add(time.Minute), 10); len(again) != 0 {
		t.Errorf("StaleChunks before the recheck = %+v, want none", again)
	}
	if again, _ := s.StaleChunks(ctx, recheck, 10); len(again) != 1 {
		t.Errorf("StaleChunks at the recheck = %+v, want the chunk again", again)
	}
	// A worker that took the chunk since makes an old claim fail.
	c.Version, c.Holder, c.LeaseUntil = 2, "w2", recheck.Add(30*time.Second)
	if err := s.SaveChunk(ctx, rekey.ChunkWrite{Chunk: c, ExpectVersion: 1}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "ClaimStaleChunk of a chunk taken since", s.ClaimStaleChunk(ctx, stale[0], recheck, recheck.Add(time.Minute)), rekey.ErrConflict)
	wantErr(t, "RenewChunkLease by the old holder", s.RenewChunkLease(ctx, id, 0, "w1", recheck.Add(time.Hour)), rekey.ErrConflict)
}

// testFinishNotice: a task's finish email is claimed once; the claim is
// read back with the task; only the claim's own release gives it back.
func testFinishNotice(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	rec := createTask(t, s, newTask(t0), nil)
	at := t0.Add(time.Hour)
	if err := s.ClaimFinishNotice(ctx, rec.Task.ID, at); err != nil {
		t.Fatalf("ClaimFinishNotice = %v", err)
	}
	wantErr(t, "ClaimFinishNotice again", s.ClaimFinishNotice(ctx, rec.Task.ID, at.Add(time.Second)), rekey.ErrConflict)
	if got, err := s.GetTask(ctx, rec.Task.ID); err != nil || !got.FinishNoticeAt.Equal(at) {
		t.Errorf("GetTask after the claim: FinishNoticeAt %v, %v; want %v", got.FinishNoticeAt, err, at)
	}
	wantErr(t, "ReleaseFinishNotice of another claim", s.ReleaseFinishNotice(ctx, rec.Task.ID, at.Add(time.Second)), rekey.ErrConflict)
	if err := s.ReleaseFinishNotice(ctx, rec.Task.ID, at); err != nil {
		t.Fatalf("ReleaseFinishNotice = %v", err)
	}
	if err := s.ClaimFinishNotice(ctx, rec.Task.ID, at.Add(time.Minute)); err != nil {
		t.Errorf("ClaimFinishNotice after the release = %v", err)
	}
	wantErr(t, "ClaimFinishNotice of a missing task", s.ClaimFinishNotice(ctx, rekey.NewID(), at), rekey.ErrConflict)
}

func testDailySends(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	for _, test := range []struct{ want, got int }{{3, 3}, {0, 0}, {5, 2}, {1, 0}} {
		if got, err := s.AcquireDailySends(ctx, "2026-09-01", test.want, 5); err != nil || got != test.got {
			t.Errorf("AcquireDailySends(%d of 5) = %d, %v; want %d", test.want, got, err, test.got)
		}
	}
	if got, _ := s.AcquireDailySends(ctx, "2026-09-02", 4, 5); got != 4 {
		t.Errorf("AcquireDailySends on the next day = %d, want 4", got)
	}
}

func testOutbox(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	const key = "reset_link#r1"
	_, err := s.GetDelivery(ctx, key)
	wantErr(t, "GetDelivery before any claim", err, rekey.ErrNotFound)
	first, err := s.ClaimDelivery(ctx, key, rekey.JobResetLink, t0, time.Minute)
	if err != nil || first.State != rekey.DeliverySending || first.Attempts != 1 || first.ClaimID == "" || !first.LeaseUntil.Equal(t0.Add(time.Minute)) {
		t.Fatalf("ClaimDelivery = %+v, %v", first, err)
	}
	busy, err := s.ClaimDelivery(ctx, key, rekey.JobResetLink, t0.Add(time.Second), time.Minute)
	wantErr(t, "ClaimDelivery while claimed", err, rekey.ErrDeliveryBusy)
	if busy.ClaimID != first.ClaimID {
		t.Errorf("a busy claim returned %+v, want the record as it stands", busy)
	}
	second, err := s.ClaimDelivery(ctx, key, rekey.JobResetLink, t0.Add(time.Minute), time.Minute)
	if err != nil || second.Attempts != 2 || second.ClaimID == first.ClaimID {
		t.Fatalf("ClaimDelivery once the lease ended = %+v, %v", second, err)
	}
	first.State, first.MessageID = rekey.DeliverySent, "m1"
	wantErr(t, "SaveDelivery by the claim that lost its lease", s.SaveDelivery(ctx, first), rekey.ErrConflict)
	second.State, second.LastError = rekey.DeliveryPending, "throttled"
	if err := s.SaveDelivery(ctx, second); err != nil {
		t.Fatalf("SaveDelivery(PENDING): %v", err)
	}
	wantErr(t, "SaveDelivery twice", s.SaveDelivery(ctx, second), rekey.ErrConflict)
	third, err := s.ClaimDelivery(ctx, key, rekey.JobResetLink, t0.Add(2*time.Minute), time.Minute)
	if err != nil || third.Attempts != 3 || third.LastError != "throttled" {
		t.Fatalf("ClaimDelivery after a failed attempt = %+v, %v", third, err)
	}
	third.State, third.MessageID = rekey.DeliverySent, "m3"
	if err := s.SaveDelivery(ctx, third); err != nil {
		t.Fatalf("SaveDelivery(SENT): %v", err)
	}
	_, err = s.ClaimDelivery(ctx, key, rekey.JobResetLink, t0.Add(time.Hour), time.Minute)
	wantErr(t, "ClaimDelivery of a sent email", err, rekey.ErrDeliveryFinished)
	got, err := s.GetDelivery(ctx, key)
	if err != nil || got.State != rekey.DeliverySent || got.MessageID != "m3" || got.Kind != rekey.JobResetLink || !got.LeaseUntil.IsZero() {
		t.Errorf("GetDelivery = %+v, %v", got, err)
	}
}

func testRuns(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	occurrence := t0.Truncate(time.Hour)
	first, err := s.ClaimRun(ctx, "sch1", occurrence, t0, time.Minute)
	if err != nil || first.State != rekey.RunClaimed || first.Attempts != 1 || first.ClaimID == "" {
		t.Fatalf("ClaimRun = %+v, %v", first, err)
	}
	_, err = s.ClaimRun(ctx, "sch1", occurrence, t0.Add(time.Second), time.Minute)
	wantErr(t, "ClaimRun while claimed", err, rekey.ErrRunBusy)
	if other, err := s.ClaimRun(ctx, "sch1", occurrence.Add(time.Hour), t0, time.Minute); err != nil || other.Attempts != 1 {
		t.Errorf("ClaimRun of the next occurrence = %+v, %v", other, err)
	}
	second, err := s.ClaimRun(ctx, "sch1", occurrence, t0.Add(time.Minute), time.Minute)
	if err != nil || second.Attempts != 2 || second.ClaimID == first.ClaimID {
		t.Fatalf("ClaimRun once the lease ended = %+v, %v", second, err)
	}
	first.State, first.TaskID = rekey.RunStarted, "t1"
	wantErr(t, "RecordRun by the claim that lost its lease", s.RecordRun(ctx, first), rekey.ErrConflict)
	second.State = rekey.RunStarted
	if err := s.RecordRun(ctx, second); err == nil {
		t.Error("RecordRun of a started run without its task id: no error")
	}
	second.TaskID = "t2"
	if err := s.RecordRun(ctx, second); err != nil {
		t.Fatalf("RecordRun: %v", err)
	}
	finished, err := s.ClaimRun(ctx, "sch1", occurrence, t0.Add(time.Hour), time.Minute)
	wantErr(t, "ClaimRun of a started run", err, rekey.ErrRunFinished)
	if finished.TaskID != "t2" || finished.State != rekey.RunStarted {
		t.Errorf("a finished claim returned %+v, want the run as it stands", finished)
	}
}

// testCancelReachesWorkers: once a task is cancelled, its worker's lease
// renewal fails with rekey.ErrTaskEnded and a write that requires a live
// task is refused (TaskEnded) and changes nothing; a write without that
// requirement (recording what already happened) still goes in.
func testCancelReachesWorkers(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	rec := planTask(t, s, []string{"u1"})
	id := rec.Task.ID
	work, err := s.LoadChunk(ctx, id, 0, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := work.Chunk
	c.Version, c.Holder, c.LeaseUntil = 1, "w1", t0.Add(30*time.Second)
	if err := s.SaveChunk(ctx, rekey.ChunkWrite{Chunk: c, ExpectVersion: 0, RequireLive: true}); err != nil {
		t.Fatalf("SaveChunk of a live task: %v", err)
	}
	if err := s.RenewChunkLease(ctx, id, 0, "w1", t0.Add(time.Minute)); err != nil {
		t.Fatalf("RenewChunkLease of a live task: %v", err)
	}
	if _, err := s.CancelTask(ctx, id, "cancelled by da1", rekey.AuditEntry{ID: rekey.NewID(), ActorID: "da1", TargetID: id, Action: rekey.ActionBulkCancel, At: t0}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RenewChunkLease after the cancel", s.RenewChunkLease(ctx, id, 0, "w1", t0.Add(2*time.Minute)), rekey.ErrTaskEnded)
	next := c
	next.Version = 2
	err = s.SaveChunk(ctx, rekey.ChunkWrite{Chunk: next, ExpectVersion: 1, RequireLive: true})
	var conflict *rekey.ChunkConflictError
	if !errors.As(err, &conflict) || !conflict.TaskEnded {
		t.Fatalf("SaveChunk requiring a live task after the cancel = %v, want TaskEnded", err)
	}
	if again, err := s.LoadChunk(ctx, id, 0, "", nil); err != nil || again.Chunk.Version != 1 {
		t.Errorf("chunk after the refused write = version %d, %v; want 1", again.Chunk.Version, err)
	}
	if err := s.SaveChunk(ctx, rekey.ChunkWrite{Chunk: next, ExpectVersion: 1}); err != nil {
		t.Errorf("SaveChunk recording what happened after the cancel: %v", err)
	}
}

// testMailEvents: a chunk write's Sent leaves a lookup per email, through
// which SES's events move the email's state by rekey.NextMailState without
// touching the chunk; duplicates, late and reordered events change nothing
// they should not, and an id no task sent is not found.
func testMailEvents(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	create(t, s, user("da1", "district.admin", ""))
	rec := planTask(t, s, []string{"u1", "u2", "u3"})
	id := rec.Task.ID
	work, err := s.LoadChunk(ctx, id, 0, "da1", nil)
	if err != nil {
		t.Fatalf("LoadChunk: %v", err)
	}
	c := work.Chunk
	c.Version = 1
	for i, u := range []string{"u1", "u2", "u3"} {
		c.Entries = append(c.Entries, rekey.ChunkEntry{Result: rekey.TaskResult{UserID: u, Outcome: rekey.OutcomeEmailed}, MessageID: "m" + strconv.Itoa(i+1)})
	}
	sent := []rekey.SentMessage{{MessageID: "m1", TaskID: id, UserID: "u1"}, {MessageID: "m2", TaskID: id, UserID: "u2"}, {MessageID: "m3", TaskID: id, UserID: "u3"}}
	event := func(msg, typ string) error {
		return s.RecordMailEvent(ctx, rekey.MailEvent{MessageID: msg, Type: typ, At: t0})
	}
	wantErr(t, "an event before the send is recorded", event("m1", rekey.MailDelivered), rekey.ErrNotFound)
	if err := s.SaveChunk(ctx, rekey.ChunkWrite{Chunk: c, ExpectVersion: 0, Sent: sent, At: t0}); err != nil {
		t.Fatalf("SaveChunk: %v", err)
	}

	for _, step := range []struct {
		msg, typ string
		want     error
	}{
		{"m1", rekey.MailDelivered, nil},
		{"m1", rekey.MailDelivered, nil}, // duplicate
		{"m2", rekey.MailBounced, nil},
		{"m2", rekey.MailDelivered, nil}, // late: stays bounced
		{"m3", rekey.MailComplained, nil},
		{"m3", rekey.MailBounced, nil}, // reordered: stays complained
		{"m1", "opened", nil},          // unknown type: no change
		{"nobody", rekey.MailBounced, rekey.ErrNotFound},
		{"", rekey.MailBounced, rekey.ErrNotFound},
	} {
		wantErr(t, step.typ+" of "+step.msg, event(step.msg, step.typ), step.want)
	}
	want := map[string]string{"m1": rekey.MailDelivered, "m2": rekey.MailBounced, "m3": rekey.MailComplained}
	got, err := s.MailStates(ctx, []string{"m1", "m2", "m3", "nobody", "m1"})
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("MailStates = %v, %v; want %v", got, err, want)
	}

	// The worker's next write of the chunk, repeating a lookup (a retried
	// save), neither undoes a state nor is refused; events never wrote the
	// chunk, so its version is the worker's.
	c2 := c
	c2.Version = 2
	if err := s.SaveChunk(ctx, rekey.ChunkWrite{Chunk: c2, ExpectVersion: 1, Sent: sent[1:2], At: t0}); err != nil {
		t.Fatalf("SaveChunk after events: %v", err)
	}
	if got, err := s.MailStates(ctx, []string{"m2"}); err != nil || got["m2"] != rekey.MailBounced {
		t.Errorf("after a repeated lookup, MailStates = %v, %v; want m2 bounced", got, err)
	}
	chunks, err := s.ListChunks(ctx, id, 0, 1)
	if err != nil || len(chunks) != 1 || chunks[0].Version != 2 || chunks[0].Entries[1].MailState != "" {
		t.Errorf("chunk after events = %+v, %v; want version 2, untouched by events", chunks, err)
	}
	if got, err := s.MailStates(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("MailStates of none = %v, %v", got, err)
	}
}

// testFunnel: a task remembers the funnel last worked out and when, apart
// from what the workers write; an older funnel never replaces a newer
// one, and no funnel makes a task appear.
func testFunnel(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	rec := createTask(t, s, newTask(t0), nil)
	id := rec.Task.ID
	if got, err := s.GetTask(ctx, id); err != nil || got.Funnel != nil || !got.FunnelAt.IsZero() {
		t.Fatalf("GetTask of a new task = funnel %+v at %v, %v; want none", got.Funnel, got.FunnelAt, err)
	}
	first := rekey.Funnel{Sent: 5, Delivered: 3, Bounced: 1, Complained: 1, Completed: 2, Expired: 1}
	if err := s.SaveFunnel(ctx, id, first, t0.Add(time.Second)); err != nil {
		t.Fatalf("SaveFunnel: %v", err)
	}
	if err := s.SetWaiting(ctx, id, "daily quota", t0.Add(time.Hour)); err != nil {
		t.Fatalf("SetWaiting: %v", err)
	}
	second := rekey.Funnel{Sent: 6, Delivered: 4}
	for _, test := range []struct {
		what   string
		f      rekey.Funnel
		at     time.Time
		err    error
		want   rekey.Funnel
		wantAt time.Time
	}{
		{"an older funnel", second, t0, rekey.ErrConflict, first, t0.Add(time.Second)},
		{"a newer funnel", second, t0.Add(time.Minute), nil, second, t0.Add(time.Minute)},
		{"the same moment again", first, t0.Add(time.Minute), nil, first, t0.Add(time.Minute)},
	} {
		wantErr(t, "SaveFunnel of "+test.what, s.SaveFunnel(ctx, id, test.f, test.at), test.err)
		got, err := s.GetTask(ctx, id)
		if err != nil || got.Funnel == nil || *got.Funnel != test.want || !got.FunnelAt.Equal(test.wantAt) {
			t.Errorf("after SaveFunnel of %s: funnel %+v at %v, %v; want %+v at %v", test.what, got.Funnel, got.FunnelAt, err, test.want, test.wantAt)
		}
		if got.Task.Status != rekey.TaskQueued || got.Task.Waiting != "daily quota" {
			t.Errorf("after SaveFunnel of %s: status %s, waiting %q; want them untouched", test.what, got.Task.Status, got.Task.Waiting)
		}
	}
	// The workers' and the admins' conditional writes still apply, and
	// keep the funnel; a finished task's funnel may still be refreshed.
	at := t0.Add(2 * time.Minute)
	if _, err := s.CancelTask(ctx, id, "cancelled by da1", rekey.AuditEntry{ID: rekey.NewID(), At: at, TargetID: id, Action: rekey.ActionBulkCancel}); err != nil {
		t.Fatalf("CancelTask after SaveFunnel: %v", err)
	}
	if err := s.SaveFunnel(ctx, id, second, at.Add(time.Minute)); err != nil {
		t.Errorf("SaveFunnel of a cancelled task: %v", err)
	}
	if got, err := s.GetTask(ctx, id); err != nil || got.Task.Status != rekey.TaskCancelled || got.Funnel == nil || *got.Funnel != second {
		t.Errorf("cancelled task = status %s, funnel %+v, %v", got.Task.Status, got.Funnel, err)
	}
	missing := rekey.NewID()
	wantErr(t, "SaveFunnel of no task", s.SaveFunnel(ctx, missing, first, t0), rekey.ErrConflict)
	_, err := s.GetTask(ctx, missing)
	wantErr(t, "GetTask after SaveFunnel of no task", err, rekey.ErrNotFound)
}
