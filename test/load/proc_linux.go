//go:build linux

package main

import "syscall"

// childAttr makes a child process (portreqd, the ceiling server) receive
// SIGTERM when this tool dies, so that an interrupted run leaves nothing
// listening.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
