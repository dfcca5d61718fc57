package kmskeys

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/shared/bulk/envelope"
)

func TestMain(m *testing.M) { mototest.Main(m) }

func newKeys(t *testing.T) *Keys {
	t.Helper()
	client := kms.NewFromConfig(mototest.Config(t))
	key, err := client.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String("envelope test")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return New(client, aws.ToString(key.KeyMetadata.KeyId))
}

func TestSealAndOpenThroughKMS(t *testing.T) {
	ctx := context.Background()
	keys := newKeys(t)
	key, sealedKey, err := keys.NewKey(ctx, "task-1")
	if err != nil {
		t.Fatalf("NewKey: %v", err)
	}
	secret := []byte("k7mpx-9tqhw-4dr2n-bz3ea")
	sealed := key.Seal(secret, "task-1/st1")
	if bytes.Contains(sealed, secret) {
		t.Fatal("the sealed value holds the secret")
	}

	// A fresh Keys (another worker) opens the data key through KMS.
	other := New(keys.client, keys.keyID)
	reopened, err := other.OpenKey(ctx, "task-1", sealedKey)
	if err != nil {
		t.Fatalf("OpenKey: %v", err)
	}
	if got, err := reopened.Open(sealed, "task-1/st1"); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("Open = %q, %v; want the secret", got, err)
	}

	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for name, try := range map[string]func() ([]byte, error){
		"bound to another user": func() ([]byte, error) { return reopened.Open(sealed, "task-1/st2") },
		"tampered":              func() ([]byte, error) { return reopened.Open(tampered, "task-1/st1") },
		"truncated":             func() ([]byte, error) { return reopened.Open(sealed[:10], "task-1/st1") },
	} {
		if _, err := try(); !errors.Is(err, envelope.ErrOpen) {
			t.Errorf("Open(%s) = %v, want ErrOpen", name, err)
		}
	}
	if _, err := New(keys.client, keys.keyID).OpenKey(ctx, "task-2", sealedKey); err == nil {
		t.Error("OpenKey for another owner succeeded, want KMS to refuse the encryption context")
	}
}
