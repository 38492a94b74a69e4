package simulator

import (
	"bytes"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/bluenviron/gomavlib/v3/pkg/streamwriter"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// seqs returns the MAVLink sequence numbers of the autopilot's frames
// after cursor c, in arrival order.
func seqs(g *testGCS, c int) []uint8 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []uint8
	for _, fr := range g.frames[c:] {
		if fr.SystemID() == 1 && fr.ComponentID() == 1 {
			out = append(out, fr.Frame.GetSequenceNumber())
		}
	}
	return out
}

func TestLinkFaultsDuplicateReorderAndDown(t *testing.T) {
	g := newTestGCS(t, true)
	s := oneVehicle(t, g, func(c *Config) { c.Speedup = 5 })
	g.channel(1)
	sv := s.Vehicle(0)

	// 100 % duplication: every frame arrives twice. Counted over the first
	// 40 frames, however long they take on a loaded machine.
	sv.SetLinkFaults(LinkFaults{DupPct: 100})
	c := g.mark()
	testenv.Eventually(t, 30*time.Second, "40 frames with duplication on", func() bool { return len(seqs(g, c)) >= 40 })
	sv.SetLinkFaults(LinkFaults{})
	got := seqs(g, c)
	dups := 0
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			dups++
		}
	}
	if len(got) < 10 || dups < len(got)/4 {
		t.Fatalf("duplication: %d frames, %d back-to-back duplicates: %v", len(got), dups, got)
	}

	// reordering: some frames arrive after their successor (the wait
	// fails the test if none ever does)
	sv.SetLinkFaults(LinkFaults{ReorderPct: 50})
	c = g.mark()
	testenv.Eventually(t, 30*time.Second, "a frame arriving after its successor with 50 % reordering", func() bool {
		got := seqs(g, c)
		for i := 1; i < len(got); i++ {
			if int8(got[i]-got[i-1]) < 0 {
				return true
			}
		}
		return false
	})
	sv.SetLinkFaults(LinkFaults{})

	// link down: nothing gets through either way until LinkUp
	sv.LinkDown(0)
	// a packet held back by the reordering above is released up to maxHold
	// later, link down or not: it was already on its way
	testenv.Eventually(t, 10*time.Second, "no packet held or delayed in the link", func() bool {
		sv.mu.Lock()
		defer sv.mu.Unlock()
		return sv.link.out.held == nil && len(sv.link.out.queue) == 0
	})
	time.Sleep(200 * time.Millisecond) // frames already sent land
	c = g.mark()
	g.send(1, &common.MessageCommandLong{TargetSystem: 1, TargetComponent: 1, Command: common.MAV_CMD_DO_SET_MODE, Param1: 1, Param2: float32(vehicle.ModeLoiter)})
	time.Sleep(time.Second)
	if n := len(seqs(g, c)); n != 0 {
		t.Fatalf("link down, yet %d frames arrived", n)
	}
	sv.LinkUp()
	c2 := g.mark()
	if g.waitMsg(&c2, 1, 5*time.Second, isMsg[*common.MessageHeartbeat]) == nil {
		t.Fatal("no traffic after LinkUp")
	}
	// the command sent while the link was down never reached the vehicle
	g.mu.Lock()
	for _, fr := range g.frames[c:] {
		if a, ok := fr.Message().(*common.MessageCommandAck); ok && a.Command == common.MAV_CMD_DO_SET_MODE {
			t.Error("a command sent while the link was down was answered")
		}
	}
	g.mu.Unlock()

	// latency: the ACK still arrives (no duration asserted: shared machine)
	sv.SetLinkFaults(LinkFaults{Latency: 150 * time.Millisecond, Jitter: 50 * time.Millisecond})
	if r := g.command(1, 1, common.MAV_CMD_REQUEST_MESSAGE, msgAutopilotVersion); r != common.MAV_RESULT_ACCEPTED {
		t.Fatalf("command over a slow link: %v", r)
	}
}

