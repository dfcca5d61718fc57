package memstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/rekey/rekey/shared/rekey"
)

// GetUserByParentCode returns the student whose pending parent code has the
// given hash, or rekey.ErrNotFound.
func (s *Store) GetUserByParentCode(_ context.Context, hash string) (rekey.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[hash]
	u, found := s.users[id]
	if hash == "" || !ok || !found || u.ParentCode.Hash != hash {
		return rekey.User{}, fmt.Errorf("memstore: get user by parent code: %w", rekey.ErrNotFound)
	}
	return ownLinks(u), nil
}

// WriteUsers writes w all at once or not at all, with the conditions and
// errors of the DynamoDB store's WriteUsers.
func (s *Store) WriteUsers(_ context.Context, w rekey.UsersWrite) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writeUsers(w); err != nil {
		return fmt.Errorf("memstore: write users: %w", err)
	}
	return nil
}

// writeUsers applies w to copies of the maps it touches and keeps them
// only when every step held.
func (s *Store) writeUsers(w rekey.UsersWrite) error {
	if n := len(w.Creates) + len(w.Updates) + len(w.PutCodes) + len(w.UseCodes); n == 0 || n > 60 {
		return fmt.Errorf("%d users and codes in one write, want 1 to 60", n)
	}
	users, names, emails, codes := maps.Clone(s.users), maps.Clone(s.usernames), maps.Clone(s.emails), maps.Clone(s.codes)
	for _, u := range w.Creates {
		switch {
		case u.ID == "" || u.Username == "":
			return errors.New("user id and username are required")
		case users[u.ID].ID != "":
			return rekey.ErrConflict
		case names[strings.ToLower(u.Username)] != "":
			return rekey.ErrUsernameTaken
		case u.Email != "" && emails[strings.ToLower(u.Email)] != "":
			return rekey.ErrEmailTaken
		}
		users[u.ID] = ownLinks(u)
		names[strings.ToLower(u.Username)] = u.ID
		if u.Email != "" {
			emails[strings.ToLower(u.Email)] = u.ID
		}
	}
	for _, up := range w.Updates {
		before, after := up.Before, up.After
		switch {
		case before.ID == "" || after.ID != before.ID:
			return fmt.Errorf("after.ID %q does not match before.ID %q", after.ID, before.ID)
		case after.Username == "":
			return errors.New("username is required")
		case after.Version != before.Version+1:
			return fmt.Errorf("after.Version %d does not follow before.Version %d", after.Version, before.Version)
		}
		stored, ok := users[before.ID]
		if !ok || stored.Version != before.Version {
			return rekey.ErrVersionConflict
		}
		oldName, newName := strings.ToLower(before.Username), strings.ToLower(after.Username)
		if id, taken := names[newName]; oldName != newName && taken && id != after.ID {
			return rekey.ErrUsernameTaken
		}
		oldEmail, newEmail := strings.ToLower(before.Email), strings.ToLower(after.Email)
		if id, taken := emails[newEmail]; oldEmail != newEmail && newEmail != "" && taken && id != after.ID {
			return rekey.ErrEmailTaken
		}
		moveClaim(names, after.ID, oldName, newName)
		moveClaim(emails, after.ID, oldEmail, newEmail)
		users[after.ID] = ownLinks(after)
	}
	for _, c := range w.UseCodes {
		if id, ok := codes[c.Hash]; !ok || id != c.UserID {
			return rekey.ErrInvalidCode
		}
		delete(codes, c.Hash)
	}
	for _, c := range w.PutCodes {
		if _, ok := codes[c.Hash]; ok {
			return rekey.ErrConflict
		}
		codes[c.Hash] = c.UserID
	}
	s.users, s.usernames, s.emails, s.codes = users, names, emails, codes
	for i := range w.Audit {
		s.addAudit(&w.Audit[i])
	}
	return nil
}
