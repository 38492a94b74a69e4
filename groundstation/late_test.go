package groundstation

import (
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
)

// A dispatcher that has not caught up with its link (frames still
// queued) must not declare a vehicle lost: its HEARTBEAT may be in the
// queue. Once the dispatcher has caught up, a vehicle silent past the
// timeout is lost, with the last_seen of its last frame.
func TestLateDispatcherDefersLinkLost(t *testing.T) {
	fl := fleet.New(fleet.DefaultConfig())
	cfg := testConfig("udp:127.0.0.1:0")
	cfg.HeartbeatTimeout = 5 * time.Second
	st, err := New(cfg, fl, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	ln := newLinkRT(st, st.links[0])
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rec := &vehicleRec{st: st, ln: ln, sys: 1, comp: 1, published: true, connected: true,
		id: "v1", lastHB: t0, lastFrame: t0, lastLQ: t0}
	ln.recs = append(ln.recs, rec)
	fl.Update("v1", t0, func(v *fleet.Vehicle) { v.Connected = true })

	// 10 s after the last HEARTBEAT, but the dispatcher last caught up 1 s
	// after it: late, not silent.
	ln.caughtUp.Store(t0.Add(time.Second).UnixNano())
	ln.tick(t0.Add(10 * time.Second))
	if v, _ := fl.Get("v1"); !v.Connected || !rec.connected {
		t.Fatal("vehicle declared lost while the dispatcher was behind")
	}
	if ln.lostDeferred.Load() != 1 || ln.lateTicks.Load() != 1 {
		t.Fatalf("deferred %d, late ticks %d; want 1 and 1", ln.lostDeferred.Load(), ln.lateTicks.Load())
	}

	// Caught up at 10 s: the vehicle really is silent.
	ln.caughtUp.Store(t0.Add(10 * time.Second).UnixNano())
	ln.tick(t0.Add(10 * time.Second))
	v, _ := fl.Get("v1")
	if v.Connected || rec.connected {
		t.Fatal("silent vehicle not declared lost once the dispatcher caught up")
	}
	if !v.LastSeen.Equal(t0) {
		t.Errorf("LastSeen %v, want the last frame %v", v.LastSeen, t0)
	}
	evs := fl.Events(0, "v1", 0)
	if len(evs) == 0 || evs[len(evs)-1].Kind != fleet.EventLinkLost {
		t.Fatalf("events %+v, want link_lost last", evs)
	}
	if ls, _ := evs[len(evs)-1].Fields["last_seen"].(time.Time); !ls.Equal(t0) {
		t.Errorf("link_lost last_seen %v, want %v", ls, t0)
	}
	if u, ok := evs[len(evs)-1].Fields["unverified"]; ok {
		t.Errorf("a verified link_lost carries unverified=%v", u)
	}
	if ln.lostDeferred.Load() != 1 {
		t.Errorf("deferred %d after catching up, want still 1", ln.lostDeferred.Load())
	}
}

// A station that stays behind its link cannot put a decision off for
// ever: past LinkLostMaxDefer beyond the timeout a vehicle not heard is
// declared lost although the link has not caught up, and that decision
// is counted as unverified (a vehicle really silent is still lost within
// the timeout plus that bound).
func TestLinkLostDeferralIsBounded(t *testing.T) {
	fl := fleet.New(fleet.DefaultConfig())
	cfg := testConfig("udp:127.0.0.1:0")
	cfg.HeartbeatTimeout = 5 * time.Second
	cfg.LinkLostMaxDefer = 20 * time.Second
	st, err := New(cfg, fl, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	ln := newLinkRT(st, st.links[0])
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rec := &vehicleRec{st: st, ln: ln, sys: 1, comp: 1, published: true, connected: true,
		id: "v1", lastHB: t0, lastFrame: t0, lastLQ: t0}
	ln.recs = append(ln.recs, rec)
	fl.Update("v1", t0, func(v *fleet.Vehicle) { v.Connected = true })
	ln.caughtUp.Store(t0.Add(time.Second).UnixNano()) // and never again

	// Up to the timeout plus the bound: put off.
	ln.tick(t0.Add(25 * time.Second))
	if v, _ := fl.Get("v1"); !v.Connected || !rec.connected {
		t.Fatal("vehicle declared lost within the bound while the link was behind")
	}
	if ln.lostDeferred.Load() != 1 || ln.lostUnverified.Load() != 0 {
		t.Fatalf("deferred %d, unverified %d; want 1 and 0", ln.lostDeferred.Load(), ln.lostUnverified.Load())
	}
	// Past it: lost, unverified.
	ln.tick(t0.Add(25*time.Second + time.Millisecond))
	if v, _ := fl.Get("v1"); v.Connected || rec.connected {
		t.Fatal("vehicle still connected past the timeout plus LinkLostMaxDefer")
	}
	if ln.lostDeferred.Load() != 1 || ln.lostUnverified.Load() != 1 {
		t.Fatalf("deferred %d, unverified %d; want 1 and 1", ln.lostDeferred.Load(), ln.lostUnverified.Load())
	}
	evs := fl.Events(0, "v1", 0)
	if len(evs) == 0 || evs[len(evs)-1].Kind != fleet.EventLinkLost {
		t.Fatalf("events %+v, want link_lost last", evs)
	}
	// The event says it was not verified, why, and how far behind.
	f := evs[len(evs)-1].Fields
	if f["unverified"] != true || f["unverified_reason"] != unverifiedBehind || f["behind_s"] != 24.001 {
		t.Errorf("link_lost fields %v, want unverified, reason %q, behind_s 24.001", f, unverifiedBehind)
	}
	if ls, _ := f["last_seen"].(time.Time); !ls.Equal(t0) {
		t.Errorf("link_lost last_seen %v, want %v", f["last_seen"], t0)
	}
}

// A station that keeps up with its link but keeps dropping datagrams
// unread (its socket overflowing) cannot vouch for a vehicle either: past
// the bound the vehicle is lost, and its event says the silence was not
// verified because datagrams were dropped.
func TestLinkLostWhileDroppingIsUnverified(t *testing.T) {
	fl := fleet.New(fleet.DefaultConfig())
	cfg := testConfig("udp:127.0.0.1:0")
	cfg.HeartbeatTimeout = 5 * time.Second
	cfg.LinkLostMaxDefer = 20 * time.Second
	st, err := New(cfg, fl, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	ln := newLinkRT(st, st.links[0])
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rec := &vehicleRec{st: st, ln: ln, sys: 1, comp: 1, published: true, connected: true,
		id: "v1", lastHB: t0, lastFrame: t0, lastLQ: t0}
	ln.recs = append(ln.recs, rec)
	fl.Update("v1", t0, func(v *fleet.Vehicle) { v.Connected = true })
	for _, sec := range []int{10, 20, 26} {
		now := t0.Add(time.Duration(sec) * time.Second)
		ln.caughtUp.Store(now.UnixNano())     // nothing waits
		ln.sockShedAt = now.Add(-time.Second) // but the socket dropped a second ago
		ln.tick(now)
		if lost := !rec.connected; lost != (sec == 26) {
			t.Fatalf("at %d s lost=%v; want put off until past 25 s", sec, lost)
		}
	}
	if ln.lostDeferred.Load() != 2 || ln.lostUnverified.Load() != 1 {
		t.Fatalf("deferred %d, unverified %d; want 2 and 1", ln.lostDeferred.Load(), ln.lostUnverified.Load())
	}
	evs := fl.Events(0, "v1", 0)
	if len(evs) == 0 || evs[len(evs)-1].Kind != fleet.EventLinkLost {
		t.Fatalf("events %+v, want link_lost last", evs)
	}
	if f := evs[len(evs)-1].Fields; f["unverified"] != true || f["unverified_reason"] != unverifiedDropped || f["behind_s"] != 0.0 {
		t.Errorf("link_lost fields %v, want unverified, reason %q, behind_s 0", f, unverifiedDropped)
	}
}
