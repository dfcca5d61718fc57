package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/rekey/rekey/shared/rekey"
)

// Key prefix of sessions.
const (
	sessionPrefix = "SESSION#"
	sessionSK     = "SESSION"
)

// sessionItem is a session, keyed by the SHA-256 of its token; DynamoDB
// deletes it some time after ttl, its absolute expiry.
type sessionItem struct {
	PK            string     `dynamodbav:"PK"`
	SK            string     `dynamodbav:"SK"`
	TokenHash     string     `dynamodbav:"tokenHash"`
	UserID        string     `dynamodbav:"userId"`
	Generation    int        `dynamodbav:"generation"`
	CSRFTokenHash string     `dynamodbav:"csrfTokenHash,omitempty"`
	CreatedAt     storedTime `dynamodbav:"createdAt,omitempty"`
	LastSeenAt    storedTime `dynamodbav:"lastSeenAt,omitempty"`
	ExpiresAt     storedTime `dynamodbav:"expiresAt,omitempty"`
	TTL           int64      `dynamodbav:"ttl"`
}

// PutSession stores a new session (or replaces one with the same token
// hash). ExpiresAt is required: it is also the item's ttl.
func (s *Store) PutSession(ctx context.Context, sess rekey.Session) error {
	if sess.TokenHash == "" || sess.ExpiresAt.IsZero() {
		return errors.New("dynamo: put session: token hash and expiry are required")
	}
	it := sessionItem{
		PK: sessionPrefix + sess.TokenHash, SK: sessionSK,
		TokenHash: sess.TokenHash, UserID: sess.UserID, Generation: sess.Generation,
		CSRFTokenHash: sess.CSRFTokenHash, CreatedAt: storedTime{sess.CreatedAt},
		LastSeenAt: storedTime{sess.LastSeenAt}, ExpiresAt: storedTime{sess.ExpiresAt},
		TTL: sess.ExpiresAt.Unix(),
	}
	// The token hash is a credential's fingerprint: errors name the user only.
	if err := s.putItem(ctx, it, nil, nil); err != nil {
		return fmt.Errorf("dynamo: put session of user %s: %w", sess.UserID, err)
	}
	return nil
}

// GetSession returns the session with the given token hash, or
// rekey.ErrNotFound when there is none or it has passed its absolute expiry
// (DynamoDB deletes expired items only lazily).
func (s *Store) GetSession(ctx context.Context, tokenHash string) (rekey.Session, error) {
	var it sessionItem
	if err := s.getItem(ctx, sessionPrefix+tokenHash, sessionSK, &it); err != nil {
		return rekey.Session{}, fmt.Errorf("dynamo: get session: %w", err)
	}
	sess := rekey.Session{
		TokenHash: it.TokenHash, UserID: it.UserID, Generation: it.Generation,
		CSRFTokenHash: it.CSRFTokenHash, CreatedAt: it.CreatedAt.Time,
		LastSeenAt: it.LastSeenAt.Time, ExpiresAt: it.ExpiresAt.Time,
	}
	if !s.now().Before(sess.ExpiresAt) {
		return rekey.Session{}, fmt.Errorf("dynamo: get session: expired: %w", rekey.ErrNotFound)
	}
	return sess, nil
}

// TouchSession records activity on a session (for the idle timeout). A
// missing session is rekey.ErrNotFound.
func (s *Store) TouchSession(ctx context.Context, tokenHash string, at time.Time) error {
	exists := expression.AttributeExists(expression.Name("PK"))
	update := expression.Set(expression.Name("lastSeenAt"), expression.Value(formatTime(at)))
	if _, err := s.updateItem(ctx, sessionPrefix+tokenHash, sessionSK, update, &exists, rekey.ErrNotFound); err != nil {
		return fmt.Errorf("dynamo: touch session: %w", err)
	}
	return nil
}

// DeleteSession ends a session; ending one that does not exist is no error.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	if err := s.deleteItem(ctx, sessionPrefix+tokenHash, sessionSK); err != nil {
		return fmt.Errorf("dynamo: delete session: %w", err)
	}
	return nil
}
