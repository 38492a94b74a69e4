package groundstation

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/gomavlib/v3"
)

// udpServerEndpoint is gomavlib's server endpoint over a udpListener (one
// gomavlib channel per remote address, as gomavlib's own UDP server
// endpoint) with a larger socket receive buffer. The kernel default
// (net.core.rmem_default, ~208 KiB) holds only ~250 small MAVLink
// datagrams: a link carrying 250 vehicles fills it in about 50 ms, so any
// scheduling hiccup of the station dropped frames at the socket. opened
// receives the listener, whose counters say how far the station is behind.
// The link's dispatcher takes the datagrams from the listener; gomavlib's
// channels are only used to write to the remotes.
func udpServerEndpoint(address string, rcvbuf, maxStaged int, batchWait time.Duration, opened func(*udpListener)) gomavlib.EndpointConf {
	return gomavlib.EndpointCustomServer{
		Listen: func() (net.Listener, error) {
			l, err := listenUDP(address, rcvbuf, udpConnQueue, maxStaged, batchWait)
			if err != nil {
				return nil, err
			}
			opened(l)
			return l, nil
		},
		Label:      udpChannelLabel,
		IsDatagram: true,
	}
}

// udpChannelLabel prefixes the label gomavlib gives a UDP server link's
// channels ("udp:ADDR:PORT"), by which the link finds the channel's conn.
const udpChannelLabel = "udp"

// SocketBuffer reports what the kernel grants for a UDP receive buffer.
type SocketBuffer struct {
	// Requested is Config.UDPReceiveBuffer.
	Requested int `json:"requested"`
	// Effective is what a socket gets (SO_RCVBUF as the kernel reports
	// it: twice the usable size, at most twice net.core.rmem_max).
	Effective int `json:"effective"`
	// RmemMax is net.core.rmem_max, the most an unprivileged process may
	// ask for (0 when unreadable).
	RmemMax int `json:"rmem_max"`
}

// probeSocketBuffer asks for rcvbuf on a throwaway socket and reads back
// what the kernel granted, so the station can say what it really has.
func probeSocketBuffer(rcvbuf int) (SocketBuffer, error) {
	sb := SocketBuffer{Requested: rcvbuf}
	if b, err := os.ReadFile("/proc/sys/net/core/rmem_max"); err == nil {
		sb.RmemMax, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return sb, fmt.Errorf("probe udp receive buffer: %w", err)
	}
	defer c.Close()
	if err := c.SetReadBuffer(rcvbuf); err != nil {
		return sb, fmt.Errorf("probe udp receive buffer: %w", err)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return sb, fmt.Errorf("probe udp receive buffer: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		sb.Effective, serr = getsockoptRcvbuf(fd)
	}); err != nil {
		return sb, fmt.Errorf("probe udp receive buffer: %w", err)
	}
	if serr != nil {
		return sb, fmt.Errorf("probe udp receive buffer: getsockopt: %w", serr)
	}
	return sb, nil
}
