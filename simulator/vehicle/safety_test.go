package vehicle

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/mavitem"
)

// polygonFence is a square inclusion polygon of half-size h metres centred
// dn, de metres from home.
func polygonFence(dn, de, h float64) []mavitem.Item {
	corners := [][2]float64{{dn - h, de - h}, {dn - h, de + h}, {dn + h, de + h}, {dn + h, de - h}}
	out := make([]mavitem.Item, len(corners))
	for i, c := range corners {
		out[i] = wp(uint16(i), mavitem.CmdFencePolyInclusion, c[0], c[1], 0)
		out[i].Param1 = float32(len(corners))
		out[i].Frame = mavitem.FrameGlobal
		out[i].MissionType = mavitem.TypeFence
	}
	return out
}

func hasText(ev []Event, prefix string) bool {
	return slices.ContainsFunc(texts(ev), func(s string) bool { return strings.HasPrefix(s, prefix) })
}

func TestFenceBreachTriggersRTLAndLandsAtHome(t *testing.T) {
	v := newReady(t, Config{})
	if err := v.SetFence(polygonFence(0, 0, 80)); err != nil {
		t.Fatal(err)
	}
	setParam(t, v, "FENCE_ENABLE", 1)
	// ArduCopter does not check mission waypoints against the fence: a
	// waypoint 150 m north flies through the boundary.
	m := []mavitem.Item{
		wp(0, mavitem.CmdNavWaypoint, 0, 0, 0),
		wp(1, mavitem.CmdNavTakeoff, 0, 0, 20),
		wp(2, mavitem.CmdNavWaypoint, 150, 0, 20),
	}
	if err := v.SetMission(m); err != nil {
		t.Fatal(err)
	}
	mustOK(t, "guided")(v.SetMode(ModeGuided))
	mustOK(t, "arm")(v.Arm(false))
	mustOK(t, "start")(v.MissionStart(0, 0))
	var ev []Event
	s := runUntil(t, v, 3*time.Minute, &ev, func(s State) bool { return s.CustomMode == ModeRTL })
	if !s.FenceBreached || s.FenceBreachType != 3 || s.FenceBreachCount != 1 || !s.FenceEnabled {
		t.Fatalf("fence state: breached %v type %d count %d enabled %v", s.FenceBreached, s.FenceBreachType, s.FenceBreachCount, s.FenceEnabled)
	}
	if !slices.ContainsFunc(ev, func(e Event) bool { return e.Kind == EventFenceBreach && e.Text == "Polygon fence breached" }) {
		t.Fatalf("no fence breach event with ArduCopter's text in %q", texts(ev))
	}
	if d := distFromHome(s); d < 78 || d > 90 {
		t.Errorf("RTL began %.1f m from home, want just past the 80 m boundary", d)
	}
	if s.SensorsHealth&sensFence != 0 {
		t.Error("SYS_STATUS geofence still healthy during a breach")
	}
	s = runUntil(t, v, 5*time.Minute, &ev, func(s State) bool { return !s.Armed })
	if d := distFromHome(s); d > 1.5 || s.RelAlt > 0.05 {
		t.Fatalf("landed %.2f m from home at %.2f m", d, s.RelAlt)
	}
	if s.FenceBreached {
		t.Error("breach not cleared after returning inside")
	}
	if !hasText(ev, "Polygon fence breach cleared") {
		t.Errorf("no breach-cleared text in %q", texts(ev))
	}
}

func TestFenceAltitudeBreachAndCircle(t *testing.T) {
	v := newReady(t, Config{})
	setParam(t, v, "FENCE_ENABLE", 1)
	setParam(t, v, "FENCE_ALT_MAX", 30)
	takeoff(t, v, 20)
	// With the fence off, climb above it, then enable: breach → RTL.
	setParam(t, v, "FENCE_ENABLE", 0)
	lat, lon := offset(20, 0)
	mustOK(t, "goto high")(v.GotoGlobal(lat, lon, 40))
	runUntil(t, v, time.Minute, nil, func(s State) bool { return s.RelAlt > 39 })
	setParam(t, v, "FENCE_ENABLE", 1)
	var ev []Event
	s := runUntil(t, v, 5*time.Second, &ev, func(s State) bool { return s.CustomMode == ModeRTL })
	if s.FenceBreachType != 2 || !hasText(ev, "Max Alt fence breached") {
		t.Fatalf("breach type %d texts %q, want MAXALT", s.FenceBreachType, texts(ev))
	}
}

