package missions

import (
	"fmt"
	"math"
	"testing"

	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/paulmach/orb"
)

// benchArea is a concave area of about 5 km² (a 2.4 km × 2.2 km block with
// a 0.2 km × 1.2 km notch cut from one side) with 10 square holes.
func benchArea(tb testing.TB) *Area {
	pr := projection{lon0: 69.25, lat0: 41.3, ky: earthRadius * math.Pi / 180}
	pr.kx = pr.ky * math.Cos(41.3*math.Pi/180)
	ll := func(x, y float64) orb.Point { return pr.toLL(orb.Point{x, y}) }
	shell := orb.Ring{ll(0, 0), ll(2400, 0), ll(2400, 2200), ll(1300, 2200), ll(1300, 1000), ll(1100, 1000), ll(1100, 2200), ll(0, 2200), ll(0, 0)}
	poly := orb.Polygon{shell}
	for k := 0; k < 10; k++ {
		cx, cy := 300+float64(k%5)*500, 400+float64(k/5)*1400
		if k%5 == 2 {
			cx += 900 // keep out of the notch
			cy = 300 + float64(k/5)*400
		}
		h := orb.Ring{ll(cx, cy), ll(cx, cy+80), ll(cx+80, cy+80), ll(cx+80, cy), ll(cx, cy)}
		poly = append(poly, h)
	}
	a := &Area{Name: "bench", Include: []orb.Polygon{normalizePolygon(poly)}, MinAlt: 20, MaxAlt: 120,
		Launch: []Site{{Name: "pad", Point: ll(-50, -50)}}}
	if err := a.Validate(); err != nil {
		tb.Fatal(err)
	}
	return a
}

func TestBenchAreaIsWhatItClaims(t *testing.T) {
	a := benchArea(t)
	pr := newProjection(a.Bound())
	_, free, err := a.freeArea(pr)
	if err != nil {
		t.Fatal(err)
	}
	if free < 4.5e6 || free > 5.5e6 || len(a.Include[0]) != 11 {
		t.Fatalf("bench area: %.2f km², %d rings", free/1e6, len(a.Include[0]))
	}
	plans, err := PlanArea(a, PlanOptions{Pattern: PatternSweep, Spacing: 15})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Check(a, plans, CheckOptions{Endurance: 1e9, MaxItems: 1e6}) {
		t.Error(v)
	}
	t.Logf("%d mission items", len(plans[0].Mission))
}

