package missions

import (
	"bytes"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"math"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/planar"
)

func TestSplitIsEqualAreaWithOwnLayersAndFences(t *testing.T) {
	a := synthetic(t)
	for _, n := range []int{2, 3, 5} {
		plans, err := PlanArea(a, PlanOptions{Pattern: PatternPerimeter, Drones: n, Alt: 40, LayerStep: 10})
		if err != nil {
			t.Fatal(err)
		}
		alts := map[float64]bool{}
		for _, dp := range plans {
			if alts[dp.Alt] {
				t.Errorf("%d drones: two share altitude %g", n, dp.Alt)
			}
			alts[dp.Alt] = true
			if dp.Alt < a.MinAlt || dp.Alt > a.MaxAlt {
				t.Errorf("drone %d layer %g outside band", dp.Drone, dp.Alt)
			}
			incl := 0
			for _, it := range dp.Fence {
				if it.Command == mavitem.CmdFencePolyInclusion {
					incl++
				}
			}
			if incl < 3 {
				t.Errorf("drone %d: no inclusion polygon in its fence", dp.Drone)
			}
		}
		// Without the overlap along cuts the parts have equal areas.
		pr := newProjection(a.Bound())
		region, err := a.regionXY(pr)
		if err != nil {
			t.Fatal(err)
		}
		parts, err := splitEqualArea(region, n, 0)
		if err != nil {
			t.Fatal(err)
		}
		var areas []float64
		for _, p := range parts {
			areas = append(areas, sharesArea(p))
		}
		for _, s := range areas {
			if math.Abs(s-areas[0]) > 0.001*areas[0] {
				t.Errorf("%d drones: part areas %v differ by more than 0.1%%", n, areas)
				break
			}
		}
	}
}

func TestCorridorFollowsRouteAtOffset(t *testing.T) {
	a := synthetic(t).Clone()
	// The frame testdata/synthetic-l.geojson was drawn in (metres from its corner).
	pr := projection{lon0: 69.30, lat0: 41.35, ky: earthRadius * math.Pi / 180}
	pr.kx = pr.ky * math.Cos(41.35*math.Pi/180)
	// A parade route through the L that keeps clear of the hole, the tent
	// and the crane even at ±15 m.
	var route orb.LineString
	for _, p := range []orb.Point{{50, 350}, {50, 180}, {420, 180}, {420, 30}, {680, 30}} {
		route = append(route, pr.toLL(p))
	}
	a.Routes = []Route{{Name: "parade", Line: route}}
	for _, off := range []float64{0, 15, -15} {
		plans, err := PlanArea(a, PlanOptions{Pattern: PatternCorridor, Offset: off, Alt: 45})
		if err != nil {
			t.Fatal(err)
		}
		near := 0
		wps := 0
		for _, it := range plans[0].Mission {
			if it.Command != mavitem.CmdNavWaypoint {
				continue
			}
			wps++
			if it.Z != 45 {
				t.Errorf("offset %g: waypoint at %g m, want 45", off, it.Z)
			}
			p := pr.toXY(llOf(it))
			d := math.Inf(1)
			for i := 0; i+1 < len(route); i++ {
				d = math.Min(d, pointSegDist(p, pr.toXY(route[i]), pr.toXY(route[i+1])))
			}
			if math.Abs(d-math.Abs(off)) < 3 {
				near++
			}
		}
		// Vertices the margin forces inward and routed detours are allowed,
		// but most of the corridor must run at the offset.
		if near*2 < wps {
			t.Errorf("offset %g: only %d of %d waypoints at the offset", off, near, wps)
		}
	}
}

