package schedule_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/schedule"
)

// fakeCounter stands in for the bulk service's bounded count: every
// selection but a list of selected users is above the threshold. It
// records whom it counted for.
type fakeCounter struct {
	mu         sync.Mutex
	initiators []string
}

func (f *fakeCounter) ScheduleNeedsApproval(_ context.Context, initiator rekey.User, sel rekey.Selection, _ rekey.Delivery) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.initiators = append(f.initiators, initiator.ID)
	return sel.Mode != rekey.SelectSelected, nil
}

// few is a selection below the fake threshold.
var few = rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1"}, SchoolID: "s1"}

// withApprovals gives e a service whose schedules above the fake threshold
// need approval.
func (e *env) withApprovals() *fakeCounter {
	counter := &fakeCounter{}
	e.svc = schedule.NewService(e.store, counter, e.clock.Now)
	return counter
}

// approvalAudits counts the schedule.approve entries of schedule id.
func (e *env) approvalAudits(t *testing.T, id string) int {
	t.Helper()
	page, err := e.store.ListAudit(context.Background(), id, 50, "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range page.Items {
		if a.Action == rekey.ActionScheduleApprove {
			n++
		}
	}
	return n
}

// TestCreateAboveThresholdAwaitsApproval: a schedule above the threshold
// is saved waiting for approval, submitted by its creator; one below it
// needs none.
func TestCreateAboveThresholdAwaitsApproval(t *testing.T) {
	e := newEnv(t)
	counter := e.withApprovals()
	big := e.create(t, "sa1", autumn())
	if !big.NeedsApproval || !big.AwaitingApproval() || big.SubmittedBy != "sa1" || big.ApprovedBy != "" {
		t.Errorf("Create(above threshold) = needsApproval %v, submittedBy %q, approvedBy %q; want waiting, submitted by sa1", big.NeedsApproval, big.SubmittedBy, big.ApprovedBy)
	}
	if stored := e.getSchedule(t, big.ID); !stored.AwaitingApproval() || stored.SubmittedBy != "sa1" {
		t.Errorf("stored = %+v, want waiting for approval", stored)
	}
	in := autumn()
	in.Selection = few
	small := e.create(t, "sa1", in)
	if small.NeedsApproval || small.AwaitingApproval() {
		t.Errorf("Create(below threshold) needsApproval = %v, want false", small.NeedsApproval)
	}
	if len(counter.initiators) != 2 || counter.initiators[0] != "sa1" {
		t.Errorf("counted for %v, want the creator twice", counter.initiators)
	}
}

