package missions

import (
	"math"
	"testing"

	"github.com/paulmach/orb"
)

// TestSweepCoversTheFreeSpace samples the flyable area (minus the margin)
// on a grid and requires nearly every sample to be seen by the camera: the
// spacing is the footprint width W less the 20 % overlap, and a camera sees
// a W-wide square around the drone, so a point within W/2 of a leg (a disk
// inside that square: conservative) is covered.
func TestSweepCoversTheFreeSpace(t *testing.T) {
	areas := map[string]*Area{"synthetic": synthetic(t), "bench": benchArea(t)}
	for name, a := range areas {
		for _, n := range []int{1, 3} {
			const spacing = 30.0
			const footprint = spacing / (1 - 0.2)
			plans, err := PlanArea(a, PlanOptions{Pattern: PatternSweep, Drones: n, Spacing: spacing})
			if err != nil {
				t.Fatal(err)
			}
			pr := newProjection(a.Bound())
			var legs [][2]orb.Point
			for _, dp := range plans {
				for _, l := range dp.Legs() {
					legs = append(legs, [2]orb.Point{pr.toXY(l.From), pr.toXY(l.To)})
				}
			}
			inc := make([]orb.Polygon, len(a.Include))
			for i, p := range a.Include {
				inc[i] = pr.polygon(p)
			}
			nf, circ := a.noFlyParts(pr)
			sp := newSpace(inc, nf, circ, 10.5)
			b := sp.bound
			total, covered := 0, 0
			step := math.Max((b.Max[0]-b.Min[0])/150, 5)
			for y := b.Min[1]; y < b.Max[1]; y += step {
				for x := b.Min[0]; x < b.Max[0]; x += step {
					p := orb.Point{x, y}
					if !sp.pointOK(p) {
						continue
					}
					total++
					for _, l := range legs {
						if pointSegDist(p, l[0], l[1]) <= footprint/2 {
							covered++
							break
						}
					}
				}
			}
			frac := float64(covered) / float64(total)
			t.Logf("%s, %d drones: %.2f%% of %d samples within %g m of a leg", name, n, 100*frac, total, footprint/2)
			if frac < 0.98 {
				t.Errorf("%s, %d drones: sweep covers only %.1f%% of the free space", name, n, 100*frac)
			}
		}
	}
}
