package groundstation

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// Over the heartbeatSlots slots of one period every open channel is in
// exactly one: each gets one HEARTBEAT a period, whatever their number.
func TestHeartbeatSlotsCoverEveryChannelOnce(t *testing.T) {
	for _, n := range []int{0, 1, heartbeatSlots - 1, heartbeatSlots, 2*heartbeatSlots + 7, 2000} {
		ln := &linkRT{}
		var order []hbTarget
		for range n {
			order = append(order, hbTarget{ch: &gomavlib.Channel{}})
		}
		ln.setHeartbeatOrder(order)
		seen := map[*gomavlib.Channel]int{}
		largest := 0
		for slot := range heartbeatSlots {
			ts := ln.heartbeatSlot(nil, slot)
			largest = max(largest, len(ts))
			for _, tg := range ts {
				seen[tg.ch]++
			}
		}
		if len(seen) != n {
			t.Errorf("%d channels: %d got a heartbeat", n, len(seen))
		}
		for _, c := range seen {
			if c != 1 {
				t.Fatalf("%d channels: one got %d heartbeats a period", n, c)
			}
		}
		// Spread: no slot carries more than its share (rounded up).
		if want := (n + heartbeatSlots - 1) / heartbeatSlots; largest > want {
			t.Errorf("%d channels: a slot of %d, want at most %d", n, largest, want)
		}
	}
}

// A vehicle on a UDP link hears the station's own HEARTBEAT (a GCS, as
// gomavlib's was), now that the station sends it itself: valid frames
// (gomavlib checks each one's CRC), from the station's system and
// component, numbered one after the other.
func TestVehicleHearsStationHeartbeat(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	startStation(t, testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port)))
	veh := &gomavlib.Node{
		Endpoints:              []gomavlib.EndpointConf{gomavlib.EndpointUDPClient{Address: fmt.Sprintf("127.0.0.1:%d", port)}},
		Dialect:                common.Dialect,
		OutVersion:             gomavlib.V2,
		OutSystemID:            7,
		HeartbeatPeriod:        100 * time.Millisecond,
		HeartbeatSystemType:    int(common.MAV_TYPE_QUADROTOR),
		HeartbeatAutopilotType: int(common.MAV_AUTOPILOT_ARDUPILOTMEGA),
	}
	if err := veh.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer veh.Close()
	deadline := time.After(60 * time.Second)
	var seqs []uint8
	for len(seqs) < 3 {
		select {
		case ev := <-veh.Events():
			if f, ok := ev.(*gomavlib.EventFrame); ok {
				if hb, ok := f.Message().(*common.MessageHeartbeat); ok && hb.Type == common.MAV_TYPE_GCS {
					if f.SystemID() != DefaultConfig().SystemID || f.ComponentID() != uint8(common.MAV_COMP_ID_MISSIONPLANNER) {
						t.Fatalf("GCS heartbeat from %d/%d, want the station's %d/%d", f.SystemID(), f.ComponentID(),
							DefaultConfig().SystemID, common.MAV_COMP_ID_MISSIONPLANNER)
					}
					if hb.Autopilot != common.MAV_AUTOPILOT_INVALID || hb.SystemStatus != common.MAV_STATE_ACTIVE || hb.MavlinkVersion != 3 {
						t.Fatalf("GCS heartbeat %+v", hb)
					}
					seqs = append(seqs, f.Frame.GetSequenceNumber())
				}
			}
		case <-deadline:
			t.Fatalf("%d GCS heartbeats from the station within 60 s, want 3", len(seqs))
		}
	}
	if seqs[1] != seqs[0]+1 || seqs[2] != seqs[1]+1 {
		t.Errorf("heartbeat sequence numbers %v, want consecutive", seqs)
	}
}

// The station's HEARTBEAT frames are valid MAVLink 2 for every sequence
// number (the encoder patches the number and the checksum into one
// encoding).
func TestHeartbeatEncoderFrames(t *testing.T) {
	hb := &common.MessageHeartbeat{Type: common.MAV_TYPE_GCS, Autopilot: common.MAV_AUTOPILOT_INVALID,
		SystemStatus: common.MAV_STATE_ACTIVE, MavlinkVersion: 3}
	rw := &dialect.ReadWriter{Dialect: ardupilotmega.Dialect}
	if err := rw.Initialize(); err != nil {
		t.Fatal(err)
	}
	dec := newFrameDecoder(rw)
	enc := newHeartbeatEncoder(rw.GetMessage(hb.GetID()), hb, 250, 190)
	for _, seq := range []uint8{0, 1, 200, 255} {
		b := enc.frame(seq)
		f, n, err := dec.decode(b)
		if err != nil || n != len(b) {
			t.Fatalf("seq %d: %d of %d bytes, %v", seq, n, len(b), err)
		}
		if f.GetSequenceNumber() != seq || f.GetSystemID() != 250 || f.GetComponentID() != 190 {
			t.Errorf("seq %d: frame %d from %d/%d", seq, f.GetSequenceNumber(), f.GetSystemID(), f.GetComponentID())
		}
		if got, ok := f.GetMessage().(*common.MessageHeartbeat); !ok || *got != *hb {
			t.Errorf("seq %d: message %#v, want %#v", seq, f.GetMessage(), hb)
		}
	}
}

// sendBatch delivers every datagram of a batch to its own remote, and one
// the kernel refuses (port 0) costs only itself.
func TestSendBatchSkipsRefused(t *testing.T) {
	l, err := listenUDP("127.0.0.1:0", 0, 1, 16, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var rx []*net.UDPConn
	var b udpBatch
	for i := range 5 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		rx = append(rx, c)
		if i == 2 {
			b.add(netip.MustParseAddrPort("127.0.0.1:0"), []byte("refused"))
		}
		b.add(c.LocalAddr().(*net.UDPAddr).AddrPort(), []byte{byte(i)})
	}
	if n := l.sendBatch(&b); n != len(rx) {
		t.Errorf("sent %d, want %d", n, len(rx))
	}
	buf := make([]byte, 16)
	for i, c := range rx {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(buf)
		if err != nil || n != 1 || buf[0] != byte(i) {
			t.Errorf("remote %d: %q, %v", i, buf[:n], err)
		}
	}
}
