package resets

import (
	"context"
	"errors"
	"fmt"

	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
)

// ResetTemporary is an admin's reset to a temporary password (PRODUCT.md
// "Password resets" 2): typed by the admin (it must pass the user's district
// policy; a refusal names field "temporaryPassword") or, when temporary is
// empty, generated. The user must choose a new password at next sign-in
// (MustChangePassword), the account becomes active, every session ends and
// any pending reset link is voided, in one transaction with the audit entry
// (which never holds the password). The password itself is never emailed;
// a user with an email address gets the "your password was changed" notice
// (SECURITY.md 13).
//
// It returns the password only when Rekey generated it, so that it can be
// shown once; a typed password is not echoed.
func (s *Service) ResetTemporary(ctx context.Context, actor rekey.User, targetID, temporary, requestID string) (string, error) {
	generated := temporary == ""
	for attempt := 1; ; attempt++ {
		pw, err := s.resetTemporary(ctx, actor, targetID, temporary, requestID)
		if errors.Is(err, rekey.ErrVersionConflict) && attempt < maxVersionRetries {
			continue
		}
		if err != nil || !generated {
			return "", err
		}
		return pw, nil
	}
}

func (s *Service) resetTemporary(ctx context.Context, actor rekey.User, targetID, temporary, requestID string) (string, error) {
	target, err := s.target(ctx, actor, targetID, rekey.ActionResetTemporary, requestID)
	if err != nil {
		return "", err
	}
	if temporary == "" {
		if temporary, err = password.Generate(); err != nil {
			return "", err
		}
	}
	if _, err := s.checkPassword(ctx, target, "temporaryPassword", temporary); err != nil {
		return "", err
	}
	hash, err := s.hash(temporary)
	if err != nil {
		return "", fmt.Errorf("resets: hash temporary password: %w", err)
	}

	now := s.now()
	after := ApplyTemporaryPassword(target, hash, now)
	entry := s.entry(actor, target, rekey.ActionResetTemporary, rekey.OutcomeSuccess,
		"temporary password set, change required at next sign-in; all sessions ended; pending links voided", requestID)
	entry.Before, entry.After = target.AuditView(), after.AuditView()
	if err := s.store.SaveReset(ctx, target, after, &entry); err != nil {
		return "", fmt.Errorf("resets: set temporary password: %w", err)
	}
	s.notifyChanged(ctx, after, requestID)
	return temporary, nil
}
