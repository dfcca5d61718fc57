// Package tools holds what the Makefile uses to get the pinned Python tools
// (pytools.sh, requirements.txt); these tests run pytools.sh in a copy of the
// project layout, with fake tools and a PATH that holds nothing else.
package tools

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// pins reads the versions requirements.txt pins moto and cfn-lint to.
func pins(t *testing.T) (moto, cfnLint string) {
	t.Helper()
	req, err := os.ReadFile("requirements.txt")
	if err != nil {
		t.Fatal(err)
	}
	pin := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\[[a-z,]+\])?==(\S+)$`).FindSubmatch(req)
		if m == nil {
			t.Fatalf("requirements.txt pins no %s", name)
		}
		return string(m[2])
	}
	return pin("moto"), pin("cfn-lint")
}

// project copies pytools.sh and requirements.txt into a new project root.
func project(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "infra", "tools")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pytools.sh", "requirements.txt"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// basicPath is a directory of the few commands pytools.sh needs besides the
// tools themselves, so that no moto_server, cfn-lint, python3 or apt-get of
// this machine is on PATH.
func basicPath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"bash", "sh", "dirname", "basename", "sed", "head", "mkdir", "rm", "id", "env"} {
		target, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fakeTools writes moto_server and cfn-lint console scripts into dir whose
// interpreter, a fake python, reports the given versions of moto and cfn-lint.
func fakeTools(t *testing.T, dir, moto, cfnLint string) {
	t.Helper()
	python := filepath.Join(dir, "python")
	write(t, python, "#!/bin/sh\n# a python that answers importlib.metadata questions only\n"+
		"for last; do :; done\n"+
		"case $last in moto) echo "+moto+";; cfn-lint) echo "+cfnLint+";; *) echo "+moto+" "+cfnLint+";; esac\n")
	for _, tool := range []string{"moto_server", "cfn-lint"} {
		write(t, filepath.Join(dir, tool), "#!"+python+"\nraise SystemExit('not to be run')\n")
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

// run runs pytools.sh of root with exactly env and returns its output and
// exit code.
func run(t *testing.T, root string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(root, "infra", "tools", "pytools.sh"), args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run pytools.sh: %v", err)
	}
	return out.String(), errOut.String(), code
}

func TestEnsureUsesToolsOnPathWithoutInstalling(t *testing.T) {
	moto, cfnLint := pins(t)
	for _, test := range []struct {
		name              string
		moto, cfnLint     string
		wantOut, wantNote string
	}{
		{
			name: "pinned versions", moto: moto, cfnLint: cfnLint,
			wantOut: "Using moto " + moto + " (moto_server on PATH)\nUsing cfn-lint " + cfnLint + " (cfn-lint on PATH)\n",
		},
		{
			name: "another moto", moto: "5.0.0", cfnLint: cfnLint,
			wantOut:  "Using cfn-lint " + cfnLint + " (cfn-lint on PATH)\n",
			wantNote: "note: moto_server on PATH is moto 5.0.0; the suite is tested with moto " + moto,
		},
		{
			name: "another cfn-lint", moto: moto, cfnLint: "0.87.0",
			wantOut:  "Using moto " + moto + " (moto_server on PATH)\n",
			wantNote: "note: cfn-lint on PATH is cfn-lint 0.87.0; the suite is tested with cfn-lint " + cfnLint,
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			root, bin := project(t), t.TempDir()
			fakeTools(t, bin, test.moto, test.cfnLint)
			out, errOut, code := run(t, root, []string{"PATH=" + bin + ":" + basicPath(t)}, "ensure", "moto_server", "cfn-lint")
			if code != 0 {
				t.Fatalf("ensure exited %d: %s%s", code, out, errOut)
			}
			if out != test.wantOut {
				t.Errorf("ensure printed %q, want %q", out, test.wantOut)
			}
			switch {
			case test.wantNote == "" && errOut != "":
				t.Errorf("ensure warned %q, want nothing", errOut)
			case test.wantNote != "" && (!strings.Contains(errOut, test.wantNote) || strings.Count(errOut, "\n") != 1):
				t.Errorf("ensure warned %q, want one line with %q", errOut, test.wantNote)
			}
			if _, err := os.Stat(filepath.Join(root, ".venv")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("ensure built .venv/ (stat: %v), want the tools on PATH used as they are", err)
			}
		})
	}
}

func TestPathUsesOnlyACompleteVenv(t *testing.T) {
	moto, cfnLint := pins(t)
	for _, test := range []struct {
		name          string
		moto, cfnLint string
		building      bool // the marker a build leaves until it succeeds
		wantVenv      bool
	}{
		{name: "complete", moto: moto, cfnLint: cfnLint, wantVenv: true},
		{name: "build unfinished", moto: moto, cfnLint: cfnLint, building: true},
		{name: "another moto", moto: "5.0.0", cfnLint: cfnLint},
		{name: "another cfn-lint", moto: moto, cfnLint: "0.87.0"},
	} {
		t.Run(test.name, func(t *testing.T) {
			root := project(t)
			venvBin := filepath.Join(root, ".venv", "bin")
			fakeTools(t, venvBin, test.moto, test.cfnLint)
			if test.building {
				write(t, filepath.Join(root, ".venv", ".rekey-building"), "")
			}
			basic := basicPath(t)
			out, errOut, code := run(t, root, []string{"PATH=" + basic}, "path")
			if code != 0 {
				t.Fatalf("path exited %d: %s", code, errOut)
			}
			want := basic + "\n"
			if test.wantVenv {
				want = venvBin + ":" + basic + "\n"
			}
			if out != want {
				t.Errorf("path = %q, want %q", out, want)
			}
		})
	}
}

// TestEnsureBuildsVenvAndFailsCleanlyOffline runs the real python3 -m venv
// and pip against a package index that cannot be reached, as on a machine
// without network: the message gives the commands that work on Debian and
// Ubuntu, and no .venv/ is left for a later run to mistake for a good one.
func TestEnsureBuildsVenvAndFailsCleanlyOffline(t *testing.T) {
	python := "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import ensurepip, venv").Run(); err != nil {
		t.Skipf("%s cannot build a virtual environment here (python3-venv missing?): %v", python, err)
	}
	root := project(t)
	out, errOut, code := run(t, root, []string{
		"PATH=" + basicPath(t), "PYTHON=" + python, "HOME=" + t.TempDir(),
		// Port 9 (discard) refuses connections: pip fails at once, as offline.
		"PIP_INDEX_URL=http://127.0.0.1:9/simple", "PIP_FIND_LINKS=", "PIP_RETRIES=0", "PIP_TIMEOUT=5",
		"PIP_CONFIG_FILE=/dev/null", "PIP_NO_CACHE_DIR=1",
	}, "ensure", "moto_server")
	if code != 1 {
		t.Fatalf("ensure exited %d, want 1: %s%s", code, out, errOut)
	}
	for _, want := range []string{"moto_server not found", "Preparing the Python tools: building .venv/"} {
		if !strings.Contains(out, want) {
			t.Errorf("ensure printed %q, want it to say %q", out, want)
		}
	}
	for _, want := range []string{
		"pip could not install infra/tools/requirements.txt",
		"    sudo apt-get install -y python3-venv\n",
		"    python3 -m venv .venv\n",
		"    .venv/bin/pip install -r infra/tools/requirements.txt\n",
		"AWS_ENDPOINT_URL",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("ensure error output %q, want it to contain %q", errOut, want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, ".venv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed build left .venv/ behind (stat: %v)", err)
	}
}
