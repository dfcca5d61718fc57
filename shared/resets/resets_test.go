package resets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/memstore"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/testrace"
)

func TestNewServiceRefusesLongExpiries(t *testing.T) {
	deps := Deps{Store: memstore.New(time.Now), Queue: &fakeQueue{}, Hasher: fastHasher}
	for _, test := range []struct {
		cfg     Config
		wantErr bool
	}{
		{Config{}, false},
		{Config{LinkExpiry: 24 * time.Hour, ForgotExpiry: time.Hour}, false},
		{Config{LinkExpiry: 24*time.Hour + time.Second}, true},
		{Config{ForgotExpiry: 61 * time.Minute}, true},
	} {
		_, err := NewService(test.cfg, deps)
		if (err != nil) != test.wantErr {
			t.Errorf("NewService(%+v) error = %v, want error %v", test.cfg, err, test.wantErr)
		}
	}
}

// TestResetScope runs every reset mode through the permission rules
// (SECURITY.md 21–22): out of scope is not_found, in view but not
// resettable is forbidden, and nothing changes either way.
func TestResetScope(t *testing.T) {
	for _, test := range []struct {
		actor, target string
		want          string // error code, "" for success
	}{
		{"teacher", "jo.student", ""},
		{"teacher", "school.admin", rekey.ECodeForbidden},
		{"teacher", "teacher2", rekey.ECodeForbidden},
		{"teacher", "other.school", rekey.ECodeNotFound},
		{"teacher", "district.admin", rekey.ECodeNotFound},
		{"school.admin", "district.admin", rekey.ECodeNotFound},
		{"school.admin", "school.admin2", ""},
		{"school.admin", "other.school", rekey.ECodeNotFound},
		{"school.admin", "foreign", rekey.ECodeNotFound},
		{"district.admin", "district.admin2", ""},
		{"district.admin", "other.school", ""},
		{"district.admin", "foreign", rekey.ECodeNotFound},
		{"district.admin", "support", rekey.ECodeNotFound},
		{"district.admin", "district.admin", rekey.ECodeForbidden},
		{"district.admin", "disabled.student", rekey.ECodeForbidden},
		{"support", "foreign", ""},
		{"jo.student", "sam.student", rekey.ECodeNotFound},
	} {
		for _, mode := range []string{"link", "temporary"} {
			t.Run(test.actor+"/"+test.target+"/"+mode, func(t *testing.T) {
				w := newWorld(t)
				ctx := context.Background()
				actor, before := w.users[test.actor], w.users[test.target]
				var err error
				if mode == "link" {
					_, err = w.svc.ResetByLink(ctx, actor, before.ID, "req")
				} else {
					_, err = w.svc.ResetTemporary(ctx, actor, before.ID, "", "req")
				}
				if got := rekey.ErrorCode(err); got != test.want {
					t.Fatalf("%s reset of %s by %s = %v, want code %q", mode, test.target, test.actor, err, test.want)
				}
				if test.want == "" {
					return
				}
				if diff := cmp.Diff(before, w.user(t, test.target)); diff != "" {
					t.Errorf("refused reset changed the user (-before +after):\n%s", diff)
				}
				if jobs := w.queue.take(t); len(jobs) != 0 {
					t.Errorf("refused reset queued %+v", jobs)
				}
			})
		}
	}
}

func TestResetByLinkVoidsPasswordAtOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	before := w.users["jo.student"]
	expiresAt, err := w.svc.ResetByLink(ctx, w.users["teacher"], before.ID, "req-1")
	if err != nil {
		t.Fatalf("ResetByLink: %v", err)
	}
	if want := w.clock.Now().Add(15 * time.Minute); !expiresAt.Equal(want) {
		t.Errorf("ResetByLink expiresAt = %v, want %v (15 minutes)", expiresAt, want)
	}
	after := w.user(t, "jo.student")
	if after.PasswordHash != "" || after.VoidedPasswordHash != before.PasswordHash {
		t.Errorf("after link reset PasswordHash = %q, VoidedPasswordHash = %q; want empty and the old hash", after.PasswordHash, after.VoidedPasswordHash)
	}
	if after.Status != rekey.StatusResetRequired || after.SessionGen != before.SessionGen+1 || after.Version != before.Version+1 {
		t.Errorf("after link reset status %s, sessionGen %d, version %d; want reset_required, %d, %d",
			after.Status, after.SessionGen, after.Version, before.SessionGen+1, before.Version+1)
	}
	r, ok := PendingReset(after)
	if !ok {
		t.Fatal("no pending reset on the user after ResetByLink")
	}
	if r.Purpose != PurposeAdmin || r.CreatedBy != "t1" || !r.ExpiresAt.Equal(expiresAt) || r.TokenHash != "" {
		t.Errorf("pending reset = %+v, want an admin reset by t1 expiring at %v with no token yet", r, expiresAt)
	}
	if e := auditOf(w.store, before.ID, rekey.ActionResetLink); len(e) != 1 || e[0].ActorID != "t1" || e[0].Outcome != rekey.OutcomeSuccess || e[0].RequestID != "req-1" {
		t.Errorf("audit = %+v, want one success by t1 under req-1", e)
	}

	jobs := w.queue.take(t)
	want := []rekey.MailJob{{Kind: rekey.JobResetLink, ID: r.ID, UserID: before.ID, ResetID: r.ID, ExpiresAt: expiresAt, RequestID: "req-1"}}
	if diff := cmp.Diff(want, jobs); diff != "" {
		t.Errorf("queued jobs (-want +got):\n%s", diff)
	}

	// A second link reset keeps the original voided hash, not an empty one.
	if _, err := w.svc.ResetByLink(ctx, w.users["teacher"], before.ID, "req-2"); err != nil {
		t.Fatalf("second ResetByLink: %v", err)
	}
	if again := w.user(t, "jo.student"); again.VoidedPasswordHash != before.PasswordHash {
		t.Errorf("after a second link reset VoidedPasswordHash = %q, want the original hash", again.VoidedPasswordHash)
	}
}

