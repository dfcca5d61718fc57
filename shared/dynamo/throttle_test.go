package dynamo

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"
)

// reserve counts an attempt of key under a limit that allows any number.
func reserve(ctx context.Context, s *Store, key string, at time.Time, window time.Duration) (Throttle, error) {
	t, reserved, err := s.ReserveAttempt(ctx, key, at, AttemptLimit{Window: window, Max: 1000})
	if err == nil && !reserved {
		err = fmt.Errorf("attempt refused under an unlimited limit: %+v", t)
	}
	return t, err
}

func TestThrottle(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	const key, window = "ACCOUNT#ada", 15 * time.Minute

	if got, err := s.GetThrottle(ctx, key); err != nil || !cmp.Equal(Throttle{Key: key}, got) {
		t.Errorf("GetThrottle(%s) with no failures = %+v, %v; want the zero Throttle", key, got, err)
	}

	// Three failures within the window count up.
	for i, at := range []time.Time{t0, t0.Add(time.Minute), t0.Add(14 * time.Minute)} {
		got, err := reserve(ctx, s, key, at, window)
		if err != nil {
			t.Fatalf("ReserveAttempt(%s, %v) error: %v", key, at, err)
		}
		want := Throttle{Key: key, Failures: i + 1, FirstFailureAt: t0, LastFailureAt: at}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ReserveAttempt(%s, %v) mismatch (-want +got):\n%s", key, at, diff)
		}
	}
	clock.Set(t0.Add(14 * time.Minute))
	if got, err := s.GetThrottle(ctx, key); err != nil || got.Failures != 3 {
		t.Errorf("GetThrottle(%s) = %+v, %v; want 3 failures", key, got, err)
	}
	// After the window the counter reads as zero and the next failure
	// restarts it at 1.
	clock.Set(t0.Add(window))
	if got, err := s.GetThrottle(ctx, key); err != nil || !cmp.Equal(Throttle{Key: key}, got) {
		t.Errorf("GetThrottle(%s) after the window = %+v, %v; want the zero Throttle", key, got, err)
	}
	restart := t0.Add(window + time.Second)
	got, err := reserve(ctx, s, key, restart, window)
	if err != nil {
		t.Fatalf("ReserveAttempt(%s) after the window error: %v", key, err)
	}
	if diff := cmp.Diff(Throttle{Key: key, Failures: 1, FirstFailureAt: restart, LastFailureAt: restart}, got); diff != "" {
		t.Errorf("ReserveAttempt(%s) after the window mismatch (-want +got):\n%s", key, diff)
	}

	// A lock outlives the window and is reported until it ends.
	until := restart.Add(time.Hour)
	if err := s.LockThrottle(ctx, key, until); err != nil {
		t.Fatalf("LockThrottle(%s) error: %v", key, err)
	}
	var item throttleItem
	if err := s.getItem(ctx, throttlePrefix+key, throttleSK, &item); err != nil {
		t.Fatalf("read throttle item: %v", err)
	}
	if item.TTL < until.Unix() {
		t.Errorf("throttle ttl = %d, want at least the lock's end %d", item.TTL, until.Unix())
	}
	for _, test := range []struct {
		now  time.Time
		want Throttle
	}{
		{restart, Throttle{Key: key, Failures: 1, FirstFailureAt: restart, LastFailureAt: restart, LockedUntil: until}},
		{restart.Add(window), Throttle{Key: key, LockedUntil: until}},
		{until, Throttle{Key: key}},
	} {
		clock.Set(test.now)
		got, err := s.GetThrottle(ctx, key)
		if err != nil {
			t.Fatalf("GetThrottle(%s) at %v error: %v", key, test.now, err)
		}
		if diff := cmp.Diff(test.want, got); diff != "" {
			t.Errorf("GetThrottle(%s) at %v mismatch (-want +got):\n%s", key, test.now, diff)
		}
	}

	// While the lock is in force no attempt is counted, even after the
	// window has ended, and the counter is left as it was.
	late := restart.Add(2 * window)
	got, reserved, err := s.ReserveAttempt(ctx, key, late, AttemptLimit{Window: window, Max: 1000})
	if err != nil || reserved || !cmp.Equal(Throttle{Key: key, LockedUntil: until}, got) {
		t.Errorf("ReserveAttempt(%s) while locked = %+v, %v, %v; want refused, the lock reported", key, got, reserved, err)
	}
	var after throttleItem
	if err := s.getItem(ctx, throttlePrefix+key, throttleSK, &after); err != nil {
		t.Fatalf("read throttle item: %v", err)
	}
	if diff := cmp.Diff(item, after); diff != "" {
		t.Errorf("a refused attempt changed the counter (-before +after):\n%s", diff)
	}

	if err := s.ClearThrottle(ctx, key); err != nil {
		t.Fatalf("ClearThrottle(%s) error: %v", key, err)
	}
	clock.Set(late)
	if got, err := s.GetThrottle(ctx, key); err != nil || !cmp.Equal(Throttle{Key: key}, got) {
		t.Errorf("GetThrottle(%s) after clear = %+v, %v; want the zero Throttle", key, got, err)
	}

	// A lock on a key without failures creates the counter.
	if err := s.LockThrottle(ctx, "CLIENT#192.0.2.1", late.Add(time.Minute)); err != nil {
		t.Fatalf("LockThrottle(new key) error: %v", err)
	}
	if got, err := s.GetThrottle(ctx, "CLIENT#192.0.2.1"); err != nil || !got.LockedUntil.Equal(late.Add(time.Minute)) {
		t.Errorf("GetThrottle(new key) = %+v, %v; want locked until %v", got, err, late.Add(time.Minute))
	}
}

