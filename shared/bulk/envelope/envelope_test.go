package envelope

import (
	"bytes"
	"errors"
	"testing"
)

func TestNewKeyWantsAnAES256Key(t *testing.T) {
	for _, size := range []int{0, 16, 31, 33} {
		if _, err := NewKey(make([]byte, size)); err == nil {
			t.Errorf("NewKey(%d bytes) succeeded, want an error", size)
		}
	}
	if _, err := NewKey(make([]byte, KeySize)); err != nil {
		t.Errorf("NewKey(%d bytes) = %v, want a key", KeySize, err)
	}
}

func TestSealAndOpen(t *testing.T) {
	key, err := NewKey(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewKey(bytes.Repeat([]byte{8}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("k7mpx-9tqhw-4dr2n-bz3ea")
	sealed := key.Seal(secret, "task-1/st1")
	if bytes.Contains(sealed, secret) {
		t.Fatal("the sealed value holds the secret")
	}
	if again := key.Seal(secret, "task-1/st1"); bytes.Equal(again, sealed) {
		t.Error("sealing twice gave the same bytes, want a fresh nonce each time")
	}
	if got, err := key.Open(sealed, "task-1/st1"); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("Open = %q, %v; want the secret", got, err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for _, test := range []struct {
		name    string
		key     Key
		sealed  []byte
		boundTo string
	}{
		{"bound to another user", key, sealed, "task-1/st2"},
		{"another key", other, sealed, "task-1/st1"},
		{"tampered", key, tampered, "task-1/st1"},
		{"truncated", key, sealed[:10], "task-1/st1"},
		{"empty", key, nil, "task-1/st1"},
	} {
		if got, err := test.key.Open(test.sealed, test.boundTo); !errors.Is(err, ErrOpen) || got != nil {
			t.Errorf("Open(%s) = %q, %v; want ErrOpen", test.name, got, err)
		}
	}
}
