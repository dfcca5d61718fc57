package bulk

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/bulk/envelope/kmskeys"
	"github.com/rekey/rekey/shared/memstore"
	"github.com/rekey/rekey/shared/rekey"
)

// testStore is the in-memory store (shared/memstore) with what the bulk
// tests need beyond it: a count of GetUsers calls and a SavePlanPage that
// fails once after failPlanAfter calls.
type testStore struct {
	*memstore.Store
	mu sync.Mutex
	// userReads counts the GetUsers calls.
	userReads int
	// failPlanAfter fails SavePlanPage after this many successful calls
	// (0: never).
	failPlanAfter int
	planCalls     int
	// marks counts the MarkEnqueued calls.
	marks int
	// decisions are the audit entries of approvals and rejections.
	decisions []rekey.AuditEntry
}

func newTestStore(now func() time.Time) *testStore {
	ctx := context.Background()
	f := &testStore{Store: memstore.New(now)}
	_ = f.PutDistrict(ctx, rekey.District{ID: "d1", Name: "Riverbend Unified"})
	for _, s := range []rekey.School{
		{ID: "s1", DistrictID: "d1", Name: "Northfield Elementary"},
		{ID: "s2", DistrictID: "d1", Name: "Hillcrest High"},
		{ID: "x1", DistrictID: "d2", Name: "Lakeside Primary"},
	} {
		_ = f.PutSchool(ctx, s)
	}
	for _, u := range []rekey.User{
		{ID: "sup", Role: rekey.RoleSupport},
		{ID: "da1", DistrictID: "d1", Role: rekey.RoleDistrictAdmin},
		{ID: "sa1", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleSchoolAdmin},
		{ID: "t1", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleTeacher},
		{ID: "st1", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Username: "jo.quill", FirstName: "Jo"},
	} {
		u.Status = rekey.StatusActive
		f.put(u)
	}
	return f
}

// put writes u: a new user (named after its id unless it has a username),
// or over the stored one as an administrator's edit would, one version
// later.
func (f *testStore) put(u rekey.User) {
	ctx := context.Background()
	err := f.Edit(ctx, u)
	if errors.Is(err, rekey.ErrNotFound) {
		if u.Username == "" {
			u.Username = u.ID
		}
		err = f.CreateUser(ctx, u, nil)
	}
	if err != nil {
		panic(fmt.Sprintf("test store: put %s: %v", u.ID, err)) // the tests' worlds are valid
	}
}

// DecideTask is the store's, keeping the audit entry of each decision
// made in decisions.
func (f *testStore) DecideTask(ctx context.Context, id string, approve bool, reason string, audit rekey.AuditEntry) (rekey.TaskRecord, error) {
	rec, err := f.Store.DecideTask(ctx, id, approve, reason, audit)
	if err == nil {
		f.mu.Lock()
		f.decisions = append(f.decisions, audit)
		f.mu.Unlock()
	}
	return rec, err
}

// user returns the stored user with the given id (the zero user for none).
func (f *testStore) user(id string) rekey.User {
	u, _ := f.GetUser(context.Background(), id)
	return u
}

// task returns the stored task with the given id (the zero record for none).
func (f *testStore) task(id string) rekey.TaskRecord {
	rec, _ := f.GetTask(context.Background(), id)
	return rec
}

