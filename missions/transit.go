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
// zones (with the margin) and inside the drone's fence. One violation per
// kind and drone, at the first leg whose returns fail.
//
// For every plan, whatever its layers: each rally point must lie inside the
// drone's fence (with the fence margin) and clear of the no-fly zones — an
// RTL flies to the nearest rally point, and one outside the fence is a
// breach on every such return (the mission-end RTL leg itself is judged by
// the fence rule, Legs flying it to RTLTarget).
func (c *Checker) returns(dp *DronePlan, legs []Leg, fence *space) []Violation {
	var out []Violation
	for i, r := range dp.Rally {
		p := c.xy(llOf(r))
		where := ""
		switch {
		case fence != nil && !fence.pointOK(p):
			where = fmt.Sprintf("outside the drone's fence or within %g m of it", c.opt.FenceMargin)
		case !c.noFly.pointOK(p):
			where = c.whichZone(p, p)
		}
		if where != "" {
			out = append(out, Violation{Drone: dp.Drone, Leg: -1, Rule: RuleReturn,
				Message: fmt.Sprintf("rally point %d (%.7f, %.7f) lies %s: an RTL flies to the nearest rally point", i, float64(r.X)/1e7, float64(r.Y)/1e7, where)})
		}
	}
	if dp.TransitAlt <= 0 {
		return out
	}
	noFlyBad, fenceBad := false, false
	for _, r := range c.returnsFrom(dp, legs, fence) {
		k, l := r.Leg, legs[r.Leg]
		if !r.NoFlyClear && !noFlyBad {
			noFlyBad = true
			out = append(out, Violation{Drone: dp.Drone, Leg: k, Seq: l.ToSeq, Rule: RuleReturn,
				Message: fmt.Sprintf("an RTL on the leg from item %d to item %d flies straight home at the transit layer (%g m) and %s", l.FromSeq, l.ToSeq, dp.TransitAlt, r.why)})
		}
		if !r.FenceClear && !fenceBad {
			fenceBad = true
			out = append(out, Violation{Drone: dp.Drone, Leg: k, Seq: l.ToSeq, Rule: RuleReturn,
				Message: fmt.Sprintf("an RTL on the leg from item %d to item %d flies straight home at the transit layer (%g m) and leaves the drone's fence or comes within %g m of it", l.FromSeq, l.ToSeq, dp.TransitAlt, c.opt.FenceMargin)})
		}
	}
	return out
}

// ReturnClear says, for one leg, whether an RTL commanded anywhere on it
// flies straight home clear of every no-fly zone (with the margin) and
// inside the drone's fence.
type ReturnClear struct {
	Leg        int    `json:"leg"`
	Seq        uint16 `json:"seq"` // the item the leg arrives at (MISSION_CURRENT while on it)
	NoFlyClear bool   `json:"no_fly_clear"`
	FenceClear bool   `json:"fence_clear"`
	why        string
}

// Clear reports whether both hold.
func (r ReturnClear) Clear() bool { return r.NoFlyClear && r.FenceClear }

// Returns judges an RTL from every non-transit leg of dp, in leg order: a
// scheduler that sends drones home by RTL can wait for a leg
// whose return is clear (the return rule refuses a transit-layer plan
// with any leg that is not).
func (c *Checker) Returns(dp *DronePlan) []ReturnClear {
	legs := dp.Legs()
	fence, _ := c.fenceSpace(dp.Fence)
	return c.returnsFrom(dp, legs, fence)
}

// returnsFrom samples each non-transit leg every Margin/2 and tests the
// straight way home (or to the nearest rally point, RTLTarget) from each
// sample: a zone between two neighbouring
// returns lies within the margin of one of them, so none is missed.
func (c *Checker) returnsFrom(dp *DronePlan, legs []Leg, fence *space) []ReturnClear {
	step := math.Max(1, c.opt.Margin/2)
	var out []ReturnClear
	for k, l := range legs {
		if l.Transit {
			continue
		}
		r := ReturnClear{Leg: k, Seq: l.ToSeq, NoFlyClear: true, FenceClear: true}
		a, b := c.xy(l.From), c.xy(l.To)
		n := int(math.Ceil(math.Hypot(b[0]-a[0], b[1]-a[1])/step)) + 1
		for s := 0; s <= n && (r.NoFlyClear || r.FenceClear); s++ {
			p := lerp(a, b, float64(s)/float64(n))
			home := c.xy(dp.RTLTarget(c.pr.toLL(p))) // home or the nearest rally point
			if r.NoFlyClear && !c.noFly.segOK(p, home) {
				r.NoFlyClear, r.why = false, c.whichZone(p, home)
			}
			if fence != nil && r.FenceClear && !fence.segOK(p, home) {
				r.FenceClear = false
			}
		}
		out = append(out, r)
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
