package missions

import (
	"container/heap"
	"math"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"
)

// Conservative boundary simplification.
//
// A GIS export can give a boundary tens of thousands of vertices; a
// vehicle stores a few dozen fence vertices and a few hundred mission
// items. Simplifying may never make the plan less safe, so each ring only
// changes in the direction that takes space away from the drones: an
// inclusion boundary may only shrink, an exclusion (a hole, a no-fly
// polygon) may only grow. Every ring is oriented with the flyable side on
// its left, and two operations take a triangle from the flyable side and
// add nothing to it:
//
//   - cut: at a vertex v turning left (an ear of the flyable side) the path
//     p→v→n becomes the chord p→n;
//   - extend: at an edge a→b whose ends both turn right (a bulge of the
//     forbidden side), the edges before and after are extended until they
//     meet at x, and p→a→b→n becomes p→x→n.
//
// Cut keeps original vertices, so a cut-only result lies exactly on the
// original outline's vertices; extend is what lets a convex exclusion
// grow. An operation is refused when
//   - another vertex of the ring, or of a ring it must not cross, lies in
//     the triangle, or (extend) an edge of one crosses a new edge: the ring
//     would cross itself or that ring;
//   - a protected segment (a flight leg) comes closer than its clearance
//     to the new edges or lies in the triangle;
//   - the ring would fall below three vertices.
//
// The cheapest operation goes first; its cost is how far the original
// outline it replaces lies from the new edges (and, for extend, how far x
// lies from the old edge), so a tolerance on cost bounds how far the
// boundary moves.

// simpRing is one ring being simplified: a linked list over pts (the
// original vertices first, vertices made by extend appended), flyable side
// on the left. oi is each vertex's position on the original ring: the
// original vertices between two neighbours are those between their oi.
type simpRing struct {
	orig       []orb.Point
	pts        []orb.Point
	oi         []int
	prev, next []int
	alive      []bool
	ver        []uint32
	n          int // vertices alive
	limit      int // at most this many vertices in the end (0 = no limit)
	group      int // rings of one group must not cross each other
}

type protSeg struct {
	a, b  orb.Point
	clear float64
}

// simplifier simplifies a set of rings together, to one vertex budget.
type simplifier struct {
	rings    []*simpRing
	verts    rtree.RTreeG[[2]int] // alive vertices: ring, index
	edges    rtree.RTreeG[[2]int] // alive edges: ring, index of their start
	prot     []protSeg
	ptree    rtree.RTreeG[int]
	maxClear float64
	q        simpQueue
}

// extendPenalty weighs an extend's cost against a cut's when choosing the
// next operation: an extend puts a vertex off the original outline and,
// on a noisy outline, chains of them drift inward (measured on the 20,000
// vertex test stadium at 55 vertices: 14.9 m largest displacement with no
// penalty, 7.2 m with 4, 7.2 m with cuts only). A convex exclusion can only
// grow by extends, so they stay available.
const extendPenalty = 4

func newSimplifier() *simplifier { return &simplifier{} }

// addRing adds a closed or open ring; flyableLeft tells whether the
// flyable side is on the left as given (otherwise it is reversed). It
// returns the ring's index.
func (s *simplifier) addRing(r orb.Ring, flyableLeft bool, group, limit int) int {
	pts := append([]orb.Point(nil), r...)
	if len(pts) > 1 && pts[0] == pts[len(pts)-1] {
		pts = pts[:len(pts)-1]
	}
	if !flyableLeft {
		for i, j := 0, len(pts)-1; i < j; i, j = i+1, j-1 {
			pts[i], pts[j] = pts[j], pts[i]
		}
	}
	n := len(pts)
	sr := &simpRing{orig: pts, pts: append([]orb.Point(nil), pts...), oi: make([]int, n), prev: make([]int, n), next: make([]int, n),
		alive: make([]bool, n), ver: make([]uint32, n), n: n, limit: limit, group: group}
	for i := range pts {
		sr.oi[i] = i
		sr.prev[i] = (i - 1 + n) % n
		sr.next[i] = (i + 1) % n
		sr.alive[i] = true
	}
	id := len(s.rings)
	s.rings = append(s.rings, sr)
	for i, p := range pts {
		s.verts.Insert(p, p, [2]int{id, i})
		s.addEdge(id, i)
	}
	return id
}