// chunkCount is how many chunks task taskID has.
func (f *testStore) chunkCount(t *testing.T, taskID string) int {
	t.Helper()
	chunks, err := f.ListChunks(context.Background(), taskID, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return len(chunks)
}

// taskCount is how many tasks are stored.
func (f *testStore) taskCount(t *testing.T) int {
	t.Helper()
	recs, next, err := f.ListTasks(context.Background(), rekey.TaskFilter{AllDistricts: true, Limit: 100})
	if err != nil || next != "" {
		t.Fatalf("ListTasks: %v (next %q)", err, next)
	}
	return len(recs)
}

func (f *testStore) GetUsers(ctx context.Context, ids []string) (map[string]rekey.User, error) {
	f.mu.Lock()
	f.userReads++
	f.mu.Unlock()
	return f.Store.GetUsers(ctx, ids)
}

func (f *testStore) MarkEnqueued(ctx context.Context, taskID string, n int) error {
	f.mu.Lock()
	f.marks++
	f.mu.Unlock()
	return f.Store.MarkEnqueued(ctx, taskID, n)
}

func (f *testStore) SavePlanPage(ctx context.Context, taskID string, from, to rekey.TaskPlan, chunks []rekey.Chunk, users int, at time.Time) error {
	f.mu.Lock()
	f.planCalls++
	fail := f.failPlanAfter > 0 && f.planCalls > f.failPlanAfter
	if fail {
		f.failPlanAfter = 0
	}
	f.mu.Unlock()
	if fail {
		return errors.New("test store: unavailable")
	}
	return f.Store.SavePlanPage(ctx, taskID, from, to, chunks, users, at)
}

// recordingQueue records the messages sent, of type T; fail fails the
// next n sends.
type recordingQueue[T any] struct {
	mu       sync.Mutex
	messages []T
	fail     int
}

// fakeQueue is the plan and work queues of the unit tests.
type fakeQueue = recordingQueue[Message]

// jobRecorder is the mail queue of the finish email's and the teacher
// notice's tests.
type jobRecorder = recordingQueue[rekey.MailJob]

func (q *recordingQueue[T]) Send(_ context.Context, m any) error {
	return q.SendBatch(context.Background(), []any{m})
}

func (q *recordingQueue[T]) SendBatch(_ context.Context, ms []any) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail > 0 {
		q.fail--
		return errors.New("fake: queue unavailable")
	}
	for _, m := range ms {
		q.messages = append(q.messages, m.(T))
	}
	return nil
}

// only returns the one message sent when want is set; it fails the test
// unless exactly one was sent then, or none when want is not set (ok is
// false then).
func (q *recordingQueue[T]) only(t *testing.T, want bool) (message T, ok bool) {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	if !want {
		if len(q.messages) != 0 {
			t.Fatalf("queued %+v, want nothing", q.messages)
		}
		return message, false
	}
	if len(q.messages) != 1 {
		t.Fatalf("queued %d messages, want one: %+v", len(q.messages), q.messages)
	}
	return q.messages[0], true
}

// fakeKMS hands out data keys "encrypted" by reversing them.
type fakeKMS struct{}

func (fakeKMS) GenerateDataKey(_ context.Context, _ *kms.GenerateDataKeyInput, _ ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	plain := make([]byte, 32)
	rand.Read(plain)
	return &kms.GenerateDataKeyOutput{Plaintext: append([]byte(nil), plain...), CiphertextBlob: reversed(plain)}, nil
}

func (fakeKMS) Decrypt(_ context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	return &kms.DecryptOutput{Plaintext: reversed(in.CiphertextBlob)}, nil
}

