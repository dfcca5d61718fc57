// Command local runs the whole of Rekey on loopback for development:
// `make dev`. It prints where the console is and how to sign in, and stops
// cleanly on Ctrl-C, taking moto with it.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rekey/rekey/infra/devstack"
	"github.com/rekey/rekey/infra/seed"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "rekey:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	began := time.Now()
	addr := os.Getenv("REKEY_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	fmt.Printf("Starting Rekey on %s:\n", addr)
	s, err := devstack.Start(ctx, devstack.Options{
		Addr:         addr,
		DemoPassword: os.Getenv("REKEY_DEMO_PASSWORD"),
		Table:        os.Getenv("REKEY_TABLE"),
		Logger:       logger,
		// Each step with the time since start: the first start on a busy
		// machine takes a while, and should say where it is.
		Progress: func(step string) { fmt.Printf("  %5.1fs  %s...\n", time.Since(began).Seconds(), step) },
	})
	if err != nil {
		return err
	}
	defer s.Close()

	fmt.Printf("\nRekey is ready at %s (in %.1fs)\n", s.URL, time.Since(began).Seconds())
	if s.Seeded {
		fmt.Printf("Demo district seeded: %d schools, %d users.\n", len(s.Demo.Schools), len(s.Demo.Users))
		fmt.Printf("Sign in as %s with password: %s\n", seed.DistrictAdminUsername, s.Password)
		fmt.Println("(every demo account - school admins, teachers, students - has that password)")
	} else {
		fmt.Printf("The store already holds the demo district; sign in as %s with the password it was seeded with.\n", seed.DistrictAdminUsername)
	}
	fmt.Println("Press Ctrl-C to stop.")
	<-ctx.Done()
	fmt.Println("\nStopping Rekey...")
	return nil
}
