package missions

import (
	"math"

	"github.com/paulmach/orb"
)

// SimultaneousReturns judges the plans' returns as if every drone were
// sent home at the same moment from wherever it is on its patrol (a GCS
// failsafe, an operator's "all home", a link loss on a shared radio): each
// RTL climbs to RTL_ALT where it is below it, flies straight to its target
// (RTLTarget: its own landing spot, a rally point or home) and descends
// there. Every pair of drones' returns must keep the separation minima
// (Separation, or ClimbSeparation where one climbs or descends,
// horizontally, or LayerStep vertically) with nothing exempt —
// nobody sequences a simultaneous return, so a shared pad's centre or a
// shared transit layer is a conflict here. Returns are taken from every
// non-transit leg sampled every ClimbSeparation/4. It is not part of Check:
// plans whose drones share a pad without room for separate landing spots
// (PlanArea notes it) or share a transit layer fail it, and may still be
// flown with returns sequenced by the crew or the operations scheduler.
func (c *Checker) SimultaneousReturns(plans []*DronePlan) []Violation {
	sps := make([]sepPlan, len(plans))
	for i, dp := range plans {
		sps[i] = sepPlan{dp: dp, home: c.xy(orb.Point{dp.Home.Lon, dp.Home.Lat}), pieces: c.returnPieces(dp), together: true}
	}
	out := c.separate(sps)
	for i := range out {
		out[i].Message = "sent home together: " + out[i].Message
	}
	return out
}

// returnPieces are the pieces of an RTL commanded anywhere on dp's
// non-transit legs, each named after the leg it starts from: the climb to
// the return altitude, the flight to the target and the descent there.
func (c *Checker) returnPieces(dp *DronePlan) []piece {
	seen := map[descent]bool{}
	var out []piece
	for k, l := range dp.Legs() {
		if !l.Transit {
			out = append(out, c.legReturnPieces(dp, k, l, seen)...)
		}
	}
	return out
}

// descent is a landing at a point from a height; seen ones are not
// repeated.
type descent struct {
	at orb.Point
	z  float64
}

// legReturnPieces are the pieces of an RTL commanded anywhere on leg k
// (l), sampled every ClimbSeparation/4.
func (c *Checker) legReturnPieces(dp *DronePlan, k int, l Leg, seen map[descent]bool) []piece {
	step := math.Max(0.5, c.opt.ClimbSeparation/4)
	rtl := dp.rtlAlt()
	var out []piece
	a, b := c.xy(l.From), c.xy(l.To)
	n := int(math.Ceil(math.Hypot(b[0]-a[0], b[1]-a[1])/step)) + 1
	for s := 0; s <= n; s++ {
		t := float64(s) / float64(n)
		p := lerp(a, b, t)
		zp := l.FromAlt + t*(l.Alt-l.FromAlt)
		to := c.xy(dp.RTLTarget(c.pr.toLL(p)))
		z := math.Max(zp, rtl)
		if z > zp {
			out = append(out, piece{a: p, b: p, za: zp, zb: z, leg: k, seq: l.ToSeq})
		}
		out = append(out, piece{a: p, b: to, za: z, zb: z, leg: k, seq: l.ToSeq})
		d := descent{to, math.Round(z*10) / 10}
		if !seen[d] {
			seen[d] = true
			out = append(out, piece{a: to, b: to, za: z, zb: 0, leg: k, seq: l.ToSeq})
		}
	}
	return out
}

// ReturnConflicts judges each drone's returns — an RTL commanded
// anywhere on one of its non-transit legs, climbing to its RTL_ALT,
// flying straight to its target and descending there — against the
// flights of the other drones (flights[j] for every j but its own index:
// their legs, climbs and descents), by the separation rule of Check with
// a shared launch pad's zone exempt (sequenced there). It returns, for
// each drone, one violation per leg whose returns conflict (Seq names the
// item the leg flies to: what MISSION_CURRENT shows on it). returns[i]
// and flights[i] are the same drone; returns may set another RTL_ALT (a
// return layer the operations scheduler raises RTL_ALT to before it sends
// a drone home).
func (c *Checker) ReturnConflicts(returns, flights []*DronePlan) [][]Violation {
	others := make([]sepPlan, len(flights))
	for j, dp := range flights {
		others[j] = sepPlan{dp: dp, group: j + 1, label: "flights", home: c.xy(orb.Point{dp.Home.Lon, dp.Home.Lat}), pieces: c.pieces(dp, dp.Legs())}
	}
	out := make([][]Violation, len(returns))
	for i, dp := range returns {
		for k, l := range dp.Legs() {
			if l.Transit {
				continue
			}
			var ps []piece
			for _, p := range c.legReturnPieces(dp, k, l, map[descent]bool{}) {
				ps = c.padSplit(ps, dp, p)
			}
			sps := []sepPlan{{dp: dp, home: c.xy(orb.Point{dp.Home.Lon, dp.Home.Lat}), pieces: ps}}
			for j := range others {
				if j != i {
					sps = append(sps, others[j])
				}
			}
			if vs := c.separate(sps); len(vs) > 0 {
				out[i] = append(out[i], vs[0])
			}
		}
	}
	return out
}