func reversed(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

func newTestService(t *testing.T) (*Service, *testStore, *fakeQueue) {
	t.Helper()
	store, plans := newTestStore(time.Now), &fakeQueue{}
	svc, err := NewService(ServiceDeps{Store: store, Plans: plans, Keys: kmskeys.New(fakeKMS{}, "key")})
	if err != nil {
		t.Fatal(err)
	}
	return svc, store, plans
}

// TestStartRefusesBadInput: every refusal names its field (422) or is
// forbidden, and records nothing.
func TestStartRefusesBadInput(t *testing.T) {
	link := rekey.Delivery{Mode: rekey.DeliverEmailLink}
	many := make([]string, MaxSelectedUsers+1)
	for i := range many {
		many[i] = fmt.Sprintf("u%d", i)
	}
	for _, test := range []struct {
		name      string
		actor     string
		sel       rekey.Selection
		del       rekey.Delivery
		key       string
		wantCode  string
		wantField string
	}{
		{"unknown selection mode", "da1", rekey.Selection{Mode: "everyone"}, link, "", rekey.ECodeInvalidInput, "selection.mode"},
		// A request cannot ask for a follow-up's selection: only FollowUp makes one.
		{"follow-up mode from a request", "da1", rekey.Selection{Mode: rekey.SelectFollowUp}, link, "", rekey.ECodeInvalidInput, "selection.mode"},
		{"unknown delivery mode", "da1", rekey.Selection{Mode: rekey.SelectAll}, rekey.Delivery{Mode: "carrier_pigeon"}, "", rekey.ECodeInvalidInput, "delivery.mode"},
		{"selected without ids", "da1", rekey.Selection{Mode: rekey.SelectSelected}, link, "", rekey.ECodeInvalidInput, "selection.userIds"},
		{"all except without ids", "da1", rekey.Selection{Mode: rekey.SelectAllExcept}, link, "", rekey.ECodeInvalidInput, "selection.userIds"},
		{"ids with all", "da1", rekey.Selection{Mode: rekey.SelectAll, UserIDs: []string{"st1"}}, link, "", rekey.ECodeInvalidInput, "selection.userIds"},
		{"too many ids", "da1", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: many}, link, "", rekey.ECodeInvalidInput, "selection.userIds"},
		{"bad id", "da1", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"../etc"}}, link, "", rekey.ECodeInvalidInput, "selection.userIds"},
		{"unknown role", "da1", rekey.Selection{Mode: rekey.SelectAll, Role: "wizard"}, link, "", rekey.ECodeInvalidInput, "selection.role"},
		{"staff role without role", "da1", rekey.Selection{Mode: rekey.SelectWithoutRole, Role: rekey.RoleTeacher}, link, "", rekey.ECodeInvalidInput, "selection.role"},
		{"role the actor cannot reset", "t1", rekey.Selection{Mode: rekey.SelectAll, Role: rekey.RoleTeacher}, link, "", rekey.ECodeInvalidInput, "selection.role"},
		{"school of another district", "da1", rekey.Selection{Mode: rekey.SelectAll, SchoolID: "x1"}, link, "", rekey.ECodeInvalidInput, "selection.schoolId"},
		{"teacher naming another school", "t1", rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s2"}, link, "", rekey.ECodeInvalidInput, "selection.schoolId"},
		{"teacher naming another district's school", "t1", rekey.Selection{Mode: rekey.SelectAll, SchoolID: "x1"}, link, "", rekey.ECodeInvalidInput, "selection.schoolId"},
		{"only the caller selected", "da1", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"da1", "da1"}}, link, "", rekey.ECodeInvalidInput, "selection.userIds"},
		{"other school for a school admin", "sa1", rekey.Selection{Mode: rekey.SelectAll, SchoolID: "s2"}, link, "", rekey.ECodeInvalidInput, "selection.schoolId"},
		{"unknown school", "da1", rekey.Selection{Mode: rekey.SelectAll, SchoolID: "nowhere"}, link, "", rekey.ECodeInvalidInput, "selection.schoolId"},
		{"grade with control characters", "da1", rekey.Selection{Mode: rekey.SelectAll, Grade: "7\n8"}, link, "", rekey.ECodeInvalidInput, "selection.grade"},
		{"default password missing", "da1", rekey.Selection{Mode: rekey.SelectAll}, rekey.Delivery{Mode: rekey.DeliverDefaultPassword}, "", rekey.ECodeInvalidInput, "delivery.defaultPassword"},
		{"password with email link", "da1", rekey.Selection{Mode: rekey.SelectAll}, rekey.Delivery{Mode: rekey.DeliverEmailLink, DefaultPassword: "x"}, "", rekey.ECodeInvalidInput, "delivery.defaultPassword"},
		{"weak default password", "da1", rekey.Selection{Mode: rekey.SelectWithoutRole}, rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: "password123"}, "", rekey.ECodeWeakPassword, "delivery.defaultPassword"},
		{"student length for staff", "da1", rekey.Selection{Mode: rekey.SelectAll}, rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: "otters dance"}, "", rekey.ECodeWeakPassword, "delivery.defaultPassword"},
		{"default password with the school's name", "sa1", rekey.Selection{Mode: rekey.SelectWithoutRole}, rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: "northfield elementary rocks"}, "", rekey.ECodeWeakPassword, "delivery.defaultPassword"},
		{"idempotency key with a newline", "da1", rekey.Selection{Mode: rekey.SelectAll}, link, "a\nb", rekey.ECodeInvalidInput, "Idempotency-Key"},
		{"a student", "st1", rekey.Selection{Mode: rekey.SelectAll}, link, "", rekey.ECodeForbidden, ""},
	} {
		t.Run(test.name, func(t *testing.T) {
			svc, store, plans := newTestService(t)
			_, err := svc.Start(context.Background(), store.user(test.actor), test.sel, test.del, test.key, "req")
			var e *rekey.Error
			if !errors.As(err, &e) || e.Code != test.wantCode || e.Field != test.wantField {
				t.Fatalf("Start(%+v, %+v) = %v, want %s on %q", test.sel, test.del.Mode, err, test.wantCode, test.wantField)
			}
			if store.taskCount(t) != 0 || len(plans.messages) != 0 {
				t.Errorf("a refused start recorded %d tasks and queued %d messages", store.taskCount(t), len(plans.messages))
			}
		})
	}
}

