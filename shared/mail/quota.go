package mail

// Quota is what the email account may send, as SES says (see
// ses.Account).
type Quota struct {
	// SendingEnabled is false while sending is paused for the account.
	SendingEnabled bool
	// Known is false when SES gave no quota figures; the fields below are
	// then zero and mean nothing.
	Known bool
	// Max24HourSend is the rolling 24-hour allowance; negative means no
	// daily limit.
	Max24HourSend float64
	// SentLast24Hours is how much of it is used.
	SentLast24Hours float64
	// MaxSendRate is the most emails per second.
	MaxSendRate float64
}
