// Package testwait holds the waits of the end-to-end and browser tests:
// conditions polled until one generous deadline per test, instead of
// per-step timeouts that assume an idle machine. With other builds on the
// same cores a page load or a queue round trip can take many seconds; a
// slow machine should make a test slower, not red, while a condition that
// never holds still fails with what was awaited.
package testwait

import (
	"sync"
	"testing"
	"time"
)

// Limit is how long one test (or subtest) may wait in all, counted from
// its first call of Deadline. The slowest test takes well under a minute
// on an idle machine.
const Limit = 5 * time.Minute

// Grace is kept free before go test's own -timeout, so that a test that
// runs out of time fails with its message (and can take a screenshot)
// instead of the panic that dumps every goroutine.
const Grace = 15 * time.Second

// Interval is how often Until checks its condition.
const Interval = 100 * time.Millisecond

// deadlines holds each running test's deadline, set when first asked.
var deadlines sync.Map // testing.TB → time.Time

// Deadline is when t's waits give up: Limit after t first asks, and at
// least twice Grace before go test's -timeout ends the whole binary.
func Deadline(t testing.TB) time.Time {
	if d, ok := deadlines.Load(t); ok {
		return d.(time.Time)
	}
	d := time.Now().Add(Limit)
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := dt.Deadline(); ok && end.Add(-2*Grace).Before(d) {
			d = end.Add(-2 * Grace)
		}
	}
	if actual, loaded := deadlines.LoadOrStore(t, d); loaded {
		return actual.(time.Time)
	}
	t.Cleanup(func() { deadlines.Delete(t) })
	return d
}

// Until calls check every Interval until it reports done or t's Deadline
// passes; then it fails t with what was awaited, how long it waited and
// the last thing check said.
func Until(t testing.TB, what string, check func() (done bool, last string)) {
	t.Helper()
	start := time.Now()
	deadline := Deadline(t)
	for {
		done, last := check()
		if done {
			return
		}
		if !time.Now().Before(deadline) {
			t.Fatalf("waiting for %s: gave up after %s; last: %s", what, time.Since(start).Round(time.Millisecond), last)
		}
		time.Sleep(min(Interval, time.Until(deadline)+time.Millisecond))
	}
}
