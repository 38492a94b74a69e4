package missions

import (
	"fmt"
	"math"
	"sort"

	"github.com/paulmach/orb"
	"github.com/peterstace/simplefeatures/geom"
)

// earthRadius is the WGS84 mean radius; the local projection below is good
// to well under a metre over the few kilometres of an event area.
const earthRadius = 6371008.8

// projection is an equirectangular projection around a reference point:
// x metres east, y metres north. All planning and checking is metric and
// happens in one projection per area, so the planner and the checker agree.
type projection struct {
	lon0, lat0 float64
	kx, ky     float64 // metres per degree
}

func newProjection(b orb.Bound) projection {
	c := b.Center()
	ky := earthRadius * math.Pi / 180
	return projection{lon0: c[0], lat0: c[1], kx: ky * math.Cos(c[1]*math.Pi/180), ky: ky}
}

func (p projection) toXY(ll orb.Point) orb.Point {
	return orb.Point{(ll[0] - p.lon0) * p.kx, (ll[1] - p.lat0) * p.ky}
}

func (p projection) toLL(xy orb.Point) orb.Point {
	return orb.Point{p.lon0 + xy[0]/p.kx, p.lat0 + xy[1]/p.ky}
}

func (p projection) ring(r orb.Ring) orb.Ring {
	out := make(orb.Ring, len(r))
	for i, pt := range r {
		out[i] = p.toXY(pt)
	}
	return out
}

func (p projection) polygon(pg orb.Polygon) orb.Polygon {
	out := make(orb.Polygon, len(pg))
	for i, r := range pg {
		out[i] = p.ring(r)
	}
	return out
}

func (p projection) ringArea(r orb.Ring) float64 { return signedArea(p.ring(r)) }

func (p projection) span(b orb.Bound) float64 {
	a, c := p.toXY(b.Min), p.toXY(b.Max)
	return math.Hypot(c[0]-a[0], c[1]-a[1])
}

// signedArea is the shoelace area, positive for counter-clockwise rings.
func signedArea(r orb.Ring) float64 {
	s := 0.0
	for i := 0; i+1 < len(r); i++ {
		s += r[i][0]*r[i+1][1] - r[i+1][0]*r[i][1]
	}
	if n := len(r); n > 0 && r[0] != r[n-1] {
		s += r[n-1][0]*r[0][1] - r[0][0]*r[n-1][1]
	}
	return s / 2
}

// ringContainsStrict is the even-odd ray test; points on the boundary may
// go either way, which is fine where it is used (margins keep plans away
// from boundaries).
func ringContainsStrict(r orb.Ring, p orb.Point) bool {
	in := false
	n := len(r)
	for i, j := 0, n-1; i < n; j, i = i, i+1 {
		a, b := r[i], r[j]
		if (a[1] > p[1]) != (b[1] > p[1]) {
			x := a[0] + (p[1]-a[1])*(b[0]-a[0])/(b[1]-a[1])
			if p[0] < x {
				in = !in
			}
		}
	}
	return in
}

func polygonContains(pg orb.Polygon, p orb.Point) bool {
	if len(pg) == 0 || !ringContainsStrict(pg[0], p) {
		return false
	}
	for _, h := range pg[1:] {
		if ringContainsStrict(h, p) {
			return false
		}
	}
	return true
}

func cross(o, a, b orb.Point) float64 {
	return (a[0]-o[0])*(b[1]-o[1]) - (a[1]-o[1])*(b[0]-o[0])
}

func onSegment(a, b, p orb.Point) bool {
	return math.Min(a[0], b[0]) <= p[0] && p[0] <= math.Max(a[0], b[0]) &&
		math.Min(a[1], b[1]) <= p[1] && p[1] <= math.Max(a[1], b[1])
}

// segmentsIntersect tells whether closed segments ab and cd share a point.
func segmentsIntersect(a, b, c, d orb.Point) bool {
	d1, d2 := cross(c, d, a), cross(c, d, b)
	d3, d4 := cross(a, b, c), cross(a, b, d)
	if ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)) {
		return true
	}
	return (d1 == 0 && onSegment(c, d, a)) || (d2 == 0 && onSegment(c, d, b)) ||
		(d3 == 0 && onSegment(a, b, c)) || (d4 == 0 && onSegment(a, b, d))
}

// pointSegDist is the distance from p to segment ab.
func pointSegDist(p, a, b orb.Point) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = ((p[0]-a[0])*dx + (p[1]-a[1])*dy) / l2
		t = math.Max(0, math.Min(1, t))
	}
	return math.Hypot(p[0]-a[0]-t*dx, p[1]-a[1]-t*dy)
}

