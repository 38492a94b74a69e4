package simulator

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

func oneVehicle(t *testing.T, g *testGCS, mod func(*Config)) *Sim {
	cfg := Config{Vehicles: 1, GCS: []string{g.addr()}, Home: homeLL(), Seed: 1}
	if mod != nil {
		mod(&cfg)
	}
	return startSim(t, cfg)
}

func TestHeartbeatsOfAutopilotAndCamera(t *testing.T) {
	g := newTestGCS(t, true)
	oneVehicle(t, g, nil)
	c := 0
	ap := g.waitFrom(&c, 10*time.Second, func(fr *gomavlib.EventFrame) bool {
		return fr.ComponentID() == 1 && isMsg[*common.MessageHeartbeat](fr.Message())
	})
	if ap == nil {
		t.Fatal("no autopilot HEARTBEAT")
	}
	hb := ap.Message().(*common.MessageHeartbeat)
	if hb.Type != common.MAV_TYPE_QUADROTOR || hb.Autopilot != common.MAV_AUTOPILOT_ARDUPILOTMEGA || hb.BaseMode&common.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED == 0 {
		t.Errorf("autopilot heartbeat %+v, want a quadrotor ArduPilot with custom mode", hb)
	}
	c = 0
	cam := g.waitFrom(&c, 10*time.Second, func(fr *gomavlib.EventFrame) bool {
		return fr.ComponentID() == 100 && isMsg[*common.MessageHeartbeat](fr.Message())
	})
	if cam == nil || cam.Message().(*common.MessageHeartbeat).Type != common.MAV_TYPE_CAMERA {
		t.Fatalf("no camera HEARTBEAT of type MAV_TYPE_CAMERA from component 100: %+v", cam)
	}
	// every stream the issue lists shows up
	for _, want := range []uint32{msgSysStatus, msgGlobalPositionInt, msgAttitude, msgGPSRawInt, msgVFRHUD, msgBatteryStatus, msgExtendedSysState, msgMissionCurrent, msgHomePosition} {
		c = 0
		if g.waitFrom(&c, 10*time.Second, func(fr *gomavlib.EventFrame) bool { return fr.Message().GetID() == want }) == nil {
			t.Errorf("message %d never streamed", want)
		}
	}
}

// medianBootDelta is the median gap in time_boot_ms (simulated time)
// between n consecutive GLOBAL_POSITION_INT: the stream's interval,
// independent of how busy the machine is.
func medianBootDelta(t *testing.T, g *testGCS, sysid uint8, n int) uint32 {
	t.Helper()
	c := g.mark()
	var prev uint32
	var deltas []uint32
	for len(deltas) < n {
		m := g.waitMsg(&c, sysid, 5*time.Second, isMsg[*common.MessageGlobalPositionInt])
		if m == nil {
			t.Fatalf("GLOBAL_POSITION_INT stopped after %d", len(deltas))
		}
		tb := m.(*common.MessageGlobalPositionInt).TimeBootMs
		if prev != 0 {
			deltas = append(deltas, tb-prev)
		}
		prev = tb
	}
	slices.Sort(deltas)
	return deltas[len(deltas)/2]
}

