package missions

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"
	"github.com/paulmach/orb/project"
)

// The planner on real GIS exports: a detailed outline must be simplified to
// what the vehicle stores, and the result checked by code that does not
// share the planner's geometry.

// detailedCenter is where the generated areas lie (Tashkent).
var detailedCenter = orb.Point{69.25, 41.3}

// metresToLL converts local metres east/north of c to lon/lat.
func metresToLL(c orb.Point, x, y float64) orb.Point {
	const r = 6371008.8
	lat := c[1] + y/r*180/math.Pi
	lon := c[0] + x/(r*math.Cos(c[1]*math.Pi/180))*180/math.Pi
	return orb.Point{lon, lat}
}

// noisyStadium is a stadium (two half circles of radius rad joined by
// straight sides 2·half long, centred on (cx, cy) metres) with n vertices,
// each pushed out along the outline's normal by a few metres of smooth
// wobble and sub-metre jitter: what a GIS export of a fenced venue looks
// like. Every offset is along the normal of a convex curve and far smaller
// than its radius, so the ring stays simple.
func noisyStadium(rng *rand.Rand, cx, cy, half, rad float64, n int) orb.Ring {
	per := 4*half + 2*math.Pi*rad
	ring := make(orb.Ring, 0, n+1)
	for i := 0; i < n; i++ {
		s := per * float64(i) / float64(n)
		var x, y, nx, ny float64
		switch {
		case s < 2*half: // bottom side, left to right
			x, y, nx, ny = -half+s, -rad, 0, -1
		case s < 2*half+math.Pi*rad: // right half circle
			th := -math.Pi/2 + (s-2*half)/rad
			nx, ny = math.Cos(th), math.Sin(th)
			x, y = half+rad*nx, rad*ny
		case s < 4*half+math.Pi*rad: // top side, right to left
			x, y, nx, ny = half-(s-2*half-math.Pi*rad), rad, 0, 1
		default: // left half circle
			th := math.Pi/2 + (s-4*half-math.Pi*rad)/rad
			nx, ny = math.Cos(th), math.Sin(th)
			x, y = -half+rad*nx, rad*ny
		}
		d := 2*math.Sin(2*math.Pi*s/37) + math.Sin(2*math.Pi*s/11.3) + 0.8*(rng.Float64()-0.5)
		ring = append(ring, metresToLL(detailedCenter, cx+x+d*nx, cy+y+d*ny))
	}
	return append(ring, ring[0])
}

// noisyCircle is a circle of radius rad around (cx, cy) metres with n
// vertices and a little radial noise.
func noisyCircle(rng *rand.Rand, cx, cy, rad float64, n int) orb.Ring {
	ring := make(orb.Ring, 0, n+1)
	for i := 0; i < n; i++ {
		th := 2 * math.Pi * float64(i) / float64(n)
		r := rad + 0.8*math.Sin(7*th) + 0.5*(rng.Float64()-0.5)
		ring = append(ring, metresToLL(detailedCenter, cx+r*math.Cos(th), cy+r*math.Sin(th)))
	}
	return append(ring, ring[0])
}

