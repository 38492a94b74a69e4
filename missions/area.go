package missions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// Area is an event area as operators plan over it: where drones may fly
// (inclusion polygons with holes), where they must not (no-fly polygons and
// circles), between which altitudes and when, and where they start and
// gather. Coordinates are WGS84 lon/lat (orb's X=lon, Y=lat); shells are
// counter-clockwise and holes clockwise after import, whatever the source
// winding was.
type Area struct {
	Name    string
	Include []orb.Polygon
	NoFly   []NoFly
	// MinAlt and MaxAlt bound flight altitude in metres above launch.
	MinAlt, MaxAlt float64
	// Starts and Ends are zero when the source gave no time window.
	Starts, Ends time.Time
	Launch       []Site
	Rally        []Site
	POIs         []Site
	Routes       []Route
}

// NoFly is one zone drones must keep out of: a polygon, or a circle when
// Radius > 0 (GeoJSON Point with a radius_m property).
type NoFly struct {
	Name    string
	Polygon orb.Polygon
	Center  orb.Point
	Radius  float64 // metres; 0 for polygons
}

// IsCircle tells whether the zone is a circle rather than a polygon.
func (z NoFly) IsCircle() bool { return z.Radius > 0 }

// Site is a named point: a launch pad, a rally point or a point of interest.
type Site struct {
	Name  string
	Point orb.Point
	Alt   float64 // metres above launch for rally points; 0 when not given
	// Radius is a launch pad's size (property radius_m): several drones
	// parked on one pad stand anywhere within it, and each drone's fence
	// must contain the whole pad or ArduCopter refuses to arm. 0 = a point.
	Radius float64 `json:",omitempty"`
}

// Route is a line to follow, such as a marathon's centre line.
type Route struct {
	Name string
	Line orb.LineString
}

// Default altitude band used when the source gives none: 10–120 m is the
// usual open-category ceiling.
const (
	DefaultMinAlt = 10
	DefaultMaxAlt = 120
)

// Limits on what an area may look like; beyond them the source is almost
// certainly wrong (degrees swapped, metres for degrees, a test polygon).
const (
	maxAreaM2      = 1000e6 // 1000 km²
	minAreaM2      = 25     // 5 m × 5 m
	maxSpanM       = 100e3
	maxAltitudeM   = 1000
	maxRingVertex  = 100000
	minFreeFrac    = 0.01
	maxNoFlyRadius = 50e3
	// maxLaunchRadius bounds a launch pad: beyond it, it is an area, not a pad.
	maxLaunchRadius = 500
)