// TestStartChecksDefaultPasswordForTheStrictestRole: a student-length
// default password is fine for students only; once staff can be reached,
// the staff minimum applies.
func TestStartChecksDefaultPasswordForTheStrictestRole(t *testing.T) {
	for _, test := range []struct {
		actor string
		sel   rekey.Selection
		ok    bool
	}{
		{"da1", rekey.Selection{Mode: rekey.SelectWithoutRole}, true},
		{"da1", rekey.Selection{Mode: rekey.SelectAll, Role: rekey.RoleStudent}, true},
		{"da1", rekey.Selection{Mode: rekey.SelectAll}, false},
		{"da1", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1"}}, false}, // selected ids may be staff
		{"t1", rekey.Selection{Mode: rekey.SelectAll}, true},                                  // teachers reset students only
		{"sa1", rekey.Selection{Mode: rekey.SelectAll}, false},
	} {
		svc, store, _ := newTestService(t)
		_, err := svc.Start(context.Background(), store.user(test.actor), test.sel, rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: "otters dance"}, "", "req")
		if (err == nil) != test.ok {
			t.Errorf("Start(%s, %+v, 12-character default) = %v, want accepted %v", test.actor, test.sel, err, test.ok)
		}
	}
}

func TestStartRecordsAndQueues(t *testing.T) {
	svc, store, plans := newTestService(t)
	sel := rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st1", "t1"}}
	task, err := svc.Start(context.Background(), store.user("sa1"), sel, rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: defaultPasswordForTests}, "k1", "req")
	if err != nil {
		t.Fatal(err)
	}
	rec := store.task(task.ID)
	if rec.Task.Status != rekey.TaskQueued || rec.Task.CreatedBy != "sa1" || rec.CreatorSchoolID != "s1" || len(rec.Task.Selection.UserIDs) != 2 {
		t.Errorf("recorded task = %+v, want queued, by sa1 of s1, ids de-duplicated", rec)
	}
	if rec.Task.Delivery.DefaultPassword != "" || task.Delivery.DefaultPassword != "" {
		t.Error("the default password is stored or returned in clear")
	}
	if want := []Message{{Kind: KindPlan, TaskID: task.ID, InitiatorID: "sa1"}}; !cmp.Equal(plans.messages, want) {
		t.Errorf("queued %+v, want one plan message", plans.messages)
	}
	again, err := svc.Start(context.Background(), store.user("sa1"), sel, rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: defaultPasswordForTests}, "k1", "req")
	if err != nil || again.ID != task.ID || store.taskCount(t) != 1 {
		t.Errorf("repeat with the key = %s, %v, %d tasks; want the original", again.ID, err, store.taskCount(t))
	}
}

