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
// A refused token that names an existing user is audited in that user's
// activity (SECURITY.md 14) with why it was refused, never with the token:
// the answer stays the same, so the audit log is no oracle for whoever
// holds the token. A token that names no user is only logged.
//
// The token names its user, so redemption reads that one record and writes
// it once, on the condition that it still holds the token's hash and has
// not changed since it was read (SECURITY.md 7): the new password (active,
// no forced change, every session ended), the end of every pending reset
// (an admin's link and a self-service one alike) and the audit entry are
// written together, so of many concurrent redemptions of any of the user's
// links exactly one succeeds. The user is not signed in; a "your password
// was changed" notice is queued.
func (s *Service) ResetWithToken(ctx context.Context, rawToken, newPassword, requestID string) error {
	userID, ok := tokenUser(rawToken)
	if !ok {
		s.log.InfoContext(ctx, "resets: malformed reset token refused", "requestId", requestID)
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
		s.log.InfoContext(ctx, "resets: reset token for no known user refused", "requestId", requestID)
		return ErrInvalidToken
	}
	if err != nil {
		return fmt.Errorf("resets: read user: %w", err)
	}
	r, pending := resetByToken(user, hash)
	if !pending {
		// Anyone may name any user id in a token, so the actor is
		// anonymous; the entry says only what became of the token.
		why := "link voided (replaced by a newer link, or ended by the use of another link or a password change) or never issued"
		if hashMatches(user.SpentResetTokenHash, hash) {
			why = "link already used"
		}
		s.audit(ctx, s.refusal(rekey.User{}, user, rekey.OutcomeDenied, why, requestID))
		return ErrInvalidToken
	}
	if why := voidedFor(r, user, now); why != "" {
		// The holder had the user's own current link.
		s.audit(ctx, s.refusal(user, user, rekey.OutcomeFailure, why, requestID))
		return ErrInvalidToken
	}

	minLength, err := s.checkPassword(ctx, user, "newPassword", newPassword)
	if err != nil {
		return err
	}
	passwordHash, err := s.hash(newPassword)
	if err != nil {
		return fmt.Errorf("resets: hash new password: %w", err)
	}
	now = s.now()
	after := WithoutReset(user).WithPassword(passwordHash, now)
	after.MustChangePassword = false
	after.PasswordMinLength = minLength
	after.SpentResetTokenHash = hash
	after.Status = rekey.StatusActive
	entry := s.entry(user, user, rekey.ActionResetComplete, rekey.OutcomeSuccess,
		"new password set with a "+string(r.Purpose)+" reset link; all sessions ended and every other pending link voided", requestID)
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

// refusal is the audit entry of a refused redemption of a token naming
// user; actor is the zero User when the holder is anonymous.
func (s *Service) refusal(actor, user rekey.User, outcome, why, requestID string) rekey.AuditEntry {
	return s.entry(actor, user, rekey.ActionResetFailed, outcome, "reset token refused: "+why, requestID)
}

// CheckToken says whether rawToken would still set a new password, without
// using it (POST /api/password/reset/check): the reset page asks before the
// user types a password, so that a used or expired link says so at once.
// It answers nil for a usable token and ErrInvalidToken, the same for every
// reason, otherwise. It reads the user and writes nothing — no audit entry
// either: the token stays exactly as usable as before, and a link scanner
// that opens the page or calls this consumes nothing (SECURITY.md 10).
//
// It reveals no more than redemption does (which answers invalid_token
// before judging the password) and is guarded the same way: by the token's
// 256-bit secret, not by a counter. A per-address limit would refuse a class
// opening its links together behind the school's one address.
func (s *Service) CheckToken(ctx context.Context, rawToken, requestID string) error {
	userID, ok := tokenUser(rawToken)
	if !ok {
		s.log.InfoContext(ctx, "resets: malformed reset token checked", "requestId", requestID)
		return ErrInvalidToken
	}
	user, err := s.store.GetUser(ctx, userID)
	if isNotFound(err) {
		return ErrInvalidToken
	}
	if err != nil {
		return fmt.Errorf("resets: check token: read user: %w", err)
	}
	r, pending := resetByToken(user, HashToken(rawToken))
	if !pending || voidedFor(r, user, s.now()) != "" {
		return ErrInvalidToken
	}
	return nil
}
