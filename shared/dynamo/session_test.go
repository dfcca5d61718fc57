package dynamo

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
)

func TestSessions(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	sess := rekey.Session{
		TokenHash: "hash1", UserID: "u1", Generation: 2, CSRFTokenHash: "csrf1",
		CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(12 * time.Hour),
	}
	if err := s.PutSession(ctx, sess); err != nil {
		t.Fatalf("PutSession() error: %v", err)
	}
	got, err := s.GetSession(ctx, "hash1")
	if err != nil {
		t.Fatalf("GetSession(hash1) error: %v", err)
	}
	if diff := cmp.Diff(sess, got); diff != "" {
		t.Errorf("GetSession(hash1) mismatch (-want +got):\n%s", diff)
	}

	seen := t0.Add(20 * time.Minute)
	if err := s.TouchSession(ctx, "hash1", seen); err != nil {
		t.Fatalf("TouchSession(hash1) error: %v", err)
	}
	if got, err := s.GetSession(ctx, "hash1"); err != nil || !got.LastSeenAt.Equal(seen) {
		t.Errorf("GetSession(hash1) after touch = LastSeenAt %v, %v; want %v", got.LastSeenAt, err, seen)
	}
	if err := s.TouchSession(ctx, "missing", seen); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("TouchSession(missing) error = %v, want rekey.ErrNotFound", err)
	}
	if _, err := s.GetSession(ctx, "missing"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("GetSession(missing) error = %v, want rekey.ErrNotFound", err)
	}

	// Expiry is checked in code: moto (like DynamoDB, lazily) still holds the item.
	for _, test := range []struct {
		now     time.Time
		wantErr error
	}{
		{sess.ExpiresAt.Add(-time.Second), nil},
		{sess.ExpiresAt, rekey.ErrNotFound},
		{sess.ExpiresAt.Add(time.Hour), rekey.ErrNotFound},
	} {
		clock.Set(test.now)
		if _, err := s.GetSession(ctx, "hash1"); !errors.Is(err, test.wantErr) {
			t.Errorf("GetSession(hash1) at %v error = %v, want %v", test.now, err, test.wantErr)
		}
	}
	clock.Set(t0)

	for range 2 { // deleting is idempotent
		if err := s.DeleteSession(ctx, "hash1"); err != nil {
			t.Errorf("DeleteSession(hash1) error: %v", err)
		}
	}
	if _, err := s.GetSession(ctx, "hash1"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("GetSession(hash1) after delete error = %v, want rekey.ErrNotFound", err)
	}
	if err := s.PutSession(ctx, rekey.Session{TokenHash: "hash2", UserID: "u1"}); err == nil {
		t.Error("PutSession(without ExpiresAt) error = nil, want one")
	}
}
