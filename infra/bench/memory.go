package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/rekey"
)

// benchMemory plans and works an email-link task of each size on the
// in-memory store and reports the planner's and the workers' peak heap
// above what was in use before: it must stay flat as the task grows,
// since the planner holds one page and a worker one chunk at a time.
func benchMemory(ctx context.Context, scales string) error {
	for _, field := range strings.Split(scales, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n <= 0 {
			return fmt.Errorf("bad scale %q", field)
		}
		store := newSynthStore(n, synthTask(rekey.Delivery{Mode: rekey.DeliverEmailLink}))
		work, plans := &memQueue{}, &memQueue{}
		cfg := bulk.Config{PublicBaseURL: "https://console.example.org", SendRate: 1e9, WorkerConcurrency: 2}
		planner, err := bulk.NewPlanner(cfg, bulk.PlannerDeps{Store: store, Work: work, Plans: plans})
		if err != nil {
			return err
		}
		plannerPeak, err := peakHeap(func() error { return planner.Plan(ctx, "task1") })
		if err != nil {
			return err
		}
		workers := make([]*bulk.Worker, 2)
		for i := range workers {
			if workers[i], err = bulk.NewWorker(cfg, bulk.WorkerDeps{Store: store, Work: work, Mailer: &nopMailer{}, Hasher: fastHasher}); err != nil {
				return err
			}
		}
		start := time.Now()
		workerPeak, err := peakHeap(func() error { return runWorkers(ctx, work, workers) })
		if err != nil {
			return err
		}
		task := store.task.Task
		if task.Processed != n || task.Emailed != n {
			return fmt.Errorf("%d users: task %+v, want all emailed", n, task)
		}
		bench(fmt.Sprintf("planner_peak_heap_%d_users", n), plannerPeak, "MiB")
		bench(fmt.Sprintf("worker_peak_heap_%d_users", n), workerPeak, "MiB")
		note("memory run of %d users (in-memory store, no-op mailer): workers took %v", n, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// runWorkers feeds the queue's messages to the workers, one message per
// worker at a time, until the queue is empty and every worker is idle.
func runWorkers(ctx context.Context, q *memQueue, workers []*bulk.Worker) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		busy  atomic.Int32
	)
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				busy.Add(1)
				m, ok := q.next()
				if !ok {
					busy.Add(-1)
					if busy.Load() == 0 {
						if _, more := q.peek(); !more {
							return
						}
					}
					time.Sleep(time.Millisecond)
					continue
				}
				err := w.Process(ctx, m)
				busy.Add(-1)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// peek reports whether a message is waiting.
func (q *memQueue) peek() (int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.messages), len(q.messages) > 0
}

// peakHeap runs f and returns the most live heap it needed above what was
// live before (MiB): the live heap as of each garbage collection
// (runtime/metrics /gc/heap/live:bytes), sampled every millisecond, with
// collections made frequent (GOGC=10) while f runs so that the samples
// follow the live data rather than the collector's pace.
func peakHeap(f func() error) (float64, error) {
	old := debug.SetGCPercent(10)
	defer debug.SetGCPercent(old)
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	live := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	base := live()
	var peak atomic.Uint64
	peak.Store(base)
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
				if v := live(); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	err := f()
	close(done)
	<-sampled
	runtime.GC()
	if v := live(); v > peak.Load() {
		peak.Store(v)
	}
	return float64(peak.Load()-base) / (1 << 20), err
}

// nopMailer accepts every email at once.
type nopMailer struct{ n atomic.Int64 }

func (m *nopMailer) Send(context.Context, mail.Message) (string, error) {
	return fmt.Sprintf("msg-%d", m.n.Add(1)), nil
}
