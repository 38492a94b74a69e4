package main

import (
	"log/slog"
	"os"
	"runtime"
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

// serveProcsPerCPU is how many Go processors (GOMAXPROCS) `burgut serve`
// and `burgut run` run per CPU Go would use by default, when the
// environment does not set GOMAXPROCS.
//
// Why more Ps than CPUs: the link readers wake on a clock every 2 ms and
// must read their sockets then, but a P runs timers and polls the network
// only when it schedules, and under fleet load both Ps are often held for
// milliseconds at a time by long runs (a dispatcher's batch, a WebSocket
// writer's frame, the recorder) and by the garbage collector's idle mark
// workers, which take idle Ps and fire no timers. A datagram then sat in
// the kernel for the length of that run: at 2,000 vehicles on 2 CPUs the
// `socket` stage's p99 was 28–33 ms with 2 Ps and 8–9 ms with 4, the
// WebSocket clients' p99 71–127 ms against 10–24 ms (10 clients) and 222
// against 35 ms (100 clients), for 0–4 points more CPU (BENCHMARKS.md,
// "GOMAXPROCS"). With spare Ps the kernel time-slices their threads, so
// a ready reader waits a scheduler tick, not a whole run.
const serveProcsPerCPU = 2

// applyProcsDefault sets GOMAXPROCS to serveProcsPerCPU times Go's own
// default (which already follows the CPUs and a container's CPU limit)
// unless GOMAXPROCS is set, and reports the GOMAXPROCS in force. It takes
// Go's default afresh, not the setting in force: serve run again in one
// process doubled that every time, and cmd/burgut's tests, which run it
// in process, reached 131,072 Ps (16 doublings) at -count=3 and died of
// thread exhaustion (the runtime's 10,000 threads) under load.
func applyProcsDefault(log *slog.Logger) int {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return runtime.GOMAXPROCS(0)
	}
	runtime.SetDefaultGOMAXPROCS()
	n := serveProcsPerCPU * runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(n)
	log.Debug("Go processors", "gomaxprocs", n)
	return n
}
