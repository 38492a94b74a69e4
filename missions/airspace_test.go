package missions

import (
	"os"
	"strings"
	"testing"

	"github.com/burgut-uav/burgut/fleet/separation"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/paulmach/orb"
)

// Geometric fixtures for plan-time separation: a 1 km square band
// [20, 120] m around c, drones flying hand-made missions given in metres
// east/north of c, so each test says exactly where and how high a drone
// flies.

var sepCenter = orb.Point{69.25, 41.3}

func sepArea() *Area {
	ll := func(x, y float64) orb.Point { return metresToLL(sepCenter, x, y) }
	return &Area{Name: "sep", MinAlt: 20, MaxAlt: 120,
		Include: []orb.Polygon{{{ll(-500, -500), ll(500, -500), ll(500, 500), ll(-500, 500), ll(-500, -500)}}},
		Launch:  []Site{{Name: "pad", Point: ll(-450, -450)}}}
}

// xyz is a waypoint in metres east and north of sepCenter, z above launch.
type xyz struct{ x, y, z float64 }

// handPlanAt flies from home (hx, hy metres) up to the first waypoint's
// altitude, through the waypoints, and RTLs (rtl) or lands at the last.
// Area, fence and battery rules are not the point: callers look at
// separation only.
func handPlanAt(drone int, hx, hy float64, rtl bool, wps ...xyz) *DronePlan {
	h := metresToLL(sepCenter, hx, hy)
	dp := &DronePlan{Drone: drone, Alt: wps[0].z, Speed: 10}
	dp.Home = Home{Lat: h[1], Lon: h[0]}
	dp.Launch = Site{Point: h}
	dp.Mission = append(dp.Mission, mavitem.Item{Command: mavitem.CmdNavTakeoff, Frame: mavitem.FrameGlobalRelativeAlt, Z: float32(wps[0].z)})
	for i, w := range wps {
		p := metresToLL(sepCenter, w.x, w.y)
		cmd := mavitem.CmdNavWaypoint
		if !rtl && i == len(wps)-1 {
			cmd = mavitem.CmdNavLand
		}
		dp.Mission = append(dp.Mission, mavitem.Item{Command: cmd, Frame: mavitem.FrameGlobalRelativeAlt, X: e7(p[1]), Y: e7(p[0]), Z: float32(w.z)})
	}
	if rtl {
		dp.Mission = append(dp.Mission, mavitem.Item{Command: mavitem.CmdNavReturnToLaunch})
		dp.Transit = []uint16{2} // from the pad to the first waypoint
	}
	for i := range dp.Mission {
		dp.Mission[i].Seq = uint16(i + 1)
	}
	return dp
}

// handPlan takes off at its first waypoint, flies the waypoints and lands
// at the last: nothing but the legs drawn. Legs: 0 the takeoff, 1 (empty)
// to the first waypoint, 2 from the first to the second, …
func handPlan(drone int, wps ...xyz) *DronePlan {
	wps = append(wps, wps[len(wps)-1])
	return handPlanAt(drone, wps[0].x, wps[0].y, false, wps...)
}

func separations(vs []Violation) []Violation {
	var out []Violation
	for _, v := range vs {
		if v.Rule == RuleSeparation {
			out = append(out, v)
		}
	}
	return out
}

func sepCheck(plans ...*DronePlan) []Violation {
	return separations(Check(sepArea(), plans, CheckOptions{Endurance: 1e6}))
}

