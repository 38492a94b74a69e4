package missions

import (
	"fmt"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"math"
	"sort"

	"github.com/paulmach/orb"
)

// Home is the planned home position (the launch point); altitude is AMSL
// when known, 0 otherwise.
type Home struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
	Alt float64 `json:"alt"`
}

// Plan is one vehicle's complete upload: mission (home not included; its
// items are numbered from 1 because ArduPilot's seq 0 is home), fence and
// rally items. It is what .plan and .waypoints files hold.
type Plan struct {
	Home        Home           `json:"home"`
	Mission     []mavitem.Item `json:"mission"`
	Fence       []mavitem.Item `json:"fence"`
	Rally       []mavitem.Item `json:"rally"`
	CruiseSpeed float64        `json:"cruise_speed,omitempty"`
	HoverSpeed  float64        `json:"hover_speed,omitempty"`
}

// MissionWithHome returns the mission as ArduPilot transfers it: seq 0 is
// the home position, the plan's items follow from seq 1.
func (p *Plan) MissionWithHome() []mavitem.Item {
	out := make([]mavitem.Item, 0, len(p.Mission)+1)
	out = append(out, mavitem.Item{Seq: 0, Frame: mavitem.FrameGlobal, Command: mavitem.CmdNavWaypoint, Current: 1, Autocontinue: 1,
		X: e7(p.Home.Lat), Y: e7(p.Home.Lon), Z: float32(p.Home.Alt), MissionType: mavitem.TypeMission})
	for i, it := range p.Mission {
		it.Seq = uint16(i + 1)
		it.MissionType = mavitem.TypeMission
		out = append(out, it)
	}
	return out
}

func e7(deg float64) int32 { return int32(math.Round(deg * 1e7)) }

func llOf(it mavitem.Item) orb.Point { return orb.Point{float64(it.Y) / 1e7, float64(it.X) / 1e7} }

