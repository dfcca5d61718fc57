package memstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// throttle is a counter as stored: the DynamoDB store's item, whose window
// ends at windowEndsAt and whose lock (if any) at lockedUntil.
type throttle struct {
	failures                      int
	firstFailureAt, lastFailureAt time.Time
	windowEndsAt, lockedUntil     time.Time
}

// view is the counter as seen at now: failures of a window that has ended
// and a lock that has run out are not reported.
func (t throttle) view(key string, now time.Time) rekey.Throttle {
	v := rekey.Throttle{Key: key}
	if now.Before(t.windowEndsAt) {
		v.Failures, v.FirstFailureAt, v.LastFailureAt = t.failures, t.firstFailureAt, t.lastFailureAt
	}
	if now.Before(t.lockedUntil) {
		v.LockedUntil = t.lockedUntil
	}
	return v
}

// ReserveAttempt counts one attempt of key at time at, if limit allows it,
// in one atomic step (see auth.ThrottleStore): it refuses while the key is
// locked, starts a new window when the stored one has ended, and otherwise
// refuses once limit.Max are counted or before limit.Wait has passed since
// the last one.
func (s *Store) ReserveAttempt(_ context.Context, key string, at time.Time, limit rekey.AttemptLimit) (rekey.Throttle, bool, error) {
	if limit.Window <= 0 || limit.Max <= 0 {
		return rekey.Throttle{}, false, fmt.Errorf("memstore: reserve attempt: window %v and max %d must be positive", limit.Window, limit.Max)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.throttles[key]
	open, locked := at.Before(t.windowEndsAt), at.Before(t.lockedUntil)
	switch {
	case locked:
		return t.view(key, at), false, nil
	case !open:
		t.failures, t.firstFailureAt, t.lastFailureAt, t.windowEndsAt = 1, at, at, at.Add(limit.Window)
	case t.failures >= limit.Max || limit.Wait != nil && at.Before(t.lastFailureAt.Add(limit.Wait(t.failures))):
		return t.view(key, at), false, nil
	default:
		t.failures++
		t.lastFailureAt = at
	}
	s.throttles[key] = t
	return t.view(key, at), true, nil
}

// ReleaseAttempt gives back an attempt that ReserveAttempt counted, unless
// the window it was counted in (reserved's) has since been replaced.
func (s *Store) ReleaseAttempt(_ context.Context, key string, reserved rekey.Throttle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.throttles[key]
	if ok && t.failures > 0 && t.firstFailureAt.Equal(reserved.FirstFailureAt) {
		t.failures--
		s.throttles[key] = t
	}
	return nil
}

// GetThrottle returns the counter of key as it stands now; none is the
// zero Throttle with Key set.
func (s *Store) GetThrottle(_ context.Context, key string) (rekey.Throttle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttles[key].view(key, s.now()), nil
}

// LockThrottle locks key until the given time.
func (s *Store) LockThrottle(_ context.Context, key string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.throttles[key]
	t.lockedUntil = until
	s.throttles[key] = t
	return nil
}

// ClearThrottle forgets the failures and lock of key.
func (s *Store) ClearThrottle(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.throttles, key)
	return nil
}

// CountRequest counts one request of key at time at and returns how many
// the fixed window of length window (aligned to the Unix epoch) that
// contains at has counted, this one included.
func (s *Store) CountRequest(_ context.Context, key string, at time.Time, window time.Duration) (int, error) {
	if window <= 0 {
		return 0, fmt.Errorf("memstore: count request: window %v is not positive", window)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key + "#" + strconv.FormatInt(at.Truncate(window).Unix(), 10)
	s.counts[k]++
	return s.counts[k], nil
}
