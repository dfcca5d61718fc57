package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/rekey/rekey/shared/rekey"
)

// A user's pending resets live on the user item — the admin's in resetId,
// resetPurpose, resetEmail, resetBy, resetCreatedAt, resetExpiresAt,
// resetTokenHash, the self-service one in selfResetId, selfResetEmail,
// selfResetCreatedAt, selfResetExpiresAt, selfResetTokenHash (see
// resets.Reset) — so each step of a reset — starting it, issuing or
// replacing its link, redeeming it — writes that one item, conditioned on
// its version.

// SaveReset writes after, the user with a changed reset state or password,
// provided the stored user is still at before's version (else
// rekey.ErrVersionConflict). With audit it is one transaction; without, one
// conditional put. A reset never renames a user or changes their email.
func (s *Store) SaveReset(ctx context.Context, before, after rekey.User, audit *rekey.AuditEntry) error {
	if err := rekey.CheckPasswordUpdate(before, after); err != nil {
		return fmt.Errorf("dynamo: save reset of %s: %w", before.ID, err)
	}
	var err error
	if audit == nil {
		cond := expression.Name("version").Equal(expression.Value(before.Version))
		err = s.putItem(ctx, newUserItem(after), &cond, rekey.ErrVersionConflict)
	} else {
		var tx transaction
		s.addUserVersionPut(&tx, before, after, nil)
		s.addAudit(&tx, *audit)
		err = s.transact(ctx, &tx)
	}
	if err != nil {
		return fmt.Errorf("dynamo: save reset of %s: %w", before.ID, err)
	}
	return nil
}

// RedeemReset writes after (the user with a new password and no pending
// reset) and audit in one transaction, on the condition that the stored
// user is still at before's version and still holds tokenHash as the token
// of one of its resets (SECURITY.md 7: of concurrent redemptions of any of
// the user's links, one wins). A failed
// condition is rekey.ErrVersionConflict: the caller reads the user again to
// learn whether the token was spent or only something else changed.
func (s *Store) RedeemReset(ctx context.Context, tokenHash string, before, after rekey.User, audit rekey.AuditEntry) error {
	if err := rekey.CheckPasswordUpdate(before, after); err != nil {
		return fmt.Errorf("dynamo: redeem reset of %s: %w", before.ID, err)
	}
	if tokenHash == "" {
		return errors.New("dynamo: redeem reset: no token hash")
	}
	var tx transaction
	holds := expression.Name("resetTokenHash").Equal(expression.Value(tokenHash)).
		Or(expression.Name("selfResetTokenHash").Equal(expression.Value(tokenHash)))
	s.addUserVersionPut(&tx, before, after, &holds)
	s.addAudit(&tx, audit)
	if err := s.transact(ctx, &tx); err != nil {
		return fmt.Errorf("dynamo: redeem reset of %s: %w", before.ID, err)
	}
	return nil
}

// addUserVersionPut adds the write of after under before's version (and
// extra, when it is not nil), mapped exactly as UpdateUser maps it.
func (s *Store) addUserVersionPut(tx *transaction, before, after rekey.User, extra *expression.ConditionBuilder) {
	cond := expression.Name("version").Equal(expression.Value(before.Version))
	if extra != nil {
		cond = cond.And(*extra)
	}
	step, err := s.txPut(newUserItem(after), cond)
	tx.add(step, err, rekey.ErrVersionConflict)
}
