package ses

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/mail/sentmail"
)

func TestMain(m *testing.M) { mototest.Main(m) }

func TestSESSendsThroughMoto(t *testing.T) {
	ctx := context.Background()
	client := sesv2.NewFromConfig(mototest.Config(t))
	const sender = "no-reply@ses-test.example.org"
	if _, err := client.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(sender)}); err != nil {
		t.Fatalf("CreateEmailIdentity: %v", err)
	}
	renderer, err := mail.NewRenderer(mail.English)
	if err != nil {
		t.Fatal(err)
	}
	m, err := renderer.Render(mail.KindResetLink, "ses.test@example.org",
		mail.Data{Name: "Jo", Username: "jo", Link: "https://rekey.example.org/reset-password?token=t0k3n", ExpiresIn: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewSender(client, sender, "").Send(ctx, m)
	if err != nil || id == "" {
		t.Fatalf("Send = %q, %v; want a message id", id, err)
	}
	emails, err := sentmail.Read(ctx, nil, os.Getenv("AWS_ENDPOINT_URL"))
	if err != nil {
		t.Fatal(err)
	}
	got := sentmail.To(emails, "ses.test@example.org")
	if len(got) != 1 || got[0].ID != id || got[0].From != sender || got[0].Subject != m.Subject || !strings.Contains(got[0].Body, "token=t0k3n") {
		t.Errorf("moto received %+v, want the one email %s", got, id)
	}

	_, err = NewSender(client, "unverified@elsewhere.example", "").Send(ctx, m)
	var sendErr *mail.SendError
	if !errors.As(err, &sendErr) || sendErr.Temporary || sendErr.Reason != "rejected: MessageRejected" {
		t.Errorf("Send from an unverified sender = %v, want a permanent 'rejected: MessageRejected'", err)
	}
}

// fakeAPIError is an SES error that is only a code and a fault.
type fakeAPIError struct {
	code  string
	fault smithy.ErrorFault
}

func (e fakeAPIError) Error() string                 { return e.code }
func (e fakeAPIError) ErrorCode() string             { return e.code }
func (e fakeAPIError) ErrorMessage() string          { return e.code }
func (e fakeAPIError) ErrorFault() smithy.ErrorFault { return e.fault }

func TestClassify(t *testing.T) {
	for _, test := range []struct {
		err       error
		reason    string
		temporary bool
	}{
		{&types.TooManyRequestsException{}, "throttled", true},
		{&types.LimitExceededException{}, "throttled", true},
		{&types.MessageRejected{}, "rejected: MessageRejected", false},
		{&types.MailFromDomainNotVerifiedException{}, "rejected: MailFromDomainNotVerifiedException", false},
		{&types.SendingPausedException{}, "sending disabled: SendingPausedException", false},
		{&types.AccountSuspendedException{}, "sending disabled: AccountSuspendedException", false},
		{fakeAPIError{"AccessDenied", smithy.FaultClient}, "refused: AccessDenied", false},
		{fakeAPIError{"InternalFailure", smithy.FaultServer}, "ses error: InternalFailure", true},
		{errors.New("dial tcp: connection refused"), "unavailable", true},
	} {
		got := classify(fmt.Errorf("wrapped: %w", test.err))
		if got.Reason != test.reason || got.Temporary != test.temporary || !errors.Is(got, test.err) {
			t.Errorf("classify(%T) = %q temporary %v, want %q temporary %v", test.err, got.Reason, got.Temporary, test.reason, test.temporary)
		}
	}
}

// recordingAPI answers SendEmail with a message id and keeps the input.
type recordingAPI struct{ in *sesv2.SendEmailInput }

func (a *recordingAPI) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	a.in = in
	return &sesv2.SendEmailOutput{MessageId: aws.String("0102019a-id")}, nil
}

// Every email carries the configuration set whose event destination brings
// SES's deliveries, bounces and complaints back; the id SES gave it is
// returned to the caller, which records it to match those events.
func TestSendCarriesTheConfigurationSet(t *testing.T) {
	for _, set := range []string{"rekey-mail", ""} {
		api := &recordingAPI{}
		id, err := NewSender(api, "no-reply@example.org", set).Send(context.Background(), mail.Message{To: "jo@example.org", Subject: "s", Text: "t", HTML: "h"})
		if err != nil || id != "0102019a-id" {
			t.Errorf("Send = %q, %v; want SES's message id", id, err)
		}
		if got := aws.ToString(api.in.ConfigurationSetName); got != set {
			t.Errorf("ConfigurationSetName = %q, want %q", got, set)
		}
	}
}
