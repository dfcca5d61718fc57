package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/rekey/rekey/shared/rekey"
)

// Key prefix of throttle counters.
const (
	throttlePrefix = "THROTTLE#"
	throttleSK     = "THROTTLE"
)

// Throttle is the sign-in failure counter of one key, e.g.
// "ACCOUNT#<login>" or "CLIENT#<ip>". Failures counts the failures of the
// current window, which started at FirstFailureAt; LockedUntil is set while
// a lock is in force. The zero value (with Key set) means "no failures".
type Throttle struct {
	Key            string
	Failures       int
	FirstFailureAt time.Time
	LastFailureAt  time.Time
	LockedUntil    time.Time
}

// throttleItem is a throttle as stored. windowEndsAt closes the counting
// window; ttl covers both the window and any lock.
type throttleItem struct {
	PK             string `dynamodbav:"PK"`
	SK             string `dynamodbav:"SK"`
	Key            string `dynamodbav:"key"`
	Failures       int    `dynamodbav:"failures"`
	FirstFailureAt string `dynamodbav:"firstFailureAt,omitempty"`
	LastFailureAt  string `dynamodbav:"lastFailureAt,omitempty"`
	WindowEndsAt   string `dynamodbav:"windowEndsAt,omitempty"`
	LockedUntil    string `dynamodbav:"lockedUntil,omitempty"`
	TTL            int64  `dynamodbav:"ttl,omitempty"`
}

// throttle is the state of the counter as seen at now: failures of a window
// that has ended and a lock that has run out are not reported.
func (it throttleItem) throttle(key string, now time.Time) (Throttle, error) {
	var p timeParser
	t := Throttle{Key: key}
	if now.Before(p.parse("windowEndsAt", it.WindowEndsAt)) {
		t.Failures = it.Failures
		t.FirstFailureAt = p.parse("firstFailureAt", it.FirstFailureAt)
		t.LastFailureAt = p.parse("lastFailureAt", it.LastFailureAt)
	}
	if locked := p.parse("lockedUntil", it.LockedUntil); now.Before(locked) {
		t.LockedUntil = locked
	}
	return t, p.err
}

// ttlAfter is the ttl (epoch seconds) that keeps an item until t.
func ttlAfter(t time.Time) int64 { return t.Unix() + 1 }

// Private outcomes of the conditional steps of RecordFailure.
var (
	errWindowClosed = errors.New("no open window")
	errWindowOpen   = errors.New("window already open")
	errTTLLater     = errors.New("ttl already later")
)

// RecordFailure counts one failure at time at. Failures are counted in a
// window that opens at the first failure and lasts window; a failure after
// the window has ended starts a new window with a count of 1. It returns the
// counter as it is afterwards.
func (s *Store) RecordFailure(ctx context.Context, key string, at time.Time, window time.Duration) (Throttle, error) {
	if window <= 0 {
		return Throttle{}, fmt.Errorf("dynamo: record failure: window %v is not positive", window)
	}
	t, err := s.recordFailure(ctx, key, at, window)
	if err != nil {
		return Throttle{}, fmt.Errorf("dynamo: record failure: %w", err)
	}
	return t, nil
}

