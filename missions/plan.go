package missions

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/peterstace/simplefeatures/geom"

	"github.com/burgut-uav/burgut/internal/latlon"
)

// PlanOptions are the operator's choices for one planning run. Zero values
// take the defaults documented on each field.
type PlanOptions struct {
	Pattern string `json:"pattern"` // perimeter, sweep, loop or corridor
	Drones  int    `json:"drones"`  // default 1
	// Alt is the first drone's altitude in metres above launch; the others
	// get their own layers LayerStep apart inside the area's band.
	// Default: the middle of the band.
	Alt       float64 `json:"alt"`
	LayerStep float64 `json:"layer_step"` // default 10 m
	// Spacing between sweep lines; default from the camera footprint:
	// 2·Alt·tan(FOV/2)·(1−Overlap).
	Spacing float64 `json:"spacing"`
	FOVDeg  float64 `json:"fov_deg"` // default 70°
	Overlap float64 `json:"overlap"` // default 0.2
	// Margin keeps every leg this far from the area's edge, holes and
	// no-fly zones. Default 10 m.
	Margin float64 `json:"margin"`
	Offset float64 `json:"offset"` // corridor: lateral offset from the route, metres, + = left
	// Separation is the horizontal distance kept between neighbouring
	// drones' parts (default DefaultPartGap, 10 m; the checker's minimum
	// is CheckOptions.Separation); each part reaches Margin − Separation/2
	// past its cut line so coverage has no gap along the cut.
	Separation float64 `json:"separation"`
	Speed      float64 `json:"speed"` // cruise speed m/s, default 10
	// Repeat: 0 flies the pattern once, N > 0 repeats it N more times with
	// DO_JUMP, -1 repeats until the battery failsafe or the operator ends it.
	Repeat int    `json:"repeat"`
	End    string `json:"end"` // "rtl" (default) or "land" at the launch point
	// POIs for the loop pattern, lon/lat; the area's poi features are used too.
	POIs []orb.Point `json:"pois,omitempty"`
	// Launch is where the drones take off and return to. When set it
	// replaces the area's launch features; an area without any (a polygon
	// straight from a GIS team) needs it.
	Launch *LaunchPoint `json:"launch,omitempty"`
	// Capacity is what each vehicle stores (zero fields: the defaults of
	// Capacity). Boundaries are simplified until every drone's mission and
	// fence fit it.
	Capacity Capacity `json:"capacity"`
	// Vehicles are the vehicles the plan is for, by ID. The HTTP API reads
	// their storage (CapacityFromParams) and plans for the smallest;
	// PlanArea itself does not look at them.
	Vehicles []string `json:"vehicles,omitempty"`
	// TransitLayer flies the way from the launch point to each patrol and
	// back on a layer of its own, TransitAlt, so transits are deconflicted
	// from every patrol by altitude: the takeoff climbs to it, the transit
	// waypoints fly it, the drone descends to its patrol layer over the
	// patrol's first waypoint and climbs back where the patrol ends;
	// RTL_ALT is set to it (FenceParams) so an RTL from anywhere on the
	// patrol — how an operation sends a drone home — climbs to it and flies
	// straight home in it, and the fence holds those returns (the checker's
	// return rule verifies them). Operations plan with it.
	TransitLayer bool `json:"transit_layer,omitempty"`
	// TransitAlt is the transit layer, metres above launch: at least
	// LayerStep above the highest patrol layer (RTL only ever climbs) and
	// inside the band. Default LayerStep above the highest patrol layer;
	// setting it implies TransitLayer.
	TransitAlt float64 `json:"transit_alt,omitempty"`
	// EntryHold puts a hold (NAV_LOITER_UNLIM, DronePlan.HoldSeq) on the
	// way to the patrol: the drone waits there, on its transit altitude,
	// until it is told to go on (MISSION_SET_CURRENT to LoopStart). The
	// operations scheduler holds a replacement there until the drone it
	// relieves is far enough along the loop that the two do not meet at
	// the loop's entry. The hold is the point of the transit path nearest
	// the entry that lies HoldClear from every leg of the loop, or over
	// the launch point when the whole transit runs closer than that.
	EntryHold bool `json:"entry_hold,omitempty"`
	// HoldClear is the hold's horizontal distance from the patrol loop,
	// metres (default 40: beyond the separation monitor's 30 m warning).
	HoldClear float64 `json:"hold_clear,omitempty"`
}

// LaunchPoint is a launch pad given with the plan options rather than in
// the area: its centre and, optionally, its radius (drones parked
// anywhere on it; each drone's fence contains the whole pad).
type LaunchPoint struct {
	Lat    float64 `json:"lat"`
	Lon    float64 `json:"lon"`
	Radius float64 `json:"radius_m,omitempty"`
	Name   string  `json:"name,omitempty"`
}

