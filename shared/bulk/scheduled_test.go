package bulk

import (
	"context"
	"fmt"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// TestScheduleNeedsApproval counts a schedule's selection as Start does:
// above the threshold it needs approval, at or below it (or with
// approvals off) it does not, and what Start refuses is refused.
func TestScheduleNeedsApproval(t *testing.T) {
	for _, test := range []struct {
		threshold int
		sel       rekey.Selection
		want      bool
		wantCode  string
	}{
		{0, s1Students, false, ""},
		{11, s1Students, true, ""},
		{12, s1Students, false, ""},
		{2, rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st2", "da1"}}, false, ""},
		{2, rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st2", "st3"}}, true, ""},
		{2, rekey.Selection{Mode: "everyone"}, false, rekey.ECodeInvalidInput},
	} {
		t.Run(fmt.Sprintf("%d %v", test.threshold, test.sel), func(t *testing.T) {
			svc, store, plans := newApprovalWorld(t, test.threshold)
			got, err := svc.ScheduleNeedsApproval(context.Background(), store.user("da1"), test.sel, link)
			if got != test.want || rekey.ErrorCode(err) != test.wantCode && !(test.wantCode == "" && err == nil) {
				t.Errorf("ScheduleNeedsApproval(%+v) under threshold %d = %v, %v; want %v, code %q", test.sel, test.threshold, got, err, test.want, test.wantCode)
			}
			if n := store.taskCount(t); n != 0 || len(plans.messages) != 0 {
				t.Errorf("counting wrote %d tasks and %d messages, want none", n, len(plans.messages))
			}
		})
	}
}

// TestStartScheduledApproved: a run of an approved schedule above the
// threshold is queued at once and names the schedule's approver; a run of
// a schedule without approval awaits approval as any bulk reset does.
func TestStartScheduledApproved(t *testing.T) {
	for _, test := range []struct {
		approvedBy   string
		want         rekey.TaskStatus
		wantMessages int
	}{
		{"da2", rekey.TaskQueued, 1},
		{"", rekey.TaskAwaitingApproval, 0},
	} {
		t.Run(test.approvedBy, func(t *testing.T) {
			svc, store, plans := newApprovalWorld(t, 1)
			task, err := svc.StartScheduled(context.Background(), rekey.Schedule{ID: "sched1", Name: "Nightly", ApprovedBy: test.approvedBy, Selection: s1Students, Delivery: link}, store.user("da1"), "schedule#sched1#1", "req")
			if err != nil {
				t.Fatal(err)
			}
			stored := store.task(task.ID).Task
			if task.Status != test.want || stored.Status != test.want || stored.ApprovedBy != test.approvedBy {
				t.Errorf("StartScheduled(approvedBy %q) = %s, stored %s approvedBy %q; want %s", test.approvedBy, task.Status, stored.Status, stored.ApprovedBy, test.want)
			}
			if len(plans.messages) != test.wantMessages {
				t.Errorf("queued %d plan messages, want %d", len(plans.messages), test.wantMessages)
			}
		})
	}
}
