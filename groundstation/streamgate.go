package groundstation

import (
	"context"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"go.bug.st/serial"
)

// gatedEndpoint gives every link kind the send gate UDP server links have
// (sendgate.go): gomavlib's TCP client and server, UDP client and serial
// endpoints are replaced by its custom endpoints over connections the
// station opens itself, wrapped in gatedConns, so the station sees each
// frame leave gomavlib's 64-slot write queue and its senders wait for the
// queue (or shed, counted) instead of gomavlib dropping frames unseen.
// Labels, addresses and reconnection are gomavlib's own (a client
// redials every 2 s). UDP server endpoints are udpServerEndpoint's.
func (ln *linkRT) gatedEndpoint(ep gomavlib.EndpointConf) gomavlib.EndpointConf {
	switch e := ep.(type) {
	case gomavlib.EndpointTCPServer:
		return gomavlib.EndpointCustomServer{
			Label: "tcp",
			Listen: func() (net.Listener, error) {
				l, err := net.Listen("tcp4", e.Address)
				if err != nil {
					return nil, err
				}
				return &gatedListener{Listener: l, ln: ln, label: "tcp"}, nil
			},
		}
	case gomavlib.EndpointTCPClient:
		return ln.gatedClient("tcp:"+e.Address, false, func(ctx context.Context) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp4", e.Address)
		})
	case gomavlib.EndpointUDPClient:
		// Read as a stream of whole datagrams (datagramStream), not with
		// gomavlib's datagram reader: that reads a datagram into 512 bytes
		// and decodes only its first frame, and routers pack several frames
		// into one datagram.
		return ln.gatedClient("udp:"+e.Address, false, func(ctx context.Context) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "udp4", e.Address)
			if err != nil {
				return nil, err
			}
			return ln.udpc.open(c), nil
		})
	case gomavlib.EndpointSerial:
		return ln.gatedClient("serial:"+e.Device, false, func(context.Context) (net.Conn, error) {
			return openSerial(e.Device, e.Baud)
		})
	}
	return ep
}

// gatedClient is gomavlib's client endpoint over dial, each connection
// gated under label (gomavlib's channel label for it).
func (ln *linkRT) gatedClient(label string, datagram bool, dial func(context.Context) (net.Conn, error)) gomavlib.EndpointConf {
	return gomavlib.EndpointCustomClient{
		Label:      label,
		IsDatagram: datagram,
		Connect: func(ctx context.Context) (net.Conn, error) {
			c, err := dial(ctx)
			if err != nil {
				return nil, err
			}
			return ln.gateConn(label, c), nil
		},
	}
}

// gateConn wraps c and files it under label, the label gomavlib gives
// the channel it opens on c, where gated finds it.
func (ln *linkRT) gateConn(label string, c net.Conn) *gatedConn {
	g := &gatedConn{Conn: c, ln: ln, label: label, done: make(chan struct{})}
	if d, ok := c.(*datagramStream); ok {
		// It reads its socket only when the datagram it holds is served.
		d.probe = newReadProbe(d.Conn)
		g.probe = d.probe
	} else {
		g.probe = newReadProbe(c)
		g.reads = true
	}
	ln.streams.Store(label, g)
	return g
}

// streamGate returns the gated connection of a channel on a TCP, UDP
// client or serial link (nil on other links, or once it closed).
func (ln *linkRT) streamGate(ch *gomavlib.Channel) *gatedConn {
	if v, ok := ln.streams.Load(ch.String()); ok {
		return v.(*gatedConn)
	}
	return nil
}

// gatedListener hands gomavlib gated connections (TCP server links).
type gatedListener struct {
	net.Listener
	ln    *linkRT
	label string
}

func (l *gatedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	// gomavlib labels the channel LABEL:REMOTE
	return l.ln.gateConn(l.label+":"+c.RemoteAddr().String(), c), nil
}

// gatedConn is a connection gomavlib writes frames to. gomavlib's frame
// writer writes each frame with one Write, so each Write is one frame out
// of gomavlib's queue: the gate's count of what the writer took.
type gatedConn struct {
	net.Conn
	ln    *linkRT
	label string
	gate  sendGate
	done  chan struct{} // closed with the connection: senders stop waiting
	once  sync.Once
	// probe is how far the connection's reader has handed on what it
	// received (streamread.go); reads is whether Read goes through it
	// (a datagramStream reads through it itself).
	probe *readProbe
	reads bool
}

func (c *gatedConn) Read(p []byte) (int, error) {
	if !c.reads {
		return c.Conn.Read(p)
	}
	return c.probe.read(c.Conn, p, true)
}

