package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/rekey/rekey/shared/rekey"
)

// Key prefix of throttle counters.
const (
	throttlePrefix = "THROTTLE#"
	throttleSK     = "THROTTLE"
)

// Throttle is the sign-in failure counter of one key (see rekey.Throttle).
type Throttle = rekey.Throttle

// throttleItem is a throttle as stored. windowEndsAt closes the counting
// window; ttl covers both the window and any lock.
type throttleItem struct {
	PK             string     `dynamodbav:"PK"`
	SK             string     `dynamodbav:"SK"`
	Key            string     `dynamodbav:"key"`
	Failures       int        `dynamodbav:"failures"`
	FirstFailureAt storedTime `dynamodbav:"firstFailureAt,omitempty"`
	LastFailureAt  storedTime `dynamodbav:"lastFailureAt,omitempty"`
	WindowEndsAt   storedTime `dynamodbav:"windowEndsAt,omitempty"`
	LockedUntil    storedTime `dynamodbav:"lockedUntil,omitempty"`
	TTL            int64      `dynamodbav:"ttl,omitempty"`
}

// throttle is the state of the counter as seen at now: failures of a window
// that has ended and a lock that has run out are not reported.
func (it throttleItem) throttle(key string, now time.Time) Throttle {
	t := Throttle{Key: key}
	if now.Before(it.WindowEndsAt.Time) {
		t.Failures = it.Failures
		t.FirstFailureAt = it.FirstFailureAt.Time
		t.LastFailureAt = it.LastFailureAt.Time
	}
	if locked := it.LockedUntil.Time; now.Before(locked) {
		t.LockedUntil = locked
	}
	return t
}

// ttlAfter is the ttl (epoch seconds) that keeps an item until t.
func ttlAfter(t time.Time) int64 { return t.Unix() + 1 }

// AttemptLimit says when one more attempt of a key may be counted (see
// rekey.AttemptLimit).
type AttemptLimit = rekey.AttemptLimit

// limitWait is limit.Wait(failures), 0 when Wait is nil.
func limitWait(l AttemptLimit, failures int) time.Duration {
	if l.Wait == nil {
		return 0
	}
	return l.Wait(failures)
}

// allows is the condition, on a counter whose window is open at at, that
// one more attempt is allowed: fewer than Max counted and the wait after
// the last one over. The wait is a function of the count, which a condition
// expression cannot compute, so the condition lists the counts 0..Max-1 in
// runs of equal wait: "failures <= 4 OR (failures = 5 AND lastFailureAt <=
// at-1s) OR …". A wait that grows up to a cap makes a
// handful of runs.
func allows(l AttemptLimit, at time.Time) expression.ConditionBuilder {
	failures, last := expression.Name("failures"), expression.Name("lastFailureAt")
	if l.Wait == nil {
		return failures.LessThan(expression.Value(l.Max))
	}
	var runs []expression.ConditionBuilder
	for lo := 0; lo < l.Max; {
		wait, hi := limitWait(l, lo), lo
		for hi+1 < l.Max && limitWait(l, hi+1) == wait {
			hi++
		}
		// Not BETWEEN: moto's never holds for a count of 0 (its truth test
		// takes the number 0 for a missing value).
		var run expression.ConditionBuilder
		switch {
		case lo == hi:
			run = failures.Equal(expression.Value(lo))
		case lo == 0:
			run = failures.LessThanEqual(expression.Value(hi))
		default:
			run = failures.GreaterThanEqual(expression.Value(lo)).And(failures.LessThanEqual(expression.Value(hi)))
		}
		if wait > 0 {
			run = run.And(last.LessThanEqual(expression.Value(formatTime(at.Add(-wait)))))
		}
		runs = append(runs, run)
		lo = hi + 1
	}
	if len(runs) == 1 {
		return runs[0]
	}
	return expression.Or(runs[0], runs[1], runs[2:]...)
}

// notLocked is the condition that no lock is in force at at.
func notLocked(at time.Time) expression.ConditionBuilder {
	locked := expression.Name("lockedUntil")
	return locked.AttributeNotExists().Or(locked.LessThanEqual(expression.Value(formatTime(at))))
}

// Private outcomes of conditional steps.
var (
	errTTLLater       = errors.New("ttl already later")
	errWindowReplaced = errors.New("window replaced")
)

// ReserveAttempt counts one attempt of key at time at before the attempt is
// made, if limit allows it, in one conditional write: parallel attempts are
// each counted, and no more of them get through than limit allows whatever
// their timing (SECURITY.md 5). reserved is false, with the counter as it
// stands, when the key is locked or limit refuses the attempt; the caller
// tells the client how long to wait from it. An attempt after the window has
// ended starts a new window with a count of 1. When reserved, the counter is
// returned as it is afterwards; the caller clears it (ClearThrottle) or gives
// the attempt back (ReleaseAttempt) when the attempt succeeds.
func (s *Store) ReserveAttempt(ctx context.Context, key string, at time.Time, limit AttemptLimit) (t Throttle, reserved bool, err error) {
	if limit.Window <= 0 || limit.Max <= 0 {
		return Throttle{}, false, fmt.Errorf("dynamo: reserve attempt: window %v and max %d must be positive", limit.Window, limit.Max)
	}
	t, reserved, err = s.reserveAttempt(ctx, key, at, limit)
	if err != nil {
		return Throttle{}, false, fmt.Errorf("dynamo: reserve attempt: %w", err)
	}
	return t, reserved, nil
}