func TestResetByLinkWithoutEmail(t *testing.T) {
	w := newWorld(t)
	before := w.users["no.email"]
	_, err := w.svc.ResetByLink(context.Background(), w.users["teacher"], before.ID, "req")
	if !errors.Is(err, ErrNoEmail) {
		t.Fatalf("ResetByLink(no email) = %v, want ErrNoEmail", err)
	}
	if diff := cmp.Diff(before, w.user(t, "no.email")); diff != "" {
		t.Errorf("refused link reset changed the user:\n%s", diff)
	}
}

func TestLinkExpiryIsConfigurable(t *testing.T) {
	w := newWorld(t)
	svc, err := NewService(Config{LinkExpiry: 2 * time.Hour}, Deps{Store: w.store, Queue: w.queue, Hasher: fastHasher, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	expiresAt, err := svc.ResetByLink(context.Background(), w.users["teacher"], "st1", "req")
	if err != nil || !expiresAt.Equal(w.clock.Now().Add(2*time.Hour)) {
		t.Errorf("ResetByLink with LinkExpiry 2h = %v, %v; want %v", expiresAt, err, w.clock.Now().Add(2*time.Hour))
	}
}

func TestResend(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	teacher := w.users["teacher"]
	if _, err := w.svc.Resend(ctx, teacher, "st1", "req"); !errors.Is(err, ErrNoPendingReset) {
		t.Fatalf("Resend without a pending reset = %v, want ErrNoPendingReset", err)
	}
	if _, err := w.svc.Resend(ctx, teacher, "st3", "req"); rekey.ErrorCode(err) != rekey.ECodeNotFound {
		t.Fatalf("Resend for another school's student = %v, want not_found", err)
	}

	oldToken := w.linkToken(t, "jo.student")
	w.clock.Add(20 * time.Minute) // the first link has expired
	expiresAt, err := w.svc.Resend(ctx, teacher, "st1", "req-resend")
	if err != nil {
		t.Fatalf("Resend: %v", err)
	}
	if want := w.clock.Now().Add(15 * time.Minute); !expiresAt.Equal(want) {
		t.Errorf("Resend expiresAt = %v, want %v", expiresAt, want)
	}
	// The old link is void at once, before the new email is even sent.
	if err := w.svc.ResetWithToken(ctx, oldToken, "a brand new passphrase", "req"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("old token after resend = %v, want ErrInvalidToken", err)
	}
	out := w.mailFor(t)
	if len(out) != 1 || out[0].Kind != mail.KindResetLink {
		t.Fatalf("resend mailed %+v, want one reset link", out)
	}
	if e := auditOf(w.store, "st1", rekey.ActionResetResend); len(e) != 1 {
		t.Errorf("resend audit = %+v, want one entry", e)
	}
	if err := w.svc.ResetWithToken(ctx, out[0].Token, "a brand new passphrase", "req"); err != nil {
		t.Errorf("new token after resend = %v, want success", err)
	}
}

// TestSupersededJobSendsNothing: a job queued for a reset that a resend has
// since replaced must not mail a working link.
func TestSupersededJobSendsNothing(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.svc.ResetByLink(ctx, w.users["teacher"], "st1", "req"); err != nil {
		t.Fatal(err)
	}
	first := w.queue.take(t)
	if _, err := w.svc.Resend(ctx, w.users["teacher"], "st1", "req"); err != nil {
		t.Fatal(err)
	}
	out, err := w.svc.PrepareMail(ctx, first[0])
	if err != nil || out.Kind != "" || out.Token != "" {
		t.Errorf("PrepareMail(superseded job) = %+v, %v; want nothing to send", out, err)
	}
}

func TestResetTemporary(t *testing.T) {
	ctx := context.Background()
	t.Run("generated", func(t *testing.T) {
		w := newWorld(t)
		w.linkToken(t, "jo.student") // a pending link that the temporary password must void
		before := w.user(t, "jo.student")
		pw, err := w.svc.ResetTemporary(ctx, w.users["teacher"], before.ID, "", "req-temp")
		if err != nil {
			t.Fatalf("ResetTemporary(generated): %v", err)
		}
		if len(pw) < 20 {
			t.Errorf("generated password %q is short", pw)
		}
		after := w.user(t, "jo.student")
		if ok, _, _ := fastHasher.Verify(after.PasswordHash, pw); !ok {
			t.Error("the generated password does not verify against the stored hash")
		}
		if !after.MustChangePassword || after.Status != rekey.StatusActive || after.VoidedPasswordHash != "" || after.SessionGen != before.SessionGen+1 {
			t.Errorf("after temporary reset = %+v, want must-change, active, no voided hash, sessions ended", after)
		}
		if r, ok := PendingReset(after); ok {
			t.Errorf("pending reset after temporary password: %+v, want none", r)
		}
		entries := auditOf(w.store, before.ID, rekey.ActionResetTemporary)
		if len(entries) != 1 || strings.Contains(entries[0].Detail, pw) {
			t.Errorf("audit = %+v, want one entry without the password", entries)
		}
		out := w.mailFor(t)
		if len(out) != 1 || out[0].Kind != mail.KindPasswordChanged {
			t.Errorf("temporary reset mailed %+v, want only the password-changed notice", out)
		}
	})
	t.Run("typed", func(t *testing.T) {
		w := newWorld(t)
		pw, err := w.svc.ResetTemporary(ctx, w.users["teacher"], "st1", "purple otters dance", "req")
		if err != nil || pw != "" {
			t.Fatalf("ResetTemporary(typed) = %q, %v; want no echo, no error", pw, err)
		}
		if ok, _, _ := fastHasher.Verify(w.user(t, "jo.student").PasswordHash, "purple otters dance"); !ok {
			t.Error("the typed password does not verify")
		}
	})
	for _, weak := range []string{"short", "password123", "northfield elementary kid", "jo.student rocks"} {
		t.Run("weak/"+weak, func(t *testing.T) {
			w := newWorld(t)
			before := w.users["jo.student"]
			_, err := w.svc.ResetTemporary(ctx, w.users["teacher"], before.ID, weak, "req")
			var e *rekey.Error
			if !errors.As(err, &e) || e.Code != rekey.ECodeWeakPassword || e.Field != "temporaryPassword" {
				t.Fatalf("ResetTemporary(%q) = %v, want weak_password on temporaryPassword", weak, err)
			}
			if diff := cmp.Diff(before, w.user(t, "jo.student")); diff != "" {
				t.Errorf("refused temporary password changed the user:\n%s", diff)
			}
		})
	}
}

func TestResetWithToken(t *testing.T) {
	ctx := context.Background()
	const newPassword = "a fresh and long passphrase"
	t.Run("success", func(t *testing.T) {
		w := newWorld(t)
		token := w.linkToken(t, "jo.student")
		before := w.user(t, "jo.student")
		if err := w.svc.ResetWithToken(ctx, token, newPassword, "req-redeem"); err != nil {
			t.Fatalf("ResetWithToken: %v", err)
		}
		after := w.user(t, "jo.student")
		if ok, _, _ := fastHasher.Verify(after.PasswordHash, newPassword); !ok {
			t.Error("the new password does not verify")
		}
		if after.Status != rekey.StatusActive || after.MustChangePassword || after.VoidedPasswordHash != "" ||
			after.SessionGen != before.SessionGen+1 || !after.PasswordChangedAt.Equal(w.clock.Now()) {
			t.Errorf("after redemption = %+v, want active, no forced change, no voided hash, sessions ended, changed now", after)
		}
		if want := rekey.DefaultPasswordPolicy.MinLength(after.Role); after.PasswordMinLength != want {
			t.Errorf("after redemption the recorded minimum = %d, want the policy's %d", after.PasswordMinLength, want)
		}
		if e := auditOf(w.store, after.ID, rekey.ActionResetComplete); len(e) != 1 || e[0].RequestID != "req-redeem" {
			t.Errorf("completion audit = %+v", e)
		}
		out := w.mailFor(t)
		if len(out) != 1 || out[0].Kind != mail.KindPasswordChanged || out[0].User.ID != after.ID {
			t.Errorf("after redemption mailed %+v, want the password-changed notice", out)
		}
		if err := w.svc.ResetWithToken(ctx, token, "another long passphrase", "req"); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("second use = %v, want ErrInvalidToken", err)
		}
	})

	for _, test := range spoiledTokens() {
		t.Run(test.name, func(t *testing.T) {
			w := newWorld(t)
			token := w.linkToken(t, "jo.student")
			before := w.user(t, "jo.student")
			try := test.spoil(t, w, token)
			before = w.user(t, "jo.student")
			if err := w.svc.ResetWithToken(ctx, try, newPassword, "req"); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("ResetWithToken(%s) = %v, want ErrInvalidToken", test.name, err)
			}
			if diff := cmp.Diff(before, w.user(t, "jo.student")); diff != "" {
				t.Errorf("refused token changed the user:\n%s", diff)
			}
		})
	}

	t.Run("expired just before expiry still works", func(t *testing.T) {
		w := newWorld(t)
		token := w.linkToken(t, "jo.student")
		w.clock.Add(15*time.Minute - time.Second)
		if err := w.svc.ResetWithToken(ctx, token, newPassword, "req"); err != nil {
			t.Errorf("ResetWithToken one second before expiry = %v, want success", err)
		}
	})

	t.Run("weak password does not consume the token", func(t *testing.T) {
		w := newWorld(t)
		token := w.linkToken(t, "jo.student")
		for _, weak := range []string{"short", "password1", "quill forever and ever"} {
			err := w.svc.ResetWithToken(ctx, token, weak, "req")
			var e *rekey.Error
			if !errors.As(err, &e) || e.Code != rekey.ECodeWeakPassword || e.Field != "newPassword" {
				t.Fatalf("ResetWithToken(weak %q) = %v, want weak_password on newPassword", weak, err)
			}
		}
		if err := w.svc.ResetWithToken(ctx, token, newPassword, "req"); err != nil {
			t.Errorf("ResetWithToken after weak attempts = %v, want success", err)
		}
	})

	t.Run("a token changes only its own user", func(t *testing.T) {
		w := newWorld(t)
		tokenA := w.linkToken(t, "jo.student")
		tokenB := w.linkToken(t, "sam.student")
		beforeB := w.user(t, "sam.student")
		if err := w.svc.ResetWithToken(ctx, tokenA, newPassword, "req"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(beforeB, w.user(t, "sam.student")); diff != "" {
			t.Errorf("A's token changed B:\n%s", diff)
		}
		// B's pending reset is untouched: B's own token still works, A's
		// (spent) token does nothing for anyone.
		if err := w.svc.ResetWithToken(ctx, tokenA, "yet another passphrase", "req"); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("A's token again = %v, want ErrInvalidToken", err)
		}
		if err := w.svc.ResetWithToken(ctx, tokenB, newPassword, "req"); err != nil {
			t.Errorf("B's token = %v, want success", err)
		}
	})

	t.Run("failures are audited", func(t *testing.T) {
		w := newWorld(t)
		token := w.linkToken(t, "jo.student")
		w.clock.Add(time.Hour)
		_ = w.svc.ResetWithToken(ctx, token, newPassword, "req-late")
		e := auditOf(w.store, "st1", rekey.ActionResetFailed)
		if len(e) != 1 || e[0].Outcome != rekey.OutcomeFailure || !strings.Contains(e[0].Detail, "expired") || strings.Contains(e[0].Detail, token) {
			t.Errorf("failure audit = %+v, want one 'expired' entry without the token", e)
		}
	})
}

