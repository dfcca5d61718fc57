package dynamo

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
	"github.com/rekey/rekey/shared/testclock"
	"github.com/rekey/rekey/shared/testrace"
)

// resetT0 is the reset tests' reference time.
var resetT0 = time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)

// Compile-time checks that the store is what the reset service and the mail
// worker ask for.
var _ resets.Store = (*Store)(nil)

// newResetStore returns a store on a fresh moto table with one active
// student, and that student.
func newResetStore(t *testing.T) (*Store, rekey.User) {
	t.Helper()
	cfg := mototest.Config(t)
	s := New(dynamodb.NewFromConfig(cfg), mototest.Table(t, cfg), func() time.Time { return resetT0 })
	u := rekey.User{
		ID: "u1", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, FirstName: "Jo", LastName: "Quill",
		Username: "jo.quill", Email: "jo@example.org", Status: rekey.StatusActive, Version: 1, SessionGen: 1,
		PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", CreatedAt: resetT0, UpdatedAt: resetT0,
	}
	if err := s.CreateUser(context.Background(), u, nil); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return s, u
}

// linkReset is the user change of an admin link reset of u, with the
// token whose hash is tokenHash ("" for none yet).
func linkReset(u rekey.User, resetID, tokenHash string) (rekey.User, resets.Reset) {
	r := resets.Reset{
		ID: resetID, UserID: u.ID, Purpose: resets.PurposeAdmin, Email: u.Email, CreatedBy: "admin1",
		CreatedAt: resetT0, ExpiresAt: resetT0.Add(15 * time.Minute), TokenHash: tokenHash,
	}
	return resets.ApplyLinkReset(u, r, resetT0), r
}

func auditFor(u rekey.User, action string) rekey.AuditEntry {
	return rekey.AuditEntry{ID: rekey.NewID(), At: resetT0, TargetID: u.ID, ActorID: "admin1", Action: action, Outcome: rekey.OutcomeSuccess}
}

func TestResetLifecycle(t *testing.T) {
	ctx := context.Background()
	s, u := newResetStore(t)
	if r, ok := resets.PendingReset(u); ok {
		t.Fatalf("PendingReset before any reset = %+v, want none", r)
	}

	after, r := linkReset(u, "r1", "")
	entry := auditFor(u, rekey.ActionResetLink)
	if err := s.SaveReset(ctx, u, after, &entry); err != nil {
		t.Fatalf("SaveReset: %v", err)
	}
	if err := s.SaveReset(ctx, u, after, &entry); !errors.Is(err, rekey.ErrVersionConflict) {
		t.Errorf("SaveReset with a stale user = %v, want ErrVersionConflict", err)
	}
	stored, err := s.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := resets.PendingReset(stored)
	if diff := cmp.Diff(r, got); !ok || diff != "" {
		t.Errorf("pending reset as stored (-want +got):\n%s", diff)
	}
	if stored.PasswordHash != "" || stored.Status != rekey.StatusResetRequired || stored.SessionGen != 2 || stored.Version != 2 {
		t.Errorf("user after the link reset = %+v, want no password, reset_required, sessionGen 2, version 2", stored)
	}
	page, err := s.ListAudit(ctx, u.ID, 10, "")
	if err != nil || len(page.Items) != 1 || page.Items[0].Action != rekey.ActionResetLink {
		t.Errorf("audit after the link reset = %+v, %v; want the link entry", page.Items, err)
	}

	// Issuing a token is a write without audit; a second one replaces it.
	withToken := stored
	withToken.ResetTokenHash, withToken.Version = resets.HashToken("raw-one"), stored.Version+1
	if err := s.SaveReset(ctx, stored, withToken, nil); err != nil {
		t.Fatalf("SaveReset(token): %v", err)
	}
	if err := s.SaveReset(ctx, stored, withToken, nil); !errors.Is(err, rekey.ErrVersionConflict) {
		t.Errorf("SaveReset(token) with a stale user = %v, want ErrVersionConflict", err)
	}

	// Redemption needs the current hash and version.
	done := resets.ApplyTemporaryPassword(withToken, "new-hash", resetT0)
	done.MustChangePassword = false
	if err := s.RedeemReset(ctx, resets.HashToken("raw-other"), withToken, done, auditFor(u, rekey.ActionResetComplete)); !errors.Is(err, rekey.ErrVersionConflict) {
		t.Errorf("RedeemReset with another token = %v, want ErrVersionConflict", err)
	}
	staleAfter := stored
	staleAfter.Version++
	if err := s.RedeemReset(ctx, resets.HashToken("raw-one"), stored, staleAfter, auditFor(u, rekey.ActionResetComplete)); !errors.Is(err, rekey.ErrVersionConflict) {
		t.Errorf("RedeemReset with a stale user = %v, want ErrVersionConflict", err)
	}
	if err := s.RedeemReset(ctx, resets.HashToken("raw-one"), withToken, done, auditFor(u, rekey.ActionResetComplete)); err != nil {
		t.Fatalf("RedeemReset: %v", err)
	}
	final, _ := s.GetUser(ctx, u.ID)
	if r, ok := resets.PendingReset(final); ok || final.PasswordHash != "new-hash" || final.Version != 4 {
		t.Errorf("user after redemption = %+v (pending %+v), want the new hash at version 4 and no reset", final, r)
	}
	if page, _ := s.ListAudit(ctx, u.ID, 10, ""); len(page.Items) != 2 {
		t.Errorf("audit after redemption has %d entries, want 2 (link, completion)", len(page.Items))
	}
	renamed := final
	renamed.Username, renamed.Version = "someone.else", final.Version+1
	if err := s.SaveReset(ctx, final, renamed, nil); err == nil {
		t.Error("SaveReset renaming the user succeeded, want an error")
	}
}

