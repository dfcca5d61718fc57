//go:build unix

package moto

import (
	"errors"
	"os/exec"
	"syscall"
)

// errAlreadyGone reports a signal sent to a process group that has exited.
var errAlreadyGone = errors.New("process already exited")

// setProcessGroup puts the child in its own process group so that Stop
// reaches the Python interpreter behind any wrapper script.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func terminate(cmd *exec.Cmd) error { return signalGroup(cmd, syscall.SIGTERM) }

func kill(cmd *exec.Cmd) error { return signalGroup(cmd, syscall.SIGKILL) }

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	err := syscall.Kill(-cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return errAlreadyGone
	}
	return err
}