// buildDronePlan makes drone's plan: its patrol on layer alt inside its
// share, from launch and back to its own landing spot on the pad (spot,
// metres; see landingSpots), or home when spot is nil.
func buildDronePlan(a *Area, pr projection, o PlanOptions, drone int, alt float64, launch Site, spotp *orb.Point, share []orb.Polygon, patrol []wp, rt *router) (*DronePlan, error) {
	lxy := pr.toXY(launch.Point)
	spot := lxy
	if spotp != nil {
		spot = *spotp
	}
	if !rt.transit.pointOK(lxy) {
		return nil, fmt.Errorf("launch point %q is inside or within %g m of a no-fly zone", launch.Name, o.Margin)
	}
	dp := &DronePlan{Drone: drone, Alt: alt, Launch: launch, Repeat: o.Repeat, Speed: o.Speed}
	dp.Home = Home{Lat: launch.Point[1], Lon: launch.Point[0]}
	dp.CruiseSpeed = o.Speed
	dp.HoverSpeed = math.Min(o.Speed, 5)
	for _, p := range share {
		ll := make(orb.Polygon, len(p))
		for i, r := range p {
			ll[i] = make(orb.Ring, len(r))
			for j, q := range r {
				ll[i][j] = pr.toLL(q)
			}
		}
		dp.Share = append(dp.Share, ll)
	}
	seq := uint16(1)
	var transitLegs [][2]orb.Point
	prev := lxy
	add := func(it mavitem.Item) uint16 {
		it.Seq = seq
		it.MissionType = mavitem.TypeMission
		it.Autocontinue = 1
		dp.Mission = append(dp.Mission, it)
		seq++
		return it.Seq
	}
	// talt is where the drone flies to its patrol and back: its own layer,
	// or the transit layer above every patrol when the options ask for one.
	talt := alt
	if o.TransitLayer {
		talt = o.TransitAlt
		dp.TransitAlt = talt
	}
	addWPAt := func(cmd uint16, p orb.Point, transit bool, z float64) uint16 {
		ll := pr.toLL(p)
		s := add(mavitem.Item{Frame: mavitem.FrameGlobalRelativeAlt, Command: cmd, X: e7(ll[1]), Y: e7(ll[0]), Z: float32(z)})
		if transit {
			dp.Transit = append(dp.Transit, s)
		}
		if transit || !rt.cell.segOK(prev, p) {
			// Leaves the drone's share: the fence must let it through.
			transitLegs = append(transitLegs, [2]orb.Point{prev, p})
		}
		prev = p
		return s
	}
	addWP := func(cmd uint16, p orb.Point, transit bool) uint16 { return addWPAt(cmd, p, transit, alt) }
	add(mavitem.Item{Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavTakeoff, X: e7(launch.Point[1]), Y: e7(launch.Point[0]), Z: float32(talt)})
	add(mavitem.Item{Frame: mavitem.FrameMission, Command: mavitem.CmdDoChangeSpeed, Param1: 1, Param2: float32(o.Speed), Param3: -1})
	in := rt.transit.path(lxy, patrol[0].p)
	if in == nil {
		return nil, fmt.Errorf("no path from launch point %q to the patrol that avoids the no-fly zones", launch.Name)
	}
	holdK, hold := -1, orb.Point{}
	if o.EntryHold && o.Repeat != 0 {
		holdK, hold = holdPoint(in, loopXY(patrol, o, rt), o.HoldClear)
	}
	if holdK == 0 && hold == lxy {
		// The whole way in runs near the loop: hold over the pad.
		dp.HoldSeq = add(mavitem.Item{Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavLoiterUnlim, X: e7(launch.Point[1]), Y: e7(launch.Point[0]), Z: float32(talt)})
		dp.Transit = append(dp.Transit, dp.HoldSeq)
	}
	for k, p := range in[1 : len(in)-1] {
		if k == holdK && hold != in[k] {
			dp.HoldSeq = addWPAt(mavitem.CmdNavLoiterUnlim, hold, true, talt)
		}
		if k+1 == holdK && hold == p {
			dp.HoldSeq = addWPAt(mavitem.CmdNavLoiterUnlim, p, true, talt)
			continue
		}
		addWPAt(mavitem.CmdNavWaypoint, p, true, talt)
	}
	if holdK == len(in)-2 && hold != in[holdK] {
		dp.HoldSeq = addWPAt(mavitem.CmdNavLoiterUnlim, hold, true, talt)
	}
	if o.TransitLayer {
		// Over the patrol's first waypoint at the transit layer, then down
		// to the patrol layer there.
		addWPAt(mavitem.CmdNavWaypoint, patrol[0].p, !rt.area.segOK(prev, patrol[0].p), talt)
	}
	first := addWP(mavitem.CmdNavWaypoint, patrol[0].p, !rt.area.segOK(prev, patrol[0].p))
	// A drone climbs where it stands on the pad and flies straight to its
	// first waypoint, so that leg is fenced from anywhere on the pad.
	transitLegs = append(transitLegs, [2]orb.Point{lxy, in[1]})
	var back []wp
	if n := len(patrol); o.Repeat != 0 && n > 2 && patrol[n-1].p == patrol[0].p {
		// A closed loop: DO_JUMP itself flies the closing leg.
		back = patrol[n-1:]
		patrol = patrol[:n-1]
	}
	for _, w := range patrol[1:] {
		if w.p == prev {
			continue
		}
		addWP(mavitem.CmdNavWaypoint, w.p, w.transit)
	}
	if o.Repeat != 0 {
		if back == nil {
			back = rt.connect(prev, patrol[0].p)
		}
		if len(back) == 0 {
			return nil, fmt.Errorf("cannot close the %s loop back to its start", o.Pattern)
		}
		for _, w := range back[:len(back)-1] {
			addWP(mavitem.CmdNavWaypoint, w.p, w.transit)
		}
		dp.LoopStart = first
		dp.JumpSeq = add(mavitem.Item{Frame: mavitem.FrameMission, Command: mavitem.CmdDoJump, Param1: float32(first), Param2: float32(o.Repeat)})
		if back[len(back)-1].transit {
			dp.Transit = append(dp.Transit, dp.JumpSeq)
		}
		if back[len(back)-1].transit || !rt.cell.segOK(prev, patrol[0].p) {
			transitLegs = append(transitLegs, [2]orb.Point{prev, patrol[0].p})
		}
	}
	out := rt.transit.path(prev, lxy)
	if out == nil {
		return nil, fmt.Errorf("no path back to launch point %q that avoids the no-fly zones", launch.Name)
	}
	// The patrol as RTL sees it: from anywhere on it straight home.
	patrolEnd := len(dp.Mission)
	if o.TransitLayer {
		addWPAt(mavitem.CmdNavWaypoint, prev, true, talt) // climb where the patrol ends
	}
	if o.End == "land" {
		for _, p := range out[1 : len(out)-1] {
			addWPAt(mavitem.CmdNavWaypoint, p, true, talt)
		}
		addWPAt(mavitem.CmdNavLand, spot, true, talt)
	} else {
		for _, p := range out[1 : len(out)-1] {
			addWPAt(mavitem.CmdNavWaypoint, p, true, talt)
		}
		s := add(mavitem.Item{Frame: mavitem.FrameMission, Command: mavitem.CmdNavReturnToLaunch})
		dp.Transit = append(dp.Transit, s)
		transitLegs = append(transitLegs, [2]orb.Point{prev, lxy})
	}
	var flown [][2]orb.Point
	for _, l := range dp.Legs() {
		flown = append(flown, [2]orb.Point{pr.toXY(l.From), pr.toXY(l.To)})
	}
	var extra []orb.Polygon
	if o.TransitLayer {
		// An RTL from anywhere on the patrol flies straight home: the fence
		// holds every such return (the convex hull of the patrol and the
		// pad), and simplification keeps the returns to the patrol's
		// waypoints inside.
		// Buffered like the fence's corridors (an octagon around each
		// point holds a circle of the corridor radius and a metre), so no
		// return runs along the fence's edge.
		rb := (math.Max(o.Margin, 5) + 1) / math.Cos(math.Pi/8)
		var pts []orb.Point
		around := func(p orb.Point) {
			for k := 0; k < 8; k++ {
				th := float64(k) * math.Pi / 4
				pts = append(pts, orb.Point{p[0] + rb*math.Cos(th), p[1] + rb*math.Sin(th)})
			}
		}
		around(lxy)
		around(spot)
		for _, it := range dp.Mission[:patrolEnd] {
			if it.Command == mavitem.CmdNavWaypoint {
				p := pr.toXY(llOf(it))
				around(p)
				flown = append(flown, [2]orb.Point{p, lxy}, [2]orb.Point{p, spot})
			}
		}
		if h := convexHull(pts); len(h) >= 4 {
			extra = append(extra, orb.Polygon{h})
		}
	}
	fence, err := buildFence(a, pr, share, lxy, launch.Radius, transitLegs, flown, extra, o)
	if err != nil {
		return nil, err
	}
	dp.Fence, dp.Simplified, dp.fenceBefore = fence.items, fence.changes, fence.before
	dp.FenceParams = fenceParams(a)
	// RTL climbs to RTL_ALT (cm) where it is below it before it flies
	// home, so a drone sent home from its patrol returns in the transit
	// layer, or without one on its own layer: drones sent home together
	// do not meet on one return altitude. It flies to its own landing
	// spot on the pad (its first rally point; RALLY_INCL_HOME 0 so the
	// shared home does not win, RALLY_LIMIT_KM 0 so it is used from any
	// distance) and lands there. Without a spot (alone on the pad, or a
	// pad too small) it returns home: where it armed.
	dp.FenceParams = append(dp.FenceParams, ParamValue{"RTL_ALT", math.Round(talt * 100)})
	rally := a.Rally
	if spotp != nil {
		dp.FenceParams = append(dp.FenceParams, ParamValue{"RALLY_INCL_HOME", 0}, ParamValue{"RALLY_LIMIT_KM", 0})
		rally = append([]Site{{Name: "landing spot", Point: pr.toLL(spot), Alt: talt}}, a.Rally...)
	}
	fsp, err := fenceSpaceOf(dp.Fence, pr.toXY, o.Margin/2+0.5)
	if err != nil {
		return nil, fmt.Errorf("drone %d: %w", drone, err)
	}
	for _, r := range rally {
		if why := rallyUnreachable(fsp, rt.transit, pr.toXY(r.Point)); why != "" {
			// An RTL flies to the nearest rally point: one outside this
			// drone's fence (another drone's part of the area) would take
			// it through its fence on the way.
			dp.Notes = append(dp.Notes, fmt.Sprintf("rally point %q left out: %s", r.Name, why))
			continue
		}
		ralt := r.Alt
		if ralt == 0 {
			// The return altitude: ArduCopter returns at the higher of
			// RTL_ALT and the rally point's altitude.
			ralt = talt
		}
		dp.Rally = append(dp.Rally, mavitem.Item{Seq: uint16(len(dp.Rally)), Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavRallyPoint, Autocontinue: 1,
			X: e7(r.Point[1]), Y: e7(r.Point[0]), Z: float32(ralt), MissionType: mavitem.TypeRally})
	}
	dropUnreachableRally(dp, pr, fsp, rt.transit)
	if len(dp.Rally) == 0 {
		dp.Rally = nil // as a plan file reads back
	}
	return dp, nil
}

