// Package envelope seals small secrets (a bulk task's default password, its
// generated passwords) with envelope encryption: each task gets its own
// 256-bit data key from AWS KMS, the secrets are sealed with that key
// (AES-256-GCM, bound to what they belong to), and only the data key
// encrypted under the KMS key is stored. Whoever reads the table without
// kms:Decrypt on that key learns nothing, and deleting the sealed data key
// erases every secret sealed with it.
package envelope

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMSAPI is the part of the KMS API that Keys uses; *kms.Client satisfies
// it.
type KMSAPI interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Key is an open data key. It seals and opens secrets; it is never stored.
type Key struct {
	aead cipher.AEAD
}

// keySize is the size of a data key: AES-256.
const keySize = 32

func newKey(plain []byte) (Key, error) {
	if len(plain) != keySize {
		return Key{}, fmt.Errorf("envelope: data key is %d bytes, want %d", len(plain), keySize)
	}
	block, err := aes.NewCipher(plain)
	if err != nil {
		return Key{}, fmt.Errorf("envelope: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, fmt.Errorf("envelope: %w", err)
	}
	return Key{aead: aead}, nil
}

// ErrOpen is the answer to a sealed value that does not open: tampered,
// sealed with another key, or bound to something else.
var ErrOpen = errors.New("envelope: sealed value does not open")

// Seal encrypts plaintext, binding it to boundTo (such as "<task>/<user>"),
// which Open must be given again. The result is nonce || ciphertext.
func (k Key) Seal(plaintext []byte, boundTo string) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	rand.Read(nonce) // never returns an error (crypto/rand, Go 1.24+)
	return k.aead.Seal(nonce, nonce, plaintext, []byte(boundTo))
}

// Open decrypts what Seal made with the same key and boundTo.
func (k Key) Open(sealed []byte, boundTo string) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(boundTo))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// maxCached bounds the open data keys Keys keeps, so that a warm worker
// opens each task's key once rather than once per chunk.
const maxCached = 64

// Keys makes and opens data keys under one KMS key.
type Keys struct {
	client KMSAPI
	keyID  string

	mu    sync.Mutex
	cache map[string]Key // by encryption context and sealed key
}

// NewKeys returns Keys under the KMS key keyID (an id, ARN or alias).
func NewKeys(client KMSAPI, keyID string) *Keys {
	return &Keys{client: client, keyID: keyID, cache: map[string]Key{}}
}

// encryptionContext binds a data key to its owner: KMS refuses to decrypt
// it for anything else, and CloudTrail records whose key was opened.
func encryptionContext(owner string) map[string]string {
	return map[string]string{"rekey:owner": owner}
}

// NewKey makes a data key for owner (such as a task id) and returns it open
// and sealed under the KMS key; only the sealed form may be stored.
func (k *Keys) NewKey(ctx context.Context, owner string) (Key, []byte, error) {
	out, err := k.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(k.keyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: encryptionContext(owner),
	})
	if err != nil {
		return Key{}, nil, fmt.Errorf("envelope: generate data key: %w", err)
	}
	key, err := newKey(out.Plaintext)
	clear(out.Plaintext)
	if err != nil {
		return Key{}, nil, err
	}
	k.remember(owner, out.CiphertextBlob, key)
	return key, out.CiphertextBlob, nil
}

// OpenKey opens the data key of owner from its sealed form.
func (k *Keys) OpenKey(ctx context.Context, owner string, sealed []byte) (Key, error) {
	if key, ok := k.cached(owner, sealed); ok {
		return key, nil
	}
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    sealed,
		KeyId:             aws.String(k.keyID),
		EncryptionContext: encryptionContext(owner),
	})
	if err != nil {
		return Key{}, fmt.Errorf("envelope: decrypt data key: %w", err)
	}
	key, err := newKey(out.Plaintext)
	clear(out.Plaintext)
	if err != nil {
		return Key{}, err
	}
	k.remember(owner, sealed, key)
	return key, nil
}

func (k *Keys) cached(owner string, sealed []byte) (Key, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok := k.cache[owner+"\x00"+string(sealed)]
	return key, ok
}

func (k *Keys) remember(owner string, sealed []byte, key Key) {
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
