package imports

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rekey/rekey/infra/bench/callcount"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/shared/dynamo"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/roster"
)

func TestMain(m *testing.M) { mototest.Main(m) }

var t0 = time.Date(2026, 9, 1, 7, 0, 0, 0, time.UTC)

// fakeQueue keeps the chunk messages instead of sending them.
type fakeQueue struct {
	mu   sync.Mutex
	msgs []ChunkMessage
}

func (q *fakeQueue) SendBatch(_ context.Context, messages []any) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range messages {
		q.msgs = append(q.msgs, m.(ChunkMessage))
	}
	return nil
}

// world is a district (d1) with one school, its district admin, on moto.
type world struct {
	store *dynamo.Store
	svc   *Service
	queue *fakeQueue
	admin rekey.User
}

func newWorld(t *testing.T) *world { return newCountedWorld(t, nil, 25) }

// newCountedWorld is newWorld with its AWS calls counted in calls (when
// not nil) and chunks of rowsPerChunk rows.
func newCountedWorld(t *testing.T, calls *callcount.Counter, rowsPerChunk int) *world {
	t.Helper()
	ctx := context.Background()
	cfg := mototest.Config(t)
	if calls != nil {
		cfg = calls.Attach(cfg)
	}
	store := dynamo.New(dynamodb.NewFromConfig(cfg), mototest.Table(t, cfg), func() time.Time { return t0 })
	if err := store.PutDistrict(ctx, rekey.District{ID: "d1", Name: "District One"}); err != nil {
		t.Fatal(err)
	}
	if err := store.PutSchool(ctx, rekey.School{ID: "s1", DistrictID: "d1", Name: "Oak School"}); err != nil {
		t.Fatal(err)
	}
	admin := rekey.User{ID: "admin1", DistrictID: "d1", Role: rekey.RoleDistrictAdmin, Status: rekey.StatusActive,
		FirstName: "Dee", LastName: "Admin", Username: "dee.admin", Version: 1, CreatedAt: t0, UpdatedAt: t0}
	if err := store.CreateUser(ctx, admin, nil); err != nil {
		t.Fatal(err)
	}
	q := &fakeQueue{}
	svc, err := NewService(Deps{Store: store, Queue: q, Now: func() time.Time { return t0 }, RowsPerChunk: rowsPerChunk})
	if err != nil {
		t.Fatal(err)
	}
	return &world{store: store, svc: svc, queue: q, admin: admin}
}

func (w *world) start(t *testing.T, body []byte, contentType string) rekey.Task {
	t.Helper()
	task, err := w.svc.Start(context.Background(), w.admin, Source{Body: body, ContentType: contentType}, "req")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return task
}

// results reads every row result of an import.
func (w *world) results(t *testing.T, id string) (rekey.Task, []rekey.ImportRowResult) {
	t.Helper()
	var all []rekey.ImportRowResult
	for chunk := 0; chunk >= 0; {
		d, err := w.svc.Get(context.Background(), w.admin, id, chunk)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, d.Results...)
		chunk = d.Next
		if chunk < 0 {
			return d.Task, all
		}
	}
	return rekey.Task{}, nil
}