// Problem is one thing wrong with an imported area. Feature is the index in
// the FeatureCollection (-1 for the collection itself); Ring 0 is a
// polygon's shell, 1.. its holes; Polygon indexes a MultiPolygon's parts;
// Vertex is -1 when the problem is not about one vertex.
type Problem struct {
	Feature int    `json:"feature"`
	Name    string `json:"name,omitempty"`
	Polygon int    `json:"polygon"`
	Ring    int    `json:"ring"`
	Vertex  int    `json:"vertex"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Feature < 0 {
		b.WriteString("collection")
	} else {
		fmt.Fprintf(&b, "feature %d", p.Feature)
		if p.Name != "" {
			fmt.Fprintf(&b, " (%q)", p.Name)
		}
	}
	if p.Polygon > 0 {
		fmt.Fprintf(&b, " polygon %d", p.Polygon)
	}
	if p.Ring > 0 {
		fmt.Fprintf(&b, " hole %d", p.Ring)
	} else if p.Ring == 0 && p.Vertex >= 0 {
		b.WriteString(" shell")
	}
	if p.Vertex >= 0 {
		fmt.Fprintf(&b, " vertex %d", p.Vertex)
	}
	b.WriteString(": ")
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists everything wrong with an area so the GIS team can
// fix it in one round instead of one error at a time.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "invalid event area: " + strings.Join(lines, "; ")
}

type problems struct{ list []Problem }

func (ps *problems) add(feature int, name string, poly, ring, vertex int, format string, args ...any) {
	ps.list = append(ps.list, Problem{Feature: feature, Name: name, Polygon: poly, Ring: ring, Vertex: vertex, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps.list}
}

// Feature kinds the GIS export uses in the "kind" property.
const (
	KindEventArea = "event-area"
	KindNoFly     = "no-fly"
	KindLaunch    = "launch"
	KindRally     = "rally"
	KindRoute     = "route"
	KindPOI       = "poi"
)

// maxImportBytes bounds what ImportGeoJSON reads; event areas are small.
const maxImportBytes = 16 << 20

type rawFeature struct {
	Type       string          `json:"type"`
	ID         json.RawMessage `json:"id"`
	Properties map[string]any  `json:"properties"`
	Geometry   json.RawMessage `json:"geometry"`
}

type rawCollection struct {
	Type     string       `json:"type"`
	Features []rawFeature `json:"features"`
}

// ImportGeoJSON reads an event area as the city's GIS team exports it: a
// FeatureCollection whose features carry a "kind" property (event-area,
// no-fly, launch, rally, route, poi). It accepts Polygon and MultiPolygon,
// holes and either winding order, and the altitude (min_alt_m, max_alt_m)
// and time (starts, ends, RFC 3339) properties. Every problem found is
// returned at once in a *ValidationError naming feature, ring and vertex.
func ImportGeoJSON(r io.Reader) (*Area, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxImportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read event area: %w", err)
	}
	if len(data) > maxImportBytes {
		return nil, fmt.Errorf("event area larger than %d bytes", maxImportBytes)
	}
	var fc rawCollection
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&fc); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, fmt.Errorf("event area: malformed JSON at byte %d: %w", syn.Offset, err)
		case errors.As(err, &typ):
			return nil, fmt.Errorf("event area: %s at byte %d: got JSON %s, want %s", typ.Field, typ.Offset, typ.Value, typ.Type)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("event area: JSON ends unexpectedly after %d bytes (truncated file?)", len(data))
		}
		return nil, fmt.Errorf("event area: %w", err)
	}
	if fc.Type != "FeatureCollection" {
		return nil, &ValidationError{Problems: []Problem{{Feature: -1, Vertex: -1, Message: fmt.Sprintf("type is %q, want \"FeatureCollection\"", fc.Type)}}}
	}
	a := &Area{MinAlt: math.NaN(), MaxAlt: math.NaN()}
	ps := &problems{}
	for i, f := range fc.Features {
		importFeature(a, ps, i, f)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	if len(a.Include) == 0 {
		ps.add(-1, "", 0, -1, -1, "no feature of kind %q: nothing defines where drones may fly", KindEventArea)
		return nil, ps.err()
	}
	if math.IsNaN(a.MinAlt) {
		a.MinAlt = DefaultMinAlt
	}
	if math.IsNaN(a.MaxAlt) {
		a.MaxAlt = DefaultMaxAlt
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

func importFeature(a *Area, ps *problems, i int, f rawFeature) {
	name, _ := f.Properties["name"].(string)
	if name == "" && len(f.ID) > 0 {
		name = strings.Trim(string(f.ID), `"`)
	}
	if f.Type != "Feature" {
		ps.add(i, name, 0, -1, -1, "type is %q, want \"Feature\"", f.Type)
		return
	}
	kind, ok := f.Properties["kind"].(string)
	if !ok {
		ps.add(i, name, 0, -1, -1, "property \"kind\" missing or not a string (want event-area, no-fly, launch, rally, route or poi)")
		return
	}
	if len(f.Geometry) == 0 || string(f.Geometry) == "null" {
		ps.add(i, name, 0, -1, -1, "%s feature has no geometry", kind)
		return
	}
	g, err := geojson.UnmarshalGeometry(f.Geometry)
	if err != nil {
		ps.add(i, name, 0, -1, -1, "geometry: %v", err)
		return
	}
	geom := g.Geometry()
	if geom == nil {
		ps.add(i, name, 0, -1, -1, "geometry type %q unsupported", g.Type)
		return
	}
	switch kind {
	case KindEventArea:
		polys := polygonsOf(ps, i, name, kind, geom)
		for pi, p := range polys {
			if checkPolygon(ps, i, name, pi, p) {
				a.Include = append(a.Include, normalizePolygon(p))
			}
		}
		if a.Name == "" {
			a.Name = name
		}
		readAltTime(a, ps, i, name, f.Properties)
	case KindNoFly:
		if pt, ok := geom.(orb.Point); ok {
			r, ok := number(f.Properties["radius_m"])
			if !ok || r <= 0 || r > maxNoFlyRadius {
				ps.add(i, name, 0, -1, -1, "no-fly circle needs property radius_m in (0, %g] metres", float64(maxNoFlyRadius))
				return
			}
			if checkCoord(ps, i, name, 0, -1, 0, pt) {
				a.NoFly = append(a.NoFly, NoFly{Name: name, Center: pt, Radius: r})
			}
			return
		}
		for pi, p := range polygonsOf(ps, i, name, kind, geom) {
			if checkPolygon(ps, i, name, pi, p) {
				a.NoFly = append(a.NoFly, NoFly{Name: name, Polygon: normalizePolygon(p)})
			}
		}
	case KindLaunch, KindRally, KindPOI:
		pt, ok := geom.(orb.Point)
		if !ok {
			ps.add(i, name, 0, -1, -1, "%s feature must be a Point, got %s", kind, geom.GeoJSONType())
			return
		}
		if !checkCoord(ps, i, name, 0, -1, 0, pt) {
			return
		}
		s := Site{Name: name, Point: pt}
		if alt, ok := number(f.Properties["alt_m"]); ok {
			s.Alt = alt
		}
		if kind == KindLaunch {
			if r, ok := number(f.Properties["radius_m"]); ok {
				if !(r > 0 && r <= maxLaunchRadius) {
					ps.add(i, name, 0, -1, -1, "launch radius_m %g: want (0, %g] metres", r, float64(maxLaunchRadius))
					return
				}
				s.Radius = r
			}
		}
		switch kind {
		case KindLaunch:
			a.Launch = append(a.Launch, s)
		case KindRally:
			a.Rally = append(a.Rally, s)
		default:
			a.POIs = append(a.POIs, s)
		}
	case KindRoute:
		ls, ok := geom.(orb.LineString)
		if !ok {
			ps.add(i, name, 0, -1, -1, "route feature must be a LineString, got %s", geom.GeoJSONType())
			return
		}
		if len(ls) < 2 {
			ps.add(i, name, 0, -1, -1, "route has %d points, want at least 2", len(ls))
			return
		}
		okAll := true
		for v, p := range ls {
			okAll = checkCoord(ps, i, name, 0, 0, v, p) && okAll
		}
		if okAll {
			a.Routes = append(a.Routes, Route{Name: name, Line: ls})
		}
	default:
		ps.add(i, name, 0, -1, -1, "unknown kind %q (want event-area, no-fly, launch, rally, route or poi)", kind)
	}
}

