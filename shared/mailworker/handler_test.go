package mailworker

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
)

// fakeDeliveries is an in-memory outbox with the store's claim rules.
type fakeDeliveries struct {
	mu      sync.Mutex
	records map[string]rekey.MailDelivery
	saveErr error
}

func (f *fakeDeliveries) ClaimDelivery(_ context.Context, key string, kind rekey.JobKind, at time.Time, lease time.Duration) (rekey.MailDelivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.records[key]
	switch {
	case ok && d.State.Finished():
		return d, rekey.ErrDeliveryFinished
	case ok && d.State == rekey.DeliverySending && at.Before(d.LeaseUntil):
		return d, rekey.ErrDeliveryBusy
	}
	d.Key, d.Kind, d.State, d.Attempts = key, kind, rekey.DeliverySending, d.Attempts+1
	d.ClaimID, d.LeaseUntil = rekey.NewID(), at.Add(lease)
	f.records[key] = d
	return d, nil
}

func (f *fakeDeliveries) SaveDelivery(_ context.Context, d rekey.MailDelivery) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.saveErr != nil {
		return f.saveErr
	}
	if cur := f.records[d.Key]; cur.ClaimID != d.ClaimID || cur.State != rekey.DeliverySending {
		return rekey.ErrConflict
	}
	d.LeaseUntil = time.Time{}
	f.records[d.Key] = d
	return nil
}

// fakePreparer answers PrepareMail from a table keyed by job id.
type fakePreparer struct {
	out map[string]resets.Outgoing
	err error
}

func (p *fakePreparer) PrepareMail(_ context.Context, job rekey.MailJob) (resets.Outgoing, error) {
	if p.err != nil {
		return resets.Outgoing{}, p.err
	}
	return p.out[job.ID], nil
}

// fakeMailer records sent emails; it fails while failures remain.
type fakeMailer struct {
	mu       sync.Mutex
	sent     []mail.Message
	failures int
}

func (m *fakeMailer) Send(_ context.Context, msg mail.Message) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failures > 0 {
		m.failures--
		return "", &mail.SendError{Reason: "throttled", Temporary: true, Err: errors.New("slow down, not for jo@example.org")}
	}
	m.sent = append(m.sent, msg)
	return "ses-" + string(rune('0'+len(m.sent))), nil
}

var workerT0 = time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)

type testWorker struct {
	h          *Handler
	deliveries *fakeDeliveries
	preparer   *fakePreparer
	mailer     *fakeMailer
}

