package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rekey/rekey/infra/stack"
	"github.com/rekey/rekey/shared/dynamo"
	"github.com/rekey/rekey/shared/imports"
	"github.com/rekey/rekey/shared/queue"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/roster"
)

// benchImportDryRun runs the dry run of a generated OneRoster bundle of
// users users (40 schools) on moto as a district admin and reports its
// wall time, AWS calls per 1,000 rows, and the live heap's peak above
// what was in use before (the file's bytes, held by the caller, are not
// counted): it grows with the rows only by what the uniqueness checks
// keep per row. It then starts the import of the same file (its chunks
// written, no message sent) and reports the same of Start, which reads
// the file three times and writes its chunks as it goes instead of
// holding its rows (0.7 KB a row before). Each is run once more before,
// for its sequential rounds of calls and its CPU (onAWS): whether it fits
// the HTTP API's 29 s on AWS.
func benchImportDryRun(ctx context.Context, l *localAWS, users int) error {
	store, admin, err := importWorld(ctx, l)
	if err != nil {
		return err
	}
	svc, err := imports.NewService(imports.Deps{Store: store, Queue: discardQueue{}})
	if err != nil {
		return err
	}
	var file bytes.Buffer
	if err := roster.GenerateBundle(&file, users, 40); err != nil {
		return err
	}
	src := imports.Source{Body: file.Bytes(), ContentType: imports.TypeZip}
	if err := onAWS(l, "dry_run", users, func() error {
		_, err := svc.Preview(ctx, admin, src)
		return err
	}); err != nil {
		return err
	}
	l.calls.Reset()
	start := time.Now()
	var summary roster.Summary
	heap, err := peakHeap(func() error {
		var err error
		summary, err = svc.Preview(ctx, admin, src)
		return err
	})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if summary.ErrorCount != 0 || summary.Create != users {
		return fmt.Errorf("import bench: dry run %+v", summary)
	}
	bench(fmt.Sprintf("import_dry_run_moto_seconds_%d_rows", users), elapsed.Seconds(), "s")
	bench(fmt.Sprintf("import_dry_run_calls_per_1000_rows_%d_rows", users), float64(l.calls.Total("SESv2"))*1000/float64(users), "calls")
	bench(fmt.Sprintf("import_planner_peak_heap_%d_rows", users), heap, "MB")
	bench(fmt.Sprintf("import_planner_peak_heap_bytes_per_row_%d_rows", users), heap*(1<<20)/float64(users), "B")

	if err := onAWS(l, "start", users, func() error {
		_, err := svc.Start(ctx, admin, src, "bench")
		return err
	}); err != nil {
		return err
	}
	l.calls.Reset()
	start = time.Now()
	var task rekey.Task
	heap, err = peakHeap(func() error {
		var err error
		task, err = svc.Start(ctx, admin, src, "bench")
		return err
	})
	if err != nil {
		return err
	}
	elapsed = time.Since(start)
	if task.Total != users {
		return fmt.Errorf("import bench: started %+v, want %d rows", task, users)
	}
	bench(fmt.Sprintf("import_start_moto_seconds_%d_rows", users), elapsed.Seconds(), "s")
	bench(fmt.Sprintf("import_start_calls_per_1000_rows_%d_rows", users), float64(l.calls.Total("SESv2"))*1000/float64(users), "calls")
	bench(fmt.Sprintf("import_start_peak_heap_%d_rows", users), heap, "MiB")
	bench(fmt.Sprintf("import_start_peak_heap_bytes_per_row_%d_rows", users), heap*(1<<20)/float64(users), "B")
	return nil
}

// dynamoRoundTrip is the latency assumed for one round of DynamoDB calls
// from a Lambda in the table's region: DynamoDB answers reads in "single-
// digit milliseconds" (AWS's DynamoDB product page) and a BatchGetItem
// reads its items in parallel (BatchGetItem, API reference); 20 ms, the
// top of that range and more, for a round's slowest call of up to 100
// consistent reads or a 60 KB write, and the network.
const dynamoRoundTrip = 20 * time.Millisecond

// onAWS runs f (a dry run or start of users rows) and reports what it
// would take on AWS whatever moto's speed: its sequential rounds of calls
// (callcount's Rounds) and the estimate rounds × dynamoRoundTrip + the
// process's CPU time over the api-imports Lambda's share of a vCPU (1,024
// MB of the mbPerVCPU that buy one). The CPU includes the SDK's encoding
// of every call; it is measured apart from the peak heap runs, whose
// sampler and frequent collections would add their own.
func onAWS(l *localAWS, what string, users int, f func() error) error {
	const lambdaMB = 1024 // template.yaml ApiImportsFunction
	l.calls.Reset()
	cpu0 := cpuTime()
	if err := f(); err != nil {
		return err
	}
	cpu, rounds := cpuTime()-cpu0, l.calls.Rounds()
	bench(fmt.Sprintf("import_%s_round_trips_%d_rows", what, users), rounds, "rounds")
	bench(fmt.Sprintf("import_%s_cpu_seconds_%d_rows", what, users), cpu.Seconds(), "s")
	bench(fmt.Sprintf("import_%s_estimated_aws_seconds_%d_rows", what, users),
		float64(rounds)*dynamoRoundTrip.Seconds()+cpu.Seconds()*mbPerVCPU/lambdaMB, "s")
	return nil
}

// discardQueue takes the chunk messages of a dry run (none).
type discardQueue struct{}

func (discardQueue) SendBatch(context.Context, []any) error { return nil }

