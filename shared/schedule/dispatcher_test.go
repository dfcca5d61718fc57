package schedule_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/schedule"
)

// startCall is one call of fakeStarter.Start.
type startCall struct {
	scheduleID   string
	scheduleName string
	approvedBy   string
	initiator    rekey.User
	sel          rekey.Selection
	del          rekey.Delivery
	key          string
}

// fakeStarter stands in for the bulk service: like it, a repeated
// idempotency key returns the task the first call started. fail, when set,
// decides the outcome of call n (counting from 1); delay widens the window
// in which concurrent dispatchers could overlap.
type fakeStarter struct {
	mu    sync.Mutex
	calls []startCall
	tasks map[string]rekey.Task
	fail  func(n int) error
	delay time.Duration
}

func (f *fakeStarter) StartScheduled(ctx context.Context, sc rekey.Schedule, initiator rekey.User, idempotencyKey, requestID string) (rekey.Task, error) {
	f.mu.Lock()
	f.calls = append(f.calls, startCall{scheduleID: sc.ID, scheduleName: sc.Name, approvedBy: sc.ApprovedBy, initiator: initiator, sel: sc.Selection, del: sc.Delivery, key: idempotencyKey})
	n, fail := len(f.calls), f.fail
	f.mu.Unlock()
	time.Sleep(f.delay)
	if fail != nil {
		if err := fail(n); err != nil {
			return rekey.Task{}, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tasks == nil {
		f.tasks = map[string]rekey.Task{}
	}
	if task, ok := f.tasks[idempotencyKey]; ok {
		return task, nil
	}
	task := rekey.Task{ID: rekey.NewID(), Kind: rekey.TaskKindBulkReset, Status: rekey.TaskQueued, CreatedBy: initiator.ID, Selection: sc.Selection, Delivery: sc.Delivery, ScheduleID: sc.ID}
	f.tasks[idempotencyKey] = task
	return task, nil
}

// keys returns the idempotency keys of every call so far.
func (f *fakeStarter) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := []string{}
	for _, c := range f.calls {
		keys = append(keys, c.key)
	}
	return keys
}

// september1 is the first occurrence of autumn(): 07:00 BST.
var september1 = time.Date(2026, 9, 1, 6, 0, 0, 0, time.UTC)

// getSchedule reads a schedule straight from the store.
func (e *env) getSchedule(t *testing.T, id string) rekey.Schedule {
	t.Helper()
	sc, err := e.store.GetSchedule(context.Background(), id)
	if err != nil {
		t.Fatalf("GetSchedule(%s): %v", id, err)
	}
	return sc
}

// wantRunOutcomes fails t unless the outcomes of the schedule.run audit
// entries of id, oldest first, are want.
func (e *env) wantRunOutcomes(t *testing.T, id string, want ...string) {
	t.Helper()
	page, err := e.store.ListAudit(context.Background(), id, 50, "")
	if err != nil {
		t.Fatal(err)
	}
	outcomes := []string{}
	for i := len(page.Items) - 1; i >= 0; i-- {
		if a := page.Items[i]; a.Action == rekey.ActionScheduleRun {
			outcomes = append(outcomes, a.Outcome)
		}
	}
	if diff := cmp.Diff(want, outcomes); diff != "" {
		t.Errorf("run audit outcomes of %s (-want +got):\n%s", id, diff)
	}
}

// TestDispatchStartsOccurrenceOnce fires one occurrence from many
// dispatchers at once (overlapping invocations, a late duplicate event),
// then again: one task is started, and the schedule moves to next year. It
// runs on DynamoDB too: what keeps the dispatchers apart is the store's
// conditional writes.
func TestDispatchStartsOccurrenceOnce(t *testing.T) {
	for _, test := range []struct {
		name   string
		newEnv func(t *testing.T) *env
	}{
		{"memstore", newEnv},
		{"dynamo", newMotoEnv},
	} {
		t.Run(test.name, func(t *testing.T) { testDispatchStartsOccurrenceOnce(t, test.newEnv(t)) })
	}
}

func testDispatchStartsOccurrenceOnce(t *testing.T, e *env) {
	ctx := context.Background()
	sc := e.create(t, "sa1", autumn())
	starter := &fakeStarter{delay: 150 * time.Millisecond}
	d := schedule.NewDispatcher(e.store, starter, nil)

	if started, err := d.Run(ctx, september1.Add(-time.Second)); started != 0 || err != nil {
		t.Errorf("Run(before it is due) = %d, %v; want 0, nil", started, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for i := range 6 {
		wg.Go(func() {
			// Two of them see a later time, as a late duplicate would.
			started, err := d.Run(ctx, september1.Add(time.Duration(i%3)*10*time.Second))
			if err != nil {
				t.Errorf("Run() error: %v", err)
			}
			mu.Lock()
			total += started
			mu.Unlock()
		})
	}
	wg.Wait()
	if started, err := d.Run(ctx, september1.Add(time.Minute)); started != 0 || err != nil {
		t.Errorf("Run(again) = %d, %v; want 0, nil", started, err)
	}

	wantKey := schedule.IdempotencyKey(sc.ID, september1)
	if diff := cmp.Diff([]string{wantKey}, starter.keys()); diff != "" || total != 1 {
		t.Fatalf("Start calls (-want +got):\n%s\nstarted = %d, want 1", diff, total)
	}
	call := starter.calls[0]
	if call.scheduleID != sc.ID || call.scheduleName != sc.Name || call.initiator.ID != "sa1" || call.sel.Mode != rekey.SelectWithoutRole || call.sel.SchoolID != "s1" || call.del.Mode != rekey.DeliverEmailLink {
		t.Errorf("StartScheduled(%+v), want schedule %s's (named %q), by the creator sa1 with the schedule's selection and delivery", call, sc.ID, sc.Name)
	}
	if wantKey != "schedule#"+sc.ID+"#2026-09-01T06:00:00Z" {
		t.Errorf("IdempotencyKey() = %q", wantKey)
	}
	task := starter.tasks[wantKey]
	got := e.getSchedule(t, sc.ID)
	if want := time.Date(2027, 9, 1, 6, 0, 0, 0, time.UTC); !got.NextRunAt.Equal(want) || !got.LastRunAt.Equal(september1) || got.LastTaskID != task.ID || got.Version != sc.Version {
		t.Errorf("schedule after the run = next %v, last %v, task %q, version %d; want next %v, last %v, task %q, version unchanged",
			got.NextRunAt, got.LastRunAt, got.LastTaskID, got.Version, want, september1, task.ID)
	}
	run, err := e.store.GetRun(ctx, sc.ID, september1)
	if err != nil || run.State != rekey.RunStarted || run.TaskID != task.ID || run.Attempts != 1 {
		t.Errorf("GetRun() = %+v, %v; want started with the task, 1 attempt", run, err)
	}
	e.wantRunOutcomes(t, sc.ID, rekey.OutcomeSuccess)
}

// TestDispatchRepeatedAfterAdvanceFails repeats a dispatch whose advance
// was lost (the claim is finished but NextRunAt still points at it): no
// second task, and the schedule moves on.
func TestDispatchRepeatedAfterAdvanceFails(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sc := e.create(t, "sa1", autumn())
	starter := &fakeStarter{}
	run, err := e.store.ClaimRun(ctx, sc.ID, september1, september1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	run.State, run.TaskID = rekey.RunStarted, "task-before-crash"
	if err := e.store.RecordRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	d := schedule.NewDispatcher(e.store, starter, nil)
	if started, err := d.Run(ctx, september1.Add(time.Minute)); started != 0 || err != nil {
		t.Errorf("Run() = %d, %v; want 0, nil", started, err)
	}
	if len(starter.keys()) != 0 {
		t.Errorf("Start calls = %v, want none", starter.keys())
	}
	if got := e.getSchedule(t, sc.ID); got.LastTaskID != "task-before-crash" || !got.NextRunAt.After(september1) {
		t.Errorf("schedule = last task %q next %v; want the recorded task and next year", got.LastTaskID, got.NextRunAt)
	}
}

func TestDispatchSkipsPausedAndNotDue(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	active := e.create(t, "sa1", autumn())
	paused := e.create(t, "da1", autumn())
	if _, err := e.svc.Update(ctx, e.user(t, "da1"), paused.ID, schedule.Patch{Enabled: ptr(false), Version: ptr(1)}, "req"); err != nil {
		t.Fatal(err)
	}
	in := autumn()
	in.Expression = "cron(0 7 2 9 ? *)"
	later := e.create(t, "da1", in)
	starter := &fakeStarter{}
	d := schedule.NewDispatcher(e.store, starter, nil)
	if started, err := d.Run(ctx, september1.Add(30*time.Second)); started != 1 || err != nil {
		t.Errorf("Run() = %d, %v; want 1, nil", started, err)
	}
	if diff := cmp.Diff([]string{schedule.IdempotencyKey(active.ID, september1)}, starter.keys()); diff != "" {
		t.Errorf("Start calls (-want +got):\n%s", diff)
	}
	if got := e.getSchedule(t, paused.ID); got.Enabled || !got.LastRunAt.IsZero() {
		t.Errorf("paused schedule = %+v, want untouched", got)
	}
	if got := e.getSchedule(t, later.ID); !got.NextRunAt.Equal(september1.AddDate(0, 0, 1)) {
		t.Errorf("later schedule next = %v, want %v", got.NextRunAt, september1.AddDate(0, 0, 1))
	}
}

// TestDispatchMissedOccurrences has the dispatcher down for days: only the
// latest missed occurrence runs, once, then the next future one is due.
func TestDispatchMissedOccurrences(t *testing.T) {
	for _, test := range []struct {
		name, expr           string
		now, wantOcc, wantNx time.Time
	}{
		{"daily cron", "cron(0 7 * * ? *)", time.Date(2026, 8, 5, 8, 30, 0, 0, time.UTC),
			time.Date(2026, 8, 5, 7, 0, 0, 0, time.UTC), time.Date(2026, 8, 6, 7, 0, 0, 0, time.UTC)},
		{"hourly rate", "rate(1 hour)", t0.Add(5*time.Hour + 30*time.Minute), t0.Add(5 * time.Hour), t0.Add(6 * time.Hour)},
	} {
		t.Run(test.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			in := autumn()
			in.Expression, in.Timezone = test.expr, "UTC"
			sc := e.create(t, "da1", in)
			starter := &fakeStarter{}
			d := schedule.NewDispatcher(e.store, starter, nil)
			if started, err := d.Run(ctx, test.now); started != 1 || err != nil {
				t.Errorf("Run(%v) = %d, %v; want 1, nil", test.now, started, err)
			}
			if started, err := d.Run(ctx, test.now.Add(time.Minute)); started != 0 || err != nil {
				t.Errorf("Run(a minute later) = %d, %v; want 0, nil", started, err)
			}
			if diff := cmp.Diff([]string{schedule.IdempotencyKey(sc.ID, test.wantOcc)}, starter.keys()); diff != "" {
				t.Errorf("Start calls (-want +got):\n%s", diff)
			}
			if got := e.getSchedule(t, sc.ID); !got.NextRunAt.Equal(test.wantNx) || !got.LastRunAt.Equal(test.wantOcc) {
				t.Errorf("schedule = next %v last %v, want next %v last %v", got.NextRunAt, got.LastRunAt, test.wantNx, test.wantOcc)
			}
		})
	}
}

// TestDispatchCreatorCannotRun records the run as failed, with no task,
// when the creator may no longer run it; the schedule moves on.
func TestDispatchCreatorCannotRun(t *testing.T) {
	for _, test := range []struct {
		name       string
		change     func(u *rekey.User)
		wantReason string
	}{
		{"disabled", func(u *rekey.User) { u.Status = rekey.StatusDisabled }, "disabled"},
		{"reset required", func(u *rekey.User) { u.Status = rekey.StatusResetRequired }, "new password"},
		{"demoted", func(u *rekey.User) { u.Role = rekey.RoleTeacher }, "no longer an administrator"},
		{"moved district", func(u *rekey.User) { u.DistrictID, u.SchoolID = "d2", "s3" }, "another district"},
		{"moved school", func(u *rekey.User) { u.SchoolID = "s2" }, "another school"},
		{"deleted", nil, "no longer exists"},
	} {
		t.Run(test.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			sc := e.create(t, "sa1", autumn())
			if test.change != nil {
				before, err := e.store.GetUser(ctx, "sa1")
				if err != nil {
					t.Fatal(err)
				}
				after := before
				test.change(&after)
				after.Version++
				if err := e.store.UpdateUser(ctx, before, after, nil); err != nil {
					t.Fatal(err)
				}
			} else {
				// The store has no user deletion: the schedule is rewritten
				// as made by a user who does not exist.
				if err := e.store.DeleteSchedule(ctx, sc, nil); err != nil {
					t.Fatal(err)
				}
				sc.CreatedBy = "ghost"
				if err := e.store.PutSchedule(ctx, sc, nil); err != nil {
					t.Fatal(err)
				}
			}
			starter := &fakeStarter{}
			d := schedule.NewDispatcher(e.store, starter, nil)
			if started, err := d.Run(ctx, september1); started != 0 || err != nil {
				t.Errorf("Run() = %d, %v; want 0, nil", started, err)
			}
			if len(starter.keys()) != 0 {
				t.Errorf("Start calls = %v, want none", starter.keys())
			}
			run, err := e.store.GetRun(ctx, sc.ID, september1)
			if err != nil || run.State != rekey.RunFailed || run.TaskID != "" || !strings.Contains(run.Reason, test.wantReason) {
				t.Errorf("GetRun() = %+v, %v; want failed, no task, reason mentioning %q", run, err, test.wantReason)
			}
			if got := e.getSchedule(t, sc.ID); !got.NextRunAt.Equal(september1.AddDate(1, 0, 0)) || got.LastTaskID != "" || !got.Enabled {
				t.Errorf("schedule = next %v task %q enabled %v; want next year, no task, still enabled", got.NextRunAt, got.LastTaskID, got.Enabled)
			}
			e.wantRunOutcomes(t, sc.ID, rekey.OutcomeFailure)
		})
	}
}

// TestDispatchRetriesAfterFailedStart: a start that fails for a passing
// reason keeps the claim; the occurrence is retried with the same key once
// the lease has run out, and starts once.
func TestDispatchRetriesAfterFailedStart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sc := e.create(t, "sa1", autumn())
	starter := &fakeStarter{fail: func(n int) error {
		if n == 1 {
			return errors.New("queue unavailable")
		}
		return nil
	}}
	d := schedule.NewDispatcher(e.store, starter, nil)
	if started, err := d.Run(ctx, september1); started != 0 || err == nil {
		t.Errorf("Run(start fails) = %d, %v; want 0 and an error", started, err)
	}
	if got := e.getSchedule(t, sc.ID); !got.NextRunAt.Equal(september1) {
		t.Errorf("next run after a failed start = %v, want still %v", got.NextRunAt, september1)
	}
	if started, err := d.Run(ctx, september1.Add(time.Minute)); started != 0 || err != nil {
		t.Errorf("Run(during the lease) = %d, %v; want 0, nil", started, err)
	}
	if started, err := d.Run(ctx, september1.Add(schedule.DefaultLease)); started != 1 || err != nil {
		t.Errorf("Run(after the lease) = %d, %v; want 1, nil", started, err)
	}
	key := schedule.IdempotencyKey(sc.ID, september1)
	if diff := cmp.Diff([]string{key, key}, starter.keys()); diff != "" {
		t.Errorf("Start calls (-want +got):\n%s", diff)
	}
	run, _ := e.store.GetRun(ctx, sc.ID, september1)
	if run.State != rekey.RunStarted || run.Attempts != 2 {
		t.Errorf("run = %+v, want started after 2 attempts", run)
	}
}

// flakyRecordStore loses the first RecordRun, as a dispatcher that dies
// right after starting the task would.
type flakyRecordStore struct {
	store
	mu     sync.Mutex
	failed bool
}

func (s *flakyRecordStore) RecordRun(ctx context.Context, r rekey.ScheduleRun) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.failed {
		s.failed = true
		return errors.New("connection reset")
	}
	return s.store.RecordRun(ctx, r)
}

