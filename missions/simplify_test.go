package missions

import (
	"fmt"
	"math"
	mrand "math/rand"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// starRing is a random star-shaped ring of n vertices around the origin
// (radius between r0 and r1, with noise), counter-clockwise, closed.
func starRing(rng *rand.Rand, n int, r0, r1 float64) orb.Ring {
	k1, k2 := 2+rng.IntN(6), 7+rng.IntN(20)
	p1, p2 := rng.Float64()*6, rng.Float64()*6
	ring := make(orb.Ring, 0, n+1)
	for i := 0; i < n; i++ {
		th := 2 * math.Pi * float64(i) / float64(n)
		f := 0.5 + 0.3*math.Sin(float64(k1)*th+p1) + 0.15*math.Sin(float64(k2)*th+p2) + 0.05*(rng.Float64()-0.5)
		r := r0 + (r1-r0)*f
		ring = append(ring, orb.Point{r * math.Cos(th), r * math.Sin(th)})
	}
	return append(ring, ring[0])
}

// properSegmentsCross tells whether segments ab and cd cross at a point
// interior to both (written here, not taken from the planner).
func properSegmentsCross(a, b, c, d orb.Point) bool {
	o := func(p, q, r orb.Point) float64 { return (q[0]-p[0])*(r[1]-p[1]) - (q[1]-p[1])*(r[0]-p[0]) }
	d1, d2, d3, d4 := o(c, d, a), o(c, d, b), o(a, b, c), o(a, b, d)
	return d1*d2 < 0 && d3*d4 < 0
}

func ringIsSimple(r orb.Ring) bool {
	n := len(r) - 1
	for i := 0; i < n; i++ {
		for j := i + 2; j < n; j++ {
			if i == 0 && j == n-1 {
				continue
			}
			if properSegmentsCross(r[i], r[i+1], r[j], r[j+1]) {
				return false
			}
		}
	}
	return true
}

// onOrInside tells whether p is inside ring r or within tol of it.
func onOrInside(r orb.Ring, p orb.Point, tol float64) bool {
	if planar.RingContains(r, p) {
		return true
	}
	for i := 0; i+1 < len(r); i++ {
		a, b := r[i], r[i+1]
		dx, dy := b[0]-a[0], b[1]-a[1]
		t := math.Max(0, math.Min(1, ((p[0]-a[0])*dx+(p[1]-a[1])*dy)/(dx*dx+dy*dy)))
		if math.Hypot(p[0]-a[0]-t*dx, p[1]-a[1]-t*dy) <= tol {
			return true
		}
	}
	return false
}

// densify returns r's vertices and points every step along its edges.
func densify(r orb.Ring, step float64) []orb.Point {
	var out []orb.Point
	for i := 0; i+1 < len(r); i++ {
		a, b := r[i], r[i+1]
		n := int(math.Ceil(math.Hypot(b[0]-a[0], b[1]-a[1])/step)) + 1
		for k := 0; k < n; k++ {
			f := float64(k) / float64(n)
			out = append(out, orb.Point{a[0] + f*(b[0]-a[0]), a[1] + f*(b[1]-a[1])})
		}
	}
	return out
}

// TestSimplifyOnlyShrinksOrGrows: random star outlines of 200–2,000
// vertices, simplified as an inclusion (may only shrink) and as an
// exclusion (may only grow) to budgets of 8–60 vertices, with random
// protected segments on the flyable side; checked by dense sampling and a
// brute-force simplicity test.
func TestSimplifyOnlyShrinksOrGrows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 70))
	for trial := 0; trial < 16; trial++ {
		n := 200 + rng.IntN(1800)
		ring := starRing(rng, n, 300, 600)
		budget := 8 + rng.IntN(53)
		for _, inclusion := range []bool{true, false} {
			name := fmt.Sprintf("trial %d: %d vertices to %d, inclusion=%v", trial, n, budget, inclusion)
			// Protected segments on the flyable side, well clear of the outline.
			var prot [][2]orb.Point
			for len(prot) < 5 {
				th := rng.Float64() * 2 * math.Pi
				r := 40 + rng.Float64()*200
				if !inclusion {
					r = 700 + rng.Float64()*200
				}
				a := orb.Point{r * math.Cos(th), r * math.Sin(th)}
				b := orb.Point{a[0] + 20*math.Cos(th+1), a[1] + 20*math.Sin(th+1)}
				prot = append(prot, [2]orb.Point{a, b})
			}
			s := newSimplifier()
			id := s.addRing(ring, inclusion, 0, 0) // the ring is counter-clockwise: inside on the left
			const clear = 5.0
			for _, p := range prot {
				s.protect(p[0], p[1], clear)
			}
			left := s.run(simplifyFree, math.Inf(1), budget)
			out, _ := s.result(id, inclusion)
			if left != len(out)-1 || left > budget {
				t.Errorf("%s: %d vertices left (run says %d)", name, len(out)-1, left)
			}
			if !ringIsSimple(out) {
				t.Errorf("%s: the simplified ring crosses itself", name)
			}
			const tol = 1e-6
			if inclusion {
				for _, p := range densify(out, 2) {
					if !onOrInside(ring, p, tol) {
						t.Fatalf("%s: simplified inclusion point %v lies outside the original", name, p)
					}
				}
			} else {
				for _, p := range densify(ring, 2) {
					if !onOrInside(out, p, tol) {
						t.Fatalf("%s: original exclusion point %v is not covered by the simplified one", name, p)
					}
				}
			}
			for _, p := range prot {
				for _, q := range densify(orb.Ring{p[0], p[1]}, 0.5) {
					if planar.RingContains(out, q) != inclusion {
						t.Fatalf("%s: protected point %v ended up on the forbidden side", name, q)
					}
					for i := 0; i+1 < len(out); i++ {
						if d := distPointSeg(q, out[i], out[i+1]); d < clear-1e-9 {
							t.Fatalf("%s: protected point %v is %.2f from the new outline, want ≥ %g", name, q, d, clear)
						}
					}
				}
			}
			mx, mean := displacement(ring, out)
			if mean > mx || mx <= 0 {
				t.Errorf("%s: displacement max %.2f mean %.2f", name, mx, mean)
			}
		}
	}
}

