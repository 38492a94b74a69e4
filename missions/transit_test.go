package missions

import (
	"strings"
	"testing"

	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/paulmach/orb"
)

// transitArea is a 400 m square (band [30, 100] m) with a launch pad 100 m
// west of it and, when stage, a no-fly circle in its middle.
func transitArea(stage bool) *Area {
	ll := func(x, y float64) orb.Point { return metresToLL(sepCenter, x, y) }
	a := &Area{Name: "transit", MinAlt: 30, MaxAlt: 100,
		Include: []orb.Polygon{{{ll(-200, -200), ll(200, -200), ll(200, 200), ll(-200, 200), ll(-200, -200)}}},
		Launch:  []Site{{Name: "pad", Point: ll(-300, 0)}}}
	if stage {
		a.NoFly = []NoFly{{Name: "stage", Center: ll(0, 0), Radius: 40}}
	}
	return a
}

// With a transit layer every drone takes off to it, flies its transit in
// it, descends to its patrol layer over the patrol's first waypoint, and
// climbs back where the patrol ends; RTL_ALT is set to it; the plans pass
// every check, the 3D separation included.
func TestTransitLayerPlans(t *testing.T) {
	a := transitArea(false)
	o := PlanOptions{Pattern: PatternPerimeter, Drones: 3, Alt: 50, Repeat: -1, TransitLayer: true}
	eff, err := o.Effective(a)
	if err != nil {
		t.Fatal(err)
	}
	if eff.TransitAlt != 70 { // layers 50, 60, 40: 10 m above the highest
		t.Fatalf("transit alt %g, want 70", eff.TransitAlt)
	}
	plans, err := PlanArea(a, o)
	if err != nil {
		t.Fatal(err)
	}
	if vs := Check(a, plans, eff.CheckOptions(CheckOptions{})); len(vs) != 0 {
		t.Fatalf("violations: %v", vs)
	}
	for _, dp := range plans {
		if dp.TransitAlt != 70 {
			t.Errorf("drone %d: transit alt %g", dp.Drone, dp.TransitAlt)
		}
		rtl := false
		for _, p := range dp.FenceParams {
			rtl = rtl || p.Name == "RTL_ALT" && p.Value == 7000
		}
		if !rtl {
			t.Errorf("drone %d: no RTL_ALT 7000 in %v", dp.Drone, dp.FenceParams)
		}
		items := dp.MissionWithHome()
		if items[1].Command != mavitem.CmdNavTakeoff || items[1].Z != 70 {
			t.Errorf("drone %d: takeoff %+v", dp.Drone, items[1])
		}
		ls := dp.LoopStart
		above, first := items[ls-1], items[ls]
		if above.Z != 70 || first.Z != float32(dp.Alt) || above.X != first.X || above.Y != first.Y {
			t.Errorf("drone %d: does not descend from the transit layer over the patrol's start: %+v then %+v", dp.Drone, above, first)
		}
		for _, l := range dp.Legs() {
			switch {
			case l.ToSeq < ls-1 && l.ToSeq > 1 && l.Alt != 70:
				t.Errorf("drone %d: transit leg to item %d at %g m", dp.Drone, l.ToSeq, l.Alt)
			case l.ToSeq > ls && l.ToSeq <= dp.JumpSeq && (l.Alt != dp.Alt || l.FromAlt != dp.Alt):
				t.Errorf("drone %d: patrol leg to item %d at %g→%g m, layer %g", dp.Drone, l.ToSeq, l.FromAlt, l.Alt, dp.Alt)
			case l.ToSeq > dp.JumpSeq && l.Alt != 70:
				t.Errorf("drone %d: way home to item %d at %g m", dp.Drone, l.ToSeq, l.Alt)
			}
		}
		// The checker sees the transit: moving one transit waypoint above
		// the band is an altitude violation.
		bad := *dp
		bad.Mission = append([]mavitem.Item(nil), dp.Mission...)
		bad.Mission[ls-2].Z = 150
		if vs := Check(a, []*DronePlan{&bad}, eff.CheckOptions(CheckOptions{})); len(vs) == 0 || vs[0].Rule != RuleAltitude {
			t.Errorf("drone %d: transit above the band not caught: %v", dp.Drone, vs)
		}
	}
	// No room above the highest patrol layer: a clear error naming the field.
	_, err = PlanArea(a, PlanOptions{Pattern: PatternPerimeter, Drones: 3, Alt: 90, TransitLayer: true})
	if err == nil || !strings.Contains(err.Error(), "transit_alt") {
		t.Errorf("no room for the transit layer: %v", err)
	}
	_, err = PlanArea(a, PlanOptions{Pattern: PatternPerimeter, Drones: 3, Alt: 50, TransitAlt: 65})
	if err == nil || !strings.Contains(err.Error(), "transit_alt 65") {
		t.Errorf("transit alt inside the patrol layers: %v", err)
	}
}

