package bulk

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/rekey/rekey/shared/bulk/envelope/kmskeys"
	"github.com/rekey/rekey/shared/rekey"
)

// TestTeacherBulkNotice: a teacher's bulk reset of more than
// TeacherNoticeThreshold students tells the school's active admins, once
// per task; smaller ones, and admins' resets, tell nobody.
func TestTeacherBulkNotice(t *testing.T) {
	selected := func(n int) rekey.Selection {
		ids := []string{}
		for i := 1; i <= n; i++ {
			ids = append(ids, fmt.Sprintf("st%d", i))
		}
		return rekey.Selection{Mode: rekey.SelectSelected, UserIDs: ids}
	}
	for _, test := range []struct {
		name      string
		actor     string
		threshold int
		sel       rekey.Selection
		wantCount int // 0: no notice
	}{
		{"a teacher's whole school", "t1", 0, rekey.Selection{Mode: rekey.SelectAll}, 12},
		{"awaiting approval, the admins still hear of it", "t1", 5, s1Students, 12},
		{"eleven students", "t1", 0, selected(11), 11},
		{"ten students: a handful", "t1", 0, selected(10), 0},
		{"a school admin's reset", "sa1", 0, s1Students, 0},
		{"a district admin's reset", "da1", 0, s1Students, 0},
	} {
		t.Run(test.name, func(t *testing.T) {
			_, store, plans := newApprovalWorld(t, test.threshold)
			store.put(rekey.User{ID: "sa3", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleSchoolAdmin, Status: rekey.StatusDisabled})
			store.put(rekey.User{ID: "sax", DistrictID: "d1", SchoolID: "s2", Role: rekey.RoleSchoolAdmin, Status: rekey.StatusActive})
			notices := &jobRecorder{}
			svc, err := NewService(ServiceDeps{Store: store, Plans: plans, Keys: kmskeys.New(fakeKMS{}, "key"), Approvals: thresholds{"d1": test.threshold}, Notices: notices})
			if err != nil {
				t.Fatal(err)
			}
			task, err := svc.Start(context.Background(), store.user(test.actor), test.sel, link, "key-1", "req")
			if err != nil {
				t.Fatal(err)
			}
			// A repeat of the request (same Idempotency-Key) tells nobody again.
			if _, err := svc.Start(context.Background(), store.user(test.actor), test.sel, link, "key-1", "req"); err != nil {
				t.Fatal(err)
			}
			job, ok := notices.only(t, test.wantCount != 0)
			if !ok {
				return
			}
			if err := job.Validate(); err != nil {
				t.Errorf("the notice job is invalid: %v", err)
			}
			admins := slices.Sorted(slices.Values(job.UserIDs))
			if job.Kind != rekey.JobTeacherBulkNotice || job.TaskID != task.ID || job.ActorID != test.actor || job.Count != test.wantCount || !slices.Equal(admins, []string{"sa1", "sa2"}) {
				t.Errorf("notice = %+v, want %d students of task %s to sa1 and sa2", job, test.wantCount, task.ID)
			}
		})
	}
}
