package testenv

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago,
// for a link, a simulator or a station a test starts itself.
//
// The port is taken below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), never one the kernel hands out for
// port 0: an ephemeral port was, a moment ago, some other socket's, and
// its peers may still be sending to it (RTCP from a WebRTC peer was seen
// arriving at fresh ephemeral sockets every 5 s on a busy machine). A
// station on such a port counted the stray datagrams as parse errors and
// tests expecting none failed. Outside that range nothing aims at a port
// unless a test chose it.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	return freePort(t, func(p int) (int, error) {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	})
}

// FreeTCPPort returns a TCP port on 127.0.0.1 that was free a moment ago,
// below the kernel's ephemeral range for the same reason as FreeUDPPort,
// and one more: a server a test stops and starts again on the same port
// (influxtest's outage tests) leaves it free meanwhile, and in the
// ephemeral range any other test's listener on port 0, or any outgoing
// connection's local end, may take it in that gap.
func FreeTCPPort(t testing.TB) int {
	t.Helper()
	return freePort(t, func(p int) (int, error) {
		ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return 0, err
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port, nil
	})
}

// freePort binds (and releases) random ports from 10000 to just below the
// ephemeral range, and falls back to the port the kernel picks for port 0
// when that range is too small or all tries failed. bind binds port p of
// its network (0: the kernel's choice) and returns the port it got.
func freePort(t testing.TB, bind func(p int) (int, error)) int {
	t.Helper()
	lo := 10000
	hi := ephemeralLow() - 1
	for i := 0; hi-lo >= 1000 && i < 100; i++ {
		if p, err := bind(lo + rand.IntN(hi-lo+1)); err == nil {
			return p
		}
	}
	p, err := bind(0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768,
// Linux's default, when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}
