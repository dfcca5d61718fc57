package bulk

import (
	"context"
	"errors"
	"fmt"

	"github.com/rekey/rekey/shared/rekey"
)

// Approve starts a task that awaits approval: the approver must be another
// person than its creator (self_approval) who can see the task and holds at
// least the creator's role, so that their own scope covers what the task
// may reach. The decision and its audit entry are one write; then the task
// is queued for the planner, which authorises every user against the
// creator's scope as for any task.
//
// Errors: rekey.ErrNotFound for a task the approver may not see (another
// district's); self_approval; rekey.ErrForbidden for a lower role;
// not_awaiting_approval for a task that is not (or no longer) waiting,
// such as one approved already.
func (s *Service) Approve(ctx context.Context, approver rekey.User, id, requestID string) (rekey.Task, error) {
	rec, err := s.visible(ctx, approver, id)
	if err != nil {
		return rekey.Task{}, err
	}
	if approver.ID == rec.Task.CreatedBy {
		return rekey.Task{}, errSelfApproval
	}
	if !canApprove(approver, rec) {
		return rekey.Task{}, rekey.ErrForbidden
	}
	if rec.Task.Status != rekey.TaskAwaitingApproval {
		if err := s.requeueApproved(ctx, rec); err != nil {
			return rekey.Task{}, err
		}
		return rekey.Task{}, errNotAwaiting
	}
	now := s.now()
	audit := rekey.AuditEntry{
		ID: rekey.NewID(), At: now, DistrictID: rec.Task.DistrictID, ActorID: approver.ID, ActorName: approver.FullName(),
		TargetID: rec.Task.ID, Action: rekey.ActionBulkApprove, Outcome: rekey.OutcomeSuccess, RequestID: requestID,
		Detail: fmt.Sprintf("bulk reset approved: selection %s, delivery %s, created by %s", rec.Task.Selection.Mode, rec.Task.Delivery.Mode, rec.Task.CreatedBy),
	}
	rec, err = s.store.DecideTask(ctx, id, true, "", audit)
	if errors.Is(err, rekey.ErrConflict) {
		return rekey.Task{}, errNotAwaiting
	}
	if err != nil {
		return rekey.Task{}, fmt.Errorf("bulk: approve task: %w", err)
	}
	if err := s.plans.Send(ctx, Message{Kind: KindPlan, TaskID: rec.Task.ID, InitiatorID: rec.Task.CreatedBy}); err != nil {
		// Approved but not queued: approving again queues it (requeueApproved).
		return rekey.Task{}, fmt.Errorf("bulk: queue approved task %s: %w", rec.Task.ID, err)
	}
	s.log.InfoContext(ctx, "bulk: task approved", "task", id, "by", approver.ID)
	return taskView(rec, now), nil
}

// requeueApproved puts an approved task that never started back on the
// plan queue: its approval's plan message may have failed to leave. The
// planner ignores a second message for a task it has planned.
func (s *Service) requeueApproved(ctx context.Context, rec rekey.TaskRecord) error {
	if rec.Task.Status != rekey.TaskQueued || rec.Task.ApprovedBy == "" || !rec.StartedAt.IsZero() {
		return nil
	}
	if err := s.plans.Send(ctx, Message{Kind: KindPlan, TaskID: rec.Task.ID, InitiatorID: rec.Task.CreatedBy}); err != nil {
		return fmt.Errorf("bulk: queue approved task %s again: %w", rec.Task.ID, err)
	}
	return nil
}

// Reject ends a task that awaits approval as cancelled, having sent
// nothing: its creator may withdraw it, and whoever may approve it may
// reject it. Errors as for Approve; a task that is running or finished is
// not_awaiting_approval (cancel a running task instead).
func (s *Service) Reject(ctx context.Context, actor rekey.User, id, requestID string) (rekey.Task, error) {
	rec, err := s.visible(ctx, actor, id)
	if err != nil {
		return rekey.Task{}, err
	}
	if actor.ID != rec.Task.CreatedBy && !canApprove(actor, rec) {
		return rekey.Task{}, rekey.ErrForbidden
	}
	if rec.Task.Status != rekey.TaskAwaitingApproval {
		return rekey.Task{}, errNotAwaiting
	}
	now := s.now()
	reason := fmt.Sprintf("rejected by %s (%s)", actor.FullName(), actor.ID)
	audit := rekey.AuditEntry{
		ID: rekey.NewID(), At: now, DistrictID: rec.Task.DistrictID, ActorID: actor.ID, ActorName: actor.FullName(),
		TargetID: rec.Task.ID, Action: rekey.ActionBulkReject, Outcome: rekey.OutcomeSuccess, RequestID: requestID,
		Detail: fmt.Sprintf("bulk reset rejected before it sent anything: selection %s, delivery %s, created by %s", rec.Task.Selection.Mode, rec.Task.Delivery.Mode, rec.Task.CreatedBy),
	}
	rec, err = s.store.DecideTask(ctx, id, false, reason, audit)
	if errors.Is(err, rekey.ErrConflict) {
		return rekey.Task{}, errNotAwaiting
	}
	if err != nil {
		return rekey.Task{}, fmt.Errorf("bulk: reject task: %w", err)
	}
	s.log.InfoContext(ctx, "bulk: task rejected", "task", id, "by", actor.ID)
	return taskView(rec, now), nil
}

// canApprove reports whether actor, who can see task rec, may approve it:
// someone other than its creator holding at least the creator's role
// (support approves anything it sees).
func canApprove(actor rekey.User, rec rekey.TaskRecord) bool {
	return actor.ID != rec.Task.CreatedBy && actor.Role.Rank() >= rec.CreatorRole.Rank()
}

var (
	errSelfApproval = &rekey.Error{Code: rekey.ECodeSelfApproval, Message: "You started this bulk reset; another administrator must approve it."}
	errNotAwaiting  = &rekey.Error{Code: rekey.ECodeNotAwaitingApproval, Message: "This task is not waiting for approval."}
)
