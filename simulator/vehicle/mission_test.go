package vehicle

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/mavitem"
)

// squareMission: home, takeoff 15 m, four corners of a 60 m square (the
// second holds 3 s), a speed change, RTL.
func squareMission() []mavitem.Item {
	hold := wp(3, mavitem.CmdNavWaypoint, 60, 60, 15)
	hold.Param1 = 3
	speed := mavitem.Item{Seq: 4, Command: mavitem.CmdDoChangeSpeed, Frame: mavitem.FrameMission, Param1: 1, Param2: 5, Param3: -1}
	return []mavitem.Item{
		wp(0, mavitem.CmdNavWaypoint, 0, 0, 0),
		wp(1, mavitem.CmdNavTakeoff, 0, 0, 15),
		wp(2, mavitem.CmdNavWaypoint, 60, 0, 15),
		hold,
		speed,
		wp(5, mavitem.CmdNavWaypoint, 0, 60, 20),
		{Seq: 6, Command: mavitem.CmdNavReturnToLaunch, Frame: mavitem.FrameGlobalRelativeAlt},
	}
}

func reachedSeqs(ev []Event) []uint16 {
	var out []uint16
	for _, e := range ev {
		if e.Kind == EventMissionItemReached {
			out = append(out, e.Seq)
		}
	}
	return out
}

func currentSeqs(ev []Event) []uint16 {
	var out []uint16
	for _, e := range ev {
		if e.Kind == EventMissionCurrent {
			out = append(out, e.Seq)
		}
	}
	return out
}

func TestAutoMissionFlownToTheEnd(t *testing.T) {
	v := newReady(t, Config{})
	if err := v.SetMission(squareMission()); err != nil {
		t.Fatal(err)
	}
	mustOK(t, "guided")(v.SetMode(ModeGuided))
	mustOK(t, "arm")(v.Arm(false))
	if st := v.State().MissionState; st != 2 {
		t.Fatalf("mission state %d before the start, want NOT_STARTED", st)
	}
	mustOK(t, "mission start")(v.MissionStart(0, 0))
	if st := v.State().MissionState; st != 3 {
		t.Fatalf("mission state %d after the start, want ACTIVE", st)
	}
	var ev []Event
	var maxSpeedLeg5 float64
	s := runUntil(t, v, 10*time.Minute, &ev, func(s State) bool {
		if s.MissionCurrent == 5 && s.GroundSpeed > maxSpeedLeg5 {
			maxSpeedLeg5 = s.GroundSpeed
		}
		return !s.Armed
	})
	if got, want := reachedSeqs(ev), []uint16{1, 2, 3, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("MISSION_ITEM_REACHED %v, want %v", got, want)
	}
	if got, want := currentSeqs(ev), []uint16{1, 2, 3, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("MISSION_CURRENT %v, want %v", got, want)
	}
	tx := texts(ev)
	for _, want := range []string{"Mission: 1 Takeoff", "Reached command #2", "Reached command #3", "Mission: 4 ChangeSpeed", "Mission: 6 RTL", "Disarming motors"} {
		if !slices.Contains(tx, want) {
			t.Errorf("no STATUSTEXT %q in %q", want, tx)
		}
	}
	if maxSpeedLeg5 > 5.3 || maxSpeedLeg5 < 4 {
		t.Errorf("speed on the leg after DO_CHANGE_SPEED 5 m/s peaked at %.2f", maxSpeedLeg5)
	}
	if d := distFromHome(s); d > 1 || s.RelAlt > 0.05 || s.CustomMode != ModeAuto || s.LandedState != landedOnGround {
		t.Fatalf("end: %.2f m from home, alt %.2f, mode %d, landed %d; want landed at home in AUTO", d, s.RelAlt, s.CustomMode, s.LandedState)
	}
	if s.MissionState != 5 {
		t.Errorf("mission state %d at the end, want COMPLETE", s.MissionState)
	}
}

