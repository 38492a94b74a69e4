package missions

import (
	"container/heap"
	"math"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"
)

type circle struct {
	c orb.Point
	r float64
}

type seg struct{ a, b orb.Point }

// space is a metric free-space model: inside one of the inclusion polygons
// (holes excluded), outside every no-fly polygon and circle, and at least
// margin away from every boundary. Edges sit in an R-tree so point and
// segment queries cost O(log n) plus the edges nearby.
type space struct {
	incl    []orb.Polygon
	nofly   []orb.Polygon
	circles []circle
	margin  float64
	edges   []seg
	tree    rtree.RTreeG[int]
	bound   orb.Bound
	grid    *grid // path-finding grid, built on first use and reused
}

func newSpace(incl, nofly []orb.Polygon, circles []circle, margin float64) *space {
	s := &space{incl: incl, nofly: nofly, circles: circles, margin: margin}
	first := true
	add := func(r orb.Ring) {
		for i := 0; i+1 < len(r); i++ {
			a, b := r[i], r[i+1]
			if a == b {
				continue
			}
			s.edges = append(s.edges, seg{a, b})
			s.tree.Insert([2]float64{math.Min(a[0], b[0]), math.Min(a[1], b[1])}, [2]float64{math.Max(a[0], b[0]), math.Max(a[1], b[1])}, len(s.edges)-1)
		}
	}
	for _, p := range incl {
		for _, r := range p {
			add(r)
		}
		if first {
			s.bound = p.Bound()
			first = false
		} else {
			s.bound = s.bound.Union(p.Bound())
		}
	}
	for _, p := range nofly {
		for _, r := range p {
			add(r)
		}
	}
	return s
}

// inside ignores the margin: inside an inclusion polygon and outside every
// no-fly zone.
func (s *space) inside(p orb.Point) bool {
	in := false
	for _, pg := range s.incl {
		if polygonContains(pg, p) {
			in = true
			break
		}
	}
	if !in {
		return false
	}
	for _, pg := range s.nofly {
		if polygonContains(pg, p) {
			return false
		}
	}
	return true
}

// nearEdge reports whether any boundary edge comes closer than d to the
// segment ab (a point when a == b).
func (s *space) nearEdge(a, b orb.Point, d float64) bool {
	near := false
	// Cheap rejection for long segments: an edge whose two ends lie on the
	// same side of ab's line, both at least d from it, is at least d away.
	nx, ny := a[1]-b[1], b[0]-a[0]
	nl := math.Hypot(nx, ny)
	if nl > 0 {
		nx, ny = nx/nl, ny/nl
	}
	s.tree.Search([2]float64{math.Min(a[0], b[0]) - d, math.Min(a[1], b[1]) - d}, [2]float64{math.Max(a[0], b[0]) + d, math.Max(a[1], b[1]) + d},
		func(_, _ [2]float64, i int) bool {
			e := s.edges[i]
			if nl > 0 {
				da := (e.a[0]-a[0])*nx + (e.a[1]-a[1])*ny
				db := (e.b[0]-a[0])*nx + (e.b[1]-a[1])*ny
				if (da >= d && db >= d) || (da <= -d && db <= -d) {
					return true
				}
			}
			if segSegDist(a, b, e.a, e.b) < d {
				near = true
				return false
			}
			return true
		})
	return near
}

func (s *space) nearCircle(a, b orb.Point, d float64) bool {
	for _, c := range s.circles {
		if pointSegDist(c.c, a, b) < c.r+d {
			return true
		}
	}
	return false
}

func (s *space) pointOK(p orb.Point) bool {
	return s.inside(p) && !s.nearEdge(p, p, s.margin) && !s.nearCircle(p, p, s.margin)
}

// segOK tells whether the whole segment ab, not only its ends, lies in free
// space: a inside, and no boundary within margin of the segment (so the
// segment cannot cross one either).
func (s *space) segOK(a, b orb.Point) bool {
	return s.inside(a) && s.segClear(a, b)
}

// segClear is segOK for a segment whose start is already known to be
// inside (the end of a leg that passed): only the boundary test remains.
func (s *space) segClear(a, b orb.Point) bool {
	return !s.nearEdge(a, b, s.margin) && !s.nearCircle(a, b, s.margin)
}

