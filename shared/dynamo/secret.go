package dynamo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/rekey/rekey/shared/rekey"
)

// Key of application secrets.
const (
	configPK     = "CONFIG"
	secretPrefix = "SECRET#"
	secretSize   = 32
)

type secretItem struct {
	PK    string `dynamodbav:"PK"`
	SK    string `dynamodbav:"SK"`
	Value []byte `dynamodbav:"value"`
}

// errSecretExists reports that another caller created the secret first.
var errSecretExists = errors.New("secret already exists")

// Secret returns the named 32-byte random key (e.g. for signing pagination
// cursors), creating it on first use. Concurrent first uses agree: the
// creation is a conditional put, and a loser reads back the winner's key.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	key, err := s.secret(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("dynamo: secret %s: %w", name, err)
	}
	return key, nil
}

func (s *Store) secret(ctx context.Context, name string) ([]byte, error) {
	sk := secretPrefix + name
	var it secretItem
	err := s.getItem(ctx, configPK, sk, &it)
	if errors.Is(err, rekey.ErrNotFound) {
		it = secretItem{PK: configPK, SK: sk, Value: make([]byte, secretSize)}
		_, _ = rand.Read(it.Value) // never fails (crypto/rand)
		absent := expression.AttributeNotExists(expression.Name("PK"))
		err = s.putItem(ctx, it, &absent, errSecretExists)
		if errors.Is(err, errSecretExists) {
			err = s.getItem(ctx, configPK, sk, &it)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(it.Value) != secretSize {
		return nil, fmt.Errorf("stored key has %d bytes, want %d", len(it.Value), secretSize)
	}
	return it.Value, nil
}