func TestPlanOptionErrorsNameTheOption(t *testing.T) {
	a := synthetic(t)
	for _, c := range []struct {
		o    PlanOptions
		want string
	}{
		{PlanOptions{Pattern: "zigzag"}, "pattern \"zigzag\""},
		{PlanOptions{Drones: -1}, "drones -1"},
		{PlanOptions{Alt: 500}, "alt 500 m: outside the area's band [30, 100]"},
		{PlanOptions{Spacing: 0.1}, "spacing 0.1"},
		{PlanOptions{Speed: -3}, "speed -3"},
		{PlanOptions{End: "crash"}, "end \"crash\""},
		{PlanOptions{Repeat: -5}, "repeat -5"},
	} {
		_, err := PlanArea(a, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.o, err, c.want)
		}
	}
	noLaunch := a.Clone()
	noLaunch.Launch = nil
	if _, err := PlanArea(noLaunch, PlanOptions{}); err == nil || !strings.Contains(err.Error(), "no launch point") {
		t.Errorf("no launch: %v", err)
	}
	inNoFly := a.Clone()
	inNoFly.Launch = []Site{{Name: "in the tent", Point: inNoFly.NoFly[0].Polygon[0][0]}}
	if _, err := PlanArea(inNoFly, PlanOptions{}); err == nil || !strings.Contains(err.Error(), "in the tent") {
		t.Errorf("launch in no-fly: %v", err)
	}
	// A margin wider than the area leaves no room to fly.
	if _, err := PlanArea(a, PlanOptions{Margin: 400}); err == nil || !strings.Contains(err.Error(), "no free path") {
		t.Errorf("huge margin: %v", err)
	}
}

func TestPreviewHasEveryDrone(t *testing.T) {
	a := synthetic(t)
	plans, err := PlanArea(a, PlanOptions{Pattern: PatternLoop, Drones: 2})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteGeoJSON(&buf, Preview(a, plans)); err != nil {
		t.Fatal(err)
	}
	fc := Preview(a, plans)
	roles := map[string]int{}
	for _, f := range fc.Features {
		if r, ok := f.Properties["role"].(string); ok {
			roles[r]++
			if r == "path" {
				if ls, ok := f.Geometry.(orb.LineString); !ok || len(ls) < 3 {
					t.Errorf("path feature is not a line: %v", f.Geometry)
				}
			}
		}
	}
	rally := 0
	for _, dp := range plans {
		rally += len(dp.Rally)
	}
	if roles["path"] != 2 || roles["home"] != 2 || roles["fence"] < 2 || rally == 0 || roles["rally"] != rally {
		t.Errorf("preview roles %v", roles)
	}
}

