package simulator

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// Flight tests: the whole vehicle over MAVLink, with the model flying
// faster than real time. Every wait is bounded; none asserts a duration.

const flightSpeedup = 20

func flyingVehicle(t *testing.T) (*testGCS, *Sim) {
	t.Helper()
	g := newTestGCS(t, true)
	s := oneVehicle(t, g, func(c *Config) { c.Speedup = flightSpeedup })
	g.channel(1)
	waitHome(t, s.Vehicle(0))
	return g, s
}

// waitHeartbeat waits for an autopilot HEARTBEAT that satisfies ok.
func waitHeartbeat(t *testing.T, g *testGCS, c *int, what string, timeout time.Duration, ok func(*common.MessageHeartbeat) bool) {
	t.Helper()
	if g.waitFrom(c, timeout, func(fr *gomavlib.EventFrame) bool {
		hb, isHB := fr.Message().(*common.MessageHeartbeat)
		return isHB && fr.SystemID() == 1 && fr.ComponentID() == 1 && ok(hb)
	}) == nil {
		t.Fatalf("no HEARTBEAT showing %s within %v", what, timeout)
	}
}

func waitMode(t *testing.T, g *testGCS, c *int, mode uint32, timeout time.Duration) {
	t.Helper()
	waitHeartbeat(t, g, c, "custom_mode "+modeName(mode), timeout, func(hb *common.MessageHeartbeat) bool { return hb.CustomMode == mode })
}

func modeName(m uint32) string {
	return map[uint32]string{vehicle.ModeGuided: "GUIDED", vehicle.ModeAuto: "AUTO", vehicle.ModeRTL: "RTL", vehicle.ModeLand: "LAND", vehicle.ModeLoiter: "LOITER"}[m]
}

func waitStatusText(t *testing.T, g *testGCS, c *int, substr string, timeout time.Duration) string {
	t.Helper()
	m := g.waitMsg(c, 1, timeout, func(m message.Message) bool {
		st, ok := m.(*common.MessageStatustext)
		return ok && strings.Contains(st.Text, substr)
	})
	if m == nil {
		t.Fatalf("no STATUSTEXT containing %q within %v", substr, timeout)
	}
	return m.(*common.MessageStatustext).Text
}

func mustAccept(t *testing.T, what string, r common.MAV_RESULT) {
	t.Helper()
	if r != common.MAV_RESULT_ACCEPTED {
		t.Fatalf("%s: %v, want ACCEPTED", what, r)
	}
}

// takeoff puts the vehicle in GUIDED, arms it and climbs to alt metres.
func takeoff(t *testing.T, g *testGCS, alt float32) {
	t.Helper()
	mustAccept(t, "GUIDED", g.command(1, 1, common.MAV_CMD_DO_SET_MODE, 1, float32(vehicle.ModeGuided)))
	mustAccept(t, "arm", g.command(1, 1, common.MAV_CMD_COMPONENT_ARM_DISARM, 1))
	mustAccept(t, "takeoff", g.command(1, 1, common.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, alt))
	c := g.mark()
	if g.waitMsg(&c, 1, 30*time.Second, func(m message.Message) bool {
		p, ok := m.(*common.MessageGlobalPositionInt)
		return ok && float32(p.RelativeAlt)/1000 >= alt-1
	}) == nil {
		t.Fatalf("did not climb to %v m", alt)
	}
}

func TestArmingRefusedWithoutGPS(t *testing.T) {
	g, s := flyingVehicle(t)
	// the operator picked GUIDED, then the GPS fix went away
	mustAccept(t, "GUIDED", g.command(1, 1, common.MAV_CMD_DO_SET_MODE, 1, float32(vehicle.ModeGuided)))
	s.Vehicle(0).Do(func(v *vehicle.Vehicle) { v.InjectGPSLoss(10 * time.Minute) })
	c := g.mark()
	waitHeartbeat(t, g, &c, "a tick after the GPS loss", 10*time.Second, func(*common.MessageHeartbeat) bool { return true })
	deadline := time.Now().Add(10 * time.Second)
	for s.Vehicle(0).State().GPSFixType >= 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	c = g.mark()
	if r := g.command(1, 1, common.MAV_CMD_COMPONENT_ARM_DISARM, 1); r != common.MAV_RESULT_FAILED {
		t.Fatalf("arm without GPS: %v, want FAILED", r)
	}
	waitStatusText(t, g, &c, "GPS", 5*time.Second)
	if s.Vehicle(0).State().Armed {
		t.Fatal("vehicle armed without GPS")
	}
}

