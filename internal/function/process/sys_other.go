//go:build unix && !linux

package process

import "syscall"

// sysProcAttr puts the process in a group of its own, so a kill reaches
// its children too. (Only Linux can have the kernel kill it when sluice
// dies; elsewhere the process ends when its Runtime API goes away.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