// edgeBox is the bounding box of the edge starting at vertex i.
func (s *simplifier) edgeBox(ri, i int) (lo, hi [2]float64) {
	r := s.rings[ri]
	a, b := r.pts[i], r.pts[r.next[i]]
	return [2]float64{math.Min(a[0], b[0]), math.Min(a[1], b[1])}, [2]float64{math.Max(a[0], b[0]), math.Max(a[1], b[1])}
}

func (s *simplifier) addEdge(ri, i int) {
	lo, hi := s.edgeBox(ri, i)
	s.edges.Insert(lo, hi, [2]int{ri, i})
}

func (s *simplifier) delEdge(ri, i int) {
	lo, hi := s.edgeBox(ri, i)
	s.edges.Delete(lo, hi, [2]int{ri, i})
}

// crossesGroup tells whether segment ab touches an edge of a ring in the
// group of ring ri, other than ri's edges starting at the skipped
// vertices (those the operation replaces).
func (s *simplifier) crossesGroup(ri int, a, b orb.Point, skip [3]int) bool {
	g := s.rings[ri].group
	hit := false
	s.edges.Search([2]float64{math.Min(a[0], b[0]), math.Min(a[1], b[1])}, [2]float64{math.Max(a[0], b[0]), math.Max(a[1], b[1])}, func(_, _ [2]float64, id [2]int) bool {
		if s.rings[id[0]].group != g || id[0] == ri && (id[1] == skip[0] || id[1] == skip[1] || id[1] == skip[2]) {
			return true
		}
		r := s.rings[id[0]]
		if segmentsIntersect(a, b, r.pts[id[1]], r.pts[r.next[id[1]]]) {
			hit = true
			return false
		}
		return true
	})
	return hit
}

// protect keeps every change at least clear away from segment ab.
func (s *simplifier) protect(a, b orb.Point, clear float64) {
	s.prot = append(s.prot, protSeg{a, b, clear})
	s.ptree.Insert([2]float64{math.Min(a[0], b[0]), math.Min(a[1], b[1])}, [2]float64{math.Max(a[0], b[0]), math.Max(a[1], b[1])}, len(s.prot)-1)
	s.maxClear = math.Max(s.maxClear, clear)
}

const (
	opCut    = 0
	opExtend = 1
)

// origBetween calls f with every original vertex strictly between the
// original positions i and j (cyclic), and with i too when incl.
func (r *simpRing) origBetween(i, j int, incl bool, f func(orb.Point)) {
	m := len(r.orig)
	if incl {
		f(r.orig[i])
	}
	for k := (i + 1) % m; k != j; k = (k + 1) % m {
		f(r.orig[k])
	}
}

