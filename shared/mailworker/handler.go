// Package mailworker is the mail queue's consumer (the mail-worker Lambda,
// and the local runner's in-process poller): for each rekey.MailJob it
// claims the job's outbox record, asks the reset service what to send,
// renders it and sends it through SES, and records the outcome.
//
// Every job is idempotent by its business key (rekey.MailJob.Key), never by
// the SQS message id, which a redrive changes (SECURITY.md 17). The outbox
// record goes PENDING → SENDING → SENT with conditional writes and keeps the
// SES message id (SECURITY.md 18): a duplicate or redriven message finds it
// SENT and sends nothing. If the worker dies between sending and recording,
// the claim's lease runs out, the retried message sends once more with a new
// token, and only that newest link works.
//
// A password_changed job may name many users (a bulk task's notices, see
// rekey.MailJob): each user is sent to as a job of their own, with their
// own outbox record (MailJob.Split), so a chunk enqueued twice sends each
// user one notice. Those notices are paced (NoticeRate per worker
// instance) and only NoticeBudget of them are sent per invocation; the
// users left over go back on the queue as a new job, delayed by
// NoticeDelay, and a throttled send puts the rest back the same way. So a
// 100,000-user task's notices neither outrun the account's SES rate nor
// hold the queue: between two of its slices, the reset links and forgot
// links queued behind it go out.
//
// Failed messages are reported in BatchItemFailures only (SECURITY.md 15),
// so SQS retries just those; after the queue's maxReceiveCount they move to
// the dead-letter queue, and the outbox record keeps the last error. A
// reset email whose last try fails (the receive that reaches
// Config.MaxReceives) is also recorded in the user's activity, with SES's
// reason, where an admin looking at that user's reset sees it.
package mailworker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/queue/batch"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
)

// auditWriter records an entry in a user's activity; *dynamo.Store
// satisfies it.
type auditWriter interface {
	PutAudit(ctx context.Context, e rekey.AuditEntry) error
}

// Deliveries is the outbox; *dynamo.Store satisfies it. ClaimDelivery
// answers rekey.ErrDeliveryFinished for a job already sent or skipped and
// rekey.ErrDeliveryBusy while another attempt holds a live claim.
type Deliveries interface {
	ClaimDelivery(ctx context.Context, key string, kind rekey.JobKind, at time.Time, lease time.Duration) (rekey.MailDelivery, error)
	SaveDelivery(ctx context.Context, d rekey.MailDelivery) error
}

// Preparer decides what a job sends, making reset tokens as needed;
// *resets.Service satisfies it.
type Preparer interface {
	PrepareMail(ctx context.Context, job rekey.MailJob) (resets.Outgoing, error)
}

// Mailer sends one email and returns its provider message id; *ses.Sender
// satisfies it.
type Mailer interface {
	Send(ctx context.Context, m mail.Message) (string, error)
}

// Requeuer puts a job back on the mail queue after delay; *queue.Sender
// satisfies it.
type Requeuer interface {
	SendDelayed(ctx context.Context, message any, delay time.Duration) error
}

// Defaults of the pacing of many-user notice jobs. Lambda runs at most 5
// mail workers at once (template.yaml): 5 × 2/s stays under SES's lowest
// production rate, 14/s, and leaves room for links and the bulk worker's
// own sends, which pace themselves to the account's rate.
const (
	DefaultNoticeRate   = 2.0
	DefaultNoticeBudget = 20
	DefaultNoticeDelay  = 30 * time.Second
	// throttledDelay is how long the rest of a notice job waits after SES
	// throttled one of its sends.
	throttledDelay = time.Minute
	// deadlineMargin is the time an invocation keeps for recording and
	// requeuing; no notice is started closer to the deadline.
	deadlineMargin = 5 * time.Second
)

// DefaultMaxReceives is the mail queue's maxReceiveCount (template.yaml):
// the first try and three retries, as a bulk task's MaxSendAttempts.
const DefaultMaxReceives = 4

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
	// NoticeRate is the most notices of many-user jobs one worker sends per
	// second (DefaultNoticeRate when zero).
	NoticeRate float64
	// NoticeBudget is the most such notices one invocation sends before the
	// rest goes back on the queue (DefaultNoticeBudget when zero).
	NoticeBudget int
	// NoticeDelay is how long users put back on the queue wait
	// (DefaultNoticeDelay when zero).
	NoticeDelay time.Duration
	// MaxReceives is the queue's maxReceiveCount (DefaultMaxReceives when
	// zero): a reset email failing on that receive is the last try.
	MaxReceives int
}

