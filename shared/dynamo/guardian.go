package dynamo

import (
	"context"
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
// claims and every update under its before version (moving changed
// claims), as CreateUser and UpdateUser write them,
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
	var tx transaction
	for _, u := range w.Creates {
		if err := s.addUserCreate(&tx, u); err != nil {
			return err
		}
	}
	for _, up := range w.Updates {
		if err := s.addUserUpdate(&tx, up.Before, up.After); err != nil {
			return err
		}
	}
	for _, c := range w.UseCodes {
		step, err := s.txDelete(parentCodePK(c.Hash), claimSK, expression.Name("userId").Equal(expression.Value(c.UserID)))
		tx.add(step, err, rekey.ErrInvalidCode)
	}
	for _, c := range w.PutCodes {
		step, err := s.txPut(claimItem{PK: parentCodePK(c.Hash), SK: claimSK, UserID: c.UserID}, expression.AttributeNotExists(expression.Name("PK")))
		tx.add(step, err, rekey.ErrConflict)
	}
	for _, e := range w.Audit {
		s.addAudit(&tx, e)
	}
	return s.transact(ctx, &tx)
}