func TestGuidedTakeoffAndReposition(t *testing.T) {
	g, s := flyingVehicle(t)
	takeoff(t, g, 10)
	h := homeLL()
	// DO_REPOSITION as COMMAND_INT, 40 m north
	target := e7(h.Lat + 40.0/111320)
	c := g.mark()
	g.send(1, &common.MessageCommandInt{TargetSystem: 1, TargetComponent: 1, Frame: common.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
		Command: common.MAV_CMD_DO_REPOSITION, Param1: -1, X: target, Y: e7(h.Lon), Z: 15})
	a := g.waitMsg(&c, 1, 5*time.Second, func(m message.Message) bool {
		a, ok := m.(*common.MessageCommandAck)
		return ok && a.Command == common.MAV_CMD_DO_REPOSITION
	})
	if a == nil || a.(*common.MessageCommandAck).Result != common.MAV_RESULT_ACCEPTED {
		t.Fatalf("DO_REPOSITION ack %+v", a)
	}
	if g.waitMsg(&c, 1, 30*time.Second, func(m message.Message) bool {
		p, ok := m.(*common.MessageGlobalPositionInt)
		return ok && p.Lat > target-50 && p.Lat < target+50 && p.RelativeAlt > 14000
	}) == nil {
		t.Fatalf("never reached the reposition target: %+v", s.Vehicle(0).State())
	}
}

// flyMission uploads items, arms in GUIDED, switches to AUTO and collects
// MISSION_ITEM_REACHED until the vehicle disarms after landing.
func flyMission(t *testing.T, g *testGCS, items []mavitem.Item) []uint16 {
	t.Helper()
	if r := g.upload(1, mavitem.TypeMission, items); r != common.MAV_MISSION_ACCEPTED {
		t.Fatalf("upload: %v", r)
	}
	mustAccept(t, "GUIDED", g.command(1, 1, common.MAV_CMD_DO_SET_MODE, 1, float32(vehicle.ModeGuided)))
	mustAccept(t, "arm", g.command(1, 1, common.MAV_CMD_COMPONENT_ARM_DISARM, 1))
	c := g.mark()
	mustAccept(t, "MISSION_START", g.command(1, 1, common.MAV_CMD_MISSION_START, 0, 0))
	var reached []uint16
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		fr := g.waitFrom(&c, 10*time.Second, func(fr *gomavlib.EventFrame) bool {
			switch m := fr.Message().(type) {
			case *common.MessageMissionItemReached:
				return true
			case *common.MessageHeartbeat:
				return fr.ComponentID() == 1 && m.BaseMode&common.MAV_MODE_FLAG_SAFETY_ARMED == 0
			}
			return false
		})
		if fr == nil {
			continue
		}
		if r, ok := fr.Message().(*common.MessageMissionItemReached); ok {
			reached = append(reached, r.Seq)
			continue
		}
		return reached // disarmed: landed at the end
	}
	t.Fatalf("mission did not end with a disarm; reached %v; state %+v", reached, g)
	return nil
}

func TestAutoMissionFlownToTheEnd(t *testing.T) {
	g, _ := flyingVehicle(t)
	h := homeLL()
	items := []mavitem.Item{
		{Seq: 0, Frame: mavitem.FrameGlobal, Command: mavitem.CmdNavWaypoint, Autocontinue: 1, X: e7(h.Lat), Y: e7(h.Lon), Z: float32(h.AltMSL)},
		{Seq: 1, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavTakeoff, Autocontinue: 1, Z: 15},
		{Seq: 2, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavWaypoint, Autocontinue: 1, X: e7(h.Lat + 0.0004), Y: e7(h.Lon), Z: 15},
		{Seq: 3, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdDoChangeSpeed, Autocontinue: 1, Param2: 6, Param3: -1},
		{Seq: 4, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavWaypoint, Autocontinue: 1, X: e7(h.Lat + 0.0004), Y: e7(h.Lon + 0.0004), Z: 20},
		{Seq: 5, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavLoiterTime, Autocontinue: 1, Param1: 3, X: e7(h.Lat + 0.0004), Y: e7(h.Lon + 0.0004), Z: 20},
		{Seq: 6, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavLand, Autocontinue: 1, X: e7(h.Lat), Y: e7(h.Lon)},
	}
	reached := flyMission(t, g, items)
	want := map[uint16]bool{1: true, 2: true, 4: true, 5: true, 6: true}
	for _, seq := range reached {
		delete(want, seq)
	}
	if len(want) != 0 {
		t.Fatalf("MISSION_ITEM_REACHED seqs %v; never reached nav items %v", reached, want)
	}
	c := 0
	if g.waitMsg(&c, 1, 10*time.Second, func(m message.Message) bool {
		mc, ok := m.(*common.MessageMissionCurrent)
		// ArduPilot's total counts the items after home: the last seq.
		return ok && mc.MissionState == common.MISSION_STATE_COMPLETE && mc.Total == uint16(len(items)-1)
	}) == nil {
		t.Fatal("MISSION_CURRENT never reported the mission COMPLETE")
	}
}