// cost of an operation at vertex v (cut v, or extend the edge v→next),
// and the new vertex for extend; +Inf when the shape forbids it.
func (s *simplifier) cost(ri, v, op int) (float64, orb.Point) {
	r := s.rings[ri]
	inf := math.Inf(1)
	if r.n <= 3 {
		return inf, orb.Point{}
	}
	if op == opCut {
		p, n := r.prev[v], r.next[v]
		a, b, c := r.pts[p], r.pts[v], r.pts[n]
		if cross(a, b, c) <= 0 {
			return inf, orb.Point{} // a right turn: cutting it would add flyable space
		}
		worst := pointSegDist(b, a, c)
		r.origBetween(r.oi[p], r.oi[n], false, func(q orb.Point) { worst = math.Max(worst, pointSegDist(q, a, c)) })
		return worst, orb.Point{}
	}
	a := v
	b := r.next[a]
	pa, bn := r.prev[a], r.next[b]
	if pa == b || bn == a {
		return inf, orb.Point{}
	}
	P, A, B, N := r.pts[pa], r.pts[a], r.pts[b], r.pts[bn]
	if cross(P, A, B) >= 0 || cross(A, B, N) >= 0 {
		return inf, orb.Point{}
	}
	// x = A + t(A−P) = B + u(B−N), t, u > 0.
	d1 := orb.Point{A[0] - P[0], A[1] - P[1]}
	d2 := orb.Point{B[0] - N[0], B[1] - N[1]}
	den := d1[0]*d2[1] - d1[1]*d2[0]
	if den == 0 {
		return inf, orb.Point{}
	}
	w := orb.Point{B[0] - A[0], B[1] - A[1]}
	t := (w[0]*d2[1] - w[1]*d2[0]) / den
	u := (w[0]*d1[1] - w[1]*d1[0]) / den
	if !(t > 0) || !(u > 0) {
		return inf, orb.Point{}
	}
	x := orb.Point{A[0] + t*d1[0], A[1] + t*d1[1]}
	worst := pointSegDist(x, A, B)
	r.origBetween(r.oi[a], r.oi[bn], true, func(q orb.Point) {
		worst = math.Max(worst, math.Min(pointSegDist(q, P, x), pointSegDist(q, x, N)))
	})
	return worst, x
}

// allowed checks the triangle an operation takes from the flyable side
// (counter-clockwise a, b, c) against other vertices and protected
// segments; e1, e2 are the new edges' pieces inside the old outline's
// reach. skip are the ring's own vertices on the triangle.
func (s *simplifier) allowed(ri int, a, b, c orb.Point, skip [3]int, newEdges [][2]orb.Point) bool {
	r := s.rings[ri]
	tb := orb.Bound{Min: a, Max: a}.Extend(b).Extend(c)
	ok := true
	s.verts.Search(tb.Min, tb.Max, func(_, _ [2]float64, id [2]int) bool {
		if id[0] == ri && (id[1] == skip[0] || id[1] == skip[1] || id[1] == skip[2]) {
			return true
		}
		if s.rings[id[0]].group != r.group {
			return true
		}
		if inTriangleClosed(s.rings[id[0]].pts[id[1]], a, b, c) {
			ok = false
			return false
		}
		return true
	})
	if !ok || len(s.prot) == 0 {
		return ok
	}
	pad := s.maxClear
	s.ptree.Search([2]float64{tb.Min[0] - pad, tb.Min[1] - pad}, [2]float64{tb.Max[0] + pad, tb.Max[1] + pad}, func(_, _ [2]float64, i int) bool {
		ps := s.prot[i]
		if inTriangleClosed(ps.a, a, b, c) || inTriangleClosed(ps.b, a, b, c) {
			ok = false
			return false
		}
		for _, e := range newEdges {
			if segSegDist(e[0], e[1], ps.a, ps.b) < ps.clear {
				ok = false
				return false
			}
		}
		return true
	})
	return ok
}

// inTriangleClosed tells whether q lies inside or on triangle abc (abc
// counter-clockwise or degenerate).
func inTriangleClosed(q, a, b, c orb.Point) bool {
	return cross(a, b, q) >= 0 && cross(b, c, q) >= 0 && cross(c, a, q) >= 0
}

// touch invalidates vertex v's queued operations and queues them anew.
func (s *simplifier) touch(ri, v int) {
	r := s.rings[ri]
	r.ver[v]++
	for _, op := range []int{opCut, opExtend} {
		if c, _ := s.cost(ri, v, op); !math.IsInf(c, 1) {
			if op == opExtend {
				c *= extendPenalty
			}
			heap.Push(&s.q, simpEntry{cost: c, ring: ri, v: v, op: op, ver: r.ver[v]})
		}
	}
}

