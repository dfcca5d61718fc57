package mototest

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/rekey/rekey/infra/moto"
)

// fastMotoScript runs moto_server with its TransactWriteItems backup taken
// once per table instead of once per item (see the script's doc string):
// the bulk tests' 96-item chunk writes spent most of their time in those
// copies. moto's answers are unchanged.
//
//go:embed fastmoto.py
var fastMotoScript []byte

// startFastMoto starts moto_server through fastmoto.py: moto.Start finds a
// moto_server wrapper first on PATH, which runs the script with python3 and
// falls back to the real moto_server when python3 is missing or has no
// moto. REKEY_MOTO_UNPATCHED=1 starts the real one directly.
func startFastMoto() (*moto.Server, error) {
	real, err := exec.LookPath("moto_server")
	if err != nil || runtime.GOOS == "windows" || os.Getenv("REKEY_MOTO_UNPATCHED") != "" {
		return moto.Start(context.Background()) // reports a missing moto_server
	}
	if real, err = filepath.Abs(real); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mototest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir) // moto_server has read the script by the time Start returns
	script := filepath.Join(dir, "fastmoto.py")
	wrapper := "#!/bin/sh\n" +
		"command -v python3 >/dev/null 2>&1 || exec " + shellQuote(real) + " \"$@\"\n" +
		"exec python3 " + shellQuote(script) + " " + shellQuote(real) + " \"$@\"\n"
	if err := os.WriteFile(script, fastMotoScript, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "moto_server"), []byte(wrapper), 0o700); err != nil {
		return nil, err
	}
	path := os.Getenv("PATH")
	if err := os.Setenv("PATH", dir+string(os.PathListSeparator)+path); err != nil {
		return nil, err
	}
	defer os.Setenv("PATH", path)
	server, err := moto.Start(context.Background())
	if err != nil {
		return nil, fmt.Errorf("%w (started through mototest's fastmoto.py; REKEY_MOTO_UNPATCHED=1 skips it)", err)
	}
	return server, nil
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