// launchHelp says every way to give a launch point; the errors about a
// missing or bad one end with it.
const launchHelp = `add a feature of kind "launch" (a Point) to the area, or give one with the plan: --launch LAT,LON[,RADIUS] on burgut plan, "launch": {"lat": LAT, "lon": LON, "radius_m": RADIUS} in the API`

// ErrNoLaunch is returned when an area has nowhere to take off from and
// the options give no launch point either.
var ErrNoLaunch = errors.New("area has no launch point: " + launchHelp)

func (l *LaunchPoint) validate() error {
	if math.IsNaN(l.Lat) || math.IsNaN(l.Lon) || l.Lat < -90 || l.Lat > 90 || l.Lon < -180 || l.Lon > 180 {
		return fmt.Errorf("launch %g,%g: want latitude in [-90, 90] and longitude in [-180, 180]", l.Lat, l.Lon)
	}
	if l.Lat == 0 && l.Lon == 0 {
		return fmt.Errorf("launch 0,0: latitude and longitude missing (want {\"lat\": LAT, \"lon\": LON})")
	}
	if math.IsNaN(l.Radius) || l.Radius < 0 || l.Radius > maxLaunchRadius {
		return fmt.Errorf("launch radius %g m: want 0–%g", l.Radius, float64(maxLaunchRadius))
	}
	return nil
}

// ParseLaunch parses the CLI form of a launch point: "LAT,LON" or
// "LAT,LON,RADIUS" (degrees, metres).
func ParseLaunch(s string) (*LaunchPoint, error) {
	pt, err := latlon.Parse(s, "RADIUS")
	if err != nil {
		return nil, fmt.Errorf("launch %w", err)
	}
	l := &LaunchPoint{Lat: pt.Lat, Lon: pt.Lon, Radius: pt.Z}
	if err := l.validate(); err != nil {
		return nil, err
	}
	return l, nil
}

// Effective returns the options as PlanArea applies them to a: every zero
// value replaced by its default (spacing from the camera footprint, the
// band's middle as altitude…), so an operator sees what was planned.
func (o PlanOptions) Effective(a *Area) (PlanOptions, error) {
	err := o.defaults(a)
	return o, err
}

func (o *PlanOptions) defaults(a *Area) error {
	if o.Pattern == "" {
		o.Pattern = PatternPerimeter
	}
	okp := false
	for _, p := range Patterns {
		okp = okp || p == o.Pattern
	}
	if !okp {
		return fmt.Errorf("pattern %q: want one of %v", o.Pattern, Patterns)
	}
	if o.Drones == 0 {
		o.Drones = 1
	}
	if o.Drones < 1 || o.Drones > 100 {
		return fmt.Errorf("drones %d: want 1–100", o.Drones)
	}
	if o.Alt == 0 {
		o.Alt = math.Round((a.MinAlt + a.MaxAlt) / 2)
	}
	if o.Alt < a.MinAlt || o.Alt > a.MaxAlt {
		return fmt.Errorf("alt %g m: outside the area's band [%g, %g] m", o.Alt, a.MinAlt, a.MaxAlt)
	}
	if o.LayerStep == 0 {
		o.LayerStep = DefaultLayerStep
	}
	if o.LayerStep < 1 {
		return fmt.Errorf("layer_step %g m: want at least 1", o.LayerStep)
	}
	if o.FOVDeg == 0 {
		o.FOVDeg = 70
	}
	if o.FOVDeg <= 0 || o.FOVDeg >= 170 {
		return fmt.Errorf("fov_deg %g: want (0, 170)", o.FOVDeg)
	}
	if o.Overlap == 0 {
		o.Overlap = 0.2
	}
	if o.Overlap < 0 || o.Overlap >= 0.95 {
		return fmt.Errorf("overlap %g: want [0, 0.95)", o.Overlap)
	}
	if o.Spacing == 0 {
		o.Spacing = 2 * o.Alt * math.Tan(o.FOVDeg/2*math.Pi/180) * (1 - o.Overlap)
	}
	if o.Spacing < 1 || o.Spacing > 10000 {
		return fmt.Errorf("spacing %g m: want 1–10000", o.Spacing)
	}
	if o.Margin == 0 {
		o.Margin = 10
	}
	if o.Margin < 0 || o.Margin > 1000 {
		return fmt.Errorf("margin %g m: want 0–1000", o.Margin)
	}
	if o.Separation == 0 {
		o.Separation = DefaultPartGap
	}
	if o.Separation < 0 || o.Separation > 1000 {
		return fmt.Errorf("separation %g m: want 0–1000", o.Separation)
	}
	if o.Speed == 0 {
		o.Speed = 10
	}
	if o.Speed <= 0 || o.Speed > 50 {
		return fmt.Errorf("speed %g m/s: want (0, 50]", o.Speed)
	}
	if o.Repeat < -1 || o.Repeat > 1000 {
		return fmt.Errorf("repeat %d: want -1 (indefinitely), 0 or a count up to 1000", o.Repeat)
	}
	if o.End == "" {
		o.End = "rtl"
	}
	if o.End != "rtl" && o.End != "land" {
		return fmt.Errorf("end %q: want rtl or land", o.End)
	}
	if math.IsNaN(o.Offset) || math.Abs(o.Offset) > 1000 {
		return fmt.Errorf("offset %g m: want within ±1000", o.Offset)
	}
	if o.Launch != nil {
		if err := o.Launch.validate(); err != nil {
			return err
		}
		c := a.Bound().Center()
		if d := geo.Distance(c, orb.Point{o.Launch.Lon, o.Launch.Lat}); d > maxLaunchDistance {
			return fmt.Errorf("launch %g,%g: %.1f km from the area, want within %g km (are latitude and longitude swapped?)", o.Launch.Lat, o.Launch.Lon, d/1e3, maxLaunchDistance/1e3)
		}
	}
	if o.TransitAlt != 0 {
		o.TransitLayer = true
	}
	if o.TransitLayer {
		top := math.Inf(-1)
		layers := altitudeLayers(a, *o)
		for i := 0; i < o.Drones; i++ {
			top = math.Max(top, layers[i%len(layers)])
		}
		if o.TransitAlt == 0 {
			o.TransitAlt = top + o.LayerStep
		}
		if math.IsNaN(o.TransitAlt) || o.TransitAlt < top+o.LayerStep || o.TransitAlt > a.MaxAlt {
			return fmt.Errorf("transit_alt %g m: the transit layer must lie at least layer_step (%g m) above the highest patrol layer (%g m) and inside the band [%g, %g] m; lower alt, plan fewer drones or a smaller layer_step", o.TransitAlt, o.LayerStep, top, a.MinAlt, a.MaxAlt)
		}
	}
	if o.EntryHold && o.HoldClear == 0 {
		o.HoldClear = defaultHoldClear
	}
	if math.IsNaN(o.HoldClear) || o.HoldClear < 0 || o.HoldClear > 1000 {
		return fmt.Errorf("hold_clear %g m: want 0 (default %g) to 1000", o.HoldClear, float64(defaultHoldClear))
	}
	o.Capacity = o.Capacity.WithDefaults()
	return o.Capacity.Validate()
}