// TestDispatchCrashAfterStart: the task started but the run was not
// recorded. The retry calls Start with the same key, which returns the same
// task: one task in all.
func TestDispatchCrashAfterStart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sc := e.create(t, "sa1", autumn())
	starter := &fakeStarter{}
	d := schedule.NewDispatcher(&flakyRecordStore{store: e.store}, starter, nil)
	if _, err := d.Run(ctx, september1); err == nil {
		t.Error("Run(record fails) succeeded, want an error")
	}
	if started, err := d.Run(ctx, september1.Add(schedule.DefaultLease)); started != 1 || err != nil {
		t.Errorf("Run(after the lease) = %d, %v; want 1, nil", started, err)
	}
	if len(starter.calls) != 2 || len(starter.tasks) != 1 {
		t.Errorf("Start calls = %d, tasks = %d; want 2 calls, 1 task", len(starter.calls), len(starter.tasks))
	}
	task := starter.tasks[schedule.IdempotencyKey(sc.ID, september1)]
	if got := e.getSchedule(t, sc.ID); got.LastTaskID != task.ID {
		t.Errorf("last task = %q, want %q", got.LastTaskID, task.ID)
	}
}

// wantFailedRun fails t unless schedule id's September 1 run failed, its
// reason mentioning reason, and the schedule moved on to next year.
func (e *env) wantFailedRun(t *testing.T, id, reason string) {
	t.Helper()
	run, err := e.store.GetRun(context.Background(), id, september1)
	if err != nil || run.State != rekey.RunFailed || !strings.Contains(run.Reason, reason) {
		t.Errorf("GetRun() = %+v, %v; want failed, the reason mentioning %q", run, err, reason)
	}
	if got := e.getSchedule(t, id); !got.NextRunAt.Equal(september1.AddDate(1, 0, 0)) {
		t.Errorf("next run = %v, want next year", got.NextRunAt)
	}
}