func polygonsOf(ps *problems, i int, name, kind string, g orb.Geometry) []orb.Polygon {
	switch v := g.(type) {
	case orb.Polygon:
		return []orb.Polygon{v}
	case orb.MultiPolygon:
		return v
	}
	ps.add(i, name, 0, -1, -1, "%s feature must be a Polygon or MultiPolygon, got %s", kind, g.GeoJSONType())
	return nil
}

func number(v any) (float64, bool) {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func readAltTime(a *Area, ps *problems, i int, name string, props map[string]any) {
	for _, k := range []string{"min_alt_m", "max_alt_m"} {
		v, present := props[k]
		if !present {
			continue
		}
		f, ok := number(v)
		if !ok {
			ps.add(i, name, 0, -1, -1, "property %s must be a number, got %v", k, v)
			continue
		}
		if f < 0 || f > maxAltitudeM {
			ps.add(i, name, 0, -1, -1, "property %s = %g m is outside [0, %d]", k, f, maxAltitudeM)
			continue
		}
		// Several event-area features: keep the band all of them allow.
		if k == "min_alt_m" && (math.IsNaN(a.MinAlt) || f > a.MinAlt) {
			a.MinAlt = f
		}
		if k == "max_alt_m" && (math.IsNaN(a.MaxAlt) || f < a.MaxAlt) {
			a.MaxAlt = f
		}
	}
	for _, k := range []string{"starts", "ends"} {
		v, present := props[k]
		if !present {
			continue
		}
		s, _ := v.(string)
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			ps.add(i, name, 0, -1, -1, "property %s = %v is not an RFC 3339 time", k, v)
			continue
		}
		if k == "starts" && a.Starts.IsZero() {
			a.Starts = t
		}
		if k == "ends" && a.Ends.IsZero() {
			a.Ends = t
		}
	}
}