// apply performs the operation if it is allowed; it reports whether it did.
func (s *simplifier) apply(e simpEntry) bool {
	r := s.rings[e.ring]
	if e.op == opCut {
		v := e.v
		p, n := r.prev[v], r.next[v]
		a, b, c := r.pts[p], r.pts[v], r.pts[n]
		if !s.allowed(e.ring, a, b, c, [3]int{p, v, n}, [][2]orb.Point{{a, c}}) {
			return false
		}
		s.delEdge(e.ring, p)
		s.delEdge(e.ring, v)
		r.next[p], r.prev[n] = n, p
		r.alive[v] = false
		r.n--
		s.addEdge(e.ring, p)
		s.verts.Delete(b, b, [2]int{e.ring, v})
		for _, k := range []int{r.prev[p], p, n, r.next[n]} {
			s.touch(e.ring, k)
		}
		return true
	}
	c, x := s.cost(e.ring, e.v, opExtend)
	if math.IsInf(c, 1) {
		return false
	}
	a := e.v
	b := r.next[a]
	pa, bn := r.prev[a], r.next[b]
	A, B := r.pts[a], r.pts[b]
	// The triangle A, B, x is counter-clockwise: x lies on the flyable
	// (left) side of A→B.
	if !s.allowed(e.ring, A, B, x, [3]int{a, b, -1}, [][2]orb.Point{{A, x}, {x, B}}) {
		return false
	}
	// Unlike a cut, whose triangle has two sides on the ring, an extend's
	// triangle has two new sides: another edge could cut its corner at x
	// with no vertex inside it.
	if skip := [3]int{pa, a, b}; s.crossesGroup(e.ring, A, x, skip) || s.crossesGroup(e.ring, x, B, skip) {
		return false
	}
	s.delEdge(e.ring, pa)
	s.delEdge(e.ring, a)
	s.delEdge(e.ring, b)
	xi := len(r.pts)
	r.pts = append(r.pts, x)
	r.oi = append(r.oi, r.oi[a])
	r.prev = append(r.prev, pa)
	r.next = append(r.next, bn)
	r.alive = append(r.alive, true)
	r.ver = append(r.ver, 0)
	r.next[pa], r.prev[bn] = xi, xi
	r.alive[a], r.alive[b] = false, false
	r.n--
	s.addEdge(e.ring, pa)
	s.addEdge(e.ring, xi)
	s.verts.Delete(A, A, [2]int{e.ring, a})
	s.verts.Delete(B, B, [2]int{e.ring, b})
	s.verts.Insert(x, x, [2]int{e.ring, xi})
	for _, k := range []int{r.prev[pa], pa, xi, bn, r.next[bn]} {
		s.touch(e.ring, k)
	}
	return true
}

// run simplifies, cheapest operation first: every operation costing at
// most free, then more while the rings hold more than budget vertices in
// total or a ring exceeds its limit, never one costing more than maxCost.
// It returns the vertices left in total.
func (s *simplifier) run(free, maxCost float64, budget int) int {
	total := 0
	for ri, r := range s.rings {
		total += r.n
		for v := range r.pts {
			s.touch(ri, v)
		}
	}
	over := func(r *simpRing) bool { return r.limit > 0 && r.n > r.limit }
	for s.q.Len() > 0 {
		e := heap.Pop(&s.q).(simpEntry)
		r := s.rings[e.ring]
		if !r.alive[e.v] || r.ver[e.v] != e.ver {
			continue
		}
		if e.cost > maxCost {
			break
		}
		if e.cost > free && total <= budget && !over(r) {
			continue // this ring is within its limit and the total fits
		}
		if s.apply(e) {
			total--
		} // else: re-evaluated when a neighbour changes
	}
	return total
}

// result returns ring ri as a closed ring in the orientation it was given
// in, and for each of its vertices the index of the original vertex it
// is (-1 for a vertex made by extend).
func (s *simplifier) result(ri int, flyableLeft bool) (orb.Ring, []int) {
	r := s.rings[ri]
	start := -1
	for i, ok := range r.alive {
		if ok {
			start = i
			break
		}
	}
	var out orb.Ring
	var idx []int
	m := len(r.orig)
	for v := start; ; {
		out = append(out, r.pts[v])
		k := -1
		if v < m {
			k = v
			if !flyableLeft {
				k = m - 1 - v
			}
		}
		idx = append(idx, k)
		v = r.next[v]
		if v == start {
			break
		}
	}
	if !flyableLeft {
		out.Reverse()
		for i, j := 0, len(idx)-1; i < j; i, j = i+1, j-1 {
			idx[i], idx[j] = idx[j], idx[i]
		}
	}
	return append(out, out[0]), idx
}