func (s *Store) recordFailure(ctx context.Context, key string, at time.Time, window time.Duration) (Throttle, error) {
	pk, atText := throttlePrefix+key, formatTime(at)
	windowEndsAt := expression.Name("windowEndsAt")
	// Two racing first failures both find no window; the loser of the
	// conditional start counts into the winner's window on the next round.
	for range 3 {
		open := windowEndsAt.GreaterThan(expression.Value(atText))
		count := expression.Add(expression.Name("failures"), expression.Value(1)).
			Set(expression.Name("lastFailureAt"), expression.Value(atText))
		item, err := s.updateItem(ctx, pk, throttleSK, count, &open, errWindowClosed)
		if err == nil {
			return decodeThrottle(item, key, at)
		}
		if !errors.Is(err, errWindowClosed) {
			return Throttle{}, err
		}

		end := at.Add(window)
		closed := windowEndsAt.AttributeNotExists().Or(windowEndsAt.LessThanEqual(expression.Value(atText)))
		start := expression.Set(expression.Name("key"), expression.Value(key)).
			Set(expression.Name("failures"), expression.Value(1)).
			Set(expression.Name("firstFailureAt"), expression.Value(atText)).
			Set(expression.Name("lastFailureAt"), expression.Value(atText)).
			Set(windowEndsAt, expression.Value(formatTime(end))).
			Set(expression.Name("ttl"), expression.IfNotExists(expression.Name("ttl"), expression.Value(ttlAfter(end))))
		item, err = s.updateItem(ctx, pk, throttleSK, start, &closed, errWindowOpen)
		if errors.Is(err, errWindowOpen) {
			continue
		}
		if err != nil {
			return Throttle{}, err
		}
		if err := s.extendTTL(ctx, pk, throttleSK, item, ttlAfter(end)); err != nil {
			return Throttle{}, err
		}
		return decodeThrottle(item, key, at)
	}
	return Throttle{}, rekey.ErrConflict
}

func decodeThrottle(item map[string]types.AttributeValue, key string, now time.Time) (Throttle, error) {
	var it throttleItem
	if err := unmarshalItem(item, &it); err != nil {
		return Throttle{}, err
	}
	return it.throttle(key, now)
}

// extendTTL raises the ttl of item (as returned by an update) to at least
// ttl; a ttl that a concurrent writer already raised further is kept.
func (s *Store) extendTTL(ctx context.Context, pk, sk string, item map[string]types.AttributeValue, ttl int64) error {
	var it struct {
		TTL int64 `dynamodbav:"ttl"`
	}
	if err := unmarshalItem(item, &it); err != nil {
		return err
	}
	if it.TTL >= ttl {
		return nil
	}
	name := expression.Name("ttl")
	lower := expression.Name("PK").AttributeExists().And(name.AttributeNotExists().Or(name.LessThan(expression.Value(ttl))))
	_, err := s.updateItem(ctx, pk, sk, expression.Set(name, expression.Value(ttl)), &lower, errTTLLater)
	if errors.Is(err, errTTLLater) {
		return nil
	}
	return err
}

// GetThrottle returns the counter of key as it stands now. No counter, or
// one whose window and lock have ended, is the zero Throttle with Key set.
func (s *Store) GetThrottle(ctx context.Context, key string) (Throttle, error) {
	var it throttleItem
	err := s.getItem(ctx, throttlePrefix+key, throttleSK, &it)
	if errors.Is(err, rekey.ErrNotFound) {
		return Throttle{Key: key}, nil
	}
	if err != nil {
		return Throttle{}, fmt.Errorf("dynamo: get throttle: %w", err)
	}
	t, err := it.throttle(key, s.now())
	if err != nil {
		return Throttle{}, fmt.Errorf("dynamo: get throttle: %w", err)
	}
	return t, nil
}

// LockThrottle locks key until the given time, keeping the counter item at
// least that long.
func (s *Store) LockThrottle(ctx context.Context, key string, until time.Time) error {
	pk, ttl := throttlePrefix+key, ttlAfter(until)
	lock := expression.Set(expression.Name("key"), expression.Value(key)).
		Set(expression.Name("lockedUntil"), expression.Value(formatTime(until))).
		Set(expression.Name("ttl"), expression.IfNotExists(expression.Name("ttl"), expression.Value(ttl)))
	item, err := s.updateItem(ctx, pk, throttleSK, lock, nil, nil)
	if err == nil {
		err = s.extendTTL(ctx, pk, throttleSK, item, ttl)
	}
	if err != nil {
		return fmt.Errorf("dynamo: lock throttle: %w", err)
	}
	return nil
}

// ClearThrottle forgets the failures and lock of key (after a successful
// sign-in, or an admin's unlock).
func (s *Store) ClearThrottle(ctx context.Context, key string) error {
	if err := s.deleteItem(ctx, throttlePrefix+key, throttleSK); err != nil {
		return fmt.Errorf("dynamo: clear throttle: %w", err)
	}
	return nil
}
