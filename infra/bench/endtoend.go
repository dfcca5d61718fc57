package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// benchEndToEnd runs an email-link task of users students end to end on
// moto (service, planner, two workers, SQS, DynamoDB, SES) and reports its
// wall time and this process's peak memory. moto is far slower than AWS
// (it copies a whole table for each item of a transaction), so the run is
// given limit; if it has not finished by then, the rate reached so far is
// reported instead and the time for the whole task estimated from it.
func benchEndToEnd(ctx context.Context, l *localAWS, users int, limit time.Duration) error {
	seedStart := time.Now()
	p, err := newPipeline(ctx, l, users, 2)
	if err != nil {
		return err
	}
	note("end to end: seeded %d users on moto in %v", users, time.Since(seedStart).Round(time.Millisecond))
	runtime.GC()
	runCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var task rekey.Task
	var elapsed time.Duration
	heap, err := peakHeap(func() error {
		var err error
		task, elapsed, err = p.run(runCtx, rekey.Delivery{Mode: rekey.DeliverEmailLink})
		return err
	})
	name := fmt.Sprintf("email_link_%d_users", users)
	if err != nil && runCtx.Err() == nil {
		return err
	}
	if err != nil {
		got, getErr := p.svc.Get(ctx, p.admin, taskIDOf(ctx, p))
		if getErr != nil {
			return fmt.Errorf("%w (and reading the task: %v)", err, getErr)
		}
		rate := float64(got.Processed) / limit.Seconds()
		bench(name+"_moto_users_per_second", rate, "users/s")
		if rate > 0 {
			bench(name+"_moto_estimated_seconds", float64(users)/rate, "s")
		}
		note("end to end: stopped after %v with %d of %d users done on moto", limit, got.Processed, users)
	} else {
		bench(name+"_moto_wall_seconds", elapsed.Seconds(), "s")
		note("end to end: %d of %d emailed in %v", task.Emailed, task.Total, elapsed.Round(time.Millisecond))
	}
	bench(name+"_peak_heap", heap, "MiB")
	bench(name+"_peak_rss", peakRSS(), "MiB")
	return nil
}

// taskIDOf finds the one task of the pipeline's district.
func taskIDOf(ctx context.Context, p *pipeline) string {
	page, err := p.svc.List(ctx, p.admin, 1, "")
	if err != nil || len(page.Items) == 0 {
		return ""
	}
	return page.Items[0].ID
}

// peakRSS is this process's peak resident set (VmHWM), in MiB.
func peakRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