func bundle(t *testing.T, users, schools int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := roster.GenerateBundle(&b, users, schools); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// count tallies outcomes.
func count(results []rekey.ImportRowResult) map[string]int {
	out := map[string]int{}
	for _, r := range results {
		out[r.Outcome]++
	}
	return out
}

func TestImportBundleTwiceDelivered(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	task := w.start(t, bundle(t, 60, 2), TypeZip)
	if len(w.queue.msgs) != 3 {
		t.Fatalf("%d chunk messages, want 3 (60 rows, 25 a chunk)", len(w.queue.msgs))
	}
	worker := NewWorker(w.store, nil, nil, func() time.Time { return t0 })
	// Every message delivered twice, the second time after the first.
	for _, m := range append(append([]ChunkMessage{}, w.queue.msgs...), w.queue.msgs...) {
		if err := worker.Handle(ctx, m); err != nil {
			t.Fatalf("Handle(%+v): %v", m, err)
		}
	}
	got, results := w.results(t, task.ID)
	c := count(results)
	if got.Processed != 60 || got.Succeeded+got.Skipped != 60 || got.Failed != 0 || len(results) != 60 || c[rekey.ImportFailed] != 0 {
		t.Fatalf("task = %+v, outcomes %v; first failure %+v", got, c, firstFailure(results))
	}
	if got.Status != rekey.TaskCompleted {
		t.Errorf("status %s, want completed", got.Status)
	}
	// The same file again plans only unchanged rows, guardians included.
	summary, err := w.svc.Preview(ctx, w.admin, Source{Body: bundle(t, 60, 2), ContentType: TypeZip})
	if err != nil || summary.Create+summary.Update+summary.Disable != 0 || summary.Unchanged != 60 {
		t.Errorf("re-import preview = %+v, %v; want all unchanged", summary, err)
	}
}

func firstFailure(results []rekey.ImportRowResult) rekey.ImportRowResult {
	for _, r := range results {
		if r.Outcome == rekey.ImportFailed {
			return r
		}
	}
	return rekey.ImportRowResult{}
}

// crashingStore fails every user write after the first `after`, as a
// worker killed midway leaves things: some rows written, no results.
type crashingStore struct {
	*dynamo.Store
	mu     sync.Mutex
	after  int
	writes int
}

var errCrash = errors.New("crash")

func (s *crashingStore) WriteImportUsers(ctx context.Context, writes []rekey.ImportWrite) ([]error, error) {
	s.mu.Lock()
	n := max(0, min(len(writes), s.after-s.writes))
	s.writes += len(writes)
	s.mu.Unlock()
	if n < len(writes) {
		if n > 0 {
			if _, err := s.Store.WriteImportUsers(ctx, writes[:n]); err != nil {
				return nil, err
			}
		}
		return nil, errCrash
	}
	return s.Store.WriteImportUsers(ctx, writes)
}

func TestImportCrashMidChunk(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	csv := "username,firstName,lastName,role,school,email\n"
	for i := range 20 {
		csv += strings.NewReplacer("N", string(rune('a'+i%26))+string(rune('a'+i/26))).Replace("user.N,First,Last,student,s1,N@example.org\n")
	}
	task := w.start(t, []byte(csv), TypeCSV)
	crashing := &crashingStore{Store: w.store, after: 8}
	if err := NewWorker(crashing, nil, nil, nil).Handle(ctx, w.queue.msgs[0]); !errors.Is(err, errCrash) {
		t.Fatalf("Handle on a crashing store = %v, want the crash", err)
	}
	if got, _ := w.results(t, task.ID); got.Processed != 0 {
		t.Fatalf("a crashed chunk counted %d rows", got.Processed)
	}
	// The redelivered message finishes the chunk: 20 users, each once.
	if err := NewWorker(w.store, nil, nil, nil).Handle(ctx, w.queue.msgs[0]); err != nil {
		t.Fatal(err)
	}
	got, results := w.results(t, task.ID)
	if got.Processed != 20 || got.Succeeded != 20 || count(results)[rekey.ImportCreated] != 20 {
		t.Fatalf("after the retry: %+v, outcomes %v", got, count(results))
	}
	found, err := w.store.FindUsers(ctx, "d1", nil, []string{"user.aa", "user.ea", "user.pa"}, nil)
	if err != nil || len(found) != 3 {
		t.Fatalf("FindUsers = %d users, %v", len(found), err)
	}
	for _, u := range found {
		page, err := w.store.ListAudit(ctx, u.ID, 10, "")
		if err != nil || len(page.Items) != 1 || page.Items[0].Action != rekey.ActionUserCreate {
			t.Errorf("audit of %s = %+v, %v; want one user.create", u.Username, page.Items, err)
		}
	}
}

// Two workers on the same chunk at once: every user is created once and
// the chunk counted once.
func TestImportConcurrentDelivery(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	csv := "username,firstName,lastName,role,school\n"
	for i := range 12 {
		csv += "pupil." + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ",P,Q,student,s1\n"
	}
	task := w.start(t, []byte(csv), TypeCSV)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { errs[i] = NewWorker(w.store, nil, nil, nil).Handle(ctx, w.queue.msgs[0]) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("Handle: %v", err)
		}
	}
	got, results := w.results(t, task.ID)
	if got.Processed != 12 || count(results)[rekey.ImportCreated] != 12 {
		t.Errorf("task = %+v, outcomes %v; want 12 created, counted once", got, count(results))
	}
}

func TestImportRefusedWritesNothing(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	csv := "username,firstName,lastName,role,school,email\ngood.one,G,O,student,s1,\nbad.one,B,O,student,s1,not-an-email\n"
	_, err := w.svc.Start(ctx, w.admin, Source{Body: []byte(csv), ContentType: TypeCSV}, "")
	invalid, ok := roster.AsInvalid(err)
	if !ok || rekey.ErrorCode(err) != rekey.ECodeImportInvalid || len(invalid.Issues) != 1 || invalid.Issues[0].Row != 3 {
		t.Fatalf("Start = %v, want import_invalid naming row 3", err)
	}
	if len(w.queue.msgs) != 0 {
		t.Errorf("a refused import queued %d chunks", len(w.queue.msgs))
	}
	if found, _ := w.store.FindUsers(ctx, "d1", nil, []string{"good.one"}, nil); len(found) != 0 {
		t.Errorf("a refused import wrote good.one")
	}
}

