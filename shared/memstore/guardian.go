package memstore

import (
	"context"
	"errors"
	"fmt"
	"maps"

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

// writeUsers applies w to copies of the maps it touches, each user as
// CreateUser and UpdateUser write it, and keeps them only when every step
// held.
func (s *Store) writeUsers(w rekey.UsersWrite) error {
	if n := len(w.Creates) + len(w.Updates) + len(w.PutCodes) + len(w.UseCodes); n == 0 || n > 60 {
		return fmt.Errorf("%d users and codes in one write, want 1 to 60", n)
	}
	tables, codes := s.userTables.clone(), maps.Clone(s.codes)
	for _, u := range w.Creates {
		if u.ID == "" || u.Username == "" {
			return errors.New("user id and username are required")
		}
		if err := tables.create(u); err != nil {
			return err
		}
	}
	for _, up := range w.Updates {
		if err := tables.update(up.Before, up.After, nil); err != nil {
			return err
		}
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
	s.userTables, s.codes = tables, codes
	for i := range w.Audit {
		s.addAudit(&w.Audit[i])
	}
	return nil
}