// rallyUnreachable says why rally point r (metres) is no place for the
// drone's RTL: outside its fence f or in or near a no-fly zone (free); ""
// when it is fine.
func rallyUnreachable(f, free *space, r orb.Point) string {
	if f != nil && !f.pointOK(r) {
		return "it lies outside this drone's fence (or within half the margin of it), so the drone's RTL to it would breach the fence"
	}
	if !free.pointOK(r) {
		return "it lies in or near a no-fly zone"
	}
	return ""
}

// dropUnreachableRally leaves out the rally points the mission-end RTL
// would fly to straight out of the fence or near a no-fly zone (free;
// RTLTarget picks the nearest), until the RTL leg is clear, and notes
// each one.
func dropUnreachableRally(dp *DronePlan, pr projection, f, free *space) {
	for f != nil && len(dp.Rally) > 0 {
		legs := dp.Legs()
		if len(legs) == 0 {
			return
		}
		l := legs[len(legs)-1]
		if len(dp.Mission) == 0 || dp.Mission[len(dp.Mission)-1].Command != mavitem.CmdNavReturnToLaunch {
			return
		}
		if a, b := pr.toXY(l.From), pr.toXY(l.To); f.segOK(a, b) && free.segOK(a, b) {
			return
		}
		k := -1
		for i, r := range dp.Rally {
			if llOf(r) == l.To {
				k = i
			}
		}
		if k < 0 {
			return // the RTL goes home: not a rally point's doing
		}
		dp.Notes = append(dp.Notes, fmt.Sprintf("rally point at %.7f, %.7f left out: the mission-end RTL would fly to it straight out of this drone's fence or near a no-fly zone", l.To[1], l.To[0]))
		dp.Rally = append(dp.Rally[:k], dp.Rally[k+1:]...)
		for i := range dp.Rally {
			dp.Rally[i].Seq = uint16(i)
		}
	}
}

