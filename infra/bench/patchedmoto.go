package main

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/rekey/rekey/infra/moto"
)

// motoPatch runs moto_server with an item-level rollback for DynamoDB
// transactions (see the file for why).
//
//go:embed motopatch.py
var motoPatch string

// startMoto starts moto through infra/moto (with its serializing proxy),
// patched as motoPatch says when python3 can import moto; otherwise moto
// as installed.
func startMoto(ctx context.Context) (*moto.Server, error) {
	if err := exec.CommandContext(ctx, "python3", "-c", "import moto.dynamodb.models, moto.server").Run(); err != nil {
		note("moto runs unpatched (python3 cannot import moto: %v); transactions will be slow", err)
		return moto.Start(ctx)
	}
	dir, err := os.MkdirTemp("", "rekey-bench-moto")
	if err != nil {
		return nil, err
	}
	script := fmt.Sprintf("#!/bin/sh\nexec python3 -c %s \"$@\"\n", shellQuote(motoPatch))
	if err := os.WriteFile(filepath.Join(dir, "moto_server"), []byte(script), 0o755); err != nil {
		return nil, err
	}
	path := os.Getenv("PATH")
	os.Setenv("PATH", dir+string(os.PathListSeparator)+path)
	defer os.Setenv("PATH", path)
	note("moto runs with an item-level rollback for TransactWriteItems instead of a copy of the whole table per item (see infra/bench/motopatch.py)")
	return moto.Start(ctx)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
		} else {
			out += string(r)
		}
	}
	return out + "'"
}