// Two patrols crossing each other on layers 5 m apart conflict where they
// cross; 10 m apart (the layer step) and more they are separated.
func TestSeparationBetweenLayers(t *testing.T) {
	ew := handPlan(0, xyz{-300, 0, 50}, xyz{300, 0, 50})
	for _, c := range []struct {
		z    float64
		want bool
	}{{50, true}, {55, true}, {59.5, true}, {60, false}, {70, false}, {40, false}, {45.5, true}} {
		ns := handPlan(1, xyz{0, -300, c.z}, xyz{0, 300, c.z})
		vs := sepCheck(ew, ns)
		if !c.want {
			if len(vs) != 0 {
				t.Errorf("layers 50 and %g m: separated, got %v", c.z, vs)
			}
			continue
		}
		if len(vs) != 1 {
			t.Fatalf("layers 50 and %g m cross: want one separation violation, got %v", c.z, vs)
		}
		v := vs[0]
		if v.Drone != 0 || v.Leg != 2 || v.Seq != 3 || v.Other == nil || v.Other.Drone != 1 || v.Other.Leg != 2 || v.Other.Seq != 3 || v.Other.Plan != "" ||
			!strings.Contains(v.Message, "within 0.0 m horizontally of drone 1 leg 2 (to item 3) while less than 10 m apart vertically") || !strings.Contains(v.Message, "drone 1 leg 2") {
			t.Errorf("layers 50 and %g m: %+v %+v", c.z, v, v.Other)
		}
	}
	// Parallel on one layer: 32 m apart is separated, 28 m is not (the
	// monitor's 30 m warning distance).
	near := handPlan(1, xyz{-300, 28, 50}, xyz{300, 28, 50})
	far := handPlan(1, xyz{-300, 32, 50}, xyz{300, 32, 50})
	if vs := sepCheck(ew, near); len(vs) != 1 || !strings.Contains(vs[0].Message, "within 28.0 m horizontally") {
		t.Errorf("28 m apart on one layer: %v", vs)
	}
	if vs := sepCheck(ew, far); len(vs) != 0 {
		t.Errorf("32 m apart: %v", vs)
	}
}

// The planner and the live separation monitor agree: two drones' legs on
// one layer 15 m apart (half the monitor's warning distance) would warn in
// flight whenever the drones pass abreast, so the plan is refused, naming
// both legs and the monitor's minimum; the same legs just beyond the
// warning distance, or a layer step apart, pass. Before, the planner's own
// 10 m let them through.
func TestSameLayerLegsKeepTheMonitorsWarningDistance(t *testing.T) {
	mon := separation.DefaultConfig()
	if DefaultSeparation != mon.Warn || mon.WarnVertical >= DefaultLayerStep {
		t.Fatalf("planner minima %g m / %g m, monitor's warning %g m / %g m: the planner must keep at least the monitor's", DefaultSeparation, DefaultLayerStep, mon.Warn, mon.WarnVertical)
	}
	a := handPlan(0, xyz{-300, 0, 50}, xyz{300, 0, 50})
	at := func(y, z float64) *DronePlan { return handPlan(1, xyz{-300, y, z}, xyz{300, y, z}) }
	vs := sepCheck(a, at(mon.Warn/2, 50))
	if len(vs) != 1 {
		t.Fatalf("legs %g m apart on one layer: want one separation violation, got %v", mon.Warn/2, vs)
	}
	v := vs[0]
	// Leg 1 is the first level piece (the empty leg at the first
	// waypoint, where both have climbed to 50 m); the message names it.
	if v.Drone != 0 || v.Leg != 1 || v.Other == nil || v.Other.Drone != 1 || v.Other.Leg != 1 ||
		!strings.Contains(v.String(), "drone 0 leg 1 (to item 2)") || !strings.Contains(v.Message, "comes within 15.0 m horizontally of drone 1 leg 1 (to item 2)") ||
		!strings.Contains(v.Message, "(at 50 m vs at 50 m); minimum 30 m horizontally") {
		t.Errorf("violation %q %+v: want drone 0 leg 1 against drone 1 leg 1, 15.0 m at 50 m, minimum 30 m", v.String(), v.Other)
	}
	if vs := sepCheck(a, at(mon.Warn+1, 50)); len(vs) != 0 {
		t.Errorf("legs %g m apart on one layer: %v", mon.Warn+1, vs)
	}
	if vs := sepCheck(a, at(mon.Warn/2, 50+DefaultLayerStep)); len(vs) != 0 {
		t.Errorf("legs %g m apart a layer step above: %v", mon.Warn/2, vs)
	}
}