func TestDoJumpLoopCount(t *testing.T) {
	for _, repeat := range []float32{0, 1, 3} {
		v := newReady(t, Config{})
		items := []mavitem.Item{
			wp(0, mavitem.CmdNavWaypoint, 0, 0, 0),
			wp(1, mavitem.CmdNavTakeoff, 0, 0, 10),
			wp(2, mavitem.CmdNavWaypoint, 30, 0, 10),
			wp(3, mavitem.CmdNavWaypoint, 30, 30, 10),
			{Seq: 4, Command: mavitem.CmdDoJump, Param1: 2, Param2: repeat},
			wp(5, mavitem.CmdNavLand, 0, 0, 0),
		}
		if err := v.SetMission(items); err != nil {
			t.Fatal(err)
		}
		mustOK(t, "guided")(v.SetMode(ModeGuided))
		mustOK(t, "arm")(v.Arm(false))
		mustOK(t, "auto")(v.SetMode(ModeAuto))
		var ev []Event
		runUntil(t, v, 15*time.Minute, &ev, func(s State) bool { return !s.Armed })
		counts := map[uint16]int{}
		for _, s := range reachedSeqs(ev) {
			counts[s]++
		}
		passes := int(repeat) + 1
		if counts[2] != passes || counts[3] != passes || counts[1] != 1 || counts[5] != 1 {
			t.Errorf("repeat %v: reached counts %v, want items 2 and 3 %d times", repeat, counts, passes)
		}
	}
}

func TestMissionRoundTripNormalisedLikeArduPilot(t *testing.T) {
	v := newReady(t, Config{})
	up := squareMission()
	up[1].Z = 15.004 // stored in centimetres
	if err := v.SetMission(up); err != nil {
		t.Fatal(err)
	}
	down := v.Mission()
	if len(down) != len(up) || v.State().MissionCount != len(up) {
		t.Fatalf("downloaded %d items, count %d, uploaded %d", len(down), v.State().MissionCount, len(up))
	}
	home := v.State().Home
	if down[0].X != int32(math.Round(home.Lat*1e7)) || down[0].Frame != mavitem.FrameGlobal {
		t.Fatalf("seq 0 = %+v, want home %+v", down[0], home)
	}
	if down[1].Z != 15 {
		t.Errorf("takeoff alt %v, want 15 (cm resolution)", down[1].Z)
	}
	if down[6].Frame != mavitem.FrameGlobal {
		t.Errorf("RTL frame %d, want GLOBAL as ArduCopter downloads it", down[6].Frame)
	}
	for i := 2; i < len(up); i++ {
		u, d := up[i], down[i]
		if u.Command != d.Command || u.X != d.X || u.Y != d.Y || u.Param1 != d.Param1 || u.Param2 != d.Param2 {
			t.Errorf("item %d: up %+v down %+v", i, u, d)
		}
	}
	fence := polygonFence(0, 0, 100)
	if err := v.SetFence(fence); err != nil {
		t.Fatal(err)
	}
	if got := v.Fence(); len(got) != len(fence) || got[2].X != fence[2].X || got[0].Autocontinue != 0 {
		t.Fatalf("fence download %+v", got)
	}
	rally := []mavitem.Item{wp(0, mavitem.CmdNavRallyPoint, 100, 0, 30)}
	rally[0].MissionType = mavitem.TypeRally
	if err := v.SetRally(rally); err != nil {
		t.Fatal(err)
	}
	if got := v.Rally(); len(got) != 1 || got[0].X != rally[0].X {
		t.Fatalf("rally download %+v", got)
	}
	if p, _ := v.Param("RALLY_TOTAL"); p.Value != 1 {
		t.Errorf("RALLY_TOTAL %v", p.Value)
	}
	if err := v.SetMission(nil); err != nil {
		t.Fatal(err)
	}
	if n := len(v.Mission()); n != 1 {
		t.Fatalf("after clear: %d items, want home only", n)
	}
}