func TestDispatchRefusedStart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sc := e.create(t, "sa1", autumn())
	starter := &fakeStarter{fail: func(int) error {
		return rekey.FieldError(rekey.ECodeInvalidInput, "selection.schoolId", "No such school.")
	}}
	d := schedule.NewDispatcher(e.store, starter, nil)
	for _, at := range []time.Time{september1, september1.Add(schedule.DefaultLease)} {
		if started, err := d.Run(ctx, at); started != 0 || err != nil {
			t.Errorf("Run(%v) = %d, %v; want 0, nil", at, started, err)
		}
	}
	if len(starter.keys()) != 1 {
		t.Errorf("Start calls = %v, want 1", starter.keys())
	}
	e.wantFailedRun(t, sc.ID, "No such school.")
}

func TestDispatchGivesUp(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sc := e.create(t, "sa1", autumn())
	starter := &fakeStarter{fail: func(int) error { return errors.New("still down") }}
	d := schedule.NewDispatcher(e.store, starter, nil)
	at := september1
	for range schedule.MaxStartAttempts + 1 {
		_, _ = d.Run(ctx, at)
		at = at.Add(schedule.DefaultLease)
	}
	if n := len(starter.keys()); n != schedule.MaxStartAttempts {
		t.Errorf("Start calls = %d, want %d", n, schedule.MaxStartAttempts)
	}
	e.wantFailedRun(t, sc.ID, "attempts")
}

