package dynamo

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
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

// linkReset is the user change and reset of an admin link reset of u.
func linkReset(u rekey.User, resetID string) (rekey.User, resets.Reset) {
	after := u
	after.VoidedPasswordHash, after.PasswordHash = u.PasswordHash, ""
	after.Status = rekey.StatusResetRequired
	after.SessionGen++
	after.Version++
	r := resets.Reset{
		ID: resetID, UserID: u.ID, Purpose: resets.PurposeAdmin, Email: u.Email, CreatedBy: "admin1",
		CreatedAt: resetT0, ExpiresAt: resetT0.Add(15 * time.Minute),
	}
	return after, r
}

func auditFor(u rekey.User, action string) rekey.AuditEntry {
	return rekey.AuditEntry{ID: rekey.NewID(), At: resetT0, TargetID: u.ID, ActorID: "admin1", Action: action, Outcome: rekey.OutcomeSuccess}
}

func TestResetLifecycle(t *testing.T) {
	ctx := context.Background()
	s, u := newResetStore(t)
	if _, err := s.GetReset(ctx, u.ID); !errors.Is(err, rekey.ErrNotFound) {
		t.Fatalf("GetReset before any reset = %v, want ErrNotFound", err)
	}

	after, r := linkReset(u, "r1")
	if err := s.StartLinkReset(ctx, u, after, r, auditFor(u, rekey.ActionResetLink)); err != nil {
		t.Fatalf("StartLinkReset: %v", err)
	}
	if err := s.StartLinkReset(ctx, u, after, r, auditFor(u, rekey.ActionResetLink)); !errors.Is(err, rekey.ErrVersionConflict) {
		t.Errorf("StartLinkReset with a stale user = %v, want ErrVersionConflict", err)
	}
	got, err := s.GetReset(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("GetReset (-want +got):\n%s", diff)
	}
	stored, err := s.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.PasswordHash != "" || stored.Status != rekey.StatusResetRequired || stored.SessionGen != 2 || stored.Version != 2 {
		t.Errorf("user after StartLinkReset = %+v, want no password, reset_required, sessionGen 2, version 2", stored)
	}
	page, err := s.ListAudit(ctx, u.ID, 10, "")
	if err != nil || len(page.Items) != 1 || page.Items[0].Action != rekey.ActionResetLink {
		t.Errorf("audit after StartLinkReset = %+v, %v; want the link entry", page.Items, err)
	}

	// Tokens: a second token replaces the first, which is deleted.
	t1 := resets.Token{Hash: resets.HashToken("raw-one"), UserID: u.ID, ResetID: "r1", Purpose: resets.PurposeAdmin, CreatedAt: resetT0, ExpiresAt: r.ExpiresAt}
	if err := s.RecordResetToken(ctx, t1, ""); err != nil {
		t.Fatalf("RecordResetToken: %v", err)
	}
	t2 := t1
	t2.Hash = resets.HashToken("raw-two")
	if err := s.RecordResetToken(ctx, t2, t1.Hash); err != nil {
		t.Fatalf("RecordResetToken (second): %v", err)
	}
	if _, err := s.GetResetToken(ctx, t1.Hash); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("first token after the second = %v, want ErrNotFound", err)
	}
	gotToken, err := s.GetResetToken(ctx, t2.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(t2, gotToken); diff != "" {
		t.Errorf("GetResetToken (-want +got):\n%s", diff)
	}
	if got, _ := s.GetReset(ctx, u.ID); got.TokenHash != t2.Hash {
		t.Errorf("reset token hash = %q, want the second token's", got.TokenHash)
	}
	stale := t2
	stale.ResetID, stale.Hash = "r0", resets.HashToken("raw-stale")
	if err := s.RecordResetToken(ctx, stale, ""); !errors.Is(err, rekey.ErrConflict) {
		t.Errorf("RecordResetToken for a superseded reset = %v, want ErrConflict", err)
	}

	// Replace: only from the expected previous reset.
	r2 := r
	r2.ID, r2.CreatedAt = "r2", resetT0.Add(time.Minute)
	if err := s.ReplaceReset(ctx, r2, "r-other", nil); !errors.Is(err, rekey.ErrConflict) {
		t.Errorf("ReplaceReset from the wrong reset = %v, want ErrConflict", err)
	}
	if err := s.ReplaceReset(ctx, r2, "", nil); !errors.Is(err, rekey.ErrConflict) {
		t.Errorf("ReplaceReset expecting none = %v, want ErrConflict", err)
	}
	entry := auditFor(u, rekey.ActionResetResend)
	if err := s.ReplaceReset(ctx, r2, "r1", &entry); err != nil {
		t.Fatalf("ReplaceReset: %v", err)
	}
	if got, _ := s.GetReset(ctx, u.ID); got.ID != "r2" || got.TokenHash != "" {
		t.Errorf("reset after ReplaceReset = %+v, want r2 without a token", got)
	}

	// The token of r1 is superseded: redeeming it fails and changes nothing.
	done := stored
	done.PasswordHash, done.VoidedPasswordHash, done.Status = "new-hash", "", rekey.StatusActive
	done.Version++
	if err := s.RedeemResetToken(ctx, t2, stored, done, auditFor(u, rekey.ActionResetComplete)); !errors.Is(err, rekey.ErrConflict) {
		t.Errorf("RedeemResetToken of a superseded token = %v, want ErrConflict", err)
	}
	t3 := resets.Token{Hash: resets.HashToken("raw-three"), UserID: u.ID, ResetID: "r2", Purpose: resets.PurposeAdmin, CreatedAt: resetT0, ExpiresAt: r2.ExpiresAt}
	if err := s.RecordResetToken(ctx, t3, ""); err != nil {
		t.Fatal(err)
	}
	staleAfter := u
	staleAfter.Version++
	if err := s.RedeemResetToken(ctx, t3, u, staleAfter, auditFor(u, rekey.ActionResetComplete)); !errors.Is(err, rekey.ErrVersionConflict) {
		t.Errorf("RedeemResetToken with a stale user = %v, want ErrVersionConflict", err)
	}
	if err := s.RedeemResetToken(ctx, t3, stored, done, auditFor(u, rekey.ActionResetComplete)); err != nil {
		t.Fatalf("RedeemResetToken: %v", err)
	}
	if _, err := s.GetReset(ctx, u.ID); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("reset after redemption = %v, want ErrNotFound", err)
	}
	if _, err := s.GetResetToken(ctx, t3.Hash); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("token after redemption = %v, want ErrNotFound", err)
	}
	if got, _ := s.GetUser(ctx, u.ID); got.PasswordHash != "new-hash" || got.Version != 3 {
		t.Errorf("user after redemption = %+v, want the new hash at version 3", got)
	}
}