func TestValidateItem(t *testing.T) {
	v := New(Config{SystemID: 1, Home: testHome})
	good := wp(1, mavitem.CmdNavWaypoint, 10, 10, 20)
	nan := float32(math.NaN())
	mod := func(f func(*mavitem.Item)) mavitem.Item { it := good; f(&it); return it }
	tests := []struct {
		name string
		it   mavitem.Item
		want uint8
	}{
		{"waypoint ok", good, MissionAccepted},
		{"waypoint yaw NaN ok", mod(func(it *mavitem.Item) { it.Param4 = nan }), MissionAccepted},
		{"unknown command", mod(func(it *mavitem.Item) { it.Command = 31337 }), MissionUnsupported},
		{"local frame", mod(func(it *mavitem.Item) { it.Frame = 1 }), MissionUnsupportedFrame},
		{"body frame", mod(func(it *mavitem.Item) { it.Frame = 12 }), MissionUnsupportedFrame},
		{"latitude beyond 90", mod(func(it *mavitem.Item) { it.X = 950000000 }), MissionInvalidParam5X},
		{"longitude beyond 180", mod(func(it *mavitem.Item) { it.Y = -1850000000 }), MissionInvalidParam6Y},
		{"altitude NaN", mod(func(it *mavitem.Item) { it.Z = nan }), MissionInvalidParam7},
		{"hold NaN", mod(func(it *mavitem.Item) { it.Param1 = nan }), MissionInvalidParam1},
		{"hold negative", mod(func(it *mavitem.Item) { it.Param1 = -5 }), MissionInvalidParam1},
		{"jump repeat -2", mavitem.Item{Command: mavitem.CmdDoJump, Param1: 1, Param2: -2}, MissionInvalidParam2},
		{"rally ok", mavitem.Item{Command: mavitem.CmdNavRallyPoint, Frame: 3, X: 413123000, Y: 692716000, Z: 30, MissionType: mavitem.TypeRally}, MissionAccepted},
		{"waypoint in rally list", mod(func(it *mavitem.Item) { it.MissionType = mavitem.TypeRally }), MissionUnsupported},
		{"fence polygon of 2", mavitem.Item{Command: mavitem.CmdFencePolyInclusion, Param1: 2, X: 413123000, Y: 692716000, MissionType: mavitem.TypeFence}, MissionInvalidParam1},
		{"fence circle radius 0", mavitem.Item{Command: mavitem.CmdFenceCircleExclusion, Param1: 0, X: 413123000, Y: 692716000, MissionType: mavitem.TypeFence}, MissionInvalidParam1},
		{"fence circle bad frame", mavitem.Item{Command: mavitem.CmdFenceCircleInclusion, Param1: 50, Frame: 1, MissionType: mavitem.TypeFence}, MissionUnsupportedFrame},
		{"waypoint in fence list", mod(func(it *mavitem.Item) { it.MissionType = mavitem.TypeFence }), MissionUnsupported},
		{"unknown mission type", mod(func(it *mavitem.Item) { it.MissionType = 9 }), MissionInvalid},
	}
	for _, tc := range tests {
		if got := v.ValidateItem(tc.it); got != tc.want {
			t.Errorf("%s: ValidateItem = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestSetListsRefuseBadUploads(t *testing.T) {
	v := New(Config{SystemID: 1, Home: testHome})
	itemErr := func(err error) *ItemError {
		t.Helper()
		var ie *ItemError
		if !errors.As(err, &ie) {
			t.Fatalf("error %v is not an *ItemError", err)
		}
		return ie
	}
	m := squareMission()
	m[3].Seq = 9
	if ie := itemErr(v.SetMission(m)); ie.Result != MissionInvalidSequence || ie.Seq != 3 {
		t.Errorf("bad seq: %+v", ie)
	}
	m = squareMission()
	m[5].Frame = 1
	if ie := itemErr(v.SetMission(m)); ie.Result != MissionUnsupportedFrame || ie.Seq != 5 {
		t.Errorf("bad frame: %+v", ie)
	}
	big := make([]mavitem.Item, MaxMissionItems+1)
	for i := range big {
		big[i] = wp(uint16(i), mavitem.CmdNavWaypoint, 1, 1, 10)
	}
	if ie := itemErr(v.SetMission(big)); ie.Result != MissionNoSpace {
		t.Errorf("too long: %+v", ie)
	}
	f := polygonFence(0, 0, 100)
	f[2].Param1 = 5 // vertex count disagrees within one polygon
	if ie := itemErr(v.SetFence(f)); ie.Result != MissionInvalidParam1 {
		t.Errorf("inconsistent polygon: %+v", ie)
	}
	f = polygonFence(0, 0, 100)[:3] // says 4 vertices, has 3
	if ie := itemErr(v.SetFence(f)); ie.Result != MissionInvalidParam1 {
		t.Errorf("short polygon: %+v", ie)
	}
	if len(v.Mission()) != 1 || len(v.Fence()) != 0 {
		t.Fatal("a refused upload changed the stored lists")
	}
}

func TestSetMissionCurrent(t *testing.T) {
	v := newReady(t, Config{})
	if err := v.SetMission(squareMission()); err != nil {
		t.Fatal(err)
	}
	if r, _ := v.SetMissionCurrent(42); r != ResultDenied {
		t.Fatalf("seq beyond mission = %d, want denied", r)
	}
	mustOK(t, "set current 5")(v.SetMissionCurrent(5))
	if s := v.State(); s.MissionCurrent != 5 || s.MissionState != 2 {
		t.Fatalf("MissionCurrent %d state %d, want 5 NOT_STARTED", s.MissionCurrent, s.MissionState)
	}
	// Flying AUTO: a jump goes there at once.
	takeoff(t, v, 15)
	mustOK(t, "auto")(v.SetMode(ModeAuto)) // resumes at 5
	var ev []Event
	runUntil(t, v, 2*time.Minute, &ev, func(s State) bool { return s.MissionCurrent == 6 })
	if got := reachedSeqs(ev); !slices.Equal(got, []uint16{5}) {
		t.Fatalf("reached %v, want [5] (resumed at 5)", got)
	}
	mustOK(t, "set current 2")(v.SetMissionCurrent(2))
	if s := v.State(); s.MissionCurrent != 2 || s.CustomMode != ModeAuto {
		t.Fatalf("after jump: current %d mode %d", s.MissionCurrent, s.CustomMode)
	}
	mustOK(t, "guided")(v.SetMode(ModeGuided))
	if s := v.State(); s.MissionState != 4 || s.MissionCurrent != 2 {
		t.Fatalf("leaving AUTO: state %d current %d, want PAUSED at 2", s.MissionState, s.MissionCurrent)
	}
}

func TestMissionNavCommands(t *testing.T) {
	start := func(t *testing.T, items []mavitem.Item) *Vehicle {
		t.Helper()
		v := newReady(t, Config{})
		if err := v.SetMission(items); err != nil {
			t.Fatal(err)
		}
		mustOK(t, "guided")(v.SetMode(ModeGuided))
		mustOK(t, "arm")(v.Arm(false))
		mustOK(t, "start")(v.MissionStart(0, 0))
		return v
	}
	home := wp(0, mavitem.CmdNavWaypoint, 0, 0, 0)
	tko := wp(1, mavitem.CmdNavTakeoff, 0, 0, 10)

	t.Run("LOITER_TIME holds, then continues", func(t *testing.T) {
		lt := wp(2, mavitem.CmdNavLoiterTime, 30, 0, 10)
		lt.Param1 = 6
		v := start(t, []mavitem.Item{home, tko, lt, wp(3, mavitem.CmdNavWaypoint, 30, 30, 10)})
		var ev []Event
		runUntil(t, v, time.Minute, &ev, func(s State) bool { return distFromHome(s) > 28 })
		arrived := v.Now()
		runUntil(t, v, time.Minute, &ev, func(s State) bool { return s.MissionCurrent == 3 })
		if held := v.Now() - arrived; held < 5*time.Second || held > 8*time.Second {
			t.Errorf("held %v at the loiter point, want ≈6 s", held)
		}
		if !hasText(ev, "Reached command #2") {
			t.Errorf("texts %q", texts(ev))
		}
	})
	t.Run("end of mission loiters in AUTO", func(t *testing.T) {
		v := start(t, []mavitem.Item{home, tko, wp(2, mavitem.CmdNavWaypoint, 40, 0, 12)})
		var ev []Event
		runUntil(t, v, time.Minute, &ev, func(s State) bool { return slices.Contains(reachedSeqs(ev), 2) })
		v.Step(20 * time.Second)
		s := v.State()
		if !s.Armed || s.CustomMode != ModeAuto || s.RelAlt < 11 || math.Abs(distFromHome(s)-40) > 1 {
			t.Fatalf("after the last item: armed %v mode %d alt %.1f dist %.1f", s.Armed, s.CustomMode, s.RelAlt, distFromHome(s))
		}
	})
	t.Run("LOITER_UNLIM stays", func(t *testing.T) {
		v := start(t, []mavitem.Item{home, tko, wp(2, mavitem.CmdNavLoiterUnlim, 0, 40, 10), wp(3, mavitem.CmdNavLand, 0, 0, 0)})
		var ev []Event
		v.Step(3 * time.Minute)
		ev = append(ev, v.DrainEvents()...)
		if s := v.State(); s.MissionCurrent != 2 || !s.Armed || math.Abs(distFromHome(s)-40) > 1 {
			t.Fatalf("current %d armed %v dist %.1f", s.MissionCurrent, s.Armed, distFromHome(s))
		}
		if got := reachedSeqs(ev); !slices.Equal(got, []uint16{1, 2}) {
			t.Fatalf("reached %v", got)
		}
		// The operator moves on: the LAND item lands where it is.
		mustOK(t, "set current 3")(v.SetMissionCurrent(3))
		s := runUntil(t, v, time.Minute, nil, func(s State) bool { return !s.Armed })
		if math.Abs(distFromHome(s)-40) > 1 {
			t.Fatalf("landed %.1f m from home, want at the loiter point", distFromHome(s))
		}
	})
	t.Run("NAV_LAND at a position", func(t *testing.T) {
		v := start(t, []mavitem.Item{home, tko, wp(2, mavitem.CmdNavLand, -50, 20, 0)})
		var ev []Event
		s := runUntil(t, v, 2*time.Minute, &ev, func(s State) bool { return !s.Armed })
		if d := distFromHome(s); math.Abs(d-math.Hypot(50, 20)) > 1.5 {
			t.Fatalf("landed %.1f m from home", d)
		}
		if got := reachedSeqs(ev); !slices.Equal(got, []uint16{1, 2}) {
			t.Fatalf("reached %v", got)
		}
	})
	t.Run("LOITER_TURNS and NAV_DELAY complete", func(t *testing.T) {
		turns := wp(2, cmdNavLoiterTurns, 20, 0, 10)
		turns.Param1, turns.Param3 = 1, 8
		delay := mavitem.Item{Seq: 3, Command: cmdNavDelay, Param1: 4}
		v := start(t, []mavitem.Item{home, tko, turns, delay, {Seq: 4, Command: mavitem.CmdNavReturnToLaunch}})
		var ev []Event
		runUntil(t, v, 3*time.Minute, &ev, func(s State) bool { return !s.Armed })
		if got := reachedSeqs(ev); !slices.Equal(got, []uint16{1, 2, 3, 4}) {
			t.Fatalf("reached %v", got)
		}
	})
}