// path finds a collision-free polyline from a to b (both must be free):
// straight if possible, otherwise A* on a grid over the space followed by
// string pulling. It returns nil when b cannot be reached.
func (s *space) path(a, b orb.Point) []orb.Point {
	if a == b {
		return []orb.Point{a}
	}
	if s.segOK(a, b) {
		return []orb.Point{a, b}
	}
	if s.grid == nil {
		w, h := s.bound.Max[0]-s.bound.Min[0], s.bound.Max[1]-s.bound.Min[1]
		cell := math.Max(2, math.Min(math.Max(s.margin, 5), math.Hypot(w, h)/250))
		g := &grid{s: s, cell: cell, org: s.bound.Min, nx: int(w/cell) + 2, ny: int(h/cell) + 2}
		n := g.nx * g.ny
		g.free = make([]int8, n)
		g.gs = make([]float64, n)
		g.prev = make([]int32, n)
		g.stamp = make([]uint32, n)
		g.closed = make([]uint32, n)
		s.grid = g
	}
	raw := s.grid.astar(a, b)
	if raw == nil {
		return nil
	}
	// String pulling: from each kept point jump to the farthest visible one.
	out := []orb.Point{raw[0]}
	for i := 0; i < len(raw)-1; {
		j := len(raw) - 1
		for j > i+1 && !s.segOK(raw[i], raw[j]) {
			j--
		}
		out = append(out, raw[j])
		i = j
	}
	return out
}

type grid struct {
	s      *space
	cell   float64
	org    orb.Point
	nx, ny int
	free   []int8 // 0 unknown, 1 free, -1 blocked
	// Per-search state, valid where stamp/closed equal the search's id.
	gs     []float64
	prev   []int32
	stamp  []uint32
	closed []uint32
	search uint32
}

func (g *grid) pt(i int) orb.Point {
	return orb.Point{g.org[0] + float64(i%g.nx)*g.cell, g.org[1] + float64(i/g.nx)*g.cell}
}

func (g *grid) isFree(i int) bool {
	if g.free[i] == 0 {
		g.free[i] = -1
		if g.s.pointOK(g.pt(i)) {
			g.free[i] = 1
		}
	}
	return g.free[i] == 1
}

type pqItem struct {
	node int
	f    float64
}
type pq []pqItem

func (q pq) Len() int           { return len(q) }
func (q pq) Less(i, j int) bool { return q[i].f < q[j].f }
func (q pq) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *pq) Push(x any)        { *q = append(*q, x.(pqItem)) }
func (q *pq) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// astar returns a (jagged) free polyline from a to b, or nil.
func (g *grid) astar(a, b orb.Point) []orb.Point {
	// Virtual nodes: start = -2, goal = -3.
	attach := func(p orb.Point) []int {
		cx, cy := int((p[0]-g.org[0])/g.cell), int((p[1]-g.org[1])/g.cell)
		var out []int
		for r := 1; r <= 4 && len(out) == 0; r++ {
			for y := cy - r; y <= cy+r+1; y++ {
				for x := cx - r; x <= cx+r+1; x++ {
					if x < 0 || y < 0 || x >= g.nx || y >= g.ny {
						continue
					}
					i := y*g.nx + x
					if g.isFree(i) && g.s.segOK(p, g.pt(i)) {
						out = append(out, i)
					}
				}
			}
		}
		return out
	}
	starts, goals := attach(a), attach(b)
	if len(starts) == 0 || len(goals) == 0 {
		return nil
	}
	g.search++
	id := g.search
	isGoal := map[int]bool{}
	for _, i := range goals {
		isGoal[i] = true
	}
	dist := func(p, q orb.Point) float64 { return math.Hypot(p[0]-q[0], p[1]-q[1]) }
	q := &pq{}
	for _, i := range starts {
		d := dist(a, g.pt(i))
		g.gs[i], g.prev[i], g.stamp[i] = d, -2, id
		heap.Push(q, pqItem{i, d + heuristicWeight*dist(g.pt(i), b)})
	}
	found := -1
	for q.Len() > 0 {
		it := heap.Pop(q).(pqItem)
		n := it.node
		if g.closed[n] == id {
			continue
		}
		g.closed[n] = id
		if isGoal[n] {
			found = n
			break
		}
		x, y := n%g.nx, n/g.nx
		pn := g.pt(n)
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				if dx == 0 && dy == 0 {
					continue
				}
				nx, ny := x+dx, y+dy
				if nx < 0 || ny < 0 || nx >= g.nx || ny >= g.ny {
					continue
				}
				m := ny*g.nx + nx
				if g.closed[m] == id || !g.isFree(m) {
					continue
				}
				pm := g.pt(m)
				c := g.gs[n] + dist(pn, pm)
				if g.stamp[m] == id && g.gs[m] <= c {
					continue
				}
				if !g.s.segClear(pn, pm) { // pn is free, so inside
					continue
				}
				g.gs[m], g.prev[m], g.stamp[m] = c, int32(n), id
				heap.Push(q, pqItem{m, c + heuristicWeight*dist(pm, b)})
			}
		}
	}
	if found < 0 {
		return nil
	}
	rev := []orb.Point{b}
	for n := found; n != -2; n = int(g.prev[n]) {
		rev = append(rev, g.pt(n))
	}
	rev = append(rev, a)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}

// heuristicWeight > 1 makes A* greedy (weighted A*): paths at most that
// factor longer than the grid optimum, found expanding far fewer nodes;
// string pulling then straightens them.
const heuristicWeight = 1.5
