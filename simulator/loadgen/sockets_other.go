//go:build !linux

package loadgen

import (
	"errors"
	"net/netip"
)

// errNotLinux: the load generator drives one non-blocking socket per
// vehicle through epoll (sockets_linux.go); elsewhere it refuses to run,
// and the rest of burgut still builds and runs.
var errNotLinux = errors.New("loadgen: needs Linux (epoll, one non-blocking socket per vehicle)")

func openSocket(netip.Addr, netip.AddrPort) (int, error) { return 0, errNotLinux }

func closeFD(int) {}

func writeFD(int, []byte) error { return errNotLinux }

type poller struct{}

func (p *poller) open([]*vehicle) error               { return errNotLinux }
func (p *poller) close()                              {}
func (p *poller) poll([]byte, func(*vehicle, []byte)) {}

func cpuTimes() cpu { return cpu{} }
