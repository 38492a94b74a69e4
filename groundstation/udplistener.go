package groundstation

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gomavlib/v3"

	"github.com/burgut-uav/burgut/internal/latency"
)

// udpListener is the socket of a UDP server link. One reader goroutine
// empties the socket into a staging buffer (each datagram copied into one
// growing slab, no allocation per datagram); the link's dispatcher takes
// the whole buffer at once (take) and decodes and dispatches it: one
// goroutine hand-off per batch, not per frame. gomavlib's own UDP server
// endpoint (pion's listener, a goroutine per remote, an unbuffered event
// channel) cost two goroutine switches and several allocations per frame,
// and queued datagrams where nobody could see them.
//
// The staging buffer is bounded (maxStaged datagrams, dropped and counted
// beyond) and keeps the socket drained while the station catches up: a
// datagram costs ~1 KiB of the kernel's receive buffer (skb overhead) but
// only its own ~60 bytes here, so the same memory rides out a stall
// about fifteen times longer.
//
// gomavlib still gets a net.Conn per remote address through Accept, so it
// opens a Channel for it: the station writes to a vehicle through that
// Channel, and the Channel closes (EventChannelClose) when the remote has
// been silent past gomavlib's idle timeout. The conn never returns data
// from Read: every datagram goes through the staging buffer.
type udpListener struct {
	// pc opened the socket; on Linux sock has taken the socket out of Go's
	// poller (udpsock_linux.go) and pc is closed, elsewhere pc is it.
	pc        *net.UDPConn
	sock      *udpSock
	local     net.Addr
	maxQueue  int // per new remote, held until its channel is open
	maxStaged int
	// batchWait, when positive, is how long the reader waits after
	// emptying a busy socket before it reads again (readLoop).
	batchWait time.Duration

	smu   sync.Mutex
	stage stageBuf
	// ready has a value when something was staged since the last take.
	ready chan struct{}
	// emptyAt is when the reader last found the socket empty: everything
	// received before it is staged (or handled). waiting is true while
	// the reader waits for the next datagram.
	emptyAt atomic.Int64
	waiting atomic.Bool
	// inEpoll is true while the reader waits for a datagram in the
	// socket's epoll, from just before the wait until it returns (tests).
	inEpoll atomic.Bool
	// readHook, when set (tests only), runs on the reader goroutine before
	// each read of the socket: a hook that blocks starves the reader while
	// datagrams queue in the socket, as a starved machine does.
	readHook atomic.Pointer[func()]

	mu sync.Mutex
	// conns holds the open conns by connKey: a lookup for every datagram
	// read, and an IPv4 address and port fit a uint64, whose map lookups
	// are several times cheaper than netip.AddrPort's (~1.5 % of the
	// station's CPU at 2,000 vehicles). The socket is IPv4 (listenUDP), so
	// conns6 (any other address) stays empty.
	conns  map[uint64]*udpConn
	conns6 map[netip.AddrPort]*udpConn
	closed bool

	accept chan *udpConn
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	// lat measures the UDP path's stages from each datagram's arrival
	// (the kernel's receive timestamp): read from the socket, taken by
	// the dispatcher, dispatched (decoded and applied to the fleet).
	lat struct{ socket, staged, dispatched latency.Histogram }

	datagrams atomic.Uint64 // read from the socket
	queued    atomic.Int64  // staged, or held for a remote whose channel is not open yet
	// drops counts the datagrams read from the socket and dropped before
	// the dispatcher decoded them, by the queue that was full: every
	// datagram read is decoded, queued or counted here.
	drops [nUDPDrops]atomic.Uint64
}

// udpDrop names a queue between a UDP socket and its link's dispatcher
// that drops datagrams when full.
type udpDrop int

const (
	// dropStaging: the staging buffer (maxStaged datagrams) was full —
	// the dispatcher is seconds behind its socket.
	dropStaging udpDrop = iota
	// dropHold: a new remote's hold queue (maxQueue) was full before its
	// channel opened.
	dropHold
	// dropAccept: the queue of new remotes (udpAcceptQueue) was full, or
	// the listener was closing.
	dropAccept
	nUDPDrops
)

// String is the reason label of burgut_udp_backlog_dropped_total.
func (d udpDrop) String() string {
	return [...]string{"staging", "hold", "accept"}[d]
}

// dropped is every datagram the listener's queues dropped.
func (l *udpListener) dropped() uint64 {
	var n uint64
	for i := range l.drops {
		n += l.drops[i].Load()
	}
	return n
}

// stageBuf holds datagrams read and not yet dispatched.
type stageBuf struct {
	data  []byte
	items []stagedDatagram
}

type stagedDatagram struct {
	c      *udpConn
	at     int64 // unix ns, when read
	off, n int
}