func TestSetMessageIntervalChangesRate(t *testing.T) {
	g := newTestGCS(t, true)
	oneVehicle(t, g, nil)
	if d := medianBootDelta(t, g, 1, 6); d < 200 || d > 300 {
		t.Fatalf("default GLOBAL_POSITION_INT interval %d ms, want about 250", d)
	}
	if r := g.command(1, 1, common.MAV_CMD_SET_MESSAGE_INTERVAL, msgGlobalPositionInt, 50000); r != common.MAV_RESULT_ACCEPTED {
		t.Fatalf("SET_MESSAGE_INTERVAL: %v", r)
	}
	if d := medianBootDelta(t, g, 1, 20); d > 80 {
		t.Fatalf("GLOBAL_POSITION_INT interval %d ms after asking for 50 ms", d)
	}
	c := g.mark()
	if r := g.command(1, 1, common.MAV_CMD_GET_MESSAGE_INTERVAL, msgGlobalPositionInt); r != common.MAV_RESULT_ACCEPTED {
		t.Fatalf("GET_MESSAGE_INTERVAL: %v", r)
	}
	mi := g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageMessageInterval])
	if mi == nil || mi.(*common.MessageMessageInterval).IntervalUs != 50000 {
		t.Fatalf("MESSAGE_INTERVAL %+v, want 50000 µs", mi)
	}
	// REQUEST_DATA_STREAM (what MAVProxy and Mission Planner send) changes it too
	g.send(1, &common.MessageRequestDataStream{TargetSystem: 1, TargetComponent: 1, ReqStreamId: common.MAV_DATA_STREAM_POSITION, ReqMessageRate: 2, StartStop: 1})
	time.Sleep(300 * time.Millisecond) // let frames already on the wire pass
	if d := medianBootDelta(t, g, 1, 5); d < 400 || d > 600 {
		t.Fatalf("GLOBAL_POSITION_INT interval %d ms after REQUEST_DATA_STREAM 2 Hz", d)
	}
	// unknown message ids are refused
	if r := g.command(1, 1, common.MAV_CMD_SET_MESSAGE_INTERVAL, 60000, 1000); r != common.MAV_RESULT_DENIED {
		t.Fatalf("SET_MESSAGE_INTERVAL for an unknown message: %v, want DENIED", r)
	}
}

func sampleMission() []mavitem.Item {
	h := homeLL()
	pt := func(seq uint16, cmd uint16, dlat, dlon float64, alt float32) mavitem.Item {
		return mavitem.Item{Seq: seq, Frame: mavitem.FrameGlobalRelativeAlt, Command: cmd, Autocontinue: 1,
			X: e7(h.Lat + dlat), Y: e7(h.Lon + dlon), Z: alt}
	}
	items := []mavitem.Item{
		{Seq: 0, Frame: mavitem.FrameGlobal, Command: mavitem.CmdNavWaypoint, Current: 1, Autocontinue: 1, X: e7(h.Lat), Y: e7(h.Lon), Z: float32(h.AltMSL)},
		{Seq: 1, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavTakeoff, Autocontinue: 1, Z: 20},
		pt(2, mavitem.CmdNavWaypoint, 0.0005, 0, 20),
		pt(3, mavitem.CmdNavWaypoint, 0.0005, 0.0005, 25),
		{Seq: 4, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdDoChangeSpeed, Autocontinue: 1, Param2: 8, Param3: -1},
		{Seq: 5, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavReturnToLaunch, Autocontinue: 1},
	}
	return items
}

