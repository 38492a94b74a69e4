package missions

import (
	"fmt"
	"math"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/planar"
)

// independentLegCheck is the safety net the issue asks for, written without
// the planner's geometry code: it samples every leg every metre (geodesic
// interpolation from orb/geo), and tests each sample with orb's planar
// point-in-polygon on lon/lat; the margin is tested by also requiring the
// eight points `margin` metres away (orb/geo bearing+distance) to be inside
// the area and outside every no-fly zone. Transit legs only get the no-fly
// part.
func independentLegCheck(a *Area, dp *DronePlan, margin float64) error {
	for i, l := range dp.Legs() {
		d := geo.Distance(l.From, l.To)
		n := int(math.Ceil(d)) + 1
		for k := 0; k <= n; k++ {
			p := orb.Point{l.From[0] + (l.To[0]-l.From[0])*float64(k)/float64(n), l.From[1] + (l.To[1]-l.From[1])*float64(k)/float64(n)}
			probes := []orb.Point{p}
			for b := 0.0; b < 360; b += 45 {
				probes = append(probes, geo.PointAtBearingAndDistance(p, b, margin))
			}
			for _, q := range probes {
				if !l.Transit {
					in := false
					for _, pg := range a.Include {
						in = in || planar.PolygonContains(pg, q)
					}
					if !in {
						return fmt.Errorf("drone %d leg %d (%d→%d) sample %d/%d: %v is outside the area (margin %g m)", dp.Drone, i, l.FromSeq, l.ToSeq, k, n, q, margin)
					}
				}
				for _, z := range a.NoFly {
					if z.IsCircle() && geo.Distance(z.Center, q) < z.Radius || !z.IsCircle() && planar.PolygonContains(z.Polygon, q) {
						return fmt.Errorf("drone %d leg %d (%d→%d) sample %d/%d: %v is in no-fly zone %q (margin %g m)", dp.Drone, i, l.FromSeq, l.ToSeq, k, n, q, z.Name, margin)
					}
				}
			}
		}
	}
	return nil
}

func TestEverySharedAreaEveryPattern(t *testing.T) {
	for name, a := range sharedAreas(t) {
		for _, pat := range Patterns {
			for _, drones := range []int{1, 3} {
				t.Run(fmt.Sprintf("%s/%s/%d", name, pat, drones), func(t *testing.T) {
					plans, err := PlanArea(a, PlanOptions{Pattern: pat, Drones: drones, Alt: 60, Spacing: 40, Repeat: 2})
					if err != nil {
						t.Fatal(err)
					}
					if len(plans) != drones {
						t.Fatalf("%d plans, want %d", len(plans), drones)
					}
					// Battery is tested on its own: one drone sweeping a stadium at
					// 40 m spacing honestly needs more than one battery.
					for _, v := range Check(a, plans, CheckOptions{Endurance: 1e6}) {
						t.Errorf("check: %s", v)
					}
					for _, dp := range plans {
						// The planner keeps 10 m; sample with 9.9 m so rounding to 1e-7° does not matter.
						if err := independentLegCheck(a, dp, 9.9); err != nil {
							t.Error(err)
						}
						// Every fence fits ArduCopter's default storage (Check
						// above) and still holds every leg, inside what the
						// planner had before simplifying it.
						if err := independentFenceCheck(a, dp, 4.9); err != nil {
							t.Error(err)
						}
						t.Logf("drone %d alt %g: %d mission items, %d fence items, %d rally, %d legs", dp.Drone, dp.Alt, len(dp.Mission), len(dp.Fence), len(dp.Rally), len(dp.Legs()))
					}
				})
			}
		}
	}
}