func checkCoord(ps *problems, i int, name string, poly, ring, v int, p orb.Point) bool {
	if math.IsNaN(p[0]) || math.IsNaN(p[1]) || p[0] < -180 || p[0] > 180 || p[1] < -90 || p[1] > 90 {
		ps.add(i, name, poly, ring, v, "coordinate [%g, %g] out of range (want [lon, lat] with lon in [-180, 180], lat in [-90, 90])", p[0], p[1])
		return false
	}
	return true
}

// checkPolygon reports ring problems of one polygon; it returns false when
// the polygon cannot be used.
func checkPolygon(ps *problems, i int, name string, pi int, p orb.Polygon) bool {
	before := len(ps.list)
	if len(p) == 0 {
		ps.add(i, name, pi, -1, -1, "polygon has no rings")
		return false
	}
	for ri, r := range p {
		if len(r) > maxRingVertex {
			ps.add(i, name, pi, ri, -1, "ring has %d vertices, more than %d", len(r), maxRingVertex)
			continue
		}
		okc := true
		for v, pt := range r {
			okc = checkCoord(ps, i, name, pi, ri, v, pt) && okc
		}
		if !okc {
			continue
		}
		if len(r) > 0 && r[0] != r[len(r)-1] {
			ps.add(i, name, pi, ri, len(r)-1, "ring not closed: last vertex [%g, %g] differs from first [%g, %g]", r[len(r)-1][0], r[len(r)-1][1], r[0][0], r[0][1])
			continue
		}
		if n := distinctPoints(r); n < 3 {
			ps.add(i, name, pi, ri, -1, "ring has %d distinct points, want at least 3", n)
			continue
		}
		if a, b, ok := selfIntersection(r); ok {
			ps.add(i, name, pi, ri, a, "ring intersects itself: edge %d–%d crosses edge %d–%d", a, a+1, b, b+1)
			continue
		}
	}
	if len(ps.list) > before {
		return false
	}
	// Holes must lie inside their shell; with both rings simple this means
	// no hole vertex outside and no edge crossing.
	pr := newProjection(orb.Bound{Min: p[0].Bound().Min, Max: p[0].Bound().Max})
	areaM := math.Abs(pr.ringArea(p[0]))
	span := pr.span(p[0].Bound())
	if areaM > maxAreaM2 || span > maxSpanM {
		ps.add(i, name, pi, 0, -1, "polygon is absurdly large: %.1f km², %.1f km across (limits %g km², %g km); are lon/lat swapped or the units wrong?", areaM/1e6, span/1e3, maxAreaM2/1e6, maxSpanM/1e3)
		return false
	}
	if areaM < minAreaM2 {
		ps.add(i, name, pi, 0, -1, "polygon is absurdly small: %.2f m² (minimum %d m²)", areaM, minAreaM2)
		return false
	}
	for hi := 1; hi < len(p); hi++ {
		for v, pt := range p[hi] {
			if !ringContainsStrict(p[0], pt) {
				ps.add(i, name, pi, hi, v, "hole vertex [%g, %g] lies outside its shell", pt[0], pt[1])
				break
			}
		}
		for hj := 1; hj < hi; hj++ {
			if ringsCross(p[hi], p[hj]) || ringContainsStrict(p[hj], p[hi][0]) || ringContainsStrict(p[hi], p[hj][0]) {
				ps.add(i, name, pi, hi, -1, "hole overlaps hole %d", hj)
			}
		}
	}
	return len(ps.list) == before
}

func distinctPoints(r orb.Ring) int {
	seen := map[orb.Point]struct{}{}
	for _, p := range r {
		seen[p] = struct{}{}
	}
	return len(seen)
}

