// Command lambda-local is `make lambda-local`: every function built for this
// machine, booted under aws-lambda-rie against moto and invoked with its
// events/ sample; one line per function, `ok <function> init=<ms>
// duration=<ms>`, and a non-zero exit when any fails. With -bench (make
// bench) those lines go to stderr and stdout gets BENCH lines: the largest
// cold-start init and each function's.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rekey/rekey/infra/lambdalocal"
	"github.com/rekey/rekey/infra/stack"
)

func main() {
	bench := flag.Bool("bench", false, "print BENCH lines of the cold-start init durations")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	template, err := stack.FindTemplate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lambda-local:", err)
		os.Exit(1)
	}
	results, err := lambdalocal.Run(ctx, lambdalocal.Options{
		Root:     filepath.Dir(template),
		Progress: func(step string) { fmt.Fprintf(os.Stderr, "lambda-local: %s...\n", step) },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lines, failed := os.Stdout, 0
	if *bench {
		lines = os.Stderr
	}
	maxInit := 0.0
	for _, r := range results {
		fmt.Fprintln(lines, r)
		if r.Err != nil {
			failed++
		}
		maxInit = max(maxInit, r.InitMs)
	}
	if *bench && failed == 0 {
		fmt.Printf("BENCH lambda_cold_init_ms_max %.0f ms\n", maxInit)
		for _, r := range results {
			fmt.Printf("BENCH lambda_cold_init_ms_%s %.0f ms\n", strings.ReplaceAll(r.Function, "-", "_"), r.InitMs)
		}
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "lambda-local: %d of %d functions failed\n", failed, len(results))
		os.Exit(1)
	}
}
