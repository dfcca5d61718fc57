package mail

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

// SESAPI is the part of the SES v2 API that SES uses; *sesv2.Client
// satisfies it.
type SESAPI interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// SES sends rendered emails from one verified sender address.
type SES struct {
	client           SESAPI
	from             string
	configurationSet string
}

// NewSES returns a sender that sends from the verified address from.
// configurationSet may be "" (no SES configuration set).
func NewSES(client SESAPI, from, configurationSet string) *SES {
	return &SES{client: client, from: from, configurationSet: configurationSet}
}

// Send sends m as one email with a plain-text and an HTML part and returns
// the SES message id. SES has no idempotency token: a caller that must not
// send twice tracks its sends (see resets.Delivery). Errors are
// *SendError.
func (s *SES) Send(ctx context.Context, m Message) (string, error) {
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

// classify wraps an SES error as a *SendError.
func classify(err error) *SendError {
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
		return &SendError{Reason: "throttled", Temporary: true, Err: err}
	case errors.As(err, &rejected), errors.As(err, &unsent), errors.As(err, &bad), errors.As(err, &notFound):
		return &SendError{Reason: "rejected: " + errorCode(err), Err: err}
	case errors.As(err, &paused), errors.As(err, &suspended):
		return &SendError{Reason: "sending disabled: " + errorCode(err), Err: err}
	case errors.As(err, &api) && api.ErrorFault() == smithy.FaultClient:
		return &SendError{Reason: "refused: " + api.ErrorCode(), Err: err}
	case errors.As(err, &api):
		return &SendError{Reason: "ses error: " + api.ErrorCode(), Temporary: true, Err: err}
	default:
		return &SendError{Reason: "unavailable", Temporary: true, Err: err}
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
