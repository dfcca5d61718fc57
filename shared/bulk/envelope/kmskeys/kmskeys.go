// Package kmskeys makes and opens envelope data keys under one AWS KMS
// key: each owner (a bulk task) gets its own data key, bound to it by the
// KMS encryption context, and only its sealed form is ever stored.
package kmskeys

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/rekey/rekey/shared/bulk/envelope"
)

// KMSAPI is the part of the KMS API that Keys uses; *kms.Client satisfies
// it.
type KMSAPI interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// maxCached bounds the open data keys Keys keeps, so that a warm worker
// opens each task's key once rather than once per chunk.
const maxCached = 64

// Keys makes and opens data keys under one KMS key.
type Keys struct {
	client KMSAPI
	keyID  string

	mu    sync.Mutex
	cache map[string]envelope.Key // by encryption context and sealed key
}

// New returns Keys under the KMS key keyID (an id, ARN or alias).
func New(client KMSAPI, keyID string) *Keys {
	return &Keys{client: client, keyID: keyID, cache: map[string]envelope.Key{}}
}

// encryptionContext binds a data key to its owner: KMS refuses to decrypt
// it for anything else, and CloudTrail records whose key was opened.
func encryptionContext(owner string) map[string]string {
	return map[string]string{"rekey:owner": owner}
}

// NewKey makes a data key for owner (such as a task id) and returns it open
// and sealed under the KMS key; only the sealed form may be stored.
func (k *Keys) NewKey(ctx context.Context, owner string) (envelope.Key, []byte, error) {
	out, err := k.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(k.keyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: encryptionContext(owner),
	})
	if err != nil {
		return envelope.Key{}, nil, fmt.Errorf("kmskeys: generate data key: %w", err)
	}
	key, err := envelope.NewKey(out.Plaintext)
	clear(out.Plaintext)
	if err != nil {
		return envelope.Key{}, nil, err
	}
	k.remember(owner, out.CiphertextBlob, key)
	return key, out.CiphertextBlob, nil
}

// OpenKey opens the data key of owner from its sealed form.
func (k *Keys) OpenKey(ctx context.Context, owner string, sealed []byte) (envelope.Key, error) {
	if key, ok := k.cached(owner, sealed); ok {
		return key, nil
	}
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    sealed,
		KeyId:             aws.String(k.keyID),
		EncryptionContext: encryptionContext(owner),
	})
	if err != nil {
		return envelope.Key{}, fmt.Errorf("kmskeys: decrypt data key: %w", err)
	}
	key, err := envelope.NewKey(out.Plaintext)
	clear(out.Plaintext)
	if err != nil {
		return envelope.Key{}, err
	}
	k.remember(owner, sealed, key)
	return key, nil
}

func (k *Keys) cached(owner string, sealed []byte) (envelope.Key, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok := k.cache[owner+"\x00"+string(sealed)]
	return key, ok
}

func (k *Keys) remember(owner string, sealed []byte, key envelope.Key) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.cache) >= maxCached {
		for name := range k.cache { // forget one at random
			delete(k.cache, name)
			break
		}
	}
	k.cache[owner+"\x00"+string(sealed)] = key
}
