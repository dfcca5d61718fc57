package main

import (
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/rekey/rekey/infra/stack"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/rekey"
	"go.yaml.in/yaml/v3"
)

// measured collects the figures the AWS model is built from, as the
// benchmarks measure them.
type measured struct {
	// cpuMsPerUser is the worker's CPU per user on one core, by
	// architecture ("x86_64": amd64 with argon2's assembly; "arm64": the
	// pure-Go build, which is what arm64 runs) and delivery.
	cpuMsPerUser map[string]map[rekey.DeliveryMode]float64
	// writeUnitsPerUser is DynamoDB write units per user, by delivery.
	writeUnitsPerUser map[rekey.DeliveryMode]float64
	// taskPartitionUnitsPerUser is the part of them on the task's own
	// partition key (its item and its chunks).
	taskPartitionUnitsPerUser map[rekey.DeliveryMode]float64
}

func newMeasured() *measured {
	return &measured{cpuMsPerUser: map[string]map[rekey.DeliveryMode]float64{}, writeUnitsPerUser: map[rekey.DeliveryMode]float64{},
		taskPartitionUnitsPerUser: map[rekey.DeliveryMode]float64{}}
}

// Assumptions about AWS, each from the AWS documentation page named in the
// README ("AWS model").
const (
	// sqsStartConcurrency and sqsScaleUpPerMinute: an SQS event source
	// mapping starts with five concurrent batches and adds up to 300
	// instances a minute ("Configuring scaling behavior for SQS event
	// source mappings", Lambda developer guide).
	sqsStartConcurrency = 5
	sqsScaleUpPerMinute = 300
	// accountConcurrency is Lambda's default concurrent executions quota
	// of an account ("Lambda quotas").
	accountConcurrency = 1000
	// onDemandWriteUnitsPerSecond is what a new on-demand table sustains
	// before DynamoDB has scaled it ("Pre-warming a table for on-demand
	// capacity mode" / "Understanding DynamoDB warm throughput").
	onDemandWriteUnitsPerSecond = 4000
	// partitionWriteUnitsPerSecond is one partition's limit; a task's item
	// and chunks share one partition key ("Understanding DynamoDB warm
	// throughput in different scenarios").
	partitionWriteUnitsPerSecond = 1000
	// mbPerVCPU: at 1,769 MB a function has the equivalent of one vCPU
	// ("Configure Lambda function memory").
	mbPerVCPU = 1769
	// Lambda prices per GB-second, us-east-1 ("AWS Lambda pricing").
	priceGBSecondX86   = 0.0000166667
	priceGBSecondArm64 = 0.0000133334
	// priceWriteUnit is on-demand DynamoDB, per write request unit
	// ($0.625 per million, us-east-1, "Amazon DynamoDB pricing").
	priceWriteUnit = 0.625 / 1e6
)

// awsRun is one bulk password task on AWS, as the model sees it.
type awsRun struct {
	users          int
	cpuMsPerUser   float64 // on one vCPU, for the function's architecture
	memoryMB       int
	maxConcurrency int
	// writeUnitsPerUser and tableWriteUnitsPerSecond bound the rate at
	// which users can be written.
	writeUnitsPerUser        float64
	tableWriteUnitsPerSecond float64
	// taskPartitionUnitsPerUser of them go to the task's partition key,
	// which takes at most partitionWriteUnitsPerSecond.
	taskPartitionUnitsPerUser float64
}

// seconds is how long the run takes: the event source adds instances at
// its scale-up rate up to the mapping's MaximumConcurrency (and the
// account's quota); each instance hashes at vCPU × 1000 / cpuMsPerUser
// users a second; the table's write throughput caps the total; the last
// chunk adds up to one chunk's time after the rest is done.
func (r awsRun) seconds() float64 {
	vcpu := float64(r.memoryMB) / mbPerVCPU
	perInstance := vcpu * 1000 / r.cpuMsPerUser
	writeCap := math.Inf(1)
	if r.writeUnitsPerUser > 0 {
		writeCap = r.tableWriteUnitsPerSecond / r.writeUnitsPerUser
	}
	if r.taskPartitionUnitsPerUser > 0 {
		writeCap = math.Min(writeCap, partitionWriteUnitsPerSecond/r.taskPartitionUnitsPerUser)
	}
	const dt = 0.01
	done, t := 0.0, 0.0
	for done < float64(r.users) {
		c := math.Min(float64(min(r.maxConcurrency, accountConcurrency)), sqsStartConcurrency+sqsScaleUpPerMinute/60.0*t)
		done += math.Min(c*perInstance, writeCap) * dt
		t += dt
	}
	return t + float64(rekey.ChunkSize)/perInstance
}

// gbSeconds is the Lambda time the run bills.
func (r awsRun) gbSeconds() float64 {
	return float64(r.users) * r.cpuMsPerUser / 1000 / (float64(r.memoryMB) / mbPerVCPU) * float64(r.memoryMB) / 1024
}