func TestDoJumpLoopCountHonoured(t *testing.T) {
	g, _ := flyingVehicle(t)
	h := homeLL()
	items := []mavitem.Item{
		{Seq: 0, Frame: mavitem.FrameGlobal, Command: mavitem.CmdNavWaypoint, Autocontinue: 1, X: e7(h.Lat), Y: e7(h.Lon), Z: float32(h.AltMSL)},
		{Seq: 1, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavTakeoff, Autocontinue: 1, Z: 10},
		{Seq: 2, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavWaypoint, Autocontinue: 1, X: e7(h.Lat + 0.0003), Y: e7(h.Lon), Z: 10},
		{Seq: 3, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavWaypoint, Autocontinue: 1, X: e7(h.Lat + 0.0003), Y: e7(h.Lon + 0.0003), Z: 10},
		{Seq: 4, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdDoJump, Autocontinue: 1, Param1: 2, Param2: 2},
		{Seq: 5, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavReturnToLaunch, Autocontinue: 1},
	}
	reached := flyMission(t, g, items)
	count := map[uint16]int{}
	for _, seq := range reached {
		count[seq]++
	}
	// DO_JUMP with repeat 2: the loop 2→3 is flown 1 + 2 = 3 times
	if count[2] != 3 || count[3] != 3 {
		t.Fatalf("waypoints reached %v times (seqs %v), want 2 and 3 three times each", count, reached)
	}
}

func setParam(t *testing.T, g *testGCS, name string, value float32) float32 {
	t.Helper()
	for range 10 {
		c := g.mark()
		g.send(1, &common.MessageParamSet{TargetSystem: 1, TargetComponent: 1, ParamId: name, ParamValue: value})
		if m := g.waitMsg(&c, 1, time.Second, func(m message.Message) bool {
			p, ok := m.(*common.MessageParamValue)
			return ok && p.ParamId == name
		}); m != nil {
			return m.(*common.MessageParamValue).ParamValue
		}
	}
	t.Fatalf("no PARAM_VALUE for %s", name)
	return 0
}

func TestFenceBreachTriggersRTL(t *testing.T) {
	g, s := flyingVehicle(t)
	if v := setParam(t, g, "FENCE_ENABLE", 1); v != 1 {
		t.Fatalf("FENCE_ENABLE = %v", v)
	}
	takeoff(t, g, 10)
	h := homeLL()
	// a GUIDED target far outside the 150 m circle is refused, as ArduCopter does
	far := e7(h.Lat + 1000.0/111320)
	c := g.mark()
	g.send(1, &common.MessageCommandInt{TargetSystem: 1, TargetComponent: 1, Frame: common.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
		Command: common.MAV_CMD_DO_REPOSITION, Param1: -1, X: far, Y: e7(h.Lon), Z: 10})
	a := g.waitMsg(&c, 1, 5*time.Second, func(m message.Message) bool {
		a, ok := m.(*common.MessageCommandAck)
		return ok && a.Command == common.MAV_CMD_DO_REPOSITION
	})
	if a == nil || a.(*common.MessageCommandAck).Result == common.MAV_RESULT_ACCEPTED {
		t.Fatalf("reposition outside the fence: ack %+v, want a refusal", a)
	}
	// fly 80 m out inside the fence, then shrink the fence under the vehicle
	mid := e7(h.Lat + 80.0/111320)
	g.send(1, &common.MessageCommandInt{TargetSystem: 1, TargetComponent: 1, Frame: common.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
		Command: common.MAV_CMD_DO_REPOSITION, Param1: -1, X: mid, Y: e7(h.Lon), Z: 10})
	if g.waitMsg(&c, 1, 30*time.Second, func(m message.Message) bool {
		p, ok := m.(*common.MessageGlobalPositionInt)
		return ok && p.Lat > mid-100
	}) == nil {
		t.Fatalf("did not fly out to 80 m: %+v", s.Vehicle(0).State())
	}
	c = g.mark()
	setParam(t, g, "FENCE_RADIUS", 40)
	waitMode(t, g, &c, vehicle.ModeRTL, 20*time.Second)
	c2 := 0
	if g.waitMsg(&c2, 1, 5*time.Second, func(m message.Message) bool {
		st, ok := m.(*common.MessageStatustext)
		return ok && strings.Contains(strings.ToLower(st.Text), "fence")
	}) == nil {
		t.Error("no STATUSTEXT about the fence")
	}
	fs := g.waitMsg(&c, 1, 10*time.Second, func(m message.Message) bool {
		f, ok := m.(*common.MessageFenceStatus)
		return ok && f.BreachStatus == 1
	})
	if fs == nil {
		t.Fatal("FENCE_STATUS never showed the breach")
	}
}

