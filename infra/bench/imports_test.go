package main

import (
	"context"
	"testing"
	"time"
)

// The import runs measure the worker's and the planner's peak heap, so
// their store must not record its writes: the write recorder keeps every
// item written (some 9 KB a row), which made the worker's peak grow with
// the file (87.5 MiB at 10,000 rows). Their calls are still counted.
func TestImportWorldCountsCallsButRecordsNoWrites(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "") // start moto for this test
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := startLocalAWS(ctx)
	if err != nil {
		t.Fatalf("startLocalAWS: %v", err)
	}
	defer l.stop()
	if _, _, err := importWorld(ctx, l); err != nil {
		t.Fatalf("importWorld: %v", err)
	}
	if n := l.calls.Total(); n == 0 {
		t.Errorf("calls counted = 0, want the table's creation and the district's and admin's writes counted")
	}
	l.writes.mu.Lock()
	defer l.writes.mu.Unlock()
	if n := len(l.writes.writes); n != 0 {
		t.Errorf("writes recorded = %d, want 0 (the recorder would hold every imported item)", n)
	}
}
