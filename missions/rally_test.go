package missions

import (
	"strings"
	"testing"

	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// rallyArea is a 400 m square (band [30, 100] m) with a launch pad 100 m
// west of it and a rally point 120 m north of its centre: the geometry in
// which a 4-drone perimeter plan's mission-end RTL flew to a rally point
// outside the drone's own part of the fence.
// mustPlan plans the area and returns the plans with the options they
// were made with (PlanOptions.Effective), for checking them.
func mustPlan(t *testing.T, a *Area, o PlanOptions) ([]*DronePlan, PlanOptions) {
	t.Helper()
	eff, err := o.Effective(a)
	if err != nil {
		t.Fatal(err)
	}
	plans, err := PlanArea(a, o)
	if err != nil {
		t.Fatal(err)
	}
	return plans, eff
}

func rallyArea() *Area {
	a := transitArea(false)
	a.Rally = []Site{{Name: "north", Point: metresToLL(sepCenter, 0, 120)}}
	return a
}

// Each drone keeps only the rally points inside its own fence (the others
// are left out, with a note saying why), so every plan passes the checker
// — the return rule's rally test and the fence rule on the RTL leg, which
// flies to the nearest rally point — and the uploaded fence, parsed back
// as the vehicle reads it, holds every rally point.
func TestRallyPointsStayInsideEachDronesFence(t *testing.T) {
	a := rallyArea()
	o := PlanOptions{Pattern: PatternPerimeter, Drones: 4, Alt: 50}
	plans, eff := mustPlan(t, a, o)
	if vs := Check(a, plans, eff.CheckOptions(CheckOptions{})); len(vs) != 0 {
		t.Fatalf("violations: %v", vs)
	}
	dropped := 0
	north := a.Rally[0].Point
	for _, dp := range plans {
		incl, _, _ := fencePolys(dp.Fence)
		if len(incl) != 1 {
			t.Fatalf("drone %d: %d inclusion polygons", dp.Drone, len(incl))
		}
		kept := false
		for _, r := range dp.Rally {
			p := llOf(r)
			if !planar.RingContains(incl[0], p) {
				t.Errorf("drone %d: rally point %v outside its fence", dp.Drone, p)
			}
			kept = kept || p.Equal(orb.Point{float64(e7(north[0])) / 1e7, float64(e7(north[1])) / 1e7})
		}
		if !kept {
			dropped++
			if len(dp.Notes) == 0 || !strings.Contains(strings.Join(dp.Notes, "; "), `"north"`) {
				t.Errorf("drone %d: rally point left out without a note: %q", dp.Drone, dp.Notes)
			}
		}
	}
	if dropped == 0 {
		t.Fatalf("no drone left the rally point out: the geometry does not test the fix")
	}
}

// A drone given a rally point outside its own fence (as the planner did
// before) fails the return rule, and its mission-end RTL leg, which flies
// to that nearest rally point, fails the fence rule.
func TestCheckerFlagsRallyPointOutsideTheFence(t *testing.T) {
	a := rallyArea()
	o := PlanOptions{Pattern: PatternPerimeter, Drones: 4, Alt: 50}
	plans, eff := mustPlan(t, a, o)
	var victim *DronePlan
	for _, dp := range plans {
		if len(dp.Notes) > 0 {
			victim = dp
		}
	}
	if victim == nil {
		t.Fatal("no drone left the rally point out")
	}
	n := a.Rally[0].Point
	victim.Rally = append(victim.Rally, mavitem.Item{Seq: uint16(len(victim.Rally)), Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavRallyPoint,
		X: e7(n[1]), Y: e7(n[0]), Z: 50, MissionType: mavitem.TypeRally})
	ret, fence := false, false
	for _, v := range Check(a, plans, eff.CheckOptions(CheckOptions{})) {
		if v.Drone != victim.Drone {
			continue
		}
		ret = ret || v.Rule == RuleReturn && strings.Contains(v.Message, "rally point")
		fence = fence || v.Rule == RuleFence
		t.Log(v)
	}
	if !ret {
		t.Errorf("drone %d: no return violation for the rally point outside its fence", victim.Drone)
	}
	// The RTL leg goes to the rally point only when it is the nearest
	// target from where the mission ends (RALLY_LIMIT_KM 0.3, home included).
	legs := victim.Legs()
	if l := legs[len(legs)-1]; l.To == llOf(victim.Rally[len(victim.Rally)-1]) && !fence {
		t.Errorf("drone %d: its RTL leg flies to the rally point outside its fence but the fence rule passed it", victim.Drone)
	}
}
