package groundstation

import (
	"bytes"
	"net/netip"
	"testing"
)

// keepRaw's copies hold the bytes they were given whatever happens after:
// the datagram buffer is reused, another copy is appended to, and frames
// fill chunk after chunk (and one too large for a chunk is copied alone).
func TestKeepRawCopiesStayIntact(t *testing.T) {
	ln := &linkRT{}
	buf := make([]byte, rawArenaChunk)
	var kept, want [][]byte
	for i := range 1000 {
		n := 1 + i%280
		if i == 500 {
			n = rawArenaChunk // larger than a chunk's quarter: its own copy
		}
		frame := buf[:n]
		for j := range frame {
			frame[j] = byte(i + j)
		}
		k := ln.keepRaw(frame)
		kept = append(kept, k)
		want = append(want, bytes.Clone(frame))
		clear(buf) // the datagram buffer is reused
		if len(kept) > 1 {
			_ = append(kept[len(kept)-2], 0xFF) // appending to a copy must not reach the next one
		}
	}
	for i := range kept {
		if !bytes.Equal(kept[i], want[i]) {
			t.Fatalf("copy %d changed: %x, want %x", i, kept[i], want[i])
		}
	}
	if ln.keepRaw(nil) != nil {
		t.Error("an empty frame kept as non-nil")
	}
}

// A listener finds each remote's conn by address and port, IPv4 (the
// socket's) or any other, and forgets it once closed.
func TestUDPListenerConnsByRemote(t *testing.T) {
	l, err := listenUDP("127.0.0.1:0", 0, 1, 16, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	remotes := []netip.AddrPort{
		netip.MustParseAddrPort("127.0.0.1:5000"), netip.MustParseAddrPort("127.0.0.1:5001"),
		netip.MustParseAddrPort("127.0.0.2:5000"), netip.MustParseAddrPort("10.1.0.0:5000"),
		netip.MustParseAddrPort("10.0.1.0:5000"), netip.MustParseAddrPort("[::1]:5000"),
	}
	conns := map[*udpConn]bool{}
	for _, ap := range remotes {
		c := l.conn(ap)
		if c == nil || c.remote != ap {
			t.Fatalf("%s: conn %v", ap, c)
		}
		conns[c] = true
		if l.conn(ap) != c || l.lookup(ap) != c {
			t.Fatalf("%s: a second datagram found another conn", ap)
		}
	}
	if len(conns) != len(remotes) {
		t.Fatalf("%d conns for %d remotes", len(conns), len(remotes))
	}
	for c := range conns {
		_ = c.Close()
		if l.lookup(c.remote) != nil {
			t.Fatalf("%s: still found after Close", c.remote)
		}
	}
}
