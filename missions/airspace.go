package missions

import (
	"fmt"
	"math"
	"sort"

	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"
)

// Plan-time separation in three dimensions.
//
// Each drone's flight is a chain of straight pieces in metres (its legs,
// plus the climbs and descents the autopilot flies between them: a
// takeoff's climb, an RTL's climb to RTL_ALT and its landing). Two drones'
// pieces conflict where a point of one comes closer to a point of the
// other than the horizontal minimum and LayerStep vertically at once: the
// horizontal minimum is Separation (the live monitor's warning distance)
// between two level pieces, ClimbSeparation (its critical distance) where
// either climbs or descends — those are spaced in time by whoever launches
// and recalls the drones. The
// rule is spatial, whatever the timing, so it holds however the drones
// drift along their plans; two exceptions are deconflicted in time
// instead, as a crew does:
//
//   - in a shared launch pad's zone (the pad plus ClimbSeparation and a
//     metre around it), when the drones' homes are within ClimbSeparation (plus the
//     pads' radius) of each other: every drone climbs and descends through
//     the others' layers there, which the crew (or the operations
//     scheduler) sequences, one launch or landing at a time; a patrol
//     crossing a shared pad's zone is left to that sequencing too;
//   - in a shared transit layer: level pieces of two plans that both fly
//     their transit at the same TransitAlt (the scheduler's launches and
//     the live separation monitor keep transits apart).
//
// Everything else is judged: a patrol against a patrol on a layer closer
// than LayerStep, a transit climbing or descending through another
// drone's patrol layer where that patrol passes, a patrol leg over
// another pad than the drone's own.

// piece is one straight piece of flight, metres (x, y) and altitude.
type piece struct {
	a, b   orb.Point
	za, zb float64
	leg    int    // index into the drone's Legs
	seq    uint16 // the item that leg arrives at
	pad    bool   // inside the drone's pad zone
}

func (p piece) level(z float64) bool {
	return math.Abs(p.za-z) < 0.5 && math.Abs(p.zb-z) < 0.5
}

// describe says at what height a piece flies, for messages.
func (p piece) describe() string {
	switch {
	case p.za == p.zb:
		return fmt.Sprintf("at %g m", p.za)
	case p.za < p.zb:
		return fmt.Sprintf("climbing %g→%g m", p.za, p.zb)
	}
	return fmt.Sprintf("descending %g→%g m", p.za, p.zb)
}

// sepPlan is one drone as the separation rule sees it.
type sepPlan struct {
	dp     *DronePlan
	group  int    // 0: the plans checked; k > 0: the k-th other plan set
	label  string // the other plan set's label
	home   orb.Point
	pieces []piece
	// together: the pieces are returns flown at the same moment
	// (SimultaneousReturns), not sequenced by anyone, so neither the
	// shared pad nor the shared transit layer is exempt.
	together bool
}

// pieces turns a drone's legs into pieces in metres: each leg as the
// autopilot flies it (altitude linear along it), an RTL as a climb to
// the RTL altitude where it starts (the transit layer when the plan has
// one: RTL_ALT is set to it), the flight home at that altitude and the
// landing, a NAV_LAND as its leg and the descent.
func (c *Checker) pieces(dp *DronePlan, legs []Leg) []piece {
	cmd := map[uint16]uint16{}
	for _, it := range dp.MissionWithHome() {
		cmd[it.Seq] = it.Command
	}
	var out []piece
	add := func(k int, l Leg, a, b orb.Point, za, zb float64) {
		out = c.padSplit(out, dp, piece{a: a, b: b, za: za, zb: zb, leg: k, seq: l.ToSeq})
	}
	for k, l := range legs {
		a, b := c.xy(l.From), c.xy(l.To)
		switch cmd[l.ToSeq] {
		case mavitem.CmdNavReturnToLaunch:
			z := math.Max(l.FromAlt, dp.rtlAlt())
			if z > l.FromAlt {
				add(k, l, a, a, l.FromAlt, z)
			}
			add(k, l, a, b, z, z)
			add(k, l, b, b, z, 0)
		case mavitem.CmdNavLand:
			add(k, l, a, b, l.FromAlt, l.Alt)
			add(k, l, b, b, l.Alt, 0)
		default:
			add(k, l, a, b, l.FromAlt, l.Alt)
		}
	}
	return out
}

