package groundstation

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// batchClock wakes the busy UDP link readers at every multiple of its
// period on the wall clock (all links' readers together, as the readers'
// own sleeps did), from one goroutine that sleeps in the kernel
// (clock_nanosleep) instead of on a Go timer.
//
// Why not time.Sleep: a P runs its due timers only when it schedules, and
// during a GC mark phase an otherwise idle P runs the collector's
// idle-priority mark worker, which gives its P back for runnable
// goroutines and network events but never looks at timers — so the
// readers' 2 ms sleeps lasted as long as the mark work (p99 279 ms during
// mark phases against 41 ms outside them in a runtime trace of `burgut
// serve` at 2,000 vehicles), and their datagrams waited in the kernel.
// A goroutine returning from a system call without a P is queued on the
// scheduler's global run queue, which the idle mark worker does check;
// so the clock's wake-up reaches the readers either way. (A test program:
// 2 ms sleeps on 2 Ps beside a 150 MB heap under GC, load 16–22: Go timer
// p99 13–32 ms, clock_nanosleep 7–10 ms; with GOGC=off the timer's p99
// was 10 ms.)
//
// The clock runs only while a reader waits for it: a tick is sent only to
// a reader waiting at that moment (unbuffered channels), and after
// clockIdleTicks ticks that reached nobody the clock stops sleeping and
// waking and waits for a reader to ask again (want). An idle station's
// clock woke 500 times a second for nothing, each wake-up readying
// another thread for its Gosched: serve with 8 UDP links and no vehicle
// used 2.9–3.6 % of a core, most of it that (1.1–1.5 % since).
type batchClock struct {
	period time.Duration
	mu     sync.Mutex
	subs   map[chan struct{}]struct{}
	want   chan struct{} // a reader is about to wait for a tick (buffered 1)
	stop   chan struct{}
	done   chan struct{}
	parks  atomic.Uint64 // times the clock stopped for want of readers (tests)
}

// clockIdleTicks is how many ticks in a row may reach no reader before the
// clock waits for want instead (100 ms at the readers' 2 ms).
const clockIdleTicks = 50

var batchClocks struct {
	mu sync.Mutex
	m  map[time.Duration]*batchClock
}

// subscribeBatchClock returns a channel that receives at every multiple
// of period while the subscriber waits on it (a tick nobody waits for is
// not kept), want, which the subscriber calls before each wait (it starts
// a clock that stopped for want of readers), and a cancel that the
// subscriber calls when it stops reading; the last cancel stops the
// clock's goroutine and waits for it.
func subscribeBatchClock(period time.Duration) (tick <-chan struct{}, want, cancel func()) {
	batchClocks.mu.Lock()
	defer batchClocks.mu.Unlock()
	if batchClocks.m == nil {
		batchClocks.m = map[time.Duration]*batchClock{}
	}
	c := batchClocks.m[period]
	if c == nil {
		c = &batchClock{period: period, subs: map[chan struct{}]struct{}{}, want: make(chan struct{}, 1),
			stop: make(chan struct{}), done: make(chan struct{})}
		batchClocks.m[period] = c
		go c.run()
	}
	ch := make(chan struct{})
	c.mu.Lock()
	c.subs[ch] = struct{}{}
	c.mu.Unlock()
	var once sync.Once
	want = func() {
		select {
		case c.want <- struct{}{}:
		default: // already asked
		}
	}
	return ch, want, func() {
		once.Do(func() {
			batchClocks.mu.Lock()
			c.mu.Lock()
			delete(c.subs, ch)
			last := len(c.subs) == 0
			c.mu.Unlock()
			if last {
				delete(batchClocks.m, period)
				close(c.stop)
			}
			batchClocks.mu.Unlock()
			if last {
				<-c.done
			}
		})
	}
}

func (c *batchClock) run() {
	defer close(c.done)
	w := int64(c.period)
	idle := 0 // ticks in a row that reached no reader
	for {
		if idle >= clockIdleTicks {
			// Nobody waits: sleep until a reader asks. A want from before
			// (the buffer keeps one) only costs another idle round.
			c.parks.Add(1)
			select {
			case <-c.stop:
				return
			case <-c.want:
				idle = 0
			}
		}
		select {
		case <-c.stop:
			return
		default:
		}
		next := (time.Now().UnixNano()/w + 1) * w
		ts := unix.NsecToTimespec(next)
		for unix.ClockNanosleep(unix.CLOCK_REALTIME, unix.TIMER_ABSTIME, &ts, nil) == unix.EINTR {
		}
		readied := 0
		c.mu.Lock()
		for ch := range c.subs {
			select {
			case ch <- struct{}{}:
				readied++
			default: // not waiting now: it waits for the next tick
			}
		}
		c.mu.Unlock()
		if readied == 0 {
			idle++
			continue
		}
		idle = 0
		// The readers just readied wait on this P's run queue: let them
		// run now rather than when the runtime takes the P back from the
		// next sleep (its monitor looks every 20 µs to 10 ms). Only then:
		// Gosched readies another thread to take this goroutine back.
		runtime.Gosched()
	}
}