func newTestWorker(t *testing.T) *testWorker {
	t.Helper()
	w := &testWorker{
		deliveries: &fakeDeliveries{records: map[string]rekey.MailDelivery{}},
		preparer:   &fakePreparer{out: map[string]resets.Outgoing{}},
		mailer:     &fakeMailer{},
	}
	h, err := NewHandler(Config{PublicBaseURL: "https://console.example.org/"}, Deps{
		Deliveries: w.deliveries, Resets: w.preparer, Mailer: w.mailer, Now: func() time.Time { return workerT0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	w.h = h
	return w
}

// message is an SQS record carrying job under the given message id.
func message(t *testing.T, id string, job rekey.MailJob) events.SQSMessage {
	t.Helper()
	body, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	return events.SQSMessage{MessageId: id, Body: string(body), Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
}

var jo = rekey.User{ID: "st1", FirstName: "Jo", Username: "jo.quill", Email: "jo@example.org"}

func linkJob(resetID string) rekey.MailJob {
	return rekey.MailJob{Kind: rekey.JobResetLink, ID: resetID, UserID: jo.ID, ResetID: resetID}
}

func failedIDs(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func TestNewHandlerNeedsAnOrigin(t *testing.T) {
	deps := Deps{Deliveries: &fakeDeliveries{}, Resets: &fakePreparer{}, Mailer: &fakeMailer{}}
	for _, base := range []string{"", "console.example.org", "ftp://console.example.org", "https://console.example.org/?x=1", "https://user@console.example.org"} {
		if _, err := NewHandler(Config{PublicBaseURL: base}, deps); err == nil {
			t.Errorf("NewHandler(base %q) succeeded, want an error", base)
		}
	}
	if _, err := NewHandler(Config{PublicBaseURL: "https://console.example.org"}, Deps{}); err == nil {
		t.Error("NewHandler without dependencies succeeded, want an error")
	}
}

func TestHandleSendsLinkOnce(t *testing.T) {
	ctx := context.Background()
	w := newTestWorker(t)
	w.preparer.out["r1"] = resets.Outgoing{Kind: mail.KindResetLink, User: jo, Token: "tok_EN-1", ExpiresAt: workerT0.Add(15 * time.Minute)}

	resp, err := w.h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{message(t, "m1", linkJob("r1"))}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v; want no failures", resp, err)
	}
	if len(w.mailer.sent) != 1 {
		t.Fatalf("sent %d emails, want 1", len(w.mailer.sent))
	}
	m := w.mailer.sent[0]
	if m.To != jo.Email || !strings.Contains(m.Text, "https://console.example.org/reset-password?token=tok_EN-1") || !strings.Contains(m.Text, "15 minutes") {
		t.Errorf("email to %s:\n%s\nwant the link on the configured origin, expiring in 15 minutes", m.To, m.Text)
	}
	d := w.deliveries.records["reset_link#r1"]
	if d.State != rekey.DeliverySent || d.MessageID != "ses-1" || d.Attempts != 1 {
		t.Errorf("outbox = %+v, want SENT with the SES id after 1 attempt", d)
	}

	// The same job again under a new message id (a duplicate, or a redrive
	// from the dead-letter queue) sends nothing and succeeds.
	resp, _ = w.h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{message(t, "m2-redriven", linkJob("r1"))}})
	if len(resp.BatchItemFailures) != 0 || len(w.mailer.sent) != 1 {
		t.Errorf("duplicate job: failures %v, %d emails; want none and still 1", failedIDs(resp), len(w.mailer.sent))
	}
}

func TestHandleReportsOnlyFailedMessages(t *testing.T) {
	ctx := context.Background()
	w := newTestWorker(t)
	w.preparer.out["ok"] = resets.Outgoing{Kind: mail.KindPasswordChanged, User: jo, ChangedAt: workerT0}
	w.preparer.out["skip"] = resets.Outgoing{Skip: "superseded by a newer reset"}
	w.preparer.out["nolink"] = resets.Outgoing{Kind: mail.KindResetLink, User: rekey.User{ID: "x"}} // no address: cannot render
	changed := rekey.MailJob{Kind: rekey.JobPasswordChanged, ID: "ok", UserID: jo.ID}
	event := events.SQSEvent{Records: []events.SQSMessage{
		message(t, "m-ok", changed),
		{MessageId: "m-garbage", Body: "not json"},
		message(t, "m-invalid", rekey.MailJob{Kind: "send_password", ID: "x"}),
		message(t, "m-skip", linkJob("skip")),
		message(t, "m-nolink", linkJob("nolink")),
	}}
	resp, err := w.h.Handle(ctx, event)
	if err != nil {
		t.Fatalf("Handle returned a batch error %v; it must report items instead", err)
	}
	if diff := cmp.Diff([]string{"m-garbage", "m-invalid", "m-nolink"}, failedIDs(resp)); diff != "" {
		t.Errorf("BatchItemFailures (-want +got):\n%s", diff)
	}
	if got := w.deliveries.records["reset_link#skip"]; got.State != rekey.DeliverySkipped || got.Reason != "superseded by a newer reset" {
		t.Errorf("skipped job outbox = %+v, want SKIPPED with the reason", got)
	}
	if got := w.deliveries.records["reset_link#nolink"]; got.State != rekey.DeliveryPending || got.LastError == "" {
		t.Errorf("unrenderable job outbox = %+v, want PENDING with the error", got)
	}
	if len(w.mailer.sent) != 1 || w.mailer.sent[0].Subject != "Your password was changed" {
		t.Errorf("sent %+v, want only the notice", w.mailer.sent)
	}
}

func TestHandleRetriesFailedSends(t *testing.T) {
	ctx := context.Background()
	w := newTestWorker(t)
	w.mailer.failures = 2
	w.preparer.out["r1"] = resets.Outgoing{Kind: mail.KindForgotLink, User: jo, Token: "tok", ExpiresAt: workerT0.Add(30 * time.Minute)}
	msg := message(t, "m1", linkJob("r1"))
	for attempt := 1; attempt <= 3; attempt++ {
		resp, _ := w.h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{msg}})
		wantFailed := attempt < 3
		if got := len(resp.BatchItemFailures) == 1; got != wantFailed {
			t.Fatalf("attempt %d failed = %v, want %v", attempt, got, wantFailed)
		}
		d := w.deliveries.records["reset_link#r1"]
		if wantFailed && (d.State != rekey.DeliveryPending || d.LastError != "send failed: throttled") {
			t.Errorf("after failed attempt %d outbox = %+v, want PENDING with 'send failed: throttled'", attempt, d)
		}
		if strings.Contains(d.LastError, "@") {
			t.Errorf("outbox error %q quotes an address", d.LastError)
		}
	}
	d := w.deliveries.records["reset_link#r1"]
	if d.State != rekey.DeliverySent || d.Attempts != 3 || len(w.mailer.sent) != 1 {
		t.Errorf("after the third attempt outbox = %+v with %d emails, want SENT after 3 attempts and 1 email", d, len(w.mailer.sent))
	}
}

