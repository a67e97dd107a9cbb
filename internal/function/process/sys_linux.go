package process

import "syscall"

// sysProcAttr puts the process in a group of its own (so a kill reaches
// its children too) and has the kernel kill it when sluice dies, even by
// SIGKILL: a function's processes never outlive their node.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