// segSegDist is the distance between segments ab and cd.
func segSegDist(a, b, c, d orb.Point) float64 {
	if segmentsIntersect(a, b, c, d) {
		return 0
	}
	return math.Min(math.Min(pointSegDist(a, c, d), pointSegDist(b, c, d)),
		math.Min(pointSegDist(c, a, b), pointSegDist(d, a, b)))
}

type edgeRef struct {
	a, b       orb.Point
	i          int // index of the first vertex in the source ring
	minX, maxX float64
}

// ringEdges returns the non-degenerate edges of a closed ring, remembering
// source vertex indices.
func ringEdges(r orb.Ring) []edgeRef {
	var es []edgeRef
	for i := 0; i+1 < len(r); i++ {
		if r[i] == r[i+1] {
			continue
		}
		es = append(es, edgeRef{a: r[i], b: r[i+1], i: i, minX: math.Min(r[i][0], r[i+1][0]), maxX: math.Max(r[i][0], r[i+1][0])})
	}
	return es
}

// selfIntersection finds two edges of a closed ring that touch or cross
// other than at their shared vertex; it returns their first vertex indices.
func selfIntersection(r orb.Ring) (int, int, bool) {
	es := ringEdges(r)
	n := len(es)
	pos := make([]int, n) // position of each edge in ring order
	for k := range es {
		pos[k] = k
	}
	order := make([]int, n)
	for k := range order {
		order[k] = k
	}
	sort.Slice(order, func(x, y int) bool { return es[order[x]].minX < es[order[y]].minX })
	for oi, ki := range order {
		e := es[ki]
		for _, kj := range order[oi+1:] {
			f := es[kj]
			if f.minX > e.maxX {
				break
			}
			if math.Max(e.a[1], e.b[1]) < math.Min(f.a[1], f.b[1]) || math.Max(f.a[1], f.b[1]) < math.Min(e.a[1], e.b[1]) {
				continue
			}
			lo, hi := ki, kj
			if lo > hi {
				lo, hi = hi, lo
			}
			adjacent := hi == lo+1 || (lo == 0 && hi == n-1)
			if adjacent {
				// They share one vertex; they are bad only if they fold back
				// onto each other (collinear, pointing the same way from it).
				var shared, p, q orb.Point
				if hi == lo+1 {
					shared, p, q = es[lo].b, es[lo].a, es[hi].b
				} else {
					shared, p, q = es[lo].a, es[lo].b, es[hi].a
				}
				if cross(shared, p, q) == 0 && (p[0]-shared[0])*(q[0]-shared[0])+(p[1]-shared[1])*(q[1]-shared[1]) > 0 {
					return es[lo].i, es[hi].i, true
				}
				continue
			}
			if segmentsIntersect(e.a, e.b, f.a, f.b) {
				return es[lo].i, es[hi].i, true
			}
		}
	}
	_ = pos
	return 0, 0, false
}

func ringsCross(a, b orb.Ring) bool {
	ea, eb := ringEdges(a), ringEdges(b)
	ba, bb := a.Bound(), b.Bound()
	if !ba.Intersects(bb) {
		return false
	}
	for _, e := range ea {
		for _, f := range eb {
			if segmentsIntersect(e.a, e.b, f.a, f.b) {
				return true
			}
		}
	}
	return false
}

// circleRing approximates a circle (metric centre, radius) by a polygon
// that encloses it, so anything outside the polygon is outside the circle.
func circleRing(c orb.Point, r float64, n int) orb.Ring {
	rr := r / math.Cos(math.Pi/float64(n))
	out := make(orb.Ring, n+1)
	for i := 0; i < n; i++ {
		th := 2 * math.Pi * float64(i) / float64(n)
		out[i] = orb.Point{c[0] + rr*math.Cos(th), c[1] + rr*math.Sin(th)}
	}
	out[n] = out[0]
	return out
}

// toSF converts a metric orb polygon to simplefeatures.
func toSF(pg orb.Polygon) geom.Polygon {
	rings := make([]geom.LineString, 0, len(pg))
	for _, r := range pg {
		cs := make([]float64, 0, 2*len(r)+2)
		for _, p := range r {
			cs = append(cs, p[0], p[1])
		}
		if len(r) > 0 && r[0] != r[len(r)-1] {
			cs = append(cs, r[0][0], r[0][1])
		}
		rings = append(rings, geom.NewLineString(geom.NewSequence(cs, geom.DimXY)))
	}
	return geom.NewPolygon(rings)
}

