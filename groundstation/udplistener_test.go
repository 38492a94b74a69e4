package groundstation

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// The link's UDP listener hands each remote its own conn, counts what
// waits for the station (backlog) and what a full queue drops, honours
// read deadlines as gomavlib uses them, and writes back to the remote.
func TestUDPListenerCountsBacklogAndDrops(t *testing.T) {
	l, err := listenUDP("127.0.0.1:0", 1<<20, 3)
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
	if l.queued.Load() != 3 || l.dropped.Load() != 2 {
		t.Fatalf("backlog %d, dropped %d; want 3 queued and 2 dropped", l.queued.Load(), l.dropped.Load())
	}
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr().String() != cl.LocalAddr().String() {
		t.Fatalf("conn of %s, sent from %s", c.RemoteAddr(), cl.LocalAddr())
	}
	buf := make([]byte, 16)
	for want := byte(0); want < 3; want++ {
		n, err := c.Read(buf)
		if err != nil || n != 1 || buf[0] != want {
			t.Fatalf("read %v %v, want datagram %d", buf[:n], err, want)
		}
	}
	if l.queued.Load() != 0 {
		t.Fatalf("backlog %d after reading everything", l.queued.Load())
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	if _, err := c.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := cl.Read(buf); err != nil || string(buf[:n]) != "hi" {
		t.Fatalf("remote got %q %v", buf[:n], err)
	}
	// A closed conn is forgotten: the remote's next datagram is a new conn.
	_ = c.Close()
	if _, err := cl.Write([]byte{9}); err != nil {
		t.Fatal(err)
	}
	c2, err := l.Accept()
	if err != nil || c2 == c {
		t.Fatalf("second conn %v %v", c2, err)
	}
	if n, err := c2.Read(buf); err != nil || n != 1 || buf[0] != 9 {
		t.Fatalf("read %v %v", buf[:n], err)
	}
	_ = l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept after close: %v", err)
	}
}
