package dynamo

import (
	"context"
	"fmt"
	"strings"

	"github.com/rekey/rekey/shared/rekey"
)

// FindUsers returns the users of districtID holding one of externalIDs,
// and the users of any district holding one of usernames or emails
// (compared without regard to case), each once: what an import needs to
// match its rows to existing users (roster.Directory). It reads the claim
// items with BatchGetItem (100 keys a call), then the users they name the
// same way, so that n rows cost about 2·⌈3n/100⌉ calls. A claim whose user
// no longer holds the value is ignored.
func (s *Store) FindUsers(ctx context.Context, districtID string, externalIDs, usernames, emails []string) ([]rekey.User, error) {
	var keys [][2]string
	for _, id := range externalIDs {
		if pk := externalPK(districtID, id); pk != "" {
			keys = append(keys, [2]string{pk, claimSK})
		}
	}
	for _, name := range usernames {
		if name != "" {
			keys = append(keys, [2]string{usernamePK(name), claimSK})
		}
	}
	for _, email := range emails {
		if email != "" {
			keys = append(keys, [2]string{emailPK(email), claimSK})
		}
	}
	claims, err := s.getItems(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("dynamo: find users: claims: %w", err)
	}
	claimed := map[string][]string{} // user id → claim keys naming it
	var userKeys [][2]string
	for key, av := range claims {
		var c claimItem
		if err := unmarshalItem(av, &c); err != nil {
			return nil, fmt.Errorf("dynamo: find users: %w", err)
		}
		if _, seen := claimed[c.UserID]; !seen {
			userKeys = append(userKeys, [2]string{userPK(c.UserID), userSK})
		}
		claimed[c.UserID] = append(claimed[c.UserID], strings.TrimSuffix(key, "|"+claimSK))
	}
	items, err := s.getItems(ctx, userKeys)
	if err != nil {
		return nil, fmt.Errorf("dynamo: find users: users: %w", err)
	}
	out := make([]rekey.User, 0, len(items))
	for _, av := range items {
		u, err := decodeUser(av)
		if err != nil {
			return nil, fmt.Errorf("dynamo: find users: %w", err)
		}
		if holdsAny(u, claimed[u.ID]) {
			out = append(out, u)
		}
	}
	return out, nil
}

// holdsAny reports whether u still holds one of the claim keys.
func holdsAny(u rekey.User, keys []string) bool {
	for _, k := range keys {
		if k == usernamePK(u.Username) || u.Email != "" && k == emailPK(u.Email) || k == externalPK(u.DistrictID, u.ExternalID) {
			return true
		}
	}
	return false
}
