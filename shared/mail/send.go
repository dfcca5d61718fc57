package mail

// SendError is a failed send, classified. Temporary failures (throttling,
// SES or network trouble) should be retried later; permanent ones (the
// message or sender was rejected, sending is paused) will fail again, but
// the mail queue still retries them a few times before its dead-letter queue
// keeps them, in case an operator fixes the cause meanwhile.
type SendError struct {
	// Reason is a short, stable description for outbox records and logs,
	// e.g. "throttled", "rejected: MessageRejected".
	Reason    string
	Temporary bool
	Err       error
}

func (e *SendError) Error() string { return "mail: send: " + e.Reason + ": " + e.Err.Error() }

func (e *SendError) Unwrap() error { return e.Err }
