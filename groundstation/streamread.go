package groundstation

import (
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// readProbe tells the dispatcher of a TCP, UDP client or serial link how
// far its connection's reader has handed on what the connection
// received. On these links gomavlib's reader goroutine reads the
// connection and hands each decoded frame to the dispatcher over an
// unbuffered channel, so a dispatcher that finds no frame waiting is not
// caught up: the frames may still be in the kernel's receive queue, or
// read but not yet decoded by a reader the scheduler has not run (a
// starved station). Reading the connection through the probe, the reader
// notes when it found the connection empty with nothing of its own left
// to decode; that, and the kernel's queue at the tick, is what a
// link-lost check may trust (linkRT.streamCaughtUp), as the UDP server
// links' socket reader does for theirs.
type readProbe struct {
	// parked is, while the reader waits for the connection with nothing
	// left to decode, when it started waiting (unix ns, unique per wait);
	// 0 while it reads or decodes.
	parked atomic.Int64
	// empty is when the reader last found the kernel's queue empty
	// (unix ns): every byte received before it has been read, and every
	// whole frame in them handed to the dispatcher. Without sock, when it
	// last started to wait.
	empty atomic.Int64
	// sock is the connection's socket when the kernel's queue can be read
	// (Linux TCP and UDP sockets); nil for serial ports and elsewhere,
	// where a waiting reader is trusted as caught up.
	sock syscall.RawConn
	last int64 // the last parked value (reader-owned), to keep them unique
	// hook, when set (tests only), runs on the reader goroutine after each
	// read that returned data, before the data is handed on: a reader
	// stalled there holds frames it read while more queue in the kernel.
	hook atomic.Pointer[func()]
}

// newReadProbe returns the probe of c's reader.
func newReadProbe(c net.Conn) *readProbe {
	return &readProbe{sock: probeSocket(c)}
}

// park notes that the reader waits with nothing left of its own.
func (r *readProbe) park() {
	t := time.Now().UnixNano()
	if t <= r.last {
		t = r.last + 1
	}
	r.last = t
	r.parked.Store(t)
}

// read reads c into p for the connection's reader; stream is false for a
// datagram socket, where a read of 0 bytes is an empty datagram, not the
// end of the stream.
func (r *readProbe) read(c net.Conn, p []byte, stream bool) (n int, err error) {
	if r.sock != nil {
		n, err = r.readSocket(p, stream)
	} else {
		// The kernel's queue is not known: a reader about to wait is
		// trusted as having read everything (as UDP server links trust
		// theirs where SO_MEMINFO is missing).
		r.park()
		r.empty.Store(r.last)
		n, err = c.Read(p)
		r.parked.Store(0)
	}
	if n > 0 {
		if h := r.hook.Load(); h != nil {
			(*h)()
		}
	}
	return n, err
}

// caughtUp is the moment up to which everything the connection received
// has been handed to the dispatcher, as seen at now; ok is false when
// the probe cannot vouch for any moment. It runs on the dispatcher, so
// every frame handed to it before has also been handled.
func (r *readProbe) caughtUp(now time.Time) (at time.Time, ok bool) {
	if p := r.parked.Load(); p != 0 {
		queued, known := r.queued()
		// The same wait throughout: the reader read nothing meanwhile, so
		// what the kernel held was all it had not read.
		if r.parked.Load() == p {
			if !known || queued == 0 {
				return now, true
			}
			// Received since it started waiting; not read yet.
			return time.Unix(0, max(p, r.empty.Load())), true
		}
	}
	if e := r.empty.Load(); e != 0 {
		return time.Unix(0, e), true
	}
	return time.Time{}, false
}

// streamCaughtUp notes, at a tick of a TCP, UDP client or serial link, the
// moment up to which the readers of all its connections have handed on
// everything they received: the earliest their probes vouch for (now
// when the link has no connection). A connection whose reader is busy
// and has not found its queue empty since it opened vouches for nothing,
// and the link's caught-up moment stays where it was: link-lost checks
// are put off (and bounded) as on a UDP server link behind its socket.
// A UDP client link's kernel drops since the last tick may have been a
// HEARTBEAT, as on UDP server links (shedAfter).
func (ln *linkRT) streamCaughtUp(now time.Time) {
	if !ln.isStream() {
		return // UDP server links: udpCaughtUp
	}
	if ln.l.kind == "udpc" {
		if s, ok := ln.udpc.stats(); ok && s.Drops != ln.sockDrops {
			if s.Drops > ln.sockDrops {
				ln.sockShedAt = now
			}
			ln.sockDrops = s.Drops
		}
	}
	if at, ok := ln.streamsVouch(now); ok && at.UnixNano() > ln.caughtUp.Load() {
		ln.caughtUp.Store(at.UnixNano())
	}
}

// streamsVouch is the earliest moment the probes of the link's
// connections vouch for at now (now without connections); ok is false if
// one vouches for nothing. Off the dispatcher (behind) a frame handed
// over may still be in hand, which only a tick's caller rules out.
func (ln *linkRT) streamsVouch(now time.Time) (at time.Time, ok bool) {
	at, ok = now, true
	ln.streams.Range(func(_, v any) bool {
		t, vouched := v.(*gatedConn).probe.caughtUp(now)
		if !vouched {
			ok = false
			return false
		}
		if t.Before(at) {
			at = t
		}
		return true
	})
	return at, ok
}

// isStream is whether the link is a TCP, UDP client or serial link.
func (ln *linkRT) isStream() bool {
	switch ln.l.kind {
	case "tcp", "tcps", "udpc", "serial":
		return true
	}
	return false
}