func TestMissionFenceRallyRoundTrip(t *testing.T) {
	g := newTestGCS(t, true)
	s := oneVehicle(t, g, nil)
	h := homeLL()
	mission := sampleMission()
	fence := []mavitem.Item{
		{Seq: 0, Frame: mavitem.FrameGlobal, Command: mavitem.CmdFenceCircleInclusion, Autocontinue: 1, Param1: 400, X: e7(h.Lat), Y: e7(h.Lon)},
		{Seq: 1, Frame: mavitem.FrameGlobal, Command: mavitem.CmdFencePolyExclusion, Autocontinue: 1, Param1: 3, X: e7(h.Lat + 0.001), Y: e7(h.Lon)},
		{Seq: 2, Frame: mavitem.FrameGlobal, Command: mavitem.CmdFencePolyExclusion, Autocontinue: 1, Param1: 3, X: e7(h.Lat + 0.001), Y: e7(h.Lon + 0.001)},
		{Seq: 3, Frame: mavitem.FrameGlobal, Command: mavitem.CmdFencePolyExclusion, Autocontinue: 1, Param1: 3, X: e7(h.Lat + 0.0015), Y: e7(h.Lon + 0.0005)},
	}
	rally := []mavitem.Item{
		{Seq: 0, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavRallyPoint, Autocontinue: 1, X: e7(h.Lat + 0.001), Y: e7(h.Lon), Z: 50},
		{Seq: 1, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavRallyPoint, Autocontinue: 1, X: e7(h.Lat - 0.001), Y: e7(h.Lon), Z: 50},
	}
	// ArduPilot answers seq 0 with home: wait for it (GPS fix), then expect it
	waitHome(t, s.Vehicle(0))
	s.Vehicle(0).Do(func(v *vehicleT) {
		if m := v.Mission(); len(m) > 0 {
			mission[0] = m[0]
		}
	})
	for _, tc := range []struct {
		typ   mavitem.MissionType
		items []mavitem.Item
	}{{mavitem.TypeMission, mission}, {mavitem.TypeFence, fence}, {mavitem.TypeRally, rally}} {
		if r := g.upload(1, tc.typ, tc.items); r != common.MAV_MISSION_ACCEPTED {
			t.Fatalf("%s upload: %v", tc.typ, r)
		}
		got := g.download(1, tc.typ)
		if len(got) != len(tc.items) {
			t.Fatalf("%s: downloaded %d items, uploaded %d", tc.typ, len(got), len(tc.items))
		}
		for i := range got {
			want := tc.items[i]
			want.MissionType = tc.typ
			want.Current = 0
			// ArduPilot's normalisation on the way back (see downloadItem)
			if tc.typ != mavitem.TypeMission {
				want.Autocontinue = 0
			} else if i == 0 {
				s.Vehicle(0).Do(func(v *vehicleT) { want = v.Mission()[0] })
			} else if !hasLocation(want.Command) {
				want.Frame = mavitem.FrameGlobal
			}
			if got[i] != want {
				t.Errorf("%s item %d: got %+v, want %+v", tc.typ, i, got[i], want)
			}
		}
	}
	var n int
	s.Vehicle(0).Do(func(v *vehicleT) { n = len(v.Fence()) })
	if n != len(fence) {
		t.Errorf("model holds %d fence items, want %d", n, len(fence))
	}
	// MISSION_CLEAR_ALL empties a list
	c := g.mark()
	g.send(1, &common.MessageMissionClearAll{TargetSystem: 1, TargetComponent: 1, MissionType: common.MAV_MISSION_TYPE_RALLY})
	if a := g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageMissionAck]); a == nil || a.(*common.MessageMissionAck).Type != common.MAV_MISSION_ACCEPTED {
		t.Fatalf("MISSION_CLEAR_ALL ack %+v", a)
	}
	if got := g.download(1, mavitem.TypeRally); len(got) != 0 {
		t.Fatalf("rally after clear: %d items", len(got))
	}
}

func TestLegacyMissionRequestAnswered(t *testing.T) {
	g := newTestGCS(t, true)
	oneVehicle(t, g, func(c *Config) { c.LegacyMissionRequest = true })
	items := sampleMission()
	if r := g.upload(1, mavitem.TypeMission, items); r != common.MAV_MISSION_ACCEPTED {
		t.Fatalf("upload: %v", r)
	}
	c := g.mark()
	g.send(1, &common.MessageMissionRequest{TargetSystem: 1, TargetComponent: 1, Seq: 2})
	m := g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageMissionItem])
	if m == nil {
		t.Fatal("no MISSION_ITEM for a legacy MISSION_REQUEST")
	}
	it := m.(*common.MessageMissionItem)
	if it.Seq != 2 || fmt.Sprintf("%.4f", it.X) != fmt.Sprintf("%.4f", float64(items[2].X)/1e7) {
		t.Fatalf("legacy item %+v, want seq 2 at %v", it, float64(items[2].X)/1e7)
	}
}

