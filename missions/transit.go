package missions

import (
	"fmt"
	"math"
	"sort"

	"github.com/paulmach/orb"
)

// returns is the return rule for a plan with a transit layer (see
// PlanOptions.TransitLayer): an RTL commanded on the patrol — how the
// operations scheduler sends a drone home, and what a battery failsafe
// does — flies straight home from wherever the drone is, not along the
// mission's way back, so every such return must stay clear of the no-fly
// zones (with the margin) and inside the drone's fence. Each patrol leg is
// sampled every Margin/2: a zone between two neighbouring returns lies
// within the margin of one of them, so none is missed. One violation per
// kind and drone, at the first leg whose returns fail.
func (c *Checker) returns(dp *DronePlan, legs []Leg, fence *space) []Violation {
	if dp.TransitAlt <= 0 {
		return nil
	}
	home := c.xy(orb.Point{dp.Home.Lon, dp.Home.Lat})
	step := math.Max(1, c.opt.Margin/2)
	var out []Violation
	noFlyBad, fenceBad := false, fence == nil
	for k, l := range legs {
		if l.Transit || noFlyBad && fenceBad {
			continue
		}
		a, b := c.xy(l.From), c.xy(l.To)
		n := int(math.Ceil(math.Hypot(b[0]-a[0], b[1]-a[1])/step)) + 1
		for s := 0; s <= n; s++ {
			p := lerp(a, b, float64(s)/float64(n))
			if !noFlyBad && !c.noFly.segOK(p, home) {
				noFlyBad = true
				out = append(out, Violation{Drone: dp.Drone, Leg: k, Seq: l.ToSeq, Rule: RuleReturn,
					Message: fmt.Sprintf("an RTL on the leg from item %d to item %d flies straight home at the transit layer (%g m) and %s", l.FromSeq, l.ToSeq, dp.TransitAlt, c.whichZone(p, home))})
			}
			if !fenceBad && !fence.segOK(p, home) {
				fenceBad = true
				out = append(out, Violation{Drone: dp.Drone, Leg: k, Seq: l.ToSeq, Rule: RuleReturn,
					Message: fmt.Sprintf("an RTL on the leg from item %d to item %d flies straight home at the transit layer (%g m) and leaves the drone's fence or comes within %g m of it", l.FromSeq, l.ToSeq, dp.TransitAlt, c.opt.FenceMargin)})
			}
		}
	}
	return out
}

// convexHull returns the closed convex hull ring of pts (Andrew's
// monotone chain, counter-clockwise); fewer than 4 points when they are
// collinear.
func convexHull(pts []orb.Point) orb.Ring {
	p := append([]orb.Point(nil), pts...)
	sort.Slice(p, func(i, j int) bool { return p[i][0] < p[j][0] || p[i][0] == p[j][0] && p[i][1] < p[j][1] })
	var h []orb.Point
	for pass := 0; pass < 2; pass++ {
		start := len(h)
		for _, q := range p {
			for len(h) >= start+2 && cross(h[len(h)-2], h[len(h)-1], q) <= 0 {
				h = h[:len(h)-1]
			}
			h = append(h, q)
		}
		h = h[:len(h)-1]
		for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
			p[i], p[j] = p[j], p[i]
		}
	}
	if len(h) < 3 {
		return nil
	}
	return append(orb.Ring(h), h[0])
}