// padSplit appends p to out split at the edge of dp's pad zone (the pad
// plus ClimbSeparation and a metre: a piece outside it is clear of every
// takeoff and landing at the pad's centre), the part inside marked pad.
func (c *Checker) padSplit(out []piece, dp *DronePlan, p piece) []piece {
	home := c.xy(orb.Point{dp.Home.Lon, dp.Home.Lat})
	zone := dp.Launch.Radius + c.opt.ClimbSeparation + 1
	a, b, za, zb := p.a, p.b, p.za, p.zb
	t0, t1 := circleSpan(a, b, home, zone)
	at := func(t float64) (orb.Point, float64) { return lerp(a, b, t), za + t*(zb-za) }
	cut := func(u, v float64, pad bool) {
		if v > u {
			pa, qa := at(u)
			pb, qb := at(v)
			out = append(out, piece{a: pa, b: pb, za: qa, zb: qb, leg: p.leg, seq: p.seq, pad: pad})
		}
	}
	if t0 > t1 || a == b {
		p.pad = t0 <= t1
		return append(out, p)
	}
	cut(0, t0, false)
	cut(t0, t1, true)
	cut(t1, 1, false)
	return out
}

// flownLegs is legs without those past a DO_JUMP that repeats forever
// (Repeat -1; they come last, so the legs kept keep their indices): the
// autopilot never gets beyond that jump, so the mission's own way home
// after it (the climb to the transit layer, the RTL) is never flown — a
// drone on such a loop comes home by an RTL commanded on the loop, which
// the return rule and the operations scheduler judge from where it is.
// Separation judged that way home and refused plans for conflicts that
// cannot happen: on the stadium of the scenario library one slot's
// unflown climb to the transit layer stood on another's unflown way home,
// and the operation fell back to planning without a transit layer. A
// finite loop does fly it and is judged as before. Only separation
// between plans leaves it out: ReturnConflicts still counts it among the
// flights a raised return must clear (where it stands for the RTL home
// a drone sent off its loop flies), which keeps the raised returns as
// conservative as they were.
func (dp *DronePlan) flownLegs(legs []Leg) []Leg {
	if dp.JumpSeq == 0 || dp.Repeat >= 0 {
		return legs
	}
	for k, l := range legs {
		if l.ToSeq > dp.JumpSeq {
			return legs[:k]
		}
	}
	return legs
}

// rtlAlt is the altitude an RTL climbs to where it is below it: RTL_ALT
// when the plan sets it (FenceParams, centimetres), else the transit
// layer (0 without one).
func (dp *DronePlan) rtlAlt() float64 {
	if v, ok := dp.param("RTL_ALT"); ok {
		return v / 100
	}
	return dp.TransitAlt
}

// separation checks every pair of the plans (see the comment at the top).
func (c *Checker) separation(plans []*DronePlan, legs [][]Leg) []Violation {
	sps := make([]sepPlan, len(plans))
	for i, dp := range plans {
		sps[i] = sepPlan{dp: dp, home: c.xy(orb.Point{dp.Home.Lon, dp.Home.Lat}), pieces: c.pieces(dp, dp.flownLegs(legs[i]))}
	}
	return c.separate(sps)
}

// PlanSet is a labelled set of drone plans already accepted for the same
// airspace (another operation's slots, a plan set being flown), which new
// plans must keep their separation from.
type PlanSet struct {
	Label string // names it in violations: "operation op1", "plan p3"
	Plans []*DronePlan
}

// CheckAgainst returns the separation violations between plans and the
// plans of every other set (not those among the plans themselves — Check
// judges them — nor those between the other sets, accepted before). Each
// names the drone and leg of plans, and in Other the drone, leg and set
// it comes too close to.
func (c *Checker) CheckAgainst(plans []*DronePlan, others []PlanSet) []Violation {
	var sps []sepPlan
	add := func(dp *DronePlan, group int, label string) {
		sps = append(sps, sepPlan{dp: dp, group: group, label: label, home: c.xy(orb.Point{dp.Home.Lon, dp.Home.Lat}), pieces: c.pieces(dp, dp.flownLegs(dp.Legs()))})
	}
	for _, dp := range plans {
		add(dp, 0, "")
	}
	for k, s := range others {
		for _, dp := range s.Plans {
			add(dp, k+1, s.Label)
		}
	}
	var out []Violation
	for _, v := range c.separate(sps) {
		if v.Other != nil && v.Other.Plan != "" {
			out = append(out, v)
		}
	}
	return out
}

