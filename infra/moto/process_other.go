//go:build !unix

package moto

import (
	"errors"
	"os"
	"os/exec"
)

var errAlreadyGone = os.ErrProcessDone

func setProcessGroup(*exec.Cmd) {}

func terminate(cmd *exec.Cmd) error { return kill(cmd) }

func kill(cmd *exec.Cmd) error {
	err := cmd.Process.Kill()
	if errors.Is(err, os.ErrProcessDone) {
		return errAlreadyGone
	}
	return err
}