// detailedAreaGeoJSON is the case as a GIS team would export it: an
// event area of shellVertices vertices (a 1.2 km × 0.4 km stadium outline)
// with a detailed hole, a detailed no-fly polygon, a no-fly circle and a
// launch pad south of it (none when launch is false).
func detailedAreaGeoJSON(t testing.TB, shellVertices int, launch bool) []byte {
	rng := rand.New(rand.NewPCG(9, 20000))
	shell := noisyStadium(rng, 0, 0, 400, 200, shellVertices)
	hole := noisyCircle(rng, -250, 30, 35, 1500)
	hole.Reverse()
	fc := geojson.NewFeatureCollection()
	area := geojson.NewFeature(orb.Polygon{shell, hole})
	area.Properties = geojson.Properties{"kind": KindEventArea, "name": "detailed stadium", "min_alt_m": 20.0, "max_alt_m": 120.0}
	fc.Append(area)
	nf := geojson.NewFeature(orb.Polygon{noisyCircle(rng, 250, -20, 45, 2000)})
	nf.Properties = geojson.Properties{"kind": KindNoFly, "name": "stage"}
	fc.Append(nf)
	nc := geojson.NewFeature(metresToLL(detailedCenter, 0, 60))
	nc.Properties = geojson.Properties{"kind": KindNoFly, "name": "mast", "radius_m": 20.0}
	fc.Append(nc)
	if launch {
		l := geojson.NewFeature(metresToLL(detailedCenter, 0, -240))
		l.Properties = geojson.Properties{"kind": KindLaunch, "name": "pad", "radius_m": 5.0}
		fc.Append(l)
	}
	b, err := fc.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func detailedArea(t testing.TB, shellVertices int) *Area {
	a, err := ImportGeoJSON(bytes.NewReader(detailedAreaGeoJSON(t, shellVertices, true)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDetailedAreaPlansWithinVehicleLimits(t *testing.T) {
	a := detailedArea(t, 20000)
	if n := len(a.Include[0][0]) - 1; n != 20000 {
		t.Fatalf("generated shell has %d vertices", n)
	}
	for _, pat := range []string{PatternPerimeter, PatternSweep} {
		for _, drones := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%d", pat, drones), func(t *testing.T) {
				o := PlanOptions{Pattern: pat, Drones: drones, Repeat: -1}
				plans, err := PlanArea(a, o)
				if err != nil {
					t.Fatal(err)
				}
				eff, err := o.Effective(a)
				if err != nil {
					t.Fatal(err)
				}
				capy := eff.Capacity
				for _, v := range Check(a, plans, eff.CheckOptions(CheckOptions{Endurance: 1e6})) {
					t.Errorf("check: %s", v)
				}
				for _, dp := range plans {
					u := FenceUsageOf(dp.Fence)
					if len(dp.Mission)+1 > capy.MissionItems || u.Items > capy.FenceItems || u.Bytes > capy.FenceBytes || u.LargestPolygon > MaxPolygonVertices {
						t.Errorf("drone %d: %d mission items, fence %+v; the vehicle holds %+v", dp.Drone, len(dp.Mission)+1, u, capy)
					}
					checkSimplifiedReport(t, dp, eff.Margin)
					if err := independentMarginCheck(a, dp, eff.Margin-0.1); err != nil {
						t.Error(err)
					}
					if err := independentFenceCheck(a, dp, eff.Margin/2-0.1); err != nil {
						t.Error(err)
					}
					t.Logf("drone %d: %d mission items, fence %d items / %d bytes; %d boundaries simplified", dp.Drone, len(dp.Mission)+1, u.Items, u.Bytes, len(dp.Simplified))
					for _, c := range dp.Simplified {
						t.Logf("  %+v", c)
					}
				}
			})
		}
	}
}

// checkSimplifiedReport wants the event area's outline reported with its
// 20,000 vertices before and a displacement within what PlanArea allows.
func checkSimplifiedReport(t *testing.T, dp *DronePlan, margin float64) {
	t.Helper()
	found := false
	for _, c := range dp.Simplified {
		if c.VerticesAfter > c.VerticesBefore || c.VerticesAfter < 3 || c.MaxDisplacement < c.MeanDisplacement || c.MeanDisplacement < 0 {
			t.Errorf("drone %d: implausible report %+v", dp.Drone, c)
		}
		if c.Boundary == "event-area" {
			found = true
			if c.VerticesBefore != 20000 || c.Direction != "shrunk" || c.MaxDisplacement > margin {
				t.Errorf("drone %d: event-area report %+v", dp.Drone, c)
			}
		}
	}
	if !found {
		t.Errorf("drone %d: the event area's simplification is not reported: %+v", dp.Drone, dp.Simplified)
	}
}

// Independent checks. They use orb's planar containment on lon/lat and
// Web Mercator metres (orb/project) scaled to ground distance, none of the
// planner's projection, space or simplification code, and compare against
// the ORIGINAL outlines.

// merc maps lon/lat to ground metres near lat0.
func merc(p orb.Point, k float64) orb.Point {
	q := project.WGS84.ToMercator(p)
	return orb.Point{q[0] * k, q[1] * k}
}

func mdist(p, q orb.Point) float64 { return math.Hypot(p[0]-q[0], p[1]-q[1]) }

func mercScale(lat float64) float64 { return math.Cos(lat * math.Pi / 180) }

func distPointSeg(p, a, b orb.Point) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = math.Max(0, math.Min(1, ((p[0]-a[0])*dx+(p[1]-a[1])*dy)/l2))
	}
	return math.Hypot(p[0]-a[0]-t*dx, p[1]-a[1]-t*dy)
}

// mercEdges is every edge of the rings in metres (projected once).
func mercEdges(rings []orb.Ring, k float64) [][2]orb.Point {
	var out [][2]orb.Point
	for _, r := range rings {
		prev := merc(r[0], k)
		for i := 1; i < len(r); i++ {
			p := merc(r[i], k)
			out = append(out, [2]orb.Point{prev, p})
			prev = p
		}
	}
	return out
}

