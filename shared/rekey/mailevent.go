package rekey

import "time"

// MailEvent is what SES later says happened to a message it accepted: matched to a task's
// user by the MessageId recorded when the message was handed to SES.
type MailEvent struct {
	MessageID string    // SES MessageId
	Type      string    // MailDelivered, MailBounced or MailComplained
	At        time.Time // when SES saw it (detail.<type>.timestamp, else mail.timestamp)
	Reason    string    // bounce type/subtype and diagnostic, or complaint feedback type; "" for deliveries
}

const (
	MailDelivered  = "delivered"
	MailBounced    = "bounced"
	MailComplained = "complained"
)
