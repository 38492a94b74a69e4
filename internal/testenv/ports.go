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
	return freePort(t, func(p int) error {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err == nil {
			c.Close()
		}
		return err
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
	return freePort(t, func(p int) error {
		ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(p))
		if err == nil {
			ln.Close()
		}
		return err
	})
}

// freePort tries random ports from 10000 to just below the ephemeral range
// with try (nil: it could bind the port), and falls back to one the kernel
// picks when that range is too small or all tries failed.
func freePort(t testing.TB, try func(port int) error) int {
	t.Helper()
	lo := 10000
	hi := ephemeralLow() - 1
	for i := 0; hi-lo >= 1000 && i < 100; i++ {
		if p := lo + rand.IntN(hi-lo+1); try(p) == nil {
			return p
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := ln.Addr().(*net.TCPAddr).Port
	if err := try(p); err != nil {
		t.Fatalf("no free port: %v", err)
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