type simpEntry struct {
	cost float64
	ring int
	v    int
	op   int
	ver  uint32
}

type simpQueue []simpEntry

func (q simpQueue) Len() int { return len(q) }
func (q simpQueue) Less(i, j int) bool {
	if q[i].cost != q[j].cost {
		return q[i].cost < q[j].cost
	}
	if q[i].ring != q[j].ring {
		return q[i].ring < q[j].ring
	}
	if q[i].v != q[j].v {
		return q[i].v < q[j].v
	}
	return q[i].op < q[j].op
}
func (q simpQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simpQueue) Push(x any)   { *q = append(*q, x.(simpEntry)) }
func (q *simpQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// nearestOnRing returns, for each point, its distance to ring r.
func nearestOnRing(r orb.Ring, pts []orb.Point, f func(d float64)) {
	es := ringEdges(r)
	var tree rtree.RTreeG[int]
	for i, e := range es {
		tree.Insert([2]float64{math.Min(e.a[0], e.b[0]), math.Min(e.a[1], e.b[1])}, [2]float64{math.Max(e.a[0], e.b[0]), math.Max(e.a[1], e.b[1])}, i)
	}
	for _, p := range pts {
		best := 0.0
		tree.Nearby(rtree.BoxDist(p, p, func(_, _ [2]float64, k int) float64 {
			d := pointSegDist(p, es[k].a, es[k].b)
			return d * d
		}), func(_, _ [2]float64, k int, _ float64) bool {
			best = pointSegDist(p, es[k].a, es[k].b)
			return false // the first item is the nearest edge
		})
		f(best)
	}
}

// displacement measures how far a simplified ring moved from the
// original: the largest distance from an original vertex to the
// simplified ring or from a simplified vertex to the original ring, and
// the mean over the original vertices.
func displacement(orig, simp orb.Ring) (maxD, meanD float64) {
	open := func(r orb.Ring) []orb.Point {
		if len(r) > 1 && r[0] == r[len(r)-1] {
			return r[:len(r)-1]
		}
		return r
	}
	n, sum := 0, 0.0
	nearestOnRing(simp, open(orig), func(d float64) {
		maxD = math.Max(maxD, d)
		sum += d
		n++
	})
	nearestOnRing(orig, open(simp), func(d float64) { maxD = math.Max(maxD, d) })
	if n > 0 {
		meanD = sum / float64(n)
	}
	return maxD, meanD
}

// BoundaryChange reports how simplification moved one boundary so an
// operator can judge it: vertices before and after, and in metres the
// largest distance between the original and the simplified outline
// (original vertices to the simplified outline and back) and the mean
// distance of the original vertices. Inclusion boundaries only shrink and
// exclusions only grow.
type BoundaryChange struct {
	// Boundary is "event-area", "event-area hole", "no-fly", "fence
	// inclusion" or "fence exclusion".
	Boundary         string  `json:"boundary"`
	Name             string  `json:"name,omitempty"`
	Direction        string  `json:"direction"` // "shrunk" or "grown"
	VerticesBefore   int     `json:"vertices_before"`
	VerticesAfter    int     `json:"vertices_after"`
	MaxDisplacement  float64 `json:"max_displacement_m"`
	MeanDisplacement float64 `json:"mean_displacement_m"`
}

func newChange(boundary, name string, shrinks bool, orig, simp orb.Ring) BoundaryChange {
	dir := "grown"
	if shrinks {
		dir = "shrunk"
	}
	mx, mean := displacement(orig, simp)
	return BoundaryChange{Boundary: boundary, Name: name, Direction: dir,
		VerticesBefore: len(orig) - 1, VerticesAfter: len(simp) - 1,
		MaxDisplacement: math.Round(mx*100) / 100, MeanDisplacement: math.Round(mean*100) / 100}
}
