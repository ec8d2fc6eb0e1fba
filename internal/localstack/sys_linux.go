package localstack

import "syscall"

// childAttr makes an emulator receive SIGTERM when the Go process dies, so a
// crashed test or CLI leaves no orphan servers behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