// spoiledTokens are the ways a reset link of jo.student (st1) can be
// unusable: each spoil returns the token to try.
func spoiledTokens() []spoiledToken {
	ctx := context.Background()
	return []spoiledToken{
		{"forged", func(t *testing.T, w *world, token string) string {
			return strings.Repeat("A", len(token))
		}},
		{"forged for the right user", func(t *testing.T, w *world, token string) string {
			id, _, _ := strings.Cut(token, ".")
			return id + "." + strings.Repeat("A", 43)
		}},
		{"edited to name another user", func(t *testing.T, w *world, token string) string {
			_, secret, _ := strings.Cut(token, ".")
			return "st6." + secret
		}},
		{"superseded by a resend", func(t *testing.T, w *world, token string) string {
			if _, err := w.svc.Resend(ctx, w.users["district.admin"], "st1", "req"); err != nil {
				t.Fatal(err)
			}
			w.queue.take(t)
			return token
		}},
		{"voided by a password change", func(t *testing.T, w *world, token string) string {
			u := w.user(t, "jo.student")
			u.PasswordChangedAt = w.clock.Now().Add(time.Second)
			u.ResetTokenHash = ""
			w.edit(t, u)
			return token
		}},
		{"malformed", func(t *testing.T, w *world, token string) string { return token + "!" }},
		{"empty", func(t *testing.T, w *world, token string) string { return "" }},
		{"expired at expiry plus one second", func(t *testing.T, w *world, token string) string {
			w.clock.Add(15*time.Minute + time.Second)
			return token
		}},
		{"expired at expiry", func(t *testing.T, w *world, token string) string {
			w.clock.Add(15 * time.Minute)
			return token
		}},
		{"voided by a temporary password", func(t *testing.T, w *world, token string) string {
			if _, err := w.svc.ResetTemporary(ctx, w.users["teacher"], "st1", "", "req"); err != nil {
				t.Fatal(err)
			}
			return token
		}},
		{"account disabled since", func(t *testing.T, w *world, token string) string {
			u := w.user(t, "jo.student")
			u.Status = rekey.StatusDisabled
			w.edit(t, u)
			return token
		}},
		{"email changed since", func(t *testing.T, w *world, token string) string {
			u := w.user(t, "jo.student")
			u.Email = "new.address@riverbend.example"
			w.edit(t, u)
			return token
		}},
	}
}

