package loadgen

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// One non-blocking UDP socket per vehicle, written with write(2) and read
// through one epoll set per worker: 2,000 vehicles cost no goroutine each
// and no allocation per datagram. Linux only (sockets_other.go).

// openSocket opens a vehicle's socket bound to bind and connected to the
// station: connected, the kernel skips the route lookup per send, and
// only the station's datagrams are received.
func openSocket(bind netip.Addr, to netip.AddrPort) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: bind.As4()}); err != nil {
		unix.Close(fd)
		return 0, fmt.Errorf("bind %s: %w", bind, err)
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: int(to.Port()), Addr: to.Addr().As4()}); err != nil {
		unix.Close(fd)
		return 0, fmt.Errorf("connect %s: %w", to, err)
	}
	return fd, nil
}

func closeFD(fd int) { _ = unix.Close(fd) }

// writeFD sends one datagram (retried when a signal interrupts it).
func writeFD(fd int, b []byte) error {
	for {
		_, err := unix.Write(fd, b)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// poller is a worker's epoll set over its vehicles' sockets.
type poller struct {
	epfd   int
	byFD   map[int32]*vehicle
	events []unix.EpollEvent
}

func (p *poller) open(vs []*vehicle) error {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	p.epfd = fd
	p.byFD = make(map[int32]*vehicle, len(vs))
	for _, v := range vs {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(v.fd)}
		if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, v.fd, &ev); err != nil {
			return fmt.Errorf("epoll add: %w", err)
		}
		p.byFD[int32(v.fd)] = v
	}
	p.events = make([]unix.EpollEvent, 256)
	return nil
}

func (p *poller) close() {
	if p.epfd > 0 {
		_ = unix.Close(p.epfd)
		p.epfd = 0
	}
}

// poll reads whatever arrived on any socket without blocking, handing
// each datagram (valid only during the call) to got.
func (p *poller) poll(buf []byte, got func(v *vehicle, b []byte)) {
	for {
		n, err := unix.EpollWait(p.epfd, p.events, 0)
		if err != nil || n == 0 {
			return
		}
		for _, ev := range p.events[:n] {
			v := p.byFD[ev.Fd]
			if v == nil {
				continue
			}
			for {
				m, err := unix.Read(v.fd, buf)
				if err != nil {
					break // EAGAIN: drained (or a pending ICMP error, cleared by the read)
				}
				got(v, buf[:m])
			}
		}
		if n < len(p.events) {
			return
		}
	}
}

func cpuTimes() cpu {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return cpu{}
	}
	return cpu{
		user: float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6,
		sys:  float64(ru.Stime.Sec) + float64(ru.Stime.Usec)/1e6,
	}
}
