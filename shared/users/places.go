package users

import (
	"context"
	"errors"
	"fmt"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/rekey"
)

// Schools lists the schools the actor may pick from or needs to name: every
// school of their district for district admins and support (support: of the
// district asked for, or their own), and their own school for everyone else,
// students included (their account page names it).
func (s *Service) Schools(ctx context.Context, actor rekey.User, districtID string) ([]rekey.School, error) {
	scope, ok := authz.ListScope(actor)
	if !ok || scope.SchoolID != "" {
		// School staff, and users who may list nobody (students), see only
		// their own school: one read, not the district's list.
		return s.ownSchool(ctx, actor)
	}
	if districtID == "" || !scope.AllDistricts {
		districtID = actor.DistrictID
	}
	if districtID == "" {
		return []rekey.School{}, nil
	}
	all, err := s.store.ListSchools(ctx, districtID)
	if err != nil {
		return nil, fmt.Errorf("users: list schools: %w", err)
	}
	return all, nil
}

// ownSchool is the actor's own school, as a list of one (none when the
// actor has no school or it is gone or in another district).
func (s *Service) ownSchool(ctx context.Context, actor rekey.User) ([]rekey.School, error) {
	if actor.SchoolID == "" {
		return []rekey.School{}, nil
	}
	sc, err := s.store.GetSchool(ctx, actor.SchoolID)
	switch {
	case errors.Is(err, rekey.ErrNotFound):
		return []rekey.School{}, nil
	case err != nil:
		return nil, fmt.Errorf("users: own school: %w", err)
	case sc.DistrictID != actor.DistrictID:
		return []rekey.School{}, nil
	}
	return []rekey.School{sc}, nil
}

// PasswordPolicy is the policy of the actor's district (defaults filled in),
// so that forms can check lengths as the user types; the server's check on
// submission is final.
func (s *Service) PasswordPolicy(ctx context.Context, actor rekey.User) (rekey.PasswordPolicy, error) {
	if actor.DistrictID == "" {
		return rekey.DefaultPasswordPolicy, nil
	}
	d, err := s.store.GetDistrict(ctx, actor.DistrictID)
	if err != nil {
		return rekey.PasswordPolicy{}, fmt.Errorf("users: district policy: %w", err)
	}
	return d.Policy.WithDefaults(), nil
}
