package operations

import (
	"math"
	"slices"
	"testing"

	"github.com/burgut-uav/burgut/missions"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
)

// A leg is listed in NoReturnSeqs when an RTL from it to any spot a drone
// may land on — anywhere on the launch pad, not only the launch point —
// leaves the fence. The stadium scenario parks its eight drones on their
// own spots on a ring of 41.8 m around the launch point (pad radius 45
// m); from some legs of one slot's loop the straight return to a spot
// south-west of the pad cuts outside the fence while the return to the
// launch point is clear. Judged to the launch point alone (the old rule)
// those legs were not listed, and a scenario run breached the fence.
func TestNoReturnJudgedToEverySpotOnThePad(t *testing.T) {
	a, plans, eff := stadiumPlans(t)
	chk := missions.NewChecker(a, eff.CheckOptions(missions.CheckOptions{}))
	// The scenario's homes (scenarios/stadium-perimeter-rotation.yaml).
	spots := [][2]float64{
		{41.3121563, 69.2710185}, {41.3124437, 69.2710185}, {41.3119531, 69.2712891}, {41.3126469, 69.2712891},
		{41.3119531, 69.2716717}, {41.3126469, 69.2716717}, {41.3121563, 69.2719423}, {41.3124437, 69.2719423},
	}
	onlySpot := 0 // legs whose return is clear to the launch point but not to a spot
	for i, dp := range plans {
		if r := dp.Launch.Radius; r != 45 {
			t.Fatalf("slot %d: pad radius %g m, want the area's 45 m", i, r)
		}
		got := noReturnSeqs(chk, dp)
		launchBad := map[uint16]bool{}
		for _, r := range chk.Returns(dp) {
			if !r.Clear() {
				launchBad[r.Seq] = true
				if !slices.Contains(got, int(r.Seq)) {
					t.Errorf("slot %d: the return from item %d to the launch point is not clear, and it is not in NoReturnSeqs %v", i, r.Seq, got)
				}
			}
		}
		for _, s := range spots {
			c := *dp
			c.Home = missions.Home{Lat: s[0], Lon: s[1]}
			for _, r := range chk.Returns(&c) {
				if r.Clear() {
					continue
				}
				if !slices.Contains(got, int(r.Seq)) {
					t.Errorf("slot %d: the return from item %d to the spot at %.7f,%.7f leaves the fence, and it is not in NoReturnSeqs %v", i, r.Seq, s[0], s[1], got)
				}
				if !launchBad[r.Seq] {
					onlySpot++
				}
			}
		}
		t.Logf("slot %d: no return from %v (loop %d..%d)", i, got, dp.LoopStart, dp.JumpSeq)
	}
	if onlySpot == 0 {
		t.Fatal("no leg's return is clear to the launch point and not to a spot: the test no longer covers the case")
	}
}

// returningTo redirects every RTL of the plan to the spot, from anywhere
// (near the launch point too), and leaves the plan itself alone: the
// return layers' check (returnLayers) judges each return to every spot on
// the pad through it.
func TestReturningToASpot(t *testing.T) {
	_, plans, _ := stadiumPlans(t)
	dp := plans[0]
	spots := padSpots(dp)
	if len(spots) != padReturnPoints+1 {
		t.Fatalf("%d spots on a %g m pad, want its centre and %d on its edge", len(spots), dp.Launch.Radius, padReturnPoints)
	}
	home := orb.Point{dp.Home.Lon, dp.Home.Lat}
	params := slices.Clone(dp.FenceParams)
	for _, q := range spots[1:] {
		if d := geo.Distance(home, q); math.Abs(d-dp.Launch.Radius) > 0.5 {
			t.Errorf("spot %v lies %.1f m from the launch point, want the pad's radius %g m", q, d, dp.Launch.Radius)
		}
		c := returningTo(dp, q)
		for _, from := range []orb.Point{home, spots[1], {home[0] + 0.01, home[1]}} {
			if got := c.RTLTarget(from); geo.Distance(got, q) > 0.05 {
				t.Errorf("an RTL from %v flies to %v, want the spot %v", from, got, q)
			}
		}
	}
	if len(dp.Rally) != 0 || !slices.Equal(params, dp.FenceParams) {
		t.Errorf("returningTo changed the plan: rally %v, params %v (were %v)", dp.Rally, dp.FenceParams, params)
	}
}
