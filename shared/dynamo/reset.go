package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
)

// Key prefixes and sort keys of pending resets and reset tokens.
const (
	resetPrefix = "RESET#"
	resetSK     = "RESET"
	tokenPrefix = "TOKEN#"
	tokenSK     = "TOKEN"
)

// resetKeepAfterExpiry is how long a pending reset outlives its link, so that
// an admin can still resend an expired link; DynamoDB then deletes it.
const resetKeepAfterExpiry = 7 * 24 * time.Hour

// resetItem is a user's one pending reset (RESET#<userId> / RESET). It
// holds only the SHA-256 of the newest emailed token, never a token.
type resetItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	UserID    string `dynamodbav:"userId"`
	ResetID   string `dynamodbav:"resetId"`
	Purpose   string `dynamodbav:"purpose"`
	Email     string `dynamodbav:"email,omitempty"`
	CreatedBy string `dynamodbav:"createdBy,omitempty"`
	CreatedAt string `dynamodbav:"createdAt"`
	ExpiresAt string `dynamodbav:"expiresAt"`
	TokenHash string `dynamodbav:"tokenHash,omitempty"`
	TTL       int64  `dynamodbav:"ttl"`
}

// tokenItem is one emailed reset token (TOKEN#<sha256> / TOKEN), found by
// the hash of the raw token; it names its user and reset.
type tokenItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	UserID    string `dynamodbav:"userId"`
	ResetID   string `dynamodbav:"resetId"`
	Purpose   string `dynamodbav:"purpose"`
	CreatedAt string `dynamodbav:"createdAt"`
	ExpiresAt string `dynamodbav:"expiresAt"`
	TTL       int64  `dynamodbav:"ttl"`
}

func resetPK(userID string) string { return resetPrefix + userID }

func tokenPK(hash string) string { return tokenPrefix + hash }

func newResetItem(r resets.Reset) resetItem {
	return resetItem{
		PK:        resetPK(r.UserID),
		SK:        resetSK,
		UserID:    r.UserID,
		ResetID:   r.ID,
		Purpose:   string(r.Purpose),
		Email:     r.Email,
		CreatedBy: r.CreatedBy,
		CreatedAt: formatTime(r.CreatedAt),
		ExpiresAt: formatTime(r.ExpiresAt),
		TokenHash: r.TokenHash,
		TTL:       ttlAfter(r.ExpiresAt.Add(resetKeepAfterExpiry)),
	}
}

func (it resetItem) reset() (resets.Reset, error) {
	var p timeParser
	r := resets.Reset{
		ID:        it.ResetID,
		UserID:    it.UserID,
		Purpose:   resets.Purpose(it.Purpose),
		Email:     it.Email,
		CreatedBy: it.CreatedBy,
		CreatedAt: p.parse("createdAt", it.CreatedAt),
		ExpiresAt: p.parse("expiresAt", it.ExpiresAt),
		TokenHash: it.TokenHash,
	}
	return r, p.err
}

func newTokenItem(t resets.Token) tokenItem {
	return tokenItem{
		PK:        tokenPK(t.Hash),
		SK:        tokenSK,
		UserID:    t.UserID,
		ResetID:   t.ResetID,
		Purpose:   string(t.Purpose),
		CreatedAt: formatTime(t.CreatedAt),
		ExpiresAt: formatTime(t.ExpiresAt),
		TTL:       ttlAfter(t.ExpiresAt),
	}
}

func (it tokenItem) token(hash string) (resets.Token, error) {
	var p timeParser
	t := resets.Token{
		Hash:      hash,
		UserID:    it.UserID,
		ResetID:   it.ResetID,
		Purpose:   resets.Purpose(it.Purpose),
		CreatedAt: p.parse("createdAt", it.CreatedAt),
		ExpiresAt: p.parse("expiresAt", it.ExpiresAt),
	}
	return t, p.err
}

// GetReset returns the pending reset of userID, or rekey.ErrNotFound. An
// expired reset is still returned (resend needs it); callers judge expiry.
func (s *Store) GetReset(ctx context.Context, userID string) (resets.Reset, error) {
	var it resetItem
	if err := s.getItem(ctx, resetPK(userID), resetSK, &it); err != nil {
		return resets.Reset{}, fmt.Errorf("dynamo: get reset of %s: %w", userID, err)
	}
	r, err := it.reset()
	if err != nil {
		return resets.Reset{}, fmt.Errorf("dynamo: get reset of %s: %w", userID, err)
	}
	return r, nil
}