// defaultHoldClear is PlanOptions.HoldClear's default: a drone holding
// there is beyond the live separation monitor's default 30 m warning
// distance from anyone on the loop.
const defaultHoldClear = 40

// maxLaunchDistance bounds how far a launch point given with the options
// may be from the area's centre: a drone patrols from nearby.
const maxLaunchDistance = 20e3

// CheckOptions returns base with what the plan was made for filling its
// zero fields: the margin, layer step and vehicle capacity (call it on
// Effective options). Fields base sets are kept: a stricter rule wins.
func (o PlanOptions) CheckOptions(base CheckOptions) CheckOptions {
	c := o.Capacity.WithDefaults()
	fill := func(dst *float64, v float64) {
		if *dst == 0 {
			*dst = v
		}
	}
	filli := func(dst *int, v int) {
		if *dst == 0 {
			*dst = v
		}
	}
	fill(&base.Margin, o.Margin)
	fill(&base.LayerStep, o.LayerStep)
	filli(&base.MaxItems, c.MissionItems)
	filli(&base.FenceItems, c.FenceItems)
	filli(&base.FenceBytes, c.FenceBytes)
	return base
}

// DronePlan is what one drone flies: its mission, fence and rally items
// (in the embedded Plan), plus what the checker needs to know about it.
type DronePlan struct {
	Drone int `json:"drone"`
	Plan
	Alt    float64       `json:"alt"` // altitude layer, metres above launch
	Launch Site          `json:"launch"`
	Share  []orb.Polygon `json:"-"` // the part of the area this drone patrols, lon/lat
	// Transit marks legs that transfer (from launch, between separate
	// parts, back home) by the seq of the item they arrive at; they must
	// stay clear of no-fly zones and inside the drone's fence, but may leave
	// the event area (a launch pad beside it, a road between two fields).
	Transit []uint16 `json:"transit"`
	// LoopStart and JumpSeq are the first repeated item and the DO_JUMP
	// (0 when the pattern is flown once).
	LoopStart uint16 `json:"loop_start"`
	JumpSeq   uint16 `json:"jump_seq"`
	// HoldSeq is the hold on the way to the patrol (PlanOptions.EntryHold;
	// 0: none): a NAV_LOITER_UNLIM the drone waits at until its mission
	// is set to LoopStart.
	HoldSeq uint16  `json:"hold_seq,omitempty"`
	Repeat  int     `json:"repeat"`
	Speed   float64 `json:"speed"`
	// FenceParams must be set on the vehicle after the fence is uploaded:
	// an uploaded fence does nothing until FENCE_ENABLE, and ArduCopter's
	// default FENCE_TYPE adds a 300 m circle and a 100 m ceiling the plan
	// was not checked against. With a transit layer they also set RTL_ALT
	// to it, so an RTL flies home the way the plan was checked.
	FenceParams []ParamValue `json:"fence_params"`
	// TransitAlt is the transit layer the plan flies to its patrol and
	// back (0: none, the transit flies the drone's own layer Alt).
	TransitAlt float64 `json:"transit_alt,omitempty"`
	// Simplified lists every boundary that was simplified to fit the
	// vehicle's capacity and how far it moved (empty when nothing was).
	Simplified []BoundaryChange `json:"simplified"`
	// Notes say what the planner left out of this drone's plan and why
	// (a rally point outside its fence, which its RTL would breach the
	// fence to reach).
	Notes []string `json:"notes,omitempty"`
	// fenceBefore are the fence's rings before simplification, lon/lat
	// (tests compare the uploaded fence against them).
	fenceBefore []fenceRing
}