func TestDispatchLastOccurrence(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in := autumn()
	in.Expression = "cron(0 7 1 9 ? 2026)"
	sc := e.create(t, "sa1", in)
	d := schedule.NewDispatcher(e.store, &fakeStarter{}, nil)
	if started, err := d.Run(ctx, september1); started != 1 || err != nil {
		t.Errorf("Run() = %d, %v; want 1, nil", started, err)
	}
	if got := e.getSchedule(t, sc.ID); !got.NextRunAt.IsZero() || !got.Enabled || !got.LastRunAt.Equal(september1) {
		t.Errorf("schedule = next %v enabled %v last %v; want no next run", got.NextRunAt, got.Enabled, got.LastRunAt)
	}
	if due, _ := e.store.DueSchedules(ctx, september1.AddDate(10, 0, 0), 10, ""); len(due.Items) != 0 {
		t.Errorf("DueSchedules() = %d, want 0", len(due.Items))
	}
}

// TestHandle runs the Lambda handler on the sample EventBridge event (the
// same JSON as events/schedule-dispatcher.json), twice, as EventBridge may
// deliver it.
func TestHandle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sc := e.create(t, "sa1", autumn())
	data, err := os.ReadFile("../../events/schedule-dispatcher.json")
	if err != nil {
		t.Fatal(err)
	}
	var event events.CloudWatchEvent
	if err := json.Unmarshal(data, &event); err != nil {
		t.Fatalf("decode sample event: %v", err)
	}
	if !event.Time.Equal(september1) || event.DetailType != "Scheduled Event" {
		t.Fatalf("sample event = %+v, want a Scheduled Event at %v", event, september1)
	}
	starter := &fakeStarter{}
	d := schedule.NewDispatcher(e.store, starter, nil)
	for range 2 {
		if err := d.Handle(ctx, event); err != nil {
			t.Errorf("Handle() error: %v", err)
		}
	}
	if diff := cmp.Diff([]string{schedule.IdempotencyKey(sc.ID, september1)}, starter.keys()); diff != "" {
		t.Errorf("Start calls (-want +got):\n%s", diff)
	}
}
