package groundstation

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// The link's UDP listener stages every datagram with its remote's conn
// (bounded: beyond maxStaged it drops and counts), signals the link,
// announces each new remote once through Accept, notes when it found the
// socket empty, keeps a conn open while its remote is heard (gomavlib's
// idle deadline), and writes back to the remote.
func TestUDPListenerStagesDatagramsForTheLink(t *testing.T) {
	l, err := listenUDP("127.0.0.1:0", 1<<20, 3, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	var batch stageBuf
	got := map[*udpConn][]byte{}
	take := func() {
		l.take(&batch)
		for i := range batch.items {
			got[batch.items[i].c] = append(got[batch.items[i].c], batch.bytes(i)...)
		}
		l.queued.Add(-int64(len(batch.items)))
	}
	defer l.Close()
	cl, err := net.DialUDP("udp4", nil, l.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < 5; i++ {
		if _, err := cl.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 10*time.Second, "5 datagrams read from the socket", func() bool { return l.datagrams.Load() == 5 })
	testenv.Eventually(t, 10*time.Second, "the reader waiting on an empty socket", func() bool { return l.waiting.Load() && l.emptyAt.Load() != 0 })
	select {
	case <-l.ready:
	default:
		t.Fatal("datagrams staged but the link not signalled")
	}
	if l.queued.Load() != 4 || l.drops[dropStaging].Load() != 1 || l.dropped() != 1 || l.staged() != 4 {
		t.Fatalf("staged %d (queued %d), dropped %d (staging %d); want 4 staged and the 5th dropped at the staging buffer",
			l.staged(), l.queued.Load(), l.dropped(), l.drops[dropStaging].Load())
	}
	take()
	if l.staged() != 0 || l.queued.Load() != 0 {
		t.Fatalf("staged %d after the take", l.staged())
	}
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr().String() != cl.LocalAddr().String() {
		t.Fatalf("conn of %s, sent from %s", c.RemoteAddr(), cl.LocalAddr())
	}
	if len(got) != 1 || string(got[c.(*udpConn)]) != "\x00\x01\x02\x03" {
		t.Fatalf("took %v, want the first 4 datagrams in order on one conn", got)
	}

	// Read returns no data: it fails once the remote has been silent for
	// the deadline's span, and a datagram heard in the meantime keeps it.
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	readErr := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 16)); readErr <- err }()
	for i := 0; i < 3; i++ {
		time.Sleep(150 * time.Millisecond)
		if _, err := cl.Write([]byte{9}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 10*time.Second, "datagram read", func() bool { return l.datagrams.Load() == uint64(6+i) })
		take()
	}
	select {
	case err := <-readErr:
		t.Fatalf("read ended (%v) although the remote was heard within every 300 ms", err)
	default:
	}
	if err := <-readErr; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read of a silent remote: %v, want the deadline exceeded", err)
	}

	if _, err := c.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := cl.Read(buf); err != nil || string(buf[:n]) != "hi" {
		t.Fatalf("remote got %q %v", buf[:n], err)
	}
	// A closed conn is forgotten: the remote's next datagram is a new conn.
	_ = c.Close()
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read of a closed conn: %v", err)
	}
	if _, err := cl.Write([]byte{7}); err != nil {
		t.Fatal(err)
	}
	c2, err := l.Accept()
	if err != nil || c2 == c {
		t.Fatalf("second conn %v %v", c2, err)
	}
	testenv.Eventually(t, 10*time.Second, "the datagram on the new conn", func() bool {
		take()
		return string(got[c2.(*udpConn)]) == "\x07"
	})
	_ = l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept after close: %v", err)
	}
}

// With a batch wait, a busy socket's reader reads in batches: every
// datagram is still staged, in order, the link is signalled, and the
// reader ends waiting on the emptied socket.
func TestUDPListenerBatchesABusySocket(t *testing.T) {
	l, err := listenUDP("127.0.0.1:0", 4<<20, 3, 100000, 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cl, err := net.DialUDP("udp4", nil, l.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Bursts of 250 (which any socket buffer holds), the next once the
	// reader has read the last: thousands of datagrams a second, a busy
	// socket, and none lost before the reader gets to it.
	const burst, n = 250, 5000
	for i := 0; i < n; i++ {
		if _, err := cl.Write([]byte{byte(i >> 8), byte(i)}); err != nil {
			t.Fatal(err)
		}
		if (i+1)%burst == 0 {
			testenv.Eventually(t, 10*time.Second, "the burst read", func() bool { return l.datagrams.Load() == uint64(i+1) })
		}
	}
	testenv.Eventually(t, 10*time.Second, "the reader waiting on an empty socket", func() bool { return l.waiting.Load() })
	select {
	case <-l.ready:
	default:
		t.Fatal("datagrams staged but the link not signalled")
	}
	var b stageBuf
	l.take(&b)
	if len(b.items) != n || l.dropped() != 0 {
		t.Fatalf("staged %d of %d, dropped %d", len(b.items), n, l.dropped())
	}
	for i := range b.items {
		if d := b.bytes(i); len(d) != 2 || int(d[0])<<8|int(d[1]) != i&0xffff {
			t.Fatalf("datagram %d is %v", i, d)
		}
	}
}