// TestStartLinkResetKeepsVoidedHash: the voided password must survive the
// round trip through the user item, so that sign-in with it can answer
// password_reset_required.
func TestStartLinkResetKeepsVoidedHash(t *testing.T) {
	ctx := context.Background()
	s, u := newResetStore(t)
	after, r := linkReset(u, "r1")
	if err := s.StartLinkReset(ctx, u, after, r, auditFor(u, rekey.ActionResetLink)); err != nil {
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

func TestSetPasswordEndingReset(t *testing.T) {
	ctx := context.Background()
	s, u := newResetStore(t)
	after, r := linkReset(u, "r1")
	if err := s.StartLinkReset(ctx, u, after, r, auditFor(u, rekey.ActionResetLink)); err != nil {
		t.Fatal(err)
	}
	temp := after
	temp.PasswordHash, temp.VoidedPasswordHash, temp.MustChangePassword, temp.Status = "temp-hash", "", true, rekey.StatusActive
	temp.Version++
	if err := s.SetPasswordEndingReset(ctx, after, temp, auditFor(u, rekey.ActionResetTemporary)); err != nil {
		t.Fatalf("SetPasswordEndingReset: %v", err)
	}
	if _, err := s.GetReset(ctx, u.ID); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("reset after a temporary password = %v, want ErrNotFound", err)
	}
	// Without a pending reset it works as well.
	again := temp
	again.Version++
	if err := s.SetPasswordEndingReset(ctx, temp, again, auditFor(u, rekey.ActionResetTemporary)); err != nil {
		t.Errorf("SetPasswordEndingReset without a reset: %v", err)
	}
	renamed := again
	renamed.Username, renamed.Version = "someone.else", again.Version+1
	if err := s.SetPasswordEndingReset(ctx, again, renamed, auditFor(u, rekey.ActionResetTemporary)); err == nil {
		t.Error("SetPasswordEndingReset renaming the user succeeded, want an error")
	}
}

// TestConcurrentRedeemResetToken: 8 simultaneous redemptions of one token,
// each from a user read before any of them wrote: exactly one succeeds
// (SECURITY.md 7).
func TestConcurrentRedeemResetToken(t *testing.T) {
	ctx := context.Background()
	s, u := newResetStore(t)
	after, r := linkReset(u, "r1")
	if err := s.StartLinkReset(ctx, u, after, r, auditFor(u, rekey.ActionResetLink)); err != nil {
		t.Fatal(err)
	}
	tok := resets.Token{Hash: resets.HashToken("raw"), UserID: u.ID, ResetID: "r1", Purpose: resets.PurposeAdmin, CreatedAt: resetT0, ExpiresAt: r.ExpiresAt}
	if err := s.RecordResetToken(ctx, tok, ""); err != nil {
		t.Fatal(err)
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		successes int
		errs      []error
	)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := after
			done.PasswordHash, done.Status = "hash-"+string(rune('a'+i)), rekey.StatusActive
			done.Version++
			err := s.RedeemResetToken(ctx, tok, after, done, auditFor(u, rekey.ActionResetComplete))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				successes++
			} else if !errors.Is(err, rekey.ErrConflict) {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	if successes != 1 || len(errs) > 0 {
		t.Errorf("8 concurrent redemptions: %d succeeded, other errors %v; want 1 success, the rest ErrConflict", successes, errs)
	}
}

// TestNoRawTokenStored scans the whole table after a token was recorded.
func TestNoRawTokenStored(t *testing.T) {
	ctx := context.Background()
	s, u := newResetStore(t)
	after, r := linkReset(u, "r1")
	if err := s.StartLinkReset(ctx, u, after, r, auditFor(u, rekey.ActionResetLink)); err != nil {
		t.Fatal(err)
	}
	const raw = "Zm9yIHRlc3RzIG9ubHk_dGhpcyBpcyBhIHJhdyB0b2tlbg"
	tok := resets.Token{Hash: resets.HashToken(raw), UserID: u.ID, ResetID: "r1", Purpose: resets.PurposeAdmin, CreatedAt: resetT0, ExpiresAt: r.ExpiresAt}
	if err := s.RecordResetToken(ctx, tok, ""); err != nil {
		t.Fatal(err)
	}
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
			if strings.Contains(text.Value, raw) {
				t.Errorf("item %v attribute %s holds the raw token", item["PK"], name)
			}
			hashSeen = hashSeen || strings.Contains(text.Value, tok.Hash)
		}
	}
	if !hashSeen {
		t.Error("the token's hash is stored nowhere; the scan saw nothing")
	}
}

func TestCountRequest(t *testing.T) {
	ctx := context.Background()
	s, _ := newResetStore(t)
	window := 15 * time.Minute
	start := resetT0.Truncate(window)
	for _, test := range []struct {
		key  string
		at   time.Time
		want int
	}{
		{"FORGOT#CLIENT#192.0.2.1", start, 1},
		{"FORGOT#CLIENT#192.0.2.1", start.Add(time.Minute), 2},
		{"FORGOT#CLIENT#192.0.2.2", start.Add(time.Minute), 1},
		{"FORGOT#CLIENT#192.0.2.1", start.Add(window - time.Second), 3},
		{"FORGOT#CLIENT#192.0.2.1", start.Add(window), 1},
	} {
		got, err := s.CountRequest(ctx, test.key, test.at, window)
		if err != nil || got != test.want {
			t.Errorf("CountRequest(%s, %v) = %d, %v; want %d", test.key, test.at, got, err, test.want)
		}
	}
	// A sign-in throttle of the same name is a different item.
	if th, err := s.GetThrottle(ctx, "FORGOT#CLIENT#192.0.2.1"); err != nil || th.Failures != 0 {
		t.Errorf("GetThrottle after CountRequest = %+v, %v; want no failures", th, err)
	}
}
