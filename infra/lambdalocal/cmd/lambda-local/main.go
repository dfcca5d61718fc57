// Command lambda-local is `make lambda-local`: every function built for this
// machine, booted under aws-lambda-rie against moto and invoked with its
// events/ sample; one line per function, `ok <function> init=<ms>
// duration=<ms>`, and a non-zero exit when any fails.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/rekey/rekey/infra/lambdalocal"
	"github.com/rekey/rekey/infra/stack"
)

func main() {
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
	failed := 0
	for _, r := range results {
		fmt.Println(r)
		if r.Err != nil {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "lambda-local: %d of %d functions failed\n", failed, len(results))
		os.Exit(1)
	}
}