// TestThrottleRacingFirstFailures makes a competing request open the
// window between the two steps of a first failure (moto does not make
// concurrent updates atomic, so the race is staged rather than left to
// goroutines): the loser must count into the winner's window.
func TestThrottleRacingFirstFailures(t *testing.T) {
	ctx := context.Background()
	competitor, _ := newStore(t)
	const key = "CLIENT#198.51.100.7"
	db := &interleavingDB{DB: competitor.db}
	db.beforeUpdate = func(n int) {
		if n == 2 { // after "count into the open window" found none
			if _, err := reserve(ctx, competitor, key, t0.Add(time.Millisecond), time.Minute); err != nil {
				t.Errorf("competing ReserveAttempt() error: %v", err)
			}
		}
	}
	s := New(db, competitor.table, competitor.now)
	got, err := reserve(ctx, s, key, t0, time.Minute)
	if err != nil {
		t.Fatalf("ReserveAttempt() error: %v", err)
	}
	want := Throttle{Key: key, Failures: 2, FirstFailureAt: t0.Add(time.Millisecond), LastFailureAt: t0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReserveAttempt() racing a first failure mismatch (-want +got):\n%s", diff)
	}
}

// signInLimit is a limit like sign-in's: four free attempts, then a wait
// that doubles from 1 s after each, at most six in a window.
var signInLimit = AttemptLimit{Window: 15 * time.Minute, Max: 6, Wait: func(failures int) time.Duration {
	if failures < 4 {
		return 0
	}
	return time.Second << (failures - 4)
}}

func TestReserveAttemptFollowsTheLimit(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const key = "ACCOUNT#USER#ada"
	at := t0
	for _, test := range []struct {
		after    time.Duration // since the previous step
		reserved bool
		failures int // counted afterwards
	}{
		{0, true, 1}, {0, true, 2}, {0, true, 3}, {0, true, 4},
		{999 * time.Millisecond, false, 4}, // must wait 1 s after the 4th
		{time.Millisecond, true, 5},
		{time.Second, false, 5}, // must wait 2 s after the 5th
		{time.Second, true, 6},
		{time.Hour / 8, false, 6}, // the sixth is the last of the window
		{15 * time.Minute, true, 1},
	} {
		at = at.Add(test.after)
		got, reserved, err := s.ReserveAttempt(ctx, key, at, signInLimit)
		if err != nil || reserved != test.reserved || got.Failures != test.failures {
			t.Errorf("ReserveAttempt(%s) at +%v = %d failures, %v, %v; want %d, %v", key, at.Sub(t0), got.Failures, reserved, err, test.failures, test.reserved)
		}
	}

	// A lock refuses every attempt until it ends.
	if err := s.LockThrottle(ctx, key, at.Add(time.Minute)); err != nil {
		t.Fatalf("LockThrottle error: %v", err)
	}
	for _, test := range []struct {
		at       time.Time
		reserved bool
	}{{at, false}, {at.Add(59 * time.Second), false}, {at.Add(time.Minute), true}} {
		if got, reserved, err := s.ReserveAttempt(ctx, key, test.at, signInLimit); err != nil || reserved != test.reserved {
			t.Errorf("ReserveAttempt at +%v after a 1-minute lock = %+v, %v, %v; want reserved %v", test.at.Sub(at), got, reserved, err, test.reserved)
		}
	}

	if _, _, err := s.ReserveAttempt(ctx, key, at, AttemptLimit{Window: time.Minute}); err == nil {
		t.Errorf("ReserveAttempt with Max 0: no error")
	}
}