func (b *stageBuf) bytes(i int) []byte {
	it := &b.items[i]
	return b.data[it.off : it.off+it.n]
}

// udpMaxStaged bounds the datagrams staged per link: ~7 s of 250
// vehicles at 18 msg/s (about 2 MiB of slab), on top of the socket's own
// buffer.
const udpMaxStaged = 32768

// udpConnQueue bounds the datagrams held for a remote until gomavlib has
// opened its channel (normally a few milliseconds): ~14 s of a vehicle at
// 18 msg/s.
const udpConnQueue = 256

// udpAcceptQueue bounds remotes heard but not yet accepted by gomavlib: a
// fleet switched on together is hundreds of new remotes at once.
const udpAcceptQueue = 4096

// listenUDP opens the socket and starts its reader (batchWait: see
// Config.UDPBatchWait; 0 reads every datagram as soon as it arrives).
func listenUDP(address string, rcvbuf, maxQueue, maxStaged int, batchWait time.Duration) (*udpListener, error) {
	addr, err := net.ResolveUDPAddr("udp4", address)
	if err != nil {
		return nil, err
	}
	pc, err := net.ListenUDP("udp4", addr)
	if err != nil {
		return nil, err
	}
	if rcvbuf > 0 {
		_ = pc.SetReadBuffer(rcvbuf) // the grant is probed and logged by the station
	}
	l := &udpListener{pc: pc, local: pc.LocalAddr(), maxQueue: maxQueue, maxStaged: maxStaged, batchWait: batchWait, ready: make(chan struct{}, 1),
		conns: map[uint64]*udpConn{}, conns6: map[netip.AddrPort]*udpConn{}, accept: make(chan *udpConn, udpAcceptQueue), done: make(chan struct{})}
	if err := l.openSock(); err != nil {
		return nil, err
	}
	l.wg.Add(1)
	go l.readLoop()
	return l, nil
}

// deliver stages one datagram (copied) with its remote's conn, creating
// and announcing the conn on the remote's first datagram. arrived is the
// kernel's receive time, read when the reader took it (Unix ns). It
// reports whether the datagram is the first staged since the link's last
// take: the reader then signals the link (signal) once it has read what
// the socket holds, one wake-up of the dispatcher per batch.
func (l *udpListener) deliver(ap netip.AddrPort, data []byte, arrived, read int64) (first bool) {
	l.lat.socket.ObserveSince(arrived, read)
	c := l.conn(ap)
	if c == nil {
		l.drops[dropAccept].Add(1)
		return false
	}
	ns := arrived
	c.last.Store(ns)
	l.smu.Lock()
	if len(l.stage.items) >= l.maxStaged {
		l.smu.Unlock()
		l.drops[dropStaging].Add(1)
		c.shedAt.Store(ns)
		return false
	}
	l.stage.items = append(l.stage.items, stagedDatagram{c: c, at: ns, off: len(l.stage.data), n: len(data)})
	l.stage.data = append(l.stage.data, data...)
	first = len(l.stage.items) == 1
	l.smu.Unlock()
	l.queued.Add(1)
	return first
}

// signal tells the link that datagrams are staged.
func (l *udpListener) signal() {
	select {
	case l.ready <- struct{}{}:
	default:
	}
}

// staged is how many datagrams wait in the staging buffer.
func (l *udpListener) staged() int {
	l.smu.Lock()
	defer l.smu.Unlock()
	return len(l.stage.items)
}

// take swaps the staged datagrams into b (whose memory, from the take
// before, takes the next ones).
func (l *udpListener) take(b *stageBuf) {
	clear(b.items) // drop the conn references of the last batch
	l.smu.Lock()
	*b, l.stage = l.stage, stageBuf{data: b.data[:0], items: b.items[:0]}
	l.smu.Unlock()
}

// conn returns the remote's conn, creating and announcing it on its first
// datagram (nil when the accept queue is full or the listener closed).
func (l *udpListener) conn(ap netip.AddrPort) *udpConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.getLocked(ap); c != nil {
		return c
	}
	if l.closed {
		return nil
	}
	c := &udpConn{l: l, remote: ap, done: make(chan struct{}), kick: make(chan struct{}, 1)}
	select {
	case l.accept <- c:
	default:
		return nil
	}
	if k, ok := connKey(ap); ok {
		l.conns[k] = c
	} else {
		l.conns6[ap] = c
	}
	return c
}

// connKey is an IPv4 remote's key in udpListener.conns (ok false for any
// other address).
func connKey(ap netip.AddrPort) (uint64, bool) {
	a := ap.Addr()
	if !a.Is4() {
		return 0, false
	}
	b := a.As4()
	return uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(ap.Port()), true
}

