package bulk

import (
	"context"
	"slices"

	"github.com/rekey/rekey/shared/rekey"
)

// TaskQuery narrows the task centre's listing: by status (as the task
// centre shows it, so "completed" finds tasks whose last chunk is done),
// by creator and by the schedule that started the task. Zero fields match
// every task.
type TaskQuery struct {
	Status     rekey.TaskStatus
	CreatedBy  string
	ScheduleID string
}

// taskStatuses are the statuses a TaskQuery may ask for.
var taskStatuses = []rekey.TaskStatus{rekey.TaskQueued, rekey.TaskRunning, rekey.TaskCompleted,
	rekey.TaskCompletedWithErrors, rekey.TaskCancelled, rekey.TaskFailed}

// ListWhere is List narrowed by q. The store narrows by schedule; status
// and creator are applied to each page of the actor's tasks, so a page may
// hold fewer than limit tasks (even none) while Next says more may follow:
// the listing reads the actor's tasks newest first and keeps the matching
// ones.
func (s *Service) ListWhere(ctx context.Context, actor rekey.User, q TaskQuery, limit int, cursor string) (TaskPage, error) {
	if q.Status != "" && !slices.Contains(taskStatuses, q.Status) {
		return TaskPage{}, rekey.FieldError(rekey.ECodeInvalidInput, "status", "Unknown task status.")
	}
	page, err := s.list(ctx, actor, limit, cursor, q.ScheduleID)
	if err != nil {
		return TaskPage{}, err
	}
	page.Items = slices.DeleteFunc(page.Items, func(t rekey.Task) bool {
		return q.Status != "" && t.Status != q.Status || q.CreatedBy != "" && t.CreatedBy != q.CreatedBy
	})
	return page, nil
}
