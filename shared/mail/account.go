package mail

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// Quota is what the email account may send, as SES says.
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

// AccountAPI is the part of the SES v2 API that SESAccount uses;
// *sesv2.Client satisfies it.
type AccountAPI interface {
	GetAccount(ctx context.Context, in *sesv2.GetAccountInput, optFns ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
}

// SESAccount reads the SES account's sending quota, for senders (the bulk
// worker) that pace themselves to it. moto does not implement GetAccount:
// Quota then fails and callers fall back to configured limits.
type SESAccount struct {
	client AccountAPI
}

// NewSESAccount returns a reader of the account client signs in to.
func NewSESAccount(client AccountAPI) *SESAccount {
	return &SESAccount{client: client}
}

// Quota asks SES for the account's sending quota (one GetAccount call).
func (a *SESAccount) Quota(ctx context.Context) (Quota, error) {
	out, err := a.client.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return Quota{}, fmt.Errorf("mail: read SES account: %w", err)
	}
	q := Quota{SendingEnabled: out.SendingEnabled}
	if out.SendQuota != nil {
		q.Known = true
		q.Max24HourSend, q.SentLast24Hours, q.MaxSendRate = out.SendQuota.Max24HourSend, out.SendQuota.SentLast24Hours, out.SendQuota.MaxSendRate
	}
	return q, nil
}