// fenceRing is one polygon of a fence before simplification.
type fenceRing struct {
	cmd  uint16
	name string
	ring orb.Ring // lon/lat, closed
}

// PlanArea turns an area into one plan per drone. The area is split into
// equal-area strips (equal-length route parts for the corridor pattern),
// each drone patrols its part at its own altitude layer inside its own
// fence, and starts and ends at the launch point nearest its part. The
// result has not been checked yet: run Check before uploading.
//
// Boundaries are simplified, conservatively, until each drone's mission
// and fence fit o.Capacity: a detailed GIS outline is first reduced within
// a tolerance (Margin/4, then more while the plans still do not fit), the
// drones plan over that smaller area, and each fence is then reduced to the
// vehicle's fence storage while keeping every leg Margin/2 inside it.
// DronePlan.Simplified reports what moved and by how much.
func PlanArea(a *Area, o PlanOptions) ([]*DronePlan, error) {
	if err := o.defaults(a); err != nil {
		return nil, fmt.Errorf("plan options: %w", err)
	}
	if o.Launch != nil {
		a = a.Clone()
		name := o.Launch.Name
		if name == "" {
			name = "launch"
		}
		a.Launch = []Site{{Name: name, Point: orb.Point{o.Launch.Lon, o.Launch.Lat}, Radius: o.Launch.Radius}}
	}
	if len(a.Launch) == 0 {
		return nil, ErrNoLaunch
	}
	pr := newProjection(a.Bound())
	// Vertex budgets to try for the area's outlines: none while they would
	// fit one fence as they are, then what one fence holds, then less (a
	// drone's fence also follows its transit legs and launch pad).
	polys, circles := 0, 0
	for _, p := range a.Include {
		polys += len(p)
	}
	for _, z := range a.NoFly {
		if z.IsCircle() {
			circles++
		} else {
			polys++
		}
	}
	v := fenceVertexBudget(o.Capacity, polys, circles)
	budgets := []int{-1, v, v * 3 / 4, v / 2, v / 3}
	if areaVertices(a) > v {
		budgets = budgets[1:]
	}
	var best []*DronePlan
	var firstErr error
	for _, budget := range budgets {
		sa, changes := a, []BoundaryChange(nil)
		if budget >= 0 {
			sa, changes = simplifyArea(a, pr, budget)
		}
		plans, err := planOn(sa, pr, o)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, dp := range plans {
			dp.Simplified = append(append([]BoundaryChange{}, changes...), dp.Simplified...)
		}
		best = plans
		fenceOK, missionOK := plansFit(plans, o.Capacity)
		if fenceOK && (missionOK || o.Pattern == PatternSweep) {
			break // a sweep too long for the vehicle is not cured by simpler outlines
		}
	}
	if best == nil {
		return nil, firstErr
	}
	return best, nil
}

// simplifyFree is how far (metres) an outline may move for nothing: such
// vertices are removed even when the budget is met (densified straight
// edges, GIS noise).
const simplifyFree = 0.05

// plansFit tells whether every plan's fence and mission fit the vehicle.
func plansFit(plans []*DronePlan, c Capacity) (fenceOK, missionOK bool) {
	fenceOK, missionOK = true, true
	for _, dp := range plans {
		if len(dp.Mission)+1 > c.MissionItems {
			missionOK = false
		}
		if ok, _ := FenceUsageOf(dp.Fence).fits(c); !ok {
			fenceOK = false
		}
	}
	return fenceOK, missionOK
}

// areaVertices counts the polygon vertices of the area's outlines (event
// area rings and no-fly polygons).
func areaVertices(a *Area) int {
	n := 0
	for _, p := range a.Include {
		for _, r := range p {
			n += len(r) - 1
		}
	}
	for _, z := range a.NoFly {
		for _, r := range z.Polygon {
			n += len(r) - 1
		}
	}
	return n
}

