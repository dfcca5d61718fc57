package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/testclock"
)

const (
	goodPassword = "correct horse battery staple"
	clientIP     = "192.0.2.10"
	requestID    = "req-12345678"
)

// world is a service with fakes and a few users: ada (active teacher),
// dis (disabled), res (reset_required whose voided password was
// goodPassword), tmp (must change password), old (hash needing a rehash).
type world struct {
	svc      *Service
	t        *testing.T
	store    *testStore
	hasher   *fakeHasher
	clock    *testclock.Clock
	notifier *fakeNotifier
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC))
	w := &world{
		t:        t,
		store:    newTestStore(clock.Now),
		hasher:   &fakeHasher{},
		clock:    clock,
		notifier: &fakeNotifier{},
	}
	if err := w.store.PutDistrict(ctx, rekey.District{ID: "d1", Name: "Riverside Unified"}); err != nil {
		t.Fatal(err)
	}
	if err := w.store.PutSchool(ctx, rekey.School{ID: "s1", DistrictID: "d1", Name: "Hillcrest Elementary"}); err != nil {
		t.Fatal(err)
	}
	add := func(id string, mod func(*rekey.User)) {
		u := rekey.User{
			ID: id, DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleTeacher, Status: rekey.StatusActive,
			FirstName: "Ada", LastName: "Lovelace", Username: id + ".user", Email: id + "@example.org",
			PasswordHash: "v2:" + goodPassword, Version: 1, SessionGen: 1,
		}
		if mod != nil {
			mod(&u)
		}
		if err := w.store.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
	}
	add("ada", nil)
	add("dis", func(u *rekey.User) { u.Status = rekey.StatusDisabled })
	add("res", func(u *rekey.User) {
		u.Status, u.PasswordHash, u.VoidedPasswordHash = rekey.StatusResetRequired, "", "v2:"+goodPassword
	})
	add("tmp", func(u *rekey.User) { u.MustChangePassword = true })
	add("old", func(u *rekey.User) { u.PasswordHash = "v1:" + goodPassword })
	w.svc = NewService(Config{}, Deps{
		Store: w.store, Throttles: w.store, Hasher: w.hasher,
		Notifier: w.notifier, Now: w.clock.Now,
	})
	return w
}

// edit writes u over the stored user as another writer would, one version
// later.
func (w *world) edit(u rekey.User) {
	w.t.Helper()
	if err := w.store.Edit(context.Background(), u); err != nil {
		w.t.Fatal(err)
	}
}

func TestLoginSucceeds(t *testing.T) {
	w := newWorld(t)
	for _, login := range []string{"ada.user", "  ADA.User ", "Ada@Example.org"} {
		t.Run(login, func(t *testing.T) {
			got, err := w.svc.Login(context.Background(), login, goodPassword, clientIP, requestID)
			if err != nil {
				t.Fatalf("Login(%q) error = %v", login, err)
			}
			if got.User.ID != "ada" || got.MustChangePassword {
				t.Errorf("Login(%q) = user %q, mustChange %v; want ada, false", login, got.User.ID, got.MustChangePassword)
			}
			if len(got.Token) != 43 || len(got.CSRFToken) != 43 || got.Token == got.CSRFToken {
				t.Errorf("Login(%q) tokens %q, %q; want two distinct 43-character tokens", login, got.Token, got.CSRFToken)
			}
			session, err := w.store.GetSession(context.Background(), HashToken(got.Token))
			if err != nil {
				t.Fatalf("no session stored under the token's hash: %v", err)
			}
			for _, s := range w.store.Sessions() {
				if hash := s.TokenHash; hash == got.Token || strings.Contains(hash, got.Token) {
					t.Errorf("session stored under the raw token")
				}
			}
			want := rekey.Session{
				TokenHash: HashToken(got.Token), UserID: "ada", Generation: 1, CSRFTokenHash: HashToken(got.CSRFToken),
				CreatedAt: w.clock.Now(), LastSeenAt: w.clock.Now(), ExpiresAt: w.clock.Now().Add(12 * time.Hour),
			}
			if diff := cmp.Diff(want, session); diff != "" {
				t.Errorf("stored session (-want +got):\n%s", diff)
			}
		})
	}
	if got := w.store.auditActions(); len(got) != 3 || got[0] != rekey.ActionLoginSuccess {
		t.Errorf("audit actions = %v, want three %s", got, rekey.ActionLoginSuccess)
	}
}

