package auth

import (
	"context"
	"fmt"

	"github.com/rekey/rekey/shared/rekey"
)

// flagOutdated binds a user who has just signed in to choose a new password
// when theirs was set under a weaker rule than their district's policy now
// demands (rekey.PasswordPolicy.Outdated): a district that raises a minimum
// length writes nothing to its users, and each is flagged here, at their
// next sign-in, with an audit entry. It returns the user as stored. A
// failure to read the policy or write the flag fails the sign-in: letting
// the user in would skip the policy.
func (s *Service) flagOutdated(ctx context.Context, user rekey.User, requestID string) (rekey.User, error) {
	if user.MustChangePassword || user.DistrictID == "" {
		return user, nil
	}
	district, err := s.store.GetDistrict(ctx, user.DistrictID)
	switch {
	case rekey.ErrorCode(err) == rekey.ECodeNotFound:
		return user, nil
	case err != nil:
		return rekey.User{}, fmt.Errorf("auth: read district policy: %w", err)
	}
	if !district.Policy.Outdated(user) {
		return user, nil
	}
	now := s.now()
	after := user
	after.MustChangePassword = true
	after.Version = user.Version + 1
	after.UpdatedAt = now
	entry := s.auditEntry(user, rekey.ActionPasswordOutdated, rekey.OutcomeSuccess,
		"password set under a shorter minimum length than the district now requires; must choose a new one", requestID)
	entry.Before = map[string]any{"mustChangePassword": false}
	entry.After = map[string]any{"mustChangePassword": true}
	if err := s.store.UpdateUser(ctx, user, after, &entry); err != nil {
		return rekey.User{}, fmt.Errorf("auth: flag outdated password: %w", err)
	}
	return after, nil
}