// separate reports, for each pair of drones that conflict, one violation
// at the first leg of the first drone (group 0 first, in order) that
// comes too close to the other.
func (c *Checker) separate(sps []sepPlan) []Violation {
	type ref struct{ plan, piece int }
	var tree rtree.RTreeG[ref]
	for i, sp := range sps {
		for k, p := range sp.pieces {
			tree.Insert([2]float64{math.Min(p.a[0], p.b[0]), math.Min(p.a[1], p.b[1])}, [2]float64{math.Max(p.a[0], p.b[0]), math.Max(p.a[1], p.b[1])}, ref{i, k})
		}
	}
	search, vsep := math.Max(c.opt.Separation, c.opt.ClimbSeparation), c.opt.LayerStep
	reported := map[[2]int]bool{}
	var out []Violation
	for i, si := range sps {
		if si.group != 0 {
			continue // other sets are only judged against the new plans
		}
		for _, p := range si.pieces {
			tree.Search([2]float64{math.Min(p.a[0], p.b[0]) - search, math.Min(p.a[1], p.b[1]) - search}, [2]float64{math.Max(p.a[0], p.b[0]) + search, math.Max(p.a[1], p.b[1]) + search},
				func(_, _ [2]float64, r ref) bool {
					j := r.plan
					sj := sps[j]
					if j == i || (sj.group == 0 && j < i) || reported[[2]int{i, j}] {
						return true
					}
					q := sj.pieces[r.piece]
					if !si.together && p.pad && q.pad && math.Hypot(si.home[0]-sj.home[0], si.home[1]-sj.home[1]) < c.opt.ClimbSeparation+si.dp.Launch.Radius+sj.dp.Launch.Radius {
						return true // a shared launch pad: sequenced in time
					}
					if t := si.dp.TransitAlt; !si.together && t > 0 && t == sj.dp.TransitAlt && p.level(t) && q.level(t) {
						return true // a shared transit layer: sequenced in time
					}
					sep := c.opt.ClimbSeparation
					if p.za == p.zb && q.za == q.zb {
						sep = c.opt.Separation // level flight: the monitor's warning distance
					}
					dh, _, ok := closest3(p, q, vsep)
					if !ok || dh >= sep {
						return true
					}
					reported[[2]int{i, j}] = true
					of := ""
					if sj.label != "" {
						of = " of " + sj.label
					}
					out = append(out, Violation{Drone: si.dp.Drone, Leg: p.leg, Seq: p.seq, Rule: RuleSeparation,
						Message: fmt.Sprintf("comes within %.1f m horizontally of drone %d leg %d (to item %d)%s while less than %g m apart vertically (%s vs %s); minimum %g m horizontally or %g m vertically",
							dh, sj.dp.Drone, q.leg, q.seq, of, vsep, p.describe(), q.describe(), sep, vsep),
						Other: &OtherLeg{Drone: sj.dp.Drone, Leg: q.leg, Seq: q.seq, Plan: sj.label}})
					return true
				})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Drone < out[b].Drone })
	return out
}

