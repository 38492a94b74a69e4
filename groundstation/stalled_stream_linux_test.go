//go:build linux

package groundstation

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/streamwriter"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/testenv"
)

// On a stream link a dispatcher with no frame waiting is not caught up:
// gomavlib's reader hands frames over one at a time, so a starved
// station's frames wait in the kernel, or in a reader that read them and
// was not run again. The connection's reader is stalled (a test hook,
// right after a read returned data: it holds frames it has not handed
// on) past the heartbeat timeout, on real TCP sockets (the station as
// server and as client), a UDP client link's socket and a pty (serial):
//   - while the vehicle keeps sending, its HEARTBEATs queue in the kernel
//     (SIOCINQ shows them): no link_lost, the decisions put off and
//     counted; once the reader runs again they are handled and the
//     vehicle never left;
//   - with the vehicle silent right after the read the reader holds, the
//     kernel is empty and the dispatcher idle, yet the HEARTBEAT in the
//     reader's hands is newer than the timeout: still no link_lost until
//     it is handled;
//   - a vehicle really silent is lost, verified (no unverified field).
func TestStalledStreamReaderIsLateNotSilent(t *testing.T) {
	for _, kind := range []string{"tcps", "tcp", "udpc", "serial"} {
		t.Run(kind, func(t *testing.T) { testStalledStreamReader(t, kind) })
	}
}

func testStalledStreamReader(t *testing.T, kind string) {
	spec, peer := stalledStreamPeer(t, kind)
	cfg := testConfig(spec)
	cfg.IdentityWait = 200 * time.Millisecond // HEARTBEATs only: published without a UID
	cfg.LinkLostMaxDefer = time.Hour          // the test ends its stalls itself
	st, fl := startStation(t, cfg)
	p := peer()
	v := startHeartbeats(t, p)

	testenv.Eventually(t, 30*time.Second, "the vehicle published", func() bool { return len(fl.List()) == 1 })
	id := fl.List()[0].ID
	ln := st.running[0]
	lastHB := func() time.Time {
		ln.mu.Lock()
		defer ln.mu.Unlock()
		if r := ln.bySys[1]; r != nil {
			return r.lastHB
		}
		return time.Time{}
	}
	var g *gatedConn
	testenv.Eventually(t, 30*time.Second, "the vehicle's connection and a HEARTBEAT handled", func() bool {
		ln.streams.Range(func(_, c any) bool { g = c.(*gatedConn); return false })
		return g != nil && !lastHB().IsZero()
	})
	socket := kind != "serial" // the kernel's queue is known (SIOCINQ)

	// stall blocks the reader after its next read (then trigger, when
	// given, runs: it makes that read come) until resume.
	stall := func(trigger func()) (resume func()) {
		release, stalled := make(chan struct{}), make(chan struct{}, 1)
		hook := func() {
			select {
			case stalled <- struct{}{}:
			default:
			}
			<-release
		}
		g.probe.hook.Store(&hook)
		var once sync.Once
		resume = func() {
			once.Do(func() {
				g.probe.hook.Store(nil)
				close(release)
			})
		}
		t.Cleanup(resume)
		if trigger != nil {
			trigger()
		}
		select {
		case <-stalled:
		case <-time.After(30 * time.Second):
			t.Fatal("the reader never read the vehicle's frames")
		}
		return resume
	}
	noLinkLost := func(since uint64, what string) {
		t.Helper()
		for _, e := range fl.Events(since, id, 0) {
			if e.Kind == fleet.EventLinkLost {
				t.Fatalf("link_lost raised %s: %+v", what, e)
			}
		}
		if v, _ := fl.Get(id); !v.Connected {
			t.Fatalf("vehicle not connected %s", what)
		}
	}

	// 1. Frames wait in the kernel.
	since := lastSeq(fl)
	deferred0 := ln.lostDeferred.Load()
	resume := stall(nil)
	testenv.Eventually(t, 60*time.Second, "link-lost checks put off while the reader is stalled", func() bool {
		v, _ := fl.Get(id)
		return ln.lostDeferred.Load() >= deferred0+8 || !v.Connected // ~2 s past the timeout
	})
	if n, known := g.probe.queued(); socket && (!known || n == 0) {
		t.Errorf("kernel queue %d bytes (known %v) while the reader is stalled: want the vehicle's frames waiting", n, known)
	}
	noLinkLost(since, "while the vehicle's frames waited in the kernel")
	if info := st.Links()[0]; info.LinkLostDeferred == 0 || info.BehindS <= 0 {
		t.Errorf("link info while stalled: link_lost_deferred %d, behind_s %v; want both > 0", info.LinkLostDeferred, info.BehindS)
	}
	stalledHB := lastHB()
	resume()
	testenv.Eventually(t, 60*time.Second, "a HEARTBEAT after the stall handled", func() bool { return lastHB().After(stalledHB) })
	noLinkLost(since, "for a vehicle that kept sending while the station was stalled")

	// 2. The reader holds the vehicle's last HEARTBEAT; nothing else comes.
	// The vehicle stops first and then sends that one HEARTBEAT, which
	// the reader reads and holds: stopped after the stall instead, it
	// could send one more between the two (its ticker is not stopped
	// with it), and that one waited in the kernel (a CI failure).
	since = lastSeq(fl)
	deferred0 = ln.lostDeferred.Load()
	v.stop()
	if socket {
		testenv.Eventually(t, 10*time.Second, "the stopped vehicle's frames read from the kernel", func() bool {
			n, known := g.probe.queued()
			return known && n == 0
		})
	}
	resume = stall(func() {
		if err := v.send(); err != nil {
			t.Fatalf("the vehicle's last HEARTBEAT: %v", err)
		}
	})
	heldHB := lastHB()
	testenv.Eventually(t, 60*time.Second, "link-lost checks put off while the reader holds a HEARTBEAT", func() bool {
		v, _ := fl.Get(id)
		return ln.lostDeferred.Load() >= deferred0+8 || !v.Connected
	})
	if n, known := g.probe.queued(); socket && (!known || n != 0) {
		t.Errorf("kernel queue %d bytes (known %v): want empty, the vehicle silent", n, known)
	}
	noLinkLost(since, "while the station held a HEARTBEAT it had not handled")
	resume()

	// 3. Then it is silent: lost, verified, after the held HEARTBEAT.
	ev := waitEvent(t, fl, since, id, fleet.EventLinkLost, 60*time.Second)
	if !lastHB().After(heldHB) {
		t.Errorf("lost with last HEARTBEAT %v; the held one (after %v) was never handled", lastHB(), heldHB)
	}
	if u, ok := ev.Fields["unverified"]; ok || ln.lostUnverified.Load() != 0 {
		t.Errorf("link_lost unverified=%v (%d counted); the silence was verified", u, ln.lostUnverified.Load())
	}
}