// ParamValue is an autopilot parameter a plan needs on the vehicle to be
// flown as it was checked.
type ParamValue struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// fenceParams are what make ArduCopter enforce the uploaded fence as the
// checker assumed: enabled, polygon and maximum altitude (not the default
// 300 m circle around home, which a large area would breach), the band's
// top as the ceiling, and RTL (or land) on a breach.
func fenceParams(a *Area) []ParamValue {
	const fenceTypeAltMaxPolygon = 1 | 4
	return []ParamValue{
		{"FENCE_TYPE", fenceTypeAltMaxPolygon},
		{"FENCE_ALT_MAX", a.MaxAlt},
		{"FENCE_ACTION", 1},
		{"FENCE_ENABLE", 1},
	}
}

// builtFence is a drone's fence, what simplification changed in it, and
// its rings before simplification.
type builtFence struct {
	items   []mavitem.Item
	changes []BoundaryChange
	before  []fenceRing
}

// fencePoly is one polygon of a fence being built: metric vertices and,
// for outlines taken from the area, their exact lon/lat.
type fencePoly struct {
	cmd  uint16
	name string
	xy   orb.Ring
	ll   orb.Ring // nil: convert xy
}

// buildFence makes the drone's fence: one inclusion polygon around its
// share and its transit legs (ArduPilot demands the vehicle be inside every
// inclusion polygon, so there is exactly one), exclusion polygons for holes
// and no-fly polygons, exclusion circles for no-fly circles. Zones wholly
// outside the inclusion polygon are left out: they exclude nothing more.
// When the polygons hold more vertices than the vehicle's fence storage,
// they are simplified — the inclusion only shrinks, exclusions only grow —
// keeping every flown leg at least Margin/2 (the checker's default fence
// margin) inside, and the launch pad inside.
func buildFence(a *Area, pr projection, share []orb.Polygon, launch orb.Point, padRadius float64, legs, flown [][2]orb.Point, extra []orb.Polygon, o PlanOptions) (builtFence, error) {
	margin := o.Margin
	r := math.Max(margin, 5)
	parts := append([]orb.Polygon{}, share...)
	parts = append(parts, extra...)
	parts = append(parts, orb.Polygon{circleRing(launch, padRadius+r, 16)})
	for _, l := range legs {
		if l[0] == l[1] {
			continue
		}
		lr := r
		if l[0] == launch || l[1] == launch {
			lr += padRadius // it starts or ends anywhere on the pad
		}
		parts = append(parts, capsule(l[0], l[1], lr))
	}
	u, err := unionAll(parts)
	if err != nil {
		return builtFence{}, fmt.Errorf("fence: union of share and transit legs: %w", err)
	}
	polys := fromSF(u)
	var shell orb.Ring
	var holes []orb.Ring
	for _, p := range polys {
		holes = append(holes, p[1:]...)
	}
	if len(polys) == 1 {
		shell = polys[0][0]
	} else {
		h := u.ConvexHull()
		hp := fromSF(h)
		if len(hp) == 0 {
			return builtFence{}, fmt.Errorf("fence: convex hull of %d parts is empty", len(polys))
		}
		shell = hp[0][0]
	}
	fps := []fencePoly{{cmd: mavitem.CmdFencePolyInclusion, name: "fence", xy: shell}}
	// Holes of the union that are holes of the event area become exclusion
	// polygons. The others are either no-fly zones (written below with their
	// exact outline) or pockets enclosed by transit legs and slivers where
	// a leg's corridor meets the share: not features of the area, and a
	// sliver exclusion a metre from a leg would trip the fence.
	for _, h := range holes {
		c := interiorPoint(h)
		inAreaHole := false
		for _, p := range a.Include {
			for _, ah := range p[1:] {
				inAreaHole = inAreaHole || ringContainsStrict(pr.ring(ah), c)
			}
		}
		if inAreaHole {
			fps = append(fps, fencePoly{cmd: mavitem.CmdFencePolyExclusion, name: a.Name + " hole", xy: h})
		}
	}
	var circleItems []mavitem.Item
	for _, z := range a.NoFly {
		if z.IsCircle() {
			c := pr.toXY(z.Center)
			if outsideRing(shell, circleRing(c, z.Radius, 16)) {
				continue
			}
			circleItems = append(circleItems, mavitem.Item{Frame: mavitem.FrameGlobal, Command: mavitem.CmdFenceCircleExclusion, Param1: float32(z.Radius),
				X: e7(z.Center[1]), Y: e7(z.Center[0]), Autocontinue: 1, MissionType: mavitem.TypeFence})
			continue
		}
		xy := pr.ring(z.Polygon[0])
		if outsideRing(shell, xy) {
			continue
		}
		fps = append(fps, fencePoly{cmd: mavitem.CmdFencePolyExclusion, name: z.Name, xy: xy, ll: z.Polygon[0]})
	}
	var bf builtFence
	for _, fp := range fps {
		ll := fp.ll
		if ll == nil {
			ll = make(orb.Ring, len(fp.xy))
			for i, q := range fp.xy {
				ll[i] = pr.toLL(q)
			}
		}
		bf.before = append(bf.before, fenceRing{cmd: fp.cmd, name: fp.name, ring: ll})
	}
	verts := 0
	largest := 0
	for _, fp := range fps {
		verts += len(fp.xy) - 1
		largest = max(largest, len(fp.xy)-1)
	}
	if budget := fenceVertexBudget(o.Capacity.WithDefaults(), len(fps), len(circleItems)); verts > budget || largest > MaxPolygonVertices {
		bf.changes = simplifyFence(pr, fps, flown, launch, padRadius, margin/2+0.5, budget)
	}
	var items []mavitem.Item
	for _, fp := range fps {
		n := len(fp.xy) - 1
		for i := 0; i < n; i++ {
			ll := pr.toLL(fp.xy[i])
			if fp.ll != nil {
				ll = fp.ll[i]
			}
			items = append(items, mavitem.Item{Frame: mavitem.FrameGlobal, Command: fp.cmd, Param1: float32(n), X: e7(ll[1]), Y: e7(ll[0]), Autocontinue: 1, MissionType: mavitem.TypeFence})
		}
	}
	// Polygons first, then circles: the order QGC's .plan keeps them in.
	items = append(items, circleItems...)
	for i := range items {
		items[i].Seq = uint16(i)
	}
	bf.items = items
	return bf, nil
}