// Deps are the worker's collaborators.
type Deps struct {
	Deliveries Deliveries
	Resets     Preparer
	Mailer     Mailer
	// Requeue may be nil: the users of a many-user job left over are then
	// retried with the message, after the queue's visibility timeout.
	Requeue Requeuer
	// Audit records a reset email's last failed try in the user's
	// activity; it may be nil (nothing recorded) in tests of other paths.
	Audit auditWriter
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
	requeue    Requeuer
	renderer   *mail.Renderer
	log        *slog.Logger
	now        func() time.Time

	noticeBudget int
	noticeDelay  time.Duration
	maxReceives  int
	audit        auditWriter
	// sleep waits for d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	// pacer spaces this worker's bulk notices.
	pacer *mail.Pacer
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
		requeue:    deps.Requeue,
		renderer:   deps.Renderer,
		log:        deps.Logger,
		now:        deps.Now,
	}
	if h.lease <= 0 {
		h.lease = DefaultLease
	}
	rate := cfg.NoticeRate
	if rate <= 0 {
		rate = DefaultNoticeRate
	}
	h.pacer = mail.NewPacer(rate, func() time.Time { return h.now() })
	if h.noticeBudget = cfg.NoticeBudget; h.noticeBudget <= 0 {
		h.noticeBudget = DefaultNoticeBudget
	}
	if h.noticeDelay = cfg.NoticeDelay; h.noticeDelay <= 0 {
		h.noticeDelay = DefaultNoticeDelay
	}
	if h.maxReceives = cfg.MaxReceives; h.maxReceives <= 0 {
		h.maxReceives = DefaultMaxReceives
	}
	h.audit = deps.Audit
	h.sleep = sleep
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
	budget := h.noticeBudget
	process := func(ctx context.Context, m events.SQSMessage) error { return h.process(ctx, m, &budget) }
	return batch.Handle(ctx, event, batch.Options{Name: "mailworker", Logger: h.log}, process), nil
}

// process handles one message; an error means "retry it". budget is what
// is left of this invocation's notices of many-user jobs.
func (h *Handler) process(ctx context.Context, m events.SQSMessage, budget *int) error {
	var job rekey.MailJob
	if err := json.Unmarshal([]byte(m.Body), &job); err != nil {
		return fmt.Errorf("decode job: %w", err)
	}
	if err := job.Validate(); err != nil {
		return err
	}
	log := h.log.With("messageId", m.MessageId, "receiveCount", m.Attributes["ApproximateReceiveCount"])
	if len(job.UserIDs) > 0 {
		return h.processMany(ctx, log, job, budget)
	}
	// A count SQS did not give reads as 0: not the last try.
	receives, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	return h.processOne(ctx, log.With("job", job.Key()), job, nil, receives)
}

// errThrottled: SES refused a send for the account's rate.
var errThrottled = errors.New("mailworker: SES throttled the send")

// processMany sends the notices of a job that names many users, one job
// (and one outbox record) per user, paced, while the invocation's budget
// and time last; users already sent to cost no budget. The users left over, and those after a throttled send, go
// back on the queue as one job; users whose send failed otherwise make the
// message fail, so that it is retried (the users already sent are skipped
// by their outbox records).
func (h *Handler) processMany(ctx context.Context, log *slog.Logger, job rekey.MailJob, budget *int) error {
	var failed []error
	users := job.Split()
	for i, one := range users {
		if *budget <= 0 || h.nearDeadline(ctx, 0) {
			return errors.Join(h.putBack(ctx, log, job, job.UserIDs[i:], h.noticeDelay), errors.Join(failed...))
		}
		// After a throttle this worker's next notice may be further off
		// than this invocation lasts: the rest waits on the queue instead.
		if wait := h.pacer.Due(); h.nearDeadline(ctx, wait) {
			return errors.Join(h.putBack(ctx, log, job, job.UserIDs[i:], max(wait, h.noticeDelay)), errors.Join(failed...))
		}
		paced := func(ctx context.Context) error {
			*budget--
			return h.pace(ctx)
		}
		err := h.processOne(ctx, log.With("job", one.Key()), one, paced, 0)
		if ctx.Err() != nil {
			return errors.Join(err, h.putBack(ctx, log, job, job.UserIDs[i:], h.noticeDelay), errors.Join(failed...))
		}
		if errors.Is(err, errThrottled) {
			h.pacer.BackOff(throttledDelay)
			return errors.Join(h.putBack(ctx, log, job, job.UserIDs[i:], throttledDelay), errors.Join(failed...))
		}
		if err != nil {
			failed = append(failed, err)
		}
	}
	return errors.Join(failed...)
}

