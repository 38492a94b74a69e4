package missions

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"io"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// GeoJSON exports the area in the same shape ImportGeoJSON reads, so an
// area edited through the API can go back to the GIS team.
func (a *Area) GeoJSON() *geojson.FeatureCollection {
	fc := geojson.NewFeatureCollection()
	for i, p := range a.Include {
		f := geojson.NewFeature(p)
		f.Properties["kind"] = KindEventArea
		f.Properties["name"] = a.Name
		if i == 0 {
			f.Properties["min_alt_m"] = a.MinAlt
			f.Properties["max_alt_m"] = a.MaxAlt
			if !a.Starts.IsZero() {
				f.Properties["starts"] = a.Starts.Format(time.RFC3339)
			}
			if !a.Ends.IsZero() {
				f.Properties["ends"] = a.Ends.Format(time.RFC3339)
			}
		}
		fc.Append(f)
	}
	for _, z := range a.NoFly {
		var f *geojson.Feature
		if z.IsCircle() {
			f = geojson.NewFeature(z.Center)
			f.Properties["radius_m"] = z.Radius
		} else {
			f = geojson.NewFeature(z.Polygon)
		}
		f.Properties["kind"] = KindNoFly
		f.Properties["name"] = z.Name
		fc.Append(f)
	}
	sites := func(kind string, ss []Site) {
		for _, s := range ss {
			f := geojson.NewFeature(s.Point)
			f.Properties["kind"] = kind
			f.Properties["name"] = s.Name
			if s.Alt != 0 {
				f.Properties["alt_m"] = s.Alt
			}
			if s.Radius != 0 { // a launch pad's size; the import reads it back
				f.Properties["radius_m"] = s.Radius
			}
			fc.Append(f)
		}
	}
	sites(KindLaunch, a.Launch)
	sites(KindRally, a.Rally)
	sites(KindPOI, a.POIs)
	for _, r := range a.Routes {
		f := geojson.NewFeature(r.Line)
		f.Properties["kind"] = KindRoute
		f.Properties["name"] = r.Name
		fc.Append(f)
	}
	return fc
}

// WriteKML writes the area as KML for Google Earth and similar viewers;
// altitudes are not extruded, the band goes in the description.
func (a *Area) WriteKML(w io.Writer) error { return writeKML(w, a, nil) }

// WritePlansKML writes the area and each drone's plan as KML: its flight
// path at its layer's altitude above the ground, fence polygons, rally
// points and home, in folders per drone, so a plan can be looked at in
// Google Earth next to the area it was made for.
func WritePlansKML(w io.Writer, a *Area, plans []*DronePlan) error { return writeKML(w, a, plans) }

