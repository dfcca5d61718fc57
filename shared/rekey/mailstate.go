package rekey

// NextMailState is the state a task result takes when SES reports event
// (MailDelivered, MailBounced or MailComplained) about the message sent to
// its user, given the result's current state (API.md "Tasks as campaigns":
// pending, sent, delivered, bounced, complained, completed, expired, and the
// states that had no email: password_set, no_email, failed, skipped).
//
// SES delivers events at least once, late and in any order, so the rule is
// a ranking, never a sequence: an event only ever moves a result forward.
//   - A delivery marks a sent (or still pending: the send was not recorded
//     yet) message delivered; it never undoes a bounce or a complaint, and
//     a late delivery does not revive an expired link.
//   - A bounce outranks a delivery (receiving servers bounce after
//     accepting) and explains an expired link, so it replaces both.
//   - A complaint outranks everything mail said before: the user got the
//     message and does not want Rekey's email.
//   - completed (the user set a new password) is the goal and final; so are
//     the states of users the task did not email.
//
// A duplicate event leaves the state as it is. Unknown states and events
// leave the state unchanged, so a newer writer's state is never clobbered.
func NextMailState(current, event string) string {
	rank, ok := mailEventRank[event]
	if !ok {
		return current
	}
	switch current {
	case "pending", "sent":
		return event
	case "expired":
		// The link lapsed unused; only a bounce or complaint says more.
		if event == MailDelivered {
			return current
		}
		return event
	}
	if have, ok := mailEventRank[current]; ok && rank > have {
		return event
	}
	return current
}

// mailEventRank orders the states SES events lead to.
var mailEventRank = map[string]int{MailDelivered: 1, MailBounced: 2, MailComplained: 3}