// reserveRounds is how many times reserveAttempt tries before it answers
// rekey.ErrConflict.
const reserveRounds = 10

func (s *Store) reserveAttempt(ctx context.Context, key string, at time.Time, limit AttemptLimit) (Throttle, bool, error) {
	pk, atText := throttlePrefix+key, formatTime(at)
	windowEndsAt := expression.Name("windowEndsAt")
	open := windowEndsAt.GreaterThan(expression.Value(atText))
	closed := windowEndsAt.AttributeNotExists().Or(windowEndsAt.LessThanEqual(expression.Value(atText)))
	// Two racing first attempts both find no window; the loser of the
	// conditional start counts into the winner's window on the next round.
	// A round is lost only to another attempt that got through, so the
	// rounds bound a livelock rather than a wait: many sign-ins from one
	// address at once (a school's shared connection, or a test suite)
	// close and reopen the window — a successful sign-in gives its attempt
	// back — and three rounds were seen to run out under load.
	for range reserveRounds {
		count := expression.Add(expression.Name("failures"), expression.Value(1)).
			Set(expression.Name("lastFailureAt"), expression.Value(atText))
		item, current, err := s.updateOrCurrent(ctx, pk, count, open.And(notLocked(at)).And(allows(limit, at)))
		if err != nil {
			return Throttle{}, false, err
		}
		if item != nil {
			t, err := decodeThrottle(item, key, at)
			return t, err == nil, err
		}
		if refused, t, err := openOrLocked(current, key, at); err != nil || refused {
			return t, false, err // the window is open or the key locked: limit refused
		}

		end := at.Add(limit.Window)
		start := expression.Set(expression.Name("key"), expression.Value(key)).
			Set(expression.Name("failures"), expression.Value(1)).
			Set(expression.Name("firstFailureAt"), expression.Value(atText)).
			Set(expression.Name("lastFailureAt"), expression.Value(atText)).
			Set(windowEndsAt, expression.Value(formatTime(end))).
			Set(expression.Name("ttl"), expression.IfNotExists(expression.Name("ttl"), expression.Value(ttlAfter(end))))
		item, _, err = s.updateOrCurrent(ctx, pk, start, closed.And(notLocked(at)))
		if err != nil {
			return Throttle{}, false, err
		}
		if item == nil {
			continue // another attempt opened a window or locked the key: look again
		}
		if err := s.extendTTL(ctx, pk, throttleSK, item, ttlAfter(end)); err != nil {
			return Throttle{}, false, err
		}
		t, err := decodeThrottle(item, key, at)
		return t, err == nil, err
	}
	return Throttle{}, false, rekey.ErrConflict
}

// updateOrCurrent applies update to the item pk/THROTTLE under cond. It
// returns the item as it is afterwards, or, when cond fails, a nil item and
// the item as it stood (nil when there is none), read in the same request.
func (s *Store) updateOrCurrent(ctx context.Context, pk string, update expression.UpdateBuilder, cond expression.ConditionBuilder) (item, current map[string]types.AttributeValue, err error) {
	expr, err := expression.NewBuilder().WithUpdate(update).WithCondition(cond).Build()
	if err != nil {
		return nil, nil, fmt.Errorf("build update: %w", err)
	}
	resp, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 itemKey(pk, throttleSK),
		UpdateExpression:                    expr.Update(),
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return nil, failed.Item, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return resp.Attributes, nil, nil
}

// ReleaseAttempt gives back an attempt that ReserveAttempt counted and that
// succeeded, so that only failures count (e.g. per client, where many users
// share an address). t is the counter ReserveAttempt returned: an attempt of
// a window that has since been replaced is not taken from the new one.
func (s *Store) ReleaseAttempt(ctx context.Context, key string, t Throttle) error {
	failures := expression.Name("failures")
	sameWindow := expression.Name("firstFailureAt").Equal(expression.Value(formatTime(t.FirstFailureAt))).
		And(failures.GreaterThan(expression.Value(0)))
	_, err := s.updateItem(ctx, throttlePrefix+key, throttleSK,
		expression.Add(failures, expression.Value(-1)), &sameWindow, errWindowReplaced)
	if err != nil && !errors.Is(err, errWindowReplaced) {
		return fmt.Errorf("dynamo: release attempt: %w", err)
	}
	return nil
}

// openOrLocked reports whether item (nil for none) has a window open at at
// or a lock in force, with the counter it holds.
func openOrLocked(item map[string]types.AttributeValue, key string, at time.Time) (bool, Throttle, error) {
	var it throttleItem
	if err := unmarshalItem(item, &it); err != nil {
		return false, Throttle{}, err
	}
	t := it.throttle(key, at)
	open := at.Before(it.WindowEndsAt.Time)
	return open || !t.LockedUntil.IsZero(), t, nil
}

func decodeThrottle(item map[string]types.AttributeValue, key string, now time.Time) (Throttle, error) {
	var it throttleItem
	if err := unmarshalItem(item, &it); err != nil {
		return Throttle{}, err
	}
	return it.throttle(key, now), nil
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
	return it.throttle(key, s.now()), nil
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
