package missions

import (
	"math"
	"testing"

	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/paulmach/orb"
)

// With EntryHold every drone's way in has a hold (NAV_LOITER_UNLIM at
// its transit altitude) before the loop: on the way from the pad, at
// least HoldClear from every leg of its loop, the nearest the loop such a
// point of the way is; the plans pass every check. A drone whose whole
// way in runs within HoldClear of its loop holds over the pad.
func TestEntryHold(t *testing.T) {
	for _, tc := range []struct {
		name    string
		overPad bool
		area    func() *Area
	}{
		{"pad 100 m away", false, func() *Area { return transitArea(false) }},
		{"pad beside the loop", true, func() *Area {
			a := transitArea(false)
			a.Launch[0].Point = metresToLL(sepCenter, -215, 0)
			return a
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.area()
			o := PlanOptions{Pattern: PatternPerimeter, Drones: 3, Alt: 50, Repeat: -1, EntryHold: true}
			eff, err := o.Effective(a)
			if err != nil {
				t.Fatal(err)
			}
			if eff.HoldClear != 40 {
				t.Fatalf("hold clear %g, want the default 40", eff.HoldClear)
			}
			plans, err := PlanArea(a, o)
			if err != nil {
				t.Fatal(err)
			}
			if vs := Check(a, plans, eff.CheckOptions(CheckOptions{})); len(vs) != 0 {
				t.Fatalf("violations: %v", vs)
			}
			pr := newProjection(a.Bound())
			padHolds := 0
			for _, dp := range plans {
				if dp.HoldSeq == 0 || dp.HoldSeq >= dp.LoopStart {
					t.Fatalf("drone %d: hold %d, loop %d", dp.Drone, dp.HoldSeq, dp.LoopStart)
				}
				h := dp.Mission[dp.HoldSeq-1]
				if h.Command != mavitem.CmdNavLoiterUnlim || float64(h.Z) != dp.Alt {
					t.Fatalf("drone %d: hold item %+v, want a NAV_LOITER_UNLIM at %g m", dp.Drone, h, dp.Alt)
				}
				var loop []orb.Point
				for _, it := range dp.Mission[dp.LoopStart-1 : dp.JumpSeq-1] {
					loop = append(loop, pr.toXY(llOf(it)))
				}
				hp := pr.toXY(llOf(h))
				d := math.Inf(1)
				for i := range loop {
					d = math.Min(d, pointSegDist(hp, loop[i], loop[(i+1)%len(loop)]))
				}
				pad := pr.toXY(dp.Launch.Point)
				if math.Hypot(hp[0]-pad[0], hp[1]-pad[1]) < 0.5 && d < 40 {
					padHolds++
				} else if d < 39.5 || d > 45 {
					t.Errorf("drone %d: hold %.1f m from the loop, want just beyond 40 (or over a pad nearer)", dp.Drone, d)
				}
			}
			if tc.overPad != (padHolds > 0) {
				t.Errorf("%d drones hold over the pad", padHolds)
			}
		})
	}
}
