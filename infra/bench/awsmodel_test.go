package main

import (
	"math"
	"testing"
)

func TestAWSRunSeconds(t *testing.T) {
	for _, test := range []struct {
		name     string
		run      awsRun
		min, max float64
	}{
		// Two instances never ramp: N × CPU / 2, plus the last chunk.
		{"concurrency 2", awsRun{users: 100000, cpuMsPerUser: 42, memoryMB: 1769, maxConcurrency: 2}, 2100, 2100 + 96*0.042 + 1},
		// The ramp (5 + 5 a second) dominates: 1,000 instances are reached
		// at 199 s, long after the work (5t + 2.5t² = 5,000 instance-s at
		// t ≈ 43.7 s) is done.
		{"ramp bound", awsRun{users: 100000, cpuMsPerUser: 50, memoryMB: 1769, maxConcurrency: 1000}, 43, 43.8 + 4.8 + 0.1},
		// 4,000 write units a second at 10 a user: 400 users a second.
		{"write bound", awsRun{users: 100000, cpuMsPerUser: 1, memoryMB: 1769, maxConcurrency: 1000, writeUnitsPerUser: 10, tableWriteUnitsPerSecond: 4000}, 250, 251},
		// The task's partition key takes 1,000 units a second: at 2 a user,
		// 500 users a second, however wide the table is.
		{"task partition bound", awsRun{users: 100000, cpuMsPerUser: 1, memoryMB: 1769, maxConcurrency: 1000, writeUnitsPerUser: 5, tableWriteUnitsPerSecond: 1e6, taskPartitionUnitsPerUser: 2}, 200, 201},
		// Twice the memory, twice the vCPU: half the time at concurrency 2.
		{"two vCPUs", awsRun{users: 10000, cpuMsPerUser: 50, memoryMB: 2 * 1769, maxConcurrency: 2}, 125, 125 + 2.5 + 0.1},
	} {
		t.Run(test.name, func(t *testing.T) {
			if got := test.run.seconds(); got < test.min || got > test.max || math.IsNaN(got) {
				t.Errorf("seconds(%+v) = %.1f, want within [%.1f, %.1f]", test.run, got, test.min, test.max)
			}
		})
	}
}

func TestAWSRunGBSeconds(t *testing.T) {
	// 100,000 users × 42 ms on one vCPU at 1,769 MB: 4,200 s × 1.7275 GB.
	run := awsRun{users: 100000, cpuMsPerUser: 42, memoryMB: 1769}
	if got, want := run.gbSeconds(), 4200*1769.0/1024; math.Abs(got-want) > 0.01 {
		t.Errorf("gbSeconds() = %.1f, want %.1f", got, want)
	}
}

// TestPasswordWorkerInTemplate: the model reads the password worker's
// sizing from template.yaml.
func TestPasswordWorkerInTemplate(t *testing.T) {
	fn, err := readWorkerFunction("BulkPasswordWorkerFunction", "PasswordWork")
	if err != nil {
		t.Fatal(err)
	}
	if fn.maxConcurrency < 2 || fn.maxConcurrency > 1000 || fn.memoryMB < 1769 {
		t.Errorf("password worker = %+v, want MaximumConcurrency in 2..1000 and at least one vCPU", fn)
	}
}

// TestEmailPathReachesSESRate: the email path's MaximumConcurrency is the
// worker count each worker divides the SES rate by, and its workers, each
// handing SES one email at a time, together reach the template's SES rate.
func TestEmailPathReachesSESRate(t *testing.T) {
	p, err := readEmailPath()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.check(); err != nil {
		t.Error(err)
	}
	for _, test := range []struct {
		name string
		path emailPath
		ok   bool
	}{
		{"14/s over 2", emailPath{sesRate: 14, workerConcurrency: 2, maxConcurrency: 2}, true},
		{"100/s over 10", emailPath{sesRate: 100, workerConcurrency: 10, maxConcurrency: 10}, true},
		{"100/s over 6: too few serial senders", emailPath{sesRate: 100, workerConcurrency: 6, maxConcurrency: 6}, false},
		{"concurrency and its variable differ", emailPath{sesRate: 14, workerConcurrency: 2, maxConcurrency: 4}, false},
	} {
		if err := test.path.check(); (err == nil) != test.ok {
			t.Errorf("%s: check() = %v, want ok %v", test.name, err, test.ok)
		}
	}
}
