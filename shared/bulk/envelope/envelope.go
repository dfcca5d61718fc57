// Package envelope seals small secrets (a bulk task's default password, its
// generated passwords) with envelope encryption: each task gets its own
// 256-bit data key from AWS KMS, the secrets are sealed with that key
// (AES-256-GCM, bound to what they belong to), and only the data key
// encrypted under the KMS key is stored. Whoever reads the table without
// kms:Decrypt on that key learns nothing, and deleting the sealed data key
// erases every secret sealed with it. Making and opening data keys under
// the KMS key is package envelope/kmskeys; this one needs no AWS SDK.
package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Key is an open data key. It seals and opens secrets; it is never stored.
type Key struct {
	aead cipher.AEAD
}

// KeySize is the size of a data key: AES-256.
const KeySize = 32

// NewKey opens the plaintext data key plain (KeySize bytes), as the key
// service handed it out; the caller clears plain afterwards.
func NewKey(plain []byte) (Key, error) {
	if len(plain) != KeySize {
		return Key{}, fmt.Errorf("envelope: data key is %d bytes, want %d", len(plain), KeySize)
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