// simplifyFence reduces the fence polygons in place to budget vertices in
// total (and MaxPolygonVertices each): the inclusion shrinks, exclusions
// grow, every flown leg keeps clear metres from every new edge, and the
// launch pad stays inside. It returns what changed.
func simplifyFence(pr projection, fps []fencePoly, flown [][2]orb.Point, launch orb.Point, padRadius, clear float64, budget int) []BoundaryChange {
	s := newSimplifier()
	fls := make([]bool, len(fps))
	ids := make([]int, len(fps))
	for i, fp := range fps {
		insideFlyable := fp.cmd == mavitem.CmdFencePolyInclusion
		fls[i] = (signedArea(fp.xy) > 0) == insideFlyable
		// Each polygon is its own group: fence zones may overlap, the
		// vehicle only asks to be inside the inclusion and outside the rest.
		ids[i] = s.addRing(fp.xy, fls[i], i, MaxPolygonVertices)
	}
	for _, l := range flown {
		s.protect(l[0], l[1], clear)
	}
	s.protect(launch, launch, padRadius+clear)
	s.run(simplifyFree, math.Inf(1), budget)
	var changes []BoundaryChange
	for i := range fps {
		fp := &fps[i]
		out, idx := s.result(ids[i], fls[i])
		if len(out) == len(fp.xy) {
			continue
		}
		orig := fp.xy
		fp.xy = out
		if fp.ll != nil {
			ll := make(orb.Ring, 0, len(idx)+1)
			for j, k := range idx {
				if k >= 0 {
					ll = append(ll, fp.ll[k])
				} else {
					ll = append(ll, pr.toLL(out[j]))
				}
			}
			fp.ll = append(ll, ll[0])
		}
		boundary := "fence exclusion"
		if fp.cmd == mavitem.CmdFencePolyInclusion {
			boundary = "fence inclusion"
		}
		changes = append(changes, newChange(boundary, fp.name, fp.cmd == mavitem.CmdFencePolyInclusion, orig, out))
	}
	return changes
}