// GetResetToken returns the token stored under hash (the SHA-256 of the raw
// token), or rekey.ErrNotFound. Expiry is for the caller to judge, since
// DynamoDB deletes expired items late.
func (s *Store) GetResetToken(ctx context.Context, hash string) (resets.Token, error) {
	var it tokenItem
	if hash == "" {
		return resets.Token{}, fmt.Errorf("dynamo: get reset token: %w", rekey.ErrNotFound)
	}
	if err := s.getItem(ctx, tokenPK(hash), tokenSK, &it); err != nil {
		return resets.Token{}, fmt.Errorf("dynamo: get reset token: %w", err)
	}
	t, err := it.token(hash)
	if err != nil {
		return resets.Token{}, fmt.Errorf("dynamo: get reset token: %w", err)
	}
	return t, nil
}

// StartLinkReset stores an admin's link reset in one transaction: the user
// as after (under before's version, else rekey.ErrVersionConflict), r as
// the user's pending reset (replacing any other), and audit.
func (s *Store) StartLinkReset(ctx context.Context, before, after rekey.User, r resets.Reset, audit rekey.AuditEntry) error {
	if err := checkPasswordUpdate(before, after); err != nil {
		return fmt.Errorf("dynamo: start link reset of %s: %w", before.ID, err)
	}
	if r.UserID != before.ID {
		return fmt.Errorf("dynamo: start link reset of %s: reset is for user %q", before.ID, r.UserID)
	}
	var tx transaction
	s.addUserVersionPut(&tx, before, after)
	step, err := s.resetTxPut(newResetItem(r), nil)
	tx.add(step, err, rekey.ErrConflict)
	s.addAudit(&tx, audit)
	if err := s.transact(ctx, &tx); err != nil {
		return fmt.Errorf("dynamo: start link reset of %s: %w", before.ID, err)
	}
	return nil
}

// ReplaceReset makes r the pending reset of its user provided the stored
// one's id is still previousID, or there is none when previousID is "";
// otherwise rekey.ErrConflict. audit, when not nil, is written in the same
// transaction.
func (s *Store) ReplaceReset(ctx context.Context, r resets.Reset, previousID string, audit *rekey.AuditEntry) error {
	cond := expression.AttributeNotExists(expression.Name("PK"))
	if previousID != "" {
		cond = expression.Name("resetId").Equal(expression.Value(previousID))
	}
	var err error
	if audit == nil {
		err = s.putItem(ctx, newResetItem(r), &cond, rekey.ErrConflict)
	} else {
		var tx transaction
		step, stepErr := s.resetTxPut(newResetItem(r), &cond)
		tx.add(step, stepErr, rekey.ErrConflict)
		s.addAudit(&tx, *audit)
		err = s.transact(ctx, &tx)
	}
	if err != nil {
		return fmt.Errorf("dynamo: replace reset of %s: %w", r.UserID, err)
	}
	return nil
}

// SetPasswordEndingReset stores a password set by an admin (a temporary
// password) in one transaction: the user as after (under before's version,
// else rekey.ErrVersionConflict), the deletion of any pending reset, so that
// no earlier link works, and audit.
func (s *Store) SetPasswordEndingReset(ctx context.Context, before, after rekey.User, audit rekey.AuditEntry) error {
	if err := checkPasswordUpdate(before, after); err != nil {
		return fmt.Errorf("dynamo: set password of %s: %w", before.ID, err)
	}
	var tx transaction
	s.addUserVersionPut(&tx, before, after)
	step, err := s.resetTxDelete(resetPK(before.ID), resetSK, nil)
	tx.add(step, err, rekey.ErrConflict)
	s.addAudit(&tx, audit)
	if err := s.transact(ctx, &tx); err != nil {
		return fmt.Errorf("dynamo: set password of %s: %w", before.ID, err)
	}
	return nil
}

