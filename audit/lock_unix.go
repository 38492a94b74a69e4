//go:build !windows

package audit

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on the open log without waiting, so a
// second station on the same data directory fails instead of interleaving
// its lines (the lock goes with the process).
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
