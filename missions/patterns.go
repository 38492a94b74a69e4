package missions

import (
	"math"
	"sort"

	"github.com/paulmach/orb"
)

// Patterns the planner knows.
const (
	PatternPerimeter = "perimeter"
	PatternSweep     = "sweep"
	PatternLoop      = "loop"
	PatternCorridor  = "corridor"
)

// Patterns lists the pattern names for help texts and API validation.
var Patterns = []string{PatternPerimeter, PatternSweep, PatternLoop, PatternCorridor}

// wp is a planned metric waypoint; transit marks the leg arriving at it as
// a transfer that may leave the drone's share (but never enters a no-fly
// zone).
type wp struct {
	p       orb.Point
	transit bool
}

// router connects two free points: inside the drone's share first, then
// anywhere in the event area, then anywhere outside no-fly zones (transit).
type router struct {
	cell, area, transit *space
}

func (r *router) connect(a, b orb.Point) []wp {
	for k, s := range []*space{r.cell, r.area} {
		_ = k
		if s == nil || !s.pointOK(a) || !s.pointOK(b) {
			continue
		}
		if p := s.path(a, b); p != nil {
			return toWPs(p[1:], false)
		}
	}
	if p := r.transit.path(a, b); p != nil {
		return toWPs(p[1:], true)
	}
	return nil
}

func toWPs(ps []orb.Point, transit bool) []wp {
	out := make([]wp, len(ps))
	for i, p := range ps {
		out[i] = wp{p, transit}
	}
	return out
}

// minWidthAngle returns the direction (radians) along which the polygons
// are narrowest across, i.e. sweep lines parallel to it are fewest.
func minWidthAngle(polys []orb.Polygon) float64 {
	var pts []orb.Point
	for _, p := range polys {
		if len(p) > 0 {
			pts = append(pts, p[0]...)
		}
	}
	best, bestW := 0.0, math.Inf(1)
	seen := map[int]bool{}
	try := func(th float64) {
		key := int(math.Round(math.Mod(th+2*math.Pi, math.Pi) * 180 / math.Pi))
		if seen[key] {
			return
		}
		seen[key] = true
		s, c := math.Sin(th), math.Cos(th)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range pts {
			y := -p[0]*s + p[1]*c
			lo, hi = math.Min(lo, y), math.Max(hi, y)
		}
		if hi-lo < bestW-1e-9 {
			best, bestW = th, hi-lo
		}
	}
	for _, p := range polys {
		if len(p) == 0 {
			continue
		}
		r := p[0]
		for i := 0; i+1 < len(r); i++ {
			try(math.Atan2(r[i+1][1]-r[i][1], r[i+1][0]-r[i][0]))
		}
	}
	for d := 0; d < 180; d += 15 {
		try(float64(d) * math.Pi / 180)
	}
	return best
}

type rotation struct{ s, c float64 }

func newRotation(th float64) rotation { return rotation{math.Sin(th), math.Cos(th)} }

// to maps into the frame where direction th is the x axis.
func (r rotation) to(p orb.Point) orb.Point {
	return orb.Point{p[0]*r.c + p[1]*r.s, -p[0]*r.s + p[1]*r.c}
}

func (r rotation) from(p orb.Point) orb.Point {
	return orb.Point{p[0]*r.c - p[1]*r.s, p[0]*r.s + p[1]*r.c}
}

type ival struct{ a, b float64 }

// freeIntervals returns the parts of the horizontal line y (in a rotated
// frame) that lie in free space: inside the rotated polygons (even-odd) and
// at least m from every rotated edge and circle.
func freeIntervals(rings []orb.Ring, edges []seg, circles []circle, y, m float64) []ival {
	var xs []float64
	for _, r := range rings {
		for i := 0; i+1 < len(r); i++ {
			a, b := r[i], r[i+1]
			if (a[1] > y) != (b[1] > y) {
				xs = append(xs, a[0]+(y-a[1])*(b[0]-a[0])/(b[1]-a[1]))
			}
		}
	}
	sort.Float64s(xs)
	var in []ival
	for i := 0; i+1 < len(xs); i += 2 {
		in = append(in, ival{xs[i], xs[i+1]})
	}
	if len(in) == 0 {
		return nil
	}
	var bad []ival
	for _, e := range edges {
		if iv, ok := capsuleInterval(e.a, e.b, m, y); ok {
			bad = append(bad, iv)
		}
	}
	for _, c := range circles {
		if dy := y - c.c[1]; math.Abs(dy) < c.r+m {
			h := math.Sqrt((c.r+m)*(c.r+m) - dy*dy)
			bad = append(bad, ival{c.c[0] - h, c.c[0] + h})
		}
	}
	return subtract(in, bad)
}

