package metrics

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// UDPSocket is one of this process's UDP sockets as the kernel counts it
// in /proc/net/udp: datagrams dropped because its receive buffer was full
// (the loss no userspace counter can see) and what waits in that buffer.
type UDPSocket struct {
	Local        netip.AddrPort
	Inode        uint64
	Drops        uint64
	RxQueueBytes uint64
}

// OwnUDPSockets lists this process's IPv4 UDP sockets with their kernel
// counters: the sockets are matched by inode with /proc/self/fd, so other
// processes' sockets (a load generator on the same machine) never count.
func OwnUDPSockets() ([]UDPSocket, error) { return ProcessUDPSockets("self") }

// ProcessUDPSockets is OwnUDPSockets for another process ("self" or a
// pid), e.g. a benchmark reading the drops of a process it started.
func ProcessUDPSockets(pid string) ([]UDPSocket, error) {
	inodes, err := ownSocketInodes("/proc/" + pid + "/fd")
	if err != nil {
		return nil, err
	}
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return nil, fmt.Errorf("udp socket stats: %w", err)
	}
	defer f.Close()
	all, err := parseProcNetUDP(f)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, s := range all {
		if inodes[s.Inode] {
			out = append(out, s)
		}
	}
	return out, nil
}

func ownSocketInodes(fdDir string) (map[uint64]bool, error) {
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return nil, fmt.Errorf("udp socket stats: list %s: %w", fdDir, err)
	}
	out := make(map[uint64]bool)
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if s, ok := strings.CutPrefix(l, "socket:["); ok {
			if n, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64); err == nil {
				out[n] = true
			}
		}
	}
	return out, nil
}

// parseProcNetUDP reads the /proc/net/udp table:
//
//	sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops
//
// Addresses are hex, the IPv4 address in the host's (little-endian) byte
// order, the port big-endian.
func parseProcNetUDP(r io.Reader) ([]UDPSocket, error) {
	sc := bufio.NewScanner(r)
	var out []UDPSocket
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			continue // header
		}
		fs := strings.Fields(sc.Text())
		if len(fs) < 13 {
			return nil, fmt.Errorf("/proc/net/udp line %d: %d fields, want 13", line, len(fs))
		}
		local, err := parseHexAddr(fs[1])
		if err != nil {
			return nil, fmt.Errorf("/proc/net/udp line %d: %w", line, err)
		}
		_, rxq, _ := strings.Cut(fs[4], ":")
		rx, err1 := strconv.ParseUint(rxq, 16, 64)
		inode, err2 := strconv.ParseUint(fs[9], 10, 64)
		drops, err3 := strconv.ParseUint(fs[12], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("/proc/net/udp line %d: bad number in %q", line, sc.Text())
		}
		out = append(out, UDPSocket{Local: local, Inode: inode, Drops: drops, RxQueueBytes: rx})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("/proc/net/udp: %w", err)
	}
	return out, nil
}

func parseHexAddr(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok || len(a) != 8 {
		return netip.AddrPort{}, fmt.Errorf("address %q: want 8 hex digits:port", s)
	}
	ip, err1 := strconv.ParseUint(a, 16, 32)
	port, err2 := strconv.ParseUint(p, 16, 16)
	if err1 != nil || err2 != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: not hex", s)
	}
	// The kernel prints the 32-bit word as it sits in memory on a
	// little-endian host: 0100007F is 127.0.0.1.
	b := [4]byte{byte(ip), byte(ip >> 8), byte(ip >> 16), byte(ip >> 24)}
	return netip.AddrPortFrom(netip.AddrFrom4(b), uint16(port)), nil
}
