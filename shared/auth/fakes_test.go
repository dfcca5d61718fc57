package auth

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// fakeStore is an in-memory Store.
type fakeStore struct {
	mu        sync.Mutex
	users     map[string]rekey.User
	districts map[string]rekey.District
	schools   map[string]rekey.School
	sessions  map[string]rekey.Session
	audit     []rekey.AuditEntry
	touches   int
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		users:     map[string]rekey.User{},
		districts: map[string]rekey.District{},
		schools:   map[string]rekey.School{},
		sessions:  map[string]rekey.Session{},
	}
}

func (f *fakeStore) GetUser(_ context.Context, id string) (rekey.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok {
		return rekey.User{}, fmt.Errorf("fake: get user %s: %w", id, rekey.ErrNotFound)
	}
	return u, nil
}

func (f *fakeStore) GetUserByUsername(_ context.Context, username string) (rekey.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if strings.EqualFold(u.Username, username) {
			return u, nil
		}
	}
	return rekey.User{}, fmt.Errorf("fake: get user by username: %w", rekey.ErrNotFound)
}

func (f *fakeStore) GetUserByEmail(_ context.Context, email string) (rekey.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if u.Email != "" && strings.EqualFold(u.Email, email) {
			return u, nil
		}
	}
	return rekey.User{}, fmt.Errorf("fake: get user by email: %w", rekey.ErrNotFound)
}

func (f *fakeStore) UpdateUser(_ context.Context, before, after rekey.User, audit *rekey.AuditEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.users[before.ID].Version != before.Version || after.Version != before.Version+1 {
		return fmt.Errorf("fake: update user: %w", rekey.ErrVersionConflict)
	}
	f.users[after.ID] = after
	if audit != nil {
		f.audit = append(f.audit, *audit)
	}
	return nil
}

func (f *fakeStore) PutAudit(_ context.Context, e rekey.AuditEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audit = append(f.audit, e)
	return nil
}

func (f *fakeStore) GetDistrict(_ context.Context, id string) (rekey.District, error) {
	d, ok := f.districts[id]
	if !ok {
		return rekey.District{}, rekey.ErrNotFound
	}
	return d, nil
}

func (f *fakeStore) GetSchool(_ context.Context, id string) (rekey.School, error) {
	s, ok := f.schools[id]
	if !ok {
		return rekey.School{}, rekey.ErrNotFound
	}
	return s, nil
}

func (f *fakeStore) PutSession(_ context.Context, s rekey.Session) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions[s.TokenHash] = s
	return nil
}

func (f *fakeStore) GetSession(_ context.Context, hash string) (rekey.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[hash]
	if !ok {
		return rekey.Session{}, fmt.Errorf("fake: get session: %w", rekey.ErrNotFound)
	}
	return s, nil
}

func (f *fakeStore) TouchSession(_ context.Context, hash string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[hash]
	if !ok {
		return rekey.ErrNotFound
	}
	s.LastSeenAt = at
	f.sessions[hash] = s
	f.touches++
	return nil
}

func (f *fakeStore) DeleteSession(_ context.Context, hash string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sessions, hash)
	return nil
}

// auditActions lists the actions of the audit entries written so far.
func (f *fakeStore) auditActions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var actions []string
	for _, e := range f.audit {
		actions = append(actions, e.Action)
	}
	return actions
}

// fakeThrottles is an in-memory ThrottleStore with the fixed-window
// semantics the interface documents.
type fakeThrottles struct {
	mu sync.Mutex
	m  map[string]Throttle
}

func newFakeThrottles() *fakeThrottles { return &fakeThrottles{m: map[string]Throttle{}} }

func (f *fakeThrottles) ReserveAttempt(_ context.Context, key string, at time.Time, limit AttemptLimit) (Throttle, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.m[key]
	if t.LockedUntil.After(at) {
		return t, false, nil
	}
	if t.FirstFailureAt.IsZero() || at.Sub(t.FirstFailureAt) >= limit.Window {
		t = Throttle{Key: key, FirstFailureAt: at, LockedUntil: t.LockedUntil}
	} else if t.Failures >= limit.Max || limit.Wait != nil && at.Before(t.LastFailureAt.Add(limit.Wait(t.Failures))) {
		return t, false, nil
	}
	t.Failures++
	t.LastFailureAt = at
	f.m[key] = t
	return t, true, nil
}

func (f *fakeThrottles) ReleaseAttempt(_ context.Context, key string, reserved Throttle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.m[key]
	if t.Failures > 0 && t.FirstFailureAt.Equal(reserved.FirstFailureAt) {
		t.Failures--
		f.m[key] = t
	}
	return nil
}

func (f *fakeThrottles) LockThrottle(_ context.Context, key string, until time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.m[key]
	t.Key, t.LockedUntil = key, until
	f.m[key] = t
	return nil
}

func (f *fakeThrottles) ClearThrottle(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, key)
	return nil
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

// recorder passes every store and throttle call on to a fakeStore and a
// fakeThrottles and records the name of each method called, in order.
type recorder struct {
	store     *fakeStore
	throttles *fakeThrottles
	mu        sync.Mutex
	calls     []string
}

func (r *recorder) record(method string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, method)
}

// take returns the calls recorded so far and forgets them.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := r.calls
	r.calls = nil
	return calls
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