// A transit that climbs from 40 m to 80 m right under another drone's
// patrol at 60 m passes through it: a violation on the climbing leg. The
// same climb 30 m beside the patrol is clear, and so is flying under it
// level 20 m below.
func TestSeparationClimbThroughAnotherLayer(t *testing.T) {
	patrol := handPlan(0, xyz{-300, 0, 60}, xyz{300, 0, 60})
	climb := handPlan(1, xyz{100, -200, 40}, xyz{100, 0, 40}, xyz{100, 0, 80}, xyz{100, 200, 80})
	vs := sepCheck(patrol, climb)
	if len(vs) != 1 {
		t.Fatalf("climb through the patrol: want 1 violation, got %v", vs)
	}
	// Reported on drone 0 (the lower number) against drone 1's climb, leg 3.
	if v := vs[0]; v.Drone != 0 || v.Leg != 2 || v.Other == nil || v.Other.Drone != 1 || v.Other.Leg != 3 || !strings.Contains(v.Message, "at 60 m vs climbing 40→80 m") {
		t.Errorf("climb: %+v %+v", v, v.Other)
	}
	// A slanted climb along the patrol's track, crossing its layer while
	// moving: caught too.
	slant := handPlan(1, xyz{200, -200, 40}, xyz{100, 0, 40}, xyz{-100, 0, 80}, xyz{-100, 200, 80})
	if vs := sepCheck(patrol, slant); len(vs) != 1 || vs[0].Other.Leg != 3 {
		t.Errorf("slanted climb along the patrol: %v", vs)
	}
	beside := handPlan(1, xyz{100, -200, 40}, xyz{100, -30, 40}, xyz{100, -30, 80}, xyz{300, -30, 80})
	if vs := sepCheck(patrol, beside); len(vs) != 0 {
		t.Errorf("climb 30 m beside the patrol: %v", vs)
	}
	under := handPlan(1, xyz{100, -200, 40}, xyz{100, 200, 40})
	if vs := sepCheck(patrol, under); len(vs) != 0 {
		t.Errorf("level 20 m under the patrol: %v", vs)
	}
}

// Drones sharing a launch pad climb through each other's layers there:
// sequenced in time, not a conflict. A patrol passing over someone's pad
// is one; so is an RTL whose climb to the transit layer crosses another
// drone's patrol layer where that patrol passes.
func TestSeparationAtThePadAndOnReturn(t *testing.T) {
	a := handPlanAt(0, -450, -450, true, xyz{-300, -300, 50}, xyz{300, -300, 50})
	b := handPlanAt(1, -450, -450, true, xyz{-300, 300, 70}, xyz{300, 300, 70})
	if vs := sepCheck(a, b); len(vs) != 0 {
		t.Errorf("shared pad: %v", vs)
	}
	over := handPlan(0, xyz{-400, -450, 50}, xyz{400, -450, 50})
	other := handPlan(1, xyz{0, -450, 70}, xyz{0, -200, 70})
	if vs := sepCheck(over, other); len(vs) != 1 || !strings.Contains(vs[0].Message, "at 50 m vs climbing 0→70 m") {
		t.Errorf("a patrol over another drone's pad: %v", vs)
	}
	// RTL from (300, 0) at 40 m climbs to the 80 m transit layer there,
	// through drone 1's 60 m patrol crossing that point.
	ret := handPlanAt(0, -450, -450, true, xyz{-300, 0, 40}, xyz{300, 0, 40})
	ret.TransitAlt = 80
	cross := handPlan(1, xyz{300, -300, 60}, xyz{300, 300, 60})
	vs := sepCheck(ret, cross)
	if len(vs) != 1 || vs[0].Drone != 0 || vs[0].Leg != 3 || !strings.Contains(vs[0].Message, "climbing 40→80 m vs at 60 m") {
		t.Errorf("RTL climb through a patrol: %v", vs)
	}
	ret.TransitAlt = 0 // RTL at 40 m: under the patrol
	if vs := sepCheck(ret, cross); len(vs) != 0 {
		t.Errorf("RTL at 40 m: %v", vs)
	}
}