func TestScheduledFaultsFire(t *testing.T) {
	g := newTestGCS(t, true)
	f, err := ParseFault("kind=gps-loss,at=20s,for=10m,vehicle=1")
	if err != nil {
		t.Fatal(err)
	}
	s := startSim(t, Config{Vehicles: 2, GCS: []string{g.addr()}, Home: homeLL(), Speedup: 20, Scheduled: []ScheduledFault{f}})
	waitHome(t, s.Vehicle(0))
	waitHome(t, s.Vehicle(1))
	deadline := time.Now().Add(30 * time.Second)
	for s.Vehicle(1).State().GPSFixType >= 3 {
		if time.Now().After(deadline) {
			t.Fatal("scheduled GPS loss on vehicle 1 never happened")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.Vehicle(0).State().GPSFixType < 3 {
		t.Fatal("the fault for vehicle 1 hit vehicle 0 too")
	}
	for _, bad := range []string{"kind=gps-loss", "kind=battery-drop,value=150", "at=1s", "kind=gust,for=1s", "kind=x", "kind=failure,vehicle=-3", "kind=failure,color=red"} {
		if _, err := ParseFault(bad); err == nil {
			t.Errorf("ParseFault(%q) accepted", bad)
		}
	}
	if _, err := New(Config{Vehicles: 1, GCS: []string{g.addr()}, Scheduled: []ScheduledFault{{Kind: FaultFailure, Vehicle: 5}}}); err == nil {
		t.Error("a fault for a vehicle that does not exist was accepted")
	}
}

// rawFrom builds a MAVLink 2 datagram as another system would send it.
func rawFrom(t *testing.T, sysid uint8, m message.Message) []byte {
	t.Helper()
	var b bytes.Buffer
	fw := &frame.Writer{ByteWriter: &b, DialectRW: dialectRW}
	if err := fw.Initialize(); err != nil {
		t.Fatal(err)
	}
	w := &streamwriter.Writer{FrameWriter: fw, Version: streamwriter.V2, SystemID: sysid, ComponentID: 190}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestUploadBusyDeniedAndTimeout(t *testing.T) {
	oldRetry, oldTimeout := uploadRetry, uploadTimeout
	uploadRetry, uploadTimeout = 200*time.Millisecond, 1500*time.Millisecond
	t.Cleanup(func() { uploadRetry, uploadTimeout = oldRetry, oldTimeout })
	g := newTestGCS(t, true)
	s := oneVehicle(t, g, nil)
	g.channel(1)
	raw, err := net.DialUDP("udp4", nil, s.Vehicle(0).conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	c := g.mark()
	g.send(1, &common.MessageMissionCount{TargetSystem: 1, TargetComponent: 1, Count: 3})
	if g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageMissionRequestInt]) == nil {
		t.Fatal("upload did not start")
	}
	// a second ground station (system 200) tries to upload meanwhile
	if _, err := raw.Write(rawFrom(t, 200, &common.MessageMissionCount{TargetSystem: 1, TargetComponent: 1, Count: 2, MissionType: common.MAV_MISSION_TYPE_FENCE})); err != nil {
		t.Fatal(err)
	}
	// starting the mission that is being replaced is refused for now
	if r := g.command(1, 1, common.MAV_CMD_MISSION_START, 0, 0); r != common.MAV_RESULT_TEMPORARILY_REJECTED {
		t.Fatalf("MISSION_START during an upload: %v, want TEMPORARILY_REJECTED", r)
	}
	denied := g.waitFrom(&c, 5*time.Second, func(fr *gomavlib.EventFrame) bool {
		a, ok := fr.Message().(*common.MessageMissionAck)
		return ok && a.TargetSystem == 200
	})
	if denied == nil || denied.Message().(*common.MessageMissionAck).Type != common.MAV_MISSION_DENIED {
		t.Fatalf("second uploader: %+v, want MISSION_ACK DENIED addressed to system 200", denied)
	}
	// we never send item 0: the vehicle asks again, then gives up
	c = g.mark()
	requests := 0
	for {
		m := g.waitMsg(&c, 1, 10*time.Second, func(m message.Message) bool {
			return isMsg[*common.MessageMissionRequestInt](m) || isMsg[*common.MessageMissionAck](m)
		})
		if m == nil {
			t.Fatal("upload neither re-requested nor cancelled")
		}
		if a, ok := m.(*common.MessageMissionAck); ok {
			if a.Type != common.MAV_MISSION_OPERATION_CANCELLED {
				t.Fatalf("timeout ack %v, want OPERATION_CANCELLED", a.Type)
			}
			break
		}
		requests++
	}
	if requests < 2 {
		t.Fatalf("%d re-requests before the timeout, want several", requests)
	}
	// and the vehicle accepts a new upload afterwards
	if r := g.upload(1, 0, sampleMission()); r != common.MAV_MISSION_ACCEPTED {
		t.Fatalf("upload after a cancelled one: %v", r)
	}
}

// lossPattern runs n packets through vehicle i's link with loss pct set
// (SetLinkFaults, as a scenario's link_loss fault does) and returns which
// were dropped.
func lossPattern(t *testing.T, seed int64, i, n int, pct float64) []bool {
	t.Helper()
	s, err := New(Config{Vehicles: 2, GCS: []string{"udp:127.0.0.1:9"}, Seed: seed, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sv := s.Vehicle(i)
	sv.SetLinkFaults(LinkFaults{LossPct: pct})
	sv.mu.Lock()
	defer sv.mu.Unlock()
	out := make([]bool, n)
	now := time.Now()
	for k := range out {
		before := sv.link.out.dropped
		sv.link.pass(&sv.link.out, []byte{byte(k)}, now, func([]byte) {})
		out[k] = sv.link.out.dropped > before
	}
	return out
}

// Link loss draws from the vehicle's own stream of the seed: the same
// seed drops the same packets of the same sequence, another seed or
// another vehicle others. (In a whole run the sequence of packets itself
// follows the wall clock, so which telemetry is lost still varies.)
func TestLinkLossFollowsTheSeed(t *testing.T) {
	a := lossPattern(t, 5, 1, 500, 30)
	b := lossPattern(t, 5, 1, 500, 30)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed dropped different packets")
	}
	lost := 0
	for _, d := range a {
		if d {
			lost++
		}
	}
	if lost < 100 || lost > 200 {
		t.Errorf("%d of 500 lost at 30 %%", lost)
	}
	if slices.Equal(a, lossPattern(t, 6, 1, 500, 30)) {
		t.Error("seeds 5 and 6 dropped the same packets")
	}
	if slices.Equal(a, lossPattern(t, 5, 0, 500, 30)) {
		t.Error("vehicles 0 and 1 dropped the same packets")
	}
}
