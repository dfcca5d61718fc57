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

// TestLeaseRenewedOnlyWithoutWrites: a run whose chunk writes move the
// lease on and find the task running often enough makes no renewal of its
// own; once the writes stop, it renews every interval again.
func TestLeaseRenewedOnlyWithoutWrites(t *testing.T) {
	store := &renewCounter{}
	w := &Worker{cfg: Config{Lease: 900 * time.Millisecond, CancelWait: 10 * time.Second}, store: store, log: slog.New(slog.DiscardHandler), now: time.Now}
	r := &chunkRun{w: w, holder: "run"}
	written := func() { // what a successful chunk write that checks the task records
		now := time.Now()
		r.leaseWrittenAt.Store(now.UnixNano())
		r.confirmLive(now)
	}
	written()
	r.renewLease(context.Background())
	defer r.stopRenewing()
	// Writes every 50 ms for a second (the interval is 300 ms).
	for range 20 {
		time.Sleep(50 * time.Millisecond)
		written()
	}
	if n := store.renewals.Load(); n != 0 {
		t.Errorf("%d renewals while writes moved the lease on every 50 ms, want 0", n)
	}
	// No writes for a second: renewals every 300 ms.
	time.Sleep(time.Second)
	if n := store.renewals.Load(); n < 2 {
		t.Errorf("%d renewals in a second without writes, want at least 2", n)
	}
}

// TestLeaseRenewedBeforeTheWindowOfSendsCloses: with a lease that needs
// no renewal yet, a run renews its check of the task 2 s before the
// window of sends the last check opened (CancelWait long) closes, not
// earlier.
func TestLeaseRenewedBeforeTheWindowOfSendsCloses(t *testing.T) {
	store := &renewCounter{}
	w := &Worker{cfg: Config{Lease: time.Minute, CancelWait: 5 * time.Second}, store: store, log: slog.New(slog.DiscardHandler), now: time.Now}
	r := &chunkRun{w: w, holder: "run"}
	now := time.Now()
	r.leaseWrittenAt.Store(now.UnixNano())
	r.confirmLive(now)
	r.renewLease(context.Background())
	defer r.stopRenewing()
	time.Sleep(2700*time.Millisecond - time.Since(now))
	if n := store.renewals.Load(); n != 0 {
		t.Errorf("%d renewals 2.7 s into a 5 s window, want 0 (due at 3 s)", n)
	}
	time.Sleep(3500*time.Millisecond - time.Since(now))
	if n := store.renewals.Load(); n != 1 {
		t.Errorf("%d renewals 3.5 s into a 5 s window, want 1", n)
	}
}