// TestLinkResetKeepsVoidedHash: the voided password must survive the round
// trip through the user item, so that sign-in with it can answer
// password_reset_required.
func TestLinkResetKeepsVoidedHash(t *testing.T) {
	ctx := context.Background()
	s, u := newResetStore(t)
	after, _ := linkReset(u, "r1", "")
	if err := s.SaveReset(ctx, u, after, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.VoidedPasswordHash != u.PasswordHash {
		t.Errorf("VoidedPasswordHash after a link reset = %q, want %q (the user item must map it)", got.VoidedPasswordHash, u.PasswordHash)
	}
}

// TestConcurrentRedeemReset: 8 simultaneous redemptions of one token, each
// from a user read before any of them wrote: exactly one succeeds
// (SECURITY.md 7).
func TestConcurrentRedeemReset(t *testing.T) {
	ctx := context.Background()
	s, u := newResetStore(t)
	hash := resets.HashToken("raw")
	after, _ := linkReset(u, "r1", hash)
	if err := s.SaveReset(ctx, u, after, nil); err != nil {
		t.Fatal(err)
	}
	successes, errs := testrace.Count(8, func(i int) error {
		done := resets.ApplyTemporaryPassword(after, "hash-"+string(rune('a'+i)), resetT0)
		return s.RedeemReset(ctx, hash, after, done, auditFor(u, rekey.ActionResetComplete))
	}, func(err error) bool {
		return errors.Is(err, rekey.ErrVersionConflict) || errors.Is(err, rekey.ErrConflict)
	})
	if successes != 1 || len(errs) > 0 {
		t.Errorf("8 concurrent redemptions: %d succeeded, other errors %v; want 1 success, the rest conflicts", successes, errs)
	}
}

// TestNoRawTokenStored scans the whole table after a token was recorded.
func TestNoRawTokenStored(t *testing.T) {
	ctx := context.Background()
	s, u := newResetStore(t)
	raw, hash := resets.NewToken(u.ID)
	after, _ := linkReset(u, "r1", hash)
	if err := s.SaveReset(ctx, u, after, nil); err != nil {
		t.Fatal(err)
	}
	_, secret, _ := strings.Cut(raw, ".")
	out, err := s.db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(s.table)})
	if err != nil {
		t.Fatal(err)
	}
	hashSeen := false
	for _, item := range out.Items {
		for name, v := range item {
			text, ok := v.(*types.AttributeValueMemberS)
			if !ok {
				continue
			}
			if strings.Contains(text.Value, secret) {
				t.Errorf("item %v attribute %s holds the raw token", item["PK"], name)
			}
			hashSeen = hashSeen || strings.Contains(text.Value, hash)
		}
	}
	if !hashSeen {
		t.Error("the token's hash is stored nowhere; the scan saw nothing")
	}
}

