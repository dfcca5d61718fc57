// Package mailworker is the mail queue's consumer (the mail-worker Lambda,
// and the local runner's in-process poller): for each resets.MailJob it
// claims the job's outbox record, asks the reset service what to send,
// renders it and sends it through SES, and records the outcome.
//
// Every job is idempotent by its business key (resets.MailJob.Key), never by
// the SQS message id, which a redrive changes (SECURITY.md 17). The outbox
// record goes PENDING → SENDING → SENT with conditional writes and keeps the
// SES message id (SECURITY.md 18): a duplicate or redriven message finds it
// SENT and sends nothing. If the worker dies between sending and recording,
// the claim's lease runs out, the retried message sends once more with a new
// token, and only that newest link works.
//
// Failed messages are reported in BatchItemFailures only (SECURITY.md 15),
// so SQS retries just those; after the queue's maxReceiveCount they move to
// the dead-letter queue, and the outbox record keeps the last error.
package mailworker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/resets"
)

// Deliveries is the outbox; *dynamo.Store satisfies it. ClaimDelivery
// answers resets.ErrDeliveryFinished for a job already sent or skipped and
// resets.ErrDeliveryBusy while another attempt holds a live claim.
type Deliveries interface {
	ClaimDelivery(ctx context.Context, key string, kind resets.JobKind, at time.Time, lease time.Duration) (resets.Delivery, error)
	SaveDelivery(ctx context.Context, d resets.Delivery) error
}

// Preparer decides what a job sends, making reset tokens as needed;
// *resets.Service satisfies it.
type Preparer interface {
	PrepareMail(ctx context.Context, job resets.MailJob) (resets.Outgoing, error)
}

// Mailer sends one email and returns its provider message id; *mail.SES
// satisfies it.
type Mailer interface {
	Send(ctx context.Context, m mail.Message) (string, error)
}

// DefaultLease is how long a claim keeps other attempts from sending the
// same email. It must be longer than one send takes (the function timeout)
// and shorter than the queue's visibility timeout, so that a retry after a
// crash finds the lease ended.
const DefaultLease = 2 * time.Minute

// Config configures the worker.
type Config struct {
	// PublicBaseURL is the console origin users see (REKEY_PUBLIC_BASE_URL);
	// links are <PublicBaseURL>/reset-password?token=…, never built from a
	// request's Host header (SECURITY.md 12).
	PublicBaseURL string
	// Lease of a claim; DefaultLease when zero.
	Lease time.Duration
}

// Deps are the worker's collaborators.
type Deps struct {
	Deliveries Deliveries
	Resets     Preparer
	Mailer     Mailer
	// Renderer may be nil: emails are rendered in English.
	Renderer *mail.Renderer
	// Logger may be nil: nothing is logged.
	Logger *slog.Logger
	// Now may be nil: time.Now.
	Now func() time.Time
}

// Handler handles batches of mail jobs.
type Handler struct {
	baseURL    string
	lease      time.Duration
	deliveries Deliveries
	resets     Preparer
	mailer     Mailer
	renderer   *mail.Renderer
	log        *slog.Logger
	now        func() time.Time
}