func TestReleaseAttempt(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	const key = "CLIENT#192.0.2.1"
	limit := AttemptLimit{Window: time.Minute, Max: 2}
	// Given back down to no attempts in an open window, and counted again.
	first, _, _ := s.ReserveAttempt(ctx, key, t0, limit)
	if err := s.ReleaseAttempt(ctx, key, first); err != nil {
		t.Fatalf("ReleaseAttempt error: %v", err)
	}
	first, reserved, err := s.ReserveAttempt(ctx, key, t0, limit)
	if err != nil || !reserved || first.Failures != 1 || !first.FirstFailureAt.Equal(t0) {
		t.Errorf("ReserveAttempt after releasing the only attempt = %+v, %v, %v; want the 1st attempt of the same window", first, reserved, err)
	}
	second, _, _ := s.ReserveAttempt(ctx, key, t0, limit)
	if err := s.ReleaseAttempt(ctx, key, second); err != nil {
		t.Fatalf("ReleaseAttempt error: %v", err)
	}
	if got, reserved, err := s.ReserveAttempt(ctx, key, t0, limit); err != nil || !reserved || got.Failures != 2 {
		t.Errorf("ReserveAttempt after a release = %+v, %v, %v; want the 2nd attempt reserved", got, reserved, err)
	}

	// An attempt of an ended window is not taken from the next one.
	later := t0.Add(time.Minute)
	if _, reserved, err := s.ReserveAttempt(ctx, key, later, limit); err != nil || !reserved {
		t.Fatalf("ReserveAttempt in a new window = %v, %v; want reserved", reserved, err)
	}
	if err := s.ReleaseAttempt(ctx, key, first); err != nil {
		t.Fatalf("ReleaseAttempt of an old window error: %v", err)
	}
	clock.Set(later)
	if got, err := s.GetThrottle(ctx, key); err != nil || got.Failures != 1 {
		t.Errorf("GetThrottle after releasing an old window's attempt = %+v, %v; want 1 failure", got, err)
	}
}

// serialDB runs one write at a time. DynamoDB applies the writes to one
// item one after another, so a conditional update is atomic; moto_server
// runs requests on threads and can interleave two updates of one item, so
// tests of parallel attempts serialise the writes as DynamoDB would. The
// callers still race each other between their requests.
type serialDB struct {
	DB
	mu sync.Mutex
}

func (d *serialDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.DB.UpdateItem(ctx, in, optFns...)
}

func TestReserveAttemptInParallel(t *testing.T) {
	ctx := context.Background()
	moto, _ := newStore(t)
	s := New(&serialDB{DB: moto.db}, moto.table, moto.now)
	const key, parallel = "ACCOUNT#USER#ada", 30
	var (
		wg       sync.WaitGroup
		reserved atomic.Int32
	)
	for range parallel {
		wg.Go(func() {
			_, ok, err := s.ReserveAttempt(ctx, key, t0, signInLimit)
			if err != nil {
				t.Errorf("ReserveAttempt error: %v", err)
			}
			if ok {
				reserved.Add(1)
			}
		})
	}
	wg.Wait()
	// All at once: the four free attempts, then the wait refuses the rest.
	if got := reserved.Load(); got != 4 {
		t.Errorf("%d parallel attempts: %d reserved, want 4", parallel, got)
	}
	if got, err := s.GetThrottle(ctx, key); err != nil || got.Failures != 4 {
		t.Errorf("GetThrottle after %d parallel attempts = %+v, %v; want 4 failures", parallel, got, err)
	}
}