type spoiledToken struct {
	name  string
	spoil func(t *testing.T, w *world, token string) string
}

// TestCheckToken: the check answers as redemption would, for every way a
// link can be unusable, and never uses the link up.
func TestCheckToken(t *testing.T) {
	ctx := context.Background()
	t.Run("valid, and still valid after many checks", func(t *testing.T) {
		w := newWorld(t)
		token := w.linkToken(t, "jo.student")
		before := w.user(t, "jo.student")
		for range 3 {
			if err := w.svc.CheckToken(ctx, token, "req-check"); err != nil {
				t.Fatalf("CheckToken(fresh link) = %v, want nil", err)
			}
		}
		if diff := cmp.Diff(before, w.user(t, "jo.student")); diff != "" {
			t.Errorf("checking changed the user:\n%s", diff)
		}
		if e := auditOf(w.store, "st1", rekey.ActionResetFailed); len(e) != 0 {
			t.Errorf("checking audited %+v, want nothing", e)
		}
		if err := w.svc.ResetWithToken(ctx, token, "a fresh and long passphrase", "req"); err != nil {
			t.Fatalf("redeeming after checks = %v, want success", err)
		}
		if err := w.svc.CheckToken(ctx, token, "req-check"); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("CheckToken(used link) = %v, want ErrInvalidToken", err)
		}
	})
	t.Run("one second before expiry", func(t *testing.T) {
		w := newWorld(t)
		token := w.linkToken(t, "jo.student")
		w.clock.Add(15*time.Minute - time.Second)
		if err := w.svc.CheckToken(ctx, token, "req"); err != nil {
			t.Errorf("CheckToken one second before expiry = %v, want nil", err)
		}
	})
	for _, test := range spoiledTokens() {
		t.Run(test.name, func(t *testing.T) {
			w := newWorld(t)
			token := w.linkToken(t, "jo.student")
			try := test.spoil(t, w, token)
			before := w.user(t, "jo.student")
			if err := w.svc.CheckToken(ctx, try, "req"); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("CheckToken(%s) = %v, want ErrInvalidToken", test.name, err)
			}
			if diff := cmp.Diff(before, w.user(t, "jo.student")); diff != "" {
				t.Errorf("checking changed the user:\n%s", diff)
			}
		})
	}
}

// TestConcurrentRedemptions: of 8 simultaneous redemptions of one token,
// exactly one succeeds and the others get invalid_token (SECURITY.md 7).
func TestConcurrentRedemptions(t *testing.T) {
	w := newWorld(t)
	token := w.linkToken(t, "jo.student")
	successes, others := testrace.Count(8, func(i int) error {
		return w.svc.ResetWithToken(context.Background(), token, "concurrent passphrase "+strings.Repeat("x", i), "req")
	}, func(err error) bool { return errors.Is(err, ErrInvalidToken) })
	if successes != 1 || len(others) != 0 {
		t.Errorf("8 concurrent redemptions: %d succeeded, unexpected errors %v; want exactly 1 success and 7 invalid_token", successes, others)
	}
}

// TestForgotIsTheSameForEveryone: the request answers alike for known,
// unknown, disabled and email-less accounts and queues one job each; only
// the worker looks the account up (SECURITY.md 11).
func TestForgotIsTheSameForEveryone(t *testing.T) {
	ctx := context.Background()
	for _, login := range []string{"jo.student", "JO@riverbend.example", "nobody.here", "ghost@nowhere.example", "disabled.student", "no.email"} {
		t.Run(login, func(t *testing.T) {
			w := newWorld(t)
			if err := w.svc.Forgot(ctx, login, "203.0.113.9", "req"); err != nil {
				t.Fatalf("Forgot(%q) = %v, want nil", login, err)
			}
			jobs := w.queue.take(t)
			if len(jobs) != 1 || jobs[0].Kind != rekey.JobForgot || jobs[0].Login != strings.ToLower(login) {
				t.Errorf("Forgot(%q) queued %+v, want one forgot job for the lower-cased login", login, jobs)
			}
		})
	}
}

