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
	lo := 10000
	hi := ephemeralLow() - 1
	for try := 0; hi-lo >= 1000 && try < 100; try++ {
		p := lo + rand.IntN(hi-lo+1)
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			continue // taken
		}
		c.Close()
		return p
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
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

// FreeTCPPort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreeTCPPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
