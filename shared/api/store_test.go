package api

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rekey/rekey/shared/auth"
	"github.com/rekey/rekey/shared/rekey"
)

// memStore is an in-memory store with the methods auth.Store, auth's
// ThrottleStore, users.Store and SecretStore need, so that handler tests run
// the real services.
type memStore struct {
	mu        sync.Mutex
	users     map[string]rekey.User
	districts map[string]rekey.District
	schools   map[string]rekey.School
	sessions  map[string]rekey.Session
	throttles map[string]auth.Throttle
	audit     []rekey.AuditEntry
	secrets   int // Secret calls
}

func newMemStore() *memStore {
	return &memStore{
		users:     map[string]rekey.User{},
		districts: map[string]rekey.District{},
		schools:   map[string]rekey.School{},
		sessions:  map[string]rekey.Session{},
		throttles: map[string]auth.Throttle{},
	}
}

func notFound(what string) error { return fmt.Errorf("mem: %s: %w", what, rekey.ErrNotFound) }

func (m *memStore) GetUser(_ context.Context, id string) (rekey.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if u, ok := m.users[id]; ok {
		return u, nil
	}
	return rekey.User{}, notFound("user")
}

func (m *memStore) GetUserByUsername(_ context.Context, username string) (rekey.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.users {
		if u.Username == strings.ToLower(username) {
			return u, nil
		}
	}
	return rekey.User{}, notFound("user by username")
}

func (m *memStore) GetUserByEmail(_ context.Context, email string) (rekey.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.users {
		if u.Email != "" && u.Email == strings.ToLower(email) {
			return u, nil
		}
	}
	return rekey.User{}, notFound("user by email")
}

func (m *memStore) UpdateUser(_ context.Context, before, after rekey.User, audit *rekey.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.users[before.ID].Version != before.Version || after.Version != before.Version+1 {
		return fmt.Errorf("mem: update: %w", rekey.ErrVersionConflict)
	}
	for _, u := range m.users {
		if u.ID == after.ID {
			continue
		}
		if u.Username == after.Username {
			return fmt.Errorf("mem: update: %w", rekey.ErrUsernameTaken)
		}
		if after.Email != "" && u.Email == after.Email {
			return fmt.Errorf("mem: update: %w", rekey.ErrEmailTaken)
		}
	}
	m.users[after.ID] = after
	if audit != nil {
		m.audit = append(m.audit, *audit)
	}
	return nil
}

func (m *memStore) ListUsers(_ context.Context, f rekey.UserFilter) (rekey.UserPage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []rekey.User
	for _, u := range m.users {
		if (f.DistrictID == "" || u.DistrictID == f.DistrictID) && (f.SchoolID == "" || u.SchoolID == f.SchoolID) &&
			(f.Role == "" || u.Role == f.Role) && (f.Grade == "" || u.Grade == f.Grade) &&
			(f.Query == "" || strings.Contains(strings.ToLower(u.FullName()+" "+u.Username), strings.ToLower(f.Query))) {
			all = append(all, u)
		}
	}
	slices.SortFunc(all, func(a, b rekey.User) int { return strings.Compare(a.ID, b.ID) })
	start := 0
	if f.Cursor != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(f.Cursor, "at:"))
		if err != nil || n > len(all) {
			return rekey.UserPage{}, &rekey.Error{Code: rekey.ECodeInvalidCursor, Message: "bad cursor"}
		}
		start = n
	}
	end := min(start+f.Limit, len(all))
	page := rekey.UserPage{Items: all[start:end]}
	if end < len(all) {
		page.Next = "at:" + strconv.Itoa(end)
	}
	return page, nil
}

func (m *memStore) PutAudit(_ context.Context, e rekey.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, e)
	return nil
}

func (m *memStore) ListAudit(_ context.Context, targetID string, limit int, cursor string) (rekey.AuditPage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var items []rekey.AuditEntry
	for _, e := range slices.Backward(m.audit) {
		if e.TargetID == targetID {
			items = append(items, e)
		}
	}
	start, _ := strconv.Atoi(cursor)
	end := min(start+limit, len(items))
	page := rekey.AuditPage{Items: items[start:end]}
	if end < len(items) {
		page.Next = strconv.Itoa(end)
	}
	return page, nil
}

// auditFor counts the audit entries about target.
func (m *memStore) auditFor(target string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, e := range m.audit {
		if e.TargetID == target {
			n++
		}
	}
	return n
}

func (m *memStore) GetDistrict(_ context.Context, id string) (rekey.District, error) {
	if d, ok := m.districts[id]; ok {
		return d, nil
	}
	return rekey.District{}, notFound("district")
}

func (m *memStore) GetSchool(_ context.Context, id string) (rekey.School, error) {
	if s, ok := m.schools[id]; ok {
		return s, nil
	}
	return rekey.School{}, notFound("school")
}

func (m *memStore) PutSession(_ context.Context, s rekey.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.TokenHash] = s
	return nil
}

func (m *memStore) GetSession(_ context.Context, hash string) (rekey.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[hash]; ok {
		return s, nil
	}
	return rekey.Session{}, notFound("session")
}

func (m *memStore) TouchSession(_ context.Context, hash string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sessions[hash]
	s.LastSeenAt = at
	m.sessions[hash] = s
	return nil
}

func (m *memStore) DeleteSession(_ context.Context, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, hash)
	return nil
}

func (m *memStore) ReserveAttempt(_ context.Context, key string, at time.Time, limit auth.AttemptLimit) (auth.Throttle, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.throttles[key]
	if t.LockedUntil.After(at) {
		return t, false, nil
	}
	if t.FirstFailureAt.IsZero() || at.Sub(t.FirstFailureAt) >= limit.Window {
		t = auth.Throttle{Key: key, FirstFailureAt: at, LockedUntil: t.LockedUntil}
	} else if t.Failures >= limit.Max || limit.Wait != nil && at.Before(t.LastFailureAt.Add(limit.Wait(t.Failures))) {
		return t, false, nil
	}
	t.Failures++
	t.LastFailureAt = at
	m.throttles[key] = t
	return t, true, nil
}

func (m *memStore) ReleaseAttempt(_ context.Context, key string, reserved auth.Throttle) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.throttles[key]
	if t.Failures > 0 && t.FirstFailureAt.Equal(reserved.FirstFailureAt) {
		t.Failures--
		m.throttles[key] = t
	}
	return nil
}

func (m *memStore) LockThrottle(_ context.Context, key string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.throttles[key]
	t.Key, t.LockedUntil = key, until
	m.throttles[key] = t
	return nil
}

func (m *memStore) ClearThrottle(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.throttles, key)
	return nil
}

func (m *memStore) Secret(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets++
	if name != "cursor" {
		return nil, notFound("secret")
	}
	return []byte("0123456789abcdef0123456789abcdef"), nil
}

// fastHasher stands in for argon2id: "h:" + password.
type fastHasher struct{}

func (fastHasher) Hash(pw string) (string, error) { return "h:" + pw, nil }

func (fastHasher) Verify(encoded, pw string) (bool, bool, error) {
	return encoded != "" && encoded == "h:"+pw, false, nil
}

func (fastHasher) Burn(string) {}

func (m *memStore) ListSchools(_ context.Context, districtID string) ([]rekey.School, error) {
	var out []rekey.School
	for _, s := range m.schools {
		if s.DistrictID == districtID {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b rekey.School) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
