package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// motopatch.py replaces moto 5.2.1's internals: with any other moto the
// benchmarks must still run, on moto as installed, rather than start a
// patched moto_server that fails or, worse, measures something else.
func TestStartMotoWithAnotherMotoRunsItUnpatched(t *testing.T) {
	// A python3 that reports moto 5.0.0 and does nothing else: were it
	// asked to run motopatch.py, moto_server would exit at once.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "python3"), []byte("#!/bin/sh\necho 5.0.0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := startMoto(ctx)
	if err != nil {
		t.Fatalf("startMoto() with moto 5.0.0 installed: %v, want moto started unpatched", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop() error: %v", err)
	}
}
