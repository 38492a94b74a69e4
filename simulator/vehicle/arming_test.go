package vehicle

import (
	"testing"
	"time"
)

func TestArmingRefusals(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T) *Vehicle
		reason string
	}{
		{"no GPS fix yet (cold start)", func(t *testing.T) *Vehicle {
			v := New(Config{SystemID: 1, Home: testHome})
			v.Step(500 * time.Millisecond)
			return v
		}, "PreArm: GPS 1: Bad fix"},
		{"GPS lost", func(t *testing.T) *Vehicle {
			v := newReady(t, Config{})
			v.InjectGPSLoss(time.Minute)
			return v
		}, "PreArm: GPS 1: Bad fix"},
		{"battery low", func(t *testing.T) *Vehicle {
			v := newReady(t, Config{})
			v.InjectBatteryDrop(v.State().BatteryRemainingPct - 8)
			return v
		}, "PreArm: Battery 1 low voltage failsafe"},
		{"below BATT_ARM_VOLT", func(t *testing.T) *Vehicle {
			v := newReady(t, Config{})
			if _, err := v.SetParam("BATT_ARM_VOLT", 12.7); err != nil {
				t.Fatal(err)
			}
			return v
		}, "PreArm: Battery 1 below minimum arming voltage"},
		{"mode not armable (RTL)", func(t *testing.T) *Vehicle {
			v := newReady(t, Config{})
			mustOK(t, "mode RTL")(v.SetMode(ModeRTL))
			return v
		}, "Arm: RTL mode not armable"},
		{"mode not armable (AUTO without AUTO_OPTIONS)", func(t *testing.T) *Vehicle {
			v := newReady(t, Config{})
			if err := v.SetMission(squareMission()); err != nil {
				t.Fatal(err)
			}
			mustOK(t, "mode AUTO")(v.SetMode(ModeAuto))
			return v
		}, "Arm: AUTO mode not armable"},
		{"outside an enabled fence", func(t *testing.T) *Vehicle {
			v := newReady(t, Config{})
			if err := v.SetFence(polygonFence(200, 300, 100)); err != nil { // home outside
				t.Fatal(err)
			}
			setParam(t, v, "FENCE_ENABLE", 1)
			return v
		}, "PreArm: Fence: vehicle outside fence"},
		{"vehicle failed", func(t *testing.T) *Vehicle {
			v := newReady(t, Config{})
			v.InjectFailure()
			return v
		}, "PreArm: Motors: vehicle failure"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.setup(t)
			r, why := v.Arm(false)
			if r != ResultFailed || why != tc.reason {
				t.Fatalf("Arm = %d %q, want %d %q", r, why, ResultFailed, tc.reason)
			}
			if v.State().Armed {
				t.Fatal("armed after a refusal")
			}
		})
	}
}

func TestArmSucceedsAndForceBypassesChecks(t *testing.T) {
	v := New(Config{SystemID: 1, Home: testHome})
	if r, _ := v.Arm(false); r != ResultFailed {
		t.Fatalf("arm without fix = %d, want failed", r)
	}
	mustOK(t, "forced arm")(v.Arm(true))
	var ev []Event
	ev = append(ev, v.DrainEvents()...)
	if got := texts(ev); len(got) == 0 || got[len(got)-1] != "Arming motors" {
		t.Fatalf("texts %q, want Arming motors", got)
	}
	s := v.State()
	if !s.Armed || s.SystemStatus != mavStateStandby || s.LandedState != landedOnGround {
		t.Fatalf("armed %v status %d landed %d, want armed, STANDBY, ON_GROUND", s.Armed, s.SystemStatus, s.LandedState)
	}
	if s.BaseMode()&128 == 0 {
		t.Fatal("base_mode lacks SAFETY_ARMED")
	}
}

func TestAutoDisarmAfterDisarmDelay(t *testing.T) {
	v := newReady(t, Config{})
	mustOK(t, "guided")(v.SetMode(ModeGuided))
	mustOK(t, "arm")(v.Arm(false))
	start := v.Now()
	s := runUntil(t, v, 30*time.Second, nil, func(s State) bool { return !s.Armed })
	if waited := v.Now() - start; waited < 9*time.Second || waited > 11*time.Second {
		t.Fatalf("disarmed after %v, want DISARM_DELAY 10 s", waited)
	}
	_ = s
}

func TestDisarmInFlightNeedsForce(t *testing.T) {
	v := newReady(t, Config{})
	takeoff(t, v, 10)
	if r, _ := v.Disarm(false); r != ResultFailed {
		t.Fatalf("disarm while flying = %d, want failed", r)
	}
	mustOK(t, "forced disarm")(v.Disarm(true))
	s := runUntil(t, v, 30*time.Second, nil, func(s State) bool { return s.LandedState == landedOnGround })
	if s.Armed || s.RelAlt > 0.01 {
		t.Fatalf("after forced disarm: armed %v alt %.2f", s.Armed, s.RelAlt)
	}
}

func TestLandOrRTLOnTheGroundDisarms(t *testing.T) {
	for _, m := range []uint32{ModeLand, ModeRTL} {
		v := newReady(t, Config{})
		mustOK(t, "guided")(v.SetMode(ModeGuided))
		mustOK(t, "arm")(v.Arm(false))
		mustOK(t, ModeName(m))(v.SetMode(m))
		s := runUntil(t, v, 2*time.Second, nil, func(s State) bool { return !s.Armed })
		if s.RelAlt > 0.01 {
			t.Fatalf("%s: lifted off to %.2f m", ModeName(m), s.RelAlt)
		}
	}
}