func TestBatteryFailsafeRTLThenLand(t *testing.T) {
	g, s := flyingVehicle(t)
	takeoff(t, g, 10)
	c := g.mark()
	s.Vehicle(0).Do(func(v *vehicle.Vehicle) { v.InjectBatteryDrop(85) })
	waitMode(t, g, &c, vehicle.ModeRTL, 60*time.Second)
	c = g.mark()
	s.Vehicle(0).Do(func(v *vehicle.Vehicle) { v.InjectBatteryDrop(8) }) // near empty, not depleted
	defer func() {
		if t.Failed() {
			g.mu.Lock()
			for _, fr := range g.frames {
				if st, ok := fr.Message().(*common.MessageStatustext); ok {
					t.Log("STATUSTEXT", st.Text)
				}
			}
			g.mu.Unlock()
			t.Logf("state %+v", s.Vehicle(0).State())
		}
	}()
	waitMode(t, g, &c, vehicle.ModeLand, 60*time.Second)
}

// manualHeartbeats sends GCS heartbeats every period until the returned
// stop function is called (it waits for the sender to end).
func manualHeartbeats(g *testGCS, period time.Duration) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(period)
		defer tk.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tk.C:
				g.node.WriteMessageAll(&common.MessageHeartbeat{Type: common.MAV_TYPE_GCS, Autopilot: common.MAV_AUTOPILOT_INVALID, MavlinkVersion: 3}) //nolint:errcheck
			}
		}
	}()
	var once bool
	return func() {
		if !once {
			once = true
			close(quit)
			<-done
		}
	}
}

func TestGCSFailsafeRTL(t *testing.T) {
	g := newTestGCS(t, false) // heartbeats sent by hand below
	s := oneVehicle(t, g, func(c *Config) { c.Speedup = flightSpeedup })
	stop := manualHeartbeats(g, 50*time.Millisecond)
	defer stop()
	g.channel(1)
	waitHome(t, s.Vehicle(0))
	takeoff(t, g, 10)
	c := g.mark()
	c0 := c
	stop() // the ground station goes silent
	waitMode(t, g, &c, vehicle.ModeRTL, 30*time.Second)
	waitStatusText(t, g, &c0, "GCS Failsafe", 10*time.Second)
}

// TestSlowGCSHeartbeatsDoNotTripFailsafeAtSpeedup: a ground station's
// ordinary 1 Hz heartbeats are 20 simulated seconds apart at speedup 20;
// the vehicle must not take that for a lost ground station.
func TestSlowGCSHeartbeatsDoNotTripFailsafeAtSpeedup(t *testing.T) {
	g := newTestGCS(t, false)
	s := oneVehicle(t, g, func(c *Config) { c.Speedup = flightSpeedup })
	stop := manualHeartbeats(g, time.Second)
	defer stop()
	g.channel(1)
	waitHome(t, s.Vehicle(0))
	takeoff(t, g, 10)
	c := g.mark()
	// hover for 4 s of wall time = 80 simulated s, 16 × FS_GCS_TIMEOUT
	if fr := g.waitFrom(&c, 4*time.Second, func(fr *gomavlib.EventFrame) bool {
		hb, ok := fr.Message().(*common.MessageHeartbeat)
		return ok && fr.ComponentID() == 1 && hb.CustomMode != vehicle.ModeGuided
	}); fr != nil {
		t.Fatalf("mode changed to %d with a live 1 Hz ground station", fr.Message().(*common.MessageHeartbeat).CustomMode)
	}
}

