package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/rekey/rekey/shared/rekey"
)

// parentCodePrefix keys the claim that maps a parent code's hash to its
// student.
const parentCodePrefix = "PARENTCODE#"

func parentCodePK(hash string) string { return parentCodePrefix + hash }

// maxUsersWrite keeps a UsersWrite well inside DynamoDB's 100 items per
// transaction (a user with a moved username and email is three items).
const maxUsersWrite = 60

// GetUserByParentCode returns the student whose pending parent code has the
// given hash, or rekey.ErrNotFound (also when the claim outlived the code).
func (s *Store) GetUserByParentCode(ctx context.Context, hash string) (rekey.User, error) {
	if hash == "" {
		return rekey.User{}, fmt.Errorf("dynamo: get user by parent code: %w", rekey.ErrNotFound)
	}
	u, err := s.getUserByClaim(ctx, func(h string) string { return parentCodePK(h) }, hash, func(u rekey.User) string { return u.ParentCode.Hash })
	if err != nil {
		return rekey.User{}, fmt.Errorf("dynamo: get user by parent code: %w", err)
	}
	return u, nil
}

// WriteUsers writes w in one transaction: every created user with its
// claims, every update under its before version (moving changed claims),
// the parent-code claims to put and to use up, and the audit entries.
// Errors: rekey.ErrVersionConflict (a stale update), rekey.ErrUsernameTaken,
// rekey.ErrEmailTaken, rekey.ErrInvalidCode (a code already used or
// replaced), rekey.ErrConflict.
func (s *Store) WriteUsers(ctx context.Context, w rekey.UsersWrite) error {
	if err := s.writeUsers(ctx, w); err != nil {
		return fmt.Errorf("dynamo: write users: %w", err)
	}
	return nil
}

func (s *Store) writeUsers(ctx context.Context, w rekey.UsersWrite) error {
	if n := len(w.Creates) + len(w.Updates) + len(w.PutCodes) + len(w.UseCodes); n == 0 || n > maxUsersWrite {
		return fmt.Errorf("%d users and codes in one write, want 1 to %d", n, maxUsersWrite)
	}
	absent := expression.AttributeNotExists(expression.Name("PK"))
	var tx transaction
	for _, u := range w.Creates {
		if u.ID == "" || u.Username == "" {
			return errors.New("user id and username are required")
		}
		step, err := s.txPut(newUserItem(u), absent)
		tx.add(step, err, rekey.ErrConflict)
		step, err = s.txPut(claimItem{PK: usernamePK(u.Username), SK: claimSK, UserID: u.ID}, absent)
		tx.add(step, err, rekey.ErrUsernameTaken)
		if u.Email != "" {
			step, err = s.txPut(claimItem{PK: emailPK(u.Email), SK: claimSK, UserID: u.ID}, absent)
			tx.add(step, err, rekey.ErrEmailTaken)
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
		step, err := s.txPut(newUserItem(after), expression.Name("version").Equal(expression.Value(before.Version)))
		tx.add(step, err, rekey.ErrVersionConflict)
		s.moveClaim(&tx, after.ID, before.Username, after.Username, usernamePK, rekey.ErrUsernameTaken)
		s.moveClaim(&tx, after.ID, before.Email, after.Email, emailPK, rekey.ErrEmailTaken)
	}
	for _, c := range w.UseCodes {
		step, err := s.txDelete(parentCodePK(c.Hash), claimSK, expression.Name("userId").Equal(expression.Value(c.UserID)))
		tx.add(step, err, rekey.ErrInvalidCode)
	}
	for _, c := range w.PutCodes {
		step, err := s.txPut(claimItem{PK: parentCodePK(c.Hash), SK: claimSK, UserID: c.UserID}, absent)
		tx.add(step, err, rekey.ErrConflict)
	}
	for _, e := range w.Audit {
		s.addAudit(&tx, e)
	}
	return s.transact(ctx, &tx)
}
