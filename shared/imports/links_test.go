package imports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rekey/rekey/shared/memstore"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/roster"
	"github.com/rekey/rekey/shared/roster/rostertest"
)

// guardianBundle is a OneRoster bundle of 44 users in two chunks of 25:
// guardian g1 (row 2) names students stu-30 and stu-31 (rows 31 and 32,
// the second chunk) and the district's existing student "old-1"; student
// stu-3 (row 3) names its guardian g2 (row 44, the second chunk), which
// names nobody; guardian g3 (row 45) names stu-5 (row 5, the first
// chunk). Both sides of OneRoster's links are used, across chunks both
// ways.
func guardianBundle(t *testing.T) []byte {
	t.Helper()
	users := `"sourcedId","status","dateLastModified","enabledUser","orgSourcedIds","role","username","userIds","givenName","familyName","middleName","identifier","email","sms","phone","agentSourcedIds","grades","password"` + "\n"
	row := func(id, role, agents, grade string) {
		users += fmt.Sprintf(`"%s","","","true","org-s1","%s","user.%s","","Given","Family","","","","","","%s","%s",""`+"\n", id, role, id, agents, grade)
	}
	row("g1", "guardian", "stu-30,stu-31,old-1", "")
	row("stu-3", "student", "g2", "05")
	for i := 4; i <= 43; i++ {
		row(fmt.Sprintf("stu-%d", i), "student", "", "05")
	}
	row("g2", "parent", "", "")
	row("g3", "relative", "stu-5", "")
	return rostertest.Zip(t,
		"manifest.csv", `"propertyName","value"`+"\n"+`"manifest.version","1.0"`+"\n"+`"oneroster.version","1.1"`+"\n"+`"file.orgs","bulk"`+"\n"+`"file.users","bulk"`+"\n",
		"orgs.csv", `"sourcedId","status","dateLastModified","name","type","identifier","parentSourcedId"`+"\n"+`"org-s1","","","Oak School","school","",""`+"\n",
		"users.csv", users)
}

// byExternalID reads the district's users by externalId.
func byExternalID(t *testing.T, dir Directory, ids ...string) map[string]rekey.User {
	t.Helper()
	found, err := dir.FindUsers(context.Background(), "d1", ids, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]rekey.User{}
	for _, u := range found {
		out[u.ExternalID] = u
	}
	return out
}