func TestGuidedTargetOutsideFenceRefused(t *testing.T) {
	v := newReady(t, Config{})
	setParam(t, v, "FENCE_ENABLE", 1)
	setParam(t, v, "FENCE_RADIUS", 100)
	excl := polygonFence(-50, -50, 10)
	for i := range excl {
		excl[i].Command = mavitem.CmdFencePolyExclusion
	}
	circle := wp(4, mavitem.CmdFenceCircleExclusion, 40, 40, 0)
	circle.Param1, circle.Frame, circle.MissionType = 15, mavitem.FrameGlobal, mavitem.TypeFence
	if err := v.SetFence(append(excl, circle)); err != nil {
		t.Fatal(err)
	}
	takeoff(t, v, 10)
	tests := []struct {
		name   string
		dn, de float64
		alt    float64
		want   uint8
	}{
		{"inside", 30, -20, 20, ResultAccepted},
		{"beyond FENCE_RADIUS", 150, 0, 20, ResultDenied},
		{"above FENCE_ALT_MAX", 10, 10, 120, ResultDenied},
		{"inside exclusion polygon", -50, -50, 20, ResultDenied},
		{"inside exclusion circle", 40, 45, 20, ResultDenied},
	}
	for _, tc := range tests {
		lat, lon := offset(tc.dn, tc.de)
		if r, _ := v.GotoGlobal(lat, lon, tc.alt); r != tc.want {
			t.Errorf("%s: GotoGlobal = %d, want %d", tc.name, r, tc.want)
		}
	}
	setParam(t, v, "FENCE_ENABLE", 0)
	lat, lon := offset(150, 0)
	mustOK(t, "fence disabled")(v.GotoGlobal(lat, lon, 20))
}

func TestBatteryFailsafe(t *testing.T) {
	tests := []struct {
		name      string
		leavePct  float64
		wantMode  uint32
		wantText  string
		landsHome bool
	}{
		{"low → RTL", 10, ModeRTL, "Battery 1 is low", true},
		{"critical → LAND", 3, ModeLand, "Battery 1 is critical", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newReady(t, Config{})
			takeoff(t, v, 15)
			lat, lon := offset(60, 0)
			mustOK(t, "goto")(v.GotoGlobal(lat, lon, 15))
			runUntil(t, v, time.Minute, nil, func(s State) bool { return distFromHome(s) > 55 })
			v.InjectBatteryDrop(v.State().BatteryRemainingPct - tc.leavePct)
			var ev []Event
			s := runUntil(t, v, 30*time.Second, &ev, func(s State) bool { return s.CustomMode == tc.wantMode })
			if !hasText(ev, tc.wantText) || s.SystemStatus != mavStateCritical {
				t.Fatalf("texts %q status %d, want %q and CRITICAL", texts(ev), s.SystemStatus, tc.wantText)
			}
			s = runUntil(t, v, 5*time.Minute, &ev, func(s State) bool { return !s.Armed })
			d := distFromHome(s)
			if tc.landsHome && d > 1.5 {
				t.Errorf("RTL landed %.1f m from home", d)
			}
			if !tc.landsHome && d < 50 {
				t.Errorf("LAND landed %.1f m from home, want where it was", d)
			}
		})
	}
}

