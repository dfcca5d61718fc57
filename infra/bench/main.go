// Command bench prints Rekey's benchmark figures (`make bench`), one line
// each:
//
//	BENCH <snake_name> <value> <unit>
//
// What it measures (see README "Benchmarks"):
//   - AWS API calls per 1,000 users of a bulk reset, for each delivery,
//     counted by an SDK middleware in an end-to-end run on moto (planner and
//     two workers fed by SQS pollers, as Lambda's event sources would);
//     SES SendEmail calls are reported apart.
//   - Wall time and peak memory of an email-link task end to end on moto.
//   - Planner and worker memory as a task grows (1k, 10k, 50k users), on an
//     in-memory store so that only the pipeline's own memory counts.
//   - SES pacing against a stand-in that throttles above R sends/s.
//   - CPU per user of default passwords (argon2id at production cost).
//   - Login letters for 1,000 users: time on one CPU, PDF size, pages.
//   - CPU per user on one core of each password delivery, built with and
//     without -tags purego (amd64 assembly vs the pure Go arm64 runs),
//     DynamoDB write units per user from the real item sizes, and the model
//     of a 100,000-user run on AWS built from them (awsmodel.go).
//   - Many workers at once on an in-memory store: users/s per core.
//   - Roster imports of generated OneRoster bundles on moto: dry run and
//     start at 5k/20k/50k rows (time, calls, peak heap), and a whole
//     import applied through the worker (10k rows by default, some 3
//     minutes; 50k with -import-users 50000, some 16 minutes on moto).
//
// Notes on the output go to stderr; only BENCH lines go to stdout.
package main

import (
	"github.com/rekey/rekey/infra/moto"

	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	callUsers := flag.Int("call-users", 1000, "users of the call-count runs on moto (0 skips them)")
	e2eUsers := flag.Int("e2e-users", 10000, "users of the end-to-end email-link run on moto (0 skips it)")
	e2eLimit := flag.Duration("e2e-limit", 10*time.Minute, "give the end-to-end run up to this long, then report its rate")
	scales := flag.String("memory-scales", "1000,10000,50000", "task sizes of the memory runs (empty skips them)")
	pacingUsers := flag.Int("pacing-users", 1920, "users of the pacing run: 20 chunks, two for each of the ten workers 100/s needs (0 skips it)")
	pacingRate := flag.Float64("pacing-rate", 100, "sends per second the SES stand-in allows")
	cpuUsers := flag.Int("cpu-users", 48, "users hashed at production cost for the CPU figure (0 skips it)")
	letterUsers := flag.Int("letter-users", 1000, "users of the login-letters run (0 skips it)")
	archUsers := flag.Int("arch-users", 48, "users of each per-architecture CPU run (one core, asm and purego builds; 0 skips them and the AWS model)")
	pipelineUsers := flag.Int("pipeline-users", 192, "users of the many-workers in-memory pipeline run (0 skips it)")
	userCPU := flag.Int("user-cpu", 0, "internal: print the per-user CPU of this build for that many users and exit")
	importUsers := flag.String("import-users", "10000,50000", "sizes of the generated OneRoster bundles imported (dry run, start and apply) on moto (empty skips them); 10,000 rows apply in some 2 minutes, 50,000 in some 8")
	importDryRuns := flag.String("import-dry-runs", "5000,20000,50000", "sizes of the generated OneRoster bundles whose dry run and start (time, calls, planner and start peak heap) are measured on moto (empty skips them)")
	serve := flag.Bool("serve-moto", false, "only start the benchmarks' moto, print its endpoint and wait (for running tests against it)")
	flag.Parse()

	ctx := context.Background()
	if *userCPU > 0 {
		if err := printUserCPU(ctx, *userCPU); err != nil {
			fmt.Fprintf(os.Stderr, "bench: user cpu: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if *serve {
		server, err := moto.Start(ctx)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		fmt.Println(server.Endpoint())
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
		<-stop
		server.Stop()
		return
	}
	var failed bool
	report := func(name string, err error) {
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", name, err)
			failed = true
		}
	}
	if *letterUsers > 0 { // needs no AWS
		report("letters", benchLetters(*letterUsers))
	}
	l, err := startLocalAWS(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: local AWS: %v\n", err)
		os.Exit(1)
	}
	defer l.stop()
	m := newMeasured()
	if *callUsers > 0 {
		report("calls", benchCalls(ctx, l, *callUsers, m))
	}
	if *e2eUsers > 0 {
		report("end-to-end", benchEndToEnd(ctx, l, *e2eUsers, *e2eLimit))
	}
	for _, n := range strings.Split(*importDryRuns, ",") {
		if users, err := strconv.Atoi(strings.TrimSpace(n)); err == nil && users > 0 {
			report("import dry run", benchImportDryRun(ctx, l, users))
		}
	}
	for _, n := range strings.Split(*importUsers, ",") {
		if users, err := strconv.Atoi(strings.TrimSpace(n)); err == nil && users > 0 {
			report("import", benchImport(ctx, l, users))
		}
	}
	if *scales != "" {
		report("memory", benchMemory(ctx, *scales))
	}
	if *pacingUsers > 0 {
		report("pacing", benchPacing(ctx, *pacingUsers, *pacingRate))
	}
	if *cpuUsers > 0 {
		report("cpu", benchCPU(ctx, *cpuUsers))
	}
	if *pipelineUsers > 0 {
		report("pipeline", benchPipeline(ctx, *pipelineUsers, 8))
	}
	if *archUsers > 0 {
		err := benchArchitectures(ctx, *archUsers, m)
		report("architectures", err)
		if err == nil && *callUsers > 0 {
			report("aws model", benchAWSModel(m))
		}
	}
	if failed {
		l.stop()
		os.Exit(1)
	}
}

// bench prints one figure.
func bench(name string, value any, unit string) {
	switch v := value.(type) {
	case float64:
		fmt.Printf("BENCH %s %.2f %s\n", name, v, unit)
	default:
		fmt.Printf("BENCH %s %v %s\n", name, v, unit)
	}
}

// note prints a remark about the figures to stderr.
func note(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "# "+format+"\n", args...)
}
