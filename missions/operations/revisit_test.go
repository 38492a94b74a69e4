package operations

import (
	"math"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// The revisit age is that of the points along the legs, not only of the
// waypoints: a drone that fails part way along the loop's long closing
// leg leaves the rest of that leg unwatched until its relief comes round
// to it, a lap after the relief came on station, while every waypoint
// is revisited within about a lap. Kept per waypoint, the slot read
// 240 s; the far part of the leg went 455 s.
func TestRevisitAgeOfThePointsAlongTheLegs(t *testing.T) {
	w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	o := newOp(1, 3, w)
	f := newFrame(homeLat, homeLon)
	// A 200 m × 1000 m loop 500 m north of the pad: items 3–6, the DO_JUMP
	// at 7; the closing leg 6→3 runs 1000 m south.
	loop := []p3{{0, 500, 50}, {200, 500, 50}, {200, 1500, 50}, {0, 1500, 50}}
	cum := []float64{0, 200, 1200, 1400, 2400}
	wp := func(q p3) mavitem.Item {
		ll := f.ll(q)
		return mavitem.Item{Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavWaypoint, X: int32(math.Round(ll[1] * 1e7)), Y: int32(math.Round(ll[0] * 1e7)), Z: 50}
	}
	dp := o.Plans[0].Plan
	dp.Mission = nil
	for _, q := range append([]p3{{0, 100, 50}, {0, 300, 50}}, loop...) {
		dp.Mission = append(dp.Mission, wp(q))
	}
	dp.Mission = append(dp.Mission, mavitem.Item{Frame: mavitem.FrameMission, Command: mavitem.CmdDoJump, Param1: 3})
	dp.LoopStart, dp.JumpSeq = 3, 7
	// place puts id s metres along the loop (past item 3), flying to the
	// next waypoint.
	place := func(id string, s float64) {
		s = math.Mod(s, cum[4])
		k := 0
		for s >= cum[k+1] {
			k++
		}
		a, b := loop[k], loop[(k+1)%4]
		r := (s - cum[k]) / (cum[k+1] - cum[k])
		ll := f.ll(p3{a.x + r*(b.x-a.x), a.y + r*(b.y-a.y), 50})
		set(w, id, func(v *fleet.Vehicle) {
			v.Armed, v.Mode, v.LandedState, v.RelativeAlt, v.Lat, v.Lon = true, "AUTO", "in_air", 50, ll[1], ll[0]
			v.MissionSeq = 3 + (k+1)%4 // item 3 again on the closing leg
		})
	}
	step := func() ([]Action, []Note) { return o.Step(w.wall, w.look) }

	w.wall = o.Start.Add(-time.Minute)
	a, _ := step()
	if got := acts(a, ActLaunch); len(got) != 1 {
		t.Fatalf("launched %v", got)
	}
	first := acts(a, ActLaunch)[0]
	o.LaunchDone(first, true, nil, w.wall)
	// On station 10 m along the loop 5 s before the window, then 10 m/s.
	w.wall = o.Start.Add(-5 * time.Second)
	onAt := w.wall
	s := 10.0
	place(first, s)
	step()
	if o.vehicle(first).Role != RoleStation {
		t.Fatalf("%s is %s, want on station", first, o.vehicle(first).Role)
	}
	// Around once, then 100 m into the closing leg: it fails there.
	for s < cum[4]+cum[3]+100 {
		w.wall, s = w.wall.Add(5*time.Second), s+50
		place(first, s)
		step()
	}
	set(w, first, func(v *fleet.Vehicle) { v.Mode = "LAND" })
	w.wall = w.wall.Add(5 * time.Second)
	a, _ = step()
	relief := acts(a, ActLaunch)
	if o.vehicle(first).Role != RoleFailed || len(relief) != 1 {
		t.Fatalf("%s is %s, launches %v: want it failed and a relief", first, o.vehicle(first).Role, relief)
	}
	o.LaunchDone(relief[0], true, nil, w.wall)
	set(w, relief[0], func(v *fleet.Vehicle) { v.Armed, v.Mode, v.LandedState, v.MissionSeq = true, "AUTO", "in_air", 1 })
	for i := 0; i < 12; i++ { // a minute's transit
		w.wall = w.wall.Add(5 * time.Second)
		step()
	}
	// The relief comes on station 10 m along the loop and laps twice.
	tB := w.wall.Add(5 * time.Second)
	for s = 10; s < 2*cum[4]+10; s += 50 {
		w.wall = w.wall.Add(5 * time.Second)
		place(relief[0], s)
		step()
	}
	if o.vehicle(relief[0]).Role != RoleStation {
		t.Fatalf("relief %s is %s", relief[0], o.vehicle(relief[0]).Role)
	}
	// The closing leg's far part was passed last at ~onAt+150 s by the
	// first drone (counted from the window's start), next by the relief
	// at tB plus the same 150 s.
	want := tB.Sub(maxTime(onAt, o.Start)).Seconds()
	got := o.Slots[0].MaxRevisitS
	t.Logf("max revisit %.0f s, want %.0f s; per waypoint %v", got, want, o.Slots[0].Visits)
	if math.Abs(got-want) > 10 {
		t.Fatalf("max revisit %.0f s, want %.0f s (±10 s: a tick either side)", got, want)
	}
}
