package moto

import (
	"bufio"
	_ "embed"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// patchScript runs moto_server with an item-level rollback for DynamoDB
// transactions instead of moto 5.2.1's copy of the whole table per item
// (see the script for why and for what it leaves unchanged). Tests, the
// benchmarks and the local runner all start moto through it.
//
//go:embed patch.py
var patchScript string

// UnpatchedEnv, set to any value, runs moto_server exactly as installed.
const UnpatchedEnv = "REKEY_MOTO_UNPATCHED"

// command is the moto_server command: through patchScript with the Python
// that runs moto_server (its #! line when that names a Python, else
// python3), which falls back to bin itself when that Python has no moto;
// bin as it is on Windows, without python3, or with UnpatchedEnv set.
func command(bin string, args ...string) *exec.Cmd {
	if runtime.GOOS == "windows" || os.Getenv(UnpatchedEnv) != "" {
		return exec.Command(bin, args...)
	}
	python := interpreter(bin)
	if python == nil {
		path, err := exec.LookPath("python3")
		if err != nil {
			return exec.Command(bin, args...)
		}
		python = []string{path}
	}
	argv := append(append(python[1:], "-c", patchScript, bin), args...)
	return exec.Command(python[0], argv...)
}

// interpreter is the Python named on bin's #! line ("#!/venv/bin/python"
// or "#!/usr/bin/env python3"), or nil when it names none (a wrapper
// script such as a version manager's shim).
func interpreter(bin string) []string {
	f, err := os.Open(bin)
	if err != nil {
		return nil
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "#!") {
		return nil
	}
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(fields) == 0 || !strings.Contains(fields[len(fields)-1], "python") {
		return nil
	}
	return fields
}