func TestForgotRateLimits(t *testing.T) {
	ctx := context.Background()
	t.Run("per client", func(t *testing.T) {
		w := newWorld(t)
		var answers []string
		for i := range 22 {
			login := "someone" + strings.Repeat("x", i) // a new login each time
			if i%2 == 0 {
				login = "jo.student"
			}
			err := w.svc.Forgot(ctx, login, "198.51.100.7", "req")
			answers = append(answers, rekey.ErrorCode(err))
		}
		for i, code := range answers {
			want := ""
			if i >= 20 {
				want = rekey.ECodeTooManyAttempts
			}
			if code != want {
				t.Errorf("request %d from one client answered %q, want %q", i+1, code, want)
			}
		}
		var tooMany *TooManyRequestsError
		err := w.svc.Forgot(ctx, "nobody", "198.51.100.7", "req")
		if !errors.As(err, &tooMany) || tooMany.RetryAfter() < time.Second {
			t.Errorf("over the client limit: %v, want a TooManyRequestsError with a wait", err)
		}
		if err := w.svc.Forgot(ctx, "jo.student", "198.51.100.8", "req"); err != nil {
			t.Errorf("another client = %v, want nil", err)
		}
	})
	t.Run("per account, silently and without a lock", func(t *testing.T) {
		w := newWorld(t)
		for i := range 5 {
			if err := w.svc.Forgot(ctx, "jo.student", "192.0.2."+string(rune('1'+i)), "req"); err != nil {
				t.Fatalf("Forgot %d = %v, want nil", i+1, err)
			}
		}
		if jobs := w.queue.take(t); len(jobs) != 3 {
			t.Errorf("5 requests for one account queued %d jobs, want 3", len(jobs))
		}
		w.clock.Add(15 * time.Minute)
		if err := w.svc.Forgot(ctx, "jo.student", "192.0.2.1", "req"); err != nil || len(w.queue.take(t)) != 1 {
			t.Errorf("after the window: %v, want a queued job", err)
		}
		if u := w.user(t, "jo.student"); u.Status != rekey.StatusActive {
			t.Errorf("account status after many requests = %s, want active", u.Status)
		}
	})
	t.Run("empty login", func(t *testing.T) {
		w := newWorld(t)
		if err := w.svc.Forgot(ctx, "  ", "192.0.2.1", "req"); rekey.ErrorCode(err) != rekey.ECodeInvalidInput {
			t.Errorf("Forgot(blank) = %v, want invalid_input", err)
		}
	})
}

func TestForgotMail(t *testing.T) {
	ctx := context.Background()
	for _, test := range []struct {
		login string
		want  mail.Kind
	}{
		{"jo.student", mail.KindForgotLink},
		{"Jo@Riverbend.Example", mail.KindForgotLink},
		{"nobody.here", ""},
		{"ghost@nowhere.example", ""},
		{"disabled.student", ""},
		{"no.email", ""},
		{"sso.student", mail.KindSSONotice},
	} {
		t.Run(test.login, func(t *testing.T) {
			w := newWorld(t)
			if err := w.svc.Forgot(ctx, test.login, "192.0.2.1", "req"); err != nil {
				t.Fatal(err)
			}
			out := w.mailFor(t)
			if len(out) != 1 || out[0].Kind != test.want {
				t.Fatalf("forgot(%q) would send %+v, want %q", test.login, out, test.want)
			}
			switch test.want {
			case mail.KindSSONotice:
				if out[0].School.SSOURL == "" || out[0].Token != "" {
					t.Errorf("SSO notice = %+v, want the school sign-in and no token", out[0])
				}
			case mail.KindForgotLink:
				if out[0].Token == "" || !out[0].ExpiresAt.Equal(w.clock.Now().Add(30*time.Minute)) {
					t.Errorf("forgot link = %+v, want a token expiring in 30 minutes", out[0])
				}
			}
		})
	}
}

func TestForgotKeepsPasswordAndWorks(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	before := w.users["jo.student"]
	if err := w.svc.Forgot(ctx, "jo.student", "192.0.2.1", "req"); err != nil {
		t.Fatal(err)
	}
	jobs := w.queue.take(t)
	out, err := w.svc.PrepareMail(ctx, jobs[0])
	if err != nil {
		t.Fatal(err)
	}
	// Only the self-service reset (and so the version) changes: the
	// current password keeps working.
	if diff := cmp.Diff(before, w.user(t, "jo.student"), cmpopts.IgnoreFields(rekey.User{}, "Version",
		"SelfResetID", "SelfResetEmail", "SelfResetCreatedAt", "SelfResetExpiresAt", "SelfResetTokenHash")); diff != "" {
		t.Errorf("a forgot request changed the user (the current password must keep working):\n%s", diff)
	}
	// The worker retries the same job (its send failed): the same reset is
	// reused and only the newest token works.
	again, err := w.svc.PrepareMail(ctx, jobs[0])
	if err != nil || again.Token == "" || again.Token == out.Token {
		t.Fatalf("retried PrepareMail = %+v, %v; want a new token", again, err)
	}
	if err := w.svc.ResetWithToken(ctx, out.Token, "forgotten but found again", "req"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("older token of a retried job = %v, want ErrInvalidToken", err)
	}
	if err := w.svc.ResetWithToken(ctx, again.Token, "forgotten but found again", "req"); err != nil {
		t.Errorf("newest token = %v, want success", err)
	}
	if e := auditOf(w.store, before.ID, rekey.ActionForgotRequested); len(e) != 1 {
		t.Errorf("forgot audit = %+v, want one entry", e)
	}
}