// TestApproveRefusals: every attempt that must fail leaves the schedule
// waiting and audits nothing.
func TestApproveRefusals(t *testing.T) {
	e := newEnv(t)
	e.withApprovals()
	ctx := context.Background()
	big := e.create(t, "sa1", autumn())
	in := autumn()
	in.Selection = few
	small := e.create(t, "sa1", in)
	approved := e.create(t, "sa1", autumn())
	if _, err := e.svc.Approve(ctx, e.user(t, "da1"), approved.ID, "req"); err != nil {
		t.Fatalf("Approve(da1) error: %v", err)
	}
	// da1 changes sa1's schedule: da1 submitted the new version.
	editedByDA := e.create(t, "sa1", in)
	if _, err := e.svc.Update(ctx, e.user(t, "da1"), editedByDA.ID, schedule.Patch{Selection: &rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1"}, Version: ptr(1)}, "req"); err != nil {
		t.Fatal(err)
	}

	for _, test := range []struct {
		name     string
		actor    string
		id       string
		wantCode string
	}{
		{"its creator", "sa1", big.ID, rekey.ECodeSelfApproval},
		{"the admin who submitted the change", "da1", editedByDA.ID, rekey.ECodeSelfApproval},
		{"another district's admin", "da2", big.ID, rekey.ECodeNotFound},
		{"a peer school admin who cannot see it", "sa1peer", big.ID, rekey.ECodeNotFound},
		{"a teacher", "t1", big.ID, rekey.ECodeNotFound},
		{"a disabled district admin", "da1off", big.ID, rekey.ECodeNotFound},
		{"twice", "sup", approved.ID, rekey.ECodeNotAwaitingApproval},
		{"a schedule below the threshold", "da1", small.ID, rekey.ECodeNotAwaitingApproval},
		{"no such schedule", "da1", "nosuchschedule", rekey.ECodeNotFound},
	} {
		t.Run(test.name, func(t *testing.T) {
			before, _ := e.store.GetSchedule(ctx, test.id)
			audits := e.approvalAudits(t, test.id)
			_, err := e.svc.Approve(ctx, e.user(t, test.actor), test.id, "req")
			if got := rekey.ErrorCode(err); got != test.wantCode {
				t.Errorf("Approve(%s, %s) = %v, want %s", test.actor, test.name, err, test.wantCode)
			}
			after, _ := e.store.GetSchedule(ctx, test.id)
			if after.Version != before.Version || after.ApprovedBy != before.ApprovedBy || e.approvalAudits(t, test.id) != audits {
				t.Errorf("refused approval changed the schedule: %+v -> %+v", before, after)
			}
		})
	}
}

// TestApproveThenChange: another admin's approval is stored and audited;
// renaming, pausing and resuming keep it; a change of selection, delivery,
// expression or time zone above the threshold asks for approval again, and
// one below it needs none.
func TestApproveThenChange(t *testing.T) {
	e := newEnv(t)
	e.withApprovals()
	ctx := context.Background()
	da1 := e.user(t, "da1")
	approve := func(t *testing.T, sc rekey.Schedule) rekey.Schedule {
		t.Helper()
		e.clock.Set(e.clock.Now().Add(time.Minute))
		got, err := e.svc.Approve(ctx, da1, sc.ID, "req")
		if err != nil || got.ApprovedBy != "da1" || !got.ApprovedAt.Equal(e.clock.Now()) || got.AwaitingApproval() || got.Version != sc.Version+1 {
			t.Fatalf("Approve(da1) = %+v, %v; want approved by da1 now", got, err)
		}
		if stored := e.getSchedule(t, sc.ID); stored.ApprovedBy != "da1" || !stored.ApprovedAt.Equal(got.ApprovedAt) {
			t.Fatalf("stored after approval = %+v", stored)
		}
		return got
	}
	sc := e.create(t, "sa1", autumn())
	sc = approve(t, sc)
	if n := e.approvalAudits(t, sc.ID); n != 1 {
		t.Errorf("approval audit entries = %d, want 1", n)
	}

	for _, keep := range []struct {
		name  string
		patch schedule.Patch
	}{
		{"rename", schedule.Patch{Name: ptr("Renamed")}},
		{"pause", schedule.Patch{Enabled: ptr(false)}},
		{"resume", schedule.Patch{Enabled: ptr(true)}},
	} {
		keep.patch.Version = ptr(sc.Version)
		got, err := e.svc.Update(ctx, e.user(t, "sa1"), sc.ID, keep.patch, "req")
		if err != nil || got.ApprovedBy != "da1" || got.AwaitingApproval() {
			t.Errorf("Update(%s) = approvedBy %q, waiting %v, %v; want still approved", keep.name, got.ApprovedBy, got.AwaitingApproval(), err)
		}
		sc = got
	}

	for _, change := range []struct {
		name  string
		patch schedule.Patch
	}{
		{"selection", schedule.Patch{Selection: &rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1", Grade: "3"}}},
		{"delivery", schedule.Patch{Delivery: &rekey.Delivery{Mode: rekey.DeliverGeneratedPasswords}}},
		{"expression", schedule.Patch{Expression: ptr("cron(0 8 1 9 ? *)")}},
		{"timezone", schedule.Patch{Timezone: ptr("Europe/Paris")}},
	} {
		t.Run(change.name, func(t *testing.T) {
			change.patch.Version = ptr(sc.Version)
			got, err := e.svc.Update(ctx, e.user(t, "sa1"), sc.ID, change.patch, "req")
			if err != nil || !got.AwaitingApproval() || got.ApprovedBy != "" || !got.ApprovedAt.IsZero() || got.SubmittedBy != "sa1" {
				t.Fatalf("Update(%s) after approval = %+v, %v; want waiting for approval again", change.name, got, err)
			}
			if stored := e.getSchedule(t, sc.ID); !stored.AwaitingApproval() || stored.ApprovedBy != "" || !stored.ApprovedAt.IsZero() {
				t.Errorf("stored after the change = %+v, want waiting for approval", stored)
			}
			sc = approve(t, got)
		})
	}

	t.Run("below the threshold", func(t *testing.T) {
		got, err := e.svc.Update(ctx, e.user(t, "sa1"), sc.ID, schedule.Patch{Selection: &few, Version: ptr(sc.Version)}, "req")
		if err != nil || got.NeedsApproval || got.AwaitingApproval() {
			t.Errorf("Update(below threshold) = needsApproval %v, %v; want none needed", got.NeedsApproval, err)
		}
	})
}

// TestEditedScheduleCountedForItsCreator: a district admin's edit of a
// school admin's schedule is counted with the creator's authority, with
// which it runs.
func TestEditedScheduleCountedForItsCreator(t *testing.T) {
	e := newEnv(t)
	counter := e.withApprovals()
	sc := e.create(t, "sa1", autumn())
	if _, err := e.svc.Update(context.Background(), e.user(t, "da1"), sc.ID, schedule.Patch{Expression: ptr("cron(0 9 1 9 ? *)"), Version: ptr(1)}, "req"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"sa1", "sa1"}; len(counter.initiators) != 2 || counter.initiators[1] != "sa1" {
		t.Errorf("counted for %v, want %v", counter.initiators, want)
	}
}

// TestDispatchWaitsForApproval: a run of a schedule waiting for approval
// starts no task and says why on the schedule; once approved, its runs
// start with its approver (queued, not asking again); a schedule that never
// needed approval starts without one.
func TestDispatchWaitsForApproval(t *testing.T) {
	e := newEnv(t)
	e.withApprovals()
	ctx := context.Background()
	sc := e.create(t, "sa1", autumn())
	in := autumn()
	in.Selection = few
	small := e.create(t, "sa1", in)
	starter := &fakeStarter{}
	d := schedule.NewDispatcher(e.store, starter, nil)

	if started, err := d.Run(ctx, september1); started != 1 || err != nil {
		t.Fatalf("Run(september1) = %d, %v; want 1 (the small schedule), nil", started, err)
	}
	if len(starter.calls) != 1 || starter.calls[0].scheduleID != small.ID || starter.calls[0].approvedBy != "" {
		t.Fatalf("StartScheduled calls = %+v, want only the small schedule's, without approver", starter.calls)
	}
	skipped := e.getSchedule(t, sc.ID)
	if skipped.LastRunReason != schedule.ReasonAwaitingApproval || skipped.LastTaskID != "" || !skipped.LastRunAt.Equal(september1) || !skipped.NextRunAt.After(september1) {
		t.Errorf("schedule after the skipped run = lastRunReason %q, lastTaskId %q, lastRunAt %v, nextRunAt %v; want the approval reason and next year",
			skipped.LastRunReason, skipped.LastTaskID, skipped.LastRunAt, skipped.NextRunAt)
	}
	e.wantRunOutcomes(t, sc.ID, rekey.OutcomeFailure)

	if _, err := e.svc.Approve(ctx, e.user(t, "da1"), sc.ID, "req"); err != nil {
		t.Fatal(err)
	}
	next := e.getSchedule(t, sc.ID).NextRunAt
	if started, err := d.Run(ctx, next); started != 2 || err != nil {
		t.Fatalf("Run(next year) = %d, %v; want 2, nil", started, err)
	}
	var approvedCalls []startCall
	for _, c := range starter.calls[1:] {
		if c.scheduleID == sc.ID {
			approvedCalls = append(approvedCalls, c)
		}
	}
	if len(approvedCalls) != 1 || approvedCalls[0].approvedBy != "da1" || approvedCalls[0].initiator.ID != "sa1" {
		t.Errorf("StartScheduled of the approved schedule = %+v, want once, by sa1, approved by da1", approvedCalls)
	}
	if ran := e.getSchedule(t, sc.ID); ran.LastRunReason != "" || ran.LastTaskID == "" {
		t.Errorf("schedule after the approved run = lastRunReason %q, lastTaskId %q; want a task and no reason", ran.LastRunReason, ran.LastTaskID)
	}
}
