package bulk_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/dynamo"
	"github.com/rekey/rekey/shared/memstore"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/testclock"
)

// TestTaskReadRemembersFunnel: the console polls a task every two
// seconds; a second read within the freshness window reads no chunk, no
// mail state and no user (only the task item), and shows the remembered
// funnel; once the window has passed, a read works it out again, showing
// the bounce and the completion that came in meanwhile, and remembers it.
// Before, every read made the whole pass.
func TestTaskReadRemembersFunnel(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st2", "st3"}}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.run(t)
	admin := w.current(t, "dana.admin")
	get := func(what string) (*rekey.Funnel, map[string]int) {
		t.Helper()
		w.calls.Reset()
		got, err := w.svc.Get(w.ctx, admin, task.ID)
		if err != nil {
			t.Fatalf("Get (%s): %v", what, err)
		}
		return got.Funnel, w.calls.Snapshot()
	}
	sentOnly := &rekey.Funnel{Sent: 3}

	first, calls := get("first read")
	if diff := cmp.Diff(sentOnly, first); diff != "" {
		t.Errorf("first read's funnel (-want +got):\n%s", diff)
	}
	if calls["DynamoDB.Query"] == 0 || calls["DynamoDB.UpdateItem"] != 1 {
		t.Errorf("first read made %v, want the chunks read and one UpdateItem remembering the funnel", calls)
	}
	if rec, err := w.store.GetTask(w.ctx, task.ID); err != nil || !cmp.Equal(rec.Funnel, sentOnly) || !rec.FunnelAt.Equal(w.clock.Now()) {
		t.Errorf("remembered funnel = %+v at %v, %v; want %+v at %v", rec.Funnel, rec.FunnelAt, err, sentOnly, w.clock.Now())
	}

	w.clock.Add(2 * time.Second)
	again, calls := get("a poll two seconds later")
	if diff := cmp.Diff(map[string]int{"DynamoDB.GetItem": 1}, calls); diff != "" {
		t.Errorf("a poll within the window made other calls than reading the task (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(sentOnly, again); diff != "" {
		t.Errorf("a poll's funnel (-want +got):\n%s", diff)
	}

	// st2's email bounces and st1 sets a password with the link.
	w.clock.Add(10 * time.Second)
	chunks, err := w.store.ListChunks(w.ctx, task.ID, 0, 1)
	if err != nil || len(chunks) != 1 {
		t.Fatalf("ListChunks = %d, %v", len(chunks), err)
	}
	for _, e := range chunks[0].Entries {
		if e.Result.UserID == "st2" {
			if err := w.store.RecordMailEvent(w.ctx, rekey.MailEvent{MessageID: e.MessageID, Type: rekey.MailBounced}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.resetsService(t).ResetWithToken(w.ctx, tokenIn(t, w.sentTo("jo.quill")[0].HTML), "a brand new passphrase", "req"); err != nil {
		t.Fatalf("redeem the link: %v", err)
	}
	if stale, calls := get("within the minute"); !cmp.Equal(stale, sentOnly) || calls["DynamoDB.Query"] != 0 {
		t.Errorf("within the minute: funnel %+v with %v; want the remembered %+v, no chunk read", stale, calls, sentOnly)
	}

	w.clock.Add(time.Minute)
	fresh, calls := get("after the window")
	want := &rekey.Funnel{Sent: 3, Delivered: 1, Bounced: 1, Completed: 1}
	if diff := cmp.Diff(want, fresh); diff != "" {
		t.Errorf("after the window, funnel (-want +got):\n%s", diff)
	}
	if calls["DynamoDB.Query"] == 0 || calls["DynamoDB.UpdateItem"] != 1 {
		t.Errorf("after the window the read made %v, want the chunks read again and the funnel remembered", calls)
	}
	if rec, err := w.store.GetTask(w.ctx, task.ID); err != nil || !cmp.Equal(rec.Funnel, want) || !rec.FunnelAt.Equal(w.clock.Now()) {
		t.Errorf("remembered funnel = %+v at %v, %v; want %+v at %v", rec.Funnel, rec.FunnelAt, err, want, w.clock.Now())
	}
	// The listing does not carry it.
	page, err := w.svc.List(w.ctx, admin, 10, "")
	if err != nil || len(page.Items) != 1 || page.Items[0].Funnel != nil {
		t.Errorf("List = %+v, %v; want the task without its funnel", page.Items, err)
	}
}

// nopQueue is a plan queue for services that start nothing.
type nopQueue struct{}

func (nopQueue) Send(context.Context, any) error        { return nil }
func (nopQueue) SendBatch(context.Context, []any) error { return nil }

// listCounter counts the chunk pages a funnel reads.
type listCounter struct {
	*memstore.Store
	mu    sync.Mutex
	lists int
}

func (s *listCounter) ListChunks(ctx context.Context, taskID string, from, n int) ([]rekey.Chunk, error) {
	s.mu.Lock()
	s.lists++
	s.mu.Unlock()
	return s.Store.ListChunks(ctx, taskID, from, n)
}

// TestFunnelFreshness: which remembered funnels a read shows and which it
// works out again. The remembered one says 99 sent; the task's one chunk
// says 1.
func TestFunnelFreshness(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	remembered, worked := &rekey.Funnel{Sent: 99}, &rekey.Funnel{Sent: 1}
	for _, test := range []struct {
		name     string
		finished bool // the last chunk was done, at t0
		age      time.Duration
		want     *rekey.Funnel
	}{
		{"running, 29 s old", false, 29 * time.Second, remembered},
		{"running, 31 s old", false, 31 * time.Second, worked},
		{"running, from a clock 10 s ahead", false, -10 * time.Second, remembered},
		{"running, from a clock an hour ahead", false, -time.Hour, worked},
		{"finished, worked out after the end, 59 s old", true, 59 * time.Second, remembered},
		{"finished, worked out after the end, 61 s old", true, 61 * time.Second, worked},
		{"finished, worked out before the end", true, -time.Second, worked},
	} {
		t.Run(test.name, func(t *testing.T) {
			t.Parallel()
			clock := testclock.New(t0.Add(time.Hour))
			store := &listCounter{Store: memstore.New(clock.Now)}
			admin := rekey.User{ID: "da1", DistrictID: "d1", Role: rekey.RoleDistrictAdmin, Status: rekey.StatusActive, Username: "dana.admin", Version: 1}
			pupil := rekey.User{ID: "st1", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Status: rekey.StatusActive, Username: "jo.quill", Version: 1}
			for _, u := range []rekey.User{admin, pupil} {
				if err := store.CreateUser(context.Background(), u, nil); err != nil {
					t.Fatal(err)
				}
			}
			rec := rekey.TaskRecord{
				Task: rekey.Task{ID: rekey.NewID(), Kind: rekey.TaskKindBulkReset, Status: rekey.TaskRunning, DistrictID: "d1",
					Delivery: rekey.Delivery{Mode: rekey.DeliverEmailLink}, Total: 2, Processed: 1, Emailed: 1, CreatedBy: "da1", CreatedAt: t0.Add(-time.Hour)},
				CreatorRole: rekey.RoleDistrictAdmin, StartedAt: t0.Add(-time.Hour), LastProcessedAt: t0.Add(-time.Minute),
				Plan:   rekey.TaskPlan{Chunks: 1, Done: true},
				Funnel: remembered,
			}
			if test.finished {
				rec.Task.Processed, rec.LastProcessedAt = 2, t0
			}
			clock.Set(t0.Add(time.Hour))
			rec.FunnelAt = clock.Now().Add(-test.age)
			if test.finished && test.age < 0 {
				clock.Set(t0.Add(30 * time.Second)) // read 30 s after the end; remembered a second before it
				rec.FunnelAt = t0.Add(-time.Second)
			}
			store.SeedTask(rec, nil, rekey.Chunk{TaskID: rec.Task.ID, Index: 0, UserIDs: []string{"st1", "st2"}, Entries: []rekey.ChunkEntry{
				{Result: rekey.TaskResult{UserID: "st1", Outcome: rekey.OutcomeEmailed, ReachedAt: t0.Add(-time.Hour)}},
				{Result: rekey.TaskResult{UserID: "st2", Outcome: rekey.OutcomeSkipped}},
			}})
			svc, err := bulk.NewService(bulk.ServiceDeps{Store: store, Plans: nopQueue{}, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			got, err := svc.Get(context.Background(), admin, rec.Task.ID)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if diff := cmp.Diff(test.want, got.Funnel); diff != "" {
				t.Errorf("funnel (-want +got):\n%s", diff)
			}
			if reads := store.lists; (reads > 0) != (test.want == worked) {
				t.Errorf("the read listed chunks %d times; want reads only when working the funnel out", reads)
			}
			saved, _ := store.GetTask(context.Background(), rec.Task.ID)
			if test.want == worked && test.age > -time.Minute && (!cmp.Equal(saved.Funnel, worked) || !saved.FunnelAt.Equal(clock.Now())) {
				t.Errorf("remembered = %+v at %v, want %+v at %v", saved.Funnel, saved.FunnelAt, worked, clock.Now())
			}
		})
	}
}

// inFlightCounter notes how many chunk pages are being read at once.
type inFlightCounter struct {
	*dynamo.Store
	mu        sync.Mutex
	now, peak int
}

func (s *inFlightCounter) ListChunks(ctx context.Context, taskID string, from, n int) ([]rekey.Chunk, error) {
	s.mu.Lock()
	s.now++
	s.peak = max(s.peak, s.now)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.now--
		s.mu.Unlock()
	}()
	time.Sleep(20 * time.Millisecond) // long enough for the other pages to start
	return s.Store.ListChunks(ctx, taskID, from, n)
}

// TestFunnelReadsPagesAtOnce: a task of 35 chunks (4 pages) is counted
// with a few pages in flight, never more than the bound, and the counts
// equal the sequential pass's and the ones its entries call for.
func TestFunnelReadsPagesAtOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	admin := w.current(t, "dana.admin")
	now := w.clock.Now()
	// st1 set a password of their own after the task reached them.
	st1 := w.byID(t, "st1")
	after := st1
	after.Version, after.PasswordChangedAt = st1.Version+1, now.Add(time.Minute)
	if err := w.store.UpdateUser(w.ctx, st1, after, nil); err != nil {
		t.Fatal(err)
	}
	w.clock.Add(2 * time.Minute)

	const chunks = 35
	var events []rekey.MailEvent
	rec := rekey.TaskRecord{Task: rekey.Task{
		ID: rekey.NewID(), Kind: rekey.TaskKindBulkReset, Status: rekey.TaskQueued, DistrictID: "d1",
		Selection: rekey.Selection{Mode: rekey.SelectAll}, Delivery: rekey.Delivery{Mode: rekey.DeliverEmailLink},
		CreatedBy: admin.ID, CreatedAt: now,
	}, CreatorRole: admin.Role}
	if _, _, err := w.store.CreateTask(w.ctx, rec, nil, rekey.Idempotency{}, rekey.AuditEntry{ID: rekey.NewID(), At: now, ActorID: admin.ID, TargetID: rec.Task.ID, Action: rekey.ActionBulkStart}); err != nil {
		t.Fatal(err)
	}
	var all []rekey.Chunk
	for i := range chunks {
		msg := func(n int) string { return rec.Task.ID + "-" + string(rune('a'+n)) + "-" + time.Duration(i).String() }
		c := rekey.Chunk{TaskID: rec.Task.ID, Index: i, UserIDs: []string{"st1", "st2", "st3", "st4", "st5"}, Done: true, Entries: []rekey.ChunkEntry{
			{Result: rekey.TaskResult{UserID: "st1", Outcome: rekey.OutcomeEmailed, ReachedAt: now}, MessageID: msg(1)},
			{Result: rekey.TaskResult{UserID: "st2", Outcome: rekey.OutcomeEmailed, ReachedAt: now}, MessageID: msg(2)},
			{Result: rekey.TaskResult{UserID: "st3", Outcome: rekey.OutcomeEmailed, ReachedAt: now}, MessageID: msg(3)},
			{Result: rekey.TaskResult{UserID: "st4", Outcome: rekey.OutcomePasswordSet, ReachedAt: now}},
			{Result: rekey.TaskResult{UserID: "st5", Outcome: rekey.OutcomeNoEmail}},
		}}
		events = append(events, rekey.MailEvent{MessageID: msg(2), Type: rekey.MailDelivered})
		if i%3 == 0 {
			events = append(events, rekey.MailEvent{MessageID: msg(3), Type: rekey.MailBounced})
		}
		if i%5 == 0 && i%3 != 0 {
			events = append(events, rekey.MailEvent{MessageID: msg(3), Type: rekey.MailComplained})
		}
		all = append(all, c)
	}
	var plan rekey.TaskPlan
	for start := 0; start < chunks; start += 10 {
		var page []rekey.Chunk
		for _, c := range all[start:min(start+10, chunks)] {
			page = append(page, rekey.Chunk{TaskID: c.TaskID, Index: c.Index, UserIDs: c.UserIDs})
		}
		to := rekey.TaskPlan{Chunks: start + len(page), Done: start+len(page) == chunks}
		if err := w.store.SavePlanPage(w.ctx, rec.Task.ID, plan, to, page, 5*len(page), now); err != nil {
			t.Fatalf("SavePlanPage: %v", err)
		}
		plan = to
	}
	// The worker's write of each chunk, with the lookups of its emails.
	for _, c := range all {
		var sent []rekey.SentMessage
		for _, e := range c.Entries {
			if e.MessageID != "" {
				sent = append(sent, rekey.SentMessage{MessageID: e.MessageID, TaskID: rec.Task.ID, UserID: e.Result.UserID})
			}
		}
		c.Version = 1
		if err := w.store.SaveChunk(w.ctx, rekey.ChunkWrite{Chunk: c, ExpectVersion: 0, Sent: sent, At: now}); err != nil {
			t.Fatalf("SaveChunk(%d): %v", c.Index, err)
		}
	}
	for _, ev := range events {
		if err := w.store.RecordMailEvent(w.ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := w.store.GetTask(w.ctx, rec.Task.ID)
	if err != nil {
		t.Fatal(err)
	}

	// Per chunk: st1 completed (delivered with it), st2 delivered, st3
	// bounced on every third chunk (0, 3, …, 33: 12), complained on every
	// other fifth (5, 10, 20, 25: 4), else sent; st4's password set, not
	// completed (no email of this task); st5 no email.
	want := &rekey.Funnel{Sent: 3 * chunks, Delivered: 2 * chunks, Completed: chunks, Bounced: 12, Complained: 4}

	counter := &inFlightCounter{Store: w.store}
	svc, err := bulk.NewService(bulk.ServiceDeps{Store: counter, Plans: nopQueue{}, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sequential, err := svc.FunnelOf(w.ctx, stored, 1)
	if err != nil {
		t.Fatalf("FunnelOf(1 page at a time): %v", err)
	}
	if counter.peak != 1 {
		t.Errorf("one page at a time read %d pages at once", counter.peak)
	}
	counter.peak = 0
	got, err := svc.Get(w.ctx, admin, rec.Task.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(sequential, got.Funnel); diff != "" {
		t.Errorf("concurrent funnel differs from the sequential one (-sequential +concurrent):\n%s", diff)
	}
	if diff := cmp.Diff(want, got.Funnel); diff != "" {
		t.Errorf("funnel (-want +got):\n%s", diff)
	}
	if counter.peak < 2 || counter.peak > bulk.FunnelPagesInFlight {
		t.Errorf("the read had %d pages in flight at most, want between 2 and %d", counter.peak, bulk.FunnelPagesInFlight)
	}
}
