//go:build !linux

package groundstation

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

// readLoop reads the socket until it is closed, one datagram per call.
// Without a non-blocking read it cannot see the socket empty, so it
// counts the socket empty before every read (Linux does better).
func (l *udpListener) readLoop() {
	defer l.wg.Done()
	buf := make([]byte, 65536)
	for {
		l.emptyAt.Store(time.Now().UnixNano())
		l.waiting.Store(true)
		n, ap, err := l.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		l.datagrams.Add(1)
		now := time.Now().UnixNano()
		if l.deliver(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), buf[:n], now, now) {
			l.signal()
		}
	}
}

// udpSock is Linux's socket outside the poller (udpsock_linux.go);
// elsewhere the listener reads and writes through its net.UDPConn.
type udpSock struct{}

func (l *udpListener) openSock() error { return nil }

func (l *udpListener) writeTo(p []byte, ap netip.AddrPort) (int, error) {
	return l.pc.WriteToUDPAddrPort(p, ap)
}

func (l *udpListener) closeSock() error { return l.pc.Close() }

func (l *udpListener) releaseSock() {}