// workerFunction is what template.yaml says of a bulk worker function.
type workerFunction struct {
	memoryMB       int
	architecture   string
	maxConcurrency int
}

// readWorkerFunction reads a function's memory, architecture and the
// MaximumConcurrency of its SQS event out of template.yaml.
func readWorkerFunction(logicalID, event string) (workerFunction, error) {
	path, err := stack.FindTemplate()
	if err != nil {
		return workerFunction{}, err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return workerFunction{}, err
	}
	var doc struct {
		Globals struct {
			Function struct {
				MemorySize int `yaml:"MemorySize"`
			} `yaml:"Function"`
		} `yaml:"Globals"`
		Resources map[string]struct {
			Properties struct {
				MemorySize    int      `yaml:"MemorySize"`
				Architectures []string `yaml:"Architectures"`
				Events        map[string]struct {
					Properties struct {
						ScalingConfig struct {
							MaximumConcurrency int `yaml:"MaximumConcurrency"`
						} `yaml:"ScalingConfig"`
					} `yaml:"Properties"`
				} `yaml:"Events"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return workerFunction{}, fmt.Errorf("read %s: %w", path, err)
	}
	res, ok := doc.Resources[logicalID]
	if !ok {
		return workerFunction{}, fmt.Errorf("%s has no %s", path, logicalID)
	}
	f := workerFunction{memoryMB: res.Properties.MemorySize, architecture: "x86_64",
		maxConcurrency: res.Properties.Events[event].Properties.ScalingConfig.MaximumConcurrency}
	if f.memoryMB == 0 {
		f.memoryMB = doc.Globals.Function.MemorySize
	}
	if len(res.Properties.Architectures) == 1 {
		f.architecture = res.Properties.Architectures[0]
	}
	if f.maxConcurrency == 0 {
		return workerFunction{}, fmt.Errorf("%s: event %s has no ScalingConfig.MaximumConcurrency", logicalID, event)
	}
	return f, nil
}

// oldWorker is the password path before it had its own queue: the email
// path's BulkWorkerFunction (arm64, 1,769 MB) at MaximumConcurrency 2.
var oldWorker = workerFunction{memoryMB: 1769, architecture: "arm64", maxConcurrency: 2}

// benchAWSModel prints the model's inputs and its results for 100,000
// users of each password delivery, after (the template's
// BulkPasswordWorkerFunction) and before (oldWorker).
func benchAWSModel(m *measured) error {
	fn, err := readWorkerFunction("BulkPasswordWorkerFunction", "PasswordWork")
	if err != nil {
		return err
	}
	tableWrites, err := readTableWarmWrites()
	if err != nil {
		return err
	}
	bench("password_worker_maximum_concurrency", fn.maxConcurrency, "instances")
	bench("password_worker_memory", fn.memoryMB, "MB")
	bench("aws_sqs_scale_up_per_minute", sqsScaleUpPerMinute, "instances/min")
	bench("aws_sqs_start_concurrency", sqsStartConcurrency, "instances")
	bench("aws_account_concurrency", accountConcurrency, "executions")
	bench("aws_table_write_units_per_second", tableWrites, "WRU/s")
	bench("aws_partition_write_units_per_second", partitionWriteUnitsPerSecond, "WRU/s")
	const users = 100000
	for _, mode := range []rekey.DeliveryMode{rekey.DeliverDefaultPassword, rekey.DeliverGeneratedPasswords} {
		wu, ok := m.writeUnitsPerUser[mode]
		if !ok {
			return fmt.Errorf("aws model: no write units measured for %s (run with -call-users > 0)", mode)
		}
		cost := map[string]float64{}
		for _, arch := range []string{"x86_64", "arm64"} {
			ms, ok := m.cpuMsPerUser[arch][mode]
			if !ok {
				return fmt.Errorf("aws model: no CPU measured for %s on %s", mode, arch)
			}
			price := priceGBSecondArm64
			if arch == "x86_64" {
				price = priceGBSecondX86
			}
			run := awsRun{users: users, cpuMsPerUser: ms, memoryMB: fn.memoryMB}
			cost[arch] = run.gbSeconds() * price
			bench(fmt.Sprintf("%s_100k_lambda_usd_%s", mode, arch), cost[arch], "USD")
		}
		after := awsRun{users: users, cpuMsPerUser: m.cpuMsPerUser[fn.architecture][mode], memoryMB: fn.memoryMB,
			maxConcurrency: fn.maxConcurrency, writeUnitsPerUser: wu, tableWriteUnitsPerSecond: tableWrites,
			taskPartitionUnitsPerUser: m.taskPartitionUnitsPerUser[mode]}
		before := awsRun{users: users, cpuMsPerUser: m.cpuMsPerUser[oldWorker.architecture][mode], memoryMB: oldWorker.memoryMB,
			maxConcurrency: oldWorker.maxConcurrency, writeUnitsPerUser: wu, tableWriteUnitsPerSecond: onDemandWriteUnitsPerSecond,
			taskPartitionUnitsPerUser: m.taskPartitionUnitsPerUser[mode]}
		bench(string(mode)+"_100k_aws_model_seconds", after.seconds(), "s")
		bench(string(mode)+"_100k_aws_model_seconds_before", before.seconds(), "s")
		bench(string(mode)+"_100k_lambda_gb_seconds", after.gbSeconds(), "GB-s")
		bench(string(mode)+"_100k_dynamodb_usd", wu*users*priceWriteUnit, "USD")
		note("%s, 100,000 users: %s, %d MB, MaximumConcurrency %d, %.1f ms CPU a user, %.2f write units a user: %.0f s (before: %s at %d, %.0f s); Lambda %.0f GB-s ($%.3f; on %s $%.3f), DynamoDB $%.3f",
			mode, fn.architecture, fn.memoryMB, fn.maxConcurrency, after.cpuMsPerUser, wu, after.seconds(),
			oldWorker.architecture, oldWorker.maxConcurrency, before.seconds(), after.gbSeconds(), cost[fn.architecture],
			otherArch(fn.architecture), cost[otherArch(fn.architecture)], wu*users*priceWriteUnit)
	}
	return nil
}

func otherArch(arch string) string {
	if arch == "x86_64" {
		return "arm64"
	}
	return "x86_64"
}

// readTableWarmWrites is the write units a second the table takes at
// once: its WarmThroughput in template.yaml, or a new on-demand table's.
func readTableWarmWrites() (float64, error) {
	path, err := stack.FindTemplate()
	if err != nil {
		return 0, err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var doc struct {
		Resources struct {
			Table struct {
				Properties struct {
					WarmThroughput struct {
						WriteUnitsPerSecond int `yaml:"WriteUnitsPerSecond"`
					} `yaml:"WarmThroughput"`
				} `yaml:"Properties"`
			} `yaml:"Table"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	if w := doc.Resources.Table.Properties.WarmThroughput.WriteUnitsPerSecond; w > onDemandWriteUnitsPerSecond {
		return float64(w), nil
	}
	return onDemandWriteUnitsPerSecond, nil
}

// emailPath is what template.yaml says of the email path's sending: the
// SES rate the workers share when SES does not say (REKEY_SES_RATE), the
// worker count they divide it by (REKEY_BULK_WORKER_CONCURRENCY) and the
// work queue's MaximumConcurrency, which must equal it.
type emailPath struct {
	sesRate           float64
	workerConcurrency int
	maxConcurrency    int
}

// readEmailPath reads the email path's sending settings out of
// template.yaml.
func readEmailPath() (emailPath, error) {
	fn, err := readWorkerFunction("BulkWorkerFunction", "Work")
	if err != nil {
		return emailPath{}, err
	}
	path, err := stack.FindTemplate()
	if err != nil {
		return emailPath{}, err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return emailPath{}, err
	}
	var doc struct {
		Globals struct {
			Function struct {
				Environment struct {
					Variables map[string]string `yaml:"Variables"`
				} `yaml:"Environment"`
			} `yaml:"Function"`
		} `yaml:"Globals"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return emailPath{}, fmt.Errorf("read %s: %w", path, err)
	}
	vars := doc.Globals.Function.Environment.Variables
	rate, err := strconv.ParseFloat(vars[bulk.EnvSendRate], 64)
	if err != nil {
		return emailPath{}, fmt.Errorf("%s: %s: %w", path, bulk.EnvSendRate, err)
	}
	workers, err := strconv.Atoi(vars[bulk.EnvWorkerConcurrency])
	if err != nil {
		return emailPath{}, fmt.Errorf("%s: %s: %w", path, bulk.EnvWorkerConcurrency, err)
	}
	return emailPath{sesRate: rate, workerConcurrency: workers, maxConcurrency: fn.maxConcurrency}, nil
}

// rateCeiling is the most emails a second the email path's workers send
// together, each handing SES one email at a time.
func (p emailPath) rateCeiling() float64 {
	return float64(p.maxConcurrency) * bulk.MaxWorkerRate
}

// check reports whether each worker sends at rate / MaximumConcurrency
// and the workers, one email at a time each, reach the SES rate.
func (p emailPath) check() error {
	if p.maxConcurrency != p.workerConcurrency {
		return fmt.Errorf("BulkWorkerFunction MaximumConcurrency = %d, %s = %d: each worker must send at rate / MaximumConcurrency",
			p.maxConcurrency, bulk.EnvWorkerConcurrency, p.workerConcurrency)
	}
	if p.rateCeiling() < p.sesRate {
		return fmt.Errorf("%d email workers send at most %.1f emails/s one at a time, below the SES rate %.1f: raise MaximumConcurrency to at least %.0f",
			p.maxConcurrency, p.rateCeiling(), p.sesRate, math.Ceil(p.sesRate/bulk.MaxWorkerRate))
	}
	return nil
}