func TestLoginRefusals(t *testing.T) {
	for _, test := range []struct {
		name, login, password string
		want                  error
		wantAudit             []string
	}{
		{"unknown user", "nobody", goodPassword, ErrInvalidCredentials, []string{rekey.ActionLoginFailure}},
		{"unknown email", "nobody@example.org", goodPassword, ErrInvalidCredentials, []string{rekey.ActionLoginFailure}},
		{"empty login", "", goodPassword, ErrInvalidCredentials, []string{rekey.ActionLoginFailure}},
		{"wrong password", "ada.user", "wrong password!", ErrInvalidCredentials, []string{rekey.ActionLoginFailure}},
		{"disabled, right password", "dis.user", goodPassword, ErrInvalidCredentials, []string{rekey.ActionLoginFailure}},
		{"reset required, voided password", "res.user", goodPassword, ErrPasswordResetRequired, []string{rekey.ActionLoginFailure}},
		{"reset required, other password", "res.user", "something else", ErrInvalidCredentials, []string{rekey.ActionLoginFailure}},
	} {
		t.Run(test.name, func(t *testing.T) {
			w := newWorld(t)
			_, err := w.svc.Login(context.Background(), test.login, test.password, clientIP, requestID)
			if err != test.want {
				t.Errorf("Login(%q, %q) error = %v, want %v", test.login, test.password, err, test.want)
			}
			if diff := cmp.Diff(test.wantAudit, w.store.auditActions()); diff != "" {
				t.Errorf("audit actions (-want +got):\n%s", diff)
			}
			for _, e := range w.store.Audit() {
				if text := fmt.Sprintf("%+v", e); test.login != "" && strings.Contains(text, test.login) || strings.Contains(text, test.password) {
					t.Errorf("audit entry holds the typed name or password: %s", text)
				}
			}
			if len(w.store.Sessions()) != 0 {
				t.Errorf("a refused sign-in stored %d sessions", len(w.store.Sessions()))
			}
		})
	}
}

func TestLoginUnknownUserBurnsHashingWork(t *testing.T) {
	w := newWorld(t)
	w.svc.Login(context.Background(), "nobody", goodPassword, clientIP, requestID)
	w.svc.Login(context.Background(), "res.user", "x", clientIP, requestID) // voided hash present
	if w.hasher.burns != 1 {
		t.Errorf("Burn called %d times for one unknown user, want 1", w.hasher.burns)
	}
}

func TestLoginMustChangePassword(t *testing.T) {
	w := newWorld(t)
	got, err := w.svc.Login(context.Background(), "tmp.user", goodPassword, clientIP, requestID)
	if err != nil || !got.MustChangePassword {
		t.Errorf("Login(tmp) = mustChange %v, %v; want true, nil", got.MustChangePassword, err)
	}
}

func TestLoginRehashes(t *testing.T) {
	w := newWorld(t)
	got, err := w.svc.Login(context.Background(), "old.user", goodPassword, clientIP, requestID)
	if err != nil {
		t.Fatalf("Login(old) error = %v", err)
	}
	stored := w.store.user("old")
	if stored.PasswordHash != "v2:"+goodPassword || stored.Version != 2 {
		t.Errorf("after rehash stored hash %q version %d, want v2 hash, version 2", stored.PasswordHash, stored.Version)
	}
	if got.User.Version != 2 {
		t.Errorf("Login returned version %d, want 2", got.User.Version)
	}
}

// attempt is one sign-in's outcome reduced to what a client sees.
type attempt struct {
	Code       string
	RetryAfter time.Duration
}

