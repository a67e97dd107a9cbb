package natstest

import "syscall"

// sysProcAttr makes a server process get SIGKILL when the test binary
// that started it dies (a panic, a test timeout), so none is left running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