// outsideRing tells whether ring z lies wholly outside ring shell (no
// vertex of either inside the other, no edges crossing).
func outsideRing(shell, z orb.Ring) bool {
	if !shell.Bound().Intersects(z.Bound()) {
		return true
	}
	if ringsCross(shell, z) {
		return false
	}
	return !ringContainsStrict(shell, z[0]) && !ringContainsStrict(z, shell[0])
}

// interiorPoint returns a point strictly inside a simple ring: the middle
// of the widest interior span of the horizontal line through its centre.
func interiorPoint(r orb.Ring) orb.Point {
	c := r.Bound().Center()
	y := c[1]
	var xs []float64
	for i := 0; i+1 < len(r); i++ {
		a, b := r[i], r[i+1]
		if (a[1] > y) != (b[1] > y) {
			xs = append(xs, a[0]+(y-a[1])*(b[0]-a[0])/(b[1]-a[1]))
		}
	}
	if len(xs) < 2 {
		return c
	}
	sort.Float64s(xs)
	best, bw := c, -1.0
	for i := 0; i+1 < len(xs); i += 2 {
		if w := xs[i+1] - xs[i]; w > bw {
			best, bw = orb.Point{(xs[i] + xs[i+1]) / 2, y}, w
		}
	}
	return best
}

// loopXY is the patrol loop as flown (metres): its waypoints and the
// way back to the first, as buildDronePlan closes it.
func loopXY(patrol []wp, o PlanOptions, rt *router) []orb.Point {
	var out []orb.Point
	for _, w := range patrol {
		out = append(out, w.p)
	}
	if n := len(patrol); n > 2 && patrol[n-1].p == patrol[0].p {
		return out
	}
	for _, w := range rt.connect(patrol[len(patrol)-1].p, patrol[0].p) {
		out = append(out, w.p)
	}
	return out
}

// holdPoint finds PlanOptions.EntryHold's hold on the way in (path, from
// the launch point to the loop's first waypoint, metres): walking back
// from the loop, the first point at least clear from every leg of the
// loop. k is the index of the path's segment it lies on (the hold is
// path[k] itself or lies between path[k] and path[k+1]); none found, it is
// the launch point (k 0).
func holdPoint(path, loop []orb.Point, clear float64) (int, orb.Point) {
	far := func(p orb.Point) bool {
		for i := range loop {
			if pointSegDist(p, loop[i], loop[(i+1)%len(loop)]) < clear {
				return false
			}
		}
		return true
	}
	for k := len(path) - 2; k >= 0; k-- {
		a, b := path[k], path[k+1]
		l := math.Hypot(b[0]-a[0], b[1]-a[1])
		n := int(math.Ceil(l))
		for s := 1; s <= n; s++ {
			f := 1 - float64(s)/float64(n)
			p := orb.Point{a[0] + (b[0]-a[0])*f, a[1] + (b[1]-a[1])*f}
			if s == n {
				p = a
			}
			if far(p) {
				return k, p
			}
		}
	}
	return 0, path[0]
}