func TestMissionUploadErrors(t *testing.T) {
	g := newTestGCS(t, true)
	oneVehicle(t, g, nil)
	h := homeLL()
	ack := func(send message.Message) common.MAV_MISSION_RESULT {
		t.Helper()
		c := g.mark()
		g.send(1, send)
		a := g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageMissionAck])
		if a == nil {
			t.Fatalf("no MISSION_ACK after %T", send)
		}
		return a.(*common.MessageMissionAck).Type
	}
	if r := ack(&common.MessageMissionCount{TargetSystem: 1, TargetComponent: 1, Count: 5000}); r != common.MAV_MISSION_NO_SPACE {
		t.Errorf("5000 items: %v, want NO_SPACE", r)
	}
	bad := []struct {
		name string
		it   mavitem.Item
		want common.MAV_MISSION_RESULT
	}{
		{"frame body", mavitem.Item{Frame: 8, Command: 16, X: e7(h.Lat), Y: e7(h.Lon)}, common.MAV_MISSION_UNSUPPORTED_FRAME},
		{"latitude 95", mavitem.Item{Frame: 3, Command: 16, X: 950000000, Y: e7(h.Lon)}, common.MAV_MISSION_INVALID_PARAM5_X},
		{"longitude 200", mavitem.Item{Frame: 3, Command: 16, X: e7(h.Lat), Y: 2000000000}, common.MAV_MISSION_INVALID_PARAM6_Y},
	}
	for _, b := range bad {
		items := []mavitem.Item{sampleMission()[0], b.it}
		items[1].Seq = 1
		if r := g.upload(1, mavitem.TypeMission, items); r != b.want {
			t.Errorf("%s: %v, want %v", b.name, r, b.want)
		}
	}
	// a mission item without an upload in progress
	if r := ack(&common.MessageMissionItemInt{TargetSystem: 1, TargetComponent: 1, Seq: 3, Frame: 3, Command: 16}); r != common.MAV_MISSION_ERROR {
		t.Errorf("stray item: %v, want ERROR", r)
	}
	// out of sequence during an upload: INVALID_SEQUENCE, upload continues
	c := g.mark()
	g.send(1, &common.MessageMissionCount{TargetSystem: 1, TargetComponent: 1, Count: 3})
	if g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageMissionRequestInt]) == nil {
		t.Fatal("no MISSION_REQUEST_INT after MISSION_COUNT")
	}
	if r := ack(&common.MessageMissionItemInt{TargetSystem: 1, TargetComponent: 1, Seq: 2, Frame: 3, Command: 16, X: e7(h.Lat), Y: e7(h.Lon)}); r != common.MAV_MISSION_INVALID_SEQUENCE {
		t.Errorf("item 2 first: %v, want INVALID_SEQUENCE", r)
	}
	// download beyond the list
	if r := ack(&common.MessageMissionRequestInt{TargetSystem: 1, TargetComponent: 1, Seq: 40, MissionType: common.MAV_MISSION_TYPE_RALLY}); r != common.MAV_MISSION_INVALID_SEQUENCE {
		t.Errorf("request beyond the list: %v, want INVALID_SEQUENCE", r)
	}
}

func TestUploadCompletesOver30PercentLoss(t *testing.T) {
	g := newTestGCS(t, true)
	s := oneVehicle(t, g, nil)
	g.channel(1)
	s.Vehicle(0).SetLinkFaults(LinkFaults{LossPct: 30})
	items := sampleMission()
	if r := g.upload(1, mavitem.TypeMission, items); r != common.MAV_MISSION_ACCEPTED {
		t.Fatalf("upload over a lossy link: %v", r)
	}
	got := g.download(1, mavitem.TypeMission)
	if len(got) != len(items) {
		t.Fatalf("downloaded %d items, want %d", len(got), len(items))
	}
	for i := 1; i < len(items); i++ {
		if got[i].X != items[i].X || got[i].Command != items[i].Command {
			t.Errorf("item %d differs after a lossy round trip: %+v vs %+v", i, got[i], items[i])
		}
	}
	s.Vehicle(0).mu.Lock()
	dropped := s.Vehicle(0).link.out.dropped + s.Vehicle(0).link.in.dropped
	s.Vehicle(0).mu.Unlock()
	if dropped == 0 {
		t.Fatal("the link dropped nothing: loss was not applied")
	}
}