// TestAdminAndSelfServiceLinks: a forgot-password request (anyone may make
// one) never voids a link an admin sent: both work until one is used, and
// using either ends both (SECURITY.md 9). An admin's newer link voids an
// earlier self-service one, and a newer self-service link an earlier
// self-service one.
func TestAdminAndSelfServiceLinks(t *testing.T) {
	ctx := context.Background()
	const newPassword = "forgotten but found again"
	// forgotToken makes a forgot-password request for jo.student and
	// returns the emailed token.
	forgotToken := func(t *testing.T, w *world) string {
		t.Helper()
		if err := w.svc.Forgot(ctx, "jo.student", "192.0.2.1", "req"); err != nil {
			t.Fatal(err)
		}
		out := w.mailFor(t)
		if len(out) != 1 || out[0].Kind != mail.KindForgotLink || out[0].Token == "" {
			t.Fatalf("forgot request mailed %+v, want one self-service link", out)
		}
		return out[0].Token
	}
	for _, test := range []struct {
		name string
		// issue sends the links and returns the one to use, the one that
		// must be dead afterwards, and one that is dead already ("" none).
		issue func(t *testing.T, w *world) (use, deadAfter, deadBefore string)
	}{
		{"admin link, then forgot request, admin link used", func(t *testing.T, w *world) (string, string, string) {
			admin := w.linkToken(t, "jo.student")
			w.clock.Add(time.Minute)
			return admin, forgotToken(t, w), ""
		}},
		{"admin link, then forgot request, forgot link used", func(t *testing.T, w *world) (string, string, string) {
			admin := w.linkToken(t, "jo.student")
			w.clock.Add(time.Minute)
			return forgotToken(t, w), admin, ""
		}},
		{"admin link, then two forgot requests: the newer self-service link replaces the older", func(t *testing.T, w *world) (string, string, string) {
			admin := w.linkToken(t, "jo.student")
			w.clock.Add(time.Minute)
			older := forgotToken(t, w)
			w.clock.Add(time.Minute)
			return admin, forgotToken(t, w), older
		}},
		{"forgot request, then admin link: the admin's newer link voids the self-service one", func(t *testing.T, w *world) (string, string, string) {
			forgot := forgotToken(t, w)
			w.clock.Add(time.Minute)
			return w.linkToken(t, "jo.student"), "", forgot
		}},
		{"admin link, forgot request, then a resend: the resend voids both", func(t *testing.T, w *world) (string, string, string) {
			admin := w.linkToken(t, "jo.student")
			w.clock.Add(time.Minute)
			forgot := forgotToken(t, w)
			w.clock.Add(time.Minute)
			if _, err := w.svc.Resend(ctx, w.users["district.admin"], "st1", "req"); err != nil {
				t.Fatal(err)
			}
			out := w.mailFor(t)
			if len(out) != 1 || out[0].Token == "" {
				t.Fatalf("resend mailed %+v", out)
			}
			if err := w.svc.ResetWithToken(ctx, forgot, newPassword, "req"); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("self-service link after a resend = %v, want ErrInvalidToken", err)
			}
			return out[0].Token, "", admin
		}},
	} {
		t.Run(test.name, func(t *testing.T) {
			w := newWorld(t)
			use, deadAfter, deadBefore := test.issue(t, w)
			if u := w.user(t, "jo.student"); u.Status != rekey.StatusResetRequired || u.PasswordHash != "" {
				t.Errorf("a forgot request undid the admin's reset: %+v", u)
			}
			if deadBefore != "" {
				if err := w.svc.ResetWithToken(ctx, deadBefore, newPassword, "req"); !errors.Is(err, ErrInvalidToken) {
					t.Errorf("replaced link = %v, want ErrInvalidToken", err)
				}
			}
			if err := w.svc.ResetWithToken(ctx, use, newPassword, "req"); err != nil {
				t.Fatalf("link = %v, want success", err)
			}
			if deadAfter != "" {
				if err := w.svc.ResetWithToken(ctx, deadAfter, "another long passphrase", "req"); !errors.Is(err, ErrInvalidToken) {
					t.Errorf("the other link after one was used = %v, want ErrInvalidToken", err)
				}
			}
			u := w.user(t, "jo.student")
			if ok, _, _ := fastHasher.Verify(u.PasswordHash, newPassword); !ok || len(pendingResets(u)) != 0 {
				t.Errorf("after redemption: password set %v, pending resets %+v; want set and none", ok, pendingResets(u))
			}
		})
	}
	t.Run("a redelivered forgot job does not take back an admin link issued after it", func(t *testing.T) {
		w := newWorld(t)
		if err := w.svc.Forgot(ctx, "jo.student", "192.0.2.1", "req"); err != nil {
			t.Fatal(err)
		}
		forgotJobs := w.queue.take(t)
		w.clock.Add(time.Minute)
		adminToken := w.linkToken(t, "jo.student")
		if out, err := w.svc.PrepareMail(ctx, forgotJobs[0]); err != nil || out.Kind != "" {
			t.Errorf("forgot job after a newer admin link = %+v, %v; want nothing sent", out, err)
		}
		if err := w.svc.ResetWithToken(ctx, adminToken, newPassword, "req"); err != nil {
			t.Errorf("admin token = %v, want success", err)
		}
	})
}

// TestConcurrentRedemptionsOfBothLinks: 8 simultaneous redemptions, half
// with the admin's link and half with the self-service one: exactly one
// succeeds (SECURITY.md 7).
func TestConcurrentRedemptionsOfBothLinks(t *testing.T) {
	w := newWorld(t)
	admin := w.linkToken(t, "jo.student")
	if err := w.svc.Forgot(context.Background(), "jo.student", "192.0.2.1", "req"); err != nil {
		t.Fatal(err)
	}
	out := w.mailFor(t)
	if len(out) != 1 || out[0].Token == "" {
		t.Fatalf("forgot mailed %+v", out)
	}
	tokens := []string{admin, out[0].Token}
	successes, others := testrace.Count(8, func(i int) error {
		return w.svc.ResetWithToken(context.Background(), tokens[i%2], "concurrent passphrase "+strings.Repeat("x", i), "req")
	}, func(err error) bool { return errors.Is(err, ErrInvalidToken) })
	if successes != 1 || len(others) != 0 {
		t.Errorf("8 concurrent redemptions of two links: %d succeeded, unexpected errors %v; want exactly 1", successes, others)
	}
}