// capsuleInterval intersects the line y with the set of points closer than
// m to segment ab; that set is convex, so the result is one interval.
func capsuleInterval(a, b orb.Point, m, y float64) (ival, bool) {
	if math.Min(a[1], b[1])-m >= y || math.Max(a[1], b[1])+m <= y {
		return ival{}, false
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	add := func(x float64) { lo, hi = math.Min(lo, x), math.Max(hi, x) }
	for _, p := range []orb.Point{a, b} {
		if dy := y - p[1]; math.Abs(dy) < m {
			h := math.Sqrt(m*m - dy*dy)
			add(p[0] - h)
			add(p[0] + h)
		}
	}
	dx, dy := b[0]-a[0], b[1]-a[1]
	l := math.Hypot(dx, dy)
	if l > 0 {
		nx, ny := -dy/l*m, dx/l*m
		q := [4]orb.Point{{a[0] + nx, a[1] + ny}, {b[0] + nx, b[1] + ny}, {b[0] - nx, b[1] - ny}, {a[0] - nx, a[1] - ny}}
		for i := 0; i < 4; i++ {
			c1, c2 := q[i], q[(i+1)%4]
			if (c1[1]-y)*(c2[1]-y) <= 0 {
				if c1[1] == c2[1] {
					add(c1[0])
					add(c2[0])
				} else {
					add(c1[0] + (y-c1[1])*(c2[0]-c1[0])/(c2[1]-c1[1]))
				}
			}
		}
	}
	if lo > hi {
		return ival{}, false
	}
	return ival{lo, hi}, true
}

func subtract(in, bad []ival) []ival {
	sort.Slice(bad, func(i, j int) bool { return bad[i].a < bad[j].a })
	out := in
	for _, bv := range bad {
		var next []ival
		for _, iv := range out {
			if bv.b <= iv.a || bv.a >= iv.b {
				next = append(next, iv)
				continue
			}
			if bv.a > iv.a {
				next = append(next, ival{iv.a, bv.a})
			}
			if bv.b < iv.b {
				next = append(next, ival{bv.b, iv.b})
			}
		}
		out = next
	}
	return out
}

type sweepSeg struct {
	line int
	a, b orb.Point // rotated back to metric
}

// sweepPattern plans a boustrophedon over the space's polygons: lines
// `spacing` apart along the narrowest direction, split wherever holes or
// no-fly zones cut them, linked line to line while the link is free and
// with routed transfers between the resulting blocks.
func sweepPattern(sp *space, rt *router, spacing float64, entry orb.Point) []wp {
	th := minWidthAngle(sp.incl)
	rot := newRotation(th)
	var rings []orb.Ring
	for _, p := range sp.incl {
		for _, r := range p {
			rr := make(orb.Ring, len(r))
			for i, q := range r {
				rr[i] = rot.to(q)
			}
			rings = append(rings, rr)
		}
	}
	edges := make([]seg, len(sp.edges))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, e := range sp.edges {
		edges[i] = seg{rot.to(e.a), rot.to(e.b)}
		lo = math.Min(lo, math.Min(edges[i].a[1], edges[i].b[1]))
		hi = math.Max(hi, math.Max(edges[i].a[1], edges[i].b[1]))
	}
	circles := make([]circle, len(sp.circles))
	for i, c := range sp.circles {
		circles[i] = circle{rot.to(c.c), c.r}
	}
	var segs []sweepSeg
	byLine := map[int][]int{}
	// Lines cover spacing/2 either side; place as few as cover the band the
	// margin leaves, centred in it so both outer lines keep the same slack.
	m := sp.margin + 0.05
	inner := (hi - m) - (lo + m)
	n := int(math.Ceil(inner/spacing - 1e-9))
	if n < 1 {
		n = 1
	}
	start := lo + m + (inner-float64(n-1)*spacing)/2
	for k := 0; k < n; k++ {
		y := start + float64(k)*spacing
		for _, iv := range freeIntervals(rings, edges, circles, y, m) {
			s := sweepSeg{line: k, a: rot.from(orb.Point{iv.a, y}), b: rot.from(orb.Point{iv.b, y})}
			if !sp.segOK(s.a, s.b) {
				continue // numerical edge case at a tangent; skip rather than risk it
			}
			byLine[k] = append(byLine[k], len(segs))
			segs = append(segs, s)
		}
	}
	if len(segs) == 0 {
		return nil
	}
	used := make([]bool, len(segs))
	var out []wp
	cur := entry
	have := false
	d := func(p, q orb.Point) float64 { return math.Hypot(p[0]-q[0], p[1]-q[1]) }
	for {
		// Start the next block at the nearest free segment end that is in
		// straight view; only when none of the nearest few is, take the
		// nearest by distance (a routed transfer, e.g. round a long notch).
		type cand struct {
			i   int
			rev bool
			d   float64
		}
		var cands []cand
		for i, s := range segs {
			if used[i] {
				continue
			}
			cands = append(cands, cand{i, false, d(cur, s.a)}, cand{i, true, d(cur, s.b)})
		}
		if len(cands) == 0 {
			break
		}
		sort.Slice(cands, func(x, y int) bool { return cands[x].d < cands[y].d })
		pick := cands[0]
		if have {
			for k, c := range cands {
				if k == 24 {
					break
				}
				end := segs[c.i].a
				if c.rev {
					end = segs[c.i].b
				}
				if sp.segOK(cur, end) {
					pick = c
					break
				}
			}
		}
		bi, bRev := pick.i, pick.rev
		i, rev := bi, bRev
		first := true
		dir := 0
		for {
			used[i] = true
			s := segs[i]
			a, b := s.a, s.b
			if rev {
				a, b = b, a
			}
			if first && have {
				link := rt.connect(cur, a)
				if link == nil {
					// Unreachable block: leave it out rather than fly through anything.
					break
				}
				out = append(out, link...)
			} else if !have {
				out = append(out, wp{a, false})
				have = true
			} else {
				out = append(out, wp{a, false})
			}
			if a != b {
				out = append(out, wp{b, false})
			}
			cur = b
			first = false
			// Continue on the next line if the link is free.
			next, nrev := -1, false
			bestD := math.Inf(1)
			dirs := []int{dir}
			if dir == 0 {
				dirs = []int{1, -1}
			}
			for _, dd := range dirs {
				for _, j := range byLine[s.line+dd] {
					if used[j] {
						continue
					}
					t := segs[j]
					for _, cand := range []struct {
						p   orb.Point
						rev bool
					}{{t.a, false}, {t.b, true}} {
						if x := d(cur, cand.p); x < bestD && x < 3*spacing+math.Abs(d(t.a, t.b)) && sp.segOK(cur, cand.p) {
							next, nrev, bestD = j, cand.rev, x
							dir = dd
						}
					}
				}
				if next >= 0 {
					break
				}
			}
			if next < 0 {
				break
			}
			i, rev = next, nrev
		}
	}
	return out
}

// perimeterPattern flies a loop inset from each polygon's shell: each shell
// vertex is moved inward along its bisector, points that fall in blocked
// space are dropped, and consecutive points are joined by free paths (so
// the loop goes around no-fly zones and narrow necks).
func perimeterPattern(sp *space, rt *router, inset float64, entry orb.Point) []wp {
	var loops [][]orb.Point
	for _, pg := range sp.incl {
		r := pg[0]
		n := len(r) - 1
		if n < 3 {
			continue
		}
		var pts []orb.Point
		for i := 0; i < n; i++ {
			u, v, w := r[(i-1+n)%n], r[i], r[(i+1)%n]
			n1 := leftNormal(u, v)
			n2 := leftNormal(v, w)
			bx, by := n1[0]+n2[0], n1[1]+n2[1]
			bl := math.Hypot(bx, by)
			if bl < 1e-9 {
				continue
			}
			bx, by = bx/bl, by/bl
			cosHalf := bx*n1[0] + by*n1[1]
			l := inset / math.Max(cosHalf, 0.34)
			q := orb.Point{v[0] + bx*l, v[1] + by*l}
			if sp.pointOK(q) {
				pts = append(pts, q)
			}
		}
		if len(pts) >= 2 {
			loops = append(loops, pts)
		}
	}
	return joinLoops(loops, rt, entry)
}

func leftNormal(a, b orb.Point) orb.Point {
	dx, dy := b[0]-a[0], b[1]-a[1]
	l := math.Hypot(dx, dy)
	if l == 0 {
		return orb.Point{}
	}
	return orb.Point{-dy / l, dx / l}
}

// joinLoops turns closed point loops into one route: each loop is rotated
// to start nearest to where the previous ended, joined by free paths, and
// closed back to its start.
func joinLoops(loops [][]orb.Point, rt *router, entry orb.Point) []wp {
	var out []wp
	cur := entry
	have := false
	for _, pts := range loops {
		k := nearestIdx(pts, cur)
		pts = append(append([]orb.Point{}, pts[k:]...), pts[:k]...)
		pts = append(pts, pts[0])
		if have {
			link := rt.connect(cur, pts[0])
			if link == nil {
				continue
			}
			out = append(out, link...)
		} else {
			out = append(out, wp{pts[0], false})
			have = true
		}
		ok := true
		for i := 1; i < len(pts); i++ {
			link := rt.connect(pts[i-1], pts[i])
			if link == nil {
				ok = false
				break
			}
			out = append(out, link...)
		}
		if !ok {
			return out
		}
		cur = pts[0]
	}
	return out
}

func nearestIdx(pts []orb.Point, p orb.Point) int {
	best, bd := 0, math.Inf(1)
	for i, q := range pts {
		if d := math.Hypot(q[0]-p[0], q[1]-p[1]); d < bd {
			best, bd = i, d
		}
	}
	return best
}

// loopPattern visits points of interest in a nearest-neighbour order
// improved by 2-opt, and returns to the first. Without enough points of
// interest it spreads points over the free space itself.
func loopPattern(sp *space, rt *router, pois []orb.Point, entry orb.Point) []wp {
	var pts []orb.Point
	for _, p := range pois {
		if sp.pointOK(p) {
			pts = append(pts, p)
		}
	}
	if len(pts) < 3 {
		pts = append(pts, spreadPoints(sp, 6-len(pts), pts)...)
	}
	if len(pts) == 0 {
		return nil
	}
	// Nearest-neighbour tour from the entry, then 2-opt.
	tour := []orb.Point{}
	left := append([]orb.Point{}, pts...)
	cur := entry
	for len(left) > 0 {
		k := nearestIdx(left, cur)
		cur = left[k]
		tour = append(tour, cur)
		left = append(left[:k], left[k+1:]...)
	}
	d := func(p, q orb.Point) float64 { return math.Hypot(p[0]-q[0], p[1]-q[1]) }
	for improved := true; improved; {
		improved = false
		n := len(tour)
		for i := 0; i < n-1; i++ {
			for j := i + 2; j < n; j++ {
				a, b, c, e := tour[i], tour[i+1], tour[j], tour[(j+1)%n]
				if d(a, c)+d(b, e) < d(a, b)+d(c, e)-1e-6 {
					for x, y := i+1, j; x < y; x, y = x+1, y-1 {
						tour[x], tour[y] = tour[y], tour[x]
					}
					improved = true
				}
			}
		}
	}
	return joinLoops([][]orb.Point{tour}, rt, entry)
}

// spreadPoints picks up to k free points far from each other and from
// `have` (farthest-point sampling on a grid).
func spreadPoints(sp *space, k int, have []orb.Point) []orb.Point {
	b := sp.bound
	step := math.Max(math.Max(b.Max[0]-b.Min[0], b.Max[1]-b.Min[1])/24, 1)
	var cand []orb.Point
	for y := b.Min[1] + step/2; y < b.Max[1]; y += step {
		for x := b.Min[0] + step/2; x < b.Max[0]; x += step {
			if p := (orb.Point{x, y}); sp.pointOK(p) {
				cand = append(cand, p)
			}
		}
	}
	if len(cand) == 0 {
		return nil
	}
	chosen := append([]orb.Point{}, have...)
	var out []orb.Point
	if len(chosen) == 0 {
		c := b.Center()
		p := cand[nearestIdx(cand, c)]
		chosen = append(chosen, p)
		out = append(out, p)
		k--
	}
	for ; k > 0; k-- {
		best, bd := -1, 0.0
		for i, c := range cand {
			md := math.Inf(1)
			for _, q := range chosen {
				md = math.Min(md, math.Hypot(c[0]-q[0], c[1]-q[1]))
			}
			if md > bd {
				best, bd = i, md
			}
		}
		if best < 0 || bd < step/2 {
			break
		}
		chosen = append(chosen, cand[best])
		out = append(out, cand[best])
	}
	return out
}

// corridorPattern follows a polyline at a lateral offset (positive = left
// of the direction of travel) out and back, so repeating it is a loop.
func corridorPattern(sp *space, rt *router, line []orb.Point, offset float64) []wp {
	var pts []orb.Point
	n := len(line)
	for i, v := range line {
		var nx, ny float64
		if i > 0 {
			l := leftNormal(line[i-1], v)
			nx, ny = nx+l[0], ny+l[1]
		}
		if i < n-1 {
			l := leftNormal(v, line[i+1])
			nx, ny = nx+l[0], ny+l[1]
		}
		if l := math.Hypot(nx, ny); l > 0 {
			nx, ny = nx/l, ny/l
		}
		// Miter: at a bend the offset vertex moves further out so both
		// neighbouring legs stay `offset` from the route.
		ml := offset
		if i > 0 {
			l := leftNormal(line[i-1], v)
			ml = offset / math.Max(nx*l[0]+ny*l[1], 0.34)
		}
		q := orb.Point{v[0] + nx*ml, v[1] + ny*ml}
		if sp.pointOK(q) {
			pts = append(pts, q)
		} else if p, ok := nearestFree(sp, q); ok {
			pts = append(pts, p)
		}
	}
	if len(pts) == 0 {
		return nil
	}
	out := []wp{{pts[0], false}}
	for i := 1; i < len(pts); i++ {
		if pts[i] == pts[i-1] {
			continue
		}
		link := rt.connect(pts[i-1], pts[i])
		if link == nil {
			continue
		}
		out = append(out, link...)
	}
	// And back.
	for i := len(out) - 2; i >= 0; i-- {
		out = append(out, wp{out[i].p, out[i+1].transit})
	}
	return out
}

// nearestFree searches rings around p for a free point within a few
// margins; a route vertex hugging the corridor's edge is moved inward.
func nearestFree(sp *space, p orb.Point) (orb.Point, bool) {
	step := math.Max(sp.margin/2, 1)
	for r := step; r <= 6*sp.margin+step; r += step {
		for k := 0; k < 16; k++ {
			th := float64(k) * math.Pi / 8
			q := orb.Point{p[0] + r*math.Cos(th), p[1] + r*math.Sin(th)}
			if sp.pointOK(q) {
				return q, true
			}
		}
	}
	return orb.Point{}, false
}

// spine is a fallback route for the corridor pattern when the area has no
// route feature: the free middle line along the area's long axis.
func spine(sp *space) []orb.Point {
	th := minWidthAngle(sp.incl)
	rot := newRotation(th)
	var rings []orb.Ring
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range sp.incl {
		for _, r := range p {
			rr := make(orb.Ring, len(r))
			for i, q := range r {
				rr[i] = rot.to(q)
				lo, hi = math.Min(lo, rr[i][1]), math.Max(hi, rr[i][1])
			}
			rings = append(rings, rr)
		}
	}
	edges := make([]seg, len(sp.edges))
	for i, e := range sp.edges {
		edges[i] = seg{rot.to(e.a), rot.to(e.b)}
	}
	circles := make([]circle, len(sp.circles))
	for i, c := range sp.circles {
		circles[i] = circle{rot.to(c.c), c.r}
	}
	// Try the middle first, then lines further out, until one is free.
	for k := 0; k < 20; k++ {
		off := float64((k+1)/2) * (hi - lo) / 40
		if k%2 == 1 {
			off = -off
		}
		y := (lo+hi)/2 + off
		ivs := freeIntervals(rings, edges, circles, y, sp.margin+0.05)
		if len(ivs) == 0 {
			continue
		}
		var pts []orb.Point
		for _, iv := range ivs {
			pts = append(pts, rot.from(orb.Point{iv.a, y}), rot.from(orb.Point{iv.b, y}))
		}
		return pts
	}
	return nil
}