func FuzzParsePlan(f *testing.F) {
	a := mustImport(f, "testdata/synthetic-l.geojson")
	plans, err := PlanArea(a, PlanOptions{Pattern: PatternLoop, Repeat: 1})
	if err != nil {
		f.Fatal(err)
	}
	var b bytes.Buffer
	_ = plans[0].WritePlan(&b)
	f.Add(b.Bytes())
	f.Add([]byte(`{"fileType":"Plan","mission":{"items":[{"type":"SimpleItem","params":[null,0,0,0,0,0,0]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePlan(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := p.WritePlan(&out); err != nil {
			return // e.g. a fence polygon count the writer cannot express
		}
		if _, err := ParsePlan(&out); err != nil {
			t.Fatalf("re-parse of written plan: %v", err)
		}
	})
}

func FuzzParseWaypoints(f *testing.F) {
	f.Add([]byte("QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t41.3\t69.2\t0\t1\n1\t0\t3\t22\t0\t0\t0\t0\t41.3\t69.2\t50\t1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseWaypoints(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := p.WriteWaypoints(&out); err != nil {
			t.Fatal(err)
		}
		if _, err := ParseWaypoints(&out); err != nil {
			t.Fatalf("re-parse of written waypoints: %v", err)
		}
	})
}

func TestFromPlanChecksAForeignPlan(t *testing.T) {
	a := synthetic(t)
	plans, err := PlanArea(a, PlanOptions{Pattern: PatternPerimeter, Repeat: 2})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := plans[0].WritePlan(&buf); err != nil {
		t.Fatal(err)
	}
	p, err := ParsePlan(&buf)
	if err != nil {
		t.Fatal(err)
	}
	dp := FromPlan(0, p)
	if dp.Alt != plans[0].Alt || dp.JumpSeq != plans[0].JumpSeq || dp.LoopStart != plans[0].LoopStart {
		t.Fatalf("FromPlan: alt %g jump %d loop %d; want %g %d %d", dp.Alt, dp.JumpSeq, dp.LoopStart, plans[0].Alt, plans[0].JumpSeq, plans[0].LoopStart)
	}
	if v := Check(a, []*DronePlan{dp}, CheckOptions{}); len(v) != 0 {
		t.Fatalf("re-read plan fails: %v", v)
	}
	// Move a waypoint into the area's hole: the area rule must name it.
	hole := a.Include[0][1]
	c := hole.Bound().Center()
	dp.Mission[5].X, dp.Mission[5].Y = e7(c[1]), e7(c[0])
	v := Check(a, []*DronePlan{dp}, CheckOptions{})
	if len(v) == 0 || v[0].Rule != RuleArea || v[0].Seq != dp.Mission[5].Seq {
		t.Fatalf("violations %v; want the area rule on the leg to item %d", v, dp.Mission[5].Seq)
	}
}

func TestSweepRunsAlongTheLongSide(t *testing.T) {
	// A 1000 m × 100 m strip at 30°: lines along it need 4 passes at 20 m
	// (after the 10 m margin), across it about 50.
	pr := projection{lon0: 69.2, lat0: 41.3, ky: earthRadius * math.Pi / 180}
	pr.kx = pr.ky * math.Cos(41.3*math.Pi/180)
	rot := newRotation(math.Pi / 6)
	var r orb.Ring
	for _, p := range []orb.Point{{0, 0}, {1000, 0}, {1000, 100}, {0, 100}, {0, 0}} {
		r = append(r, pr.toLL(rot.from(p)))
	}
	a := &Area{Name: "strip", Include: []orb.Polygon{normalizePolygon(orb.Polygon{r})}, MinAlt: 20, MaxAlt: 100,
		Launch: []Site{{Name: "pad", Point: pr.toLL(rot.from(orb.Point{20, 50}))}}}
	plans, err := PlanArea(a, PlanOptions{Pattern: PatternSweep, Spacing: 20})
	if err != nil {
		t.Fatal(err)
	}
	wps := 0
	for _, it := range plans[0].Mission {
		if it.Command == mavitem.CmdNavWaypoint {
			wps++
		}
	}
	if wps > 10 {
		t.Fatalf("%d waypoints: the sweep runs across the strip, not along it", wps)
	}
}

// Drones parked anywhere on a launch pad must be inside their own fence, or
// ArduCopter refuses to arm ("PreArm: Fence: vehicle outside fence").
func TestFenceContainsTheWholeLaunchPad(t *testing.T) {
	a := synthetic(t).Clone()
	const pad = 40.0
	for i := range a.Launch {
		a.Launch[i].Radius = pad
	}
	plans, err := PlanArea(a, PlanOptions{Pattern: PatternPerimeter, Drones: 4, Alt: 40})
	if err != nil {
		t.Fatal(err)
	}
	for _, dp := range plans {
		var ring orb.Ring
		for _, it := range dp.Fence {
			if it.Command == mavitem.CmdFencePolyInclusion {
				ring = append(ring, orb.Point{float64(it.Y) / 1e7, float64(it.X) / 1e7})
			}
		}
		if len(ring) < 3 {
			t.Fatalf("drone %d has no inclusion fence", dp.Drone)
		}
		ring = append(ring, ring[0])
		for b := 0.0; b < 360; b += 15 {
			p := geo.PointAtBearingAndDistance(dp.Launch.Point, b, pad)
			if !planar.RingContains(ring, p) {
				t.Fatalf("drone %d: pad point %v (bearing %g°, %g m from launch) is outside its fence", dp.Drone, p, b, pad)
			}
		}
	}
	// The same area without a pad radius leaves those points outside: the
	// test above would fail without the radius.
	a.Launch[0].Radius = 0
	plans, err = PlanArea(a, PlanOptions{Pattern: PatternPerimeter, Drones: 4, Alt: 40})
	if err != nil {
		t.Fatal(err)
	}
	outside := false
	for _, dp := range plans {
		if dp.Launch.Point != a.Launch[0].Point {
			continue
		}
		var ring orb.Ring
		for _, it := range dp.Fence {
			if it.Command == mavitem.CmdFencePolyInclusion {
				ring = append(ring, orb.Point{float64(it.Y) / 1e7, float64(it.X) / 1e7})
			}
		}
		ring = append(ring, ring[0])
		for b := 0.0; b < 360; b += 15 {
			outside = outside || !planar.RingContains(ring, geo.PointAtBearingAndDistance(dp.Launch.Point, b, pad))
		}
	}
	if !outside {
		t.Fatal("without a pad radius every pad point was inside anyway: the test proves nothing")
	}
}
