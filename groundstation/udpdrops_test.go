package groundstation

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// Past what the station can carry, every datagram sent to a UDP link is
// decoded or counted where it was dropped, by queue, and the drops are
// logged once a period. The link's dispatcher is stalled (its lock held,
// as a dispatcher seconds behind under overload) while a remote sends
// 600 frames over a real socket into a 64-datagram staging buffer. A
// 2,000-vehicle run on an overloaded machine lost 2.4 % of its frames in
// that buffer with nothing in the log, counted only under a metric whose
// help text described another queue.
func TestUDPOverloadEveryDatagramDecodedOrCountedAndLogged(t *testing.T) {
	const maxStaged, burst = 64, 600
	// Positions of a system that never sent a HEARTBEAT: decoded, held
	// for a HEARTBEAT and counted unattached (hold.go), and nothing for
	// the station to answer.
	u := newUDPRemote(t, 42, func(c *Config) { c.udpMaxStaged = maxStaged })
	st, ln, l, logs, stop := u.st, u.ln, u.l, u.logs, u.stop
	send := func() {
		t.Helper()
		u.send(t, &common.MessageGlobalPositionInt{Lat: 418123000, Lon: 692716000})
	}
	// The remote's channel is open (its first frame decoded) before the
	// stall, so what follows meets the staging buffer, not the hold queue.
	send()
	testenv.Eventually(t, 10*time.Second, "the first frame decoded", func() bool { return ln.frames.Load() == 1 })

	linkInfo := func() LinkInfo { return st.Links()[0] }
	socketDrops := func() uint64 {
		if s := linkInfo().Socket; s != nil {
			return s.Drops
		}
		return 0
	}
	ln.mu.Lock() // the dispatcher stalls at its next batch
	for range burst {
		send()
	}
	// The reader keeps reading the socket: every datagram is read (or,
	// on a machine starving the reader too, dropped by the kernel).
	testenv.Eventually(t, 10*time.Second, "every datagram read from the socket or dropped by the kernel", func() bool {
		return l.datagrams.Load()+socketDrops() == burst+1
	})
	ln.mu.Unlock()
	testenv.Eventually(t, 10*time.Second, "the backlog dispatched", func() bool { return l.queued.Load() == 0 && l.staged() == 0 })

	li := linkInfo()
	staging := li.BacklogDroppedBy[dropStaging.String()]
	if staging == 0 {
		t.Fatalf("a stalled dispatcher behind a %d-datagram staging buffer dropped nothing of %d datagrams: %+v", maxStaged, burst, li)
	}
	if li.BacklogDropped != staging+li.BacklogDroppedBy[dropHold.String()]+li.BacklogDroppedBy[dropAccept.String()] {
		t.Errorf("backlog_dropped %d is not the sum of its queues %v", li.BacklogDropped, li.BacklogDroppedBy)
	}
	// Every datagram read is decoded or dropped by a named queue, and
	// every datagram sent is read or dropped at the socket.
	if li.Datagrams != li.Frames+li.BacklogDropped || li.ParseErrors != 0 {
		t.Errorf("datagrams read %d != frames decoded %d + dropped %d (parse errors %d)", li.Datagrams, li.Frames, li.BacklogDropped, li.ParseErrors)
	}
	if sock := socketDrops(); li.Datagrams+sock != burst+1 {
		t.Errorf("sent %d, read %d + dropped by the kernel %d", burst+1, li.Datagrams, sock)
	}

	// Logged once a period: the next check of the link's drops (at most
	// every udpDropLogEvery; here a tick that late, unless the link's own
	// ticker got there first on a slow machine) reports them, by queue,
	// and a check with nothing new since says nothing.
	const msg = "UDP datagrams dropped before decoding"
	at := time.Now().Add(udpDropLogEvery)
	ln.locked(func() { ln.tick(at) })
	out := logs.String()
	if strings.Count(out, msg) != 1 || !strings.Contains(out, fmt.Sprintf("dropped_staging=%d ", staging)) ||
		!strings.Contains(out, "link="+ln.l.name) {
		t.Fatalf("want one log line of %d datagrams dropped at the staging buffer of %s; log:\n%s", staging, ln.l.name, out)
	}
	ln.locked(func() { ln.tick(at.Add(udpDropLogEvery)) })
	if n := strings.Count(logs.String(), msg); n != 1 {
		t.Errorf("%d log lines after a period without new drops, want still 1", n)
	}

	// Stopped while behind: what was read and not dispatched is said in
	// the log, so every datagram read is still decoded, dropped by a
	// queue or reported (how many of the staged ones the dispatcher still
	// takes before it sees the stop varies).
	ln.mu.Lock()
	for range burst {
		send()
	}
	testenv.Eventually(t, 10*time.Second, "every datagram read from the socket or dropped by the kernel", func() bool {
		return l.datagrams.Load()+socketDrops() == 2*burst+1
	})
	sock := socketDrops()
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	testenv.Eventually(t, 10*time.Second, "the station stopping", func() bool { return st.runCtx.Err() != nil })
	ln.mu.Unlock()
	<-stopped
	left := 0
	if _, after, ok := strings.Cut(logs.String(), "read but not dispatched when the station stopped"); ok {
		if _, err := fmt.Sscanf(after[strings.Index(after, "datagrams=")+len("datagrams="):], "%d", &left); err != nil {
			t.Fatalf("undispatched count unreadable: %v\n%s", err, logs)
		}
	}
	t.Logf("at the stop: %d datagrams read, %d decoded, %d dropped by queues, %d left undispatched, %d dropped by the kernel",
		l.datagrams.Load(), ln.frames.Load(), l.dropped(), left, sock)
	if got := ln.frames.Load() + l.dropped() + uint64(left); got != l.datagrams.Load() || l.datagrams.Load()+sock != 2*burst+1 {
		t.Errorf("sent %d: read %d (kernel drops %d) = decoded %d + dropped %d + left at the stop %d?",
			2*burst+1, l.datagrams.Load(), sock, ln.frames.Load(), l.dropped(), left)
	}
	if left == 0 { // the dispatcher drained the stage before it saw the stop: the report, alone
		l.queued.Add(5)
		ln.logUndispatched()
		if !strings.Contains(logs.String(), "read but not dispatched when the station stopped") || !strings.Contains(logs.String(), "datagrams=5") {
			t.Errorf("5 datagrams left at the stop not reported; log:\n%s", logs)
		}
	}
}

