//go:build unix

package lambdalocal

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the emulator in its own process group, so that
// killGroup reaches the function binary it started too.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killGroup(cmd *exec.Cmd) error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
