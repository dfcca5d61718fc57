package password

import (
	"context"
	"fmt"

	"github.com/rekey/rekey/shared/rekey"
)

// PlaceReader reads the district and school a user belongs to; the stores
// satisfy it.
type PlaceReader interface {
	GetDistrict(ctx context.Context, id string) (rekey.District, error)
	GetSchool(ctx context.Context, id string) (rekey.School, error)
}

// KidFriendlyMaxGradeFor returns the kid-friendly grade limit of user's
// district (its settings; DefaultKidFriendlyMaxGrade when the user has no
// district or it is gone), for GenerateFor.
func KidFriendlyMaxGradeFor(ctx context.Context, places PlaceReader, user rekey.User) (int, error) {
	if user.DistrictID == "" {
		return DefaultKidFriendlyMaxGrade, nil
	}
	district, err := places.GetDistrict(ctx, user.DistrictID)
	switch {
	case rekey.ErrorCode(err) == rekey.ECodeNotFound:
		return DefaultKidFriendlyMaxGrade, nil
	case err != nil:
		return 0, fmt.Errorf("password: read district: %w", err)
	}
	return district.Settings().KidFriendlyMaxGrade, nil
}

// ContextFor returns the policy a new password of user must pass — their
// district's, or the default when they have none or it is gone — and the
// names of their district and school, which it must not contain (Check's
// context words).
func ContextFor(ctx context.Context, places PlaceReader, user rekey.User) (rekey.PasswordPolicy, []string, error) {
	policy := rekey.DefaultPasswordPolicy
	var words []string
	if user.DistrictID != "" {
		district, err := places.GetDistrict(ctx, user.DistrictID)
		switch {
		case err == nil:
			policy = district.Policy.WithDefaults()
			words = append(words, district.Name)
		case rekey.ErrorCode(err) != rekey.ECodeNotFound:
			return rekey.PasswordPolicy{}, nil, fmt.Errorf("password: read district: %w", err)
		}
	}
	if user.SchoolID != "" {
		school, err := places.GetSchool(ctx, user.SchoolID)
		switch {
		case err == nil:
			words = append(words, school.Name)
		case rekey.ErrorCode(err) != rekey.ECodeNotFound:
			return rekey.PasswordPolicy{}, nil, fmt.Errorf("password: read school: %w", err)
		}
	}
	return policy, words, nil
}