// jobQueue keeps the mail jobs the reset service queues.
type jobQueue struct {
	mu   sync.Mutex
	jobs []rekey.MailJob
}

func (q *jobQueue) Send(_ context.Context, message any) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, message.(rekey.MailJob))
	return nil
}

// linkWorld is the reset service over the moto store, with its mail jobs
// turned into links as the mail worker would.
type linkWorld struct {
	store *Store
	svc   *resets.Service
	queue *jobQueue
	clock *testclock.Clock
	user  rekey.User
	admin rekey.User
}

func newLinkWorld(t *testing.T) *linkWorld {
	t.Helper()
	s, u := newResetStore(t)
	admin := rekey.User{ID: "admin1", DistrictID: "d1", Role: rekey.RoleDistrictAdmin, FirstName: "Dee", LastName: "Admin",
		Username: "dee.admin", Email: "dee@example.org", Status: rekey.StatusActive, Version: 1, SessionGen: 1, CreatedAt: resetT0, UpdatedAt: resetT0}
	if err := s.CreateUser(context.Background(), admin, nil); err != nil {
		t.Fatal(err)
	}
	w := &linkWorld{store: s, queue: &jobQueue{}, clock: testclock.New(resetT0), user: u, admin: admin}
	svc, err := resets.NewService(resets.Config{}, resets.Deps{Store: s, Queue: w.queue,
		Hasher: password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}}, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	return w
}

// mail runs the queued jobs through PrepareMail and returns the one token
// they email.
func (w *linkWorld) mail(t *testing.T) string {
	t.Helper()
	w.queue.mu.Lock()
	jobs := w.queue.jobs
	w.queue.jobs = nil
	w.queue.mu.Unlock()
	var tokens []string
	for _, job := range jobs {
		out, err := w.svc.PrepareMail(context.Background(), job)
		if err != nil {
			t.Fatalf("PrepareMail(%+v): %v", job, err)
		}
		if out.Token != "" {
			tokens = append(tokens, out.Token)
		}
	}
	if len(tokens) != 1 {
		t.Fatalf("jobs %+v emailed %d links, want 1", jobs, len(tokens))
	}
	return tokens[0]
}

// adminLink is link A: an admin's reset by link.
func (w *linkWorld) adminLink(t *testing.T) string {
	t.Helper()
	if _, err := w.svc.ResetByLink(context.Background(), w.admin, w.user.ID, "req-admin"); err != nil {
		t.Fatal(err)
	}
	return w.mail(t)
}

// forgotLink is link B: an anonymous forgot-password request.
func (w *linkWorld) forgotLink(t *testing.T) string {
	t.Helper()
	if err := w.svc.Forgot(context.Background(), w.user.Username, "192.0.2.7", "req-forgot"); err != nil {
		t.Fatal(err)
	}
	return w.mail(t)
}