// putBack queues the users of job still to be sent to as a new job with the
// same id (so the same outbox keys), after delay. Without a Requeuer it
// fails the message instead, so that SQS retries it.
func (h *Handler) putBack(ctx context.Context, log *slog.Logger, job rekey.MailJob, userIDs []string, delay time.Duration) error {
	if h.requeue == nil {
		return fmt.Errorf("job %s: %d notices left for a later attempt", job.Key(), len(userIDs))
	}
	rest := job
	rest.UserIDs = slices.Clone(userIDs)
	if err := h.requeue.SendDelayed(ctx, rest, delay); err != nil {
		return fmt.Errorf("job %s: queue the %d notices left: %w", job.Key(), len(userIDs), err)
	}
	log.InfoContext(ctx, "mailworker: notices left for later", "job", job.Key(), "users", len(userIDs), "delay", delay)
	return nil
}

// nearDeadline reports whether the invocation must stop starting sends
// that first wait for wait.
func (h *Handler) nearDeadline(ctx context.Context, wait time.Duration) bool {
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < deadlineMargin+wait
}

// pace waits until the next notice may go, and books the slot after it.
func (h *Handler) pace(ctx context.Context) error {
	if wait := h.pacer.Reserve(); wait > 0 {
		return h.sleep(ctx, wait)
	}
	return nil
}