func outcome(err error) attempt {
	var tm *TooManyAttemptsError
	if errors.As(err, &tm) {
		return attempt{rekey.ErrorCode(err), tm.RetryAfter()}
	}
	return attempt{rekey.ErrorCode(err), 0}
}

func TestLoginThrottlesAccounts(t *testing.T) {
	// The same sequence of wrong attempts, against a real account and a
	// sign-in name nobody has, must look the same at every step.
	run := func(login string) ([]attempt, *world) {
		w := newWorld(t)
		var got []attempt
		step := func(wait time.Duration) {
			w.clock.Add(wait)
			_, err := w.svc.Login(context.Background(), login, "wrong password!", clientIP, requestID)
			got = append(got, outcome(err))
		}
		for range 5 {
			step(0)
		}
		step(0)                // 6th, immediately: must wait 1 s
		step(time.Second)      // allowed: 6th failure
		step(time.Second)      // must wait 2 s after the 6th failure
		step(time.Second)      // allowed: 7th failure
		step(4 * time.Second)  // allowed: 8th
		step(8 * time.Second)  // allowed: 9th
		step(16 * time.Second) // allowed: 10th, locks
		step(time.Minute)      // locked
		step(15 * time.Minute) // lock over and window over: counts afresh
		step(0)                // 2nd failure of the new window
		return got, w
	}
	known, w := run("ada.user")
	unknown, _ := run("nobody.at.all")
	if diff := cmp.Diff(known, unknown); diff != "" {
		t.Errorf("throttling differs for known and unknown accounts (-known +unknown):\n%s", diff)
	}
	bad, many := attempt{Code: rekey.ECodeInvalidCredentials}, func(d time.Duration) attempt {
		return attempt{rekey.ECodeTooManyAttempts, d}
	}
	want := []attempt{bad, bad, bad, bad, bad, many(time.Second), bad, many(time.Second), bad, bad, bad, bad,
		many(14 * time.Minute), bad, bad}
	if diff := cmp.Diff(want, known); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	var lockouts int
	for _, a := range w.store.auditActions() {
		if a == rekey.ActionLoginLockout {
			lockouts++
		}
	}
	if lockouts != 1 {
		t.Errorf("%d lockout audit entries, want 1", lockouts)
	}

	// Even the right password waits out a lock.
	w = newWorld(t)
	for range 10 {
		w.clock.Add(time.Minute)
		w.svc.Login(context.Background(), "ada.user", "wrong password!", clientIP, requestID)
	}
	if _, err := w.svc.Login(context.Background(), "ada.user", goodPassword, clientIP, requestID); rekey.ErrorCode(err) != rekey.ECodeTooManyAttempts {
		t.Errorf("Login with the right password while locked: error %v, want too_many_attempts", err)
	}
}

func TestLoginLockCoversEveryNameOfTheAccount(t *testing.T) {
	// Failures count against the user, whichever of their names was typed:
	// a lock earned under one name holds under the other, and failures
	// spread over both names add up.
	for _, test := range []struct {
		name       string
		failWith   []string // the ten failing sign-ins take turns at these names
		signInWith string
	}{
		{"locked by username, sign in by email", []string{"ada.user"}, "ada@example.org"},
		{"locked by email, sign in by username", []string{"Ada@Example.org"}, "ada.user"},
		{"failures under both names, sign in by username", []string{"ada.user", "ada@example.org"}, "ADA.USER"},
	} {
		t.Run(test.name, func(t *testing.T) {
			w := newWorld(t)
			for i := range 10 {
				w.clock.Add(time.Minute) // past every delay: only the lock can refuse
				login := test.failWith[i%len(test.failWith)]
				if _, err := w.svc.Login(context.Background(), login, "wrong password!", clientIP, requestID); err != ErrInvalidCredentials {
					t.Fatalf("failure %d with %q: error %v, want ErrInvalidCredentials", i+1, login, err)
				}
			}
			w.clock.Add(time.Minute)
			_, err := w.svc.Login(context.Background(), test.signInWith, goodPassword, clientIP, requestID)
			if got := outcome(err); got != (attempt{rekey.ECodeTooManyAttempts, 14 * time.Minute}) {
				t.Errorf("Login(%q) with the right password after the lock = %+v, want too_many_attempts for 14m", test.signInWith, got)
			}
			if len(w.store.Sessions()) != 0 {
				t.Errorf("a locked account got %d sessions", len(w.store.Sessions()))
			}
		})
	}
}

