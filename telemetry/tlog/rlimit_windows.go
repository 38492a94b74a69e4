package tlog

// openFileLimit: Windows has no per-process soft limit on open files to
// size the recorder by (it is bounded by memory): the default stands.
func openFileLimit() (uint64, bool) { return 0, false }
