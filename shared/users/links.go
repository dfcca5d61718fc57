package users

import (
	"context"
	"fmt"
	"slices"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/rekey"
)

// maxLinks bounds a user's guardian links (and so one write's items).
const maxLinks = 20

// linksWriter writes several users at once; *dynamo.Store and
// *memstore.Store satisfy it.
type linksWriter interface {
	WriteUsers(ctx context.Context, w rekey.UsersWrite) error
}

// normaliseLinks checks a list of linked user ids: valid ids, no
// duplicates, at most maxLinks.
func normaliseLinks(field string, ids []string) ([]string, error) {
	if len(ids) > maxLinks {
		return nil, invalid(field, "At most %d links.", maxLinks)
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if err := checkID(field, id, true); err != nil {
			return nil, err
		}
		if slices.Contains(out, id) {
			return nil, invalid(field, "A user is listed twice.")
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// linkPartners checks the other side of every link that an edit adds or
// removes and returns their updated records, so that both sides stay equal:
// each partner must be a user the actor may edit, of the partner role
// (students for a guardian's guardianOf, guardians for a student's
// guardians), in the target's district. An unknown partner and one outside
// the actor's view get the same answer.
func (s *Service) linkPartners(ctx context.Context, actor, before, after rekey.User) ([]rekey.UserUpdate, error) {
	field, old, now, partnerRole := "guardianOf", before.GuardianOf, after.GuardianOf, rekey.RoleStudent
	if after.Role == rekey.RoleStudent {
		field, old, now, partnerRole = "guardians", before.Guardians, after.Guardians, rekey.RoleGuardian
	}
	var updates []rekey.UserUpdate
	for _, id := range symmetricDifference(old, now) {
		if id == after.ID {
			return nil, invalid(field, "A user cannot be linked to themselves.")
		}
		p, err := s.store.GetUser(ctx, id)
		if rekey.ErrorCode(err) == rekey.ECodeNotFound || err == nil && !authz.Allowed(actor, p, authz.ActionView) {
			return nil, invalid(field, "No such user.")
		}
		if err != nil {
			return nil, fmt.Errorf("users: read linked user %s: %w", id, err)
		}
		switch {
		case p.Role != partnerRole:
			return nil, invalid(field, "Only a %s can be linked here.", roleWord(partnerRole))
		case p.DistrictID != after.DistrictID:
			return nil, invalid(field, "A link stays within one district.")
		case !authz.Allowed(actor, p, authz.ActionEdit):
			return nil, rekey.FieldError(rekey.ECodeForbidden, field, "You do not have permission to edit the linked user.")
		}
		pAfter := p
		mirror := &pAfter.Guardians
		if partnerRole == rekey.RoleGuardian {
			mirror = &pAfter.GuardianOf
		}
		if slices.Contains(now, id) {
			if !slices.Contains(*mirror, after.ID) {
				if len(*mirror) >= maxLinks {
					return nil, invalid(field, "The linked user already has %d links.", maxLinks)
				}
				*mirror = append(slices.Clone(*mirror), after.ID)
			}
		} else {
			*mirror = slices.DeleteFunc(slices.Clone(*mirror), func(x string) bool { return x == after.ID })
		}
		if len(*mirror) == 0 {
			*mirror = nil
		}
		pAfter.Version, pAfter.UpdatedAt = p.Version+1, after.UpdatedAt
		updates = append(updates, rekey.UserUpdate{Before: p, After: pAfter})
	}
	return updates, nil
}

// symmetricDifference lists the ids in exactly one of a and b.
func symmetricDifference(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			out = append(out, x)
		}
	}
	return out
}

// roleWord is a role as people say it.
func roleWord(r rekey.Role) string {
	if r == rekey.RoleGuardian {
		return "guardian"
	}
	return "student"
}