// NewHandler returns a Handler; the base URL must be an absolute http(s)
// origin (with an optional path prefix).
func NewHandler(cfg Config, deps Deps) (*Handler, error) {
	base, err := url.Parse(cfg.PublicBaseURL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.RawQuery != "" || base.Fragment != "" || base.User != nil {
		return nil, fmt.Errorf("mailworker: public base URL %q must be an http(s) origin", cfg.PublicBaseURL)
	}
	if deps.Deliveries == nil || deps.Resets == nil || deps.Mailer == nil {
		return nil, errors.New("mailworker: Deliveries, Resets and Mailer are required")
	}
	h := &Handler{
		baseURL:    strings.TrimRight(base.String(), "/"),
		lease:      cfg.Lease,
		deliveries: deps.Deliveries,
		resets:     deps.Resets,
		mailer:     deps.Mailer,
		renderer:   deps.Renderer,
		log:        deps.Logger,
		now:        deps.Now,
	}
	if h.lease <= 0 {
		h.lease = DefaultLease
	}
	if h.renderer == nil {
		if h.renderer, err = mail.NewRenderer(mail.English); err != nil {
			return nil, err
		}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h, nil
}

// Handle processes a batch from the mail queue and reports the messages
// that failed, so that SQS retries only those. It never fails the batch as
// a whole.
func (h *Handler) Handle(ctx context.Context, event events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, m := range event.Records {
		if err := h.process(ctx, m); err != nil {
			h.log.WarnContext(ctx, "mailworker: job failed; it will be retried",
				"messageId", m.MessageId, "receiveCount", m.Attributes["ApproximateReceiveCount"], "error", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

// process handles one message; an error means "retry it".
func (h *Handler) process(ctx context.Context, m events.SQSMessage) error {
	var job resets.MailJob
	if err := json.Unmarshal([]byte(m.Body), &job); err != nil {
		return fmt.Errorf("decode job: %w", err)
	}
	if err := job.Validate(); err != nil {
		return err
	}
	key := job.Key()
	log := h.log.With("job", key, "messageId", m.MessageId, "receiveCount", m.Attributes["ApproximateReceiveCount"])

	d, err := h.deliveries.ClaimDelivery(ctx, key, job.Kind, h.now(), h.lease)
	switch {
	case errors.Is(err, resets.ErrDeliveryFinished):
		log.InfoContext(ctx, "mailworker: job already done; nothing sent", "state", string(d.State))
		return nil
	case errors.Is(err, resets.ErrDeliveryBusy):
		return fmt.Errorf("job %s is being sent by another attempt", key)
	case err != nil:
		return fmt.Errorf("claim job %s: %w", key, err)
	}

	out, err := h.resets.PrepareMail(ctx, job)
	if err != nil {
		h.release(ctx, log, d, "prepare: "+err.Error())
		return fmt.Errorf("prepare job %s: %w", key, err)
	}
	if out.Message == "" {
		d.State, d.Reason, d.UpdatedAt = resets.DeliverySkipped, out.Skip, h.now()
		if err := h.deliveries.SaveDelivery(ctx, d); err != nil {
			return fmt.Errorf("record skipped job %s: %w", key, err)
		}
		log.InfoContext(ctx, "mailworker: nothing to send", "reason", out.Skip)
		return nil
	}

	msg, err := h.render(out)
	if err != nil {
		h.release(ctx, log, d, err.Error())
		return fmt.Errorf("render job %s: %w", key, err)
	}
	messageID, err := h.mailer.Send(ctx, msg)
	if err != nil {
		reason := "send failed"
		var sendErr *mail.SendError
		if errors.As(err, &sendErr) {
			reason = "send failed: " + sendErr.Reason
		}
		h.release(ctx, log, d, reason)
		// The SES error may quote addresses: only the reason is returned.
		return fmt.Errorf("job %s: %s", key, reason)
	}

	d.State, d.MessageID, d.UpdatedAt = resets.DeliverySent, messageID, h.now()
	if err := h.deliveries.SaveDelivery(ctx, d); err != nil {
		// The email is out. Retrying would send it again once the lease
		// ends, so the job counts as done.
		log.ErrorContext(ctx, "mailworker: email sent but not recorded", "sesMessageId", messageID, "error", err)
		return nil
	}
	log.InfoContext(ctx, "mailworker: email sent", "message", string(out.Message), "user", out.User.ID, "sesMessageId", messageID)
	return nil
}

// release gives a failed attempt's claim back (PENDING, with why), so that
// the retried message may claim it at once.
func (h *Handler) release(ctx context.Context, log *slog.Logger, d resets.Delivery, why string) {
	const maxErrorLength = 500
	if len(why) > maxErrorLength {
		why = why[:maxErrorLength]
	}
	d.State, d.LastError, d.UpdatedAt = resets.DeliveryPending, why, h.now()
	if err := h.deliveries.SaveDelivery(ctx, d); err != nil {
		log.ErrorContext(ctx, "mailworker: record failed attempt", "error", err)
	}
}

// render turns what the reset service decided into an email.
func (h *Handler) render(out resets.Outgoing) (mail.Message, error) {
	data := mail.Data{Name: out.User.FirstName, Username: out.User.Username}
	var kind mail.Kind
	switch out.Message {
	case resets.MessageResetLink, resets.MessageForgotLink:
		kind = mail.KindResetLink
		if out.Message == resets.MessageForgotLink {
			kind = mail.KindForgotLink
		}
		data.Link = h.resetLink(out.Token)
		data.ExpiresIn = out.ExpiresAt.Sub(h.now())
	case resets.MessageSSONotice:
		kind = mail.KindSSONotice
		data.School, data.SignInURL = out.School.Name, out.School.SSOURL
	case resets.MessagePasswordChanged:
		kind = mail.KindPasswordChanged
		data.ChangedAt = out.ChangedAt
	default:
		return mail.Message{}, fmt.Errorf("no email for message %q", out.Message)
	}
	return h.renderer.Render(kind, out.User.Email, data)
}

// resetLink is the page that takes token: opening it consumes nothing; the
// page posts the token with the new password (SECURITY.md 10).
func (h *Handler) resetLink(token string) string {
	return h.baseURL + "/reset-password?token=" + url.QueryEscape(token)
}
