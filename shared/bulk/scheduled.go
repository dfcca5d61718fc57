package bulk

import (
	"context"

	"github.com/rekey/rekey/shared/rekey"
)

// Start starts a bulk reset for initiator, as POST /api/bulk-resets asks
// (see start for the rules and errors).
func (s *Service) Start(ctx context.Context, initiator rekey.User, sel rekey.Selection, del rekey.Delivery, idempotencyKey, requestID string) (rekey.Task, error) {
	return s.start(ctx, initiator, sel, del, idempotencyKey, requestID, scheduledRun{})
}

// StartScheduled is Start for a run of schedule sc, with its selection and
// delivery. The task records the schedule (task.scheduleId), so that a
// schedule's tasks can be listed, and is named with the schedule's name
// (API.md: a task's name is "a schedule's name when a schedule started
// it"), so that a district's nightly tasks read as such in the task centre
// and in the creator's finish email. sc.ApprovedBy is the admin who
// approved the schedule when it was saved above the approval threshold:
// the task is queued at once and records them as its approver (a schedule
// is approved once, not per run). Without it, a run that reaches more
// users than the threshold awaits approval as any bulk reset does.
func (s *Service) StartScheduled(ctx context.Context, sc rekey.Schedule, initiator rekey.User, idempotencyKey, requestID string) (rekey.Task, error) {
	return s.start(ctx, initiator, sc.Selection, sc.Delivery, idempotencyKey, requestID, scheduledRun{id: sc.ID, name: sc.Name, approvedBy: sc.ApprovedBy})
}

// scheduledRun is the schedule a task is started for (zero: started by
// hand).
type scheduledRun struct{ id, name, approvedBy string }

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
