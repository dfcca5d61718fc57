package resets

import (
	"context"
	"errors"
	"fmt"

	"github.com/rekey/rekey/shared/rekey"
)

// ResetWithToken sets a new password with an emailed reset token
// (POST /api/password/reset). Every unusable token — malformed, forged,
// unknown, expired, superseded by a newer link, already used, or for a
// disabled account or a changed email address — gets the same
// ErrInvalidToken. A new password that fails the policy is a weak_password
// error on field "newPassword" and leaves the token usable.
//
// The token is spent atomically with the password change (SECURITY.md 7):
// one transaction deletes the token, ends the pending reset, stores the new
// password (active, no forced change, every session ended) and writes the
// audit entry, so of many concurrent redemptions exactly one succeeds. The
// user is not signed in; a "your password was changed" notice is queued.
func (s *Service) ResetWithToken(ctx context.Context, rawToken, newPassword, requestID string) error {
	if !wellFormedToken(rawToken) {
		return ErrInvalidToken
	}
	hash := HashToken(rawToken)
	token, err := s.store.GetResetToken(ctx, hash)
	if isNotFound(err) {
		return ErrInvalidToken
	}
	if err != nil {
		return fmt.Errorf("resets: read token: %w", err)
	}
	for attempt := 1; ; attempt++ {
		err := s.redeem(ctx, token, newPassword, requestID)
		if errors.Is(err, rekey.ErrVersionConflict) && attempt < maxVersionRetries {
			continue
		}
		if errors.Is(err, rekey.ErrVersionConflict) {
			return fmt.Errorf("resets: redeem token: %w", rekey.ErrConflict)
		}
		return err
	}
}

// redeem is one attempt of ResetWithToken with the user as it is now.
func (s *Service) redeem(ctx context.Context, token Token, newPassword, requestID string) error {
	now := s.now()
	user, err := s.store.GetUser(ctx, token.UserID)
	if isNotFound(err) {
		return ErrInvalidToken
	}
	if err != nil {
		return fmt.Errorf("resets: read user: %w", err)
	}
	// fail refuses the token, auditing why on the user it names.
	fail := func(why string) error {
		s.audit(ctx, s.entry(user, user, rekey.ActionResetFailed, rekey.OutcomeFailure, "reset token refused: "+why, requestID))
		return ErrInvalidToken
	}
	if !now.Before(token.ExpiresAt) {
		return fail("expired")
	}
	r, err := s.store.GetReset(ctx, user.ID)
	switch {
	case isNotFound(err):
		return fail("no pending reset (used, or replaced by a temporary password)")
	case err != nil:
		return fmt.Errorf("resets: read pending reset: %w", err)
	case r.ID != token.ResetID || r.TokenHash != token.Hash:
		return fail("superseded by a newer link")
	}
	if why := voidedFor(r, user, now); why != "" {
		return fail(why)
	}

	if err := s.checkPassword(ctx, user, "newPassword", newPassword); err != nil {
		return err
	}
	hash, err := s.hash(newPassword)
	if err != nil {
		return fmt.Errorf("resets: hash new password: %w", err)
	}
	now = s.now()
	after := user
	after.PasswordHash = hash
	after.VoidedPasswordHash = ""
	after.ResetTokenHash = ""
	after.Status = rekey.StatusActive
	after.MustChangePassword = false
	after.PasswordChangedAt = now
	after.SessionGen = user.SessionGen + 1
	after.Version = user.Version + 1
	after.UpdatedAt = now
	entry := s.entry(user, user, rekey.ActionResetComplete, rekey.OutcomeSuccess,
		"new password set with a "+string(r.Purpose)+" reset link; all sessions ended", requestID)
	entry.Before, entry.After = user.AuditView(), after.AuditView()

	err = s.store.RedeemResetToken(ctx, token, user, after, entry)
	switch {
	case errors.Is(err, rekey.ErrVersionConflict):
		return err
	case errors.Is(err, rekey.ErrConflict):
		return fail("already used")
	case err != nil:
		return fmt.Errorf("resets: redeem token: %w", err)
	}
	s.notifyChanged(ctx, after, requestID)
	return nil
}
