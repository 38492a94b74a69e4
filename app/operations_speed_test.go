package app

import (
	"math"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/latlon"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/missions"
	"github.com/burgut-uav/burgut/missions/operations"
)

// A drone braked to yield and sent on with its mission (Resume) flies at
// the plan's speed again, not at WPNAV_SPEED: entering AUTO resets the
// speed, and the plan's DO_CHANGE_SPEED lies before the loop, so it is
// not flown again. In the stadium scenario a relief braked on its way
// out flew its slot's loop at 10 m/s against the plan's 6 and came
// within 0.4 m of the incumbent ahead of it on the same loop.
func TestOperationsResumeKeepsThePlansSpeed(t *testing.T) {
	a, areaID, ids := opsFleet(t, 1, nil)
	id := ids[0]
	ctx := t.Context()
	home, _ := latlon.Parse(opsHome, "")
	const speed = 5.0
	e7 := func(deg float64) int32 { return int32(math.Round(deg * 1e7)) }
	// Far enough north (3 km) that it is still on its way at the end.
	far := home.Lat + 3000/111320.0
	plan := &missions.DronePlan{Plan: missions.Plan{
		Home: missions.Home{Lat: home.Lat, Lon: home.Lon},
		Mission: []mavitem.Item{
			{Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavTakeoff, X: e7(home.Lat), Y: e7(home.Lon), Z: 30, Autocontinue: 1},
			{Frame: mavitem.FrameMission, Command: mavitem.CmdDoChangeSpeed, Param1: 1, Param2: speed, Param3: -1, Autocontinue: 1},
			{Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavWaypoint, X: e7(far), Y: e7(home.Lon), Z: 30, Autocontinue: 1},
		},
		CruiseSpeed: speed,
	}}
	act := operationsActuator{a}
	if err := act.Launch(ctx, id, plan, true, 0, operations.Tag{Mission: "op/slot-0", EventArea: areaID}); err != nil {
		t.Fatal(err)
	}
	// northOf is how far north of home the drone is, in metres.
	northOf := func() float64 {
		v, _ := a.Fleet.Get(id)
		return (v.Lat - home.Lat) * 111320
	}
	// Well on its way (200 m), flying the plan's speed.
	testenv.Eventually(t, 120*time.Second, "on its way at the plan's speed", func() bool {
		v, _ := a.Fleet.Get(id)
		return v.Mode == "AUTO" && v.MissionSeq == 3 && northOf() > 200
	})
	if v, _ := a.Fleet.Get(id); math.Abs(v.GroundSpeed-speed) > 1 {
		t.Fatalf("flying at %.1f m/s before the brake, want the plan's %.0f", v.GroundSpeed, speed)
	}
	if err := act.Hold(ctx, id); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, "braked", func() bool {
		v, _ := a.Fleet.Get(id)
		return v.Mode == "BRAKE" && v.GroundSpeed < 0.5
	})
	braked := northOf()
	if err := act.Resume(ctx, id, plan.CruiseSpeed); err != nil {
		t.Fatal(err)
	}
	// 150 m on from the brake: long past its acceleration at either speed.
	testenv.Eventually(t, 120*time.Second, "on its way again", func() bool {
		v, _ := a.Fleet.Get(id)
		return v.Mode == "AUTO" && northOf() > braked+150
	})
	v, _ := a.Fleet.Get(id)
	t.Logf("resumed: %.1f m/s at %.0f m north of home (braked at %.0f m)", v.GroundSpeed, northOf(), braked)
	if math.Abs(v.GroundSpeed-speed) > 1 {
		t.Fatalf("flying at %.1f m/s after the resume, want the plan's %.0f (WPNAV_SPEED is 10)", v.GroundSpeed, speed)
	}
}