func TestCommandsForOtherSystemsIgnoredUnknownUnsupported(t *testing.T) {
	g := newTestGCS(t, true)
	oneVehicle(t, g, nil)
	c := g.mark()
	g.send(1, &common.MessageCommandLong{TargetSystem: 42, TargetComponent: 1, Command: common.MAV_CMD_REQUEST_MESSAGE, Param1: msgAutopilotVersion})
	// the same request for us afterwards: its answer arrives, the first one's never did
	if r := g.command(1, 1, common.MAV_CMD_REQUEST_MESSAGE, msgAutopilotVersion); r != common.MAV_RESULT_ACCEPTED {
		t.Fatalf("REQUEST_MESSAGE: %v", r)
	}
	acks := 0
	g.mu.Lock()
	for _, fr := range g.frames[c:] {
		if a, ok := fr.Message().(*common.MessageCommandAck); ok && a.Command == common.MAV_CMD_REQUEST_MESSAGE {
			acks++
		}
	}
	g.mu.Unlock()
	if acks != 1 {
		t.Fatalf("%d COMMAND_ACKs, want exactly 1 (the command for system 42 must be ignored)", acks)
	}
	if r := g.command(1, 1, common.MAV_CMD(31337)); r != common.MAV_RESULT_UNSUPPORTED {
		t.Fatalf("unknown command: %v, want UNSUPPORTED", r)
	}
	if r := g.command(1, 1, common.MAV_CMD_REQUEST_MESSAGE, 60000); r != common.MAV_RESULT_FAILED {
		t.Fatalf("REQUEST_MESSAGE for an unknown message: %v, want FAILED", r)
	}
}

func TestAutopilotVersionAndVideoStream(t *testing.T) {
	g := newTestGCS(t, true)
	s := oneVehicle(t, g, func(c *Config) { c.Seed = 77 })
	c := g.mark()
	if r := g.command(1, 1, common.MAV_CMD_REQUEST_MESSAGE, msgAutopilotVersion); r != common.MAV_RESULT_ACCEPTED {
		t.Fatalf("REQUEST_MESSAGE AUTOPILOT_VERSION: %v", r)
	}
	av := g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageAutopilotVersion])
	if av == nil {
		t.Fatal("no AUTOPILOT_VERSION")
	}
	v := av.(*common.MessageAutopilotVersion)
	if v.Uid == 0 || v.Uid != s.Vehicle(0).UID() || v.Capabilities&common.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE == 0 ||
		v.Capabilities&common.MAV_PROTOCOL_CAPABILITY_MAVLINK2 == 0 {
		t.Fatalf("AUTOPILOT_VERSION %+v", v)
	}
	// same seed and index → same UID; another seed → another UID
	other, err := New(Config{Vehicles: 1, GCS: []string{g.addr()}, Seed: 77, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	third, err := New(Config{Vehicles: 1, GCS: []string{g.addr()}, Seed: 78, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if other.Vehicle(0).UID() != v.Uid || third.Vehicle(0).UID() == v.Uid {
		t.Errorf("UIDs: %x %x %x, want the first two equal, the third different", v.Uid, other.Vehicle(0).UID(), third.Vehicle(0).UID())
	}
	other.Close()
	third.Close()

	c = g.mark()
	if r := g.command(1, 100, common.MAV_CMD_REQUEST_MESSAGE, msgVideoStreamInfo); r != common.MAV_RESULT_ACCEPTED {
		t.Fatalf("REQUEST_MESSAGE VIDEO_STREAM_INFORMATION: %v", r)
	}
	fr := g.waitFrom(&c, 5*time.Second, func(fr *gomavlib.EventFrame) bool {
		return isMsg[*common.MessageVideoStreamInformation](fr.Message())
	})
	if fr == nil || fr.ComponentID() != 100 {
		t.Fatalf("no VIDEO_STREAM_INFORMATION from the camera component: %+v", fr)
	}
	if uri := fr.Message().(*common.MessageVideoStreamInformation).Uri; uri != "rtsp://127.0.0.1:8554/uav-1" {
		t.Fatalf("video URI %q", uri)
	}
	c = g.mark()
	if r := g.command(1, 100, common.MAV_CMD_REQUEST_MESSAGE, msgCameraInformation); r != common.MAV_RESULT_ACCEPTED {
		t.Fatalf("REQUEST_MESSAGE CAMERA_INFORMATION: %v", r)
	}
	if g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageCameraInformation]) == nil {
		t.Fatal("no CAMERA_INFORMATION")
	}
	c = g.mark()
	if r := g.command(1, 1, common.MAV_CMD_REQUEST_MESSAGE, msgHomePosition); r != common.MAV_RESULT_ACCEPTED {
		t.Fatalf("REQUEST_MESSAGE HOME_POSITION: %v", r)
	}
}

// MAV_CMD_GET_HOME_POSITION (410), which MAVProxy sends on connect, is
// answered as ArduPilot answers it: ACCEPTED and a HOME_POSITION (issue 9,
// defect 10: the simulator said UNSUPPORTED).
func TestGetHomePositionAnswered(t *testing.T) {
	g := newTestGCS(t, true)
	s := oneVehicle(t, g, nil)
	waitHome(t, s.Vehicle(0))
	// stop the periodic HOME_POSITION so the one that arrives is the answer
	if r := g.command(1, 1, common.MAV_CMD_SET_MESSAGE_INTERVAL, msgHomePosition, -1); r != common.MAV_RESULT_ACCEPTED {
		t.Fatalf("SET_MESSAGE_INTERVAL HOME_POSITION off: %v", r)
	}
	c := g.mark()
	if r := g.command(1, 1, common.MAV_CMD_GET_HOME_POSITION); r != common.MAV_RESULT_ACCEPTED {
		t.Fatalf("GET_HOME_POSITION: %v, want ACCEPTED", r)
	}
	m := g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageHomePosition])
	if m == nil {
		t.Fatal("no HOME_POSITION after GET_HOME_POSITION")
	}
	home := s.Vehicle(0).State().Home
	if hp := m.(*common.MessageHomePosition); hp.Latitude != e7(home.Lat) || hp.Longitude != e7(home.Lon) {
		t.Fatalf("HOME_POSITION %d,%d, want the vehicle's home %v,%v", hp.Latitude, hp.Longitude, home.Lat, home.Lon)
	}
}