// simplifyArea returns a copy of a whose outlines hold at most budget
// vertices in total (but never fewer than three per ring), moved as
// little as the simplifier finds: event-area polygons only shrink (shells
// shrink, holes grow), no-fly polygons only grow. The changes list every
// ring that changed.
func simplifyArea(a *Area, pr projection, budget int) (*Area, []BoundaryChange) {
	type ref struct {
		ring        int
		flyableLeft bool
		orig        orb.Ring // lon/lat
		boundary    string
		name        string
		inside      bool // the ring's inside is flyable (it may only shrink)
		set         func(orb.Ring)
	}
	sa := a.Clone()
	s := newSimplifier()
	var refs []ref
	group := 0
	add := func(r orb.Ring, insideFlyable bool, boundary, name string, set func(orb.Ring)) {
		xy := pr.ring(r)
		fl := (signedArea(xy) > 0) == insideFlyable
		refs = append(refs, ref{ring: s.addRing(xy, fl, group, 0), flyableLeft: fl, orig: r, boundary: boundary, name: name, inside: insideFlyable, set: set})
	}
	for pi := range sa.Include {
		for ri := range sa.Include[pi] {
			boundary := "event-area"
			if ri > 0 {
				boundary = "event-area hole"
			}
			add(sa.Include[pi][ri], ri == 0, boundary, a.Name, func(r orb.Ring) { sa.Include[pi][ri] = r })
		}
		group++
	}
	for zi := range sa.NoFly {
		z := &sa.NoFly[zi]
		for ri := range z.Polygon {
			add(z.Polygon[ri], ri > 0, "no-fly", z.Name, func(r orb.Ring) { z.Polygon[ri] = r })
		}
		group++
	}
	s.run(simplifyFree, math.Inf(1), budget)
	var changes []BoundaryChange
	for _, rf := range refs {
		xy, idx := s.result(rf.ring, rf.flyableLeft)
		if len(idx) == len(rf.orig)-1 {
			continue
		}
		out := make(orb.Ring, 0, len(idx)+1)
		for k, i := range idx {
			if i >= 0 {
				out = append(out, rf.orig[i]) // an original vertex, exactly
			} else {
				out = append(out, pr.toLL(xy[k]))
			}
		}
		out = append(out, out[0])
		rf.set(out)
		changes = append(changes, newChange(rf.boundary, rf.name, rf.inside, pr.ring(rf.orig), pr.ring(out)))
	}
	return sa, changes
}

// planOn plans over a (possibly simplified) area in projection pr.
func planOn(a *Area, pr projection, o PlanOptions) ([]*DronePlan, error) {
	region, err := a.regionXY(pr)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", a.Name, err)
	}
	if len(region) == 0 {
		return nil, fmt.Errorf("plan %s: no-fly zones leave nothing to fly", a.Name)
	}
	noflyPolys, circles := a.noFlyParts(pr)
	margin := o.Margin + 0.5 // slack for rounding to 1e-7° and projection
	inclXY := make([]orb.Polygon, len(a.Include))
	for i, p := range a.Include {
		inclXY[i] = pr.polygon(p)
	}
	areaSpace := newSpace(inclXY, noflyPolys, circles, margin)
	b := a.Bound()
	bb := orb.Bound{Min: pr.toXY(b.Min), Max: pr.toXY(b.Max)}.Pad(5*margin + 200)
	transit := newSpace([]orb.Polygon{{bb.ToRing()}}, noflyPolys, circles, margin)

	var routes [][]orb.Point
	for _, r := range a.Routes {
		var pts []orb.Point
		for _, p := range r.Line {
			pts = append(pts, pr.toXY(p))
		}
		routes = append(routes, pts)
	}
	var shares [][]orb.Polygon
	var routeParts [][][]orb.Point
	if o.Pattern == PatternCorridor && len(routes) > 0 {
		routeParts = splitRoutes(routes, o.Drones)
		for _, rp := range routeParts {
			sh, err := corridorShare(region, rp, math.Abs(o.Offset)+6*margin+30)
			if err != nil {
				return nil, fmt.Errorf("plan %s: %w", a.Name, err)
			}
			shares = append(shares, sh)
		}
	} else {
		shares, err = splitEqualArea(region, o.Drones, math.Max(0, o.Margin-o.Separation/2))
		if err != nil {
			return nil, fmt.Errorf("plan %s: split among %d drones: %w", a.Name, o.Drones, err)
		}
	}
	layers := altitudeLayers(a, o)
	var pois []orb.Point
	for _, p := range o.POIs {
		pois = append(pois, pr.toXY(p))
	}
	for _, s := range a.POIs {
		pois = append(pois, pr.toXY(s.Point))
	}
	plans := make([]*DronePlan, 0, o.Drones)
	launches := make([]Site, len(shares))
	for i, share := range shares {
		launches[i] = nearestLaunch(a, pr, share)
	}
	alts := make([]float64, len(shares))
	for i := range shares {
		alts[i] = layers[i%len(layers)]
	}
	spots, spotOK, padNotes := landingSpots(pr, launches, shares, alts, o.Separation)
	for i, share := range shares {
		cell := newSpace(share, noflyPolys, circles, margin)
		launch := launches[i]
		lxy := pr.toXY(launch.Point)
		rt := &router{cell: cell, area: areaSpace, transit: transit}
		var patrol []wp
		switch o.Pattern {
		case PatternPerimeter:
			patrol = perimeterPattern(cell, rt, margin*1.2+1, lxy)
		case PatternSweep:
			patrol = sweepPattern(cell, rt, o.Spacing, lxy)
		case PatternLoop:
			var mine []orb.Point
			for _, p := range pois {
				if cell.pointOK(p) {
					mine = append(mine, p)
				}
			}
			patrol = loopPattern(cell, rt, mine, lxy)
		case PatternCorridor:
			if routeParts != nil {
				for _, line := range routeParts[i] {
					part := corridorPattern(cell, rt, line, o.Offset)
					patrol = appendLinked(patrol, part, rt)
				}
			} else {
				patrol = corridorPattern(cell, rt, spine(cell), o.Offset)
			}
		}
		if len(patrol) == 0 {
			return nil, fmt.Errorf("plan %s: drone %d: %s pattern found no free path in its part (%.0f m²) with a %g m margin", a.Name, i, o.Pattern, sharesArea(share), o.Margin)
		}
		var spot *orb.Point
		if spotOK[i] {
			spot = &spots[i]
		}
		dp, err := buildDronePlan(a, pr, o, i, layers[i%len(layers)], launch, spot, share, patrol, rt)
		if err != nil {
			return nil, fmt.Errorf("plan %s: drone %d: %w", a.Name, i, err)
		}
		if padNotes[i] != "" {
			dp.Notes = append(dp.Notes, padNotes[i])
		}
		plans = append(plans, dp)
	}
	return plans, nil
}

