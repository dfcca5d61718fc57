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
// The token names its user, so redemption reads that one record and writes
// it once, on the condition that it still holds the token's hash and has
// not changed since it was read (SECURITY.md 7): the new password (active,
// no forced change, every session ended), the end of the pending reset and
// the audit entry are written together, so of many concurrent redemptions
// exactly one succeeds. The user is not signed in; a "your password was
// changed" notice is queued.
func (s *Service) ResetWithToken(ctx context.Context, rawToken, newPassword, requestID string) error {
	userID, ok := tokenUser(rawToken)
	if !ok {
		return ErrInvalidToken
	}
	hash := HashToken(rawToken)
	for attempt := 1; ; attempt++ {
		err := s.redeem(ctx, userID, hash, newPassword, requestID)
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
func (s *Service) redeem(ctx context.Context, userID, hash, newPassword, requestID string) error {
	now := s.now()
	user, err := s.store.GetUser(ctx, userID)
	if isNotFound(err) {
		return ErrInvalidToken
	}
	if err != nil {
		return fmt.Errorf("resets: read user: %w", err)
	}
	r, pending := PendingReset(user)
	if !pending || !hashMatches(r.TokenHash, hash) {
		// Forged, superseded or spent: nothing ties it to this user, so it
		// is not audited on them (anyone could name any user id).
		return ErrInvalidToken
	}
	// fail refuses the user's own current token, auditing why.
	fail := func(why string) error {
		s.audit(ctx, s.entry(user, user, rekey.ActionResetFailed, rekey.OutcomeFailure, "reset token refused: "+why, requestID))
		return ErrInvalidToken
	}
	if why := voidedFor(r, user, now); why != "" {
		return fail(why)
	}

	if err := s.checkPassword(ctx, user, "newPassword", newPassword); err != nil {
		return err
	}
	passwordHash, err := s.hash(newPassword)
	if err != nil {
		return fmt.Errorf("resets: hash new password: %w", err)
	}
	now = s.now()
	after := WithoutReset(user)
	after.PasswordHash = passwordHash
	after.VoidedPasswordHash = ""
	after.Status = rekey.StatusActive
	after.MustChangePassword = false
	after.PasswordChangedAt = now
	after.SessionGen = user.SessionGen + 1
	after.Version = user.Version + 1
	after.UpdatedAt = now
	entry := s.entry(user, user, rekey.ActionResetComplete, rekey.OutcomeSuccess,
		"new password set with a "+string(r.Purpose)+" reset link; all sessions ended", requestID)
	entry.Before, entry.After = user.AuditView(), after.AuditView()

	err = s.store.RedeemReset(ctx, hash, user, after, entry)
	switch {
	case errors.Is(err, rekey.ErrVersionConflict):
		return err // read again: spent, superseded, or only an unrelated change
	case err != nil:
		return fmt.Errorf("resets: redeem token: %w", err)
	}
	s.notifyChanged(ctx, after, requestID)
	return nil
}
