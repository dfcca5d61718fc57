package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// errTooManyAttempts is the *rekey.Error inside every TooManyAttemptsError.
// Its message is constant so that throttled answers are the same for every
// account, known or not.
var errTooManyAttempts = &rekey.Error{
	Code:    rekey.ECodeTooManyAttempts,
	Message: "Too many failed attempts. Wait a little and try again.",
}

// TooManyAttemptsError refuses an attempt because of earlier failures. It
// unwraps to a *rekey.Error with code too_many_attempts; RetryAfter says how
// long to wait (the HTTP layer sends it as Retry-After).
type TooManyAttemptsError struct {
	Wait time.Duration
}

func (e *TooManyAttemptsError) Error() string {
	return fmt.Sprintf("auth: too many attempts, retry after %s", e.Wait)
}

// Unwrap returns the application error, so rekey.ErrorCode finds the code.
func (e *TooManyAttemptsError) Unwrap() error { return errTooManyAttempts }

// RetryAfter is how long the caller should wait before trying again.
func (e *TooManyAttemptsError) RetryAfter() time.Duration { return e.Wait }

// tooMany returns a TooManyAttemptsError of at least one second.
func tooMany(wait time.Duration) error {
	return &TooManyAttemptsError{Wait: max(wait, time.Second)}
}

// Throttle keys: failures count per account and per client address. An
// account is the user, whatever name was typed (username or email); a name
// nobody has counts on its own, so that it is throttled like an account.
const (
	userKeyPrefix   = "ACCOUNT#USER#"
	nameKeyPrefix   = "ACCOUNT#NAME#"
	clientKeyPrefix = "CLIENT#"
)

// userKey is the throttle key of a user's account.
func userKey(id string) string { return userKeyPrefix + id }

// accountKey is the throttle key of a sign-in: the user's when the
// (normalised) name found one, the name's otherwise, and "" for an empty
// name, which no account can have.
func accountKey(login string, user rekey.User, found bool) string {
	switch {
	case found:
		return userKey(user.ID)
	case login == "":
		return ""
	}
	return nameKeyPrefix + login
}

// clientKey is the throttle key of a client address.
func clientKey(ip string) string {
	if ip == "" {
		ip = "unknown"
	}
	return clientKeyPrefix + ip
}

// delay is how long after its last failure an account with this many
// failures must wait: nothing up to FreeFailures-1, then 1 s, 2 s, 4 s, …
// up to MaxDelay.
func (s *Service) delay(failures int) time.Duration {
	extra := failures - s.cfg.FreeFailures
	if extra < 0 {
		return 0
	}
	if extra >= 30 {
		return s.cfg.MaxDelay
	}
	return min(time.Second<<extra, s.cfg.MaxDelay)
}

// accountLimit is what an account may try: LockAfter attempts in the
// window, with the growing delay after FreeFailures.
func (s *Service) accountLimit() AttemptLimit {
	return AttemptLimit{Window: s.cfg.FailureWindow, Max: s.cfg.LockAfter, Wait: s.delay}
}

// clientLimit is what one client address may try in the window.
func (s *Service) clientLimit() AttemptLimit {
	return AttemptLimit{Window: s.cfg.FailureWindow, Max: s.cfg.ClientMaxFailures}
}

// reservation is a password check that the throttles allowed and counted
// before it was made.
type reservation struct {
	account, client string
	// accountCount and clientCount are the counters with this attempt.
	accountCount, clientCount Throttle
}

// reserve counts an attempt against the client and the account before the
// password is checked, each in one conditional write (ReserveAttempt), so
// that N parallel guesses are N counted attempts and no more get a password
// check than the limits allow. It refuses with a TooManyAttemptsError when
// the client or the account may not try now; a refused attempt counts
// against neither. An empty account key counts the client only. The answer
// depends only on the counters, never on whether a user exists.
func (s *Service) reserve(ctx context.Context, account, client string) (reservation, error) {
	now := s.now()
	r := reservation{account: account, client: client}
	c, ok, err := s.throttles.ReserveAttempt(ctx, client, now, s.clientLimit())
	if err != nil {
		return reservation{}, fmt.Errorf("auth: reserve client attempt: %w", err)
	}
	if !ok {
		return reservation{}, tooMany(c.FirstFailureAt.Add(s.cfg.FailureWindow).Sub(now))
	}
	r.clientCount = c
	if account == "" {
		return r, nil
	}
	a, ok, err := s.throttles.ReserveAttempt(ctx, account, now, s.accountLimit())
	if err != nil {
		s.releaseClient(ctx, r)
		return reservation{}, fmt.Errorf("auth: reserve account attempt: %w", err)
	}
	if !ok {
		s.releaseClient(ctx, r)
		return reservation{}, tooMany(s.accountWait(a, now))
	}
	r.accountCount = a
	return r, nil
}

// accountWait is how long an account whose attempt was refused must wait:
// until its lock ends, until its window ends when it has used all its
// attempts (its lock is being written), or until its delay is over.
func (s *Service) accountWait(a Throttle, now time.Time) time.Duration {
	switch {
	case a.LockedUntil.After(now):
		return a.LockedUntil.Sub(now)
	case a.Failures >= s.cfg.LockAfter:
		return a.FirstFailureAt.Add(s.cfg.FailureWindow).Sub(now)
	}
	return a.LastFailureAt.Add(s.delay(a.Failures)).Sub(now)
}

// failed settles a reservation whose password check failed: the attempts
// stay counted, and the account is locked for LockFor when this was its
// last allowed attempt. locked reports whether it was.
func (s *Service) failed(ctx context.Context, r reservation) (locked bool, err error) {
	if r.account == "" || r.accountCount.Failures < s.cfg.LockAfter {
		return false, nil
	}
	if err := s.throttles.LockThrottle(ctx, r.account, s.now().Add(s.cfg.LockFor)); err != nil {
		return false, fmt.Errorf("auth: lock account: %w", err)
	}
	return true, nil
}

// succeeded settles a reservation whose password check passed: the
// account's failures are forgotten and the client's attempt is given back,
// so that successes never count against a shared address. Failing to do so
// only leaves the user or the address a little slower, so it is logged.
func (s *Service) succeeded(ctx context.Context, r reservation) {
	if r.account != "" {
		if err := s.throttles.ClearThrottle(ctx, r.account); err != nil {
			s.log.ErrorContext(ctx, "auth: clear account throttle", "error", err)
		}
	}
	s.releaseClient(ctx, r)
}

// releaseClient gives the client's reserved attempt back.
func (s *Service) releaseClient(ctx context.Context, r reservation) {
	if err := s.throttles.ReleaseAttempt(ctx, r.client, r.clientCount); err != nil {
		s.log.ErrorContext(ctx, "auth: release client attempt", "error", err)
	}
}
