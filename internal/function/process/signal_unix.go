//go:build unix

package process

import "syscall"

// signalGroup signals the process group of pid (the process and its children).
func signalGroup(pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig)
}
