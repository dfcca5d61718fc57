package schedule

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// Errors of approving a schedule.
var (
	errSelfApproval = &rekey.Error{Code: rekey.ECodeSelfApproval, Message: "You created or last changed this schedule; another administrator must approve it."}
	errNotAwaiting  = &rekey.Error{Code: rekey.ECodeNotAwaitingApproval, Message: "This schedule is not waiting for approval."}
)

// askApproval returns sc (about to be saved by actor, to run with
// creator's authority) with its approval decided afresh: when its
// selection reaches more users than the district's approval threshold, it
// needs a second admin's approval before it runs, and any earlier approval
// is dropped (it approved another selection, delivery or timing).
// Otherwise it needs none. A selection the bulk service would refuse is
// refused now, with the bulk service's error.
func (s *Service) askApproval(ctx context.Context, actor, creator rekey.User, sc rekey.Schedule) (rekey.Schedule, error) {
	sc.NeedsApproval, sc.SubmittedBy, sc.ApprovedBy, sc.ApprovedAt = false, "", "", time.Time{}
	if s.approvals == nil {
		return sc, nil
	}
	needs, err := s.approvals.ScheduleNeedsApproval(ctx, creator, sc.Selection, sc.Delivery)
	if err != nil {
		var e *rekey.Error
		if errors.As(err, &e) {
			return sc, err
		}
		return sc, fmt.Errorf("schedule: count the selection against the approval threshold: %w", err)
	}
	if needs {
		sc.NeedsApproval, sc.SubmittedBy = true, actor.ID
	}
	return sc, nil
}

// creatorOr returns sc's creator as they are now, or actor when the
// creator is gone or may no longer act (the schedule's runs then fail,
// saying why; counting with the editor still tells whether it is large).
func (s *Service) creatorOr(ctx context.Context, sc rekey.Schedule, actor rekey.User) (rekey.User, error) {
	if sc.CreatedBy == actor.ID {
		return actor, nil
	}
	u, err := s.store.GetUser(ctx, sc.CreatedBy)
	switch {
	case rekey.ErrorCode(err) == rekey.ECodeNotFound:
		return actor, nil
	case err != nil:
		return rekey.User{}, fmt.Errorf("schedule: read creator %s: %w", sc.CreatedBy, err)
	case u.Status != rekey.StatusActive || !mayUseSchedules(u):
		return actor, nil
	}
	return u, nil
}

// Approve records actor's approval of schedule id, which waits for one
// (POST /api/schedules/{id}/approve); from then on its runs start as
// queued tasks. The approver is an admin who may manage the schedule, holds
// at least its creator's role's rank (a district admin of its district, or
// support: a school admin sees only their own schedules), and is neither
// its creator nor the admin who saved the version awaiting approval. The
// approval and its audit entry are one write, conditional on the version
// read, so a schedule changed meanwhile is never approved unseen.
//
// Errors: rekey.ErrNotFound for a schedule actor may not see (another
// district's); self_approval; not_awaiting_approval when it needs no
// approval or has it already; rekey.ErrVersionConflict when it was changed
// while being approved.
func (s *Service) Approve(ctx context.Context, actor rekey.User, id, requestID string) (rekey.Schedule, error) {
	before, err := s.Get(ctx, actor, id)
	if err != nil {
		return rekey.Schedule{}, err
	}
	if actor.ID == before.CreatedBy || actor.ID == before.SubmittedBy {
		return rekey.Schedule{}, errSelfApproval
	}
	if !before.AwaitingApproval() {
		return rekey.Schedule{}, errNotAwaiting
	}
	now := s.now()
	after := before
	after.ApprovedBy, after.ApprovedAt = actor.ID, now
	after.Version, after.UpdatedAt = before.Version+1, now
	entry := auditEntry(actor, after, rekey.ActionScheduleApprove,
		map[string]any{"approvedBy": ""}, map[string]any{"approvedBy": actor.ID, "selection": auditView(after)["selection"],
			"deliveryMode": string(after.Delivery.Mode), "expression": after.Expression, "timezone": after.Timezone}, requestID, now)
	entry.Detail = fmt.Sprintf("scheduled bulk reset approved: created by %s, submitted by %s", before.CreatedBy, before.SubmittedBy)
	if err := s.store.UpdateSchedule(ctx, before, after, &entry); err != nil {
		if errors.Is(err, rekey.ErrVersionConflict) {
			if current, err := s.Get(ctx, actor, id); err == nil && !current.AwaitingApproval() {
				return rekey.Schedule{}, errNotAwaiting
			}
			return rekey.Schedule{}, rekey.ErrVersionConflict
		}
		return rekey.Schedule{}, fmt.Errorf("schedule: approve %s: %w", id, err)
	}
	return normalised(after), nil
}