// landingSpots gives each drone its own place to come down on its launch
// pad (metres): when every drone is sent home at once (a GCS failsafe, an
// operator's "all home") they would otherwise descend onto the same point.
// Each returns on its own layer (RTL_ALT); a drone descending at its spot
// crosses only the layers below its own, so the drones sharing a pad get
// spots on a line through the pad's centre pointing away from their
// parts of the area, the lowest layer nearest the area and each higher
// layer farther behind: a drone flying in low ends its way at its spot
// before the spots of those descending through its layer. The spots lie
// a metre inside the pad's edge, Separation apart. A drone alone on its
// pad, or on a pad too small for spots Separation apart (noted on each
// drone it concerns), gets none (ok false): its RTL returns to its home,
// where it armed — the crew's parking spot, not the pad's centre.
func landingSpots(pr projection, launches []Site, shares [][]orb.Polygon, alts []float64, sep float64) ([]orb.Point, []bool, []string) {
	spots := make([]orb.Point, len(launches))
	ok := make([]bool, len(launches))
	notes := make([]string, len(launches))
	groups := map[orb.Point][]int{}
	var order []orb.Point
	for i, l := range launches {
		spots[i] = pr.toXY(l.Point)
		if _, ok := groups[l.Point]; !ok {
			order = append(order, l.Point)
		}
		groups[l.Point] = append(groups[l.Point], i)
	}
	for _, key := range order {
		g := groups[key]
		n := len(g)
		if n < 2 {
			continue
		}
		for _, i := range g {
			ok[i] = true
		}
		c := pr.toXY(key)
		var m orb.Point // the parts' centre
		for _, i := range g {
			var b orb.Bound
			for k, p := range shares[i] {
				if k == 0 {
					b = p.Bound()
				} else {
					b = b.Union(p.Bound())
				}
			}
			m[0] += b.Center()[0] / float64(n)
			m[1] += b.Center()[1] / float64(n)
		}
		d := orb.Point{c[0] - m[0], c[1] - m[1]}
		if l := math.Hypot(d[0], d[1]); l > 1e-6 {
			d = orb.Point{d[0] / l, d[1] / l}
		} else {
			d = orb.Point{1, 0}
		}
		sort.SliceStable(g, func(x, y int) bool { return alts[g[x]] < alts[g[y]] })
		pad := launches[g[0]].Radius
		span := math.Min(float64(n-1)*(sep+0.5), 2*math.Max(0, pad-1))
		step := span / float64(n-1)
		for k, i := range g {
			off := -span/2 + float64(k)*step
			spots[i] = orb.Point{c[0] + off*d[0], c[1] + off*d[1]}
		}
		if step < sep {
			need := float64(n-1)*(sep+0.5)/2 + 1
			for _, i := range g {
				ok[i] = false
				notes[i] = fmt.Sprintf("launch pad %q (radius %g m) is too small for %d landing spots %g m apart: each drone's RTL returns to its home (where it armed), so park the drones at least %g m apart, or give the pad a radius of at least %.0f m", launches[i].Name, pad, n, sep, sep, math.Ceil(need))
			}
		}
	}
	return spots, ok, notes
}

