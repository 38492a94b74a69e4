//go:build !windows

package cputime

import (
	"syscall"
	"time"
)

// Process is this process's user+system CPU time so far (0 if the kernel
// cannot say).
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
