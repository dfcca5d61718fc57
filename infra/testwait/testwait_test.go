package testwait

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeT is a testing.TB whose go test -timeout ends at end, and which
// records Fatalf instead of failing the real test.
type fakeT struct {
	testing.TB
	end      time.Time
	fatal    string
	cleanups []func()
}

func (f *fakeT) Helper()                     {}
func (f *fakeT) Cleanup(fn func())           { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Deadline() (time.Time, bool) { return f.end, !f.end.IsZero() }
func (f *fakeT) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls Until in a goroutine, as go test runs a test, and returns the
// failure message ("" when it passed) and how long it took.
func run(f *fakeT, check func() (bool, string)) (string, time.Duration) {
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		Until(f, "the thing", check)
	}()
	<-done
	for _, fn := range f.cleanups {
		fn()
	}
	return f.fatal, time.Since(start)
}

func TestUntil(t *testing.T) {
	for _, test := range []struct {
		name      string
		end       time.Duration // go test's -timeout from now; 0 for none
		trueAfter int           // calls until check is done; -1 for never
		wantFatal []string
		maxTime   time.Duration
	}{
		{name: "done at once", trueAfter: 0, maxTime: time.Second},
		{name: "done after a few polls", trueAfter: 3, maxTime: 2 * time.Second},
		{name: "never done: fails before go test's timeout, with what and the last state", end: 2*Grace + 300*time.Millisecond, trueAfter: -1, wantFatal: []string{"waiting for the thing", "last: call"}, maxTime: 2 * time.Second},
	} {
		t.Run(test.name, func(t *testing.T) {
			f := &fakeT{}
			if test.end != 0 {
				f.end = time.Now().Add(test.end)
			}
			calls := 0
			fatal, took := run(f, func() (bool, string) {
				calls++
				return test.trueAfter >= 0 && calls > test.trueAfter, fmt.Sprintf("call %d", calls)
			})
			if len(test.wantFatal) == 0 && fatal != "" {
				t.Errorf("Until failed with %q, want it to return", fatal)
			}
			for _, want := range test.wantFatal {
				if !strings.Contains(fatal, want) {
					t.Errorf("Until failure = %q, want it to contain %q", fatal, want)
				}
			}
			if took > test.maxTime {
				t.Errorf("Until took %s, want at most %s", took, test.maxTime)
			}
			if _, ok := deadlines.Load(f); ok {
				t.Error("the test's deadline is still held after its cleanup")
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	f := &fakeT{}
	first := Deadline(f)
	if d := time.Until(first); d < Limit-time.Second || d > Limit {
		t.Errorf("Deadline without a go test timeout is %s away, want about %s", d, Limit)
	}
	time.Sleep(10 * time.Millisecond)
	if again := Deadline(f); !again.Equal(first) {
		t.Errorf("Deadline moved from %v to %v on the second call; it is one limit per test", first, again)
	}
	short := &fakeT{end: time.Now().Add(time.Minute)}
	if d := time.Until(Deadline(short)); d > time.Minute-2*Grace {
		t.Errorf("Deadline with go test ending in 1m is %s away, want at most %s", d, time.Minute-2*Grace)
	}
}