func TestVehiclesSplitOverTwoGroundStations(t *testing.T) {
	g1 := newTestGCS(t, true)
	g2 := newTestGCS(t, true)
	s := startSim(t, Config{Vehicles: 6, GCS: []string{g1.addr(), g2.addr()}, Home: homeLL(), Seed: 3})
	for i := range 6 {
		sv := s.Vehicle(i)
		wantSys := uint8(i%3 + 1)
		if sv.SystemID() != wantSys {
			t.Errorf("vehicle %d has system ID %d, want %d", i, sv.SystemID(), wantSys)
		}
	}
	for gi, g := range []*testGCS{g1, g2} {
		seen := map[uint8]string{}
		c := 0
		for len(seen) < 3 {
			fr := g.waitFrom(&c, 10*time.Second, func(fr *gomavlib.EventFrame) bool {
				return isMsg[*common.MessageHeartbeat](fr.Message()) && fr.ComponentID() == 1
			})
			if fr == nil {
				t.Fatalf("ground station %d saw only systems %v", gi, seen)
			}
			seen[fr.SystemID()] = fmt.Sprint(fr.Channel)
		}
		for sys := range seen {
			if sys < 1 || sys > 3 {
				t.Errorf("ground station %d got system %d", gi, sys)
			}
		}
		// each vehicle answers on its own socket: 3 distinct channels
		chans := map[string]bool{}
		for _, ch := range seen {
			chans[ch] = true
		}
		if len(chans) != 3 {
			t.Errorf("ground station %d: %d distinct sockets for 3 vehicles", gi, len(chans))
		}
	}
	// a command reaches only the vehicle it is addressed to
	if r := g2.command(2, 1, common.MAV_CMD_REQUEST_MESSAGE, msgAutopilotVersion); r != common.MAV_RESULT_ACCEPTED {
		t.Fatalf("command through the second ground station: %v", r)
	}
}