// A UDP client link decodes every frame a datagram carries. Routers
// (mavlink-router, MAVProxy outputs) pack several frames into one
// datagram; gomavlib's datagram reader read each datagram into 512 bytes
// and decoded only its first frame, reporting the rest as one parse error
// ("skipped N bytes"): frames lost, counted as one malformed input.
func TestUDPClientLinkDecodesEveryFrameOfADatagram(t *testing.T) {
	veh, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer veh.Close()
	cfg := testConfig("udpc:" + veh.LocalAddr().String())
	logs := &lockedBuf{}
	cfg.Log = slog.New(slog.NewTextHandler(logs, nil))
	st, _ := startStation(t, cfg)
	// The station's HEARTBEAT (once a second) tells the vehicle where it is.
	buf := make([]byte, 2048)
	_ = veh.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, station, err := veh.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no HEARTBEAT from the station: %v", err)
	}
	enc := newFrameEncoder(t, 42, 1)
	frames := 0
	datagram := func(n int) []byte {
		var d []byte
		for range n {
			d = append(d, enc.encode(t, &common.MessageGlobalPositionInt{Lat: 418123000, Lon: 692716000, TimeBootMs: uint32(frames)})...)
			frames++
		}
		return d
	}
	// An empty datagram (no data, not the end of the link), then one
	// frame, eight (~300 bytes), and forty (~1,600 bytes: past 512).
	if _, err := veh.WriteToUDP(nil, station); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 8, 40} {
		d := datagram(n)
		if n == 40 && len(d) <= 512 {
			t.Fatalf("the large datagram is only %d bytes", len(d))
		}
		if _, err := veh.WriteToUDP(d, station); err != nil {
			t.Fatal(err)
		}
	}
	st.mu.Lock()
	ln := st.running[0]
	st.mu.Unlock()
	testenv.Eventually(t, 10*time.Second, "every frame decoded, or a parse error", func() bool {
		return ln.frames.Load() >= uint64(frames) || ln.parseErrors.Load() > 0
	})
	if got, pe := ln.frames.Load(), ln.parseErrors.Load(); got != uint64(frames) || pe != 0 {
		var last string
		ln.locked(func() { last = ln.lastParseError })
		t.Fatalf("decoded %d of %d frames, %d parse errors (%s)", got, frames, pe, last)
	}

	// The link's socket is counted as the kernel sees it, as a UDP server
	// link's is: with the dispatcher stalled, gomavlib's reader stops and
	// the socket's receive buffer (the kernel default, ~200 KiB) fills;
	// what the kernel drops is counted and logged, and every frame sent
	// is decoded or among those drops.
	sock := func() SocketStats {
		s := st.Links()[0].Socket
		if s == nil {
			t.Fatal("a UDP client link reports no socket counters")
		}
		return *s
	}
	if s := sock(); s.Drops != 0 || s.Local != station.String() {
		t.Fatalf("socket %+v, want no drops at %s", s, station)
	}
	const burst = 5000
	func() {
		ln.mu.Lock()
		defer ln.mu.Unlock()
		for range burst {
			if _, err := veh.WriteToUDP(datagram(1), station); err != nil {
				t.Fatal(err)
			}
		}
		testenv.Eventually(t, 10*time.Second, "the kernel dropping datagrams to the stalled link", func() bool { return sock().Drops > 0 })
	}()
	testenv.Eventually(t, 10*time.Second, "every frame decoded or dropped at the socket", func() bool {
		return ln.frames.Load()+sock().Drops == uint64(frames)
	})
	at := time.Now().Add(udpDropLogEvery)
	ln.locked(func() { ln.tick(at) })
	if !strings.Contains(logs.String(), fmt.Sprintf("dropped_socket=%d ", sock().Drops)) {
		t.Fatalf("socket drops not logged; log:\n%s", logs)
	}
}
