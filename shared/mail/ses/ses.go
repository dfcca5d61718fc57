// Package ses is mail's Amazon SES side: a Sender that sends rendered
// emails (mail.Message) and classifies SES's refusals as *mail.SendError,
// and an Account that reads the account's sending quota. Rendering and the
// types senders share stay in package mail, free of the AWS SDK, so that
// services that render and send (shared/bulk) do not depend on SES.
package ses

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	"github.com/rekey/rekey/shared/mail"
)

// SendAPI is the part of the SES v2 API that Sender uses; *sesv2.Client
// satisfies it.
type SendAPI interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Sender sends rendered emails from one verified sender address.
type Sender struct {
	client           SendAPI
	from             string
	configurationSet string
}

// NewSender returns a Sender that sends from the verified address from.
// configurationSet may be "" (no SES configuration set).
func NewSender(client SendAPI, from, configurationSet string) *Sender {
	return &Sender{client: client, from: from, configurationSet: configurationSet}
}

// Send sends m as one email with a plain-text and an HTML part and returns
// the SES message id. SES has no idempotency token: a caller that must not
// send twice tracks its sends (see rekey.MailDelivery). Errors are
// *mail.SendError.
func (s *Sender) Send(ctx context.Context, m mail.Message) (string, error) {
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.from),
		Destination:      &types.Destination{ToAddresses: []string{m.To}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(m.Subject), Charset: aws.String("UTF-8")},
			Body: &types.Body{
				Text: &types.Content{Data: aws.String(m.Text), Charset: aws.String("UTF-8")},
				Html: &types.Content{Data: aws.String(m.HTML), Charset: aws.String("UTF-8")},
			},
		}},
	}
	if s.configurationSet != "" {
		in.ConfigurationSetName = aws.String(s.configurationSet)
	}
	out, err := s.client.SendEmail(ctx, in)
	if err != nil {
		return "", classify(err)
	}
	return aws.ToString(out.MessageId), nil
}

// classify wraps an SES error as a *mail.SendError.
func classify(err error) *mail.SendError {
	var (
		throttled *types.TooManyRequestsException
		limit     *types.LimitExceededException
		rejected  *types.MessageRejected
		unsent    *types.MailFromDomainNotVerifiedException
		paused    *types.SendingPausedException
		suspended *types.AccountSuspendedException
		bad       *types.BadRequestException
		notFound  *types.NotFoundException
		api       smithy.APIError
	)
	switch {
	case errors.As(err, &throttled), errors.As(err, &limit):
		return &mail.SendError{Reason: "throttled", Temporary: true, Err: err}
	case errors.As(err, &rejected), errors.As(err, &unsent), errors.As(err, &bad), errors.As(err, &notFound):
		return &mail.SendError{Reason: "rejected: " + errorCode(err), Err: err}
	case errors.As(err, &paused), errors.As(err, &suspended):
		return &mail.SendError{Reason: "sending disabled: " + errorCode(err), Err: err}
	case errors.As(err, &api) && api.ErrorFault() == smithy.FaultClient:
		return &mail.SendError{Reason: "refused: " + api.ErrorCode(), Err: err}
	case errors.As(err, &api):
		return &mail.SendError{Reason: "ses error: " + api.ErrorCode(), Temporary: true, Err: err}
	default:
		return &mail.SendError{Reason: "unavailable", Temporary: true, Err: err}
	}
}

// errorCode is the API error code of err, or its type when it has none.
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return fmt.Sprintf("%T", err)
}