// The worker's AWS calls per 1,000 rows of a generated bundle (all new
// users, a guardian for about one student in ten)
// stay within budget: the users are written some 20 rows a transaction
// and the links a chunk at a time, not one transaction per row (about
// 1,600 calls per 1,000 rows before).
func TestImportCallBudget(t *testing.T) {
	ctx := context.Background()
	var calls callcount.Counter
	// One chunk of 100 rows: moto's transactions (without the benchmarks'
	// patch) copy the table per item, so a full chunk would be slow here.
	const rows = 100
	w := newCountedWorld(t, &calls, rows)
	task := w.start(t, bundle(t, rows, 4), TypeZip)
	worker := NewWorker(w.store, nil, nil, nil)
	calls.Reset()
	for _, m := range w.queue.msgs {
		if err := worker.Handle(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	perThousand := calls.Total() * 1000 / rows
	got, results := w.results(t, task.ID)
	if c := count(results); got.Processed != rows || c[rekey.ImportCreated] != rows {
		t.Fatalf("task = %+v, outcomes %v; first failure %+v", got, c, firstFailure(results))
	}
	const budget = 200
	if perThousand > budget {
		t.Errorf("%d calls per 1,000 rows (%s), want at most %d", perThousand, &calls, budget)
	}
	t.Logf("%d calls per 1,000 rows: %s", perThousand, &calls)
	// Every generated guardian is linked on both sides.
	u := byExternalID(t, w.store, "u0000023", "u0000022")
	if g, s := u["u0000023"], u["u0000022"]; !g.IsGuardianOf(s) || !slices.Contains(s.Guardians, g.ID) {
		t.Errorf("guardian u0000023 %v, student u0000022 %v: want linked", g.GuardianOf, s.Guardians)
	}
}

// schoolCounter counts the worker's reads of the district's school list.
type schoolCounter struct {
	WorkerStore
	mu    sync.Mutex
	reads int
}

func (s *schoolCounter) ListSchools(ctx context.Context, districtID string) ([]rekey.School, error) {
	s.mu.Lock()
	s.reads++
	s.mu.Unlock()
	return s.WorkerStore.ListSchools(ctx, districtID)
}

// The worker reads the district's schools once per import, not once per
// chunk (a Query of the schools index each, which on moto walks the whole
// table: the apply slowed as the table grew), again for another import,
// and again once the cached list is a minute old.
func TestWorkerReadsSchoolsOncePerImport(t *testing.T) {
	ctx := context.Background()
	w := newCountedWorld(t, nil, 10)
	now := t0
	counter := &schoolCounter{WorkerStore: w.store}
	worker := NewWorker(counter, nil, nil, func() time.Time { return now })
	body := bundle(t, 60, 2)
	task := w.start(t, body, TypeZip)
	if len(w.queue.msgs) != 6 {
		t.Fatalf("%d chunks, want 6", len(w.queue.msgs))
	}
	for _, m := range w.queue.msgs {
		if err := worker.Handle(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	got, results := w.results(t, task.ID)
	if c := count(results); got.Processed != 60 || c[rekey.ImportCreated] != 60 {
		t.Fatalf("task = %+v, outcomes %v; first failure %+v", got, c, firstFailure(results))
	}
	if counter.reads != 1 {
		t.Errorf("school list read %d times for 6 chunks, want once", counter.reads)
	}
	// Another import (the same rows, now unchanged) reads it anew; a
	// minute later, again.
	w.queue.msgs = nil
	again := w.start(t, body, TypeZip)
	for i, m := range w.queue.msgs {
		if i == 3 {
			now = now.Add(schoolCacheFor)
		}
		if err := worker.Handle(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := w.results(t, again.ID); got.Skipped != 60 {
		t.Errorf("re-import = %+v, want 60 unchanged", got)
	}
	if counter.reads != 3 {
		t.Errorf("school list read %d times in all, want 3 (first import, second, a minute into it)", counter.reads)
	}
}

// An import's start is audited with its task, in the same write: who
// started it, the plan's counts and the schools it created (which have no
// record of their own otherwise).
func TestImportStartAudited(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	task := w.start(t, bundle(t, 30, 2), TypeZip)
	page, err := w.store.ListAudit(ctx, task.ID, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 {
		t.Fatalf("%d audit entries on the import task, want 1: %+v", len(page.Items), page.Items)
	}
	e := page.Items[0]
	schools, err := w.store.ListSchools(ctx, "d1")
	if err != nil {
		t.Fatal(err)
	}
	var created []string
	for _, sc := range schools {
		if sc.ID != "s1" && sc.ID != "s2" {
			created = append(created, sc.Name)
		}
	}
	if e.Action != rekey.ActionImportStart || e.ActorID != w.admin.ID || e.Outcome != rekey.OutcomeSuccess || e.RequestID != "req" {
		t.Errorf("audit entry %+v, want import.start by %s with the request id", e, w.admin.ID)
	}
	if !strings.Contains(e.Detail, "create 30") || len(created) == 0 {
		t.Errorf("detail %q (new schools %q), want the counts", e.Detail, created)
	}
	for _, name := range created {
		if !strings.Contains(e.Detail, name) {
			t.Errorf("detail %q does not name the new school %q", e.Detail, name)
		}
	}
}
