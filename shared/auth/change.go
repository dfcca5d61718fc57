package auth

import (
	"context"
	"fmt"

	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
)

// ErrWrongCurrentPassword answers a password change whose current password
// is wrong.
var ErrWrongCurrentPassword = &rekey.Error{
	Code:    rekey.ECodeInvalidCredentials,
	Field:   "currentPassword",
	Message: "Your current password is incorrect.",
}

// errSamePassword refuses a "change" to the password the user already has,
// which would defeat a forced change after a temporary password.
var errSamePassword = &rekey.Error{
	Code:    rekey.ECodeWeakPassword,
	Field:   "newPassword",
	Message: "Password must be different from your current password.",
}

// ChangePassword sets a signed-in user's new password after checking the
// current one (throttled like sign-in, per account and client) and the
// district's password policy with the school and district names as context
// words. It clears a forced change, voids any pending reset link, and ends
// every session of the user, this one included: the client must sign in
// again (SECURITY.md 13). actor is the user as Authenticate returned it.
func (s *Service) ChangePassword(ctx context.Context, actor rekey.User, current, next, clientIP, requestID string) error {
	r, err := s.reserve(ctx, userKey(actor.ID), clientKey(clientIP))
	if err != nil {
		return err
	}
	if ok, _ := s.verify(ctx, actor.PasswordHash, current); !ok {
		s.audit(ctx, s.auditFrom(actor, rekey.ActionPasswordChange, rekey.OutcomeFailure, "wrong current password", clientIP, requestID))
		locked, err := s.failed(ctx, r)
		if locked {
			detail := fmt.Sprintf("%d failed attempts; locked for %s", r.accountCount.Failures, s.cfg.LockFor)
			s.audit(ctx, s.auditFrom(actor, rekey.ActionLoginLockout, rekey.OutcomeDenied, detail, clientIP, requestID))
		}
		if err != nil {
			return err
		}
		return ErrWrongCurrentPassword
	}
	// The right current password: the attempt was no failure, whatever
	// becomes of the new password.
	s.succeeded(ctx, r)
	if next == current {
		return errSamePassword
	}
	minLength, err := s.checkPolicy(ctx, actor, next)
	if err != nil {
		return err
	}

	hash, err := s.hasher.Hash(next)
	if err != nil {
		return fmt.Errorf("auth: hash new password: %w", err)
	}
	now := s.now()
	after := actor.WithPassword(hash, now)
	after.MustChangePassword = false
	after.PasswordMinLength = minLength
	after.ResetTokenHash, after.SelfResetTokenHash = "", ""
	entry := s.auditEntry(actor, rekey.ActionPasswordChange, rekey.OutcomeSuccess, "all sessions ended", requestID)
	if actor.MustChangePassword {
		entry.Before = map[string]any{"mustChangePassword": true}
		entry.After = map[string]any{"mustChangePassword": false}
	}
	if err := s.store.UpdateUser(ctx, actor, after, &entry); err != nil {
		return fmt.Errorf("auth: store new password: %w", err)
	}

	if s.notifier != nil {
		if err := s.notifier.PasswordChanged(ctx, after, requestID); err != nil {
			s.log.ErrorContext(ctx, "auth: send password-changed notice", "error", err)
		}
	}
	return nil
}

// checkPolicy applies the user's district policy to a new password, with the
// names of the user's school and district as words it must not contain. It
// returns the minimum length it applied, which the user's record keeps
// (rekey.User.PasswordMinLength).
func (s *Service) checkPolicy(ctx context.Context, user rekey.User, pw string) (int, error) {
	policy, words, err := password.ContextFor(ctx, s.store, user)
	if err != nil {
		return 0, fmt.Errorf("auth: %w", err)
	}
	return policy.MinLength(user.Role), s.check(policy, "newPassword", pw, user, words...)
}