// fromSF returns the polygons of a simplefeatures areal geometry.
func fromSF(g geom.Geometry) []orb.Polygon {
	var out []orb.Polygon
	conv := func(p geom.Polygon) {
		if p.IsEmpty() {
			return
		}
		pg := orb.Polygon{lsRing(p.ExteriorRing())}
		for i := 0; i < p.NumInteriorRings(); i++ {
			pg = append(pg, lsRing(p.InteriorRingN(i)))
		}
		out = append(out, normalizePolygon(pg))
	}
	switch g.Type() {
	case geom.TypePolygon:
		conv(g.MustAsPolygon())
	case geom.TypeMultiPolygon:
		mp := g.MustAsMultiPolygon()
		for i := 0; i < mp.NumPolygons(); i++ {
			conv(mp.PolygonN(i))
		}
	case geom.TypeGeometryCollection:
		gc := g.MustAsGeometryCollection()
		for i := 0; i < gc.NumGeometries(); i++ {
			out = append(out, fromSF(gc.GeometryN(i))...)
		}
	}
	return out
}

func lsRing(ls geom.LineString) orb.Ring {
	seq := ls.Coordinates()
	r := make(orb.Ring, seq.Length())
	for i := range r {
		xy := seq.GetXY(i)
		r[i] = orb.Point{xy.X, xy.Y}
	}
	return r
}

// unionAll unions polygons that may overlap; a MultiPolygon of
// overlapping parts would be invalid input to simplefeatures' overlay.
func unionAll(ps []orb.Polygon) (geom.Geometry, error) {
	gs := make([]geom.Geometry, len(ps))
	for i, p := range ps {
		gs[i] = toSF(p).AsGeometry()
	}
	u, err := geom.UnionMany(gs)
	if err != nil {
		return u, err
	}
	return dropCoveredHoles(u, ps), nil
}

// dropCoveredHoles removes the holes of u that one of the inputs covers:
// simplefeatures v0.50's UnionMany keeps a hole of one input that another
// input covers (a fence's hull over an event-area hole kept the hole as a
// fence exclusion); the binary Union does not. A true hole of the union
// has no point inside any input.
func dropCoveredHoles(u geom.Geometry, ps []orb.Polygon) geom.Geometry {
	polys := fromSF(u)
	changed := false
	for i, p := range polys {
		kept := p[:1]
		for _, h := range p[1:] {
			c := interiorPoint(h)
			covered := false
			for _, q := range ps {
				if polygonContains(q, c) {
					covered = true
					break
				}
			}
			if covered {
				changed = true
				continue
			}
			kept = append(kept, h)
		}
		polys[i] = kept
	}
	if !changed {
		return u
	}
	return multiSF(polys)
}

// multiSF builds a MultiPolygon from polygons known not to overlap (an
// overlay result).
func multiSF(ps []orb.Polygon) geom.Geometry {
	sfs := make([]geom.Polygon, len(ps))
	for i, p := range ps {
		sfs[i] = toSF(p)
	}
	return geom.NewMultiPolygon(sfs).AsGeometry()
}

// noFlyXY returns every no-fly zone as a metric polygon (circles as
// enclosing polygons).
func (a *Area) noFlyXY(pr projection) []orb.Polygon {
	out := make([]orb.Polygon, 0, len(a.NoFly))
	for _, z := range a.NoFly {
		if z.IsCircle() {
			out = append(out, orb.Polygon{circleRing(pr.toXY(z.Center), z.Radius, 48)})
		} else {
			out = append(out, pr.polygon(z.Polygon))
		}
	}
	return out
}

// regionXY is the flyable region in metres: inclusion polygons minus
// no-fly zones, computed with simplefeatures' overlay.
func (a *Area) regionXY(pr projection) ([]orb.Polygon, error) {
	inc := make([]orb.Polygon, len(a.Include))
	for i, p := range a.Include {
		inc[i] = pr.polygon(p)
	}
	g, err := unionAll(inc)
	if err != nil {
		return nil, fmt.Errorf("union of inclusion polygons: %w", err)
	}
	if nf := a.noFlyXY(pr); len(nf) > 0 {
		u, err := unionAll(nf)
		if err != nil {
			return nil, fmt.Errorf("union of no-fly zones: %w", err)
		}
		if g, err = geom.Difference(g, u); err != nil {
			return nil, fmt.Errorf("subtract no-fly zones: %w", err)
		}
	}
	return fromSF(g), nil
}

func (a *Area) freeArea(pr projection) (total, free float64, err error) {
	for _, p := range a.Include {
		total += polyArea(pr.polygon(p))
	}
	reg, err := a.regionXY(pr)
	if err != nil {
		return 0, 0, err
	}
	for _, p := range reg {
		free += polyArea(p)
	}
	return total, free, nil
}

func polyArea(p orb.Polygon) float64 {
	if len(p) == 0 {
		return 0
	}
	s := math.Abs(signedArea(p[0]))
	for _, h := range p[1:] {
		s -= math.Abs(signedArea(h))
	}
	return s
}
