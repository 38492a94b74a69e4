package groundstation

import (
	"bytes"
	"math"
	"net/netip"
	"strings"
	"time"
	"unsafe"

	"github.com/bluenviron/gomavlib/v3"

	"github.com/burgut-uav/burgut/internal/yield"
)

// drainUDP takes everything the link's socket reader staged and
// dispatches it, under the link's lock, on the dispatcher goroutine.
func (ln *linkRT) drainUDP(l *udpListener) {
	// Everything the reader read before it last found the socket empty is
	// staged now: once this batch is handled, the link has caught up to
	// that moment.
	empty := l.emptyAt.Load()
	l.take(&ln.batch)
	b := &ln.batch
	taken := time.Now().UnixNano()
	// A station behind its sockets takes thousands of datagrams at once:
	// they are dispatched in slices of yield.Budget, so the link readers
	// (whose 2 ms wake-ups are timers this P runs only when it schedules)
	// and the other links' dispatchers run in between.
	var slice yield.Slice
	from := 0
	observe := func(to int) {
		done := time.Now().UnixNano()
		for i := from; i < to; i++ {
			l.lat.staged.ObserveSince(b.items[i].at, taken)
			l.lat.dispatched.ObserveSince(b.items[i].at, done)
		}
		l.queued.Add(-int64(to - from))
		from = to
	}
	ln.mu.Lock()
	ln.batching = true
	for i := range b.items {
		if i%warmAhead == 0 {
			ln.warm(b, i, min(i+warmAhead, len(b.items)))
		}
		ln.onDatagram(b.items[i].c, b.bytes(i), time.Unix(0, b.items[i].at))
		if slice.Due() && i+1 < len(b.items) {
			ln.endBatch()
			ln.mu.Unlock()
			observe(i + 1)
			slice.Yield()
			ln.mu.Lock()
			ln.batching = true
		}
	}
	ln.endBatch()
	ln.mu.Unlock()
	observe(len(b.items))
	if empty > ln.caughtUp.Load() {
		ln.caughtUp.Store(empty)
	}
}

// warm reads, for every datagram of a batch, the records its frame will
// be dispatched to — its remote's conn, its component (with the lines of
// the sequence tracker the frame updates) and its vehicle (the lines of
// the fields every frame updates) — before the first is dispatched, and
// keeps a sum of what it read (warmSink) so that the loads stay.
//
// Why: each frame comes from a different vehicle than the one before, so
// its records are cold, and dispatching it stalls on one cache miss after
// another (perf put most of onFrame's and attach's own samples on the
// instruction after a record's first load). Loads for different
// datagrams do not depend on each other, so this loop has their misses
// outstanding together, where dispatching takes them one at a time.
// Only the first frame of a datagram (the load generator's and nearly
// every autopilot's one frame) is looked up; what it reads changes
// nothing. drainUDP warms warmAhead datagrams at a time: a batch is a few
// dozen at the fleet's rate, but thousands when the station fell behind,
// and records read that far ahead would be evicted before their turn.
func (ln *linkRT) warm(b *stageBuf, from, to int) {
	var sum uintptr
	for i := from; i < to; i++ {
		c := b.items[i].c
		sum += uintptr(unsafe.Pointer(c.ch))
		seq, sys, comp, ok := frameIDs(b.bytes(i))
		if !ok {
			continue
		}
		cr := ln.comps.get(vkey{sys, comp})
		if cr == nil {
			continue
		}
		sum += uintptr(cr.seq.last) + uintptr(cr.seq.sums[seq]) + uintptr(cr.seq.lastAt.UnixNano())
		if r := cr.rec; r != nil {
			sum += uintptr(unsafe.Pointer(r.ch.Load())) + uintptr(r.lastFrame.UnixNano()) + uintptr(r.received) +
				uintptr(math.Float64bits(r.lossToSess))
			if r.published {
				sum++
			}
		}
	}
	ln.warmSink = sum
}

// warmAhead is how many datagrams warm reads ahead of their dispatch.
const warmAhead = 64

// onDatagram decodes and dispatches one datagram of a UDP server link
// (under the link's lock); data is only valid during the call.
func (ln *linkRT) onDatagram(c *udpConn, data []byte, at time.Time) {
	if c.ch == nil {
		// gomavlib has not opened this remote's channel yet (it does within
		// milliseconds of the first datagram): hold the datagram, so the
		// vehicle's first frames are handled knowing how to answer it.
		if len(c.held) >= c.l.maxQueue {
			c.l.drops[dropHold].Add(1)
			c.shedAt.Store(at.UnixNano())
			return
		}
		c.held = append(c.held, heldDatagram{at: at, data: bytes.Clone(data)})
		c.l.queued.Add(1)
		return
	}
	ln.decodeDatagram(c.ch, data, at)
}

