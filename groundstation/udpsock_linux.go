package groundstation

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// udpSock is a UDP server link's socket outside Go's network poller.
//
// Why: the poller registers every socket edge-triggered for input, and a
// busy link's reader does not wait on it (it reads on the batch clock,
// readLoop) — yet every datagram arriving on a socket the poller had
// already reported woke a thread blocked in epoll_wait, which took a P,
// found no goroutine waiting on the socket and went back to sleep. At
// 2,000 vehicles (36,000 datagrams/s over 8 sockets) a runtime trace of
// serve showed 11,300 Ps started per second, 87 % of them finding no
// work, and the spinning threads' epoll_wait was 12.6 % of serve's CPU
// (BENCHMARKS.md, "The UDP sockets out of Go's poller"). Here the socket
// is in a private epoll instance that only a quiet link's reader waits on
// (blocking, on its own thread), so datagrams arriving while a busy
// reader lingers wake nobody: P starts fell to 2,600 a second, the
// spinning threads' epoll_wait to 2.4 % of serve's CPU, and the cost per
// message by 2.0–3.7 µs (15 %).
//
// The socket is taken from the net.UDPConn that opened it (a duplicate
// of its descriptor, then the conn is closed, which removes it from the
// poller). Writes and the socket's counters use the descriptor through
// withFD, under wmu's read lock; release takes the write lock, so nothing
// ever reaches a descriptor number reused after the close.
type udpSock struct {
	fd   int // the socket (blocking: sendto waits for buffer space as the poller did)
	ep   int // private epoll: the socket (level-triggered input) and wake
	wake int // eventfd: Close wakes a reader waiting in epoll_wait

	wmu    sync.RWMutex
	closed atomic.Bool
	once   sync.Once
}

// newUDPSock takes pc's socket out of Go's poller.
func newUDPSock(pc *net.UDPConn) (_ *udpSock, err error) {
	s := &udpSock{fd: -1, ep: -1, wake: -1}
	defer func() {
		if err != nil {
			s.release()
		}
		_ = pc.Close() // removes the original descriptor from the poller
	}()
	rc, err := pc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("udp socket: %w", err)
	}
	var derr error
	if cerr := rc.Control(func(fd uintptr) {
		s.fd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); cerr != nil {
		return nil, fmt.Errorf("udp socket: %w", cerr)
	}
	if derr != nil {
		return nil, fmt.Errorf("udp socket: dup: %w", derr)
	}
	// The duplicate shares the conn's O_NONBLOCK; reads pass MSG_DONTWAIT
	// themselves, and a write then waits for buffer space in the kernel.
	if err := unix.SetNonblock(s.fd, false); err != nil {
		return nil, fmt.Errorf("udp socket: %w", err)
	}
	if s.ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("udp socket: epoll_create1: %w", err)
	}
	if s.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return nil, fmt.Errorf("udp socket: eventfd: %w", err)
	}
	for _, fd := range []int{s.fd, s.wake} {
		if err := unix.EpollCtl(s.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			return nil, fmt.Errorf("udp socket: epoll_ctl: %w", err)
		}
	}
	return s, nil
}

// errSockClosed is what waitReadable returns once the socket is closing.
var errSockClosed = errors.New("udp socket closed")

// waitReadable blocks (its goroutine's thread in epoll_wait) until a
// datagram is waiting or the socket is closing.
func (s *udpSock) waitReadable() error {
	var evs [2]unix.EpollEvent
	for {
		if s.closed.Load() {
			return errSockClosed
		}
		n, err := unix.EpollWait(s.ep, evs[:], -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("udp socket: epoll_wait: %w", err)
		}
		for _, e := range evs[:n] {
			if int(e.Fd) == s.wake {
				return errSockClosed
			}
		}
		if n > 0 {
			return nil
		}
	}
}

// writeTo sends one datagram to ap (IPv4: the socket is).
func (s *udpSock) writeTo(p []byte, ap netip.AddrPort) (int, error) {
	if !ap.Addr().Unmap().Is4() {
		return 0, fmt.Errorf("udp write to %s: not an IPv4 address", ap)
	}
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}
	err := s.withFD(func(fd int) error {
		for {
			if err := unix.Sendto(fd, p, 0, sa); err != unix.EINTR {
				return err
			}
		}
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// withFD runs f with the socket's descriptor, which stays open meanwhile;
// once the socket is closing it returns net.ErrClosed instead.
func (s *udpSock) withFD(f func(fd int) error) error {
	s.wmu.RLock()
	defer s.wmu.RUnlock()
	if s.closed.Load() {
		return net.ErrClosed
	}
	return f(s.fd)
}

// shutdown wakes a reader waiting in waitReadable and refuses new writes;
// release closes the descriptors once the reader has returned.
func (s *udpSock) shutdown() {
	if s.closed.Swap(true) {
		return
	}
	one := [8]byte{1} // a non-zero add to the eventfd's counter in either byte order
	_, _ = unix.Write(s.wake, one[:])
}

func (s *udpSock) release() {
	s.once.Do(func() {
		s.closed.Store(true)
		s.wmu.Lock()
		defer s.wmu.Unlock()
		for _, fd := range []int{s.fd, s.ep, s.wake} {
			if fd >= 0 {
				_ = unix.Close(fd)
			}
		}
	})
}

// openSock takes the listener's socket out of Go's poller (udpSock).
func (l *udpListener) openSock() error {
	s, err := newUDPSock(l.pc)
	if err != nil {
		return err
	}
	l.sock = s
	return nil
}

func (l *udpListener) writeTo(p []byte, ap netip.AddrPort) (int, error) {
	return l.sock.writeTo(p, ap)
}

// closeSock stops the reader (it returns at its next wait) and new writes.
func (l *udpListener) closeSock() error {
	l.sock.shutdown()
	return nil
}

// releaseSock closes the descriptors, once the reader has returned.
func (l *udpListener) releaseSock() { l.sock.release() }
