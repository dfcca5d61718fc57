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
