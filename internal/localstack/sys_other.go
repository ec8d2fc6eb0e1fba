//go:build unix && !linux

package localstack

import "syscall"

// childAttr has no parent-death signal outside Linux; Close still stops the
// emulators.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{}
}
