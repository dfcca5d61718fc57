package auth

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rekey/rekey/shared/memstore"
	"github.com/rekey/rekey/shared/rekey"
)

// testStore is the in-memory store, counting the session touches (the idle
// timeout's write budget).
type testStore struct {
	*memstore.Store
	mu      sync.Mutex
	touches int
}

func newTestStore(now func() time.Time) *testStore {
	return &testStore{Store: memstore.New(now)}
}

func (s *testStore) TouchSession(ctx context.Context, hash string, at time.Time) error {
	if err := s.Store.TouchSession(ctx, hash, at); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touches++
	return nil
}

// user returns the stored user with the given id (the zero user for none).
func (s *testStore) user(id string) rekey.User {
	u, _ := s.GetUser(context.Background(), id)
	return u
}

// auditActions lists the actions of the audit entries written so far.
func (s *testStore) auditActions() []string {
	var actions []string
	for _, e := range s.Audit() {
		actions = append(actions, e.Action)
	}
	return actions
}

// fakeHasher "hashes" as "v2:" + password; hashes starting "v1:" verify
// but ask for a rehash. It counts Burn calls.
type fakeHasher struct {
	mu    sync.Mutex
	burns int
}

func (h *fakeHasher) Hash(pw string) (string, error) { return "v2:" + pw, nil }

func (h *fakeHasher) Verify(encoded, pw string) (ok, needsRehash bool, err error) {
	switch {
	case encoded == "":
		return false, false, nil
	case encoded == "v2:"+pw:
		return true, false, nil
	case encoded == "v1:"+pw:
		return true, true, nil
	case strings.HasPrefix(encoded, "v1:"), strings.HasPrefix(encoded, "v2:"):
		return false, false, nil
	}
	return false, false, fmt.Errorf("fake: malformed hash")
}

func (h *fakeHasher) Burn(string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.burns++
}

// fakeNotifier records the users it was asked to notify.
type fakeNotifier struct{ notified []string }

func (n *fakeNotifier) PasswordChanged(_ context.Context, u rekey.User, _ string) error {
	n.notified = append(n.notified, u.ID)
	return nil
}

// callLog is the names of the calls made through a recorder, in order.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) record(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, name)
}

// take returns the calls recorded so far and forgets them.
func (l *callLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	calls := l.calls
	l.calls = nil
	return calls
}

// recorder passes every store and throttle call on to a store and records
// the name of each method called, in order.
type recorder struct {
	store     Store
	throttles ThrottleStore
	callLog
}

func (r *recorder) GetUser(ctx context.Context, id string) (rekey.User, error) {
	r.record("GetUser")
	return r.store.GetUser(ctx, id)
}

func (r *recorder) GetUserByUsername(ctx context.Context, username string) (rekey.User, error) {
	r.record("GetUserByUsername")
	return r.store.GetUserByUsername(ctx, username)
}

func (r *recorder) GetUserByEmail(ctx context.Context, email string) (rekey.User, error) {
	r.record("GetUserByEmail")
	return r.store.GetUserByEmail(ctx, email)
}

func (r *recorder) UpdateUser(ctx context.Context, before, after rekey.User, audit *rekey.AuditEntry) error {
	r.record("UpdateUser")
	return r.store.UpdateUser(ctx, before, after, audit)
}

func (r *recorder) PutAudit(ctx context.Context, e rekey.AuditEntry) error {
	r.record("PutAudit")
	return r.store.PutAudit(ctx, e)
}

func (r *recorder) GetDistrict(ctx context.Context, id string) (rekey.District, error) {
	r.record("GetDistrict")
	return r.store.GetDistrict(ctx, id)
}

func (r *recorder) GetSchool(ctx context.Context, id string) (rekey.School, error) {
	r.record("GetSchool")
	return r.store.GetSchool(ctx, id)
}

func (r *recorder) PutSession(ctx context.Context, s rekey.Session) error {
	r.record("PutSession")
	return r.store.PutSession(ctx, s)
}

func (r *recorder) GetSession(ctx context.Context, hash string) (rekey.Session, error) {
	r.record("GetSession")
	return r.store.GetSession(ctx, hash)
}

func (r *recorder) TouchSession(ctx context.Context, hash string, at time.Time) error {
	r.record("TouchSession")
	return r.store.TouchSession(ctx, hash, at)
}

func (r *recorder) DeleteSession(ctx context.Context, hash string) error {
	r.record("DeleteSession")
	return r.store.DeleteSession(ctx, hash)
}

func (r *recorder) ReserveAttempt(ctx context.Context, key string, at time.Time, limit AttemptLimit) (Throttle, bool, error) {
	r.record("ReserveAttempt")
	return r.throttles.ReserveAttempt(ctx, key, at, limit)
}

func (r *recorder) ReleaseAttempt(ctx context.Context, key string, t Throttle) error {
	r.record("ReleaseAttempt")
	return r.throttles.ReleaseAttempt(ctx, key, t)
}

func (r *recorder) LockThrottle(ctx context.Context, key string, until time.Time) error {
	r.record("LockThrottle")
	return r.throttles.LockThrottle(ctx, key, until)
}

func (r *recorder) ClearThrottle(ctx context.Context, key string) error {
	r.record("ClearThrottle")
	return r.throttles.ClearThrottle(ctx, key)
}
