package dynamo

import (
	"bytes"
	"context"
	"sync"
	"testing"
)

func TestSecret(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	first, err := s.Secret(ctx, "cursor")
	if err != nil {
		t.Fatalf("Secret(cursor) error: %v", err)
	}
	if len(first) != 32 || bytes.Equal(first, make([]byte, 32)) {
		t.Fatalf("Secret(cursor) = %x, want 32 random bytes", first)
	}
	again, err := s.Secret(ctx, "cursor")
	if err != nil || !bytes.Equal(first, again) {
		t.Errorf("Secret(cursor) again = %x, %v; want %x", again, err, first)
	}
	other, err := s.Secret(ctx, "other")
	if err != nil || bytes.Equal(first, other) {
		t.Errorf("Secret(other) = %x, %v; want a different key", other, err)
	}
}

func TestSecretConcurrentCreation(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const n = 8
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = s.Secret(ctx, "race") })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Secret(race) #%d error: %v", i, errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Errorf("Secret(race) #%d = %x, want the same key as #0 (%x)", i, keys[i], keys[0])
		}
	}
}

// TestSecretLosingCreator stages the race of TestSecretConcurrentCreation
// deterministically: another creator stores its key between this one's read
// and its conditional put.
func TestSecretLosingCreator(t *testing.T) {
	ctx := context.Background()
	competitor, _ := newStore(t)
	var winner []byte
	db := &interleavingDB{DB: competitor.db}
	db.beforePut = func(n int) {
		if n == 1 {
			var err error
			if winner, err = competitor.Secret(ctx, "race"); err != nil {
				t.Errorf("competing Secret(race) error: %v", err)
			}
		}
	}
	got, err := New(db, competitor.table, nil).Secret(ctx, "race")
	if err != nil {
		t.Fatalf("Secret(race) error: %v", err)
	}
	if len(winner) != 32 || !bytes.Equal(got, winner) {
		t.Errorf("Secret(race) = %x, want the winner's key %x", got, winner)
	}
}
