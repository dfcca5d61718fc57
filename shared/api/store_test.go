package api

import (
	"context"
	"sync"

	"github.com/rekey/rekey/shared/memstore"
	"github.com/rekey/rekey/shared/rekey"
)

// testStore is the in-memory store, which has the methods auth.Store,
// auth's ThrottleStore, users.Store and SecretStore need so that handler
// tests run the real services, counting the Secret calls (the cursor key is
// to be fetched once).
type testStore struct {
	*memstore.Store
	mu      sync.Mutex
	secrets int
}

func (s *testStore) Secret(ctx context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	s.secrets++
	s.mu.Unlock()
	return s.Store.Secret(ctx, name)
}

// user returns the stored user with the given id (the zero user for none).
func (s *testStore) user(id string) rekey.User {
	u, _ := s.GetUser(context.Background(), id)
	return u
}

// auditFor counts the audit entries about target.
func (s *testStore) auditFor(target string) int {
	n := 0
	for _, e := range s.Audit() {
		if e.TargetID == target {
			n++
		}
	}
	return n
}

// fastHasher stands in for argon2id: "h:" + password.
type fastHasher struct{}

func (fastHasher) Hash(pw string) (string, error) { return "h:" + pw, nil }

func (fastHasher) Verify(encoded, pw string) (bool, bool, error) {
	return encoded != "" && encoded == "h:"+pw, false, nil
}

func (fastHasher) Burn(string) {}