// An RTL from the patrol flies straight home: with a no-fly zone between
// the far side of a perimeter and the pad, the return rule names it (the
// mission's own way home goes around it, RTL does not).
func TestTransitLayerReturnRule(t *testing.T) {
	a := transitArea(true)
	o := PlanOptions{Pattern: PatternPerimeter, Drones: 1, Alt: 50, Repeat: -1, TransitLayer: true}
	plans, eff := mustPlan(t, a, o)
	vs := Check(a, plans, eff.CheckOptions(CheckOptions{}))
	found := false
	for _, v := range vs {
		switch {
		case v.Rule == RuleReturn && strings.Contains(v.Message, `no-fly zone "stage"`):
			found = true
		case v.Rule == RuleReturn && strings.Contains(v.Message, "fence"): // the stage is an exclusion of the fence too
		default:
			t.Errorf("unexpected violation: %v", v)
		}
	}
	if !found {
		t.Errorf("RTL through the stage not reported: %v", vs)
	}
	// The same plan without its transit layer is not sent home by RTL
	// from the patrol: no return rule.
	plain, err := PlanArea(a, PlanOptions{Pattern: PatternPerimeter, Drones: 1, Alt: 50, Repeat: -1})
	if err != nil {
		t.Fatal(err)
	}
	if vs := Check(a, plain, eff.CheckOptions(CheckOptions{})); len(vs) != 0 {
		t.Errorf("plain plan: %v", vs)
	}
	// A fence that does not hold the returns is caught too.
	clean, err := PlanArea(transitArea(false), o)
	if err != nil {
		t.Fatal(err)
	}
	dp := *clean[0]
	dp.Fence = nil
	ll := func(x, y float64) orb.Point { return metresToLL(sepCenter, x, y) }
	for _, p := range []orb.Point{ll(-320, -20), ll(210, -20), ll(210, 210), ll(-320, 210)} {
		dp.Fence = append(dp.Fence, mavitem.Item{Seq: uint16(len(dp.Fence)), Command: mavitem.CmdFencePolyInclusion, Param1: 4, X: e7(p[1]), Y: e7(p[0]), MissionType: mavitem.TypeFence})
	}
	found = false
	for _, v := range Check(transitArea(false), []*DronePlan{&dp}, eff.CheckOptions(CheckOptions{})) {
		found = found || v.Rule == RuleReturn && strings.Contains(v.Message, "leaves the drone's fence")
	}
	if !found {
		t.Errorf("returns out of the fence not reported")
	}
}

// Returns tells a scheduler where on the patrol an RTL is clear: with the
// stage in the middle, the legs on the pad's side are, those beyond the
// stage are not, and the return rule names the first of those.
func TestReturnsPerLeg(t *testing.T) {
	a := transitArea(true)
	o := PlanOptions{Pattern: PatternPerimeter, Drones: 1, Alt: 50, Repeat: -1, TransitLayer: true}
	plans, eff := mustPlan(t, a, o)
	c := NewChecker(a, eff.CheckOptions(CheckOptions{}))
	rs := c.Returns(plans[0])
	clear, blocked := 0, 0
	first := -1
	for _, r := range rs {
		if r.NoFlyClear {
			clear++
		} else {
			blocked++
			if first < 0 {
				first = r.Leg
			}
		}
	}
	if clear == 0 || blocked == 0 {
		t.Fatalf("want legs of both kinds, got %d clear and %d blocked: %+v", clear, blocked, rs)
	}
	found := false
	for _, v := range c.Check(plans) {
		found = found || v.Rule == RuleReturn && v.Leg == first && strings.Contains(v.Message, `"stage"`)
	}
	if !found {
		t.Errorf("return rule does not name leg %d", first)
	}
}

// unionAll drops a hole of one input that another covers (simplefeatures
// v0.50's UnionMany keeps it), and keeps a true hole.
func TestUnionAllDropsCoveredHoles(t *testing.T) {
	holed := orb.Polygon{{{0, 0}, {100, 0}, {100, 100}, {0, 100}, {0, 0}}, {{40, 40}, {40, 60}, {60, 60}, {60, 40}, {40, 40}}}
	cover := orb.Polygon{{{30, 30}, {70, 30}, {70, 70}, {30, 70}, {30, 30}}}
	beside := orb.Polygon{{{90, 0}, {150, 0}, {150, 100}, {90, 100}, {90, 0}}}
	for _, c := range []struct {
		parts []orb.Polygon
		holes int
	}{{[]orb.Polygon{holed, cover}, 0}, {[]orb.Polygon{cover, holed}, 0}, {[]orb.Polygon{holed, beside}, 1}} {
		u, err := unionAll(c.parts)
		if err != nil {
			t.Fatal(err)
		}
		ps := fromSF(u)
		holes := 0
		for _, p := range ps {
			holes += len(p) - 1
		}
		if len(ps) != 1 || holes != c.holes {
			t.Errorf("union of %v: %d polygons, %d holes, want 1 and %d", c.parts, len(ps), holes, c.holes)
		}
	}
}
