//go:build !linux

package natstest

import "syscall"

// sysProcAttr: elsewhere a test binary that dies leaves its servers running.
func sysProcAttr() *syscall.SysProcAttr { return nil }
