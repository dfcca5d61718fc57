package bulk

import (
	"context"

	"github.com/rekey/rekey/shared/rekey"
)

// Start starts a bulk reset for initiator, as POST /api/bulk-resets asks
// (see start for the rules and errors).
func (s *Service) Start(ctx context.Context, initiator rekey.User, sel rekey.Selection, del rekey.Delivery, idempotencyKey, requestID string) (rekey.Task, error) {
	return s.start(ctx, initiator, sel, del, idempotencyKey, requestID, "")
}

// StartScheduled is Start for a run of schedule scheduleID, which the task
// records (task.scheduleId), so that a schedule's tasks can be listed.
func (s *Service) StartScheduled(ctx context.Context, scheduleID string, initiator rekey.User, sel rekey.Selection, del rekey.Delivery, idempotencyKey, requestID string) (rekey.Task, error) {
	return s.start(ctx, initiator, sel, del, idempotencyKey, requestID, scheduleID)
}

// ListBySchedule is List narrowed to the tasks schedule scheduleID started
// (GET /api/tasks?scheduleId=). The store reads the actor's task listing
// and keeps that schedule's, so a page may hold fewer than limit tasks
// while a next page remains.
func (s *Service) ListBySchedule(ctx context.Context, actor rekey.User, scheduleID string, limit int, cursor string) (TaskPage, error) {
	return s.list(ctx, actor, limit, cursor, scheduleID)
}