func TestLoginFailuresCostTheSameForUnknownAndKnownUsers(t *testing.T) {
	// The deterministic half of "the timing for unknown user and wrong
	// password is the same": the same store requests, in the same order, at
	// every stage of the throttle (SECURITY.md 5).
	calls := func(login string) [][]string {
		w := newWorld(t)
		r := &recorder{store: w.store, throttles: w.store}
		svc := NewService(Config{}, Deps{Store: r, Throttles: r, Hasher: w.hasher, Now: w.clock.Now})
		var stages [][]string
		// Five free failures, one refused for its delay, five more failures
		// (the last locks), one refused by the lock.
		m := time.Minute
		for _, wait := range []time.Duration{0, 0, 0, 0, 0, 0, m, m, m, m, m, m} {
			w.clock.Add(wait)
			svc.Login(context.Background(), login, "wrong password!", clientIP, requestID)
			stages = append(stages, r.take())
		}
		return stages
	}
	for _, test := range []struct{ known, unknown string }{
		{"ada.user", "nobody"},
		{"ada@example.org", "nobody@example.org"},
		{"dis.user", "nobody"}, // disabled: refused with the right password too
	} {
		known, unknown := calls(test.known), calls(test.unknown)
		if diff := cmp.Diff(known, unknown); diff != "" {
			t.Errorf("store calls of failed sign-ins differ (-%s +%s):\n%s", test.known, test.unknown, diff)
		}
		lookup := "GetUserByUsername"
		if strings.Contains(test.known, "@") {
			lookup = "GetUserByEmail"
		}
		failure := []string{lookup, "ReserveAttempt", "ReserveAttempt", "PutAudit"}
		refused := []string{lookup, "ReserveAttempt", "ReserveAttempt", "ReleaseAttempt"}
		locking := []string{lookup, "ReserveAttempt", "ReserveAttempt", "LockThrottle", "PutAudit"}
		want := [][]string{failure, failure, failure, failure, failure, refused, failure, failure, failure, failure, locking, refused}
		if diff := cmp.Diff(want, known); diff != "" {
			t.Errorf("store calls of failed sign-ins with %q (-want +got):\n%s", test.known, diff)
		}
	}
}

func TestLoginSuccessClearsFailures(t *testing.T) {
	w := newWorld(t)
	for range 4 {
		w.svc.Login(context.Background(), "ada.user", "wrong password!", clientIP, requestID)
	}
	if _, err := w.svc.Login(context.Background(), "ada.user", goodPassword, clientIP, requestID); err != nil {
		t.Fatalf("Login error = %v", err)
	}
	if got, err := w.store.GetThrottle(context.Background(), userKey("ada")); err != nil || got.Failures != 0 {
		t.Errorf("account failures after success = %d, want 0", got.Failures)
	}
}

func TestLoginThrottlesClients(t *testing.T) {
	w := newWorld(t)
	for i := range 100 {
		_, err := w.svc.Login(context.Background(), fmt.Sprintf("user%d", i), "x", clientIP, requestID)
		if rekey.ErrorCode(err) != rekey.ECodeInvalidCredentials {
			t.Fatalf("attempt %d: error %v, want invalid_credentials", i, err)
		}
	}
	_, err := w.svc.Login(context.Background(), "ada.user", goodPassword, clientIP, requestID)
	if rekey.ErrorCode(err) != rekey.ECodeTooManyAttempts {
		t.Errorf("101st attempt from one client: error %v, want too_many_attempts", err)
	}
	if _, err := w.svc.Login(context.Background(), "ada.user", goodPassword, "198.51.100.7", requestID); err != nil {
		t.Errorf("another client: error %v, want nil", err)
	}
}

