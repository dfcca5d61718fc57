package moto

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestInterpreter(t *testing.T) {
	dir := t.TempDir()
	for _, test := range []struct {
		name, first string
		want        []string
	}{
		{"a venv's python", "#!/work/.venv/bin/python3\n", []string{"/work/.venv/bin/python3"}},
		{"env python3", "#!/usr/bin/env python3\n", []string{"/usr/bin/env", "python3"}},
		{"a shell wrapper (a version manager's shim)", "#!/usr/bin/env bash\n", nil},
		{"no #! line", "moto_server\n", nil},
		{"an empty #! line", "#!\n", nil},
	} {
		t.Run(test.name, func(t *testing.T) {
			bin := filepath.Join(dir, strings.ReplaceAll(test.name, " ", "_"))
			if err := os.WriteFile(bin, []byte(test.first+"echo\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			if got := interpreter(bin); !slices.Equal(got, test.want) {
				t.Errorf("interpreter(%q) = %q, want %q", test.first, got, test.want)
			}
		})
	}
	if got := interpreter(filepath.Join(dir, "missing")); got != nil {
		t.Errorf("interpreter(a missing file) = %q, want nil", got)
	}
}

func TestCommand(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "moto_server")
	if err := os.WriteFile(bin, []byte("#!/opt/venv/bin/python3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := command(bin, "-p", "5000")
	if cmd.Path != "/opt/venv/bin/python3" || len(cmd.Args) != 6 || cmd.Args[1] != "-c" || cmd.Args[2] != patchScript ||
		cmd.Args[3] != bin || cmd.Args[4] != "-p" || cmd.Args[5] != "5000" {
		t.Errorf("command() = %s %q..., want moto_server's python running the patch, then moto_server's path and arguments", cmd.Path, cmd.Args[:2])
	}
	t.Setenv(UnpatchedEnv, "1")
	if cmd := command(bin, "-p", "5000"); cmd.Path != bin || !slices.Equal(cmd.Args[1:], []string{"-p", "5000"}) {
		t.Errorf("command() with %s set = %s %q, want moto_server itself", UnpatchedEnv, cmd.Path, cmd.Args)
	}
}

// TestStartWithAPythonWithoutMoto: when the Python that would run the
// patch cannot import moto (moto_server installed for another Python),
// the real moto_server starts instead.
func TestStartWithAPythonWithoutMoto(t *testing.T) {
	real, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3: Start runs moto_server itself, which TestStartResetStop covers")
	}
	if _, err := exec.LookPath("moto_server"); err != nil {
		t.Fatalf("moto_server: %v", err)
	}
	// python3 -I -S: no site packages, so no moto.
	dir := t.TempDir()
	script := "#!/bin/sh\nexec " + real + " -I -S \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "python3"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	s, err := Start(context.Background())
	if err != nil {
		t.Fatalf("Start() with a python3 without moto: %v, want the real moto_server started", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop() error: %v", err)
	}
}
