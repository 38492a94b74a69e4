//go:build !windows

package tlog

import "syscall"

// openFileLimit is the process's soft limit on open files.
func openFileLimit() (uint64, bool) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, false
	}
	return uint64(lim.Cur), true // int64 on FreeBSD
}