// vehicleHB is a vehicle sending its HEARTBEAT every 100 ms until stop,
// which returns once it sent its last; send sends one more (after stop).
type vehicleHB struct {
	stop func()
	send func() error
}

func startHeartbeats(t *testing.T, c io.ReadWriteCloser) vehicleHB {
	t.Helper()
	rw := newFrameRW(t, c)
	sw := &streamwriter.Writer{FrameWriter: rw.Writer, Version: streamwriter.V2, SystemID: 1, ComponentID: 1}
	if err := sw.Initialize(); err != nil {
		t.Fatal(err)
	}
	hb := &common.MessageHeartbeat{Type: common.MAV_TYPE_QUADROTOR, Autopilot: common.MAV_AUTOPILOT_GENERIC, MavlinkVersion: 3}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if err := sw.Write(hb); err != nil {
				return // the station's end closed
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	// Drain what the station sends, so its writes never block the test.
	go func() { _, _ = io.Copy(io.Discard, c) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(func() { stop(); c.Close() })
	return vehicleHB{stop: stop, send: func() error { return sw.Write(hb) }}
}

// stalledStreamPeer is streamPeer with a UDP client link too: the
// vehicle's UDP socket, to which the station connects, answering the
// address the station's first datagram came from.
func stalledStreamPeer(t *testing.T, kind string) (string, func() io.ReadWriteCloser) {
	t.Helper()
	if kind != "udpc" {
		return streamPeer(t, kind)
	}
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return fmt.Sprintf("udpc:%s", pc.LocalAddr()), func() io.ReadWriteCloser {
		buf := make([]byte, 1<<16)
		_ = pc.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, from, err := pc.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no datagram from the station: %v", err)
		}
		_ = pc.SetReadDeadline(time.Time{})
		return &udpPeer{pc: pc, to: from}
	}
}

// udpPeer is the vehicle's UDP socket answering the station.
type udpPeer struct {
	pc     *net.UDPConn
	to     *net.UDPAddr
	closed atomic.Bool
}

func (u *udpPeer) Read(p []byte) (int, error)  { return u.pc.Read(p) }
func (u *udpPeer) Write(p []byte) (int, error) { return u.pc.WriteToUDP(p, u.to) }
func (u *udpPeer) Close() error {
	if u.closed.Swap(true) {
		return nil
	}
	return u.pc.Close()
}
