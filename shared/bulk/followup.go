package bulk

import (
	"context"
	"fmt"

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
// selection is the parent's users in the states the action picks, read
// now, and whose parentTaskId is id. A task actor may not see is
// rekey.ErrNotFound; an unknown action is unknown_action (400); a follow-up that
// would reach nobody is nothing_to_follow_up; more than MaxSelectedUsers
// users is invalid_input (run a new bulk reset instead).
func (s *Service) FollowUp(ctx context.Context, actor rekey.User, id, action, requestID string) (FollowUpResult, error) {
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
	var ids []string
	leftOut := 0
	cursor := ""
	for {
		page, err := s.ResultsIn(ctx, actor, id, "", rekey.TaskResultPaging.Max, cursor)
		if err != nil {
			return FollowUpResult{}, err
		}
		for _, r := range page.Items {
			switch pick(action, r) {
			case pickYes:
				ids = append(ids, r.UserID)
			case pickLeftOut:
				leftOut++
			}
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(ids) == 0 {
		return FollowUpResult{LeftOut: leftOut}, errNothingToFollowUp
	}
	if len(ids) > MaxSelectedUsers {
		return FollowUpResult{}, rekey.FieldError(rekey.ECodeInvalidInput, "action",
			fmt.Sprintf("The follow-up would reach %d users, more than %d; start a new bulk reset instead.", len(ids), MaxSelectedUsers))
	}
	task, err := s.Start(withParentTask(ctx, id), actor, rekey.Selection{Mode: rekey.SelectSelected, UserIDs: ids}, del, "", requestID)
	if err != nil {
		return FollowUpResult{}, err
	}
	return FollowUpResult{Task: task, LeftOut: leftOut}, nil
}

type pickResult int

const (
	pickNo pickResult = iota
	pickYes
	pickLeftOut
)

// pick says whether result r belongs in action's follow-up.
func pick(action string, r rekey.TaskResult) pickResult {
	switch action {
	case FollowUpResendUnfinished:
		switch r.State {
		case rekey.StateCompleted, rekey.StateNoEmail:
			return pickNo
		case rekey.StateBounced, rekey.StateComplained:
			return pickLeftOut
		}
		return pickYes
	case FollowUpRetryFailed:
		if r.State == rekey.StateFailed {
			return pickYes
		}
	case FollowUpGeneratedForNoEmail:
		if r.State == rekey.StateNoEmail {
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
