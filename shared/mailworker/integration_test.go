package mailworker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/shared/dynamo"
	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/mail/sentmail"
	"github.com/rekey/rekey/shared/mail/ses"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/queue"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
	"github.com/rekey/rekey/shared/testclock"
	"github.com/rekey/rekey/shared/testrace"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// The integration tests run the whole pipeline against moto: the reset
// service on the DynamoDB store, the mail queue (with a dead-letter queue
// after 4 receives, as deployed), the poller standing in for Lambda's event
// source mapping, this worker, and SES.

const (
	senderAddress = "no-reply@rekey.example.org"
	consoleOrigin = "https://console.example.org"
)

// flakyMailer wraps the SES sender: it fails the first failures sends, and
// with crashAfterSend it panics right after the first successful send, as
// a worker dying before it records the send.
type flakyMailer struct {
	next           Mailer
	mu             sync.Mutex
	failures       int
	crashAfterSend bool
}

func (m *flakyMailer) Send(ctx context.Context, msg mail.Message) (string, error) {
	m.mu.Lock()
	if m.failures > 0 {
		m.failures--
		m.mu.Unlock()
		return "", &mail.SendError{Reason: "throttled", Temporary: true, Err: errors.New("injected")}
	}
	crash := m.crashAfterSend
	m.crashAfterSend = false
	m.mu.Unlock()
	id, err := m.next.Send(ctx, msg)
	if err == nil && crash {
		panic("worker crashed after sending")
	}
	return id, err
}

type pipeline struct {
	clock  *testclock.Clock
	store  *dynamo.Store
	db     *dynamodb.Client
	table  string
	sqs    *sqs.Client
	dlqURL string
	jobs   *queue.Sender
	svc    *resets.Service
	mailer *flakyMailer
	poller *queue.Poller
	admin  rekey.User
	users  map[string]rekey.User // by username
}

var fastHasher = password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}}