func TestTCPServerPerVehicle(t *testing.T) {
	g := newTestGCS(t, true)
	base := 0
	for try := 0; try < 20 && base == 0; try++ {
		p := 20000 + (os.Getpid()*7+try*97)%30000
		ok := true
		for i := range 2 {
			ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p+10*i))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			base = p
		}
	}
	if base == 0 {
		t.Fatal("no free TCP port pair")
	}
	startSim(t, Config{Vehicles: 2, GCS: []string{g.addr()}, Home: homeLL(), TCPBasePort: base})
	node := &gomavlib.Node{
		Endpoints:      []gomavlib.EndpointConf{gomavlib.EndpointTCPClient{Address: fmt.Sprintf("127.0.0.1:%d", base+10)}},
		Dialect:        ardupilotmega.Dialect,
		OutVersion:     gomavlib.V2,
		OutSystemID:    254,
		OutComponentID: 190,
	}
	if err := node.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	deadline := time.After(15 * time.Second)
	sentCmd := false
	for {
		select {
		case ev := <-node.Events():
			fr, ok := ev.(*gomavlib.EventFrame)
			if !ok {
				continue
			}
			if fr.SystemID() != 2 {
				t.Fatalf("TCP port of vehicle 1 carried system %d", fr.SystemID())
			}
			if !sentCmd {
				sentCmd = true
				if err := node.WriteMessageTo(fr.Channel, &common.MessageCommandLong{TargetSystem: 2, TargetComponent: 1,
					Command: common.MAV_CMD_REQUEST_MESSAGE, Param1: msgAutopilotVersion}); err != nil {
					t.Fatal(err)
				}
			}
			if a, ok := fr.Message().(*common.MessageCommandAck); ok && a.Command == common.MAV_CMD_REQUEST_MESSAGE && a.TargetSystem == 254 {
				if a.Result != common.MAV_RESULT_ACCEPTED {
					t.Fatalf("ack over TCP: %v", a.Result)
				}
				return
			}
		case <-deadline:
			t.Fatal("no COMMAND_ACK over the vehicle's TCP port")
		}
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	dir := t.TempDir()
	badHomes := filepath.Join(dir, "homes.txt")
	if err := os.WriteFile(badHomes, []byte("41.3,69.2\n# comment\n41.3,banana\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	shortHomes := filepath.Join(dir, "short.txt")
	if err := os.WriteFile(shortHomes, []byte("41.3,69.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gcs := []string{"udp:127.0.0.1:14550"}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Vehicles: 0, GCS: gcs}, "vehicles"},
		{Config{Vehicles: 1}, "gcs"},
		{Config{Vehicles: 1, GCS: []string{"tcp:1.2.3.4:5"}}, "udp:HOST:PORT"},
		{Config{Vehicles: 1, GCS: []string{"udp:127.0.0.1:99999"}}, "port"},
		{Config{Vehicles: 251, GCS: gcs}, "at least 2 ground-station addresses"},
		{Config{Vehicles: 1, GCS: gcs, Speedup: -1}, "speedup"},
		{Config{Vehicles: 1, GCS: gcs, Home: homeAt(95, 0)}, "home"},
		{Config{Vehicles: 1, GCS: gcs, Faults: LinkFaults{LossPct: 120}}, "loss"},
		{Config{Vehicles: 2, GCS: gcs, HomesFile: badHomes}, "line 3"},
		{Config{Vehicles: 2, GCS: gcs, HomesFile: shortHomes}, "lists 1 homes"},
		{Config{Vehicles: 2, GCS: gcs, HomesFile: filepath.Join(dir, "missing")}, "homes file"},
		{Config{Vehicles: 2, GCS: gcs, TCPBasePort: 65530}, "tcp base port"},
	} {
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %+v: error %v, want one mentioning %q", tc.cfg, err, tc.want)
		}
	}
}

func TestHomesFileAndSpread(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "homes.txt")
	if err := os.WriteFile(p, []byte("# two pads\n41.30,69.20,450\n\n41.31,69.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Vehicles: 2, GCS: []string{"udp:127.0.0.1:9"}, HomesFile: p, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if h := s.Vehicle(1).modelCfg.Home; h.Lat != 41.31 || h.Lon != 69.21 {
		t.Fatalf("vehicle 1 home %+v", h)
	}
	homes := spreadHomes(homeLL(), 50, 100)
	for i := range homes {
		for j := i + 1; j < len(homes); j++ {
			if homes[i] == homes[j] {
				t.Fatalf("homes %d and %d coincide", i, j)
			}
		}
		dlat := (homes[i].Lat - homeLL().Lat) * 111320
		if dlat > 101 || dlat < -101 {
			t.Fatalf("home %d is %.0f m north of the centre, spread was 100 m", i, dlat)
		}
	}
}
