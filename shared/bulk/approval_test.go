package bulk

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/bulk/envelope/kmskeys"
	"github.com/rekey/rekey/shared/rekey"
)

// thresholds is the districts' approval thresholds, by district id.
type thresholds map[string]int

func (t thresholds) ApprovalThreshold(_ context.Context, districtID string) (int, error) {
	if districtID == "broken" {
		return 0, errors.New("fake: settings unavailable")
	}
	return t[districtID], nil
}

// newApprovalWorld is the fake store's world with a second district admin
// (da2), a second school admin of s1 (sa2), a district admin of d2 (dx),
// twelve students of s1 (st1…st12, odd ones without email), a disabled
// student of s1 and a student of s2, under a threshold of threshold users
// in d1.
func newApprovalWorld(t *testing.T, threshold int) (*Service, *testStore, *fakeQueue) {
	t.Helper()
	store, plans := newTestStore(time.Now), &fakeQueue{}
	for _, u := range []rekey.User{
		{ID: "da2", DistrictID: "d1", Role: rekey.RoleDistrictAdmin, FirstName: "Dana"},
		{ID: "sa2", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleSchoolAdmin},
		{ID: "dx", DistrictID: "d2", Role: rekey.RoleDistrictAdmin},
		{ID: "std", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Status: rekey.StatusDisabled},
		{ID: "sth", DistrictID: "d1", SchoolID: "s2", Role: rekey.RoleStudent, Email: "sth@example.org"},
	} {
		if u.Status == "" {
			u.Status = rekey.StatusActive
		}
		store.put(u)
	}
	for i := 2; i <= 12; i++ {
		u := rekey.User{ID: fmt.Sprintf("st%d", i), DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Status: rekey.StatusActive}
		if i%2 == 0 {
			u.Email = u.ID + "@example.org"
		}
		store.put(u)
	}
	svc, err := NewService(ServiceDeps{Store: store, Plans: plans, Keys: kmskeys.New(fakeKMS{}, "key"), Approvals: thresholds{"d1": threshold}})
	if err != nil {
		t.Fatal(err)
	}
	return svc, store, plans
}

// s1Students is the selection of s1's students: st1…st12 (std is
// disabled and not counted).
var s1Students = rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1"}

var link = rekey.Delivery{Mode: rekey.DeliverEmailLink}

// TestStartAwaitsApprovalAboveThreshold: a reset reaching more users than
// the threshold waits and queues nothing; at or below it, or with
// approvals off, it is queued at once.
func TestStartAwaitsApprovalAboveThreshold(t *testing.T) {
	for _, test := range []struct {
		threshold int
		sel       rekey.Selection
		want      rekey.TaskStatus
	}{
		{0, s1Students, rekey.TaskQueued},
		{11, s1Students, rekey.TaskAwaitingApproval},
		{12, s1Students, rekey.TaskQueued},
		{1, s1Students, rekey.TaskAwaitingApproval},
		{13, s1Students, rekey.TaskQueued},
		{2, rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st2", "da1"}}, rekey.TaskQueued},
		{2, rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st2", "st3"}}, rekey.TaskAwaitingApproval},
		{11, rekey.Selection{Mode: rekey.SelectAllExcept, UserIDs: []string{"st1"}, SchoolID: "s1", Role: rekey.RoleStudent}, rekey.TaskQueued},
	} {
		t.Run(fmt.Sprintf("%d %s", test.threshold, test.want), func(t *testing.T) {
			svc, store, plans := newApprovalWorld(t, test.threshold)
			task, err := svc.Start(context.Background(), store.user("da1"), test.sel, link, "", "req")
			if err != nil {
				t.Fatal(err)
			}
			if task.Status != test.want {
				t.Errorf("Start(%+v) under threshold %d: status %s, want %s", test.sel, test.threshold, task.Status, test.want)
			}
			wantMessages := 1
			if test.want == rekey.TaskAwaitingApproval {
				wantMessages = 0
			}
			if len(plans.messages) != wantMessages {
				t.Errorf("Start queued %d plan messages, want %d", len(plans.messages), wantMessages)
			}
			if got := store.task(task.ID).Task.Selection.UserIDs; test.sel.Mode == rekey.SelectSelected && len(got) != 2 && len(got) != 3 {
				t.Errorf("stored ids = %v", got)
			}
		})
	}
}

// TestStartDropsTheCaller: the caller's own id is never part of their
// selected users.
func TestStartDropsTheCaller(t *testing.T) {
	svc, store, _ := newApprovalWorld(t, 0)
	task, err := svc.Start(context.Background(), store.user("da1"), rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "da1"}}, link, "", "req")
	if err != nil {
		t.Fatal(err)
	}
	if got := store.task(task.ID).Task.Selection.UserIDs; len(got) != 1 || got[0] != "st1" {
		t.Errorf("stored ids = %v, want [st1]", got)
	}
}

