package groundstation

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// udpListener is the net.Listener behind a UDP server link: one socket,
// one reader goroutine, one net.Conn per remote address (gomavlib makes
// each a channel). It replaces pion's listener, which gomavlib's own UDP
// server endpoint uses, because pion queues each remote's datagrams in a
// buffer nobody can see and drops silently when one is full. Here every
// datagram waiting for gomavlib is counted (Queued: how far the station is
// behind its socket) and every one dropped is counted too.
type udpListener struct {
	pc       *net.UDPConn
	maxQueue int

	mu     sync.Mutex
	conns  map[netip.AddrPort]*udpConn
	closed bool

	accept chan *udpConn
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	datagrams atomic.Uint64 // read from the socket
	queued    atomic.Int64  // waiting for gomavlib's readers
	dropped   atomic.Uint64 // a remote's queue (or the accept queue) was full
}

// udpConnQueue bounds the datagrams waiting per remote: ~14 s of a vehicle
// at 18 msg/s (a remote this far behind has a stuck reader), 6 KiB of
// queue per remote.
const udpConnQueue = 256

// udpAcceptQueue bounds remotes heard but not yet accepted by gomavlib: a
// fleet switched on together is hundreds of new remotes at once.
const udpAcceptQueue = 4096

func listenUDP(address string, rcvbuf, maxQueue int) (*udpListener, error) {
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
	l := &udpListener{pc: pc, maxQueue: maxQueue, conns: map[netip.AddrPort]*udpConn{},
		accept: make(chan *udpConn, udpAcceptQueue), done: make(chan struct{})}
	l.wg.Add(1)
	go l.readLoop()
	return l, nil
}

func (l *udpListener) readLoop() {
	defer l.wg.Done()
	// One datagram per system call: recvmmsg(2) batches (x/net/ipv4
	// ReadBatch, 64 per call) measured no better at 2,000 vehicles — at
	// 4,500 datagrams/s per link a wake-up rarely finds more than one.
	buf := make([]byte, 65536)
	for {
		n, ap, err := l.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ECONNREFUSED reported for an earlier send: keep reading
		}
		l.datagrams.Add(1)
		l.deliver(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), buf[:n])
	}
}

// deliver queues one datagram (copied) for its remote's conn.
func (l *udpListener) deliver(ap netip.AddrPort, data []byte) {
	c := l.conn(ap)
	if c == nil {
		l.dropped.Add(1)
		return
	}
	b := make([]byte, len(data))
	copy(b, data)
	select {
	case c.q <- b:
		l.queued.Add(1)
	default:
		l.dropped.Add(1)
	}
}

// conn returns the remote's conn, creating and announcing it on its first
// datagram (nil when the accept queue is full or the listener closed).
func (l *udpListener) conn(ap netip.AddrPort) *udpConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.conns[ap]; c != nil {
		return c
	}
	if l.closed {
		return nil
	}
	c := &udpConn{l: l, remote: ap, q: make(chan []byte, l.maxQueue), done: make(chan struct{})}
	select {
	case l.accept <- c:
	default:
		return nil
	}
	l.conns[ap] = c
	return c
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
		conns := make([]*udpConn, 0, len(l.conns))
		for _, c := range l.conns {
			conns = append(conns, c)
		}
		l.mu.Unlock()
		close(l.done)
		err = l.pc.Close()
		l.wg.Wait()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return err
}

func (l *udpListener) Addr() net.Addr { return l.pc.LocalAddr() }

// udpConn is one remote of a udpListener: Read returns its datagrams one
// per call, Write sends to it from the listener's socket.
type udpConn struct {
	l      *udpListener
	remote netip.AddrPort
	q      chan []byte
	done   chan struct{}
	once   sync.Once

	deadline atomic.Int64 // read deadline, unix ns (0 = none)
	timer    *time.Timer  // only used by the (single) reader
}

func (c *udpConn) Read(p []byte) (int, error) {
	select {
	case b := <-c.q:
		c.l.queued.Add(-1)
		return copy(p, b), nil
	default:
	}
	var expire <-chan time.Time
	if d := c.deadline.Load(); d != 0 {
		wait := time.Until(time.Unix(0, d))
		if wait <= 0 {
			return 0, os.ErrDeadlineExceeded
		}
		if c.timer == nil {
			c.timer = time.NewTimer(wait)
		} else {
			c.timer.Reset(wait)
		}
		defer c.timer.Stop()
		expire = c.timer.C
	}
	select {
	case b := <-c.q:
		c.l.queued.Add(-1)
		return copy(p, b), nil
	case <-c.done:
		return 0, net.ErrClosed
	case <-expire:
		return 0, os.ErrDeadlineExceeded
	}
}

func (c *udpConn) Write(p []byte) (int, error) {
	select {
	case <-c.done:
		return 0, net.ErrClosed
	default:
	}
	n, err := c.l.pc.WriteToUDPAddrPort(p, c.remote)
	if err != nil {
		return n, fmt.Errorf("udp write to %s: %w", c.remote, err)
	}
	return n, nil
}

// Close forgets the remote (its next datagram opens a new conn) and drops
// what it had queued, uncounted as lost: gomavlib closes a conn only when
// the remote fell silent past its idle timeout or the link stops.
func (c *udpConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.l.conns[c.remote] == c {
			delete(c.l.conns, c.remote)
		}
		c.l.mu.Unlock()
		close(c.done)
		for {
			select {
			case <-c.q:
				c.l.queued.Add(-1)
			default:
				return
			}
		}
	})
	return nil
}

func (c *udpConn) LocalAddr() net.Addr { return c.l.pc.LocalAddr() }
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
		c.deadline.Store(t.UnixNano())
	}
	return nil
}

// SetWriteDeadline is a no-op: a UDP send does not wait for the remote.
func (c *udpConn) SetWriteDeadline(time.Time) error { return nil }