// RecordResetToken stores token t and makes it the only valid token of its
// reset, provided the user's pending reset is still t.ResetID (else
// rekey.ErrConflict). The token stored under previousHash, if any, is
// deleted in the same transaction.
func (s *Store) RecordResetToken(ctx context.Context, t resets.Token, previousHash string) error {
	if t.Hash == "" || t.UserID == "" || t.ResetID == "" {
		return errors.New("dynamo: record reset token: hash, user and reset are required")
	}
	var tx transaction
	cond := expression.Name("resetId").Equal(expression.Value(t.ResetID))
	step, err := s.resetTxUpdate(resetPK(t.UserID), resetSK,
		expression.Set(expression.Name("tokenHash"), expression.Value(t.Hash)), cond)
	tx.add(step, err, rekey.ErrConflict)
	absent := expression.AttributeNotExists(expression.Name("PK"))
	step, err = s.resetTxPut(newTokenItem(t), &absent)
	tx.add(step, err, rekey.ErrConflict)
	if previousHash != "" && previousHash != t.Hash {
		step, err = s.resetTxDelete(tokenPK(previousHash), tokenSK, nil)
		tx.add(step, err, rekey.ErrConflict)
	}
	if err := s.transact(ctx, &tx); err != nil {
		return fmt.Errorf("dynamo: record reset token for %s: %w", t.UserID, err)
	}
	return nil
}

// RedeemResetToken spends token t in one transaction: it deletes the token
// (which must still exist) and the user's pending reset (which must still
// name t as its token), stores the user as after under before's version and
// writes audit. A token already spent or superseded is rekey.ErrConflict; a
// stale user, rekey.ErrVersionConflict.
func (s *Store) RedeemResetToken(ctx context.Context, t resets.Token, before, after rekey.User, audit rekey.AuditEntry) error {
	if err := checkPasswordUpdate(before, after); err != nil {
		return fmt.Errorf("dynamo: redeem reset token of %s: %w", before.ID, err)
	}
	if t.UserID != before.ID {
		return fmt.Errorf("dynamo: redeem reset token of %s: token is for user %q", before.ID, t.UserID)
	}
	var tx transaction
	exists := expression.AttributeExists(expression.Name("PK"))
	step, err := s.resetTxDelete(tokenPK(t.Hash), tokenSK, &exists)
	tx.add(step, err, rekey.ErrConflict)
	current := expression.Name("resetId").Equal(expression.Value(t.ResetID)).
		And(expression.Name("tokenHash").Equal(expression.Value(t.Hash)))
	step, err = s.resetTxDelete(resetPK(t.UserID), resetSK, &current)
	tx.add(step, err, rekey.ErrConflict)
	s.addUserVersionPut(&tx, before, after)
	s.addAudit(&tx, audit)
	if err := s.transact(ctx, &tx); err != nil {
		return fmt.Errorf("dynamo: redeem reset token of %s: %w", before.ID, err)
	}
	return nil
}

// checkPasswordUpdate guards the user writes of the reset flows, which never
// rename a user or change their email (so no claim moves).
func checkPasswordUpdate(before, after rekey.User) error {
	switch {
	case before.ID == "" || after.ID != before.ID:
		return fmt.Errorf("after.ID %q does not match before.ID %q", after.ID, before.ID)
	case after.Version != before.Version+1:
		return fmt.Errorf("after.Version %d does not follow before.Version %d", after.Version, before.Version)
	case after.Username != before.Username || after.Email != before.Email:
		return errors.New("a password reset may not change the username or email")
	}
	return nil
}

// addUserVersionPut adds the write of after under before's version, mapped
// exactly as UpdateUser maps it.
func (s *Store) addUserVersionPut(tx *transaction, before, after rekey.User) {
	step, err := s.txPut(newUserItem(after), expression.Name("version").Equal(expression.Value(before.Version)))
	tx.add(step, err, rekey.ErrVersionConflict)
}

// resetTxPut is a transaction step that writes item, on cond when it is not
// nil.
func (s *Store) resetTxPut(item any, cond *expression.ConditionBuilder) (types.TransactWriteItem, error) {
	if cond != nil {
		return s.txPut(item, *cond)
	}
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("encode item: %w", err)
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: av}}, nil
}

// resetTxDelete is a transaction step that deletes pk/sk, on cond when it
// is not nil; deleting a missing item unconditionally is no failure.
func (s *Store) resetTxDelete(pk, sk string, cond *expression.ConditionBuilder) (types.TransactWriteItem, error) {
	if cond != nil {
		return s.txDelete(pk, sk, *cond)
	}
	return types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.table), Key: itemKey(pk, sk)}}, nil
}

// resetTxUpdate is a transaction step that applies update to pk/sk on cond.
func (s *Store) resetTxUpdate(pk, sk string, update expression.UpdateBuilder, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	expr, err := expression.NewBuilder().WithUpdate(update).WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build update: %w", err)
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(s.table),
		Key:                       itemKey(pk, sk),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}