func TestParameterProtocol(t *testing.T) {
	g := newTestGCS(t, true)
	s := oneVehicle(t, g, nil)
	var want []vehicle.Param
	s.Vehicle(0).Do(func(v *vehicle.Vehicle) { want = v.Params() })
	if len(want) < 20 {
		t.Fatalf("model has %d parameters", len(want))
	}
	c := g.mark()
	g.send(1, &common.MessageParamRequestList{TargetSystem: 1, TargetComponent: 1})
	got := map[uint16]*common.MessageParamValue{}
	for len(got) < len(want) {
		m := g.waitMsg(&c, 1, 10*time.Second, isMsg[*common.MessageParamValue])
		if m == nil {
			t.Fatalf("parameter list stopped at %d of %d", len(got), len(want))
		}
		p := m.(*common.MessageParamValue)
		if int(p.ParamCount) != len(want) {
			t.Fatalf("param_count %d, want %d", p.ParamCount, len(want))
		}
		got[p.ParamIndex] = p
	}
	for i, p := range want {
		pv := got[uint16(i)]
		if pv.ParamId != p.Name || uint8(pv.ParamType) != p.Type || pv.ParamValue != float32(p.Value) {
			t.Errorf("index %d: got %s=%v type %v, want %s=%v type %d", i, pv.ParamId, pv.ParamValue, pv.ParamType, p.Name, p.Value, p.Type)
		}
	}
	wp, ok := findParam(want, "WPNAV_SPEED")
	if !ok {
		t.Fatal("no WPNAV_SPEED")
	}
	if v := setParam(t, g, "WPNAV_SPEED", float32(wp.Max+1000)); v != float32(wp.Value) {
		t.Fatalf("out-of-range WPNAV_SPEED set: PARAM_VALUE %v, want the unchanged %v", v, wp.Value)
	}
	if v := setParam(t, g, "WPNAV_SPEED", 800); v != 800 {
		t.Fatalf("WPNAV_SPEED set to 800 reads back %v", v)
	}
	c = g.mark()
	g.send(1, &common.MessageParamRequestRead{TargetSystem: 1, TargetComponent: 1, ParamId: "RTL_ALT", ParamIndex: -1})
	m := g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageParamValue])
	if m == nil || m.(*common.MessageParamValue).ParamId != "RTL_ALT" {
		t.Fatalf("PARAM_REQUEST_READ by name: %+v", m)
	}
	g.send(1, &common.MessageParamRequestRead{TargetSystem: 1, TargetComponent: 1, ParamIndex: 2})
	m = g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageParamValue])
	if m == nil || m.(*common.MessageParamValue).ParamId != want[2].Name || m.(*common.MessageParamValue).ParamIndex != 2 {
		t.Fatalf("PARAM_REQUEST_READ by index: %+v", m)
	}
}

func findParam(ps []vehicle.Param, name string) (vehicle.Param, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p, true
		}
	}
	return vehicle.Param{}, false
}

func TestPauseContinueSetModeMessageAndReboot(t *testing.T) {
	g, s := flyingVehicle(t)
	takeoff(t, g, 10)
	h := homeLL()
	g.send(1, &common.MessageCommandInt{TargetSystem: 1, TargetComponent: 1, Frame: common.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
		Command: common.MAV_CMD_DO_REPOSITION, Param1: -1, X: e7(h.Lat + 100.0/111320), Y: e7(h.Lon), Z: 10})
	c := g.mark()
	mustAccept(t, "pause", g.command(1, 1, common.MAV_CMD_DO_PAUSE_CONTINUE, 0))
	waitMode(t, g, &c, vehicle.ModeBrake, 10*time.Second)
	mustAccept(t, "continue", g.command(1, 1, common.MAV_CMD_DO_PAUSE_CONTINUE, 1))
	waitMode(t, g, &c, vehicle.ModeGuided, 10*time.Second)
	if r := g.command(1, 1, common.MAV_CMD_DO_PAUSE_CONTINUE, 1); r != common.MAV_RESULT_FAILED {
		t.Fatalf("continue without a pause: %v, want FAILED", r)
	}
	// the legacy SET_MODE message is answered with a COMMAND_ACK for DO_SET_MODE
	c = g.mark()
	g.send(1, &common.MessageSetMode{TargetSystem: 1, BaseMode: common.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, CustomMode: vehicle.ModeLand})
	a := g.waitMsg(&c, 1, 5*time.Second, func(m message.Message) bool {
		a, ok := m.(*common.MessageCommandAck)
		return ok && a.Command == common.MAV_CMD_DO_SET_MODE
	})
	if a == nil || a.(*common.MessageCommandAck).Result != common.MAV_RESULT_ACCEPTED {
		t.Fatalf("SET_MODE ack %+v", a)
	}
	waitMode(t, g, &c, vehicle.ModeLand, 10*time.Second)
	// no reboot while armed; after landing and disarming, a reboot keeps the mission
	if r := g.command(1, 1, common.MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN, 1); r != common.MAV_RESULT_FAILED {
		t.Fatalf("reboot while armed: %v, want FAILED", r)
	}
	waitHeartbeat(t, g, &c, "disarmed after landing", 60*time.Second, func(hb *common.MessageHeartbeat) bool {
		return hb.BaseMode&common.MAV_MODE_FLAG_SAFETY_ARMED == 0
	})
	if r := g.upload(1, mavitem.TypeMission, sampleMission()); r != common.MAV_MISSION_ACCEPTED {
		t.Fatalf("upload: %v", r)
	}
	mustAccept(t, "reboot", g.command(1, 1, common.MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN, 1))
	if got := g.download(1, mavitem.TypeMission); len(got) != len(sampleMission()) {
		t.Fatalf("mission after reboot: %d items, want %d", len(got), len(sampleMission()))
	}
	if st := s.Vehicle(0).State(); st.Armed {
		t.Fatal("armed after reboot")
	}
}

