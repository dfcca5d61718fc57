package bulk

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// renewCounter is a chunk store that only counts lease renewals.
type renewCounter struct {
	chunkStore
	renewals atomic.Int32
}

func (s *renewCounter) RenewChunkLease(context.Context, string, int, string, time.Time) error {
	s.renewals.Add(1)
	return nil
}

// leaseRun is a chunk run of a worker with lease and cancelWait whose
// last lease-moving write was at written and whose last check of the task
// found it running at checked.
func leaseRun(store chunkStore, lease, cancelWait time.Duration, written, checked time.Time) *chunkRun {
	w := &Worker{cfg: Config{Lease: lease, CancelWait: cancelWait}, store: store, log: slog.New(slog.DiscardHandler), now: time.Now}
	r := &chunkRun{w: w, holder: "run"}
	r.leaseWrittenAt.Store(written.UnixNano())
	r.confirmLive(checked)
	return r
}

// TestRenewalDue: a renewal is due a third of the lease after the last
// call that moved the lease on (a chunk write moves it as a renewal
// does), or renewMargin (2 s, or half of CancelWait if less) before the
// window of sends that the last check of the task opened closes,
// whichever comes first. Worked out from the run's times alone, so the
// machine's load cannot change the answer.
func TestRenewalDue(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return at.Add(time.Duration(n) * time.Millisecond) }
	for _, tc := range []struct {
		name              string
		lease, cancelWait time.Duration
		written, checked  time.Time
		want              time.Time
	}{
		{"a third of the lease", 900 * time.Millisecond, 10 * time.Second, at, at, ms(300)},
		{"a later write moves it on", 900 * time.Millisecond, 10 * time.Second, ms(250), at, ms(550)},
		{"the window of sends closes first", time.Minute, 5 * time.Second, at, at, ms(3000)},
		{"a later check moves the window", time.Minute, 5 * time.Second, at, ms(1000), ms(4000)},
		{"a short window: half of it as margin", time.Minute, 2 * time.Second, at, at, ms(1000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := leaseRun(&renewCounter{}, tc.lease, tc.cancelWait, tc.written, tc.checked)
			if got := r.renewalDue(); !got.Equal(tc.want) {
				t.Errorf("renewalDue = %s after the start, want %s", got.Sub(at), tc.want.Sub(at))
			}
		})
	}
}

// TestLeaseNotRenewedBeforeDue: a run whose lease and window of sends are
// long from due makes no renewal (a busy machine can only delay one, so
// this cannot flake).
func TestLeaseNotRenewedBeforeDue(t *testing.T) {
	store := &renewCounter{}
	now := time.Now()
	r := leaseRun(store, time.Hour, time.Hour, now, now)
	r.renewLease(context.Background())
	time.Sleep(300 * time.Millisecond)
	r.stopRenewing()
	if n := store.renewals.Load(); n != 0 {
		t.Errorf("%d renewals with the next one due in 20 minutes, want 0", n)
	}
}

// TestLeaseRenewedWhenDue: once no write moves the lease on, the run
// renews it each time it is due, and each renewal moves it on.
func TestLeaseRenewedWhenDue(t *testing.T) {
	store := &renewCounter{}
	now := time.Now()
	r := leaseRun(store, 30*time.Millisecond, time.Hour, now, now)
	r.renewLease(context.Background())
	defer r.stopRenewing()
	for deadline := time.Now().Add(30 * time.Second); store.renewals.Load() < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d renewals in 30 s of a lease due every 10 ms, want at least 3", store.renewals.Load())
		}
	}
	if written := time.Unix(0, r.leaseWrittenAt.Load()); !written.After(now) {
		t.Errorf("the lease was last moved on at %s, the start; a renewal should move it on", written)
	}
}
