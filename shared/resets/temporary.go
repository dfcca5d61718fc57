package resets

import (
	"context"
	"errors"
	"fmt"

	"github.com/rekey/rekey/shared/authz"
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

// GuardianResetTemporary is a guardian's reset of a linked child's password
// (POST /api/me/children/{id}/password-reset): always a generated password,
// kid-friendly for the youngest, otherwise exactly ResetTemporary (forced
// change, sessions ended, audited in the child's activity as
// password.guardian_reset). Any student who is not the guardian's linked
// child is rekey.ErrNotFound; a linked child whose account is disabled is
// rekey.ErrForbidden.
func (s *Service) GuardianResetTemporary(ctx context.Context, guardian rekey.User, childID, requestID string) (string, error) {
	for attempt := 1; ; attempt++ {
		pw, err := s.resetTemporaryAs(ctx, guardian, childID, "", requestID, rekey.ActionGuardianReset, authz.ActionGuardianReset)
		if errors.Is(err, rekey.ErrVersionConflict) && attempt < maxVersionRetries {
			continue
		}
		return pw, err
	}
}

func (s *Service) resetTemporary(ctx context.Context, actor rekey.User, targetID, temporary, requestID string) (string, error) {
	return s.resetTemporaryAs(ctx, actor, targetID, temporary, requestID, rekey.ActionResetTemporary, authz.ActionReset)
}

// resetTemporaryAs sets a temporary password if actor has permission over
// the target; the audit entry is of action.
func (s *Service) resetTemporaryAs(ctx context.Context, actor rekey.User, targetID, temporary, requestID, action string, permission authz.Action) (string, error) {
	target, err := s.targetFor(ctx, actor, targetID, action, requestID, permission)
	if err != nil {
		return "", err
	}
	switch {
	case temporary != "":
	case permission == authz.ActionGuardianReset:
		// A guardian reads it out to a young child: kid-friendly for them.
		if temporary, err = s.generate(ctx, target); err != nil {
			return "", err
		}
	default:
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
	entry := s.entry(actor, target, action, rekey.OutcomeSuccess,
		"temporary password set, change required at next sign-in; all sessions ended; pending links voided", requestID)
	entry.Before, entry.After = target.AuditView(), after.AuditView()
	if err := s.store.SaveReset(ctx, target, after, &entry); err != nil {
		return "", fmt.Errorf("resets: set temporary password: %w", err)
	}
	s.notifyChanged(ctx, after, requestID)
	return temporary, nil
}

// generate makes a temporary password for target: kid-friendly for
// students at or below their district's kidFriendlyMaxGrade (the district
// settings), full strength for everyone else.
func (s *Service) generate(ctx context.Context, target rekey.User) (string, error) {
	policy, _, err := password.ContextFor(ctx, s.store, target)
	if err != nil {
		return "", err
	}
	grade, err := password.KidFriendlyMaxGradeFor(ctx, s.store, target)
	if err != nil {
		return "", err
	}
	return password.GenerateFor(policy, target, grade)
}