// A vehicle on its pad reports its home's altitude (GLOBAL_POSITION_INT,
// and GPS_RAW_INT within the GPS's noise), before and after a flight, in
// the console launch test's configuration (2 vehicles, the default home
// and spread; faster than its --speedup 4). A 39 m gap seen there was a
// drone flying the demo patrol 39 m above its pad; this holds the
// invariant the launch rules (web/src/lib/commands.js, scenario/launch.go)
// rely on.
func TestLandedVehicleReportsItsHomeAltitude(t *testing.T) {
	g := newTestGCS(t, true)
	s := startSim(t, Config{Vehicles: 2, GCS: []string{g.addr()}, Home: homeLL(), Seed: 1, Speedup: flightSpeedup})
	onPad := func(sysid uint8, when string) {
		t.Helper()
		c := g.mark()
		hm := g.waitMsg(&c, sysid, 20*time.Second, isMsg[*common.MessageHomePosition])
		if hm == nil {
			t.Fatalf("vehicle %d %s: no HOME_POSITION", sysid, when)
		}
		home := float64(hm.(*common.MessageHomePosition).Altitude) / 1000
		for i := 0; i < 3; i++ {
			p := g.waitMsg(&c, sysid, 5*time.Second, isMsg[*common.MessageGlobalPositionInt])
			if p == nil {
				t.Fatalf("vehicle %d %s: no GLOBAL_POSITION_INT", sysid, when)
			}
			gp := p.(*common.MessageGlobalPositionInt)
			if alt := float64(gp.Alt) / 1000; math.Abs(alt-home) > 0.05 || math.Abs(float64(gp.RelativeAlt)/1000) > 0.05 {
				t.Fatalf("vehicle %d %s: GLOBAL_POSITION_INT alt %.3f m (relative %.3f m), home %.3f m", sysid, when, alt, float64(gp.RelativeAlt)/1000, home)
			}
		}
		raw := g.waitMsg(&c, sysid, 10*time.Second, func(m message.Message) bool {
			r, ok := m.(*common.MessageGpsRawInt)
			return ok && r.FixType >= common.GPS_FIX_TYPE_3D_FIX
		})
		if raw == nil {
			t.Fatalf("vehicle %d %s: no GPS_RAW_INT with a 3D fix", sysid, when)
		}
		if alt := float64(raw.(*common.MessageGpsRawInt).Alt) / 1000; math.Abs(alt-home) > 5 {
			t.Fatalf("vehicle %d %s: GPS_RAW_INT alt %.2f m, home %.2f m", sysid, when, alt, home)
		}
	}
	for i := range 2 {
		waitHome(t, s.Vehicle(i))
		onPad(uint8(i+1), "before flying")
	}
	takeoff(t, g, 20)
	c := g.mark()
	mustAccept(t, "RTL", g.command(1, 1, common.MAV_CMD_DO_SET_MODE, 1, float32(vehicle.ModeRTL)))
	waitHeartbeat(t, g, &c, "disarmed after RTL", 2*time.Minute, func(hb *common.MessageHeartbeat) bool {
		return hb.BaseMode&common.MAV_MODE_FLAG_SAFETY_ARMED == 0
	})
	onPad(1, "after an RTL")
}