// TestRefusedRedemptionsAreAudited: every refused token that names an
// existing user leaves an entry in that user's activity saying why, never
// the token, while the answer stays the one generic invalid_token
// (SECURITY.md 14). Tokens that name no user leave no entry.
func TestRefusedRedemptionsAreAudited(t *testing.T) {
	ctx := context.Background()
	const newPassword = "a fresh and long passphrase"
	for _, test := range []struct {
		name    string
		spoil   func(t *testing.T, w *world, token string) string // returns the token to try
		target  string                                            // "" when no entry is expected
		actor   string                                            // the entry's actor: "" anonymous
		outcome string
		why     string
	}{
		{"already used", func(t *testing.T, w *world, token string) string {
			if err := w.svc.ResetWithToken(ctx, token, "first use of the link", "req"); err != nil {
				t.Fatal(err)
			}
			return token
		}, "st1", "", rekey.OutcomeDenied, "link already used"},
		{"expired", func(t *testing.T, w *world, token string) string {
			w.clock.Add(15*time.Minute + time.Second)
			return token
		}, "st1", "st1", rekey.OutcomeFailure, "link expired"},
		{"voided by a resend", func(t *testing.T, w *world, token string) string {
			if _, err := w.svc.Resend(ctx, w.users["district.admin"], "st1", "req"); err != nil {
				t.Fatal(err)
			}
			w.queue.take(t)
			return token
		}, "st1", "", rekey.OutcomeDenied, "link voided"},
		{"voided by a temporary password", func(t *testing.T, w *world, token string) string {
			if _, err := w.svc.ResetTemporary(ctx, w.users["teacher"], "st1", "", "req"); err != nil {
				t.Fatal(err)
			}
			w.queue.take(t)
			return token
		}, "st1", "", rekey.OutcomeDenied, "link voided"},
		{"voided by disabling the account", func(t *testing.T, w *world, token string) string {
			u := w.user(t, "jo.student")
			u.Status = rekey.StatusDisabled
			w.edit(t, u)
			return token
		}, "st1", "st1", rekey.OutcomeFailure, "link voided: account disabled"},
		{"forged for a known user", func(t *testing.T, w *world, token string) string {
			return "st1." + strings.Repeat("A", 43)
		}, "st1", "", rekey.OutcomeDenied, "link voided"},
		{"forged for an unknown user", func(t *testing.T, w *world, token string) string {
			return "nobody1." + strings.Repeat("A", 43)
		}, "", "", "", ""},
		{"malformed", func(t *testing.T, w *world, token string) string { return token + "!" }, "", "", "", ""},
	} {
		t.Run(test.name, func(t *testing.T) {
			w := newWorld(t)
			token := w.linkToken(t, "jo.student")
			try := test.spoil(t, w, token)
			auditBefore := len(w.store.Audit())
			err := w.svc.ResetWithToken(ctx, try, newPassword, "req-refused")
			var e *rekey.Error
			if !errors.As(err, &e) || *e != *ErrInvalidToken {
				t.Fatalf("ResetWithToken(%s) = %v, want exactly the generic ErrInvalidToken", test.name, err)
			}
			added := w.store.Audit()[auditBefore:]
			if test.target == "" {
				if len(added) != 0 {
					t.Errorf("a token naming no user was audited: %+v", added)
				}
				return
			}
			if len(added) != 1 {
				t.Fatalf("audit entries written = %+v, want one", added)
			}
			got := added[0]
			_, secret, _ := strings.Cut(try, ".")
			if got.TargetID != test.target || got.ActorID != test.actor || got.Action != rekey.ActionResetFailed ||
				got.Outcome != test.outcome || !strings.Contains(got.Detail, test.why) || got.RequestID != "req-refused" {
				t.Errorf("audit entry = %+v, want target %s, actor %q, %s, %s, detail with %q", got, test.target, test.actor,
					rekey.ActionResetFailed, test.outcome, test.why)
			}
			if strings.Contains(got.Detail, secret) || strings.Contains(got.Detail, HashToken(try)) {
				t.Errorf("audit entry %q holds the token or its hash", got.Detail)
			}
			if test.why != "link already used" && strings.Contains(got.Detail, "already used") {
				t.Errorf("audit entry %q says already used", got.Detail)
			}
		})
	}
}

func TestNothingSecretIsQueuedOrStored(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	if _, err := w.svc.ResetByLink(ctx, w.users["teacher"], "st1", "req"); err != nil {
		t.Fatal(err)
	}
	w.queue.mu.Lock()
	bodies := strings.Join(w.queue.bodies, "\n")
	w.queue.mu.Unlock()
	out := w.mailFor(t)
	if strings.Contains(bodies, out[0].Token) || strings.Contains(strings.ToLower(bodies), "token") {
		t.Errorf("queued job %s carries a token", bodies)
	}
	stored := w.user(t, "jo.student")
	if stored.ResetTokenHash != HashToken(out[0].Token) {
		t.Errorf("stored token hash %q, want the SHA-256 of the emailed token", stored.ResetTokenHash)
	}
	_, secret, _ := strings.Cut(out[0].Token, ".")
	if strings.Contains(fmt.Sprintf("%+v", stored), secret) {
		t.Error("the user record holds the raw token")
	}
}

func TestPasswordChangedNotice(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	u := w.users["jo.student"]
	u.Version = 7
	if err := w.svc.PasswordChanged(ctx, u, "req"); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.PasswordChanged(ctx, w.users["no.email"], "req"); err != nil {
		t.Fatal(err)
	}
	jobs := w.queue.take(t)
	if len(jobs) != 1 || jobs[0].Key() != "password_changed#st1#v7" {
		t.Errorf("PasswordChanged queued %+v, want one job keyed password_changed#st1#v7", jobs)
	}
}

// TestPrepareTeacherBulkNotice: the notice goes to an active admin of the
// teacher's school with an email address, naming the teacher, the count
// and the task; anyone else gets nothing.
func TestPrepareTeacherBulkNotice(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	job := rekey.MailJob{Kind: rekey.JobTeacherBulkNotice, ID: "teacher-bulk#task1", UserIDs: []string{"sa1", "sa2", "da1", "t2"}, TaskID: "task1", ActorID: "t1", Count: 25}
	got := map[string]Outgoing{}
	for _, one := range job.Split() {
		out, err := w.svc.PrepareMail(ctx, one)
		if err != nil {
			t.Fatalf("PrepareMail(%s) = %v", one.UserID, err)
		}
		got[one.UserID] = out
	}
	for _, id := range []string{"sa1", "sa2"} {
		out := got[id]
		if out.Kind != mail.KindTeacherBulkNotice || out.User.ID != id || out.Actor.ID != "t1" || out.Count != 25 || out.TaskID != "task1" || out.School.Name != "Northfield Elementary" {
			t.Errorf("notice to %s = %+v", id, out)
		}
	}
	for _, id := range []string{"da1", "t2"} {
		if got[id].Kind != "" || got[id].Skip == "" {
			t.Errorf("notice to %s = %+v, want nothing sent", id, got[id])
		}
	}
	if err := (rekey.MailJob{Kind: rekey.JobTeacherBulkNotice, ID: "x", UserID: "sa1", TaskID: "task1", ActorID: "t1"}).Validate(); err == nil {
		t.Errorf("a notice without a count validates")
	}
}

