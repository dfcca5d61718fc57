package bulk_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/rekey/rekey/infra/bench/callcount"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/bulk/envelope/kmskeys"
	"github.com/rekey/rekey/shared/dynamo"
	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/mail/sentmail"
	"github.com/rekey/rekey/shared/mail/ses"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/queue"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
	"github.com/rekey/rekey/shared/testclock"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// The integration tests run the whole pipeline against moto through the
// real SDK: the service on the DynamoDB store, the plan and work queues
// (each with a dead-letter queue after 5 receives), pollers standing in for
// Lambda's event source mappings, the planner and the worker, KMS and SES.

const (
	senderAddress = "no-reply@rekey.example.org"
	consoleOrigin = "https://console.example.org"
	oldPassword   = "the seeded old password"
)

// fastHasher keeps tests quick; production uses password.DefaultParams.
var fastHasher = password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}}

// flakyMailer wraps the SES sender to inject failures: the first throttle
// sends are throttled, an address in failures fails that many times, one
// in rejected always fails, and afterSend runs after each successful send.
type flakyMailer struct {
	next      bulk.Mailer
	mu        sync.Mutex
	throttle  int
	failures  map[string]int
	rejected  map[string]bool
	afterSend func(n int)
	sent      int
	// log holds every email SES accepted through this mailer, so tests
	// need not read moto's whole state for each check.
	log []mail.Message
}

func (m *flakyMailer) Send(ctx context.Context, msg mail.Message) (string, error) {
	m.mu.Lock()
	switch {
	case m.throttle > 0:
		m.throttle--
		m.mu.Unlock()
		return "", &mail.SendError{Reason: "throttled", Temporary: true, Err: errors.New("injected throttle")}
	case m.rejected[msg.To]:
		m.mu.Unlock()
		return "", &mail.SendError{Reason: "rejected: MessageRejected", Err: errors.New("injected rejection")}
	case m.failures[msg.To] > 0:
		m.failures[msg.To]--
		m.mu.Unlock()
		return "", &mail.SendError{Reason: "ses error: InternalFailure", Temporary: true, Err: errors.New("injected failure")}
	}
	m.mu.Unlock()
	id, err := m.next.Send(ctx, msg)
	if err == nil {
		m.mu.Lock()
		m.sent++
		m.log = append(m.log, msg)
		n, after := m.sent, m.afterSend
		m.mu.Unlock()
		if after != nil {
			after(n)
		}
	}
	return id, err
}

// recordingQueue sends delayed messages at once (moto would hold them for
// real), remembering the delays asked for.
type recordingQueue struct {
	*queue.Sender
	mu     sync.Mutex
	delays []time.Duration
}

func (q *recordingQueue) SendDelayed(ctx context.Context, message any, delay time.Duration) error {
	q.mu.Lock()
	q.delays = append(q.delays, delay)
	q.mu.Unlock()
	return q.Sender.SendDelayed(ctx, message, 0)
}

// noticeRecorder stands in for the mail queue: it keeps the
// password-changed jobs the worker queues, one SendBatch call per entry of
// calls; while fail is positive a call fails (queuing nothing).
type noticeRecorder struct {
	mu    sync.Mutex
	jobs  []rekey.MailJob
	calls int
	fail  int
}

func (q *noticeRecorder) SendBatch(_ context.Context, messages []any) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail > 0 {
		q.fail--
		return errors.New("injected: mail queue unavailable")
	}
	q.calls++
	for _, m := range messages {
		q.jobs = append(q.jobs, m.(rekey.MailJob))
	}
	return nil
}

// taken returns the jobs queued so far and forgets them.
func (q *noticeRecorder) taken() []rekey.MailJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	jobs := q.jobs
	q.jobs = nil
	return jobs
}

// world is the pipeline on a fresh table and fresh queues, with a small
// district: every role, students with and without email, a disabled one,
// a second school and a second district.
type world struct {
	ctx        context.Context
	clock      *testclock.Clock
	calls      *callcount.Counter
	cfg        bulk.Config
	store      *dynamo.Store
	sqs        *sqs.Client
	planURL    string
	workURL    string
	work       *recordingQueue
	svc        *bulk.Service
	planner    *bulk.Planner
	worker     *bulk.Worker
	planPoll   *queue.Poller
	workPoll   *queue.Poller
	mailer     *flakyMailer
	notices    *noticeRecorder
	keys       *kmskeys.Keys
	users      map[string]rekey.User // by username, as seeded
	tag        string
	endpoint   string
	emailsSeen map[string]int
}

// worldOptions changes a world: extra students in a school, and the bulk
// configuration.
type worldOptions struct {
	extraStudents map[string]int // school id → how many more students with email
	config        func(*bulk.Config)
	// sesAccount gives the worker moto's SES to read the sending quota
	// from (moto lacks GetAccount, so the configured limits apply).
	sesAccount bool
}