// CheckAgainst names the other plan set; plans far apart, or on layers
// apart, pass.
func TestCheckAgainstOtherPlanSets(t *testing.T) {
	mine := []*DronePlan{handPlan(0, xyz{-300, 0, 50}, xyz{300, 0, 50}), handPlan(1, xyz{-300, 200, 60}, xyz{300, 200, 60})}
	theirs := []*DronePlan{handPlan(0, xyz{0, -300, 60}, xyz{0, 300, 60})}
	// theirs crosses mine[0] 10 m above it (separated) and mine[1] in its
	// layer at (0, 200).
	vs := CheckAgainst(sepArea(), mine, []PlanSet{{Label: "operation op7", Plans: theirs}}, CheckOptions{})
	if len(vs) != 1 || vs[0].Drone != 1 || vs[0].Other == nil || vs[0].Other.Plan != "operation op7" || vs[0].Other.Drone != 0 ||
		!strings.Contains(vs[0].Message, "of operation op7") {
		t.Fatalf("against op7: %v", vs)
	}
	far := []*DronePlan{handPlan(0, xyz{450, -300, 60}, xyz{450, 300, 60})}
	if vs := CheckAgainst(sepArea(), mine, []PlanSet{{Label: "operation op8", Plans: far}}, CheckOptions{}); len(vs) != 0 {
		t.Errorf("far apart: %v", vs)
	}
	// Violations among mine are Check's business, not CheckAgainst's.
	same := []*DronePlan{mine[0], handPlan(1, xyz{0, -300, 50}, xyz{0, 300, 50})}
	if vs := CheckAgainst(sepArea(), same, []PlanSet{{Label: "operation op8", Plans: far}}, CheckOptions{}); len(vs) != 0 {
		t.Errorf("own conflicts reported: %v", vs)
	}
}

// closest3 against brute force over a grid of point pairs.
func TestClosest3MatchesBruteForce(t *testing.T) {
	cases := []struct{ s, t piece }{
		{piece{a: orb.Point{0, 0}, b: orb.Point{100, 0}, za: 50, zb: 50}, piece{a: orb.Point{50, -50}, b: orb.Point{50, 50}, za: 40, zb: 80}},
		{piece{a: orb.Point{0, 0}, b: orb.Point{100, 0}, za: 30, zb: 70}, piece{a: orb.Point{0, 10}, b: orb.Point{100, 10}, za: 70, zb: 30}},
		{piece{a: orb.Point{0, 0}, b: orb.Point{0, 0}, za: 0, zb: 60}, piece{a: orb.Point{-20, 7}, b: orb.Point{20, 7}, za: 55, zb: 55}},
		{piece{a: orb.Point{0, 0}, b: orb.Point{100, 100}, za: 50, zb: 52}, piece{a: orb.Point{0, 30}, b: orb.Point{100, 130}, za: 58, zb: 66}},
		{piece{a: orb.Point{0, 0}, b: orb.Point{100, 0}, za: 50, zb: 50}, piece{a: orb.Point{0, 5}, b: orb.Point{100, 5}, za: 60, zb: 60}},
	}
	const n = 400
	for i, c := range cases {
		best := -1.0
		for a := 0; a <= n; a++ {
			for b := 0; b <= n; b++ {
				sa, tb := float64(a)/n, float64(b)/n
				p := lerp(c.s.a, c.s.b, sa)
				q := lerp(c.t.a, c.t.b, tb)
				zp, zq := c.s.za+sa*(c.s.zb-c.s.za), c.t.za+tb*(c.t.zb-c.t.za)
				if zp-zq < 10-1e-6 && zq-zp < 10-1e-6 {
					d := mdist(p, q)
					if best < 0 || d < best {
						best = d
					}
				}
			}
		}
		dh, _, ok := closest3(c.s, c.t, 10)
		if ok != (best >= 0) {
			t.Errorf("case %d: ok %v, brute force found pairs: %v", i, ok, best >= 0)
			continue
		}
		// The grid is 0.25 % of the legs: the exact answer is at most the
		// grid's and not much below it.
		if ok && (dh > best+1e-9 || dh < best-1) {
			t.Errorf("case %d: closest3 %.3f m, brute force %.3f m", i, dh, best)
		}
	}
}

