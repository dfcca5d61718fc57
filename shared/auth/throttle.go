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

// Throttle keys: failures count per sign-in name, whether or not a user has
// it, and per client address.
const (
	accountKeyPrefix = "ACCOUNT#"
	clientKeyPrefix  = "CLIENT#"
)

// accountKey is the throttle key of a normalised (lower-case) sign-in name,
// or "" when the name is empty and so no account can have it.
func accountKey(login string) string {
	if login == "" {
		return ""
	}
	return accountKeyPrefix + login
}

// clientKey is the throttle key of a client address.
func clientKey(ip string) string {
	if ip == "" {
		ip = "unknown"
	}
	return clientKeyPrefix + ip
}

// counting reports whether t's failures still count at now: the window that
// began with its first failure has not ended.
func (s *Service) counting(t Throttle, now time.Time) bool {
	return t.Failures > 0 && now.Sub(t.FirstFailureAt) < s.cfg.FailureWindow
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

// checkThrottles refuses an attempt with a TooManyAttemptsError when the
// client has used up its failures, the account is locked, or the account must
// still wait after its last failure. An empty account key checks the client
// only. The answer depends only on the counters, never on whether a user
// exists.
func (s *Service) checkThrottles(ctx context.Context, account, client string) error {
	now := s.now()
	c, err := s.throttles.GetThrottle(ctx, client)
	if err != nil {
		return fmt.Errorf("auth: read client throttle: %w", err)
	}
	if s.counting(c, now) && c.Failures >= s.cfg.ClientMaxFailures {
		return tooMany(c.FirstFailureAt.Add(s.cfg.FailureWindow).Sub(now))
	}
	if account == "" {
		return nil
	}
	a, err := s.throttles.GetThrottle(ctx, account)
	if err != nil {
		return fmt.Errorf("auth: read account throttle: %w", err)
	}
	if a.LockedUntil.After(now) {
		return tooMany(a.LockedUntil.Sub(now))
	}
	if s.counting(a, now) {
		if next := a.LastFailureAt.Add(s.delay(a.Failures)); now.Before(next) {
			return tooMany(next.Sub(now))
		}
	}
	return nil
}

// recordFailure counts a failed attempt against the client and the account,
// and locks the account when it reaches LockAfter failures. user is the
// account's owner when one exists, for the lockout's audit entry.
func (s *Service) recordFailure(ctx context.Context, account, client string, user *rekey.User, clientIP, requestID string) error {
	now := s.now()
	if _, err := s.throttles.RecordFailure(ctx, client, now, s.cfg.FailureWindow); err != nil {
		return fmt.Errorf("auth: record client failure: %w", err)
	}
	if account == "" {
		return nil
	}
	a, err := s.throttles.RecordFailure(ctx, account, now, s.cfg.FailureWindow)
	if err != nil {
		return fmt.Errorf("auth: record account failure: %w", err)
	}
	if a.Failures < s.cfg.LockAfter {
		return nil
	}
	if err := s.throttles.LockThrottle(ctx, account, now.Add(s.cfg.LockFor)); err != nil {
		return fmt.Errorf("auth: lock account: %w", err)
	}
	if user != nil {
		detail := fmt.Sprintf("%d failed attempts; locked for %s", a.Failures, s.cfg.LockFor)
		s.audit(ctx, s.auditFrom(*user, rekey.ActionLoginLockout, rekey.OutcomeDenied, detail, clientIP, requestID))
	}
	return nil
}

// clearFailures forgets an account's failures after a success. A failure to
// do so only leaves the user a little slower next time, so it is logged.
func (s *Service) clearFailures(ctx context.Context, account string) {
	if account == "" {
		return
	}
	if err := s.throttles.ClearThrottle(ctx, account); err != nil {
		s.log.ErrorContext(ctx, "auth: clear account throttle", "error", err)
	}
}