func newWorld(t *testing.T, opt worldOptions) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{ctx: ctx, clock: testclock.New(time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)), calls: &callcount.Counter{},
		users: map[string]rekey.User{}, tag: strings.ToLower(rekey.NewID()[:10]), endpoint: os.Getenv("AWS_ENDPOINT_URL")}
	cfg := w.calls.Attach(mototest.Config(t))
	w.store = dynamo.New(dynamodb.NewFromConfig(cfg), mototest.Table(t, cfg), w.clock.Now)
	w.seed(t, opt.extraStudents)

	w.sqs = sqs.NewFromConfig(cfg)
	w.planURL = mototest.NewQueue(t, w.sqs, "plan", 5).URL
	w.workURL = mototest.NewQueue(t, w.sqs, "work", 5).URL
	plans := queue.NewSender(w.sqs, w.planURL)
	w.work = &recordingQueue{Sender: queue.NewSender(w.sqs, w.workURL)}

	kmsClient := kms.NewFromConfig(cfg)
	key, err := kmsClient.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("rekey test task keys")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	keys := kmskeys.New(kmsClient, aws.ToString(key.KeyMetadata.KeyId))
	w.keys = keys

	sesClient := sesv2.NewFromConfig(cfg)
	mototest.VerifySender(t, sesClient, senderAddress)
	w.mailer = &flakyMailer{next: ses.NewSender(sesClient, senderAddress, ""), failures: map[string]int{}, rejected: map[string]bool{}}

	w.cfg = bulk.Config{PublicBaseURL: consoleOrigin, SendRate: 2000, WorkerConcurrency: 1, RetryDelays: []time.Duration{time.Millisecond, time.Millisecond},
		CancelWait: time.Second}
	if opt.config != nil {
		opt.config(&w.cfg)
	}
	if w.svc, err = bulk.NewService(bulk.ServiceDeps{Store: w.store, Plans: plans, Keys: keys, Now: w.clock.Now, CancelWait: w.cfg.CancelWait}); err != nil {
		t.Fatal(err)
	}
	if w.planner, err = bulk.NewPlanner(w.cfg, bulk.PlannerDeps{Store: w.store, Work: w.work, Plans: plans, Now: w.clock.Now}); err != nil {
		t.Fatal(err)
	}
	w.notices = &noticeRecorder{}
	w.worker = w.newWorker(t, func(deps *bulk.WorkerDeps) {
		if opt.sesAccount {
			deps.Account = ses.NewAccount(sesClient)
		}
	})
	w.planPoll = queue.NewPoller(w.sqs, w.planURL, "", "us-east-1", w.planner.Handle)
	w.workPoll = queue.NewPoller(w.sqs, w.workURL, "", "us-east-1", w.worker.Handle)
	for _, p := range []*queue.Poller{w.planPoll, w.workPoll} {
		p.WaitTime, p.FailedVisibility = 0, time.Nanosecond
	}
	w.emailsSeen = map[string]int{}
	return w
}