// BenchmarkSeparation10Drones: the 3D separation rule over 10 sweep plans
// of the 5 km² bench area, every pair of drones judged (10 layers over the
// band, all from one pad); and against another plan set of 10.
func BenchmarkSeparation10Drones(b *testing.B) {
	a := benchArea(b)
	plans, err := PlanArea(a, PlanOptions{Pattern: PatternSweep, Drones: 10, Spacing: 40, Alt: 70})
	if err != nil {
		b.Fatal(err)
	}
	c := NewChecker(a, CheckOptions{})
	legs := make([][]Leg, len(plans))
	n := 0
	for i, dp := range plans {
		legs[i] = dp.Legs()
		n += len(legs[i])
	}
	others, err := PlanArea(a, PlanOptions{Pattern: PatternSweep, Drones: 10, Spacing: 40, Alt: 75})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("within", func(b *testing.B) {
		for b.Loop() {
			c.separation(plans, legs)
		}
		b.ReportMetric(float64(n), "legs")
	})
	b.Run("against", func(b *testing.B) {
		var vs []Violation
		for b.Loop() {
			vs = c.CheckAgainst(plans, []PlanSet{{Label: "other", Plans: others}})
		}
		b.ReportMetric(float64(len(vs)), "conflicts")
	})
}

// A loop that repeats forever is never left by the mission: its own way
// home after the DO_JUMP (the climb to the transit layer, the RTL) is
// never flown, and separation does not judge it. On the stadium of the
// scenario library with its transit layer the planner's plans were
// refused for one slot's unflown climb (55→85 m) standing on another's
// unflown way home at 85 m (the operation then fell back to planning
// without the layer); they pass now. The same plans looping a finite
// number of times fly that way home and are still refused for it.
func TestSeparationSkipsTheWayHomeAfterAForeverLoop(t *testing.T) {
	fh, err := os.Open("../scenarios/areas/stadium.geojson")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	a, err := ImportGeoJSON(fh)
	if err != nil {
		t.Fatal(err)
	}
	o := PlanOptions{Pattern: PatternPerimeter, Drones: 3, Repeat: -1, Speed: 6, EntryHold: true, TransitLayer: true}
	plans, eff := mustPlan(t, a, o)
	if plans[0].TransitAlt <= 0 {
		t.Fatalf("no transit layer planned: %v", plans[0].TransitAlt)
	}
	if vs := Check(a, plans, eff.CheckOptions(CheckOptions{})); len(vs) != 0 {
		t.Errorf("forever loop: %d violations, first %s", len(vs), vs[0])
	}
	// Judged against another set (another operation's slots), the unflown
	// way home is left out too: each slot against the others moved to a
	// set of their own finds nothing either.
	for i := range plans {
		var rest []*DronePlan
		for j, dp := range plans {
			if j != i {
				rest = append(rest, dp)
			}
		}
		if vs := CheckAgainst(a, plans[i:i+1], []PlanSet{{Label: "others", Plans: rest}}, eff.CheckOptions(CheckOptions{})); len(vs) != 0 {
			t.Errorf("slot %d against the others: %s", i, vs[0])
		}
	}

	o.Repeat = 2
	finite, eff := mustPlan(t, a, o)
	vs := Check(a, finite, eff.CheckOptions(CheckOptions{}))
	past := 0
	for _, v := range vs {
		if v.Rule != RuleSeparation || v.Other == nil {
			continue
		}
		if v.Seq > finite[v.Drone].JumpSeq || v.Other.Seq > finite[v.Other.Drone].JumpSeq {
			past++
		}
	}
	if past == 0 {
		t.Errorf("finite loop: no separation violation past the jump, want the way home judged (violations %v)", vs)
	}
}