// sleep waits for d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// processOne sends the email of a one-user job, at most once per key.
// beforeSend, when set, runs right before the email goes to SES (pacing);
// its error gives the claim back. receives is the message's receive
// count (0 when unknown): see lastTryFailed.
func (h *Handler) processOne(ctx context.Context, log *slog.Logger, job rekey.MailJob, beforeSend func(context.Context) error, receives int) error {
	key := job.Key()

	d, err := h.deliveries.ClaimDelivery(ctx, key, job.Kind, h.now(), h.lease)
	switch {
	case errors.Is(err, rekey.ErrDeliveryFinished):
		log.InfoContext(ctx, "mailworker: job already done; nothing sent", "state", string(d.State))
		return nil
	case errors.Is(err, rekey.ErrDeliveryBusy):
		return fmt.Errorf("job %s is being sent by another attempt", key)
	case err != nil:
		return fmt.Errorf("claim job %s: %w", key, err)
	}

	out, err := h.resets.PrepareMail(ctx, job)
	if err != nil {
		h.release(ctx, log, d, "prepare: "+err.Error())
		return fmt.Errorf("prepare job %s: %w", key, err)
	}
	if out.Kind == "" {
		d.State, d.Reason, d.UpdatedAt = rekey.DeliverySkipped, out.Skip, h.now()
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
	if beforeSend != nil {
		if err := beforeSend(ctx); err != nil {
			h.release(ctx, log, d, "not sent: "+err.Error())
			return fmt.Errorf("job %s: %w", key, err)
		}
	}
	messageID, err := h.mailer.Send(ctx, msg)
	if err != nil {
		reason := "send failed"
		var sendErr *mail.SendError
		if errors.As(err, &sendErr) {
			reason = "send failed: " + sendErr.Reason
		}
		h.release(ctx, log, d, reason)
		if receives >= h.maxReceives {
			h.lastTryFailed(ctx, log, job, out, receives, reason)
		}
		// The SES error may quote addresses: only the reason is returned.
		if sendErr != nil && sendErr.Reason == "throttled" {
			return fmt.Errorf("job %s: %w", key, errThrottled)
		}
		return fmt.Errorf("job %s: %s", key, reason)
	}

	d.State, d.MessageID, d.UpdatedAt = rekey.DeliverySent, messageID, h.now()
	if err := h.deliveries.SaveDelivery(ctx, d); err != nil {
		// The email is out. Retrying would send it again once the lease
		// ends, so the job counts as done.
		log.ErrorContext(ctx, "mailworker: email sent but not recorded", "sesMessageId", messageID, "error", err)
		return nil
	}
	log.InfoContext(ctx, "mailworker: email sent", "message", string(out.Kind), "user", out.User.ID, "sesMessageId", messageID)
	return nil
}

// lastTryFailed records, in the user's activity, that a reset email failed
// its last try (the message goes to the dead-letter queue next) and SES's
// reason, so that the admin who looks at the user's reset sees it failed
// and why rather than a reset that seems to wait. Other emails (notices)
// are only logged. A failed record is logged: the outbox keeps the error.
func (h *Handler) lastTryFailed(ctx context.Context, log *slog.Logger, job rekey.MailJob, out resets.Outgoing, receives int, reason string) {
	log.ErrorContext(ctx, "mailworker: email failed its last try; the message goes to the dead-letter queue",
		"message", string(out.Kind), "user", out.User.ID, "receives", receives, "reason", reason)
	if h.audit == nil || (out.Kind != mail.KindResetLink && out.Kind != mail.KindForgotLink) {
		return
	}
	err := h.audit.PutAudit(ctx, rekey.AuditEntry{
		ID: rekey.NewID(), At: h.now(), DistrictID: out.User.DistrictID, TargetID: out.User.ID,
		Action: rekey.ActionResetEmailFailed, Outcome: rekey.OutcomeFailure, RequestID: job.RequestID,
		Detail: fmt.Sprintf("reset email failed after %d tries: %s", receives, strings.TrimPrefix(reason, "send failed: ")),
	})
	if err != nil {
		log.ErrorContext(ctx, "mailworker: record the failed reset email", "error", err)
	}
}

// release gives a failed attempt's claim back (PENDING, with why), so that
// the retried message may claim it at once.
func (h *Handler) release(ctx context.Context, log *slog.Logger, d rekey.MailDelivery, why string) {
	const maxErrorLength = 500
	if len(why) > maxErrorLength {
		why = why[:maxErrorLength]
	}
	d.State, d.LastError, d.UpdatedAt = rekey.DeliveryPending, why, h.now()
	if err := h.deliveries.SaveDelivery(ctx, d); err != nil {
		log.ErrorContext(ctx, "mailworker: record failed attempt", "error", err)
	}
}

// render turns what the reset service decided into an email.
func (h *Handler) render(out resets.Outgoing) (mail.Message, error) {
	data := mail.Data{Name: out.User.FirstName, Username: out.User.Username}
	switch out.Kind {
	case mail.KindResetLink, mail.KindForgotLink:
		data.Link = h.resetLink(out.Token)
		data.ExpiresIn = out.ExpiresAt.Sub(h.now())
	case mail.KindSSONotice:
		data.School, data.SignInURL = out.School.Name, out.School.SSOURL
	case mail.KindPasswordChanged:
		data.ChangedAt = out.ChangedAt
	case mail.KindTeacherBulkNotice:
		data.Actor, data.Count, data.School = out.Actor.FullName(), out.Count, out.School.Name
		data.Link = h.taskLink(out.TaskID)
	case mail.KindTaskFinished:
		if out.Summary != nil {
			data.Task = mail.TaskCounts{Name: out.Summary.Name, Status: string(out.Summary.Status), Total: out.Summary.Total,
				Succeeded: out.Summary.Succeeded, NoEmail: out.Summary.NoEmail, Failed: out.Summary.Failed, Skip: out.Summary.Skipped}
		}
		data.Link = h.taskLink(out.TaskID)
	default:
		return mail.Message{}, fmt.Errorf("no email for message %q", out.Kind)
	}
	return h.renderer.Render(out.Kind, out.User.Email, data)
}

// taskLink is the console's page of task id.
func (h *Handler) taskLink(id string) string {
	return h.baseURL + "/#/tasks/" + url.PathEscape(id)
}

// resetLink is the page that takes token: opening it consumes nothing; the
// page posts the token with the new password (SECURITY.md 10).
func (h *Handler) resetLink(token string) string {
	return h.baseURL + "/reset-password?token=" + url.QueryEscape(token)
}