// newWorker builds a worker on the world's store, queues, keys and
// mailer, with the dependencies change alters (a store or a mailer that
// fails on cue, for a worker that dies).
func (w *world) newWorker(t *testing.T, change func(*bulk.WorkerDeps)) *bulk.Worker {
	t.Helper()
	deps := bulk.WorkerDeps{Store: w.store, Work: w.work, Keys: w.keys, Notices: w.notices, Mailer: w.mailer, Hasher: fastHasher, Now: w.clock.Now}
	change(&deps)
	worker, err := bulk.NewWorker(w.cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return worker
}

// seed writes the demo district: ids are the usernames' short forms.
func (w *world) seed(t *testing.T, extra map[string]int) {
	t.Helper()
	for _, err := range []error{
		w.store.PutDistrict(w.ctx, rekey.District{ID: "d1", Name: "Riverbend Unified"}),
		w.store.PutDistrict(w.ctx, rekey.District{ID: "d2", Name: "Lakeside County"}),
		w.store.PutSchool(w.ctx, rekey.School{ID: "s1", DistrictID: "d1", Name: "Northfield Elementary"}),
		w.store.PutSchool(w.ctx, rekey.School{ID: "s2", DistrictID: "d1", Name: "Hillcrest High"}),
		w.store.PutSchool(w.ctx, rekey.School{ID: "x1", DistrictID: "d2", Name: "Lakeside Primary"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	hash, err := fastHasher.Hash(oldPassword)
	if err != nil {
		t.Fatal(err)
	}
	seedUsers := []rekey.User{
		{ID: "sup", Role: rekey.RoleSupport, Username: "support"},
		{ID: "da1", DistrictID: "d1", Role: rekey.RoleDistrictAdmin, Username: "dana.admin", FirstName: "Dana"},
		{ID: "da2", DistrictID: "d1", Role: rekey.RoleDistrictAdmin, Username: "dev.admin", FirstName: "Dev"},
		{ID: "sa1", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleSchoolAdmin, Username: "sam.head", FirstName: "Sam"},
		{ID: "sa2", DistrictID: "d1", SchoolID: "s2", Role: rekey.RoleSchoolAdmin, Username: "sol.head", FirstName: "Sol"},
		{ID: "t1", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleTeacher, Username: "tia.teach", FirstName: "Tia"},
		{ID: "t2", DistrictID: "d1", SchoolID: "s2", Role: rekey.RoleTeacher, Username: "ted.teach", FirstName: "Ted"},
		{ID: "st1", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Username: "jo.quill", FirstName: "Jo", LastName: "Quill", Grade: "7", ExternalID: "UPN001"},
		{ID: "st2", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Username: "ann.lee", FirstName: "Ann", LastName: "Lee", Grade: "7"},
		{ID: "st3", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Username: "bo.chen", FirstName: "Bo", LastName: "Chen", Grade: "8"},
		{ID: "st4", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Username: "cy.diaz", FirstName: "Cy", LastName: "Diaz", Grade: "8"},
		{ID: "st5", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Username: "no.mail", FirstName: "Nia", LastName: "Moss", Grade: "7"},
		{ID: "st6", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Username: "off.line", FirstName: "Oli", Grade: "7", Status: rekey.StatusDisabled},
		{ID: "st7", DistrictID: "d1", SchoolID: "s2", Role: rekey.RoleStudent, Username: "eve.hill", FirstName: "Eve", Grade: "9"},
		{ID: "st8", DistrictID: "d1", SchoolID: "s2", Role: rekey.RoleStudent, Username: "fay.hill", FirstName: "Fay", Grade: "9"},
		{ID: "x1", DistrictID: "d2", SchoolID: "x1", Role: rekey.RoleStudent, Username: "far.away", FirstName: "Far"},
	}
	for school, n := range extra {
		for i := range n {
			name := fmt.Sprintf("pupil.%s.%03d", school, i)
			seedUsers = append(seedUsers, rekey.User{ID: fmt.Sprintf("p-%s-%03d", school, i), DistrictID: "d1", SchoolID: school,
				Role: rekey.RoleStudent, Username: name, FirstName: "Pupil", LastName: fmt.Sprintf("Number%03d", i), Grade: "5"})
		}
	}
	for i, u := range seedUsers {
		if u.Status == "" {
			u.Status = rekey.StatusActive
		}
		if u.Username != "no.mail" {
			u.Email = u.Username + "." + w.tag + "@example.org"
		}
		u.Version, u.SessionGen, u.PasswordHash = 1, 1, hash
		u.CreatedAt, u.UpdatedAt = w.clock.Now(), w.clock.Now()
		seedUsers[i] = u
		w.users[u.Username] = u
	}
	if err := w.store.SeedUsers(w.ctx, seedUsers); err != nil {
		t.Fatalf("SeedUsers: %v", err)
	}
}

// onSaveStore runs before ahead of the first chunk write that match picks,
// once (match runs under the store's lock, one write at a time). An error
// from before fails that write instead, as a worker dying just before it.
type onSaveStore struct {
	*dynamo.Store
	match  func(rekey.ChunkWrite) bool
	before func(context.Context, rekey.ChunkWrite) error
	mu     sync.Mutex
	fired  bool
}

func (s *onSaveStore) SaveChunk(ctx context.Context, w rekey.ChunkWrite) error {
	s.mu.Lock()
	fire := !s.fired && s.match(w)
	s.fired = s.fired || fire
	s.mu.Unlock()
	if fire {
		if err := s.before(ctx, w); err != nil {
			return err
		}
	}
	return s.Store.SaveChunk(ctx, w)
}

// workerDies is an onSaveStore's before for a worker that dies before the
// write.
func workerDies(context.Context, rekey.ChunkWrite) error { return errors.New("worker crashed") }

// byID returns the seeded user with id.
func (w *world) byID(t *testing.T, id string) rekey.User {
	t.Helper()
	for _, u := range w.users {
		if u.ID == id {
			return u
		}
	}
	t.Fatalf("no seeded user %s", id)
	return rekey.User{}
}

// start starts a bulk reset as the user with username actor.
func (w *world) start(t *testing.T, actor string, sel rekey.Selection, del rekey.Delivery) rekey.Task {
	t.Helper()
	task, err := w.svc.Start(w.ctx, w.current(t, actor), sel, del, "", "req-"+t.Name())
	if err != nil {
		t.Fatalf("Start(%s, %+v, %s): %v", actor, sel, del.Mode, err)
	}
	return task
}

// current is the stored user with username, as it is now.
func (w *world) current(t *testing.T, username string) rekey.User {
	t.Helper()
	u, err := w.store.GetUser(w.ctx, w.users[username].ID)
	if err != nil {
		t.Fatalf("GetUser(%s): %v", username, err)
	}
	return u
}

// run drains the plan and work queues until both are empty.
func (w *world) run(t *testing.T) {
	t.Helper()
	for range 50 {
		n := w.drain(t, w.planPoll) + w.drain(t, w.workPoll)
		if n == 0 {
			return
		}
	}
	t.Fatal("the queues did not empty")
}

func (w *world) drain(t *testing.T, p *queue.Poller) int {
	t.Helper()
	total := 0
	for range 100 {
		n, err := p.PollOnce(w.ctx)
		if err != nil {
			t.Fatalf("PollOnce: %v", err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
	t.Fatal("a queue did not empty in 100 polls")
	return total
}

// task reads a task as its creator sees it.
func (w *world) task(t *testing.T, creator, id string) rekey.Task {
	t.Helper()
	task, err := w.svc.Get(w.ctx, w.current(t, creator), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return task
}

// results reads every result of a task, by user id, in pages of 100.
func (w *world) results(t *testing.T, viewer, id string) map[string]rekey.TaskResult {
	t.Helper()
	return w.resultPages(t, viewer, id, 100)
}

// resultPages reads every result of a task in pages of limit.
func (w *world) resultPages(t *testing.T, viewer, id string, limit int) map[string]rekey.TaskResult {
	t.Helper()
	out := map[string]rekey.TaskResult{}
	cursor := ""
	actor := w.current(t, viewer)
	for range 1000 {
		page, err := w.svc.Results(w.ctx, actor, id, limit, cursor)
		if err != nil {
			t.Fatalf("Results(%s): %v", id, err)
		}
		for _, r := range page.Items {
			if _, dup := out[r.UserID]; dup {
				t.Fatalf("Results(%s) lists %s twice", id, r.UserID)
			}
			out[r.UserID] = r
		}
		if page.Next == "" {
			return out
		}
		cursor = page.Next
	}
	t.Fatal("results did not end")
	return nil
}

// emailsTo returns what SES accepted for username's address.
func (w *world) emailsTo(t *testing.T, username string) []sentmail.Email {
	t.Helper()
	all, err := sentmail.Read(w.ctx, nil, w.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return sentmail.To(all, w.users[username].Email)
}

// allEmails counts the emails this world's mailer got SES to accept, by
// lower-cased address.
func (w *world) allEmails(t *testing.T) map[string]int {
	t.Helper()
	w.mailer.mu.Lock()
	defer w.mailer.mu.Unlock()
	counts := map[string]int{}
	for _, m := range w.mailer.log {
		counts[strings.ToLower(m.To)]++
	}
	return counts
}

// sentTo returns the emails this world's mailer sent to username.
func (w *world) sentTo(username string) []mail.Message {
	w.mailer.mu.Lock()
	defer w.mailer.mu.Unlock()
	var out []mail.Message
	for _, m := range w.mailer.log {
		if strings.EqualFold(m.To, w.users[username].Email) {
			out = append(out, m)
		}
	}
	return out
}

var linkPattern = regexp.MustCompile(regexp.QuoteMeta(consoleOrigin) + `/reset-password\?token=([A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{43})`)

// tokenIn returns the token of the reset link in an email's body.
func tokenIn(t *testing.T, body string) string {
	t.Helper()
	m := linkPattern.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("email has no reset link on %s:\n%s", consoleOrigin, body)
	}
	return m[1]
}

// resetsService redeems tokens against the same store.
func (w *world) resetsService(t *testing.T) *resets.Service {
	t.Helper()
	svc, err := resets.NewService(resets.Config{}, resets.Deps{Store: w.store, Queue: discardQueue{}, Hasher: fastHasher, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// discardQueue drops the password-changed notices of redemptions.
type discardQueue struct{}

func (discardQueue) Send(context.Context, any) error { return nil }

// snapshot reads every seeded user as stored now, by id, in one call.
func (w *world) snapshot(t *testing.T) map[string]rekey.User {
	t.Helper()
	ids := make([]string, 0, len(w.users))
	for _, u := range w.users {
		ids = append(ids, u.ID)
	}
	users, err := w.store.GetUsers(w.ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	return users
}

// auditOfTask returns the entries in user id's activity written by task
// taskID.
func (w *world) auditOfTask(t *testing.T, id, taskID string) []rekey.AuditEntry {
	t.Helper()
	page, err := w.store.ListAudit(w.ctx, id, 200, "")
	if err != nil {
		t.Fatalf("ListAudit(%s): %v", id, err)
	}
	var out []rekey.AuditEntry
	for _, e := range page.Items {
		if strings.Contains(e.Detail, taskID) {
			out = append(out, e)
		}
	}
	return out
}