// TestStartScheduledRecordsTheSchedule: a schedule's run is a task that
// records its schedule and is named with the schedule's name first (API.md
// task name: "a schedule's name when a schedule started it"); a bulk reset
// started by hand records and names none.
func TestStartScheduledRecordsTheSchedule(t *testing.T) {
	svc, store, _ := newTestService(t)
	sel := rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1"}}
	del := rekey.Delivery{Mode: rekey.DeliverEmailLink}
	sc := rekey.Schedule{ID: "sched1", Name: "Nightly students", Selection: sel, Delivery: del}
	task, err := svc.StartScheduled(context.Background(), sc, store.user("sa1"), "schedule#sched1#1", "req")
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := store.GetTask(context.Background(), task.ID)
	if err != nil || task.ScheduleID != "sched1" || recorded.Task.ScheduleID != "sched1" {
		t.Errorf("scheduled task = %+v, recorded %+v (%v); want scheduleId sched1", task, recorded.Task, err)
	}
	wantName := "Nightly students · Email reset links · 1 selected user"
	if task.Name != wantName || recorded.Task.Name != wantName {
		t.Errorf("scheduled task named %q, recorded %q; want %q", task.Name, recorded.Task.Name, wantName)
	}
	byHand, err := svc.Start(context.Background(), store.user("sa1"), sel, del, "k2", "req")
	if err != nil {
		t.Fatal(err)
	}
	if recorded, err := store.GetTask(context.Background(), byHand.ID); err != nil || recorded.Task.ScheduleID != "" || recorded.Task.Name != "Email reset links · 1 selected user" {
		t.Errorf("task by hand = %+v, %v; want no scheduleId and no schedule in its name", recorded.Task, err)
	}
}

// TestStartIdempotencyKeyBindsTheRequest: a repeated Idempotency-Key
// returns the first task only for the same request (the same decoded
// selection and delivery; user id order and duplicates do not matter);
// any other request with it is 422 idempotency_key_reused, and starts
// nothing (SECURITY.md 19).
func TestStartIdempotencyKeyBindsTheRequest(t *testing.T) {
	first := rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "t1"}}
	pw := rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: defaultPasswordForTests}
	for _, test := range []struct {
		name  string
		actor string
		sel   rekey.Selection
		del   rekey.Delivery
		same  bool // the first task comes back
		code  string
	}{
		{"the same request", "sa1", first, pw, true, ""},
		{"user ids in another order, one twice", "sa1", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"t1", "st1", "t1"}}, pw, true, ""},
		{"another default password", "sa1", first, rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: "purple otters juggle loudly"}, false, rekey.ECodeIdempotencyKeyReused},
		{"another delivery", "sa1", first, rekey.Delivery{Mode: rekey.DeliverEmailLink}, false, rekey.ECodeIdempotencyKeyReused},
		{"fewer users", "sa1", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1"}}, pw, false, rekey.ECodeIdempotencyKeyReused},
		{"another mode", "sa1", rekey.Selection{Mode: rekey.SelectAllExcept, UserIDs: []string{"st1", "t1"}}, pw, false, rekey.ECodeIdempotencyKeyReused},
		{"a grade filter", "sa1", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "t1"}, Grade: "7"}, pw, false, rekey.ECodeIdempotencyKeyReused},
		{"another actor's key space", "da1", rekey.Selection{Mode: rekey.SelectAll}, rekey.Delivery{Mode: rekey.DeliverEmailLink}, false, ""},
	} {
		t.Run(test.name, func(t *testing.T) {
			svc, store, plans := newTestService(t)
			ctx := context.Background()
			task, err := svc.Start(ctx, store.user("sa1"), first, pw, "k1", "req")
			if err != nil {
				t.Fatal(err)
			}
			got, err := svc.Start(ctx, store.user(test.actor), test.sel, test.del, "k1", "req")
			switch {
			case rekey.ErrorCode(err) != test.code:
				t.Fatalf("repeat = %+v, %v; want code %q", got, err, test.code)
			case test.code != "":
				var e *rekey.Error
				if !errors.As(err, &e) || e.Field != "Idempotency-Key" {
					t.Errorf("repeat = %v, want the field Idempotency-Key", err)
				}
				if store.taskCount(t) != 1 || len(plans.messages) != 1 {
					t.Errorf("refused repeat left %d tasks, %d plan messages; want 1, 1", store.taskCount(t), len(plans.messages))
				}
			case test.same && got.ID != task.ID:
				t.Errorf("repeat = task %s, want the first, %s", got.ID, task.ID)
			case !test.same && got.ID == task.ID:
				t.Errorf("repeat = the first task %s, want a new one", got.ID)
			}
		})
	}
}

