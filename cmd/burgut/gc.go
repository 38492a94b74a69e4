package main

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// serveGCPercent is the garbage collector's target (GOGC) for `burgut
// serve` and `burgut run` when the environment does not set GOGC.
//
// Why 200, not Go's 100: under fleet load the station's live heap is
// ~75-100 MB of long-lived state (vehicle records, bounded subscriber and
// tlog queues) while it allocates ~40 MB/s of short-lived batches; at 100
// the collector ran every ~2 s at 1,000 vehicles, ~100 ms of CPU each (a
// mark of the whole live heap), 7-10 % of the station's CPU. At 200 it
// runs half as often for one more live heap of memory (RSS +60-100 MB at
// 1,000-2,000 vehicles), still bounded: the heap target is three times
// the live heap, which is flat under a steady load (BENCHMARKS.md).
// GOGC (and GOMEMLIMIT) in the environment take precedence, as for any
// Go program.
const serveGCPercent = 200

// applyGCDefault sets serveGCPercent unless GOGC is set, and reports the
// GOGC in force (-1 = off).
func applyGCDefault(log *slog.Logger) int {
	if _, set := os.LookupEnv("GOGC"); set {
		pct := debug.SetGCPercent(100) // read the environment's value back
		debug.SetGCPercent(pct)
		return pct
	}
	debug.SetGCPercent(serveGCPercent)
	log.Debug("garbage collector target", "gogc", serveGCPercent)
	return serveGCPercent
}
