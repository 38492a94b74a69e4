//go:build linux

package groundstation

import (
	"fmt"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator"
)

// A starved station is late, not its vehicles. The link's socket reader
// is stalled (a test hook: it reads nothing while the vehicle's datagrams
// queue in the socket, as on a machine whose CPUs are all taken) until
// link-lost checks have run past the heartbeat timeout: the vehicle is
// not declared lost, the put-off decisions are counted, and once the
// reader runs again the queued HEARTBEATs arrive and the vehicle never
// left. A vehicle that really stops sending is then declared lost, as a
// verified silence. Real UDP sockets (SO_MEMINFO shows the queued
// datagrams: Linux), the real simulator.
// oneVehicleLink is a station with one UDP link and one simulated vehicle
// on it whose first HEARTBEAT has been handled: the set-up of the tests
// below, which then stall or starve that link.
type oneVehicleLink struct {
	st     *Station
	fl     *fleet.Fleet
	sim    *simulator.Sim
	id     string
	ln     *linkRT
	l      *udpListener
	lastHB func() time.Time // the link's record of the vehicle's last HEARTBEAT
}

// startOneVehicleLink starts it; link-lost deferral is uncapped (the tests
// end their stalls themselves), and mod may change the rest of the config.
func startOneVehicleLink(t *testing.T, seed int64, mod func(*Config)) oneVehicleLink {
	t.Helper()
	port := testenv.FreeUDPPort(t)
	cfg := testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port))
	cfg.LinkLostMaxDefer = time.Hour
	if mod != nil {
		mod(&cfg)
	}
	var v oneVehicleLink
	v.st, v.fl = startStation(t, cfg)
	v.sim = startSim(t, 1, seed, port)
	testenv.Eventually(t, 30*time.Second, "the vehicle published", func() bool { return len(v.fl.List()) == 1 })
	v.id = v.fl.List()[0].ID
	v.ln = v.st.running[0]
	if v.l = v.ln.udp.Load(); v.l == nil {
		t.Fatal("the UDP link has no socket listener")
	}
	v.lastHB = func() time.Time {
		v.ln.mu.Lock()
		defer v.ln.mu.Unlock()
		for _, r := range v.ln.recs {
			if r.id == v.id {
				return r.lastHB
			}
		}
		return time.Time{}
	}
	testenv.Eventually(t, 30*time.Second, "a HEARTBEAT of the vehicle handled", func() bool { return !v.lastHB().IsZero() })
	return v
}

func TestStarvedReaderIsLateNotSilent(t *testing.T) {
	v := startOneVehicleLink(t, 21, nil)
	st, fl, sim, id, ln, l, lastHB := v.st, v.fl, v.sim, v.id, v.ln, v.l, v.lastHB
	since := lastSeq(fl)

	release := make(chan struct{})
	stalled := make(chan struct{}, 1)
	hook := func() {
		select {
		case stalled <- struct{}{}:
		default:
		}
		<-release
	}
	released := false
	resume := func() {
		if !released {
			released = true
			l.readHook.Store(nil)
			close(release)
		}
	}
	t.Cleanup(resume) // before the station stops: its socket closes only once the reader returns
	l.readHook.Store(&hook)
	select {
	case <-stalled:
	case <-time.After(30 * time.Second):
		t.Fatal("the reader never came to read the socket")
	}
	// Starved: the checks run while the vehicle's HEARTBEATs wait in the
	// socket, until one of them finds the last handled HEARTBEAT older
	// than the timeout and puts the decision off.
	testenv.Eventually(t, 60*time.Second, "a link-lost check put off while the reader is stalled", func() bool {
		v, _ := fl.Get(id)
		return ln.lostDeferred.Load() > 0 || !v.Connected
	})
	if _, rx, err := l.socketMemInfo(); err != nil || rx == 0 {
		t.Fatalf("socket receive queue %d bytes (%v) while the reader is stalled: want the vehicle's datagrams waiting", rx, err)
	}
	if v, _ := fl.Get(id); !v.Connected {
		t.Fatal("vehicle declared lost while its datagrams waited in the station's socket")
	}
	if info := st.Links()[0]; info.LinkLostDeferred == 0 || info.BehindS <= 0 {
		t.Errorf("link info while stalled: link_lost_deferred %d, behind_s %v; want both > 0", info.LinkLostDeferred, info.BehindS)
	}
	stalledHB := lastHB()

	resume()
	// The queued datagrams are read and dispatched: a HEARTBEAT newer than
	// the stall is handled, and then the link is caught up again.
	testenv.Eventually(t, 60*time.Second, "a HEARTBEAT after the stall handled", func() bool { return lastHB().After(stalledHB) })
	for _, e := range fl.Events(since, id, 0) {
		if e.Kind == fleet.EventLinkLost {
			t.Fatalf("link_lost raised for a vehicle that kept sending while the station was starved: %+v", e)
		}
	}
	if v, _ := fl.Get(id); !v.Connected {
		t.Fatal("vehicle not connected after the stall")
	}

	// Really silent: lost once the station has caught up past the timeout.
	since = lastSeq(fl)
	sim.Vehicle(0).LinkDown(0)
	waitEvent(t, fl, since, id, fleet.EventLinkLost, 60*time.Second)
	if v, _ := fl.Get(id); v.Connected {
		t.Error("vehicle still connected after link_lost")
	}
	if n := ln.lostUnverified.Load(); n != 0 {
		t.Errorf("%d link-lost decisions unverified; the silence was verified once the station caught up", n)
	}
}

