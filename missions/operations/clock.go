package operations

import (
	"sync"
	"time"
)

// clock is the scheduler's clock, the "wall" every operation clock runs
// from (Operation.Now): the wall clock less the lag of the world the
// operations fly in (Config.Lag). Under burgut run that is the in-process
// simulator's lag, so the operation clocks keep step with the simulated
// world when a loaded machine slows it; with no Lag it is the wall clock.
//
// It also puts past wall times on itself (At): a vehicle state carries the
// wall time it was received (fleet.Vehicle.LastSeen), and how old that
// state is in operation seconds is the scheduler clock's advance since
// then, not the wall clock's — after a stall that set the simulator 3 s
// behind, "now less 3 s" minus a receive time just before now came out
// negative, and every state counted as brand new.
type clock struct {
	wall func() time.Time
	lag  func() time.Duration // nil: no lag, the wall clock

	mu sync.Mutex
	// samples of the lag at wall times, oldest first in ring order from
	// next; n of them are filled.
	at   [clockSamples]time.Time
	lags [clockSamples]time.Duration
	n    int
	next int
}

// clockSamples bounds the lag history; samples are taken at most every
// clockEvery, so it reaches back at least clockSamples × clockEvery (over
// 10 s of wall time, minutes of operation time at any speedup where the
// lag matters). A state older than that is timed with the oldest sample's
// lag, which can only understate its age by the lag gathered before it.
const (
	clockSamples = 1024
	clockEvery   = 10 * time.Millisecond
)

func newClock(wall func() time.Time, lag func() time.Duration) *clock {
	if wall == nil {
		wall = time.Now
	}
	return &clock{wall: wall, lag: lag}
}

// Now is the scheduler clock now.
func (c *clock) Now() time.Time {
	w := c.wall()
	if c.lag == nil {
		return w
	}
	l := c.lag()
	c.mu.Lock()
	if c.n == 0 || !w.Before(c.at[(c.next+clockSamples-1)%clockSamples].Add(clockEvery)) {
		c.at[c.next], c.lags[c.next] = w, l
		c.next = (c.next + 1) % clockSamples
		c.n = min(c.n+1, clockSamples)
	}
	c.mu.Unlock()
	return w.Add(-l)
}

// At is the scheduler clock at a past wall time w: w less the lag then,
// interpolated between the samples Now took (the newest sample's lag for
// a w after it, the oldest's for one before it). The zero time stays
// zero.
func (c *clock) At(w time.Time) time.Time {
	if c.lag == nil || w.IsZero() {
		return w
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		return w.Add(-c.lag())
	}
	oldest := (c.next - c.n + clockSamples) % clockSamples
	sample := func(i int) (time.Time, time.Duration) {
		k := (oldest + i) % clockSamples
		return c.at[k], c.lags[k]
	}
	// The last sample at or before w (binary search over ring order).
	lo, hi := 0, c.n // samples [0, lo) are at or before w
	for lo < hi {
		mid := (lo + hi) / 2
		if t, _ := sample(mid); !t.After(w) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	switch {
	case lo == 0:
		_, l := sample(0)
		return w.Add(-l)
	case lo == c.n:
		_, l := sample(c.n - 1)
		return w.Add(-l)
	}
	t0, l0 := sample(lo - 1)
	t1, l1 := sample(lo)
	f := float64(w.Sub(t0)) / float64(t1.Sub(t0))
	return w.Add(-(l0 + time.Duration(f*float64(l1-l0))))
}