func writeKML(w io.Writer, a *Area, plans []*DronePlan) error {
	var b strings.Builder
	esc := func(s string) string {
		var sb strings.Builder
		_ = xml.EscapeText(&sb, []byte(s))
		return sb.String()
	}
	coords := func(r orb.Ring) string {
		parts := make([]string, len(r))
		for i, p := range r {
			parts[i] = fmt.Sprintf("%.7f,%.7f,0", p[0], p[1])
		}
		return strings.Join(parts, " ")
	}
	poly := func(p orb.Polygon) string {
		var sb strings.Builder
		sb.WriteString("<Polygon><outerBoundaryIs><LinearRing><coordinates>" + coords(p[0]) + "</coordinates></LinearRing></outerBoundaryIs>")
		for _, h := range p[1:] {
			sb.WriteString("<innerBoundaryIs><LinearRing><coordinates>" + coords(h) + "</coordinates></LinearRing></innerBoundaryIs>")
		}
		sb.WriteString("</Polygon>")
		return sb.String()
	}
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<kml xmlns="http://www.opengis.net/kml/2.2"><Document>`)
	fmt.Fprintf(&b, "<name>%s</name><description>altitude %g–%g m</description>", esc(a.Name), a.MinAlt, a.MaxAlt)
	b.WriteString(`<Style id="area"><LineStyle><color>ff00aa00</color><width>2</width></LineStyle><PolyStyle><color>3300aa00</color></PolyStyle></Style>`)
	b.WriteString(`<Style id="nofly"><LineStyle><color>ff0000ff</color><width>2</width></LineStyle><PolyStyle><color>550000ff</color></PolyStyle></Style>`)
	for _, p := range a.Include {
		fmt.Fprintf(&b, "<Placemark><name>%s</name><styleUrl>#area</styleUrl>%s</Placemark>", esc(a.Name), poly(p))
	}
	pr := newProjection(a.Bound())
	for _, z := range a.NoFly {
		p := z.Polygon
		if z.IsCircle() {
			r := circleRing(pr.toXY(z.Center), z.Radius, 48)
			for i := range r {
				r[i] = pr.toLL(r[i])
			}
			p = orb.Polygon{r}
		}
		fmt.Fprintf(&b, "<Placemark><name>%s</name><description>no-fly</description><styleUrl>#nofly</styleUrl>%s</Placemark>", esc(z.Name), poly(p))
	}
	for kind, ss := range map[string][]Site{KindLaunch: a.Launch, KindRally: a.Rally, KindPOI: a.POIs} {
		for _, s := range ss {
			fmt.Fprintf(&b, "<Placemark><name>%s</name><description>%s</description><Point><coordinates>%.7f,%.7f,0</coordinates></Point></Placemark>", esc(s.Name), kind, s.Point[0], s.Point[1])
		}
	}
	for _, r := range a.Routes {
		fmt.Fprintf(&b, "<Placemark><name>%s</name><description>route</description><LineString><coordinates>%s</coordinates></LineString></Placemark>", esc(r.Name), coords(orb.Ring(r.Line)))
	}
	for _, dp := range plans {
		fmt.Fprintf(&b, "<Folder><name>drone %d</name>", dp.Drone)
		var path []string
		for i, l := range dp.Legs() {
			if i == 0 {
				path = append(path, fmt.Sprintf("%.7f,%.7f,0", l.From[0], l.From[1]))
			}
			path = append(path, fmt.Sprintf("%.7f,%.7f,%g", l.To[0], l.To[1], l.Alt))
		}
		fmt.Fprintf(&b, "<Placemark><name>drone %d path</name><description>layer %g m</description><LineString><altitudeMode>relativeToGround</altitudeMode><coordinates>%s</coordinates></LineString></Placemark>", dp.Drone, dp.Alt, strings.Join(path, " "))
		for i := 0; i < len(dp.Fence); {
			it := dp.Fence[i]
			n := int(it.Param1)
			if (it.Command != mavitem.CmdFencePolyInclusion && it.Command != mavitem.CmdFencePolyExclusion) || n < 3 || i+n > len(dp.Fence) {
				i++ // circles and return points: not drawn
				continue
			}
			r := orb.Ring{}
			for k := 0; k < n; k++ {
				r = append(r, llOf(dp.Fence[i+k]))
			}
			r = append(r, r[0])
			what := "fence exclusion"
			if it.Command == mavitem.CmdFencePolyInclusion {
				what = "fence inclusion"
			}
			fmt.Fprintf(&b, "<Placemark><name>drone %d %s</name><description>%s</description>%s</Placemark>", dp.Drone, what, what, poly(orb.Polygon{r}))
			i += n
		}
		for _, r := range dp.Rally {
			p := llOf(r)
			fmt.Fprintf(&b, "<Placemark><name>drone %d rally</name><description>rally</description><Point><coordinates>%.7f,%.7f,0</coordinates></Point></Placemark>", dp.Drone, p[0], p[1])
		}
		fmt.Fprintf(&b, "<Placemark><name>drone %d home</name><description>home</description><Point><coordinates>%.7f,%.7f,0</coordinates></Point></Placemark></Folder>", dp.Drone, dp.Home.Lon, dp.Home.Lat)
	}
	b.WriteString("</Document></kml>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Preview is a GeoJSON picture of plans for a map: per drone its flight
// path, fence polygons and circles (as points with radius), rally points
// and home, each feature tagged with drone and role.
func Preview(a *Area, plans []*DronePlan) *geojson.FeatureCollection {
	fc := a.GeoJSON()
	for _, dp := range plans {
		path := orb.LineString{}
		for i, l := range dp.Legs() {
			if i == 0 {
				path = append(path, l.From)
			}
			path = append(path, l.To)
		}
		f := geojson.NewFeature(path)
		f.Properties["role"] = "path"
		f.Properties["drone"] = dp.Drone
		f.Properties["alt"] = dp.Alt
		fc.Append(f)
		for i := 0; i < len(dp.Fence); {
			it := dp.Fence[i]
			switch it.Command {
			case mavitem.CmdFencePolyInclusion, mavitem.CmdFencePolyExclusion:
				n := int(it.Param1)
				if n < 3 || i+n > len(dp.Fence) {
					i = len(dp.Fence)
					continue
				}
				r := orb.Ring{}
				for k := 0; k < n; k++ {
					r = append(r, llOf(dp.Fence[i+k]))
				}
				r = append(r, r[0])
				g := geojson.NewFeature(orb.Polygon{r})
				g.Properties["role"] = "fence"
				g.Properties["inclusion"] = it.Command == mavitem.CmdFencePolyInclusion
				g.Properties["drone"] = dp.Drone
				fc.Append(g)
				i += n
			default:
				g := geojson.NewFeature(llOf(it))
				g.Properties["role"] = "fence-circle"
				g.Properties["radius_m"] = it.Param1
				g.Properties["inclusion"] = it.Command == mavitem.CmdFenceCircleInclusion
				g.Properties["drone"] = dp.Drone
				fc.Append(g)
				i++
			}
		}
		for _, r := range dp.Rally {
			g := geojson.NewFeature(llOf(r))
			g.Properties["role"] = "rally"
			g.Properties["drone"] = dp.Drone
			fc.Append(g)
		}
		h := geojson.NewFeature(orb.Point{dp.Home.Lon, dp.Home.Lat})
		h.Properties["role"] = "home"
		h.Properties["drone"] = dp.Drone
		fc.Append(h)
	}
	return fc
}

// WriteGeoJSON writes a feature collection indented, for files and API
// responses.
func WriteGeoJSON(w io.Writer, fc *geojson.FeatureCollection) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(fc)
}