// edgesNear returns the edges within d of the box around a and b
// (metres).
func edgesNear(edges [][2]orb.Point, a, b orb.Point, d float64) [][2]orb.Point {
	lo := orb.Point{math.Min(a[0], b[0]) - d, math.Min(a[1], b[1]) - d}
	hi := orb.Point{math.Max(a[0], b[0]) + d, math.Max(a[1], b[1]) + d}
	var out [][2]orb.Point
	for _, e := range edges {
		p, q := e[0], e[1]
		if math.Max(p[0], q[0]) < lo[0] || math.Min(p[0], q[0]) > hi[0] || math.Max(p[1], q[1]) < lo[1] || math.Min(p[1], q[1]) > hi[1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// samples returns points every step metres along a–b (lon/lat), ends
// included.
func samples(a, b orb.Point, k, step float64) []orb.Point {
	n := int(math.Ceil(mdist(merc(a, k), merc(b, k))/step)) + 1
	out := make([]orb.Point, 0, n+1)
	for i := 0; i <= n; i++ {
		f := float64(i) / float64(n)
		out = append(out, orb.Point{a[0] + f*(b[0]-a[0]), a[1] + f*(b[1]-a[1])})
	}
	return out
}

// independentMarginCheck samples every leg each half metre: a patrol leg's
// samples must be inside the original event area and at least margin from
// every original outline (shell, holes); every leg's samples must be
// outside every original no-fly zone by margin.
func independentMarginCheck(a *Area, dp *DronePlan, margin float64) error {
	k := mercScale(a.Bound().Center()[1])
	var areaRings, zoneRings []orb.Ring
	for _, p := range a.Include {
		areaRings = append(areaRings, p...)
	}
	for _, z := range a.NoFly {
		if !z.IsCircle() {
			zoneRings = append(zoneRings, z.Polygon...)
		}
	}
	areaEdges, zoneEdges := mercEdges(areaRings, k), mercEdges(zoneRings, k)
	for i, l := range dp.Legs() {
		ma, mb := merc(l.From, k), merc(l.To, k)
		var near [][2]orb.Point
		if !l.Transit {
			near = edgesNear(areaEdges, ma, mb, margin+1)
		}
		near = append(near, edgesNear(zoneEdges, ma, mb, margin+1)...)
		for si, s := range samples(l.From, l.To, k, 0.5) {
			ms := merc(s, k)
			for _, e := range near {
				if d := distPointSeg(ms, e[0], e[1]); d < margin {
					return fmt.Errorf("drone %d leg %d (to item %d) sample %d %v: %.2f m from an original outline, want ≥ %g", dp.Drone, i, l.ToSeq, si, s, d, margin)
				}
			}
			// Every sample is at least margin from every outline and the
			// samples are half a metre apart, so the leg cannot cross an
			// outline between them: containment of its first point decides
			// for the whole leg.
			if !l.Transit && si == 0 {
				in := false
				for _, p := range a.Include {
					in = in || planar.PolygonContains(p, s)
				}
				if !in {
					return fmt.Errorf("drone %d leg %d (to item %d) sample %d %v: outside the original event area", dp.Drone, i, l.ToSeq, si, s)
				}
			}
			for _, z := range a.NoFly {
				if z.IsCircle() {
					if d := mdist(ms, merc(z.Center, k)); d < z.Radius+margin {
						return fmt.Errorf("drone %d leg %d sample %d: %.2f m from no-fly circle %q's centre, want ≥ %g", dp.Drone, i, si, d, z.Name, z.Radius+margin)
					}
				} else if si == 0 && planar.PolygonContains(z.Polygon, s) {
					return fmt.Errorf("drone %d leg %d sample %d: inside no-fly zone %q", dp.Drone, i, si, z.Name)
				}
			}
		}
	}
	return nil
}

// fencePolys parses the uploaded fence items back into polygons and
// circles, as the vehicle reads them.
func fencePolys(items []mavitem.Item) (incl, excl []orb.Ring, circles []NoFly) {
	for i := 0; i < len(items); {
		it := items[i]
		ll := func(it mavitem.Item) orb.Point { return orb.Point{float64(it.Y) / 1e7, float64(it.X) / 1e7} }
		switch it.Command {
		case mavitem.CmdFencePolyInclusion, mavitem.CmdFencePolyExclusion:
			n := int(it.Param1)
			var r orb.Ring
			for j := i; j < i+n; j++ {
				r = append(r, ll(items[j]))
			}
			r = append(r, r[0])
			if it.Command == mavitem.CmdFencePolyInclusion {
				incl = append(incl, r)
			} else {
				excl = append(excl, r)
			}
			i += n
			continue
		case mavitem.CmdFenceCircleExclusion:
			circles = append(circles, NoFly{Center: ll(it), Radius: float64(it.Param1)})
		}
		i++
	}
	return incl, excl, circles
}

// onRing tells whether p lies within tol metres of ring r's outline.
func onRing(r orb.Ring, p orb.Point, k, tol float64) bool {
	mp := merc(p, k)
	for i := 0; i+1 < len(r); i++ {
		if distPointSeg(mp, merc(r[i], k), merc(r[i+1], k)) <= tol {
			return true
		}
	}
	return false
}

// insideOrOn tells whether p (lon/lat) is inside ring r or within tol
// metres of its outline.
func insideOrOn(r orb.Ring, p orb.Point, k, tol float64) bool {
	return planar.RingContains(r, p) || onRing(r, p, k, tol)
}

// independentFenceCheck parses the fence the vehicle would store and
// checks, by sampling each metre: the inclusion polygon lies inside the
// fence the planner had before simplifying it; every original no-fly
// polygon, and every hole the unsimplified fence excluded, is still
// forbidden (covered by an exclusion or outside the inclusion); every
// no-fly circle near the inclusion is kept; and every leg stays at least
// clear metres inside the inclusion and outside the exclusions.
func independentFenceCheck(a *Area, dp *DronePlan, clear float64) error {
	k := mercScale(a.Bound().Center()[1])
	const tol = 0.05 // metres: fence vertices are stored to 1e-7°
	incl, excl, circles := fencePolys(dp.Fence)
	if len(incl) != 1 {
		return fmt.Errorf("drone %d: %d inclusion polygons, want 1", dp.Drone, len(incl))
	}
	if len(dp.fenceBefore) == 0 || dp.fenceBefore[0].cmd != mavitem.CmdFencePolyInclusion {
		return fmt.Errorf("drone %d: no record of the fence before simplification", dp.Drone)
	}
	orig := dp.fenceBefore[0].ring
	for i := 0; i+1 < len(incl[0]); i++ {
		for _, s := range samples(incl[0][i], incl[0][i+1], k, 1) {
			if !insideOrOn(orig, s, k, tol) {
				return fmt.Errorf("drone %d: inclusion fence point %v lies outside the unsimplified fence", dp.Drone, s)
			}
		}
	}
	// Zones the fence must forbid: every original no-fly polygon (no leg
	// may enter it), and each event-area hole the unsimplified fence
	// excluded (a transit leg may cross a hole, so a hole the fence let a
	// leg through is not one).
	var zones []orb.Ring
	var names []string
	for _, z := range a.NoFly {
		if !z.IsCircle() {
			zones = append(zones, z.Polygon[0])
			names = append(names, "no-fly zone "+z.Name)
		}
	}
	for _, fb := range dp.fenceBefore[1:] {
		if fb.cmd == mavitem.CmdFencePolyExclusion && fb.name == a.Name+" hole" {
			zones = append(zones, fb.ring)
			names = append(names, "event-area hole excluded before simplification")
		}
	}
	// Each original zone's outline, sampled each metre, must be where the
	// fence forbids flying: inside (or on) an exclusion polygon, or outside
	// (or on) the inclusion polygon. A zone cut by a drone's share is
	// excluded by the inclusion's outline, one beside it by an exclusion.
	for zi, z := range zones {
		for i := 0; i+1 < len(z); i++ {
			for _, s := range samples(z[i], z[i+1], k, 1) {
				forbidden := !planar.RingContains(incl[0], s) || onRing(incl[0], s, k, tol)
				for _, e := range excl {
					forbidden = forbidden || insideOrOn(e, s, k, tol)
				}
				if !forbidden {
					return fmt.Errorf("drone %d: point %v of the original %s is inside the fence and no exclusion covers it", dp.Drone, s, names[zi])
				}
			}
		}
	}
	for _, z := range a.NoFly {
		if !z.IsCircle() || !planar.RingContains(incl[0], z.Center) {
			continue
		}
		kept := false
		for _, c := range circles {
			kept = kept || mdist(merc(c.Center, k), merc(z.Center, k)) < tol && c.Radius >= z.Radius
		}
		if !kept {
			return fmt.Errorf("drone %d: no-fly circle %q is missing from the fence", dp.Drone, z.Name)
		}
	}
	fenceEdges := mercEdges(append([]orb.Ring{incl[0]}, excl...), k)
	for i, l := range dp.Legs() {
		ma, mb := merc(l.From, k), merc(l.To, k)
		near := edgesNear(fenceEdges, ma, mb, clear+1)
		for si, s := range samples(l.From, l.To, k, 0.5) {
			ms := merc(s, k)
			for _, e := range near {
				if d := distPointSeg(ms, e[0], e[1]); d < clear {
					return fmt.Errorf("drone %d leg %d (to item %d) sample %d: %.2f m from a fence edge, want ≥ %g", dp.Drone, i, l.ToSeq, si, d, clear)
				}
			}
			if si != 0 {
				continue // as in independentMarginCheck: the first point decides
			}
			if !planar.RingContains(incl[0], s) {
				return fmt.Errorf("drone %d leg %d (to item %d) sample %d %v: outside the inclusion fence", dp.Drone, i, l.ToSeq, si, s)
			}
			for _, e := range excl {
				if planar.RingContains(e, s) {
					return fmt.Errorf("drone %d leg %d (to item %d) sample %d %v: inside an exclusion fence", dp.Drone, i, l.ToSeq, si, s)
				}
			}
		}
	}
	return nil
}

// TestIndependentChecksCatchFaults makes sure the independent checks fail
// when the plan is wrong: a waypoint pushed towards the edge, an inclusion
// fence vertex pushed out, an exclusion vertex pulled in.
func TestIndependentChecksCatchFaults(t *testing.T) {
	a := detailedArea(t, 4000)
	plans, err := PlanArea(a, PlanOptions{Pattern: PatternPerimeter})
	if err != nil {
		t.Fatal(err)
	}
	dp := plans[0]
	if err := independentMarginCheck(a, dp, 9.9); err != nil {
		t.Fatal(err)
	}
	if err := independentFenceCheck(a, dp, 4.9); err != nil {
		t.Fatal(err)
	}
	clone := func() *DronePlan {
		c := *dp
		c.Mission = append([]mavitem.Item(nil), dp.Mission...)
		c.Fence = append([]mavitem.Item(nil), dp.Fence...)
		return &c
	}
	// A patrol waypoint moved 8 m south: within the margin of the edge or
	// out of the area (the first patrol waypoints are on the south side).
	bad := clone()
	for i, it := range bad.Mission {
		if it.Command == mavitem.CmdNavWaypoint && !slicesContains(bad.Transit, it.Seq) {
			bad.Mission[i].X -= 720 // 8 m south (1e-7° of latitude is 1.1 cm)
			break
		}
	}
	if err := independentMarginCheck(a, bad, 9.9); err == nil {
		t.Error("a waypoint moved 8 m towards the edge passed the margin check")
	}
	// The inclusion fence's first vertex moved 30 m away from the centre.
	bad = clone()
	c := a.Bound().Center()
	v := &bad.Fence[0]
	lat, lon := float64(v.X)/1e7, float64(v.Y)/1e7
	d := math.Hypot(lat-c[1], lon-c[0])
	v.X += int32((lat - c[1]) / d * 30 / 111195.0 * 1e7)
	v.Y += int32((lon - c[0]) / d * 30 / 111195.0 * 1e7)
	if err := independentFenceCheck(a, bad, 4.9); err == nil {
		t.Error("an inclusion fence vertex moved 30 m out passed the fence check")
	}
	// Every exclusion vertex pulled halfway to its polygon's centre.
	bad = clone()
	pulled := false
	for i := 0; i < len(bad.Fence); {
		it := bad.Fence[i]
		n := int(it.Param1)
		if it.Command != mavitem.CmdFencePolyExclusion {
			if it.Command == mavitem.CmdFencePolyInclusion {
				i += n
			} else {
				i++
			}
			continue
		}
		var cx, cy float64
		for j := i; j < i+n; j++ {
			cx += float64(bad.Fence[j].X) / float64(n)
			cy += float64(bad.Fence[j].Y) / float64(n)
		}
		for j := i; j < i+n; j++ {
			bad.Fence[j].X = int32((float64(bad.Fence[j].X) + cx) / 2)
			bad.Fence[j].Y = int32((float64(bad.Fence[j].Y) + cy) / 2)
		}
		pulled = true
		i += n
	}
	if !pulled {
		t.Fatal("the plan's fence has no exclusion polygon to break")
	}
	if err := independentFenceCheck(a, bad, 4.9); err == nil {
		t.Error("exclusions pulled in passed the fence check")
	}
}

func slicesContains(s []uint16, v uint16) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