func TestIdempotencyHashHidesTheDefaultPassword(t *testing.T) {
	del := rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: defaultPasswordForTests}
	a, err := idempotency("sa1", "k1", rekey.Selection{Mode: rekey.SelectAll}, del)
	if err != nil {
		t.Fatal(err)
	}
	b, err := idempotency("sa1", "k2", rekey.Selection{Mode: rekey.SelectAll}, del)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(a.Key+a.RequestHash, "otters") || strings.Contains(a.Key, "k1") {
		t.Errorf("idempotency = %+v holds the password or the raw key", a)
	}
	if a.RequestHash == b.RequestHash {
		t.Error("the request hash does not depend on the key: a table reader could test password guesses against it")
	}
	if none, err := idempotency("sa1", "", rekey.Selection{Mode: rekey.SelectAll}, del); err != nil || none != (rekey.Idempotency{}) {
		t.Errorf("idempotency without a key = %+v, %v; want none", none, err)
	}
}

const defaultPasswordForTests = "purple otters juggle quietly"

// pagedPlan is a store with task1, an email-link task for the students of
// s1 (st1 and nine pupils: five pages of two), and a planner of it that
// plans two users a page, queuing its chunks on work.
func pagedPlan(t *testing.T) (*testStore, *fakeQueue, *Planner) {
	t.Helper()
	store, work := newTestStore(time.Now), &fakeQueue{}
	for i := range 9 {
		id := fmt.Sprintf("p%02d", i)
		store.put(rekey.User{ID: id, DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Status: rekey.StatusActive})
	}
	store.SeedTask(rekey.TaskRecord{Task: rekey.Task{ID: "task1", Status: rekey.TaskQueued, CreatedBy: "da1",
		Selection: rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1"}, Delivery: rekey.Delivery{Mode: rekey.DeliverEmailLink}}}, nil)
	p, err := NewPlanner(Config{}, PlannerDeps{Store: store, Work: work, Plans: &fakeQueue{}})
	if err != nil {
		t.Fatal(err)
	}
	p.pageSize = 2
	return store, work, p
}

// TestPlannerResumes: a planner that fails midway (after writing a page,
// before queuing it; or before writing) is run again and ends with every
// user in exactly one chunk and every chunk queued.
func TestPlannerResumes(t *testing.T) {
	store, work, p := pagedPlan(t)

	store.failPlanAfter = 2 // the third page fails to save
	work.fail = 1           // and the first page fails to queue
	if err := p.Plan(context.Background(), "task1"); err == nil {
		t.Fatal("Plan with a failing queue succeeded")
	}
	if err := p.Plan(context.Background(), "task1"); err == nil {
		t.Fatal("Plan with a failing store succeeded")
	}
	if err := p.Plan(context.Background(), "task1"); err != nil {
		t.Fatalf("Plan, third run: %v", err)
	}
	if err := p.Plan(context.Background(), "task1"); err != nil {
		t.Fatalf("Plan of a planned task: %v", err)
	}
	rec := store.task("task1")
	chunks, err := store.ListChunks(context.Background(), "task1", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, c := range chunks {
		for _, id := range c.UserIDs {
			seen[id]++
		}
	}
	queued := map[int]bool{}
	for _, m := range work.messages {
		queued[m.Chunk] = true
	}
	// The initiator is not a student of s1; st1 and the 9 pupils are.
	if len(seen) != 10 || rec.Task.Total != 10 || !rec.Plan.Done || len(queued) != rec.Plan.Chunks || rec.Plan.Enqueued != rec.Plan.Chunks {
		t.Errorf("after resuming: users %v, task %+v, queued chunks %v; want 10 users once each, all chunks queued", seen, rec, queued)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s is in %d chunks, want 1", id, n)
		}
	}
}

// TestPlannerRecordsQueuedChunksWithTheNextPage: each page's write
// records that the pages before it are queued, so a plan of five pages
// takes one MarkEnqueued (the last page's), and ends with every chunk
// queued once and recorded as queued.
func TestPlannerRecordsQueuedChunksWithTheNextPage(t *testing.T) {
	store, work, p := pagedPlan(t)
	if err := p.Plan(context.Background(), "task1"); err != nil {
		t.Fatalf("Plan: %v", err)
	}
	rec := store.task("task1")
	queued := map[int]int{}
	for _, m := range work.messages {
		queued[m.Chunk]++
	}
	if store.planCalls != 5 || store.marks != 1 || rec.Plan != (rekey.TaskPlan{Chunks: 5, Enqueued: 5, Done: true}) || len(queued) != 5 || len(work.messages) != 5 {
		t.Errorf("%d pages written, %d MarkEnqueued, plan %+v, queued %v; want 5 pages, 1 MarkEnqueued, 5 chunks queued once and recorded",
			store.planCalls, store.marks, rec.Plan, queued)
	}
}

func TestPlannerFailsTaskOfCreatorWhoLostRights(t *testing.T) {
	store, work := newTestStore(time.Now), &fakeQueue{}
	off := store.user("da1")
	off.Status = rekey.StatusDisabled
	store.put(off)
	store.SeedTask(rekey.TaskRecord{Task: rekey.Task{ID: "task1", Status: rekey.TaskQueued, CreatedBy: "da1", Selection: rekey.Selection{Mode: rekey.SelectAll}}}, nil)
	p, _ := NewPlanner(Config{}, PlannerDeps{Store: store, Work: work, Plans: &fakeQueue{}})
	if err := p.Plan(context.Background(), "task1"); err != nil {
		t.Fatal(err)
	}
	if rec := store.task("task1"); rec.Task.Status != rekey.TaskFailed || !strings.Contains(rec.Reason, "creator") || len(work.messages) != 0 {
		t.Errorf("task = %+v, %d chunks queued; want failed, naming the creator, nothing queued", rec, len(work.messages))
	}
}

func TestCSVSafe(t *testing.T) {
	for _, test := range []struct{ in, want string }{
		{"=1+1", "'=1+1"}, {"+SUM(A1)", "'+SUM(A1)"}, {"-2", "'-2"}, {"@cmd", "'@cmd"},
		{"\tx", "'\tx"}, {"\rx", "'\rx"}, {"\x00x", "'\x00x"}, {"jo.quill", "jo.quill"}, {"", ""}, {"a=b", "a=b"},
	} {
		if got := csvSafe(test.in); got != test.want {
			t.Errorf("csvSafe(%q) = %q, want %q", test.in, got, test.want)
		}
	}
}

func TestTaskView(t *testing.T) {
	t0 := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	running := rekey.TaskRecord{Task: rekey.Task{Status: rekey.TaskRunning, Total: 10, Processed: 10}, Plan: rekey.TaskPlan{Done: true}, StartedAt: t0, LastProcessedAt: t0.Add(time.Minute)}
	withErrors := running
	withErrors.Task.Failed = 1
	partly := running
	partly.Task.Processed = 5
	unplanned := running
	unplanned.Plan.Done = false
	cancelled := running
	cancelled.Task.Status, cancelled.Task.FinishedAt = rekey.TaskCancelled, t0
	for _, test := range []struct {
		name     string
		rec      rekey.TaskRecord
		status   rekey.TaskStatus
		finished time.Time
	}{
		{"all processed", running, rekey.TaskCompleted, t0.Add(time.Minute)},
		{"with failures", withErrors, rekey.TaskCompletedWithErrors, t0.Add(time.Minute)},
		{"half way", partly, rekey.TaskRunning, time.Time{}},
		{"still planning", unplanned, rekey.TaskRunning, time.Time{}},
		{"cancelled", cancelled, rekey.TaskCancelled, t0},
	} {
		got := taskView(test.rec, t0.Add(2*time.Minute))
		if got.Status != test.status || !got.FinishedAt.Equal(test.finished) {
			t.Errorf("taskView(%s) = %s finished %v, want %s finished %v", test.name, got.Status, got.FinishedAt, test.status, test.finished)
		}
	}
	if got := taskView(partly, t0.Add(2*time.Minute)); !got.EstimatedFinishAt.Equal(t0.Add(4 * time.Minute)) {
		t.Errorf("estimate half way after 2 minutes = %v, want 2 more minutes", got.EstimatedFinishAt)
	}
}