func BenchmarkCoveragePlan5km2TenHoles15m(b *testing.B) {
	a := benchArea(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PlanArea(a, PlanOptions{Pattern: PatternSweep, Spacing: 15}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchFenceMission builds a 500-vertex inclusion fence (a wavy circle of
// radius ~1 km) and a 1,000-waypoint mission zig-zagging inside it.
func benchFenceMission() (*Area, *DronePlan) {
	pr := projection{lon0: 69.25, lat0: 41.3, ky: earthRadius * math.Pi / 180}
	pr.kx = pr.ky * math.Cos(41.3*math.Pi/180)
	var ring orb.Ring
	for i := 0; i < 500; i++ {
		th := 2 * math.Pi * float64(i) / 500
		r := 1000 + 30*math.Sin(12*th)
		ring = append(ring, pr.toLL(orb.Point{r * math.Cos(th), r * math.Sin(th)}))
	}
	ring = append(ring, ring[0])
	a := &Area{Name: "fence", Include: []orb.Polygon{{ring}}, MinAlt: 20, MaxAlt: 120, Launch: []Site{{Point: pr.toLL(orb.Point{})}}}
	dp := &DronePlan{Alt: 50, Speed: 10}
	dp.Home = Home{Lat: a.Launch[0].Point[1], Lon: a.Launch[0].Point[0]}
	for i := 0; i < 500; i++ {
		it := mavitem.Item{Command: mavitem.CmdFencePolyInclusion, Frame: mavitem.FrameGlobal, Param1: 500, X: e7(ring[i][1]), Y: e7(ring[i][0]), MissionType: mavitem.TypeFence}
		dp.Fence = append(dp.Fence, it)
	}
	dp.Mission = append(dp.Mission, mavitem.Item{Command: mavitem.CmdNavTakeoff, Frame: mavitem.FrameGlobalRelativeAlt, Z: 50})
	for i := 0; i < 1000; i++ {
		y := -900 + 1.8*float64(i)
		x := 600.0
		if i%2 == 0 {
			x = -600
		}
		p := pr.toLL(orb.Point{x, y * 0.6})
		dp.Mission = append(dp.Mission, mavitem.Item{Command: mavitem.CmdNavWaypoint, Frame: mavitem.FrameGlobalRelativeAlt, X: e7(p[1]), Y: e7(p[0]), Z: 50})
	}
	dp.Mission = append(dp.Mission, mavitem.Item{Command: mavitem.CmdNavReturnToLaunch})
	return a, dp
}

func TestBenchFenceMissionPasses(t *testing.T) {
	a, dp := benchFenceMission()
	// A 500-vertex polygon is more than ArduPilot stores in one fence
	// polygon; this test and its benchmark are about the leg geometry.
	if v := withoutRule(Check(a, []*DronePlan{dp}, CheckOptions{Endurance: 1e9, MaxItems: 2000, FenceItems: 1000, FenceBytes: 60000}), RuleItems); len(v) != 0 {
		t.Fatalf("bench mission fails: %v", v[:min(3, len(v))])
	}
	// Push one waypoint outside the fence: the check must notice.
	dp.Mission[500].Y += e7(0.02)
	v := Check(a, []*DronePlan{dp}, CheckOptions{Endurance: 1e9, MaxItems: 2000, FenceItems: 1000, FenceBytes: 60000})
	fence := 0
	for _, x := range v {
		if x.Rule == RuleFence {
			fence++
		}
	}
	if fence != 2 {
		t.Fatalf("moving one waypoint out should break its 2 legs, got %v", v)
	}
}

func BenchmarkCheck1000WaypointsAgainst500VertexFence(b *testing.B) {
	a, dp := benchFenceMission()
	c := NewChecker(a, CheckOptions{Endurance: 1e9, MaxItems: 2000, FenceItems: 1000, FenceBytes: 60000})
	plans := []*DronePlan{dp}
	b.ReportAllocs()
	for b.Loop() {
		if v := withoutRule(c.Check(plans), RuleItems); len(v) != 0 {
			b.Fatal(v[0])
		}
	}
}

// withoutRule drops the violations of one rule.
func withoutRule(vs []Violation, rule string) []Violation {
	var out []Violation
	for _, v := range vs {
		if v.Rule != rule {
			out = append(out, v)
		}
	}
	return out
}

// BenchmarkPlanDetailedArea20000Vertices plans the case: a GIS
// export with a 20,000-vertex outline (plus a 1,500-vertex hole and a
// 2,000-vertex no-fly polygon), simplified to ArduCopter's default
// capacity. It reports the largest mission and fence per drone.
func BenchmarkPlanDetailedArea20000Vertices(b *testing.B) {
	a := detailedArea(b, 20000)
	for _, c := range []struct {
		pattern string
		drones  int
	}{{PatternPerimeter, 1}, {PatternPerimeter, 3}, {PatternSweep, 3}} {
		b.Run(fmt.Sprintf("%s/%d", c.pattern, c.drones), func(b *testing.B) {
			var plans []*DronePlan
			var err error
			for b.Loop() {
				if plans, err = PlanArea(a, PlanOptions{Pattern: c.pattern, Drones: c.drones, Repeat: -1}); err != nil {
					b.Fatal(err)
				}
			}
			mission, fence, bytes := 0, 0, 0
			for _, dp := range plans {
				u := FenceUsageOf(dp.Fence)
				mission, fence, bytes = max(mission, len(dp.Mission)+1), max(fence, u.Items), max(bytes, u.Bytes)
			}
			b.ReportMetric(float64(mission), "mission-items/drone")
			b.ReportMetric(float64(fence), "fence-items/drone")
			b.ReportMetric(float64(bytes), "fence-bytes/drone")
		})
	}
}
