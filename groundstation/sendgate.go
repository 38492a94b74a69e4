package groundstation

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gomavlib/v3"
)

// sendGate is the back-pressure gomavlib lacks on the way out. gomavlib
// queues each channel's writes in 64 slots and drops what does not fit,
// silently (WriteMessageTo still returns nil). Its writer goroutine
// empties the queue one datagram at a time, and on a busy machine it may
// not run for tens of milliseconds while uploads keep sending: measured
// against the simulator, a 700-item upload at 20 % link loss lost another
// ~21 % of the station's frames this way, which the upload read as link
// loss and answered with copies and go-backs — more frames, more drops.
//
// The station owns the connection gomavlib writes to on every link kind —
// a UDP server link's udpConn per remote, a gatedConn per TCP connection,
// dialled UDP socket or serial port (streamgate.go) — so it counts both
// ends: frames handed to gomavlib for a channel and frames gomavlib wrote.
// A sender finding sendGateLimit frames in between waits (up to
// sendGateWait) for the writer instead of overflowing the queue; if the
// writer does not free a slot in that time the frame is shed, counted
// (LinkInfo.SendShed) and logged, never dropped unseen. Senders are the
// sessions' own goroutines, so the wait paces the uploads of every vehicle
// behind one connection by how fast the station really writes — on a
// 57,600-baud radio, about 150 mission items a second.
type sendGate struct {
	written atomic.Uint64 // datagrams gomavlib wrote to the remote

	mu      sync.Mutex
	handed  uint64        // frames handed to gomavlib (never below written)
	waiting int           // senders blocked in acquire
	wake    chan struct{} // closed by wrote when senders wait
}

const (
	// sendGateLimit is how many frames may wait in gomavlib's 64-slot
	// queue; the slack covers the frames gomavlib sends on its own (its
	// HEARTBEAT), which the station does not hand over.
	sendGateLimit = 48
	// sendGateWait is how long a sender waits for a slot before the
	// frame is shed: far longer than a writer that runs at all needs to
	// write 48 datagrams, short enough that a stuck remote cannot hold a
	// session for long.
	sendGateWait = 250 * time.Millisecond
)

// acquire takes a slot for one frame, waiting up to wait for one; waited
// reports whether it had to wait, ok whether it got one (false: shed, or
// done closed).
func (g *sendGate) acquire(done <-chan struct{}, wait time.Duration) (waited, ok bool) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		g.mu.Lock()
		if w := g.written.Load(); g.handed < w {
			g.handed = w // gomavlib's own frames were written too
		}
		if g.handed-g.written.Load() < sendGateLimit {
			g.handed++
			g.mu.Unlock()
			return waited, true
		}
		if g.wake == nil {
			g.wake = make(chan struct{})
		}
		wake := g.wake
		g.waiting++
		g.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
		}
		waited = true
		var expired bool
		select {
		case <-wake:
		case <-timer.C:
			expired = true
		case <-done:
			expired = true
		}
		g.mu.Lock()
		g.waiting--
		g.mu.Unlock()
		if expired {
			return true, false
		}
	}
}

// wrote counts one datagram written and wakes the senders waiting for a
// slot.
func (g *sendGate) wrote() {
	g.written.Add(1)
	g.mu.Lock()
	if g.waiting > 0 && g.wake != nil {
		close(g.wake)
		g.wake = nil
	}
	g.mu.Unlock()
}

// sendCounters are a link's counts of what the station sent through its
// send gates (LinkInfo.SendFrames, SendWaited, SendShed).
type sendCounters struct {
	frames, waited, shed atomic.Uint64
	lastShedLog          atomic.Int64 // unix ns
	loggedShed           atomic.Uint64
}

// gated hands one frame to gomavlib through the send gate of ch's
// connection. write does the hand-over; it is not called when the frame is
// shed, and a shed frame is not an error: to the sender it is a frame the
// link lost, which the protocols retry. A channel without a gate (none is
// expected: every link kind has one) writes at once.
func (ln *linkRT) gated(ch *gomavlib.Channel, write func() error) error {
	ln.send.frames.Add(1)
	var g *sendGate
	var done <-chan struct{}
	if c := ln.udpConnOf(ch); c != nil {
		g, done = &c.gate, c.done
	} else if c := ln.streamGate(ch); c != nil {
		g, done = &c.gate, c.done
	}
	if g != nil {
		waited, ok := g.acquire(done, sendGateWait)
		if waited {
			ln.send.waited.Add(1)
		}
		if !ok {
			ln.shed()
			return nil
		}
	}
	return write()
}

// shed counts a frame the gate shed and logs at most every 10 s per link.
func (ln *linkRT) shed() {
	n := ln.send.shed.Add(1)
	now := time.Now().UnixNano()
	last := ln.send.lastShedLog.Load()
	if now-last < int64(10*time.Second) || !ln.send.lastShedLog.CompareAndSwap(last, now) {
		return
	}
	prev := ln.send.loggedShed.Swap(n)
	ln.st.log.Warn("frames to vehicles shed: gomavlib's write queue stayed full", "link", ln.l.name,
		"shed_since_last_log", n-prev, "total", n, "waited_for", sendGateWait)
}