// signIn signs user id in and returns the token.
func signIn(t *testing.T, w *world, login string) LoginResult {
	t.Helper()
	got, err := w.svc.Login(context.Background(), login, goodPassword, clientIP, requestID)
	if err != nil {
		t.Fatalf("Login(%q) error = %v", login, err)
	}
	return got
}

func TestAuthenticate(t *testing.T) {
	for _, test := range []struct {
		name   string
		change func(w *world)
		ok     bool
	}{
		{"fresh", func(*world) {}, true},
		{"29 minutes idle", func(w *world) { w.clock.Add(29 * time.Minute) }, true},
		{"30 minutes idle", func(w *world) { w.clock.Add(30 * time.Minute) }, false},
		{"password changed elsewhere", func(w *world) {
			u := w.store.user("ada")
			u.SessionGen++
			w.edit(u)
		}, false},
		{"disabled", func(w *world) {
			u := w.store.user("ada")
			u.Status = rekey.StatusDisabled
			w.edit(u)
		}, false},
		{"user deleted", func(w *world) { w.store.RemoveUser("ada") }, false},
		{"session deleted", func(w *world) {
			for _, s := range w.store.Sessions() {
				if err := w.store.DeleteSession(context.Background(), s.TokenHash); err != nil {
					w.t.Fatal(err)
				}
			}
		}, false},
	} {
		t.Run(test.name, func(t *testing.T) {
			w := newWorld(t)
			login := signIn(t, w, "ada.user")
			test.change(w)
			user, session, err := w.svc.Authenticate(context.Background(), login.Token)
			if test.ok {
				if err != nil || user.ID != "ada" || session.UserID != "ada" {
					t.Errorf("Authenticate = %q, %q, %v; want ada", user.ID, session.UserID, err)
				}
				return
			}
			if err != ErrUnauthenticated {
				t.Errorf("Authenticate error = %v, want ErrUnauthenticated", err)
			}
			if len(w.store.Sessions()) != 0 {
				t.Errorf("a dead session was kept")
			}
		})
	}
}

func TestAuthenticateAbsoluteTimeoutAndTouch(t *testing.T) {
	w := newWorld(t)
	login := signIn(t, w, "ada.user")
	// Busy for 12 hours: a request every 20 minutes keeps it from idling.
	for elapsed := time.Duration(0); elapsed < 12*time.Hour; elapsed += 20 * time.Minute {
		if _, _, err := w.svc.Authenticate(context.Background(), login.Token); err != nil {
			t.Fatalf("after %s: Authenticate error = %v", elapsed, err)
		}
		w.clock.Add(20 * time.Minute)
	}
	if _, _, err := w.svc.Authenticate(context.Background(), login.Token); err != ErrUnauthenticated {
		t.Errorf("after 12 h: Authenticate error = %v, want ErrUnauthenticated", err)
	}

	w = newWorld(t)
	login = signIn(t, w, "ada.user")
	for range 10 {
		w.clock.Add(5 * time.Second)
		w.svc.Authenticate(context.Background(), login.Token)
	}
	if w.store.touches != 0 {
		t.Errorf("10 requests within a minute wrote the session %d times, want 0", w.store.touches)
	}
	w.clock.Add(15 * time.Second)
	w.svc.Authenticate(context.Background(), login.Token)
	if w.store.touches != 1 {
		t.Errorf("a request a minute after sign-in wrote the session %d times, want 1", w.store.touches)
	}
}

func TestAuthenticateRejectsGarbage(t *testing.T) {
	w := newWorld(t)
	for _, token := range []string{"", "abc", strings.Repeat("a", 42) + "!", strings.Repeat("a", 44)} {
		if _, _, err := w.svc.Authenticate(context.Background(), token); err != ErrUnauthenticated {
			t.Errorf("Authenticate(%q) error = %v, want ErrUnauthenticated", token, err)
		}
	}
}