// TestRandomAreasFitATightFence plans the property test's random areas
// (holes, no-fly zones, every pattern, 1–3 drones) for a vehicle with
// 20 fence items in 200 bytes: every plan must fit and pass every check,
// and the independent checks must still hold against the original area.
func TestRandomAreasFitATightFence(t *testing.T) {
	rng := mrand.New(mrand.NewSource(20261127))
	for i := 0; i < 30; i++ {
		a := randomArea(rng)
		pat := Patterns[i%len(Patterns)]
		drones := 1 + i%3
		o := PlanOptions{Pattern: pat, Drones: drones, Spacing: 60, Repeat: 1, Capacity: Capacity{FenceItems: 20, FenceBytes: 200}}
		plans, err := PlanArea(a, o)
		if err != nil {
			t.Errorf("case %d %s/%d: %v", i, pat, drones, err)
			continue
		}
		eff, err := o.Effective(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range Check(a, plans, eff.CheckOptions(CheckOptions{Endurance: 1e6})) {
			t.Errorf("case %d %s/%d: %s", i, pat, drones, v)
		}
		for _, dp := range plans {
			if u := FenceUsageOf(dp.Fence); u.Items > 20 || u.Bytes > 200 {
				t.Errorf("case %d %s/%d drone %d: fence %+v", i, pat, drones, dp.Drone, u)
			}
			if err := independentLegCheck(a, dp, 9.9); err != nil {
				t.Errorf("case %d %s/%d: %v", i, pat, drones, err)
			}
			if err := independentFenceCheck(a, dp, 4.9); err != nil {
				t.Errorf("case %d %s/%d: %v", i, pat, drones, err)
			}
		}
	}
}

// TestExtendDoesNotCutAnotherEdgesCorner: extending the edges around a
// dent meets at x = (5, 10), above an edge of the same ring at y = 8 whose
// ends are far away; no vertex lies in the triangle, yet the ring would
// cross itself, so the extend must be refused.
func TestExtendDoesNotCutAnotherEdgesCorner(t *testing.T) {
	ring := orb.Ring{{-5, -10}, {0, 0}, {10, 0}, {15, -10}, {100, -10}, {100, 8}, {-100, 8}, {-100, -10}, {-5, -10}}
	s := newSimplifier()
	id := s.addRing(ring, true, 0, 0)
	if c, x := s.cost(id, 1, opExtend); math.IsInf(c, 1) || x != (orb.Point{5, 10}) {
		t.Fatalf("extend at the dent: cost %v, x %v; want x = (5, 10)", c, x)
	}
	if s.apply(simpEntry{ring: id, v: 1, op: opExtend}) {
		out, _ := s.result(id, true)
		t.Fatalf("extend through the edge at y = 8 applied: %v (simple: %v)", out, ringIsSimple(out))
	}
}
