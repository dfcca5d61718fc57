package main

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rekey/rekey/infra/moto"
)

// motoPatch runs moto_server with an item-level rollback for DynamoDB
// transactions (see the file for why).
//
//go:embed motopatch.py
var motoPatch string

// motoPatchVersion is the moto whose internals motoPatch replaces, the one
// pinned in infra/tools/requirements.txt.
const motoPatchVersion = "5.2.1"

// startMoto starts moto through infra/moto (with its serializing proxy),
// patched as motoPatch says when python3 imports moto motoPatchVersion;
// otherwise moto as installed, saying why.
func startMoto(ctx context.Context) (*moto.Server, error) {
	out, err := exec.CommandContext(ctx, "python3", "-c",
		"import importlib.metadata, moto.dynamodb.models, moto.server; print(importlib.metadata.version('moto'))").Output()
	if err != nil {
		note("moto runs unpatched (python3 cannot import moto: %v); transactions will be slow", err)
		return moto.Start(ctx)
	}
	if v := strings.TrimSpace(string(out)); v != motoPatchVersion {
		note("moto %s is installed, but infra/bench/motopatch.py patches moto %s's internals: moto runs unpatched, transactions will be slow "+
			"and the figures are not comparable - `make tools` installs moto %s (infra/tools/requirements.txt) into .venv/", v, motoPatchVersion, motoPatchVersion)
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