// closest3 finds, among the pairs of points of s and t less than vsep
// apart vertically, the pair closest horizontally, and returns its
// horizontal and vertical distance; ok is false when s and t are at least
// vsep apart vertically everywhere. With u = (σ, τ) in the unit square
// naming the point s.a + σ(s.b − s.a) of s and t.a + τ(t.b − t.a) of t,
// the vertical distance is affine in u, so the pairs vertically too close
// form a convex polygon (the square clipped by two half-planes), and the
// squared horizontal distance is a convex quadratic in u: its minimum over
// the polygon is at the unconstrained minimum if that lies inside, else on
// an edge. Exact, no sampling.
func closest3(s, t piece, vsep float64) (dh, dv float64, ok bool) {
	h0 := [2]float64{s.a[0] - t.a[0], s.a[1] - t.a[1]}
	p := [2]float64{s.b[0] - s.a[0], s.b[1] - s.a[1]}
	q := [2]float64{t.b[0] - t.a[0], t.b[1] - t.a[1]}
	v0, v1, v2 := s.za-t.za, s.zb-s.za, t.zb-t.za
	V := func(u [2]float64) float64 { return v0 + u[0]*v1 - u[1]*v2 }
	H := func(u [2]float64) (float64, float64) {
		return h0[0] + u[0]*p[0] - u[1]*q[0], h0[1] + u[0]*p[1] - u[1]*q[1]
	}
	lim := vsep - 1e-6 // exactly vsep apart is separated
	poly := [][2]float64{{0, 0}, {1, 0}, {1, 1}, {0, 1}}
	poly = clipHalf(poly, func(u [2]float64) float64 { return V(u) - lim })
	poly = clipHalf(poly, func(u [2]float64) float64 { return -V(u) - lim })
	if len(poly) == 0 {
		return 0, 0, false
	}
	best, bu := math.Inf(1), poly[0]
	try := func(u [2]float64) {
		// Among pairs as close horizontally, the one closest vertically
		// (a climb through a layer is reported where it crosses it).
		x, y := H(u)
		if d := x*x + y*y; d < best-1e-9 || d <= best+1e-9 && math.Abs(V(u)) < math.Abs(V(bu)) {
			best, bu = math.Min(d, best), u
		}
	}
	for i := range poly {
		u0, u1 := poly[i], poly[(i+1)%len(poly)]
		if f0, f1 := V(u0), V(u1); f0*f1 < 0 {
			k := f0 / (f0 - f1)
			try([2]float64{u0[0] + k*(u1[0]-u0[0]), u0[1] + k*(u1[1]-u0[1])})
		}
		x0, y0 := H(u0)
		x1, y1 := H(u1)
		dx, dy := x1-x0, y1-y0
		lam := 0.0
		if l := dx*dx + dy*dy; l > 0 {
			lam = math.Max(0, math.Min(1, -(x0*dx+y0*dy)/l))
		}
		try([2]float64{u0[0] + lam*(u1[0]-u0[0]), u0[1] + lam*(u1[1]-u0[1])})
	}
	a11, a12, a22 := p[0]*p[0]+p[1]*p[1], -(p[0]*q[0] + p[1]*q[1]), q[0]*q[0]+q[1]*q[1]
	b1, b2 := -(h0[0]*p[0] + h0[1]*p[1]), h0[0]*q[0]+h0[1]*q[1]
	if det := a11*a22 - a12*a12; det > 1e-9*a11*a22 && det > 0 {
		u := [2]float64{(b1*a22 - a12*b2) / det, (a11*b2 - a12*b1) / det}
		if u[0] >= 0 && u[0] <= 1 && u[1] >= 0 && u[1] <= 1 && math.Abs(V(u)) <= lim {
			try(u)
		}
	}
	return math.Sqrt(best), math.Abs(V(bu)), true
}

// circleSpan returns the parameters [t0, t1] ⊂ [0, 1] of the part of
// segment ab within r of c (t0 > t1 when none). A point segment is all in
// or all out.
func circleSpan(a, b, c orb.Point, r float64) (t0, t1 float64) {
	dx, dy := b[0]-a[0], b[1]-a[1]
	fx, fy := a[0]-c[0], a[1]-c[1]
	qa := dx*dx + dy*dy
	if qa == 0 {
		if fx*fx+fy*fy < r*r {
			return 0, 1
		}
		return 1, 0
	}
	qb := 2 * (fx*dx + fy*dy)
	qc := fx*fx + fy*fy - r*r
	disc := qb*qb - 4*qa*qc
	if disc <= 0 {
		return 1, 0
	}
	sq := math.Sqrt(disc)
	t0, t1 = math.Max(0, (-qb-sq)/(2*qa)), math.Min(1, (-qb+sq)/(2*qa))
	if t0 >= t1 {
		return 1, 0
	}
	return t0, t1
}

// clipHalf clips a convex polygon to the half-plane f ≤ 0 (f affine),
// Sutherland–Hodgman.
func clipHalf(poly [][2]float64, f func([2]float64) float64) [][2]float64 {
	var out [][2]float64
	for i := range poly {
		cur, next := poly[i], poly[(i+1)%len(poly)]
		fc, fn := f(cur), f(next)
		if fc <= 0 {
			out = append(out, cur)
		}
		if (fc < 0 && fn > 0) || (fc > 0 && fn < 0) {
			k := fc / (fc - fn)
			out = append(out, [2]float64{cur[0] + k*(next[0]-cur[0]), cur[1] + k*(next[1]-cur[1])})
		}
	}
	return out
}

// CheckAgainst is Checker.CheckAgainst for one call.
func CheckAgainst(a *Area, plans []*DronePlan, others []PlanSet, o CheckOptions) []Violation {
	return NewChecker(a, o).CheckAgainst(plans, others)
}