func (c *gatedConn) Write(p []byte) (int, error) {
	c.gate.wrote() // out of gomavlib's queue, whatever happens next
	return c.Conn.Write(p)
}

// Close closes the connection and forgets it: a reconnection under the
// same label is a new gate.
func (c *gatedConn) Close() error {
	c.once.Do(func() {
		close(c.done)
		c.ln.streams.CompareAndDelete(c.label, c)
	})
	return c.Conn.Close()
}

// openSerial opens a serial port as gomavlib's serial endpoint does (8N1,
// DTR and RTS set) and makes it a net.Conn for its client endpoint.
func openSerial(device string, baud int) (net.Conn, error) {
	p, err := serial.Open(device, &serial.Mode{BaudRate: baud, Parity: serial.NoParity, DataBits: 8, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("open serial %s: %w", device, err)
	}
	_ = p.SetDTR(true) // as gomavlib does; a pty or a bare UART may not have them
	_ = p.SetRTS(true)
	return serialConn{p, device}, nil
}

// serialConn is a serial port as a net.Conn: no addresses, and deadlines
// are not supported (gomavlib sets them on every read and write; its
// own serial endpoint ignores them the same way).
type serialConn struct {
	serial.Port
	device string
}

func (serialConn) LocalAddr() net.Addr              { return serialAddr("") }
func (c serialConn) RemoteAddr() net.Addr           { return serialAddr(c.device) }
func (serialConn) SetDeadline(time.Time) error      { return nil }
func (serialConn) SetReadDeadline(time.Time) error  { return nil }
func (serialConn) SetWriteDeadline(time.Time) error { return nil }

type serialAddr string

func (serialAddr) Network() string  { return "serial" }
func (a serialAddr) String() string { return string(a) }

// datagramStream reads a connected UDP socket as a byte stream for
// gomavlib's stream reader: each datagram is read whole (up to the
// largest UDP payload) and served until its last byte, so every frame a
// datagram carries is decoded, as on UDP server links (ingest.go).
// gomavlib's datagram reader decodes one frame per datagram, read into a
// 512-byte buffer, and reports the rest as a single parse error, so a
// router's datagram of eight frames lost seven.
type datagramStream struct {
	net.Conn
	buf  []byte
	r, w int
	of   *udpcSockets
	sc   syscall.Conn // the socket, for its kernel counters
	once sync.Once
	// probe reads the socket (set before the first read: gateConn)
	probe *readProbe
}

// udpcSockets accounts for a UDP client link's sockets as the kernel
// counts them: the drops at its receive buffer are the loss nothing in
// the station sees, and the link redials with a new socket, so the drops
// of those it closed are kept.
type udpcSockets struct {
	mu     sync.Mutex
	cur    *datagramStream // nil between connections
	closed uint64          // drops of the sockets closed before cur
}

// open makes c the link's current socket.
func (u *udpcSockets) open(c net.Conn) *datagramStream {
	d := &datagramStream{Conn: c, buf: make([]byte, 1<<16), of: u}
	d.sc, _ = c.(syscall.Conn)
	u.mu.Lock()
	u.cur = d
	u.mu.Unlock()
	return d
}

// stats is the current socket's counters, its drops added to those of
// the sockets closed before it (ok false when the kernel cannot say).
func (u *udpcSockets) stats() (SocketStats, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := SocketStats{Drops: u.closed}
	if u.cur == nil || u.cur.sc == nil {
		return s, u.closed > 0
	}
	drops, rx, err := udpSocketMemInfo(u.cur.sc)
	if err != nil {
		return s, u.closed > 0
	}
	s.Local, s.Drops, s.RxQueueBytes = u.cur.LocalAddr().String(), s.Drops+drops, rx
	return s, true
}

// Close keeps the socket's drops for the link, then closes it.
func (d *datagramStream) Close() error {
	d.once.Do(func() {
		u := d.of
		u.mu.Lock()
		if d.sc != nil {
			if drops, _, err := udpSocketMemInfo(d.sc); err == nil {
				u.closed += drops
			}
		}
		if u.cur == d {
			u.cur = nil
		}
		u.mu.Unlock()
	})
	return d.Conn.Close()
}

func (d *datagramStream) Read(p []byte) (int, error) {
	for d.r == d.w { // (an empty datagram is no data: read the next)
		var n int
		var err error
		if d.probe != nil {
			n, err = d.probe.read(d.Conn, d.buf, false)
		} else {
			n, err = d.Conn.Read(d.buf)
		}
		if n == 0 && err != nil {
			return 0, err
		}
		d.r, d.w = 0, n
	}
	n := copy(p, d.buf[d.r:d.w])
	d.r += n
	return n, nil
}