// normalizePolygon returns a copy with consecutive duplicate vertices
// removed, the shell counter-clockwise and holes clockwise.
func normalizePolygon(p orb.Polygon) orb.Polygon {
	out := make(orb.Polygon, len(p))
	for i, r := range p {
		nr := make(orb.Ring, 0, len(r))
		for _, pt := range r {
			if len(nr) > 0 && nr[len(nr)-1] == pt {
				continue
			}
			nr = append(nr, pt)
		}
		ccw := signedArea(nr) > 0
		if (i == 0) != ccw {
			nr.Reverse()
		}
		out[i] = nr
	}
	return out
}

// Validate checks the whole area after import or after an API edit: the
// altitude band, the time window, and that the no-fly zones leave something
// to fly.
func (a *Area) Validate() error {
	ps := &problems{}
	if len(a.Include) == 0 {
		ps.add(-1, a.Name, 0, -1, -1, "no inclusion polygon")
	}
	if !(a.MinAlt < a.MaxAlt) {
		ps.add(-1, a.Name, 0, -1, -1, "min altitude %g m is not below max altitude %g m", a.MinAlt, a.MaxAlt)
	}
	if a.MinAlt < 0 || a.MaxAlt > maxAltitudeM {
		ps.add(-1, a.Name, 0, -1, -1, "altitude band [%g, %g] m outside [0, %d]", a.MinAlt, a.MaxAlt, maxAltitudeM)
	}
	if !a.Starts.IsZero() && !a.Ends.IsZero() && !a.Starts.Before(a.Ends) {
		ps.add(-1, a.Name, 0, -1, -1, "time window starts %s, not before it ends %s", a.Starts.Format(time.RFC3339), a.Ends.Format(time.RFC3339))
	}
	if len(ps.list) == 0 {
		pr := newProjection(a.Bound())
		if span := pr.span(a.Bound()); span > maxSpanM {
			ps.add(-1, a.Name, 0, -1, -1, "event area is absurdly large: %.1f km across (limit %g km)", span/1e3, maxSpanM/1e3)
		} else {
			total, free, err := a.freeArea(pr)
			if err != nil {
				ps.add(-1, a.Name, 0, -1, -1, "cannot subtract no-fly zones: %v", err)
			} else if free < minAreaM2 || free < minFreeFrac*total {
				ps.add(-1, a.Name, 0, -1, -1, "no-fly zones leave nothing to fly: %.0f m² of %.0f m² remain", free, total)
			}
		}
	}
	return ps.err()
}

// Bound is the bounding box of everything in the area, launch and rally
// points included.
func (a *Area) Bound() orb.Bound {
	var b orb.Bound
	first := true
	ext := func(p orb.Point) {
		if first {
			b = orb.Bound{Min: p, Max: p}
			first = false
			return
		}
		b = b.Extend(p)
	}
	for _, p := range a.Include {
		for _, r := range p {
			for _, pt := range r {
				ext(pt)
			}
		}
	}
	for _, s := range append(append(append([]Site{}, a.Launch...), a.Rally...), a.POIs...) {
		ext(s.Point)
	}
	for _, r := range a.Routes {
		for _, pt := range r.Line {
			ext(pt)
		}
	}
	return b
}

// Clone returns a deep copy, so an API store can hand out areas safely.
func (a *Area) Clone() *Area {
	c := *a
	c.Include = make([]orb.Polygon, len(a.Include))
	for i, p := range a.Include {
		c.Include[i] = p.Clone()
	}
	c.NoFly = append([]NoFly(nil), a.NoFly...)
	for i := range c.NoFly {
		c.NoFly[i].Polygon = c.NoFly[i].Polygon.Clone()
	}
	c.Launch = append([]Site(nil), a.Launch...)
	c.Rally = append([]Site(nil), a.Rally...)
	c.POIs = append([]Site(nil), a.POIs...)
	c.Routes = append([]Route(nil), a.Routes...)
	for i := range c.Routes {
		c.Routes[i].Line = c.Routes[i].Line.Clone()
	}
	return &c
}