// refusals returns the details of the refused redemptions in the user's
// activity.
func (w *linkWorld) refusals(t *testing.T) []string {
	t.Helper()
	page, err := w.store.ListAudit(context.Background(), w.user.ID, 50, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range page.Items {
		if e.Action == rekey.ActionResetFailed {
			out = append(out, e.Detail)
		}
	}
	return out
}

// TestForgotNeverVoidsAdminLink: on DynamoDB, an anonymous forgot-password
// request leaves the admin's link A working beside the self-service link
// B; using either voids the other (SECURITY.md 9), and the refused one is
// recorded in the user's activity. An admin link issued after B voids B.
func TestForgotNeverVoidsAdminLink(t *testing.T) {
	ctx := context.Background()
	const pw = "a fresh and long passphrase"
	for _, test := range []struct {
		name       string
		issue      func(t *testing.T, w *linkWorld) (use, dead string)
		deadReason string
	}{
		{"A then B, A used", func(t *testing.T, w *linkWorld) (string, string) {
			a := w.adminLink(t)
			w.clock.Add(time.Minute)
			return a, w.forgotLink(t)
		}, "link voided"},
		{"A then B, B used", func(t *testing.T, w *linkWorld) (string, string) {
			a := w.adminLink(t)
			w.clock.Add(time.Minute)
			return w.forgotLink(t), a
		}, "link voided"},
		{"B then A: the admin's newer link voids B", func(t *testing.T, w *linkWorld) (string, string) {
			b := w.forgotLink(t)
			w.clock.Add(time.Minute)
			return w.adminLink(t), b
		}, "link voided"},
	} {
		t.Run(test.name, func(t *testing.T) {
			w := newLinkWorld(t)
			use, dead := test.issue(t, w)
			if err := w.svc.ResetWithToken(ctx, use, pw, "req"); err != nil {
				t.Fatalf("ResetWithToken(live link) = %v, want success", err)
			}
			if err := w.svc.ResetWithToken(ctx, dead, pw+" again", "req"); !errors.Is(err, resets.ErrInvalidToken) {
				t.Errorf("ResetWithToken(other link) = %v, want invalid_token", err)
			}
			if err := w.svc.ResetWithToken(ctx, use, pw+" again", "req"); !errors.Is(err, resets.ErrInvalidToken) {
				t.Errorf("ResetWithToken(used link again) = %v, want invalid_token", err)
			}
			got := w.refusals(t)
			slices.Sort(got) // entries written in the same instant come in any order
			if len(got) != 2 || !strings.Contains(got[0], "link already used") || !strings.Contains(got[1], test.deadReason) {
				t.Errorf("refusals in the activity = %q, want one 'link already used' and one %q", got, test.deadReason)
			}
			for _, d := range got {
				_, secret, _ := strings.Cut(dead, ".")
				if strings.Contains(d, secret) {
					t.Errorf("audit detail %q holds a token", d)
				}
			}
		})
	}
}

// TestConcurrentRedemptionsOfAdminAndForgotLinks: 8 simultaneous
// redemptions, four with the admin's link A and four with the
// self-service link B, on DynamoDB: exactly one succeeds (SECURITY.md 7).
func TestConcurrentRedemptionsOfAdminAndForgotLinks(t *testing.T) {
	w := newLinkWorld(t)
	a := w.adminLink(t)
	w.clock.Add(time.Minute)
	tokens := []string{a, w.forgotLink(t)}
	// Both links are live when the race starts.
	if u, err := w.store.GetUser(context.Background(), w.user.ID); err != nil ||
		u.ResetTokenHash != resets.HashToken(a) || u.SelfResetTokenHash != resets.HashToken(tokens[1]) {
		t.Fatalf("before the race the user holds %q and %q (%v), want the hashes of A and B", u.ResetTokenHash, u.SelfResetTokenHash, err)
	}
	successes, others := testrace.Count(8, func(i int) error {
		return w.svc.ResetWithToken(context.Background(), tokens[i%2], "concurrent passphrase "+strings.Repeat("x", i), "req")
	}, func(err error) bool { return errors.Is(err, resets.ErrInvalidToken) })
	if successes != 1 || len(others) != 0 {
		t.Errorf("8 concurrent redemptions of A and B: %d succeeded, other errors %v; want exactly 1 success", successes, others)
	}
}
