package groundstation

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// The link's UDP listener hands every datagram to the link with its
// remote's conn, announces each new remote once through Accept, notes
// when it found the socket empty, keeps a conn open while its remote is
// heard (gomavlib's idle deadline), and writes back to the remote.
func TestUDPListenerHandsDatagramsToTheLink(t *testing.T) {
	var mu sync.Mutex
	got := map[*udpConn][]byte{}
	var caught atomic.Int64
	l, err := listenUDP("127.0.0.1:0", 1<<20, 3, func(c *udpConn, data []byte, _ time.Time) {
		mu.Lock()
		got[c] = append(got[c], data...)
		mu.Unlock()
	}, &caught)
	if err != nil {
		t.Fatal(err)
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
	testenv.Eventually(t, 10*time.Second, "the reader waiting on an empty socket", func() bool { return l.waiting.Load() && caught.Load() != 0 })
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr().String() != cl.LocalAddr().String() {
		t.Fatalf("conn of %s, sent from %s", c.RemoteAddr(), cl.LocalAddr())
	}
	mu.Lock()
	if len(got) != 1 || string(got[c.(*udpConn)]) != "\x00\x01\x02\x03\x04" {
		t.Fatalf("handed %v, want the 5 datagrams in order on one conn", got)
	}
	mu.Unlock()
	if l.dropped.Load() != 0 {
		t.Fatalf("dropped %d", l.dropped.Load())
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
		mu.Lock()
		defer mu.Unlock()
		return string(got[c2.(*udpConn)]) == "\x07"
	})
	_ = l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept after close: %v", err)
	}
}
