package groundstation

import (
	"testing"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
)

// TestCompTable holds the link's component table to a map's answers: a
// system's first component (kept beside its ID) and the others (in the
// system's own table), a component set again, and components never set.
func TestCompTable(t *testing.T) {
	var tab compTable
	want := map[vkey]*compRec{}
	put := func(sys, comp uint8) {
		c := &compRec{id: comp}
		tab.set(vkey{sys, comp}, c)
		want[vkey{sys, comp}] = c
	}
	put(7, 1)   // an autopilot: the system's first
	put(7, 100) // its camera: the system's second table
	put(7, 0)   // component 0, after the first
	put(9, 100) // a system whose first component is not 1
	put(9, 1)
	put(255, 255)
	put(0, 0)
	put(7, 1)   // set again: replaces the first
	put(9, 100) // and a second table's entry
	put(9, 1)
	for sys := range 256 {
		for comp := range 256 {
			k := vkey{uint8(sys), uint8(comp)}
			if got := tab.get(k); got != want[k] {
				t.Fatalf("get(%v) = %p, want %p", k, got, want[k])
			}
		}
	}
}

// warm finds a datagram's records from its first frame's header, MAVLink
// 2 or 1, and passes over what it cannot read (too short, not a frame,
// a component never heard) without fault. warm changes nothing: what it
// found shows only in the sum it keeps.
func TestWarmFindsTheRecordsOfADatagram(t *testing.T) {
	o := newOffline(t)
	hb := &common.MessageHeartbeat{Type: common.MAV_TYPE_QUADROTOR, Autopilot: common.MAV_AUTOPILOT_ARDUPILOTMEGA}
	o.ln.decodeDatagram(nil, encodeFrame(t, o.st, 7, 1, 1, hb), o.at)
	if o.ln.comps.get(vkey{7, 1}) == nil {
		t.Fatal("7/1 not classified by its HEARTBEAT")
	}
	stage := func(dgs ...[]byte) *stageBuf {
		b := &stageBuf{}
		for _, d := range dgs {
			b.items = append(b.items, stagedDatagram{c: &udpConn{}, off: len(b.data), n: len(d)})
			b.data = append(b.data, d...)
		}
		return b
	}
	unknown := encodeFrame(t, o.st, 9, 1, 1, hb)
	v1 := []byte{0xFE, 9, 2, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // a MAVLink 1 header from 9/1
	b := stage(unknown, v1, []byte{0xFD, 1, 2}, []byte("not a frame"), nil)
	o.ln.warm(b, 0, len(b.items))
	if o.ln.warmSink != 0 {
		t.Fatalf("warm summed %d from datagrams of no known component", o.ln.warmSink)
	}
	b = stage([]byte{0xFD, 1, 2}, encodeFrame(t, o.st, 7, 1, 2, hb))
	o.ln.warm(b, 0, 1) // the short one alone
	if o.ln.warmSink != 0 {
		t.Fatalf("warm summed %d from a short datagram", o.ln.warmSink)
	}
	o.ln.warm(b, 1, 2)
	if o.ln.warmSink == 0 {
		t.Fatal("warm read nothing for a frame of 7/1 (MAVLink 2)")
	}
	o.ln.warmSink = 0
	b = stage([]byte{0xFE, 9, 3, 7, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	o.ln.warm(b, 0, 1)
	if o.ln.warmSink == 0 {
		t.Fatal("warm read nothing for a frame of 7/1 (MAVLink 1)")
	}
}