func TestGCSFailsafe(t *testing.T) {
	// fly takes off to 10 m in GUIDED with the GCS heard every second
	// (when heard), then switches to mode.
	fly := func(t *testing.T, mode uint32, heard bool, enable float64) (*Vehicle, []Event) {
		v := newReady(t, Config{})
		setParam(t, v, "FS_GCS_ENABLE", enable)
		mustOK(t, "guided")(v.SetMode(ModeGuided))
		mustOK(t, "arm")(v.Arm(false))
		mustOK(t, "takeoff")(v.Takeoff(10))
		for i := 0; v.State().RelAlt < 9.5; i++ {
			if i > 60 {
				t.Fatal("takeoff did not reach 9.5 m in 60 s")
			}
			if heard {
				v.GCSHeartbeat()
			}
			v.Step(time.Second)
		}
		if s := v.State(); s.CustomMode != ModeGuided {
			t.Fatalf("mode %d after takeoff, want GUIDED", s.CustomMode)
		}
		if mode != ModeGuided {
			mustOK(t, "mode")(v.SetMode(mode))
		}
		return v, nil
	}
	t.Run("RTL after timeout in GUIDED", func(t *testing.T) {
		v, ev := fly(t, ModeGuided, true, 1)
		for i := 0; i < 10; i++ {
			v.GCSHeartbeat()
			v.Step(time.Second)
			if s := v.State(); s.CustomMode != ModeGuided {
				t.Fatalf("mode %d while heartbeats flow", s.CustomMode)
			}
		}
		v.DrainEvents()
		stop := v.Now() - time.Second // the last heartbeat came before the last step
		s := runUntil(t, v, 20*time.Second, &ev, func(s State) bool { return s.CustomMode == ModeRTL })
		if waited := v.Now() - stop; waited < 5*time.Second || waited > 6*time.Second {
			t.Errorf("RTL after %v without heartbeat, want FS_GCS_TIMEOUT 5 s", waited)
		}
		if !hasText(ev, "GCS Failsafe") || s.SystemStatus != mavStateCritical {
			t.Fatalf("texts %q status %d", texts(ev), s.SystemStatus)
		}
		v.GCSHeartbeat()
		v.Step(200 * time.Millisecond)
		if !hasText(v.DrainEvents(), "GCS Failsafe Cleared") {
			t.Error("no GCS Failsafe Cleared after a heartbeat")
		}
	})
	t.Run("never heard a GCS", func(t *testing.T) {
		v, _ := fly(t, ModeGuided, false, 1)
		v.Step(30 * time.Second)
		if s := v.State(); s.CustomMode != ModeGuided {
			t.Fatalf("mode %d without ever hearing a GCS, want GUIDED", s.CustomMode)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		v, _ := fly(t, ModeGuided, true, 0)
		v.Step(30 * time.Second)
		if s := v.State(); s.CustomMode != ModeGuided {
			t.Fatalf("mode %d with FS_GCS_ENABLE 0", s.CustomMode)
		}
	})
	t.Run("LOITER continues (FS_OPTIONS bit 4)", func(t *testing.T) {
		v, _ := fly(t, ModeLoiter, true, 1)
		v.Step(30 * time.Second)
		ev := v.DrainEvents()
		if s := v.State(); s.CustomMode != ModeLoiter || !hasText(ev, "GCS Failsafe - Continuing Pilot Control") {
			t.Fatalf("mode %d texts %q", s.CustomMode, texts(ev))
		}
	})
}

func TestGPSLossLandsViaEKFFailsafe(t *testing.T) {
	v := newReady(t, Config{WindSpeed: 4, WindDirDeg: 90})
	takeoff(t, v, 20)
	v.Step(5 * time.Second)
	before := distFromHome(v.State())
	v.InjectGPSLoss(time.Minute)
	v.InjectGust(5, 3*time.Second)
	if s := v.State(); s.GPSFixType >= 3 || s.SensorsHealth&sensGPS != 0 {
		t.Fatalf("fix %d health %x after GPS loss", s.GPSFixType, s.SensorsHealth)
	}
	var ev []Event
	s := runUntil(t, v, 10*time.Second, &ev, func(s State) bool { return s.CustomMode == ModeLand })
	if !hasText(ev, "EKF Failsafe") {
		t.Fatalf("texts %q", texts(ev))
	}
	s = runUntil(t, v, 2*time.Minute, nil, func(s State) bool { return !s.Armed })
	if s.RelAlt > 0.05 {
		t.Fatalf("disarmed at %.2f m", s.RelAlt)
	}
	if drift := distFromHome(s) - before; drift < 2 {
		t.Errorf("drifted %.2f m without GPS in a 5 m/s gust, want the gust to carry it", drift)
	}
}

func TestInjectFailureFallsAndStaysFailed(t *testing.T) {
	v := newReady(t, Config{})
	takeoff(t, v, 30)
	v.InjectFailure()
	var ev []Event
	s := runUntil(t, v, 20*time.Second, &ev, func(s State) bool { return s.LandedState == landedOnGround })
	if !s.Failed || s.Armed || s.SystemStatus != mavStateEmergency {
		t.Fatalf("failed %v armed %v status %d", s.Failed, s.Armed, s.SystemStatus)
	}
	if !hasText(ev, "Potential Thrust Loss") || !hasText(ev, "Crash: Disarming") {
		t.Fatalf("texts %q", texts(ev))
	}
	if r, _ := v.Arm(true); r != ResultFailed {
		t.Fatal("a failed vehicle armed")
	}
}