// A station starved long enough for its socket to overflow drops the
// vehicle's HEARTBEATs itself (counted by the kernel): once it catches up
// again it has handled everything it has, but what it dropped may have
// been a HEARTBEAT, so the vehicle is not silent. The reader is stalled
// past the timeout on a socket with the smallest receive buffer, which
// overflows within the first second; then it runs again.
func TestSocketDropsAreNotSilence(t *testing.T) {
	v := startOneVehicleLink(t, 22, func(cfg *Config) {
		cfg.UDPReceiveBuffer = 1 // the kernel's minimum: a few datagrams
	})
	st, fl, id, ln, l, lastHB := v.st, v.fl, v.id, v.ln, v.l, v.lastHB
	drops0, _, err := l.socketMemInfo()
	if err != nil {
		t.Fatal(err)
	}
	since := lastSeq(fl)

	release := make(chan struct{})
	released := false
	resume := func() {
		if !released {
			released = true
			l.readHook.Store(nil)
			close(release)
		}
	}
	t.Cleanup(resume)
	hook := func() { <-release }
	l.readHook.Store(&hook)
	testenv.Eventually(t, 60*time.Second, "the socket dropping datagrams and a link-lost check put off", func() bool {
		drops, _, _ := l.socketMemInfo()
		v, _ := fl.Get(id)
		return (drops > drops0 && ln.lostDeferred.Load() >= 8) || !v.Connected // a stall of ~2 s past the timeout
	})
	stalledHB := lastHB()
	resume()
	testenv.Eventually(t, 60*time.Second, "a HEARTBEAT after the stall handled", func() bool { return lastHB().After(stalledHB) })
	for _, e := range fl.Events(since, id, 0) {
		if e.Kind == fleet.EventLinkLost {
			t.Fatalf("link_lost raised for a vehicle whose datagrams the station's socket dropped: %+v", e)
		}
	}
	if v, _ := fl.Get(id); !v.Connected {
		t.Fatal("vehicle not connected after the stall")
	}
	if info := st.Links()[0]; info.Socket == nil || info.Socket.Drops == 0 {
		t.Errorf("socket stats %+v: want the kernel's drops counted", info.Socket)
	}
}

// The same for datagrams dropped between the socket and the dispatcher:
// with the link's staging buffer refusing everything (as a full one
// does), the reader keeps the socket empty and the dispatcher has nothing
// waiting — caught up — but every datagram of the vehicle was dropped by
// the station, counted, and may have been a HEARTBEAT: the vehicle is not
// silent.
func TestStagingDropsAreNotSilence(t *testing.T) {
	v := startOneVehicleLink(t, 23, nil)
	fl, id, ln, l, lastHB := v.fl, v.id, v.ln, v.l, v.lastHB
	since := lastSeq(fl)
	setMaxStaged := func(n int) {
		l.smu.Lock() // the reader reads it under smu
		l.maxStaged = n
		l.smu.Unlock()
	}
	setMaxStaged(0)
	restored := false
	restore := func() {
		if !restored {
			restored = true
			setMaxStaged(udpMaxStaged)
		}
	}
	t.Cleanup(restore)
	testenv.Eventually(t, 60*time.Second, "datagrams dropped at staging and a link-lost check put off", func() bool {
		v, _ := fl.Get(id)
		return (l.drops[dropStaging].Load() > 0 && ln.lostDeferred.Load() >= 8) || !v.Connected // ~2 s past the timeout
	})
	if v, _ := fl.Get(id); !v.Connected {
		t.Fatal("vehicle declared lost while the station dropped its datagrams")
	}
	stalledHB := lastHB()
	restore()
	testenv.Eventually(t, 60*time.Second, "a HEARTBEAT after the drops handled", func() bool { return lastHB().After(stalledHB) })
	for _, e := range fl.Events(since, id, 0) {
		if e.Kind == fleet.EventLinkLost {
			t.Fatalf("link_lost raised for a vehicle whose datagrams the station dropped at staging: %+v", e)
		}
	}
	if v, _ := fl.Get(id); !v.Connected {
		t.Fatal("vehicle not connected after the drops")
	}
}
