package rekey

import "testing"

func TestNextMailState(t *testing.T) {
	for _, test := range []struct {
		current, event, want string
	}{
		// In order.
		{"sent", MailDelivered, "delivered"},
		{"sent", MailBounced, "bounced"},
		{"sent", MailComplained, "complained"},
		{"delivered", MailComplained, "complained"},
		// Before the send was recorded (crash between send and record).
		{"pending", MailDelivered, "delivered"},
		{"pending", MailBounced, "bounced"},
		// Duplicates change nothing.
		{"delivered", MailDelivered, "delivered"},
		{"bounced", MailBounced, "bounced"},
		{"complained", MailComplained, "complained"},
		// Reordered or late: a delivery never undoes a bounce or complaint.
		{"bounced", MailDelivered, "bounced"},
		{"complained", MailDelivered, "complained"},
		{"complained", MailBounced, "complained"},
		// A bounce after a delivery (the receiving server bounced later).
		{"delivered", MailBounced, "bounced"},
		{"bounced", MailComplained, "complained"},
		// Late events after the link expired: only bad news explains it.
		{"expired", MailDelivered, "expired"},
		{"expired", MailBounced, "bounced"},
		{"expired", MailComplained, "complained"},
		// The user set a new password: final.
		{"completed", MailDelivered, "completed"},
		{"completed", MailBounced, "completed"},
		{"completed", MailComplained, "completed"},
		// Users the task did not email keep their state.
		{"password_set", MailDelivered, "password_set"},
		{"no_email", MailBounced, "no_email"},
		{"failed", MailDelivered, "failed"},
		{"skipped", MailComplained, "skipped"},
		// Unknown events and states are left alone.
		{"sent", "opened", "sent"},
		{"sent", "", "sent"},
		{"someday", MailBounced, "someday"},
	} {
		if got := NextMailState(test.current, test.event); got != test.want {
			t.Errorf("NextMailState(%q, %q) = %q, want %q", test.current, test.event, got, test.want)
		}
	}
}

// TestNextMailStateOrderIndependent applies every order of a delivery, a
// bounce and a complaint, each twice, and wants the same end state.
func TestNextMailStateOrderIndependent(t *testing.T) {
	events := []string{MailDelivered, MailBounced, MailDelivered, MailComplained, MailBounced, MailComplained}
	var permute func(k int)
	seen := 0
	permute = func(k int) {
		if k == len(events) {
			state := "sent"
			for _, ev := range events {
				state = NextMailState(state, ev)
			}
			if state != MailComplained {
				t.Errorf("after %v: %q, want complained", events, state)
			}
			seen++
			return
		}
		for i := k; i < len(events); i++ {
			events[k], events[i] = events[i], events[k]
			permute(k + 1)
			events[k], events[i] = events[i], events[k]
		}
	}
	permute(0)
	if seen != 720 {
		t.Fatalf("tried %d orders, want 720", seen)
	}
}
