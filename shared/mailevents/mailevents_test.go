package mailevents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rekey/rekey/shared/rekey"
)

// sampleBounce is events/mail-events.json, the event sam local invokes.
func sampleBounce(t *testing.T) events.CloudWatchEvent {
	t.Helper()
	raw, err := os.ReadFile("../../events/mail-events.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.CloudWatchEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// sesEventOf is an EventBridge SES event with the given detail.
func sesEventOf(detailType, detail string) events.CloudWatchEvent {
	return events.CloudWatchEvent{Version: "0", ID: "ev-1", DetailType: detailType, Source: "aws.ses", Detail: json.RawMessage(detail)}
}

const (
	deliveryDetail = `{"eventType":"Delivery","mail":{"timestamp":"2026-09-01T06:02:12.915Z","messageId":"m-1","destination":["jo@example.org"]},
		"delivery":{"timestamp":"2026-09-01T06:02:14.100Z","processingTimeMillis":1185,"recipients":["jo@example.org"],"smtpResponse":"250 2.6.0 Message received","reportingMTA":"a8-12.smtp-out.amazonses.com"}}`
	complaintDetail = `{"eventType":"Complaint","mail":{"timestamp":"2026-09-01T06:02:12.915Z","messageId":"m-2"},
		"complaint":{"feedbackId":"f-1","complainedRecipients":[{"emailAddress":"jo@example.org"}],"timestamp":"2026-09-01T07:00:00Z","complaintFeedbackType":"abuse","userAgent":"Mail"}}`
)

func TestParse(t *testing.T) {
	long := strings.Repeat("é", 400)
	for _, test := range []struct {
		name string
		ev   events.CloudWatchEvent
		want rekey.MailEvent
	}{
		{"sample bounce", sampleBounce(t), rekey.MailEvent{
			MessageID: "0102019a7c3e5b7f-2c8e4d1a-5b6f-4a3c-9e8d-7f6a5b4c3d2e-000000", Type: rekey.MailBounced,
			At: time.Date(2026, 9, 1, 6, 2, 13, 482e6, time.UTC), Reason: "Permanent/General: smtp; 550 5.1.1 user unknown",
		}},
		{"delivery", sesEventOf("Email Delivered", deliveryDetail), rekey.MailEvent{
			MessageID: "m-1", Type: rekey.MailDelivered, At: time.Date(2026, 9, 1, 6, 2, 14, 100e6, time.UTC),
		}},
		{"complaint", sesEventOf("Email Complaint Received", complaintDetail), rekey.MailEvent{
			MessageID: "m-2", Type: rekey.MailComplained, At: time.Date(2026, 9, 1, 7, 0, 0, 0, time.UTC), Reason: "abuse",
		}},
		{"no event timestamp: the mail's", sesEventOf("Email Delivered", `{"eventType":"Delivery","mail":{"timestamp":"2026-09-01T06:02:12Z","messageId":"m-3"},"delivery":{}}`),
			rekey.MailEvent{MessageID: "m-3", Type: rekey.MailDelivered, At: time.Date(2026, 9, 1, 6, 2, 12, 0, time.UTC)}},
		{"bounce with a status only", sesEventOf("Email Bounced", `{"eventType":"Bounce","mail":{"messageId":"m-4"},"bounce":{"bounceType":"Transient","bounceSubType":"MailboxFull","timestamp":"2026-09-01T06:00:00Z","bouncedRecipients":[{"status":"4.2.2"}]}}`),
			rekey.MailEvent{MessageID: "m-4", Type: rekey.MailBounced, At: time.Date(2026, 9, 1, 6, 0, 0, 0, time.UTC), Reason: "Transient/MailboxFull: 4.2.2"}},
		{"long diagnostic cut on a rune", sesEventOf("Email Bounced", `{"eventType":"Bounce","mail":{"messageId":"m-5"},"bounce":{"bounceType":"Permanent","bounceSubType":"General","timestamp":"2026-09-01T06:00:00Z","bouncedRecipients":[{"diagnosticCode":"`+long+`"}]}}`),
			rekey.MailEvent{MessageID: "m-5", Type: rekey.MailBounced, At: time.Date(2026, 9, 1, 6, 0, 0, 0, time.UTC), Reason: ("Permanent/General: " + long)[:maxReason-1]}},
	} {
		t.Run(test.name, func(t *testing.T) {
			got, err := Parse(test.ev)
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if diff := cmp.Diff(test.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRefusesWhatItCannotUse(t *testing.T) {
	wrongSource := sesEventOf("Email Delivered", deliveryDetail)
	wrongSource.Source = "aws.events"
	for _, test := range []struct {
		name string
		ev   events.CloudWatchEvent
	}{
		{"another source", wrongSource},
		{"detail not JSON", sesEventOf("Email Delivered", `"oops"`)},
		{"empty detail", sesEventOf("Email Delivered", `{}`)},
		{"no message id", sesEventOf("Email Delivered", `{"eventType":"Delivery","mail":{"timestamp":"2026-09-01T06:02:12Z"},"delivery":{}}`)},
		{"an open", sesEventOf("Email Opened", `{"eventType":"Open","mail":{"timestamp":"2026-09-01T06:02:12Z","messageId":"m-1"},"open":{}}`)},
		{"bounce without its object", sesEventOf("Email Bounced", `{"eventType":"Bounce","mail":{"timestamp":"2026-09-01T06:02:12Z","messageId":"m-1"}}`)},
		{"no timestamp at all", sesEventOf("Email Delivered", `{"eventType":"Delivery","mail":{"messageId":"m-1"},"delivery":{}}`)},
		{"bad timestamp", sesEventOf("Email Delivered", `{"eventType":"Delivery","mail":{"messageId":"m-1","timestamp":"yesterday"},"delivery":{}}`)},
	} {
		t.Run(test.name, func(t *testing.T) {
			got, err := Parse(test.ev)
			if code := rekey.ErrorCode(err); code != rekey.ECodeInvalidInput {
				t.Errorf("Parse = %+v, %v; want an invalid_input error", got, err)
			}
		})
	}
}

// memRecorder keeps each message's state as a store would, applying
// rekey.NextMailState.
type memRecorder struct {
	mu     sync.Mutex
	states map[string]string // message id -> result state
	err    error             // returned instead of recording, when set
}

func (r *memRecorder) RecordMailEvent(_ context.Context, ev rekey.MailEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	state, ok := r.states[ev.MessageID]
	if !ok {
		return fmt.Errorf("memRecorder: message %s: %w", ev.MessageID, rekey.ErrNotFound)
	}
	r.states[ev.MessageID] = rekey.NextMailState(state, ev.Type)
	return nil
}

// bounceOf is the sample bounce, about message id.
func bounceOf(t *testing.T, id string) events.CloudWatchEvent {
	ev := sampleBounce(t)
	var detail map[string]any
	if err := json.Unmarshal(ev.Detail, &detail); err != nil {
		t.Fatal(err)
	}
	detail["mail"].(map[string]any)["messageId"] = id
	ev.Detail, _ = json.Marshal(detail)
	return ev
}

func TestHandleRecordsDuplicateLateAndReorderedEvents(t *testing.T) {
	ctx := context.Background()
	delivered := sesEventOf("Email Delivered", deliveryDetail) // message m-1
	bounced := bounceOf(t, "m-1")
	complained := sesEventOf("Email Complaint Received", strings.Replace(complaintDetail, "m-2", "m-1", 1))
	for _, test := range []struct {
		name   string
		events []events.CloudWatchEvent
		want   string
	}{
		{"delivered", []events.CloudWatchEvent{delivered}, "delivered"},
		{"delivered twice", []events.CloudWatchEvent{delivered, delivered}, "delivered"},
		{"bounced, then a late delivery", []events.CloudWatchEvent{bounced, delivered}, "bounced"},
		{"delivered, then bounced", []events.CloudWatchEvent{delivered, bounced}, "bounced"},
		{"complaint before its delivery", []events.CloudWatchEvent{complained, delivered, delivered}, "complained"},
	} {
		t.Run(test.name, func(t *testing.T) {
			rec := &memRecorder{states: map[string]string{"m-1": "sent"}}
			h := NewHandler(rec, nil)
			for _, ev := range test.events {
				if err := h.Handle(ctx, ev); err != nil {
					t.Fatalf("Handle(%s) = %v", ev.DetailType, err)
				}
			}
			if got := rec.states["m-1"]; got != test.want {
				t.Errorf("state after %s = %q, want %q", test.name, got, test.want)
			}
		})
	}
}

func TestHandleDropsWhatCannotSucceedAndRetriesStoreFailures(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	rec := &memRecorder{states: map[string]string{"m-1": "sent"}}
	h := NewHandler(rec, slog.New(slog.NewJSONHandler(&logs, nil)))

	// An unknown message id (a single-user reset, a deleted task): dropped
	// once it is older than RetryUnknownFor; a recent one is retried, as
	// its send may not be recorded yet.
	at, err := Parse(bounceOf(t, "m-unknown"))
	if err != nil {
		t.Fatal(err)
	}
	h.now = func() time.Time { return at.At.Add(RetryUnknownFor - time.Second) }
	if err := h.Handle(ctx, bounceOf(t, "m-unknown")); rekey.ErrorCode(err) != rekey.ECodeNotFound {
		t.Errorf("Handle(unknown message just sent) = %v, want it returned for a retry", err)
	}
	h.now = func() time.Time { return at.At.Add(RetryUnknownFor) }
	if err := h.Handle(ctx, bounceOf(t, "m-unknown")); err != nil {
		t.Errorf("Handle(unknown message) = %v, want nil (logged and dropped)", err)
	}
	if err := h.Record(ctx, bounceOf(t, "m-unknown")); rekey.ErrorCode(err) != rekey.ECodeNotFound {
		t.Errorf("Record(unknown message) = %v, want not_found", err)
	}
	// Malformed: dropped, never retried.
	if err := h.Handle(ctx, sesEventOf("Email Delivered", `{"eventType":`)); err != nil {
		t.Errorf("Handle(malformed) = %v, want nil (logged and dropped)", err)
	}
	if !strings.Contains(logs.String(), "event dropped") {
		t.Errorf("logs = %s, want the drops logged", logs.String())
	}
	if strings.Contains(logs.String(), "user unknown") {
		t.Errorf("logs = %s, want no bounce diagnostics (they carry addresses)", logs.String())
	}
	if rec.states["m-1"] != "sent" {
		t.Errorf("state of m-1 = %q, want it untouched", rec.states["m-1"])
	}
	// The store fails: returned, so that Lambda retries and the DLQ keeps it.
	down := errors.New("dynamo: throttled")
	rec.err = down
	if err := h.Handle(ctx, bounceOf(t, "m-1")); !errors.Is(err, down) {
		t.Errorf("Handle with the store down = %v, want it returned for a retry", err)
	}
}
