package bulk

import (
	"context"

	"github.com/rekey/rekey/shared/rekey"
)

// Follow-up actions (POST /api/tasks/{id}/follow-ups): each starts a new
// task, with the parent's id, for some of the parent's users.
const (
	// FollowUpResendUnfinished emails a new link to everyone the parent
	// did not get to completed, except addresses that bounced or
	// complained (FollowUp says how many were left out) and users without
	// an email address.
	FollowUpResendUnfinished = "resend_unfinished"
	// FollowUpRetryFailed redoes only the failed users, with the parent's
	// delivery (generated passwords for a default-password parent: its
	// default password is not kept past PasswordRetention).
	FollowUpRetryFailed = "retry_failed"
	// FollowUpGeneratedForNoEmail gives the users the parent could not
	// email generated passwords, for the admin to hand out.
	FollowUpGeneratedForNoEmail = "generated_passwords_for_no_email"
)

// FollowUpResult is what a follow-up started.
type FollowUpResult struct {
	Task rekey.Task
	// LeftOut counts the users left out because their address bounced or
	// complained (resend_unfinished).
	LeftOut int
}

var errNothingToFollowUp = &rekey.Error{Code: rekey.ECodeNothingToFollowUp, Message: "Nobody is left for this follow-up."}

// FollowUp starts action's follow-up of task id as actor: a new task whose
// parentTaskId is id and whose selection (rekey.SelectFollowUp) is the
// parent's results that the action picks. The planner reads those results
// page by page when it plans the task, as it reads any selection, so a
// follow-up reaches any number of users (a district campaign's 30,000
// unfinished), and the worker authorises each user again, as the creator
// is now, as it does for every task. A task actor may not see is
// rekey.ErrNotFound; an unknown action is unknown_action (400); a
// follow-up that would reach nobody is nothing_to_follow_up (see
// followUpCount for how that is known without reading every result).
//
// With an idempotencyKey, a repeat of the same follow-up (parent and
// action) by the same actor answers the follow-up the key started, as a
// repeated POST /api/bulk-resets does (SECURITY.md 19), so that a double
// click or a retried request emails nobody twice; the key with another
// parent or action is idempotency_key_reused. (A repeat after the parent
// has nobody left to follow up is nothing_to_follow_up: it starts nothing
// either.)
func (s *Service) FollowUp(ctx context.Context, actor rekey.User, id, action, idempotencyKey, requestID string) (FollowUpResult, error) {
	var del rekey.Delivery
	switch action {
	case FollowUpResendUnfinished:
		del.Mode = rekey.DeliverEmailLink
	case FollowUpRetryFailed, FollowUpGeneratedForNoEmail:
		del.Mode = rekey.DeliverGeneratedPasswords
	default:
		return FollowUpResult{}, rekey.FieldError(rekey.ECodeUnknownAction, "action",
			"Unknown follow-up; use resend_unfinished, retry_failed or generated_passwords_for_no_email.")
	}
	rec, err := s.visible(ctx, actor, id)
	if err != nil {
		return FollowUpResult{}, err
	}
	if action == FollowUpRetryFailed && rec.Task.Delivery.Mode == rekey.DeliverEmailLink {
		del.Mode = rekey.DeliverEmailLink
	}
	n, leftOut, err := s.followUpCount(ctx, rec, action)
	if err != nil {
		return FollowUpResult{}, err
	}
	if n <= 0 {
		return FollowUpResult{LeftOut: leftOut}, errNothingToFollowUp
	}
	sel := rekey.Selection{Mode: rekey.SelectFollowUp, FollowUp: &rekey.FollowUpOf{TaskID: rec.Task.ID, Action: action, Count: n}}
	task, err := s.Start(withParentTask(ctx, id), actor, sel, del, idempotencyKey, requestID)
	if err != nil {
		return FollowUpResult{}, err
	}
	return FollowUpResult{Task: task, LeftOut: leftOut}, nil
}

// followUpCount is how many of parent's users action would reach, and how
// many it leaves out because their address bounced or complained, worked
// out without listing them: retry_failed and
// generated_passwords_for_no_email read the parent's counters (failed —
// which counts the users of dead-lettered chunks too — and noEmail: the
// counters always equal the results); resend_unfinished takes the users
// the parent finished with (processed) less those without email and the
// funnel's completed, bounced and complained — the funnel being the one
// pass over the parent's results, a page of chunks at a time, that
// reading the task makes anyway. The users themselves are read when the
// follow-up is planned, so the count is what the follow-up is named and
// judged for approval by; a user who completes in between is not reached.
func (s *Service) followUpCount(ctx context.Context, parent rekey.TaskRecord, action string) (n, leftOut int, err error) {
	t := parent.Task
	switch action {
	case FollowUpRetryFailed:
		return t.Failed, 0, nil
	case FollowUpGeneratedForNoEmail:
		return t.NoEmail, 0, nil
	}
	if t.Processed-t.NoEmail <= 0 {
		return 0, 0, nil
	}
	f, err := s.funnel(ctx, parent, s.now(), funnelPagesInFlight) // worked out now, never the remembered one: the count decides
	if err != nil {
		return 0, 0, err
	}
	leftOut = f.Bounced + f.Complained
	return t.Processed - t.NoEmail - f.Completed - leftOut, leftOut, nil
}

type pickResult int

const (
	pickNo pickResult = iota
	pickYes
	pickLeftOut
)

// pick says whether a result in state belongs in action's follow-up.
func pick(action, state string) pickResult {
	switch action {
	case FollowUpResendUnfinished:
		switch state {
		case rekey.StateCompleted, rekey.StateNoEmail:
			return pickNo
		case rekey.StateBounced, rekey.StateComplained:
			return pickLeftOut
		}
		return pickYes
	case FollowUpRetryFailed:
		if state == rekey.StateFailed {
			return pickYes
		}
	case FollowUpGeneratedForNoEmail:
		if state == rekey.StateNoEmail {
			return pickYes
		}
	}
	return pickNo
}

// parentKey carries a follow-up's parent task id into Start, whose
// signature the API and the schedule dispatcher share.
type parentKey struct{}

func withParentTask(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, parentKey{}, id)
}

// parentTaskID is the parent task a follow-up's Start records ("" for
// any other start).
func parentTaskID(ctx context.Context) string {
	id, _ := ctx.Value(parentKey{}).(string)
	return id
}