func sharesArea(ps []orb.Polygon) float64 {
	s := 0.0
	for _, p := range ps {
		s += polyArea(p)
	}
	return s
}

func appendLinked(dst, part []wp, rt *router) []wp {
	if len(part) == 0 {
		return dst
	}
	if len(dst) == 0 {
		return part
	}
	link := rt.connect(dst[len(dst)-1].p, part[0].p)
	if link == nil {
		return dst
	}
	return append(append(dst, link...), part[1:]...)
}

func (a *Area) noFlyParts(pr projection) ([]orb.Polygon, []circle) {
	var polys []orb.Polygon
	var circles []circle
	for _, z := range a.NoFly {
		if z.IsCircle() {
			circles = append(circles, circle{pr.toXY(z.Center), z.Radius})
		} else {
			polys = append(polys, pr.polygon(z.Polygon))
		}
	}
	return polys, circles
}

// altitudeLayers lists layers from Alt outward (up first), LayerStep apart,
// inside the band.
func altitudeLayers(a *Area, o PlanOptions) []float64 {
	out := []float64{o.Alt}
	for k := 1; k < 200; k++ {
		up, down := o.Alt+float64(k)*o.LayerStep, o.Alt-float64(k)*o.LayerStep
		added := false
		if up <= a.MaxAlt {
			out = append(out, up)
			added = true
		}
		if down >= a.MinAlt {
			out = append(out, down)
			added = true
		}
		if !added {
			break
		}
	}
	return out
}

func nearestLaunch(a *Area, pr projection, share []orb.Polygon) Site {
	var c orb.Point
	tot := 0.0
	for _, p := range share {
		w := polyArea(p)
		cb := p.Bound().Center()
		c[0] += cb[0] * w
		c[1] += cb[1] * w
		tot += w
	}
	if tot > 0 {
		c[0] /= tot
		c[1] /= tot
	}
	best, bd := a.Launch[0], math.Inf(1)
	for _, l := range a.Launch {
		p := pr.toXY(l.Point)
		if d := math.Hypot(p[0]-c[0], p[1]-c[1]); d < bd {
			best, bd = l, d
		}
	}
	return best
}

// splitEqualArea cuts the region into n strips of equal area across its
// long axis (binary search on the cut positions; areas by clipping each
// ring to a half-plane), then intersects with simplefeatures.
func splitEqualArea(region []orb.Polygon, n int, overlap float64) ([][]orb.Polygon, error) {
	if n == 1 {
		return [][]orb.Polygon{region}, nil
	}
	// Cut across the long axis: strips are perpendicular to the direction
	// of minimum width's normal, i.e. along x in the min-width frame.
	rot := newRotation(minWidthAngle(region))
	var rings []orb.Ring
	var signs []float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range region {
		for ri, r := range p {
			rr := make(orb.Ring, len(r))
			for i, q := range r {
				rr[i] = rot.to(q)
				lo, hi = math.Min(lo, rr[i][0]), math.Max(hi, rr[i][0])
			}
			rings = append(rings, rr)
			if ri == 0 {
				signs = append(signs, 1)
			} else {
				signs = append(signs, -1)
			}
		}
	}
	areaLeft := func(c float64) float64 {
		s := 0.0
		for i, r := range rings {
			s += signs[i] * math.Abs(signedArea(clipLeft(r, c)))
		}
		return s
	}
	total := areaLeft(hi + 1)
	cuts := []float64{lo - 1}
	for k := 1; k < n; k++ {
		target := total * float64(k) / float64(n)
		a, b := cuts[len(cuts)-1], hi
		for it := 0; it < 50; it++ {
			m := (a + b) / 2
			if areaLeft(m) < target {
				a = m
			} else {
				b = m
			}
		}
		cuts = append(cuts, (a+b)/2)
	}
	cuts = append(cuts, hi+1)
	var y0, y1 = math.Inf(1), math.Inf(-1)
	for _, r := range rings {
		for _, q := range r {
			y0, y1 = math.Min(y0, q[1]), math.Max(y1, q[1])
		}
	}
	reg := multiSF(region)
	var out [][]orb.Polygon
	for k := 0; k < n; k++ {
		// Reach `overlap` past each cut: the margin the planner keeps from
		// the part's edge then leaves no uncovered strip along the cut.
		x0, x1 := cuts[k], cuts[k+1]
		if k > 0 {
			x0 -= overlap
		}
		if k < n-1 {
			x1 += overlap
		}
		box := orb.Ring{{x0, y0 - 1}, {x1, y0 - 1}, {x1, y1 + 1}, {x0, y1 + 1}, {x0, y0 - 1}}
		for i, q := range box {
			box[i] = rot.from(q)
		}
		g, err := geom.Intersection(reg, toSF(orb.Polygon{box}).AsGeometry())
		if err != nil {
			return nil, fmt.Errorf("cut part %d: %w", k, err)
		}
		parts := fromSF(g)
		if len(parts) == 0 {
			return nil, fmt.Errorf("part %d is empty", k)
		}
		out = append(out, parts)
	}
	return out, nil
}