// newPipeline builds the pipeline on a fresh table and queue with a small
// district. Every user's email address is unique to the test, so the emails
// moto keeps for the whole package can be told apart.
func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	ctx := context.Background()
	cfg := mototest.Config(t)
	p := &pipeline{clock: testclock.New(time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)), users: map[string]rekey.User{}}
	p.db = dynamodb.NewFromConfig(cfg)
	p.table = mototest.Table(t, cfg)
	p.store = dynamo.New(p.db, p.table, p.clock.Now)

	for _, err := range []error{
		p.store.PutDistrict(ctx, rekey.District{ID: "d1", Name: "Riverbend Unified"}),
		p.store.PutSchool(ctx, rekey.School{ID: "s1", DistrictID: "d1", Name: "Northfield Elementary"}),
		p.store.PutSchool(ctx, rekey.School{ID: "s3", DistrictID: "d1", Name: "Oakridge Academy", SSO: true, SSOURL: "https://sso.oakridge.example/login"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	hash, err := fastHasher.Hash("the seeded old password")
	if err != nil {
		t.Fatal(err)
	}
	tag := strings.ToLower(rekey.NewID()[:10])
	for _, u := range []rekey.User{
		{ID: "da1", DistrictID: "d1", Role: rekey.RoleDistrictAdmin, Username: "district.admin", FirstName: "Dana", Email: "dana." + tag + "@example.org"},
		{ID: "st1", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Username: "jo.quill", FirstName: "Jo", LastName: "Quill", Email: "jo." + tag + "@example.org"},
		{ID: "st2", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Username: "off.line", Email: "off." + tag + "@example.org", Status: rekey.StatusDisabled},
		{ID: "st5", DistrictID: "d1", SchoolID: "s3", Role: rekey.RoleStudent, Username: "sso.kid", FirstName: "Sky", Email: "sky." + tag + "@example.org"},
	} {
		if u.Status == "" {
			u.Status = rekey.StatusActive
		}
		u.Version, u.SessionGen, u.PasswordHash, u.CreatedAt, u.UpdatedAt = 1, 1, hash, p.clock.Now(), p.clock.Now()
		if err := p.store.CreateUser(ctx, u, nil); err != nil {
			t.Fatalf("CreateUser(%s): %v", u.Username, err)
		}
		p.users[u.Username] = u
	}
	p.admin = p.users["district.admin"]

	p.sqs = sqs.NewFromConfig(cfg)
	mailQueue := mototest.NewQueue(t, p.sqs, "mail", DefaultMaxReceives)
	p.dlqURL = mailQueue.DeadLetterURL
	p.jobs = queue.NewSender(p.sqs, mailQueue.URL)

	p.svc, err = resets.NewService(resets.Config{}, resets.Deps{Store: p.store, Queue: p.jobs, Hasher: fastHasher, Now: p.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sesClient := sesv2.NewFromConfig(cfg)
	mototest.VerifySender(t, sesClient, senderAddress)
	p.mailer = &flakyMailer{next: ses.NewSender(sesClient, senderAddress, "")}
	h, err := NewHandler(Config{PublicBaseURL: consoleOrigin}, Deps{Deliveries: p.store, Resets: p.svc, Mailer: p.mailer, Audit: p.store, Now: p.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	p.poller = queue.NewPoller(p.sqs, mailQueue.URL, mailQueue.ARN, "us-east-1", h.Handle)
	p.poller.WaitTime, p.poller.FailedVisibility = 0, time.Nanosecond
	return p
}

// poll runs one poll of the mail queue and returns how many messages it got.
func (p *pipeline) poll(t *testing.T) int {
	t.Helper()
	n, err := p.poller.PollOnce(context.Background())
	if err != nil {
		t.Fatalf("PollOnce: %v", err)
	}
	return n
}

// drainQueue polls until the queue is empty.
func (p *pipeline) drainQueue(t *testing.T) {
	t.Helper()
	for range 10 {
		if p.poll(t) == 0 {
			return
		}
	}
	t.Fatal("the mail queue did not empty in 10 polls")
}

// emailsTo returns what SES accepted for username's address.
func (p *pipeline) emailsTo(t *testing.T, username string) []sentmail.Email {
	t.Helper()
	all, err := sentmail.Read(context.Background(), nil, os.Getenv("AWS_ENDPOINT_URL"))
	if err != nil {
		t.Fatal(err)
	}
	return sentmail.To(all, p.users[username].Email)
}

var linkPattern = regexp.MustCompile(regexp.QuoteMeta(consoleOrigin) + `/reset-password\?token=([A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{43})`)

// tokenIn returns the token of the reset link in an email.
func tokenIn(t *testing.T, e sentmail.Email) string {
	t.Helper()
	m := linkPattern.FindStringSubmatch(e.Body)
	if m == nil {
		t.Fatalf("email %q has no reset link on %s:\n%s", e.Subject, consoleOrigin, e.Body)
	}
	return m[1]
}

func (p *pipeline) delivery(t *testing.T, key string) rekey.MailDelivery {
	t.Helper()
	d, err := p.store.GetDelivery(context.Background(), key)
	if err != nil {
		t.Fatalf("GetDelivery(%s): %v", key, err)
	}
	return d
}

func (p *pipeline) pendingReset(t *testing.T, username string) resets.Reset {
	t.Helper()
	u, err := p.store.GetUser(context.Background(), p.users[username].ID)
	if err != nil {
		t.Fatalf("GetUser(%s): %v", username, err)
	}
	r, ok := resets.PendingReset(u)
	if !ok {
		t.Fatalf("%s has no pending reset", username)
	}
	return r
}

func TestLinkResetEndToEnd(t *testing.T) {
	ctx := context.Background()
	p := newPipeline(t)
	before := p.users["jo.quill"]
	if _, err := p.svc.ResetByLink(ctx, p.admin, before.ID, "req-1"); err != nil {
		t.Fatalf("ResetByLink: %v", err)
	}
	// The old password and every session die at once, before any email.
	voided, err := p.store.GetUser(ctx, before.ID)
	if err != nil {
		t.Fatal(err)
	}
	if voided.PasswordHash != "" || voided.VoidedPasswordHash != before.PasswordHash ||
		voided.Status != rekey.StatusResetRequired || voided.SessionGen != before.SessionGen+1 {
		t.Errorf("user after link reset = hash %q, voided %q, status %s, sessionGen %d; want no hash, the old one voided, reset_required, %d",
			voided.PasswordHash, voided.VoidedPasswordHash, voided.Status, voided.SessionGen, before.SessionGen+1)
	}

	p.drainQueue(t)
	emails := p.emailsTo(t, "jo.quill")
	if len(emails) != 1 || emails[0].From != senderAddress || emails[0].Subject != "Choose a new password" {
		t.Fatalf("emails to Jo = %+v, want one reset link email", emails)
	}
	token := tokenIn(t, emails[0])

	// No stored item holds the raw token.
	scan, err := p.db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(p.table)})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range scan.Items {
		for name, v := range item {
			if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok && strings.Contains(s.Value, token) {
				t.Errorf("item %v attribute %s holds the raw token", item["PK"], name)
			}
		}
	}

	if err := p.svc.ResetWithToken(ctx, token, "a new passphrase for jo", "req-2"); err != nil {
		t.Fatalf("ResetWithToken: %v", err)
	}
	if err := p.svc.ResetWithToken(ctx, token, "and another passphrase", "req-3"); !errors.Is(err, resets.ErrInvalidToken) {
		t.Errorf("second use of the link = %v, want invalid_token", err)
	}
	after, _ := p.store.GetUser(ctx, before.ID)
	if ok, _, _ := fastHasher.Verify(after.PasswordHash, "a new passphrase for jo"); !ok || after.Status != rekey.StatusActive {
		t.Errorf("after redemption status %s, new password verifies %v; want active and true", after.Status, ok)
	}
	p.drainQueue(t)
	emails = p.emailsTo(t, "jo.quill")
	if len(emails) != 2 || emails[1].Subject != "Your password was changed" {
		t.Errorf("emails to Jo after redemption = %d (%+v), want the link and the password-changed notice", len(emails), emails)
	}
	page, err := p.store.ListAudit(ctx, before.ID, 20, "")
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range page.Items {
		actions = append(actions, e.Action)
	}
	slices.Sort(actions)
	// The refused second use is audited in Jo's activity too (SECURITY.md
	// 14), though its answer is the generic invalid_token.
	if want := []string{rekey.ActionResetComplete, rekey.ActionResetFailed, rekey.ActionResetLink}; !slices.Equal(actions, want) {
		t.Errorf("audit actions = %v, want %v", actions, want)
	}
}

// TestRedrivenJobSendsOnce: the same job under a new SQS message id (a
// duplicate delivery, or a redrive from the DLQ) sends no second email.
func TestRedrivenJobSendsOnce(t *testing.T) {
	ctx := context.Background()
	p := newPipeline(t)
	if _, err := p.svc.ResetByLink(ctx, p.admin, "st1", "req"); err != nil {
		t.Fatal(err)
	}
	p.drainQueue(t)
	r := p.pendingReset(t, "jo.quill")
	job := rekey.MailJob{Kind: rekey.JobResetLink, ID: r.ID, UserID: r.UserID, ResetID: r.ID, ExpiresAt: r.ExpiresAt}
	if err := p.jobs.SendBatch(ctx, []any{job, job}); err != nil {
		t.Fatal(err)
	}
	p.drainQueue(t)
	if emails := p.emailsTo(t, "jo.quill"); len(emails) != 1 {
		t.Errorf("after two redeliveries Jo has %d emails, want 1", len(emails))
	}
	if d := p.delivery(t, job.Key()); d.State != rekey.DeliverySent || d.MessageID == "" {
		t.Errorf("outbox = %+v, want SENT with the SES message id", d)
	}
}

// TestCrashBetweenSendAndRecord: the worker dies after SES accepted the
// email but before the outbox says SENT. The retry, once the claim's lease
// has ended, sends one more email, and only its link works (SECURITY.md 18).
func TestCrashBetweenSendAndRecord(t *testing.T) {
	ctx := context.Background()
	p := newPipeline(t)
	p.mailer.crashAfterSend = true
	if _, err := p.svc.ResetByLink(ctx, p.admin, "st1", "req"); err != nil {
		t.Fatal(err)
	}
	if n := p.poll(t); n != 1 {
		t.Fatalf("first poll got %d messages, want 1", n)
	}
	r := p.pendingReset(t, "jo.quill")
	key := rekey.MailJob{Kind: rekey.JobResetLink, ID: r.ID}.Key()
	if d := p.delivery(t, key); d.State != rekey.DeliverySending {
		t.Fatalf("outbox after the crash = %+v, want SENDING", d)
	}
	// Within the lease the retry waits rather than send again.
	if n := p.poll(t); n != 1 || len(p.emailsTo(t, "jo.quill")) != 1 {
		t.Fatalf("retry within the lease: %d messages, %d emails; want the message back and still 1 email", n, len(p.emailsTo(t, "jo.quill")))
	}
	p.clock.Add(DefaultLease + time.Second)
	p.drainQueue(t)

	emails := p.emailsTo(t, "jo.quill")
	if len(emails) != 2 {
		t.Fatalf("after the crash and retry Jo has %d emails, want 2 (at most one extra)", len(emails))
	}
	first, second := tokenIn(t, emails[0]), tokenIn(t, emails[1])
	if err := p.svc.ResetWithToken(ctx, first, "a new passphrase for jo", "req"); !errors.Is(err, resets.ErrInvalidToken) {
		t.Errorf("the crashed attempt's link = %v, want invalid_token", err)
	}
	if err := p.svc.ResetWithToken(ctx, second, "a new passphrase for jo", "req"); err != nil {
		t.Errorf("the newest link = %v, want success", err)
	}
	if d := p.delivery(t, key); d.State != rekey.DeliverySent {
		t.Errorf("outbox after the retry = %+v, want SENT", d)
	}
}

func TestSendFailsTwiceThenSucceeds(t *testing.T) {
	ctx := context.Background()
	p := newPipeline(t)
	p.mailer.failures = 2
	if _, err := p.svc.ResetByLink(ctx, p.admin, "st1", "req"); err != nil {
		t.Fatal(err)
	}
	p.drainQueue(t)
	r := p.pendingReset(t, "jo.quill")
	d := p.delivery(t, rekey.MailJob{Kind: rekey.JobResetLink, ID: r.ID}.Key())
	if d.State != rekey.DeliverySent || d.Attempts != 3 || d.LastError != "send failed: throttled" {
		t.Errorf("outbox = %+v, want SENT after 3 attempts, remembering the last error", d)
	}
	emails := p.emailsTo(t, "jo.quill")
	if len(emails) != 1 {
		t.Fatalf("Jo has %d emails, want 1", len(emails))
	}
	if err := p.svc.ResetWithToken(ctx, tokenIn(t, emails[0]), "a new passphrase for jo", "req"); err != nil {
		t.Errorf("link after retries = %v, want success", err)
	}
}

// TestSendFailingEveryTryIsDeadLettered: SES rejects every attempt (here
// for real: an unverified sender); after 4 receives the message is in the
// DLQ, the outbox says why, and so does the user's activity, from the last
// try on (before it, the reset is only retried).
func TestSendFailingEveryTryIsDeadLettered(t *testing.T) {
	ctx := context.Background()
	p := newPipeline(t)
	p.mailer.next = ses.NewSender(sesv2.NewFromConfig(mototest.Config(t)), "unverified@elsewhere.example", "")
	if _, err := p.svc.ResetByLink(ctx, p.admin, "st1", "req"); err != nil {
		t.Fatal(err)
	}
	failedEntries := func() []rekey.AuditEntry {
		t.Helper()
		page, err := p.store.ListAudit(ctx, "st1", 50, "")
		if err != nil {
			t.Fatal(err)
		}
		var out []rekey.AuditEntry
		for _, e := range page.Items {
			if e.Action == rekey.ActionResetEmailFailed {
				out = append(out, e)
			}
		}
		return out
	}
	for i := 1; i <= DefaultMaxReceives; i++ {
		if n := p.poll(t); n != 1 {
			t.Fatalf("poll %d got %d messages, want 1", i, n)
		}
		if got, want := len(failedEntries()), map[bool]int{true: 1, false: 0}[i == DefaultMaxReceives]; got != want {
			t.Errorf("after try %d: %d failed-email entries in jo's activity, want %d", i, got, want)
		}
	}
	if n := p.poll(t); n != 0 {
		t.Errorf("poll after the last try got %d messages, want 0 (moved to the DLQ)", n)
	}
	if entries := failedEntries(); len(entries) == 1 {
		e := entries[0]
		if e.Outcome != rekey.OutcomeFailure || e.DistrictID != "d1" || e.Detail != "reset email failed after 4 tries: rejected: MessageRejected" {
			t.Errorf("activity entry = %+v, want a failure saying %q", e, "reset email failed after 4 tries: rejected: MessageRejected")
		}
	}
	out, err := p.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(p.dlqURL), MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 || !strings.Contains(aws.ToString(out.Messages[0].Body), `"kind":"reset_link"`) {
		t.Errorf("DLQ holds %d messages, want the reset_link job", len(out.Messages))
	}
	r := p.pendingReset(t, "jo.quill")
	d := p.delivery(t, rekey.MailJob{Kind: rekey.JobResetLink, ID: r.ID}.Key())
	if d.State != rekey.DeliveryPending || d.Attempts != DefaultMaxReceives || d.LastError != "send failed: rejected: MessageRejected" {
		t.Errorf("outbox = %+v, want PENDING after %d attempts with the rejection", d, DefaultMaxReceives)
	}
	if len(p.emailsTo(t, "jo.quill")) != 0 {
		t.Error("an email was recorded although every send was rejected")
	}
}

// TestForgotEnumeration: the request answers alike for every login, and
// only a known, active account with an address gets an email (SECURITY.md
// 11); a school with single sign-on gets a pointer instead of a link.
func TestForgotEnumeration(t *testing.T) {
	ctx := context.Background()
	p := newPipeline(t)
	for _, login := range []string{"nobody.here", "ghost@nowhere.example", "off.line", p.users["jo.quill"].Email, "sso.kid"} {
		if err := p.svc.Forgot(ctx, login, "192.0.2.10", "req"); err != nil {
			t.Errorf("Forgot(%q) = %v, want nil", login, err)
		}
	}
	p.drainQueue(t)
	if got := p.emailsTo(t, "off.line"); len(got) != 0 {
		t.Errorf("disabled account got %d emails, want 0", len(got))
	}
	all, err := sentmail.Read(ctx, nil, os.Getenv("AWS_ENDPOINT_URL"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		for _, to := range e.To {
			if strings.Contains(to, "nowhere") || strings.Contains(to, "nobody") {
				t.Errorf("an email went to %s", to)
			}
		}
	}
	jo := p.emailsTo(t, "jo.quill")
	if len(jo) != 1 || jo[0].Subject != "Reset your password" {
		t.Fatalf("Jo got %+v, want one self-service link", jo)
	}
	sky := p.emailsTo(t, "sso.kid")
	if len(sky) != 1 || !strings.Contains(sky[0].Body, "https://sso.oakridge.example/login") || linkPattern.MatchString(sky[0].Body) {
		t.Errorf("SSO student got %+v, want the school sign-in and no reset link", sky)
	}
	// The self-service link does not void the current password, and works.
	if u, _ := p.store.GetUser(ctx, "st1"); u.PasswordHash == "" || u.Status != rekey.StatusActive {
		t.Errorf("a forgot request changed the account: %+v", u)
	}
	if err := p.svc.ResetWithToken(ctx, tokenIn(t, jo[0]), "a new passphrase for jo", "req"); err != nil {
		t.Errorf("self-service link = %v, want success", err)
	}
}

func TestExpiryAndConcurrencyAgainstDynamo(t *testing.T) {
	ctx := context.Background()
	p := newPipeline(t)
	if _, err := p.svc.ResetByLink(ctx, p.admin, "st1", "req"); err != nil {
		t.Fatal(err)
	}
	p.drainQueue(t)
	token := tokenIn(t, p.emailsTo(t, "jo.quill")[0])

	p.clock.Add(15*time.Minute + time.Second)
	if err := p.svc.ResetWithToken(ctx, token, "a new passphrase for jo", "req"); !errors.Is(err, resets.ErrInvalidToken) {
		t.Errorf("link at expiry + 1 s = %v, want invalid_token", err)
	}

	if _, err := p.svc.Resend(ctx, p.admin, "st1", "req"); err != nil {
		t.Fatalf("Resend: %v", err)
	}
	p.drainQueue(t)
	emails := p.emailsTo(t, "jo.quill")
	fresh := tokenIn(t, emails[len(emails)-1])
	successes, others := testrace.Count(8, func(i int) error {
		return p.svc.ResetWithToken(ctx, fresh, fmt.Sprintf("concurrent passphrase number %d", i), "req")
	}, func(err error) bool { return errors.Is(err, resets.ErrInvalidToken) })
	if successes != 1 || len(others) > 0 {
		t.Errorf("8 concurrent redemptions: %d succeeded, other errors %v; want exactly 1 and the rest invalid_token", successes, others)
	}
}
