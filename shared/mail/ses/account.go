package ses

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/rekey/rekey/shared/mail"
)

// AccountAPI is the part of the SES v2 API that Account uses;
// *sesv2.Client satisfies it.
type AccountAPI interface {
	GetAccount(ctx context.Context, in *sesv2.GetAccountInput, optFns ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
}

// Account reads the SES account's sending quota, for senders (the bulk
// worker) that pace themselves to it. moto does not implement GetAccount:
// Quota then fails and callers fall back to configured limits.
type Account struct {
	client AccountAPI
}

// NewAccount returns an Account reading the account client signs in to.
func NewAccount(client AccountAPI) *Account {
	return &Account{client: client}
}

// Quota asks SES for the account's sending quota (one GetAccount call).
func (a *Account) Quota(ctx context.Context) (mail.Quota, error) {
	out, err := a.client.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return mail.Quota{}, fmt.Errorf("ses: read account: %w", err)
	}
	q := mail.Quota{SendingEnabled: out.SendingEnabled}
	if out.SendQuota != nil {
		q.Known = true
		q.Max24HourSend, q.SentLast24Hours, q.MaxSendRate = out.SendQuota.Max24HourSend, out.SendQuota.SentLast24Hours, out.SendQuota.MaxSendRate
	}
	return q, nil
}