// TestStartFailsWhenTheThresholdCannotBeRead: a district whose settings
// cannot be read starts nothing (it does not fall back to "no approval").
func TestStartFailsWhenTheThresholdCannotBeRead(t *testing.T) {
	svc, store, plans := newApprovalWorld(t, 5)
	actor := store.user("da1")
	actor.DistrictID = "broken"
	if _, err := svc.Start(context.Background(), actor, rekey.Selection{Mode: rekey.SelectAll}, link, "", "req"); err == nil || rekey.ErrorCode(err) != rekey.ECodeInternal {
		t.Errorf("Start with unreadable settings = %v, want an internal error", err)
	}
	if store.taskCount(t) != 0 || len(plans.messages) != 0 {
		t.Errorf("recorded %d tasks, queued %d messages", store.taskCount(t), len(plans.messages))
	}
}

// TestApproveAndReject: the decisions on a task awaiting approval, and
// every refusal, which leaves the task as it was.
func TestApproveAndReject(t *testing.T) {
	type step struct {
		actor    string
		approve  bool
		wantCode string // "" for success
	}
	for _, test := range []struct {
		name       string
		creator    string
		threshold  int // 0: the task is queued at once
		steps      []step
		wantStatus rekey.TaskStatus
		// wantMessages is how many plan messages the task got in all.
		wantMessages int
	}{
		{"another district admin approves", "da1", 5, []step{{"da2", true, ""}}, rekey.TaskQueued, 1},
		{"self approval", "da1", 5, []step{{"da1", true, rekey.ECodeSelfApproval}}, rekey.TaskAwaitingApproval, 0},
		{"approving twice", "da1", 5, []step{{"da2", true, ""}, {"da2", true, rekey.ECodeNotAwaitingApproval}}, rekey.TaskQueued, 2},
		{"another district's admin", "da1", 5, []step{{"dx", true, rekey.ECodeNotFound}, {"dx", false, rekey.ECodeNotFound}}, rekey.TaskAwaitingApproval, 0},
		{"a school admin approves a district admin's task", "da1", 5, []step{{"sa1", true, rekey.ECodeNotFound}}, rekey.TaskAwaitingApproval, 0},
		{"a teacher cannot approve", "sa1", 5, []step{{"t1", true, rekey.ECodeNotFound}, {"t1", false, rekey.ECodeNotFound}}, rekey.TaskAwaitingApproval, 0},
		{"another school admin of the school approves", "sa1", 5, []step{{"sa2", true, ""}}, rekey.TaskQueued, 1},
		{"a school admin approves a teacher's task", "t1", 5, []step{{"t1", true, rekey.ECodeSelfApproval}, {"sa1", true, ""}}, rekey.TaskQueued, 1},
		{"reject", "da1", 5, []step{{"da2", false, ""}}, rekey.TaskCancelled, 0},
		{"the creator withdraws", "da1", 5, []step{{"da1", false, ""}}, rekey.TaskCancelled, 0},
		{"approve after reject", "da1", 5, []step{{"da2", false, ""}, {"da2", true, rekey.ECodeNotAwaitingApproval}}, rekey.TaskCancelled, 0},
		{"reject after approval", "da1", 5, []step{{"da2", true, ""}, {"da1", false, rekey.ECodeNotAwaitingApproval}}, rekey.TaskQueued, 1},
		{"rejecting a task that runs", "da1", 0, []step{{"da2", false, rekey.ECodeNotAwaitingApproval}}, rekey.TaskQueued, 1},
		{"approving a task that never waited", "da1", 0, []step{{"da2", true, rekey.ECodeNotAwaitingApproval}}, rekey.TaskQueued, 1},
	} {
		t.Run(test.name, func(t *testing.T) {
			ctx := context.Background()
			svc, store, plans := newApprovalWorld(t, test.threshold)
			task, err := svc.Start(ctx, store.user(test.creator), s1Students, link, "", "req")
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range test.steps {
				before := store.task(task.ID)
				decisions := len(store.decisions)
				decide, verb := svc.Approve, "Approve"
				if !st.approve {
					decide, verb = svc.Reject, "Reject"
				}
				got, err := decide(ctx, store.user(st.actor), task.ID, "req2")
				if st.wantCode == "" {
					if err != nil {
						t.Fatalf("%s by %s = %v", verb, st.actor, err)
					}
					if got.ID != task.ID {
						t.Errorf("%s returned task %q", verb, got.ID)
					}
					action := rekey.ActionBulkApprove
					if !st.approve {
						action = rekey.ActionBulkReject
					}
					if len(store.decisions) != decisions+1 || store.decisions[decisions].Action != action || store.decisions[decisions].ActorID != st.actor || store.decisions[decisions].TargetID != task.ID {
						t.Errorf("%s by %s audited %+v, want one %s entry", verb, st.actor, store.decisions[decisions:], action)
					}
					continue
				}
				if rekey.ErrorCode(err) != st.wantCode {
					t.Fatalf("%s by %s = %v, want %s", verb, st.actor, err, st.wantCode)
				}
				after := store.task(task.ID)
				if after.Task.Status != before.Task.Status || after.Task.ApprovedBy != before.Task.ApprovedBy || after.Reason != before.Reason || len(store.decisions) != decisions {
					t.Errorf("a refused %s by %s changed the task: %+v → %+v", verb, st.actor, before.Task, after.Task)
				}
			}
			rec := store.task(task.ID)
			if rec.Task.Status != test.wantStatus {
				t.Errorf("status = %s, want %s", rec.Task.Status, test.wantStatus)
			}
			if len(plans.messages) != test.wantMessages {
				t.Errorf("plan messages = %d, want %d", len(plans.messages), test.wantMessages)
			}
			if test.wantStatus == rekey.TaskQueued && test.threshold > 0 && rec.Task.ApprovedBy == "" {
				t.Errorf("an approved task has no approver: %+v", rec.Task)
			}
		})
	}
}

// TestPlannerLeavesAwaitingTasksAlone: a plan message for a task awaiting
// approval (a stray duplicate, say) plans nothing.
func TestPlannerLeavesAwaitingTasksAlone(t *testing.T) {
	ctx := context.Background()
	svc, store, _ := newApprovalWorld(t, 5)
	task, err := svc.Start(ctx, store.user("da1"), s1Students, link, "", "req")
	if err != nil || task.Status != rekey.TaskAwaitingApproval {
		t.Fatalf("Start = %+v, %v", task, err)
	}
	work := &fakeQueue{}
	p, err := NewPlanner(Config{}, PlannerDeps{Store: store, Work: work, Plans: &fakeQueue{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Plan(ctx, task.ID); err != nil {
		t.Fatal(err)
	}
	if len(work.messages) != 0 || store.chunkCount(t, task.ID) != 0 || store.task(task.ID).Task.Status != rekey.TaskAwaitingApproval {
		t.Errorf("planner worked on an awaiting task: %d messages, %d chunks, status %s", len(work.messages), store.chunkCount(t, task.ID), store.task(task.ID).Task.Status)
	}
}