func TestLogout(t *testing.T) {
	w := newWorld(t)
	login := signIn(t, w, "ada.user")
	if err := w.svc.Logout(context.Background(), login.Token); err != nil {
		t.Fatalf("Logout error = %v", err)
	}
	if _, _, err := w.svc.Authenticate(context.Background(), login.Token); err != ErrUnauthenticated {
		t.Errorf("Authenticate after Logout error = %v, want ErrUnauthenticated", err)
	}
	if err := w.svc.Logout(context.Background(), login.Token); err != nil {
		t.Errorf("second Logout error = %v, want nil", err)
	}
}

func TestCSRFMatches(t *testing.T) {
	w := newWorld(t)
	login := signIn(t, w, "ada.user")
	_, session, err := w.svc.Authenticate(context.Background(), login.Token)
	if err != nil {
		t.Fatal(err)
	}
	for _, test := range []struct {
		token string
		want  bool
	}{{login.CSRFToken, true}, {"", false}, {login.Token, false}, {login.CSRFToken + "x", false}} {
		if got := CSRFMatches(session, test.token); got != test.want {
			t.Errorf("CSRFMatches(session, %q) = %v, want %v", test.token, got, test.want)
		}
	}
}

func TestChangePassword(t *testing.T) {
	const newPassword = "a brand new passphrase of mine"
	for _, test := range []struct {
		name, current, next string
		wantCode, wantField string
	}{
		{"wrong current", "not it", newPassword, rekey.ECodeInvalidCredentials, "currentPassword"},
		{"too short", goodPassword, "short", rekey.ECodeWeakPassword, "newPassword"},
		{"contains school name", goodPassword, "i love hillcrest elementary", rekey.ECodeWeakPassword, "newPassword"},
		{"same as current", goodPassword, goodPassword, rekey.ECodeWeakPassword, "newPassword"},
	} {
		t.Run(test.name, func(t *testing.T) {
			w := newWorld(t)
			login := signIn(t, w, "tmp.user")
			before := w.store.user("tmp")
			err := w.svc.ChangePassword(context.Background(), login.User, test.current, test.next, clientIP, requestID)
			var e *rekey.Error
			if !errors.As(err, &e) || e.Code != test.wantCode || e.Field != test.wantField {
				t.Fatalf("ChangePassword error = %v, want code %s field %s", err, test.wantCode, test.wantField)
			}
			if diff := cmp.Diff(before, w.store.user("tmp")); diff != "" {
				t.Errorf("a refused change altered the user (-before +after):\n%s", diff)
			}
		})
	}

	t.Run("success", func(t *testing.T) {
		w := newWorld(t)
		login := signIn(t, w, "tmp.user")
		other := signIn(t, w, "tmp.user")
		w.clock.Add(time.Minute)
		if err := w.svc.ChangePassword(context.Background(), login.User, goodPassword, newPassword, clientIP, requestID); err != nil {
			t.Fatalf("ChangePassword error = %v", err)
		}
		u := w.store.user("tmp")
		if u.PasswordHash != "v2:"+newPassword || u.MustChangePassword || u.SessionGen != 2 || u.Version != 2 ||
			!u.PasswordChangedAt.Equal(w.clock.Now()) || u.Status != rekey.StatusActive {
			t.Errorf("after change: %+v", u)
		}
		for _, token := range []string{login.Token, other.Token} {
			if _, _, err := w.svc.Authenticate(context.Background(), token); err != ErrUnauthenticated {
				t.Errorf("Authenticate with a pre-change session error = %v, want ErrUnauthenticated", err)
			}
		}
		last := w.store.Audit()[len(w.store.Audit())-1]
		if last.Action != rekey.ActionPasswordChange || last.Outcome != rekey.OutcomeSuccess || last.RequestID != requestID {
			t.Errorf("last audit entry = %+v, want a successful password change", last)
		}
		if strings.Contains(fmt.Sprint(last), newPassword) || strings.Contains(fmt.Sprint(last), goodPassword) {
			t.Errorf("audit entry holds a password: %+v", last)
		}
		if diff := cmp.Diff([]string{"tmp"}, w.notifier.notified); diff != "" {
			t.Errorf("notified (-want +got):\n%s", diff)
		}
		if _, err := w.svc.Login(context.Background(), "tmp.user", newPassword, clientIP, requestID); err != nil {
			t.Errorf("Login with the new password error = %v", err)
		}
	})

	t.Run("no notifier", func(t *testing.T) {
		w := newWorld(t)
		w.svc.notifier = nil
		login := signIn(t, w, "ada.user")
		if err := w.svc.ChangePassword(context.Background(), login.User, goodPassword, newPassword, clientIP, requestID); err != nil {
			t.Errorf("ChangePassword without notifier error = %v", err)
		}
	})

	t.Run("wrong current is throttled", func(t *testing.T) {
		w := newWorld(t)
		login := signIn(t, w, "ada.user")
		var last error
		for range 6 {
			last = w.svc.ChangePassword(context.Background(), login.User, "nope", newPassword, clientIP, requestID)
		}
		if rekey.ErrorCode(last) != rekey.ECodeTooManyAttempts {
			t.Errorf("6th wrong current password at once: error %v, want too_many_attempts", last)
		}
	})
}