// importWorld is a fresh table on moto with district d1 and its admin.
// Its store's calls are counted but its writes not recorded (l.counted):
// the write recorder keeps every item written, some 9 KB a row of an
// import, which the worker's peak heap would otherwise count.
func importWorld(ctx context.Context, l *localAWS) (*dynamo.Store, rekey.User, error) {
	db := dynamodb.NewFromConfig(l.counted)
	path, err := stack.FindTemplate()
	if err != nil {
		return nil, rekey.User{}, err
	}
	table := "bench-import-" + rekey.NewID()
	if err := stack.CreateTables(ctx, db, path, map[string]string{"Table": table}); err != nil {
		return nil, rekey.User{}, err
	}
	store := dynamo.New(db, table, nil)
	if err := store.PutDistrict(ctx, rekey.District{ID: "d1", Name: "Riverbend Unified"}); err != nil {
		return nil, rekey.User{}, err
	}
	admin := rekey.User{ID: rekey.NewID(), DistrictID: "d1", Role: rekey.RoleDistrictAdmin, Status: rekey.StatusActive,
		FirstName: "Dana", LastName: "Admin", Username: "bench.admin", Version: 1, SessionGen: 1, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := store.CreateUser(ctx, admin, nil); err != nil {
		return nil, rekey.User{}, err
	}
	return store, admin, nil
}

// benchImport imports a generated OneRoster bundle of users users (40
// schools) on moto as a district admin: the dry run, then the start and
// two pollers draining the import queue through the worker, as Lambda's
// event source would. It reports wall times (and per 1,000 rows, for
// sizes too slow to apply on moto), every non-SES AWS call per 1,000
// rows, and the live heap's peak while starting and while working the
// chunks.
func benchImport(ctx context.Context, l *localAWS, users int) error {
	store, admin, err := importWorld(ctx, l)
	if err != nil {
		return err
	}
	sqsClient := sqs.NewFromConfig(l.counted)
	url, err := createQueue(ctx, sqsClient, "bench-import-"+rekey.NewID())
	if err != nil {
		return err
	}
	svc, err := imports.NewService(imports.Deps{Store: store, Queue: queue.NewSender(sqsClient, url)})
	if err != nil {
		return err
	}
	worker := imports.NewWorker(store, nil, nil, nil)
	var file bytes.Buffer
	if err := roster.GenerateBundle(&file, users, 40); err != nil {
		return err
	}
	src := imports.Source{Body: file.Bytes(), ContentType: imports.TypeZip}
	per1000 := func(n int) float64 { return float64(n) * 1000 / float64(users) }
	name := func(what string) string { return fmt.Sprintf("import_%d_users_%s", users, what) }

	l.calls.Reset()
	start := time.Now()
	summary, err := svc.Preview(ctx, admin, src)
	if err != nil {
		return err
	}
	bench(name("dry_run_moto_seconds"), time.Since(start).Seconds(), "s")
	bench(name("dry_run_calls_per_1000_rows"), per1000(l.calls.Total("SESv2")), "calls")
	if summary.ErrorCount != 0 || summary.Create == 0 {
		return fmt.Errorf("import bench: dry run %+v", summary)
	}

	l.calls.Reset()
	start = time.Now()
	var task rekey.Task
	plannerHeap, err := peakHeap(func() error {
		var err error
		task, err = svc.Start(ctx, admin, src, "bench")
		return err
	})
	if err != nil {
		return err
	}
	started := time.Since(start)
	pollers := []*queue.Poller{queue.NewPoller(sqsClient, url, "", "us-east-1", worker.HandleSQS), queue.NewPoller(sqsClient, url, "", "us-east-1", worker.HandleSQS)}
	for _, p := range pollers {
		p.WaitTime, p.FailedVisibility = 0, time.Nanosecond
	}
	workerHeap, err := peakHeap(func() error {
		for {
			done := make(chan error, len(pollers))
			total := 0
			var mu = make(chan int, len(pollers))
			for _, p := range pollers {
				go func() {
					n, err := drain(ctx, p)
					mu <- n
					done <- err
				}()
			}
			for range pollers {
				if err := <-done; err != nil {
					return err
				}
				total += <-mu
			}
			rec, err := store.GetTask(ctx, task.ID)
			if err != nil {
				return err
			}
			if rec.Task.Processed >= rec.Task.Total {
				return nil
			}
			if total == 0 {
				time.Sleep(50 * time.Millisecond)
			}
		}
	})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	rec, err := store.GetTask(ctx, task.ID)
	if err != nil {
		return err
	}
	if rec.Task.Failed != 0 || rec.Task.Processed != users {
		for chunk := 0; chunk >= 0; {
			d, err := svc.Get(ctx, admin, task.ID, chunk)
			if err != nil {
				return err
			}
			for _, r := range d.Results {
				if r.Outcome == rekey.ImportFailed {
					return fmt.Errorf("import bench: row %d of %s failed: %s (task %+v)", r.Row, r.File, r.Error, rec.Task)
				}
			}
			chunk = d.Next
		}
		return fmt.Errorf("import bench: task %+v", rec.Task)
	}
	bench(name("start_moto_seconds"), started.Seconds(), "s")
	bench(name("apply_moto_seconds"), elapsed.Seconds(), "s")
	bench(fmt.Sprintf("import_apply_moto_seconds_per_1000_rows_measured_at_%d_rows", users), elapsed.Seconds()*1000/float64(users), "s")
	bench(name("apply_calls_per_1000_rows"), per1000(l.calls.Total("SESv2")), "calls")
	bench(name("planner_peak_heap"), plannerHeap, "MiB")
	bench(name("worker_peak_heap"), workerHeap, "MiB")
	note("import of %d users on moto: %s; time in calls: %s", users, l.calls, l.calls.Times())
	return nil
}