// clipLeft clips a ring to the half-plane x ≤ c (Sutherland–Hodgman); the
// result may have degenerate edges on x = c but its area is exact.
func clipLeft(r orb.Ring, c float64) orb.Ring {
	var out orb.Ring
	n := len(r)
	for i := 0; i < n; i++ {
		p, q := r[i], r[(i+1)%n]
		pin, qin := p[0] <= c, q[0] <= c
		if pin {
			out = append(out, p)
		}
		if pin != qin {
			t := (c - p[0]) / (q[0] - p[0])
			out = append(out, orb.Point{c, p[1] + t*(q[1]-p[1])})
		}
	}
	return out
}

// splitRoutes cuts the routes (metric polylines) into n parts of equal
// length; a part may span the end of one route and the start of the next.
func splitRoutes(routes [][]orb.Point, n int) [][][]orb.Point {
	total := 0.0
	for _, r := range routes {
		total += polylineLen(r)
	}
	out := make([][][]orb.Point, n)
	pos := 0.0
	for _, r := range routes {
		for i := 0; i+1 < len(r); i++ {
			a, b := r[i], r[i+1]
			l := math.Hypot(b[0]-a[0], b[1]-a[1])
			t0 := 0.0
			for t0 < l {
				k := int((pos + t0) / total * float64(n))
				if k >= n {
					k = n - 1
				}
				end := float64(k+1)*total/float64(n) - pos
				t1 := math.Min(l, end)
				if t1 <= t0 {
					t1 = l
				}
				p0 := lerp(a, b, t0/l)
				p1 := lerp(b, b, 0)
				if t1 < l {
					p1 = lerp(a, b, t1/l)
				}
				lines := out[k]
				if len(lines) == 0 || lines[len(lines)-1][len(lines[len(lines)-1])-1] != p0 {
					lines = append(lines, []orb.Point{p0})
				}
				lines[len(lines)-1] = append(lines[len(lines)-1], p1)
				out[k] = lines
				t0 = t1
			}
			pos += l
		}
	}
	return out
}

func lerp(a, b orb.Point, t float64) orb.Point {
	return orb.Point{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}
}

func polylineLen(r []orb.Point) float64 {
	s := 0.0
	for i := 0; i+1 < len(r); i++ {
		s += math.Hypot(r[i+1][0]-r[i][0], r[i+1][1]-r[i][1])
	}
	return s
}

// capsule is the polygon of points within r of segment ab (semicircles
// approximated by 8 chords each).
func capsule(a, b orb.Point, r float64) orb.Polygon {
	th := math.Atan2(b[1]-a[1], b[0]-a[0])
	var ring orb.Ring
	for k := 0; k <= 8; k++ {
		t := th + math.Pi/2 + float64(k)*math.Pi/8
		ring = append(ring, orb.Point{a[0] + r*math.Cos(t), a[1] + r*math.Sin(t)})
	}
	for k := 0; k <= 8; k++ {
		t := th - math.Pi/2 + float64(k)*math.Pi/8
		ring = append(ring, orb.Point{b[0] + r*math.Cos(t), b[1] + r*math.Sin(t)})
	}
	ring = append(ring, ring[0])
	return orb.Polygon{ring}
}

// corridorShare is the part of the region within r of the route part.
func corridorShare(region []orb.Polygon, lines [][]orb.Point, r float64) ([]orb.Polygon, error) {
	var caps []orb.Polygon
	for _, l := range lines {
		for i := 0; i+1 < len(l); i++ {
			if l[i] != l[i+1] {
				caps = append(caps, capsule(l[i], l[i+1], r))
			}
		}
	}
	if len(caps) == 0 {
		return nil, errors.New("route part is empty")
	}
	u, err := unionAll(caps)
	if err != nil {
		return nil, fmt.Errorf("corridor around route: %w", err)
	}
	g, err := geom.Intersection(multiSF(region), u)
	if err != nil {
		return nil, fmt.Errorf("corridor around route: %w", err)
	}
	out := fromSF(g)
	sort.Slice(out, func(i, j int) bool { return polyArea(out[i]) > polyArea(out[j]) })
	if len(out) == 0 {
		return nil, errors.New("route lies outside the flyable area")
	}
	return out, nil
}
