// Package yield bounds how long a goroutine doing a long run of work
// keeps its CPU.
//
// Go's scheduler has no priorities, and a P runs its timers, and the
// goroutines a channel operation readied, only when it schedules: a
// goroutine that encodes a 2,000-vehicle fleet in one go (the MQTT
// publisher, a WebSocket writer, a link's dispatcher behind on its
// socket) holds its P for milliseconds to tens of milliseconds — up to
// the 10 ms after which the runtime preempts it — and every link reader
// whose 2 ms wake-up timer is due on that P waits with it, while its
// datagrams wait in the kernel (runtime traces of `burgut serve` at 2,000
// vehicles at load 8: readers' 2 ms sleeps lasting 20 ms at the 99th
// percentile, 136 ms at worst).
// A Slice yields (runtime.Gosched) once its goroutine has worked for
// Budget since it last yielded, so such runs are cut into ~0.5 ms slices
// and a due timer or readied reader runs in between.
package yield

import (
	"runtime"
	"time"
)

// Budget is how long a Slice lets its goroutine run before it yields:
// short against the station's latency target (tens of ms end to end) and
// long against a goroutine switch (~1 µs), so yielding costs ~0.2 %.
const Budget = 500 * time.Microsecond

// checkEvery is how many Ticks pass between two looks at the clock.
const checkEvery = 16

// Slice is one goroutine's running slice, from its first Tick after a
// Yield or Reset (the zero value starts at its first Tick). Not for
// concurrent use.
type Slice struct {
	start time.Time
	n     int
	// Yields counts the times the goroutine yielded (for tests).
	Yields int
}

// Tick marks one unit of work done (one vehicle encoded, one datagram
// dispatched) and yields when the slice has used its Budget. It reports
// whether it yielded, so a caller holding a lock can release it first
// next time (see Due).
func (s *Slice) Tick() bool {
	if !s.Due() {
		return false
	}
	s.Yield()
	return true
}

// Due marks one unit of work done and reports whether the slice has used
// its Budget; the caller then releases what it holds and calls Yield.
func (s *Slice) Due() bool {
	s.n++
	if s.n == 1 {
		s.start = time.Now()
		return false
	}
	return s.n%checkEvery == 0 && time.Since(s.start) >= Budget
}

// Yield gives the CPU to other runnable goroutines (and lets the P run
// its due timers) and starts a new slice.
func (s *Slice) Yield() {
	runtime.Gosched()
	s.Yields++
	s.n = 0
}

// Reset starts a new slice at the next Tick: the goroutine blocked (or
// is about to) since its last one, so its CPU was given up anyway.
func (s *Slice) Reset() { s.n = 0 }
