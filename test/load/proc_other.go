//go:build !linux

package main

import "syscall"

// childAttr sets nothing where there is no parent-death signal; stop still
// ends the children of a run that finishes.
func childAttr() *syscall.SysProcAttr { return nil }
