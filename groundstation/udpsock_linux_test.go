package groundstation

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// A UDP server link's socket is outside Go's network poller: no epoll
// instance of the process but the listener's own watches it (a datagram
// arriving while a busy reader waits for the clock wakes no thread), and
// the listener still reads (waking from its own epoll), writes back, and
// closes with its reader waiting in epoll_wait.
func TestUDPListenerSocketIsOutsideThePoller(t *testing.T) {
	l, err := listenUDP("127.0.0.1:0", 1<<20, 8, 64, 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	closing := false // from then on the test closes it (a Close that hangs must not hang the cleanup too)
	t.Cleanup(func() {
		if !closing {
			l.Close()
		}
	})
	var st unix.Stat_t
	if err := unix.Fstat(l.sock.fd, &st); err != nil {
		t.Fatal(err)
	}
	watchers := epollsWatching(t, st.Ino)
	if len(watchers) != 1 || watchers[0] != l.sock.ep {
		t.Fatalf("socket (inode %d) watched by the epoll instances %v; want only the listener's own (%d)", st.Ino, watchers, l.sock.ep)
	}

	// The reader waits in its epoll (a quiet socket), wakes on a datagram,
	// and the station writes back through the socket.
	cl, err := net.DialUDP("udp4", nil, l.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	testenv.Eventually(t, 10*time.Second, "the reader waiting", func() bool { return l.waiting.Load() })
	time.Sleep(20 * time.Millisecond) // into epoll_wait, most likely
	if _, err := cl.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the datagram read", func() bool { return l.datagrams.Load() == 1 })
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16)
	if n, err := cl.Read(buf); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("remote read %q, %v; want the station's pong", buf[:n], err)
	}
	if _, _, err := l.socketMemInfo(); err != nil {
		t.Fatalf("socket meminfo: %v", err)
	}

	// Close wakes the reader out of epoll_wait (Close waits for it), and
	// the socket is gone: writes and meminfo fail, nothing panics.
	testenv.Eventually(t, 10*time.Second, "the reader waiting again", func() bool { return l.waiting.Load() })
	time.Sleep(20 * time.Millisecond)
	closed := make(chan error, 1)
	closing = true
	go func() { closed <- l.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return: the reader was not woken from epoll_wait")
	}
	if _, err := c.(*udpConn).l.writeTo([]byte("late"), c.(*udpConn).remote); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v, want net.ErrClosed", err)
	}
	if _, _, err := l.socketMemInfo(); err == nil {
		t.Fatal("socket meminfo after close succeeded")
	}
	if got := epollsWatching(t, st.Ino); len(got) != 0 {
		t.Fatalf("closed socket still watched by epoll instances %v", got)
	}
}

// epollsWatching lists the descriptors of this process's epoll instances
// that watch the file with inode ino (/proc/self/fdinfo: a "tfd:" line per
// watched descriptor, with its inode).
func epollsWatching(t *testing.T, ino uint64) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	var out []int
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || target != "anon_inode:[eventpoll]" {
			continue
		}
		info, err := os.ReadFile(filepath.Join("/proc/self/fdinfo", e.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(info), "\n") {
			if strings.HasPrefix(line, "tfd:") && strings.Contains(line, fmt.Sprintf(" ino:%x ", ino)) {
				var fd int
				fmt.Sscan(e.Name(), &fd)
				out = append(out, fd)
				break
			}
		}
	}
	return out
}

// A busy socket's reader that finds the socket empty at a tick waits for
// the clock again, up to lingerEmpty reads in a row, before it waits in
// epoll (a blocking system call whose P the runtime takes back), and a
// socket that went quiet is waited for in epoll after those reads. Three
// rounds of a busy stretch and silence: in every round the reader ends in
// epoll after at most lingerEmpty+1 empty reads; in at least one it read
// the empty socket more than once (a round can end just as the reader's
// rate window closes and the socket stops counting as busy, so not every
// round must).
func TestUDPReaderLingersOnABusySocketFoundEmpty(t *testing.T) {
	l, err := listenUDP("127.0.0.1:0", 4<<20, 3, 1<<20, 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// before[i] is the count of datagrams read when the reader began its
	// i-th read of the socket.
	var mu sync.Mutex
	var before []uint64
	hook := func() {
		mu.Lock()
		before = append(before, l.datagrams.Load())
		mu.Unlock()
	}
	l.readHook.Store(&hook)
	defer l.readHook.Store(nil)
	cl, err := net.DialUDP("udp4", nil, l.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	lingered := 0
	sent := uint64(0)
	for round := range 3 {
		// Busy: bursts of 100 for at least three of the reader's rate
		// windows, each once the last is read (none lost to the socket
		// buffer): thousands of datagrams a second.
		for start := time.Now(); time.Since(start) < 3*udpRateWindow; {
			for range 100 {
				if _, err := cl.Write([]byte{1}); err != nil {
					t.Fatal(err)
				}
				sent++
			}
			testenv.Eventually(t, 10*time.Second, "the burst read", func() bool { return l.datagrams.Load() == sent })
		}
		// Silence: the reader must end waiting in epoll. It read the last
		// datagram after any earlier wait there, so being in epoll now is
		// its wait after the last read.
		testenv.Eventually(t, 10*time.Second, "the reader waiting in epoll", l.inEpoll.Load)
		mu.Lock()
		empty := 0 // reads that began with every datagram read: they found the socket empty
		for _, b := range before {
			if b == sent {
				empty++
			}
		}
		before = before[:0]
		mu.Unlock()
		if empty < 1 || empty > lingerEmpty+1 {
			t.Fatalf("round %d: %d empty reads before waiting in epoll; want 1 to %d", round, empty, lingerEmpty+1)
		}
		if empty > 1 {
			lingered++
		}
	}
	if lingered == 0 {
		t.Fatal("in no round did the reader read the emptied busy socket again before waiting in epoll")
	}
	var b stageBuf
	l.take(&b)
	if uint64(len(b.items)) != sent || l.dropped() != 0 {
		t.Fatalf("staged %d of %d, dropped %d", len(b.items), sent, l.dropped())
	}
}