func TestRealPasswordCheckIsTheDefault(t *testing.T) {
	w := newWorld(t)
	err := w.svc.check(rekey.DefaultPasswordPolicy, "newPassword", "password", rekey.User{Role: rekey.RoleStudent})
	want := password.Check(rekey.DefaultPasswordPolicy, "newPassword", "password", rekey.User{Role: rekey.RoleStudent})
	if fmt.Sprint(err) != fmt.Sprint(want) || err == nil {
		t.Errorf("default check = %v, want password.Check's %v", err, want)
	}
}

// TestAuditKeepsClientIPApart: the address a sign-in or password change
// came from is in the entry's ClientIP, never in its Detail, so that the
// activity can show the entry to viewers who may not see the address.
func TestAuditKeepsClientIPApart(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.svc.Login(ctx, "ada.user", goodPassword, clientIP, requestID)                   // success
	w.svc.Login(ctx, "res.user", goodPassword, clientIP, requestID)                   // reset required
	w.svc.Login(ctx, "dis.user", goodPassword, clientIP, requestID)                   // disabled
	w.svc.ChangePassword(ctx, w.store.user("ada"), "wrong", "x", clientIP, requestID) // wrong current password
	for range 10 {
		w.clock.Add(time.Minute)
		w.svc.Login(ctx, "old.user", "wrong password!", clientIP, requestID) // failures, then a lockout
	}
	seen := map[string]bool{}
	for _, e := range w.store.Audit() {
		if strings.Contains(e.Detail, clientIP) || strings.Contains(e.Detail, "from") {
			t.Errorf("%s entry detail %q holds the address", e.Action, e.Detail)
		}
		if e.Action != rekey.ActionPasswordChange || e.Outcome != rekey.OutcomeSuccess {
			if e.ClientIP != clientIP {
				t.Errorf("%s (%s) entry ClientIP = %q, want %q", e.Action, e.Outcome, e.ClientIP, clientIP)
			}
		}
		seen[e.Action+"/"+e.Outcome] = true
	}
	for _, want := range []string{
		rekey.ActionLoginSuccess + "/" + rekey.OutcomeSuccess, rekey.ActionLoginFailure + "/" + rekey.OutcomeDenied,
		rekey.ActionLoginFailure + "/" + rekey.OutcomeFailure, rekey.ActionLoginLockout + "/" + rekey.OutcomeDenied,
		rekey.ActionPasswordChange + "/" + rekey.OutcomeFailure,
	} {
		if !seen[want] {
			t.Errorf("no %s entry was written; seen %v", want, seen)
		}
	}
}
