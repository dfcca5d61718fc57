// Package mailevents turns what SES later says about the email Rekey sent
// (delivered, bounced, complained) into task results' states.
//
//	SES (configuration set) ─▶ EventBridge rule ─▶ mail-events Lambda ─▶ Handler ─▶ Recorder (store)
//	                                                          │ fails 3 times
//	                                                          ▼
//	                                                    MailEventsDLQ
//
// SES sends each event at least once, late and out of order; the Recorder
// applies rekey.NextMailState so that a duplicate changes nothing and a
// delivery never undoes a bounce. Events the handler cannot use — malformed,
// of another type, or about a message no task recorded (a single-user reset,
// or a task since deleted) — are logged and dropped: retrying them would
// never succeed. Only a Recorder failure is returned, so that Lambda retries
// the event and, after its retries, keeps it in the DLQ.
package mailevents

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rekey/rekey/shared/rekey"
)

// Recorder records a mail event against the task result whose email had
// the event's MessageID; it returns an error wrapping rekey.ErrNotFound
// (code not_found) when no result has that message id.
type Recorder interface {
	RecordMailEvent(ctx context.Context, ev rekey.MailEvent) error
}

// Handler is the mail-events function's handler.
type Handler struct {
	recorder Recorder
	logger   *slog.Logger
	now      func() time.Time
}

// NewHandler returns a Handler that records events through recorder.
func NewHandler(recorder Recorder, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{recorder: recorder, logger: logger, now: time.Now}
}

// RetryUnknownFor is how long after SES saw it an event for an unknown
// message id is retried rather than dropped. A worker records its sends
// every few dozen emails, so a fast delivery can arrive before its
// message id is stored; Lambda retries a failed asynchronous invocation
// twice, about one and three minutes later, and then the function's DLQ
// keeps the event for a redrive.
const RetryUnknownFor = 10 * time.Minute

// Handle is the Lambda entry point for one EventBridge event. It returns
// an error only when the event should be retried.
func (h *Handler) Handle(ctx context.Context, ev events.CloudWatchEvent) error {
	err := h.Record(ctx, ev)
	switch rekey.ErrorCode(err) {
	case "":
		return nil
	case rekey.ECodeInvalidInput:
		h.logger.WarnContext(ctx, "mailevents: event dropped", "eventId", ev.ID, "detailType", ev.DetailType, "error", err)
		return nil
	case rekey.ECodeNotFound:
		if me, perr := Parse(ev); perr == nil && h.now().Sub(me.At) < RetryUnknownFor {
			return fmt.Errorf("mailevents: event %s: the message may not be recorded yet: %w", ev.ID, err)
		}
		h.logger.InfoContext(ctx, "mailevents: no task result has this message; event dropped", "eventId", ev.ID, "detailType", ev.DetailType, "error", err)
		return nil
	default:
		return fmt.Errorf("mailevents: event %s: %w", ev.ID, err)
	}
}

// Record parses ev and records it. Its errors say why: code invalid_input
// for an event that is not a usable SES delivery, bounce or complaint,
// not_found for an unknown message id, anything else a Recorder failure.
// The local runner's POST /_local/ses-events answers with them.
func (h *Handler) Record(ctx context.Context, ev events.CloudWatchEvent) error {
	me, err := Parse(ev)
	if err != nil {
		return err
	}
	if err := h.recorder.RecordMailEvent(ctx, me); err != nil {
		return fmt.Errorf("mailevents: record %s of message %s: %w", me.Type, me.MessageID, err)
	}
	h.logger.InfoContext(ctx, "mailevents: recorded", "eventId", ev.ID, "type", me.Type, "sesMessageId", me.MessageID)
	return nil
}

// sesEvent is the part of an SES event record (EventBridge's detail) that
// Rekey reads. Addresses and headers are left out on purpose: the message
// id is enough to find the user, and nothing personal gets logged.
type sesEvent struct {
	EventType string `json:"eventType"`
	Mail      struct {
		MessageID string    `json:"messageId"`
		Timestamp time.Time `json:"timestamp"`
	} `json:"mail"`
	Delivery *struct {
		Timestamp time.Time `json:"timestamp"`
	} `json:"delivery"`
	Bounce *struct {
		BounceType        string    `json:"bounceType"`
		BounceSubType     string    `json:"bounceSubType"`
		Timestamp         time.Time `json:"timestamp"`
		BouncedRecipients []struct {
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint *struct {
		ComplaintFeedbackType string    `json:"complaintFeedbackType"`
		Timestamp             time.Time `json:"timestamp"`
	} `json:"complaint"`
}

// maxReason bounds a bounce's reason: diagnostic codes are remote servers'
// free text.
const maxReason = 300

// Parse reads an SES delivery, bounce or complaint event as EventBridge
// delivers it (source aws.ses, detail-type "Email Delivered", "Email
// Bounced" or "Email Complaint Received", detail the SES event record).
// Errors have code invalid_input.
func Parse(ev events.CloudWatchEvent) (rekey.MailEvent, error) {
	invalid := func(format string, args ...any) (rekey.MailEvent, error) {
		return rekey.MailEvent{}, rekey.Errorf(rekey.ECodeInvalidInput, "mailevents: "+format, args...)
	}
	if ev.Source != "aws.ses" {
		return invalid("source %q is not aws.ses", ev.Source)
	}
	var d sesEvent
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		return invalid("detail of %q is not an SES event: %v", ev.DetailType, err)
	}
	if d.Mail.MessageID == "" {
		return invalid("%q has no detail.mail.messageId", ev.DetailType)
	}
	me := rekey.MailEvent{MessageID: d.Mail.MessageID, At: d.Mail.Timestamp}
	var at time.Time
	switch {
	case d.EventType == "Delivery" && d.Delivery != nil:
		me.Type, at = rekey.MailDelivered, d.Delivery.Timestamp
	case d.EventType == "Bounce" && d.Bounce != nil:
		me.Type, at = rekey.MailBounced, d.Bounce.Timestamp
		reason := []string{strings.TrimSpace(d.Bounce.BounceType + "/" + d.Bounce.BounceSubType)}
		for _, r := range d.Bounce.BouncedRecipients {
			if r.DiagnosticCode != "" {
				reason = append(reason, r.DiagnosticCode)
				break
			}
			if r.Status != "" {
				reason = append(reason, r.Status)
				break
			}
		}
		me.Reason = truncate(strings.Join(reason, ": "), maxReason)
	case d.EventType == "Complaint" && d.Complaint != nil:
		me.Type, at = rekey.MailComplained, d.Complaint.Timestamp
		me.Reason = truncate(d.Complaint.ComplaintFeedbackType, maxReason)
	default:
		return invalid("%q with eventType %q is not a delivery, bounce or complaint", ev.DetailType, d.EventType)
	}
	if !at.IsZero() {
		me.At = at
	}
	if me.At.IsZero() {
		return invalid("%q of message %s has no timestamp", ev.DetailType, me.MessageID)
	}
	me.At = me.At.UTC()
	return me, nil
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
