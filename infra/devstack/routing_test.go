package devstack

import (
	"slices"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// TestPasswordDeliveriesRunOnTheirOwnQueue: on moto, a default-password
// task's chunks go through BulkPasswordQueue (the wide, argon2id-sized
// path) and never through BulkWorkQueue, and an email-link task's chunks
// go through BulkWorkQueue (SES-paced) and never through BulkPasswordQueue.
func TestPasswordDeliveriesRunOnTheirOwnQueue(t *testing.T) {
	s := startStack(t)
	admin := signIn(t, s, "district.admin")
	var students []string
	for _, u := range s.Demo.Users {
		if u.Role == rekey.RoleStudent && u.SchoolID == "demo-school-1" && len(students) < 3 {
			students = append(students, u.ID)
		}
	}

	for _, test := range []struct {
		delivery    map[string]any
		queue, not  string
		wantSucceed int
	}{
		{map[string]any{"mode": "default_password", "defaultPassword": "lanterns drift past the old mill"}, "BulkPasswordQueue", "BulkWorkQueue", 3},
		{map[string]any{"mode": "email_link"}, "BulkWorkQueue", "BulkPasswordQueue", 3},
	} {
		t.Run(test.delivery["mode"].(string), func(t *testing.T) {
			task := startBulk(t, admin, map[string]any{
				"selection": map[string]any{"mode": "selected", "userIds": students},
				"delivery":  test.delivery,
			})
			if task.Status != rekey.TaskCompleted || task.Processed != test.wantSucceed {
				t.Errorf("task = %+v, want completed with %d users processed", task, test.wantSucceed)
			}
			if seen := s.TasksSeenOn(test.queue); !slices.Contains(seen, task.ID) {
				t.Errorf("task %s never went through %s (it saw %v)", task.ID, test.queue, seen)
			}
			if seen := s.TasksSeenOn(test.not); slices.Contains(seen, task.ID) {
				t.Errorf("task %s went through %s, want only %s", task.ID, test.not, test.queue)
			}
		})
	}
}