func TestHandleBusyAndUnrecordedSends(t *testing.T) {
	ctx := context.Background()
	w := newTestWorker(t)
	w.preparer.out["r1"] = resets.Outgoing{Kind: mail.KindResetLink, User: jo, Token: "tok", ExpiresAt: workerT0.Add(time.Minute)}
	// Another attempt holds the claim: retry later, send nothing.
	w.deliveries.records["reset_link#r1"] = rekey.MailDelivery{Key: "reset_link#r1", State: rekey.DeliverySending, LeaseUntil: workerT0.Add(time.Minute)}
	resp, _ := w.h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{message(t, "m1", linkJob("r1"))}})
	if len(resp.BatchItemFailures) != 1 || len(w.mailer.sent) != 0 {
		t.Errorf("busy job: failures %v, %d sent; want it retried and nothing sent", failedIDs(resp), len(w.mailer.sent))
	}
	// Sent but the outcome cannot be recorded: the message is done (a retry
	// would send a second email).
	delete(w.deliveries.records, "reset_link#r1")
	w.deliveries.saveErr = errors.New("table unavailable")
	resp, _ = w.h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{message(t, "m2", linkJob("r1"))}})
	if len(resp.BatchItemFailures) != 0 || len(w.mailer.sent) != 1 {
		t.Errorf("unrecorded send: failures %v, %d sent; want no retry and 1 email", failedIDs(resp), len(w.mailer.sent))
	}
}

func TestRenderEveryMessage(t *testing.T) {
	w := newTestWorker(t)
	for _, out := range []resets.Outgoing{
		{Kind: mail.KindResetLink, User: jo, Token: "t", ExpiresAt: workerT0.Add(time.Minute)},
		{Kind: mail.KindForgotLink, User: jo, Token: "t", ExpiresAt: workerT0.Add(time.Minute)},
		{Kind: mail.KindSSONotice, User: jo, School: rekey.School{Name: "Oakridge", SSOURL: "https://sso.example/login"}},
		{Kind: mail.KindPasswordChanged, User: jo, ChangedAt: workerT0},
	} {
		m, err := w.h.render(out)
		if err != nil || m.To != jo.Email || m.Subject == "" {
			t.Errorf("render(%s) = %+v, %v; want an email to Jo", out.Kind, m, err)
		}
	}
	if _, err := w.h.render(resets.Outgoing{Kind: "password_in_clear", User: jo}); err == nil {
		t.Error("render(unknown message) succeeded, want an error")
	}
}