// Guardian rows become guardians, and their links are written on both
// sides whichever chunk comes first, once however often chunks come.
func TestImportGuardiansLinked(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.addOldPupil(t)
	body := guardianBundle(t)
	dry, err := w.svc.Preview(ctx, w.admin, Source{Body: body, ContentType: TypeZip})
	if err != nil || dry.Create != 44 || len(dry.Errors) != 0 {
		t.Fatalf("dry run = %+v, %v; want 44 creates", dry, err)
	}
	task := w.start(t, body, TypeZip)
	if len(w.queue.msgs) != 2 {
		t.Fatalf("%d chunks, want 2", len(w.queue.msgs))
	}
	worker := NewWorker(w.store, nil, nil, nil)
	// The later chunk first, then both again (a redelivery).
	for _, m := range []ChunkMessage{w.queue.msgs[1], w.queue.msgs[0], w.queue.msgs[1], w.queue.msgs[0]} {
		if err := worker.Handle(ctx, m); err != nil {
			t.Fatalf("Handle(%+v): %v", m, err)
		}
	}
	got, results := w.results(t, task.ID)
	if c := count(results); got.Processed != 44 || c[rekey.ImportCreated] != 44 {
		t.Fatalf("task = %+v, outcomes %v; first failure %+v", got, c, firstFailure(results))
	}
	u := byExternalID(t, w.store, "g1", "g2", "g3", "stu-5", "stu-3", "stu-30", "stu-31", "old-1", "stu-4")
	g1, g2 := u["g1"], u["g2"]
	for _, g := range []rekey.User{g1, g2, u["g3"]} {
		if g.Role != rekey.RoleGuardian || g.SchoolID != "s1" || g.PasswordHash != "" {
			t.Errorf("guardian %s = role %s school %q password set %v; want a guardian of s1 without a password",
				g.ExternalID, g.Role, g.SchoolID, g.PasswordHash != "")
		}
	}
	want := map[string][]string{"g1": {u["stu-30"].ID, u["stu-31"].ID, "old1"}, "g2": {u["stu-3"].ID}, "g3": {u["stu-5"].ID}}
	for ext, students := range want {
		if diff := cmp.Diff(students, u[ext].GuardianOf, cmpSorted); diff != "" {
			t.Errorf("%s guardianOf (-want +got):\n%s", ext, diff)
		}
	}
	for ext, guardian := range map[string]string{"stu-30": "g1", "stu-31": "g1", "old-1": "g1", "stu-3": "g2", "stu-5": "g3"} {
		if !slices.Equal(u[ext].Guardians, []string{u[guardian].ID}) || !u[guardian].IsGuardianOf(u[ext]) {
			t.Errorf("%s guardians = %v, want [%s] linked on both sides", ext, u[ext].Guardians, guardian)
		}
	}
	if len(u["stu-4"].Guardians) != 0 {
		t.Errorf("stu-4 got guardians %v", u["stu-4"].Guardians)
	}
	// Each link is audited on both sides, once.
	for _, id := range []string{u["old-1"].ID, u["stu-30"].ID} {
		page, err := w.store.ListAudit(ctx, id, 10, "")
		links := 0
		for _, e := range page.Items {
			if e.Action == rekey.ActionUserUpdate && e.After["guardians"] != nil {
				links++
			}
		}
		if err != nil || links != 1 {
			t.Errorf("audit of %s: %d link entries, %v; want 1 (%+v)", id, links, err, page.Items)
		}
	}

	// The same file again: all unchanged, in the dry run and applied.
	dry, err = w.svc.Preview(ctx, w.admin, Source{Body: body, ContentType: TypeZip})
	if err != nil || dry.Unchanged != 44 || dry.Create+dry.Update+dry.Disable != 0 {
		t.Errorf("re-import dry run = %+v, %v; want 44 unchanged", dry, err)
	}
	w.queue.msgs = nil
	again := w.start(t, body, TypeZip)
	for _, m := range w.queue.msgs {
		if err := worker.Handle(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	got, results = w.results(t, again.ID)
	if c := count(results); got.Skipped != 44 || c[rekey.ImportUnchanged] != 44 {
		t.Errorf("re-import = %+v, outcomes %v; want 44 unchanged", got, c)
	}
	if after := byExternalID(t, w.store, "g1")["g1"]; after.Version != g1.Version {
		t.Errorf("re-import wrote g1: version %d → %d", g1.Version, after.Version)
	}
}

var cmpSorted = cmp.Transformer("sorted", func(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return out
})

// memLinks is a memstore with what linkRow uses; the rest of WorkerStore
// is never called.
type memLinks struct {
	WorkerStore
	mem *memstore.Store
}

func (m memLinks) FindUsers(ctx context.Context, d string, e, u, em []string) ([]rekey.User, error) {
	return m.mem.FindUsers(ctx, d, e, u, em)
}
func (m memLinks) GetUsers(ctx context.Context, ids []string) (map[string]rekey.User, error) {
	return m.mem.GetUsers(ctx, ids)
}
func (m memLinks) WriteUsers(ctx context.Context, uw rekey.UsersWrite) error {
	return m.mem.WriteUsers(ctx, uw)
}

// linkRow on memstore: a link is written on both sides with an audit
// entry each, once; partners of the wrong role, of another district or
// not yet created are left alone.
func TestLinkRowMemstore(t *testing.T) {
	ctx := context.Background()
	store := memstore.New(func() time.Time { return t0 })
	mk := func(id, district string, role rekey.Role) rekey.User {
		u := rekey.User{ID: id, DistrictID: district, SchoolID: "s1", Role: role, Status: rekey.StatusActive, FirstName: "F",
			LastName: "L", Username: id, ExternalID: "ext-" + id, Version: 1, CreatedAt: t0, UpdatedAt: t0}
		if err := store.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		return u
	}
	admin := mk("admin", "d1", rekey.RoleDistrictAdmin)
	mk("g", "d1", rekey.RoleGuardian)
	mk("s", "d1", rekey.RoleStudent)
	mk("teach", "d1", rekey.RoleTeacher)
	mk("far", "d2", rekey.RoleStudent)
	w := NewWorker(memLinks{mem: store}, nil, nil, func() time.Time { return t0 })
	job := rekey.ImportJob{TaskID: "task1", DistrictID: "d1"}
	agents := []string{"ext-s", "ext-teach", "ext-far", "ext-nobody"}

	added, err := w.linkRow(ctx, admin, job, "g", agents)
	if err != nil || !slices.Equal(added, []string{"ext-s"}) {
		t.Fatalf("linkRow = %v, %v; want only ext-s linked", added, err)
	}
	users, _ := store.GetUsers(ctx, []string{"g", "s", "teach"})
	if !users["g"].IsGuardianOf(users["s"]) || !slices.Equal(users["g"].GuardianOf, []string{"s"}) || len(users["teach"].Guardians) != 0 {
		t.Errorf("after linkRow: g %v, s %v, teach %v", users["g"].GuardianOf, users["s"].Guardians, users["teach"].Guardians)
	}
	var entries []string
	for _, e := range store.Audit() {
		entries = append(entries, fmt.Sprintf("%s %s %v→%v", e.TargetID, e.Action, e.Before, e.After))
	}
	wantEntries := []string{"g user.update map[guardianOf:[]]→map[guardianOf:[s]]", "s user.update map[guardians:[]]→map[guardians:[g]]"}
	if diff := cmp.Diff(wantEntries, entries, cmpSorted); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}

	// From the student's side, and again: nothing more to write.
	for _, tc := range []struct{ user, agent string }{{"s", "ext-g"}, {"g", "ext-s"}} {
		if added, err := w.linkRow(ctx, admin, job, tc.user, []string{tc.agent}); err != nil || len(added) != 0 {
			t.Errorf("linkRow(%s, %s) again = %v, %v; want nothing", tc.user, tc.agent, added, err)
		}
	}
	if n := len(store.Audit()); n != 2 {
		t.Errorf("%d audit entries after the repeats, want 2", n)
	}
	// A school admin of another school links nobody.
	other := admin
	other.Role, other.SchoolID = rekey.RoleSchoolAdmin, "s2"
	mk("g2", "d1", rekey.RoleGuardian)
	if added, err := w.linkRow(ctx, other, job, "g2", []string{"ext-s"}); err != nil || len(added) != 0 {
		t.Errorf("linkRow by another school's admin = %v, %v; want nothing", added, err)
	}
}

// The links Start's first reading keeps are mirrored into the rows its
// last reading stores: each row gains the rows naming it, once, in file
// order; a row without an externalId neither names back nor is named.
func TestLinkIndexMirrors(t *testing.T) {
	rows := []roster.Row{
		{ExternalID: "g1", AgentIDs: []string{"s1", "s2", "elsewhere"}},
		{ExternalID: "s1"},
		{ExternalID: "s2", AgentIDs: []string{"g1", "g2"}},
		{ExternalID: "g2"},
		{ExternalID: "s3", AgentIDs: []string{"g2", "g2"}},
		{AgentIDs: []string{"s4"}},
		{ExternalID: "s4"},
	}
	links := newLinkIndex()
	for _, r := range rows {
		links.add(r)
	}
	want := [][]string{{"s1", "s2", "elsewhere"}, {"g1"}, {"g1", "g2"}, {"s2", "s3"}, {"g2", "g2"}, {"s4"}, nil}
	for i, r := range rows {
		got := links.mirror(r)
		if !slices.Equal(got.AgentIDs, want[i]) {
			t.Errorf("row %d (%s) agents = %v, want %v", i, r.ExternalID, got.AgentIDs, want[i])
		}
	}
	if !slices.Equal(rows[2].AgentIDs, []string{"g1", "g2"}) || rows[1].AgentIDs != nil {
		t.Errorf("mirror changed the rows it was given: %v, %v", rows[1].AgentIDs, rows[2].AgentIDs)
	}
}

// chunkRecorder is the store with Start's chunk writes recorded, in the
// order they come with the task's creation, and a failure on chunk failAt
// (when not negative).
type chunkRecorder struct {
	Store
	failAt int
	// together: the first that many chunk writes wait until they are all
	// in flight (Start writes chunks at once, not one after another).
	together int
	arrived  chan struct{}
	opened   bool // arrived is closed
	mu       sync.Mutex
	inFlight int
	events   []string
	chunks   []rekey.ImportChunk
}

func (c *chunkRecorder) PutImportChunk(ctx context.Context, id string, createdAt time.Time, ch rekey.ImportChunk) error {
	c.mu.Lock()
	c.events = append(c.events, fmt.Sprintf("chunk %d", ch.Index))
	c.inFlight++
	wait := ch.Index < c.together
	if c.inFlight == c.together && !c.opened {
		c.opened = true
		close(c.arrived)
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight--
		c.mu.Unlock()
	}()
	if wait {
		select {
		case <-c.arrived:
		case <-time.After(5 * time.Second):
			return fmt.Errorf("chunk %d: the first %d chunks were never written at once", ch.Index, c.together)
		}
	}
	if ch.Index == c.failAt {
		return errors.New("store down")
	}
	c.mu.Lock()
	c.chunks = append(c.chunks, ch)
	c.mu.Unlock()
	return c.Store.PutImportChunk(ctx, id, createdAt, ch)
}

func (c *chunkRecorder) CreateImport(ctx context.Context, rec rekey.TaskRecord, job rekey.ImportJob, audit rekey.AuditEntry) error {
	c.mu.Lock()
	c.events = append(c.events, fmt.Sprintf("task %d chunks, audit %s", job.Chunks, audit.Action))
	c.mu.Unlock()
	return c.Store.CreateImport(ctx, rec, job, audit)
}

// Start stores the rows chunk by chunk, in file order, each row with the
// links that name it mirrored (whichever chunk the naming row is in),
// several chunks at once, and only once all are stored the task; a chunk
// it cannot store fails the start with no task and no message.
func TestStartWritesChunksWithMirroredLinks(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.addOldPupil(t)
	rec := &chunkRecorder{Store: w.store, failAt: -1, together: 3, arrived: make(chan struct{})}
	svc, err := NewService(Deps{Store: rec, Queue: w.queue, Now: func() time.Time { return t0 }, RowsPerChunk: 20})
	if err != nil {
		t.Fatal(err)
	}
	task, err := svc.Start(ctx, w.admin, Source{Body: guardianBundle(t), ContentType: TypeZip}, "req")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rec.events[:len(rec.events)-1]) // the chunks are written at once
	if want := []string{"chunk 0", "chunk 1", "chunk 2", "task 3 chunks, audit import.start"}; !slices.Equal(rec.events, want) {
		t.Errorf("writes = %q, want %q", rec.events, want)
	}
	slices.SortFunc(rec.chunks, func(a, b rekey.ImportChunk) int { return a.Index - b.Index })
	if task.Total != 44 || len(w.queue.msgs) != 3 {
		t.Errorf("task total %d, %d messages; want 44 rows in 3 messages", task.Total, len(w.queue.msgs))
	}
	if stored, err := w.store.GetTask(ctx, task.ID); err != nil || stored.Task.Name != "Roster import · OneRoster 1.1 bundle · 44 rows" || task.Name != stored.Task.Name {
		t.Errorf("task name %q, stored %q (%v); want the import named for the task centre", task.Name, stored.Task.Name, err)
	}
	agents := map[string][]string{}
	var order []int
	for i, ch := range rec.chunks {
		var rows []roster.Row
		if err := json.Unmarshal(ch.Rows, &rows); err != nil {
			t.Fatal(err)
		}
		if stored, err := w.store.GetImportChunk(ctx, task.ID, i); err != nil || string(stored.Rows) != string(ch.Rows) {
			t.Errorf("stored chunk %d = %v; want the rows written", i, err)
		}
		for _, r := range rows {
			order = append(order, r.Row)
			agents[r.ExternalID] = r.AgentIDs
		}
	}
	if len(order) != 44 || !slices.IsSorted(order) {
		t.Errorf("rows stored %v, want the file's 44 in order", order)
	}
	want := map[string][]string{"g1": {"stu-30", "stu-31", "old-1"}, "stu-30": {"g1"}, "stu-31": {"g1"},
		"stu-3": {"g2"}, "g2": {"stu-3"}, "g3": {"stu-5"}, "stu-5": {"g3"}, "stu-4": nil}
	for ext, a := range want {
		if !slices.Equal(agents[ext], a) {
			t.Errorf("stored row %s names %v, want %v", ext, agents[ext], a)
		}
	}

	w.queue.msgs = nil
	failing := &chunkRecorder{Store: w.store, failAt: 1, together: 2, arrived: make(chan struct{})}
	svc, err = NewService(Deps{Store: failing, Queue: w.queue, Now: func() time.Time { return t0 }, RowsPerChunk: 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Start(ctx, w.admin, Source{Body: guardianBundle(t), ContentType: TypeZip}, "req"); err == nil {
		t.Error("Start with a chunk that cannot be stored succeeded")
	}
	// Chunk 2 may be written while chunk 1 fails, never the task.
	slices.Sort(failing.events)
	if got := strings.Join(failing.events, ","); got != "chunk 0,chunk 1" && got != "chunk 0,chunk 1,chunk 2" || len(w.queue.msgs) != 0 {
		t.Errorf("failed start wrote %q and queued %d messages; want chunks only and none", failing.events, len(w.queue.msgs))
	}
}

// addOldPupil stores the student "old-1" that guardianBundle's guardian
// names but whose row is not in the file: a link to a user the district
// already has.
func (w *world) addOldPupil(t *testing.T) {
	t.Helper()
	old := rekey.User{ID: "old1", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Status: rekey.StatusActive,
		FirstName: "Old", LastName: "Pupil", Username: "old.pupil", ExternalID: "old-1", Version: 1, CreatedAt: t0, UpdatedAt: t0}
	if err := w.store.CreateUser(context.Background(), old, nil); err != nil {
		t.Fatal(err)
	}
}
