package audit

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockFile takes an exclusive lock on the open log without waiting, so a
// second station on the same data directory fails instead of interleaving
// its lines. Windows locks byte ranges and enforces them on other
// handles: the locked byte lies far past any log's end, so readers of the
// log are not refused.
func lockFile(f *os.File) error {
	ol := &windows.Overlapped{OffsetHigh: 0x7fffffff}
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
}
