package users

import (
	"context"
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
	if !ok {
		// Users who may list nobody still see their own school.
		scope = authz.Scope{DistrictID: actor.DistrictID, SchoolID: actor.SchoolID}
		if actor.SchoolID == "" {
			return []rekey.School{}, nil
		}
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
	if scope.SchoolID == "" {
		return all, nil
	}
	for _, sc := range all {
		if sc.ID == scope.SchoolID {
			return []rekey.School{sc}, nil
		}
	}
	return []rekey.School{}, nil
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