func TestMailJobValidate(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, test := range []struct {
		job  rekey.MailJob
		want bool
	}{
		{rekey.MailJob{Kind: rekey.JobResetLink, ID: "r", UserID: "u", ResetID: "r"}, true},
		{rekey.MailJob{Kind: rekey.JobResetLink, ID: "r", UserID: "u"}, false},
		{rekey.MailJob{Kind: rekey.JobForgot, ID: "f", Login: "jo", RequestedAt: at}, true},
		{rekey.MailJob{Kind: rekey.JobForgot, ID: "f"}, false},
		{rekey.MailJob{Kind: rekey.JobPasswordChanged, ID: "u#v2", UserID: "u"}, true},
		{rekey.MailJob{Kind: "reset_password_in_clear", ID: "x"}, false},
		{rekey.MailJob{Kind: rekey.JobResetLink, UserID: "u", ResetID: "r"}, false},
	} {
		if err := test.job.Validate(); (err == nil) != test.want {
			t.Errorf("%+v.Validate() = %v, want valid %v", test.job, err, test.want)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	for _, test := range []struct {
		env     map[string]string
		want    Config
		wantErr bool
	}{
		{map[string]string{}, DefaultConfig(), false},
		{map[string]string{EnvLinkExpiry: "2h", EnvForgotExpiry: "45m", EnvForgotPerAccount: "5", EnvForgotPerClient: "50"},
			Config{LinkExpiry: 2 * time.Hour, ForgotExpiry: 45 * time.Minute, ForgotWindow: 15 * time.Minute, ForgotPerAccount: 5, ForgotPerClient: 50}, false},
		{map[string]string{EnvLinkExpiry: "25h"}, Config{}, true},
		{map[string]string{EnvForgotExpiry: "2h"}, Config{}, true},
		{map[string]string{EnvLinkExpiry: "fifteen minutes"}, Config{}, true},
		{map[string]string{EnvForgotPerClient: "-1"}, Config{}, true},
	} {
		got, err := ConfigFromEnv(func(name string) (string, bool) { v, ok := test.env[name]; return v, ok })
		if (err != nil) != test.wantErr || got != test.want {
			t.Errorf("ConfigFromEnv(%v) = %+v, %v; want %+v, error %v", test.env, got, err, test.want, test.wantErr)
		}
	}
}

func TestPrepareOnlyServiceNeedsNoQueueOrHasher(t *testing.T) {
	w := newWorld(t)
	worker, err := NewService(Config{}, Deps{Store: w.store, Now: w.clock.Now})
	if err != nil {
		t.Fatalf("NewService(store only): %v", err)
	}
	if _, err := w.svc.ResetByLink(context.Background(), w.users["teacher"], "st1", "req"); err != nil {
		t.Fatal(err)
	}
	for _, job := range w.queue.take(t) {
		if out, err := worker.PrepareMail(context.Background(), job); err != nil || out.Token == "" {
			t.Errorf("PrepareMail on a store-only service = %+v, %v; want a link", out, err)
		}
	}
	if err := worker.Forgot(context.Background(), "jo.student", "192.0.2.1", "req"); err == nil {
		t.Error("Forgot without a queue succeeded, want an error")
	}
}

func TestLogValuesHideSecrets(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	out := Outgoing{Kind: mail.KindResetLink, User: rekey.User{ID: "st1", Email: "jo@example.org", PasswordHash: "$argon2id$secret"}, Token: "raw-token-value"}
	job := rekey.MailJob{Kind: rekey.JobForgot, ID: "f1", Login: "jo@example.org", RequestedAt: time.Now()}
	log.Info("test", "out", out, "job", job)
	for _, secret := range []string{"raw-token-value", "jo@example.org", "argon2id"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log line %s contains %q", buf.String(), secret)
		}
	}
	if !strings.Contains(buf.String(), "st1") || !strings.Contains(buf.String(), "f1") {
		t.Errorf("log line %s lacks the ids", buf.String())
	}
}

// TestResetTemporaryKidFriendlyGrade: a guardian's generated temporary
// password follows the child's district's kidFriendlyMaxGrade: a grade-2
// student gets words and digits in a district never configured (default
// 2), and a full-strength password where the district chose 0 (K).
func TestResetTemporaryKidFriendlyGrade(t *testing.T) {
	kid := regexp.MustCompile(`^[a-z]{3,5}-[a-z]{3,5}-[a-z]{3,5}[2-9]{2}$`)
	for _, test := range []struct {
		name    string
		d       rekey.District
		wantKid bool
	}{
		{"never configured", rekey.District{ID: district, Name: "Riverbend"}, true},
		{"kindergarten only", rekey.District{ID: district, Name: "Riverbend", KidFriendlyMaxGrade: 0, Version: 2}, false},
	} {
		t.Run(test.name, func(t *testing.T) {
			w := newWorld(t)
			ctx := context.Background()
			if err := w.store.PutDistrict(ctx, test.d); err != nil {
				t.Fatal(err)
			}
			before := w.user(t, "jo.student")
			after := before
			after.Grade, after.Guardians, after.Version = "2", []string{"g1"}, before.Version+1
			if err := w.store.UpdateUser(ctx, before, after, nil); err != nil {
				t.Fatal(err)
			}
			guardian := rekey.User{ID: "g1", DistrictID: district, Role: rekey.RoleGuardian, Username: "parent", Status: rekey.StatusActive,
				GuardianOf: []string{before.ID}, Version: 1, CreatedAt: w.clock.Now(), UpdatedAt: w.clock.Now()}
			if err := w.store.CreateUser(ctx, guardian, nil); err != nil {
				t.Fatal(err)
			}
			pw, err := w.svc.GuardianResetTemporary(ctx, guardian, before.ID, "req")
			if err != nil {
				t.Fatal(err)
			}
			if got := kid.MatchString(pw); got != test.wantKid {
				t.Errorf("grade-2 temporary password %q kid-friendly = %v, want %v", pw, got, test.wantKid)
			}
		})
	}
}
