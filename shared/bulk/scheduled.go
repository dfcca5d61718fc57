package bulk

import (
	"context"

	"github.com/rekey/rekey/shared/rekey"
)

// Start starts a bulk reset for initiator, as POST /api/bulk-resets asks
// (see start for the rules and errors).
func (s *Service) Start(ctx context.Context, initiator rekey.User, sel rekey.Selection, del rekey.Delivery, idempotencyKey, requestID string) (rekey.Task, error) {
	return s.start(ctx, initiator, sel, del, idempotencyKey, requestID, "", "")
}

// StartScheduled is Start for a run of schedule scheduleID, which the task
// records (task.scheduleId), so that a schedule's tasks can be listed.
// approvedBy is the admin who approved the schedule when it was saved
// above the approval threshold: the task is queued at once and records
// them as its approver (a schedule is approved once, not per run). Without
// it, a run that reaches more users than the threshold awaits approval as
// any bulk reset does.
func (s *Service) StartScheduled(ctx context.Context, scheduleID, approvedBy string, initiator rekey.User, sel rekey.Selection, del rekey.Delivery, idempotencyKey, requestID string) (rekey.Task, error) {
	return s.start(ctx, initiator, sel, del, idempotencyKey, requestID, scheduleID, approvedBy)
}

// ScheduleNeedsApproval reports whether a schedule of initiator (its
// creator) with sel and del reaches more users than the district's
// approval threshold, counted as Start counts (stopping at threshold+1).
// The request is validated as Start validates it, with the same errors.
func (s *Service) ScheduleNeedsApproval(ctx context.Context, initiator rekey.User, sel rekey.Selection, del rekey.Delivery) (bool, error) {
	scope, sel, _, err := s.validate(ctx, initiator, sel, del)
	if err != nil {
		return false, err
	}
	status, err := s.initialStatus(ctx, initiator, scope, sel)
	return status == rekey.TaskAwaitingApproval, err
}
