package dynamo

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestThrottle(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	const key, window = "ACCOUNT#ada", 15 * time.Minute

	if got, err := s.GetThrottle(ctx, key); err != nil || !cmp.Equal(Throttle{Key: key}, got) {
		t.Errorf("GetThrottle(%s) with no failures = %+v, %v; want the zero Throttle", key, got, err)
	}

	// Three failures within the window count up.
	for i, at := range []time.Time{t0, t0.Add(time.Minute), t0.Add(14 * time.Minute)} {
		got, err := s.RecordFailure(ctx, key, at, window)
		if err != nil {
			t.Fatalf("RecordFailure(%s, %v) error: %v", key, at, err)
		}
		want := Throttle{Key: key, Failures: i + 1, FirstFailureAt: t0, LastFailureAt: at}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("RecordFailure(%s, %v) mismatch (-want +got):\n%s", key, at, diff)
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
	got, err := s.RecordFailure(ctx, key, restart, window)
	if err != nil {
		t.Fatalf("RecordFailure(%s) after the window error: %v", key, err)
	}
	if diff := cmp.Diff(Throttle{Key: key, Failures: 1, FirstFailureAt: restart, LastFailureAt: restart}, got); diff != "" {
		t.Errorf("RecordFailure(%s) after the window mismatch (-want +got):\n%s", key, diff)
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

	// A new window after a lock keeps the lock's longer ttl.
	late := restart.Add(2 * window)
	if _, err := s.RecordFailure(ctx, key, late, window); err != nil {
		t.Fatalf("RecordFailure(%s) error: %v", key, err)
	}
	if err := s.getItem(ctx, throttlePrefix+key, throttleSK, &item); err != nil {
		t.Fatalf("read throttle item: %v", err)
	}
	if item.TTL < until.Unix() {
		t.Errorf("throttle ttl after a new window = %d, want at least the lock's end %d", item.TTL, until.Unix())
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
			if _, err := competitor.RecordFailure(ctx, key, t0.Add(time.Millisecond), time.Minute); err != nil {
				t.Errorf("competing RecordFailure() error: %v", err)
			}
		}
	}
	s := New(db, competitor.table, competitor.now)
	got, err := s.RecordFailure(ctx, key, t0, time.Minute)
	if err != nil {
		t.Fatalf("RecordFailure() error: %v", err)
	}
	want := Throttle{Key: key, Failures: 2, FirstFailureAt: t0.Add(time.Millisecond), LastFailureAt: t0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RecordFailure() racing a first failure mismatch (-want +got):\n%s", diff)
	}
}