// decodeDatagram dispatches every frame of a datagram; the first bytes
// that are not a valid frame are one parse error and end the datagram.
func (ln *linkRT) decodeDatagram(ch *gomavlib.Channel, data []byte, at time.Time) {
	for len(data) > 0 {
		f, n, err := ln.dec.decode(data)
		if err != nil {
			ln.onParseError(err, ch, at)
			return
		}
		ln.onFrame(f, ch, data[:n], at)
		data = data[n:]
	}
}

// udpConnOf finds the conn of a channel gomavlib opened on the link's UDP
// listener, by the remote address in the channel's label.
func (ln *linkRT) udpConnOf(ch *gomavlib.Channel) *udpConn {
	l := ln.udp.Load()
	if l == nil || ch == nil {
		return nil
	}
	addr, ok := strings.CutPrefix(ch.String(), udpChannelLabel+":")
	if !ok {
		return nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil
	}
	return l.lookup(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
}

// udpChannelOpened gives a conn its channel and dispatches what it held.
func (ln *linkRT) udpChannelOpened(ch *gomavlib.Channel) {
	c := ln.udpConnOf(ch)
	if c == nil || c.ch != nil {
		return
	}
	c.ch = ch
	held := c.held
	c.held = nil
	c.l.queued.Add(-int64(len(held)))
	for _, h := range held {
		ln.decodeDatagram(ch, h.data, h.at)
	}
}

// udpChannelClosed takes a closed channel from its conn (if the conn is
// still there: normally gomavlib closed it first, so the remote's next
// datagram opens a new one).
func (ln *linkRT) udpChannelClosed(ch *gomavlib.Channel) {
	if c := ln.udpConnOf(ch); c != nil && c.ch == ch {
		c.ch = nil
	}
}

// udpCaughtUp notes, at a tick, that the link has handled everything:
// its reader waits on an empty socket and nothing is staged. It also
// notes when the kernel last dropped datagrams at the link's socket
// (its buffer full): they came from remotes unknown, any of which may
// have sent a HEARTBEAT the station never saw.
func (ln *linkRT) udpCaughtUp(now time.Time) {
	l := ln.udp.Load()
	if l == nil {
		return
	}
	drops, rx, err := l.socketMemInfo()
	if err == nil && drops != ln.sockDrops {
		ln.sockDrops = drops
		ln.sockShedAt = now // dropped since the last tick: at now at the latest
	}
	if !l.waiting.Load() || l.staged() > 0 {
		return
	}
	if err != nil || rx == 0 { // unknown (not Linux): trust waiting
		ln.caughtUp.Store(now.UnixNano())
	}
}

// udpDropLog is what a link last reported of the datagrams it lost before
// decoding them (logUDPDrops).
type udpDropLog struct {
	at     time.Time // last check
	drops  [nUDPDrops]uint64
	socket uint64 // the kernel's drops at the socket (SO_MEMINFO)
}

// udpDropLogEvery is how often, at most, a link logs the datagrams it
// dropped.
const udpDropLogEvery = 10 * time.Second

// logUDPDrops logs, at most every udpDropLogEvery, the datagrams the link
// lost since its last report: dropped by the kernel at its socket (the
// receive buffer full; a UDP client link's sockets too) or by the queues
// between a UDP server link's socket and its dispatcher (staging, a new
// remote's hold queue, the queue of new remotes). Each is counted as it
// happens (LinkInfo, /metrics, health); the staging buffer's drops used
// to be counted only, under a help text that described the hold queue,
// so a starved 2,000-vehicle run lost 30 % of its frames there with
// nothing in its log (and a benchmark that did not read that counter
// found them missing).
func (ln *linkRT) logUDPDrops(now time.Time) {
	l := ln.udp.Load()
	if l == nil && ln.l.kind != "udpc" {
		return
	}
	dl := &ln.dropLog
	if now.Sub(dl.at) < udpDropLogEvery {
		return
	}
	dl.at = now
	var since, total uint64
	attrs := []any{"link", ln.l.name}
	if l != nil {
		var cur [nUDPDrops]uint64
		for d := range nUDPDrops {
			cur[d] = l.drops[d].Load()
			if n := cur[d] - dl.drops[d]; n > 0 {
				since += n
				attrs = append(attrs, "dropped_"+d.String(), n)
			}
		}
		dl.drops = cur
		total = l.dropped()
		attrs = append(attrs, "staged_now", l.staged())
	}
	sock, ok := ln.socketStats()
	if ok {
		if sock.Drops > dl.socket {
			since += sock.Drops - dl.socket
			attrs = append(attrs, "dropped_socket", sock.Drops-dl.socket)
		}
		dl.socket = sock.Drops
		total += sock.Drops
		attrs = append(attrs, "socket_queue_bytes", sock.RxQueueBytes)
	}
	if since == 0 {
		return
	}
	attrs = append(attrs, "dropped", since, "total_dropped", total, "period", udpDropLogEvery.String())
	ln.st.log.Warn("UDP datagrams dropped before decoding: the station is behind its link", attrs...)
}

// shedAfter is when the station last dropped, unread, a datagram that may
// have been rec's HEARTBEAT: one of its remote's (staging or hold queue
// full), or any at the link's socket (the kernel's buffer full). Zero
// when nothing was dropped (or the link is not a UDP server link).
func (ln *linkRT) shedAfter(rec *vehicleRec) time.Time {
	var at time.Time
	if c := ln.udpConnOf(rec.ch.Load()); c != nil {
		if ns := c.shedAt.Load(); ns != 0 {
			at = time.Unix(0, ns)
		}
	}
	if ln.sockShedAt.After(at) {
		at = ln.sockShedAt
	}
	return at
}

// socketStats is the kernel's count of the link's UDP socket: a UDP
// server link's one socket, or a UDP client link's current socket with
// the drops of the sockets it closed before (it redials with a new one).
// ok is false for other links, or when the kernel cannot say.
func (ln *linkRT) socketStats() (s SocketStats, ok bool) {
	if l := ln.udp.Load(); l != nil {
		drops, rx, err := l.socketMemInfo()
		if err != nil {
			return SocketStats{}, false
		}
		return SocketStats{Local: l.Addr().String(), Drops: drops, RxQueueBytes: rx}, true
	}
	if ln.l.kind != "udpc" {
		return SocketStats{}, false
	}
	return ln.udpc.stats()
}

// logUndispatched says, once the link is closed (its reader stopped),
// how many datagrams it had read but not dispatched: a station stopped
// while behind its sockets loses them, and says so.
func (ln *linkRT) logUndispatched() {
	if l := ln.udp.Load(); l != nil {
		if n := l.queued.Load(); n > 0 {
			ln.st.log.Warn("UDP datagrams read but not dispatched when the station stopped", "link", ln.l.name, "datagrams", n)
		}
	}
}

// stopDrainMax bounds how long a stopping UDP server link goes on
// dispatching what reached its socket before the stop (finishUDP): a
// station behind a flood stops within it, and logs what it left.
const stopDrainMax = 2 * time.Second

// finishUDP dispatches, when the station stops, every datagram that had
// reached the link's socket by then: staged, or still in the kernel's
// queue. Those were received — the vehicle sent them before the station
// went down — and a restart must not lose them: a station stopped a
// moment behind its links (a loaded machine) dropped every position
// waiting in its socket, counted only in a log line at the stop
// (TestStopDispatchesWhatReachedTheSocket: 1 of 101 positions decoded
// without this). Datagrams arriving after the stop are not waited for; the
// reader reads on until the socket is closed, so they are staged and
// dispatched too if they come before the socket is found empty. Bounded
// by stopDrainMax; what is left then is logged by logUndispatched.
func (ln *linkRT) finishUDP(l *udpListener) {
	if l == nil {
		return
	}
	stop := time.Now()
	deadline := stop.Add(stopDrainMax)
	wait := time.NewTimer(time.Millisecond)
	defer wait.Stop()
	for {
		// The reader stages everything that arrived before it found the
		// socket empty (emptyAt) before it says so; a reader waiting for
		// the next datagram with nothing in the kernel's queue has read
		// it all too.
		e := l.emptyAt.Load()
		idle := l.waiting.Load()
		if idle {
			if _, rx, err := l.socketMemInfo(); err == nil && rx > 0 {
				idle = false
			}
		}
		ln.drainUDP(l)
		if e >= stop.UnixNano() || idle && l.staged() == 0 {
			return
		}
		if time.Now().After(deadline) {
			ln.st.log.Warn("station stopping: stopped dispatching what reached the UDP socket before the stop", "link", ln.l.name, "after", stopDrainMax)
			return
		}
		wait.Reset(time.Millisecond)
		select {
		case <-l.ready:
		case <-wait.C:
		}
	}
}