// getLocked returns the remote's conn (nil if none); l.mu is held.
func (l *udpListener) getLocked(ap netip.AddrPort) *udpConn {
	if k, ok := connKey(ap); ok {
		return l.conns[k]
	}
	return l.conns6[ap]
}

// lookup returns the open conn of a remote (nil if none).
func (l *udpListener) lookup(ap netip.AddrPort) *udpConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.getLocked(ap)
}

// Accept waits for a new remote; it fails only once the listener is closed.
func (l *udpListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the socket and every remote's conn and waits for the reader.
func (l *udpListener) Close() error {
	var err error
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		conns := make([]*udpConn, 0, len(l.conns)+len(l.conns6))
		for _, c := range l.conns {
			conns = append(conns, c)
		}
		for _, c := range l.conns6 {
			conns = append(conns, c)
		}
		l.mu.Unlock()
		close(l.done)
		err = l.closeSock()
		l.wg.Wait()
		l.releaseSock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return err
}

func (l *udpListener) Addr() net.Addr { return l.local }

// udpConn is one remote of a udpListener as gomavlib sees it: Write sends
// to the remote from the listener's socket; Read returns no data (the
// reader hands every datagram to the link) and fails once the remote has
// sent nothing for as long as the read deadline gomavlib sets (its idle
// timeout), or the conn is closed.
type udpConn struct {
	l      *udpListener
	remote netip.AddrPort
	done   chan struct{}
	once   sync.Once
	kick   chan struct{} // the deadline changed
	gate   sendGate      // frames handed to gomavlib for this remote vs written (sendgate.go)

	last atomic.Int64 // last datagram from the remote, unix ns
	// shedAt is the arrival (unix ns) of the latest datagram from the
	// remote the station dropped unread (staging or hold queue full): it
	// may have held a HEARTBEAT, so the remote was not silent then.
	shedAt   atomic.Int64
	deadline atomic.Int64 // read deadline, unix ns (0 = none)
	span     atomic.Int64 // how far ahead the deadline was set (the idle timeout)

	// Owned by the link, under its lock: the gomavlib Channel opened for
	// this conn (nil until EventChannelOpen), and the datagrams heard
	// before it, held so the vehicle's first frames know their channel.
	ch   *gomavlib.Channel
	held []heldDatagram
}

type heldDatagram struct {
	at   time.Time
	data []byte
}

// Read blocks until the remote has been silent for the deadline's span
// past the deadline gomavlib set, or the conn closes.
func (c *udpConn) Read([]byte) (int, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-c.done:
			return 0, net.ErrClosed
		default:
		}
		var expire <-chan time.Time
		if d := c.deadline.Load(); d != 0 {
			now := time.Now()
			wait := time.Unix(0, d).Sub(now)
			if wait <= 0 {
				// Past the deadline: the remote keeps the conn alive if it
				// was heard within the span the deadline was set for.
				span := time.Duration(c.span.Load())
				quiet := now.Sub(time.Unix(0, c.last.Load()))
				if quiet >= span {
					return 0, os.ErrDeadlineExceeded
				}
				wait = span - quiet
			}
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			expire = timer.C
		}
		select {
		case <-c.done:
			return 0, net.ErrClosed
		case <-expire:
		case <-c.kick:
		}
	}
}

func (c *udpConn) Write(p []byte) (int, error) {
	c.gate.wrote() // out of gomavlib's queue, whatever happens next
	select {
	case <-c.done:
		return 0, net.ErrClosed
	default:
	}
	n, err := c.l.writeTo(p, c.remote)
	if err != nil {
		return n, fmt.Errorf("udp write to %s: %w", c.remote, err)
	}
	return n, nil
}

// Close forgets the remote (its next datagram opens a new conn): gomavlib
// closes a conn only when the remote fell silent past its idle timeout or
// the link stops.
func (c *udpConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.l.getLocked(c.remote) == c {
			if k, ok := connKey(c.remote); ok {
				delete(c.l.conns, k)
			} else {
				delete(c.l.conns6, c.remote)
			}
		}
		c.l.mu.Unlock()
		close(c.done)
	})
	return nil
}

func (c *udpConn) LocalAddr() net.Addr { return c.l.local }
func (c *udpConn) RemoteAddr() net.Addr {
	return net.UDPAddrFromAddrPort(c.remote)
}

func (c *udpConn) SetDeadline(t time.Time) error {
	return c.SetReadDeadline(t)
}

func (c *udpConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.deadline.Store(0)
	} else {
		c.span.Store(int64(time.Until(t)))
		c.deadline.Store(t.UnixNano())
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return nil
}

// SetWriteDeadline is a no-op: a UDP send does not wait for the remote.
func (c *udpConn) SetWriteDeadline(time.Time) error { return nil }
