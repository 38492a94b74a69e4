package report

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

const (
	hostileName = `</title><script>alert("name")</script><b onmouseover=alert(1)>`
	hostileText = `"><img src=x onerror=alert(2)> & <svg onload=alert(3)>`
)

// synthetic is a three-vehicle run near Tashkent: v1 and v3 fly
// circles of different sizes; v2 flies a straight line and stops
// reporting its battery for a while; a fence surrounds them; a GPS fault
// hits v1 and a fleet-wide link fault hits everyone; one assertion fails.
func synthetic() *Report {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := &Report{
		Scenario: "stadium perimeter", File: "scenarios/stadium.yaml", Seed: 42, Speedup: 20,
		Start: start, End: start.Add(30 * time.Second), Duration: 600 * time.Second, Ended: "scenario end",
		Areas: []Area{{Name: "stadium fence", Kind: "fence", Rings: [][]LatLon{{{41.295, 69.195}, {41.305, 69.195}, {41.305, 69.208}, {41.295, 69.208}, {41.295, 69.195}}}}},
	}
	for v, id := range []string{"v1", "v2", "v3"} {
		t := Track{Vehicle: id}
		for i := 0; i <= 120; i++ {
			at := time.Duration(i) * 5 * time.Second
			var lat, lon float64
			switch id {
			case "v2":
				lat, lon = 41.297+float64(i)*0.00004, 69.197+float64(i)*0.00007
			default:
				rad := 0.0015 * float64(v+1)
				a := float64(i) / 120 * 2 * math.Pi
				lat, lon = 41.3+rad*math.Sin(a), 69.2015+rad*math.Cos(a)/math.Cos(41.3*math.Pi/180)
			}
			alt := math.Min(float64(i), 40+float64(v)*5)
			if i > 110 {
				alt = float64(120-i) * 4
			}
			batt := 100 - float64(i)*0.5
			if id == "v2" && i >= 50 && i < 60 {
				batt = -1
			}
			mode := "AUTO"
			switch {
			case i < 10:
				mode = "GUIDED"
			case i > 110:
				mode = "RTL"
			}
			t.Samples = append(t.Samples, Sample{At: at, Lat: lat, Lon: lon, AltM: alt, BatteryPct: batt, Mode: mode})
		}
		r.Tracks = append(r.Tracks, t)
	}
	r.Timeline = []Entry{
		{At: 0, Kind: KindStep, Text: "launch all"},
		{At: 120 * time.Second, Kind: KindFault, Vehicles: []string{"v1"}, Text: "gps_loss for 30s"},
		{At: 121 * time.Second, Kind: KindEvent, Vehicles: []string{"v1"}, Text: "STATUSTEXT: " + hostileText, Severity: "warning"},
		{At: 300 * time.Second, Kind: KindFault, Text: "link loss 30% fleet-wide"},
		{At: 310 * time.Second, Kind: KindOperator, Vehicles: []string{"v1"}, Text: "alice: rtl"},
		{At: 600 * time.Second, Kind: KindAssertion, Vehicles: []string{"v2"}, Text: "v2 not landed by T+10:00", Failed: true},
		{At: 60 * time.Second, Kind: KindStep, Vehicles: []string{"v2", "v3"}, Text: "set WPNAV_SPEED", Line: 23},
	}
	r.Assertions = []Assertion{
		{Name: "all landed", Vehicle: "v1", Passed: true, At: 600 * time.Second},
		{Name: "all landed", Vehicle: "v2", Passed: false, Message: "v2 not landed by T+10:00 (alt 4 m)", At: 600 * time.Second},
		{Name: "no fence breach", Passed: true, At: 600 * time.Second},
	}
	return r
}

func render(t *testing.T, r *Report) (string, *html.Node) {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, r); err != nil {
		t.Fatalf("Render: %v", err)
	}
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("parse rendered HTML: %v", err)
	}
	return buf.String(), doc
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

// find returns every element below n for which match is true, in
// document order.
func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func byClass(tag, class string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == tag && hasClass(n, class) }
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

type pt struct{ x, y float64 }

// pathPoints parses the M/L path data Render writes into its subpaths.
func pathPoints(t *testing.T, d string) [][]pt {
	t.Helper()
	var subs [][]pt
	for _, tok := range strings.Fields(d) {
		if tok == "Z" {
			continue
		}
		cmd, rest := tok[0], tok[1:]
		xs, ys, ok := strings.Cut(rest, ",")
		if !ok || (cmd != 'M' && cmd != 'L') {
			t.Fatalf("path token %q is not M/L x,y", tok)
		}
		x, err1 := strconv.ParseFloat(xs, 64)
		y, err2 := strconv.ParseFloat(ys, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("path token %q: bad number", tok)
		}
		if cmd == 'M' || len(subs) == 0 {
			subs = append(subs, nil)
		}
		subs[len(subs)-1] = append(subs[len(subs)-1], pt{x, y})
	}
	return subs
}

// fit is a least-squares line y = a + b·x; worst is the largest residual.
func fit(xs, ys []float64) (a, b, worst float64) {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	b = (n*sxy - sx*sy) / (n*sxx - sx*sx)
	a = (sy - b*sx) / n
	for i := range xs {
		worst = math.Max(worst, math.Abs(a+b*xs[i]-ys[i]))
	}
	return a, b, worst
}

// The map draws every sample of every track, all through one projection
// that is linear in longitude and latitude, north up, with east-west
// shrunk by cos(latitude) so the map is true to scale; start and end
// markers sit on the first and last points; everything is inside the
// viewBox.
func TestMapTracksAreTheSamplesProjected(t *testing.T) {
	r := synthetic()
	_, doc := render(t, r)
	maps := find(doc, func(n *html.Node) bool { return n.Data == "svg" && attr(n, "id") == "map" })
	if len(maps) != 1 {
		t.Fatalf("found %d map SVGs, want 1", len(maps))
	}
	vb := strings.Fields(attr(maps[0], "viewBox"))
	if len(vb) != 4 {
		t.Fatalf("map viewBox %q", attr(maps[0], "viewBox"))
	}
	w, _ := strconv.ParseFloat(vb[2], 64)
	h, _ := strconv.ParseFloat(vb[3], 64)
	paths := find(maps[0], byClass("path", "track"))
	if len(paths) != len(r.Tracks) {
		t.Fatalf("map has %d track paths, want %d", len(paths), len(r.Tracks))
	}
	var lons, lats, xs, ys []float64
	for i, p := range paths {
		tr := r.Tracks[i]
		if got := attr(p, "data-vehicle"); got != tr.Vehicle {
			t.Fatalf("track path %d is for %q, want %q", i, got, tr.Vehicle)
		}
		subs := pathPoints(t, attr(p, "d"))
		if len(subs) != 1 || len(subs[0]) != len(tr.Samples) {
			t.Fatalf("%s: path has %d subpaths, %d points; want 1 subpath of %d points", tr.Vehicle, len(subs), len(subs[0]), len(tr.Samples))
		}
		for j, q := range subs[0] {
			if q.x < 0 || q.x > w || q.y < 0 || q.y > h {
				t.Errorf("%s point %d (%v) outside the %vx%v map", tr.Vehicle, j, q, w, h)
			}
			lons = append(lons, tr.Samples[j].Lon)
			lats = append(lats, tr.Samples[j].Lat)
			xs = append(xs, q.x)
			ys = append(ys, q.y)
		}
		checkMarker := func(class string, want pt, xattr, yattr string) {
			ms := find(maps[0], func(n *html.Node) bool { return hasClass(n, class) && attr(n, "data-vehicle") == tr.Vehicle })
			if len(ms) != 1 {
				t.Fatalf("%s: %d %s markers, want 1", tr.Vehicle, len(ms), class)
			}
			x, _ := strconv.ParseFloat(attr(ms[0], xattr), 64)
			y, _ := strconv.ParseFloat(attr(ms[0], yattr), 64)
			if math.Abs(x-want.x) > 0.11 || math.Abs(y-want.y) > 0.11 {
				t.Errorf("%s %s marker at %v,%v; the track's point is %v", tr.Vehicle, class, x, y, want)
			}
		}
		checkMarker("start", subs[0][0], "cx", "cy")
		checkMarker("end", subs[0][len(subs[0])-1], "x", "y")
	}
	_, bx, worstX := fit(lons, xs)
	_, by, worstY := fit(lats, ys)
	// Coordinates are written with one decimal.
	if worstX > 0.06 || worstY > 0.06 {
		t.Errorf("points are not one linear projection of the samples: worst residuals x %.3f, y %.3f", worstX, worstY)
	}
	if bx <= 0 || by >= 0 {
		t.Errorf("map is not east-right, north-up: x per degree lon %v, y per degree lat %v", bx, by)
	}
	want := math.Cos(41.3 * math.Pi / 180)
	if got := bx / -by; math.Abs(got-want) > 0.001 {
		t.Errorf("east-west scale / north-south scale = %.4f, want cos(41.3°) = %.4f", got, want)
	}
	// The fence is drawn with the same projection.
	fences := find(maps[0], byClass("path", "fence"))
	if len(fences) != 1 || attr(fences[0], "data-area") != "stadium fence" {
		t.Fatalf("want one fence path named %q, got %d", "stadium fence", len(fences))
	}
	ax, _, _ := fit(lons, xs)
	ay, _, _ := fit(lats, ys)
	for i, q := range pathPoints(t, attr(fences[0], "d"))[0] {
		p := r.Areas[0].Rings[0][i]
		if math.Abs(ax+bx*p.Lon-q.x) > 0.11 || math.Abs(ay+by*p.Lat-q.y) > 0.11 {
			t.Errorf("fence point %d drawn at %v, projection puts it at %.1f,%.1f", i, q, ax+bx*p.Lon, ay+by*p.Lat)
		}
	}
	// One fault marker for the fault that names a vehicle (v1, at the
	// sample of T+120 s: index 24), none for the fleet-wide one.
	marks := find(maps[0], byClass("g", "fault-marker"))
	if len(marks) != 1 || attr(marks[0], "data-vehicle") != "v1" {
		t.Fatalf("want one fault marker on v1, got %d", len(marks))
	}
	var mx, my float64
	if _, err := fmtSscanf(attr(marks[0], "transform"), &mx, &my); err != nil {
		t.Fatal(err)
	}
	s := r.Tracks[0].Samples[24]
	if math.Abs(ax+bx*s.Lon-mx) > 0.11 || math.Abs(ay+by*s.Lat-my) > 0.11 {
		t.Errorf("fault marker at %v,%v; v1 was at %.1f,%.1f", mx, my, ax+bx*s.Lon, ay+by*s.Lat)
	}
}

func fmtSscanf(transform string, x, y *float64) (int, error) {
	inner := strings.TrimSuffix(strings.TrimPrefix(transform, "translate("), ")")
	xs, ys, _ := strings.Cut(inner, ",")
	var err error
	if *x, err = strconv.ParseFloat(xs, 64); err != nil {
		return 0, err
	}
	if *y, err = strconv.ParseFloat(ys, 64); err != nil {
		return 1, err
	}
	return 2, nil
}

// Each vehicle gets an altitude and a battery plot whose points are its
// samples: x linear in time, y linear in the value with higher values up;
// where the battery was not reported, the line breaks.
func TestPlotsAreTheSamples(t *testing.T) {
	r := synthetic()
	_, doc := render(t, r)
	for _, tr := range r.Tracks {
		for _, kind := range []string{"alt", "battery"} {
			svgs := find(doc, func(n *html.Node) bool {
				return n.Data == "svg" && hasClass(n, "plot") && attr(n, "data-kind") == kind && attr(n, "data-vehicle") == tr.Vehicle
			})
			if len(svgs) != 1 {
				t.Fatalf("%s: %d %s plots, want 1", tr.Vehicle, len(svgs), kind)
			}
			series := find(svgs[0], byClass("path", "series"))
			if len(series) != 1 {
				t.Fatalf("%s %s: %d series", tr.Vehicle, kind, len(series))
			}
			subs := pathPoints(t, attr(series[0], "d"))
			var ts, vs, xs, ys []float64
			var drawn []Sample
			for _, s := range tr.Samples {
				if kind == "battery" && s.BatteryPct < 0 {
					continue
				}
				drawn = append(drawn, s)
			}
			n := 0
			for _, sub := range subs {
				for _, q := range sub {
					s := drawn[n]
					v := s.AltM
					if kind == "battery" {
						v = s.BatteryPct
					}
					ts = append(ts, s.At.Seconds())
					vs = append(vs, v)
					xs = append(xs, q.x)
					ys = append(ys, q.y)
					n++
				}
			}
			if n != len(drawn) {
				t.Fatalf("%s %s: %d points drawn, %d samples to draw", tr.Vehicle, kind, n, len(drawn))
			}
			wantSubs := 1
			if kind == "battery" && tr.Vehicle == "v2" {
				wantSubs = 2 // the gap while v2 did not report its battery
			}
			if len(subs) != wantSubs {
				t.Errorf("%s %s: %d line pieces, want %d", tr.Vehicle, kind, len(subs), wantSubs)
			}
			_, bt, worstT := fit(ts, xs)
			_, bv, worstV := fit(vs, ys)
			if worstT > 0.06 || worstV > 0.06 || bt <= 0 || bv >= 0 {
				t.Errorf("%s %s: x per second %v (worst %.3f), y per unit %v (worst %.3f): not time-right, value-up linear", tr.Vehicle, kind, bt, worstT, bv, worstV)
			}
		}
		// The altitude plot's mode strip: GUIDED, AUTO, RTL, in order,
		// each from its first sample to the next mode's.
		bands := find(doc, func(n *html.Node) bool {
			return n.Data == "rect" && hasClass(n, "mode-band") && attr(n.Parent, "data-vehicle") == tr.Vehicle
		})
		var modes []string
		for _, b := range bands {
			modes = append(modes, attr(b, "data-mode")+" "+text(b))
		}
		if want := []string{"GUIDED GUIDED T+00:00.0–T+00:50.0", "AUTO AUTO T+00:50.0–T+09:15.0", "RTL RTL T+09:15.0–T+10:00.0"}; strings.Join(modes, "|") != strings.Join(want, "|") {
			t.Errorf("%s mode strip %q, want %q", tr.Vehicle, modes, want)
		}
		// Both faults reach v1's plots (its own and the fleet-wide one);
		// only the fleet-wide one reaches v2's.
		lines := find(doc, func(n *html.Node) bool {
			return n.Data == "line" && hasClass(n, "fault-line") && attr(n.Parent, "data-vehicle") == tr.Vehicle
		})
		want := 2 * 1
		if tr.Vehicle == "v1" {
			want = 2 * 2
		}
		if len(lines) != want {
			t.Errorf("%s: %d fault lines over its two plots, want %d", tr.Vehicle, len(lines), want)
		}
	}
}

// A long track is thinned to MaxPlotPoints, keeping its ends.
func TestLongTracksAreThinned(t *testing.T) {
	r := &Report{Scenario: "long"}
	tr := Track{Vehicle: "v1"}
	for i := 0; i < 5*MaxPlotPoints+7; i++ {
		tr.Samples = append(tr.Samples, Sample{At: time.Duration(i) * time.Second, Lat: 41 + float64(i)*1e-5, Lon: 69, AltM: 10, BatteryPct: 90})
	}
	r.Tracks = []Track{tr}
	_, doc := render(t, r)
	paths := find(doc, byClass("path", "track"))
	subs := pathPoints(t, attr(paths[0], "d"))
	if len(subs[0]) != MaxPlotPoints {
		t.Fatalf("track drawn with %d points, want %d", len(subs[0]), MaxPlotPoints)
	}
	start := find(doc, byClass("circle", "start"))[0]
	end := find(doc, byClass("rect", "end"))[0]
	first, last := subs[0][0], subs[0][len(subs[0])-1]
	if attr(start, "cy") != strconv.FormatFloat(first.y, 'f', 1, 64) || attr(end, "y") != strconv.FormatFloat(last.y, 'f', 1, 64) {
		t.Errorf("thinned track does not keep its ends: start marker y %s vs %v, end marker y %s vs %v", attr(start, "cy"), first.y, attr(end, "y"), last.y)
	}
	for _, s := range find(doc, byClass("path", "series")) {
		if got := len(pathPoints(t, attr(s, "d"))[0]); got != MaxPlotPoints {
			t.Errorf("plot drawn with %d points, want %d", got, MaxPlotPoints)
		}
	}
}

// Nothing in the page reaches the network: no external element, no URL
// attribute pointing anywhere, no CSS or script that loads.
func TestReportIsOffline(t *testing.T) {
	r := synthetic()
	r.Rehearsal = rehearsal()
	// Text that merely mentions a URL is fine; it must stay text.
	r.Timeline = append(r.Timeline, Entry{At: time.Second, Kind: KindEvent, Text: "see https://example.com/x.png"})
	_, doc := render(t, r)
	for _, n := range find(doc, func(*html.Node) bool { return true }) {
		switch n.Data {
		case "link", "img", "iframe", "object", "embed", "video", "audio", "source", "image", "use", "base", "meta":
			if n.Data == "meta" && attr(n, "http-equiv") == "" {
				continue
			}
			t.Errorf("element <%s> can load a resource", n.Data)
		case "script":
			if attr(n, "src") != "" {
				t.Errorf("script with src %q", attr(n, "src"))
			}
			checkCode(t, "script", text(n))
		case "style":
			checkCode(t, "style", text(n))
		}
		for _, a := range n.Attr {
			switch a.Key {
			case "src", "href", "xlink:href", "action", "formaction", "poster", "data", "srcset", "background":
				t.Errorf("<%s %s=%q>: the report links out", n.Data, a.Key, a.Val)
			case "style":
				checkCode(t, "style attribute", a.Val)
			}
		}
	}
}

func checkCode(t *testing.T, where, code string) {
	t.Helper()
	for _, bad := range []string{"http:", "https:", "//", "url(", "@import", "fetch(", "XMLHttpRequest", "import(", "WebSocket", "EventSource"} {
		if bad == "//" && where == "script" {
			continue // JS comments; the schemes are checked above
		}
		if strings.Contains(code, bad) {
			t.Errorf("%s contains %q: the report must not load anything", where, bad)
		}
	}
}

// Scenario names, vehicle IDs and STATUSTEXTs come from files and
// aircraft; they must come out as the same text, never as markup.
func TestHostileTextIsEscaped(t *testing.T) {
	r := synthetic()
	r.Scenario = hostileName
	r.Tracks[2].Vehicle = `v3"><script>alert(4)</script>`
	r.Assertions[1].Message = hostileText
	r.Areas[0].Name = hostileText
	r.Rehearsal = rehearsal()
	r.Rehearsal.Faults[0].Alert.Text = hostileText
	r.Rehearsal.Faults[0].Response.Actor = hostileName
	raw, doc := render(t, r)
	if n := len(find(doc, func(n *html.Node) bool { return n.Data == "script" })); n != 1 {
		t.Errorf("%d <script> elements, want only the report's own", n)
	}
	for _, tag := range []string{"img", "b"} {
		if n := len(find(doc, func(n *html.Node) bool { return n.Data == tag })); n != 0 {
			t.Errorf("hostile text became %d <%s> elements", n, tag)
		}
	}
	for _, n := range find(doc, func(*html.Node) bool { return true }) {
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s> got an event handler attribute %s=%q", n.Data, a.Key, a.Val)
			}
		}
	}
	if strings.Contains(raw, "<img") || strings.Contains(raw, "<script>alert") {
		t.Error("raw markup from the report's data is in the page")
	}
	title := find(doc, func(n *html.Node) bool { return n.Data == "h1" })
	if len(title) != 1 || text(title[0]) != "Scenario report: "+hostileName {
		t.Errorf("the heading does not show the scenario's name as text")
	}
	heads := find(doc, func(n *html.Node) bool { return n.Data == "title" && n.Parent.Data == "head" })
	if len(heads) != 1 || text(heads[0]) != "Scenario report: "+hostileName {
		t.Errorf("the page title does not show the scenario's name as text")
	}
	found := 0
	for _, td := range find(doc, func(n *html.Node) bool { return n.Data == "td" }) {
		if strings.Contains(text(td), hostileText) {
			found++
		}
	}
	// timeline STATUSTEXT, assertion message, alert text
	if found != 3 {
		t.Errorf("hostile text shown verbatim in %d cells, want 3", found)
	}
	if len(find(doc, func(n *html.Node) bool {
		return n.Data == "path" && attr(n, "data-vehicle") == `v3"><script>alert(4)</script>`
	})) != 1 {
		t.Error("the hostile vehicle ID does not round-trip through its attribute")
	}
}

func rehearsal() *Rehearsal {
	return &Rehearsal{
		Trainees: []string{"alice"},
		Faults: []FaultResponse{
			{Fault: "gps_loss", Text: "GPS off for 30 s", Vehicles: []string{"v1"}, At: 120 * time.Second,
				Alert:    &Alert{Kind: "failsafe", Vehicle: "v1", Severity: "critical", Text: "GPS glitch", At: 122 * time.Second, Delay: 2 * time.Second},
				Response: &Response{Command: "rtl", Actor: "alice", Vehicle: "v1", At: 131 * time.Second, Delay: 11 * time.Second, AfterAlert: 9 * time.Second},
				Ack:      &Response{Command: "ack", Actor: "bob", Vehicle: "v1", At: 126 * time.Second, Delay: 6 * time.Second, AfterAlert: 4 * time.Second}},
			{Fault: "link_loss", Text: "30 % loss", At: 300 * time.Second,
				Response: &Response{Command: "mode", Actor: "alice", Vehicle: "v2", At: 340 * time.Second, Delay: 40 * time.Second}},
			{Fault: "battery_drop", Vehicles: []string{"v3"}, At: 400 * time.Second,
				Alert: &Alert{Kind: "battery_low", Vehicle: "v3", At: 401 * time.Second, Delay: time.Second}},
		},
	}
}

// The top of the page counts the assertions; the rehearsal section lists
// every fault with its alert and response, and names what is missing.
func TestSummaryAndRehearsal(t *testing.T) {
	r := synthetic()
	_, doc := render(t, r)
	byID := func(id string) *html.Node {
		ns := find(doc, func(n *html.Node) bool { return attr(n, "id") == id })
		if len(ns) != 1 {
			return nil
		}
		return ns[0]
	}
	if n := byID("passed-count"); n == nil || text(n) != "2 passed" {
		t.Errorf("passed count: %v", n)
	}
	if n := byID("failed-count"); n == nil || text(n) != "1 failed" || !hasClass(n, "fail") {
		t.Errorf("failed count missing or not marked as failure")
	}
	if byID("rehearsal") != nil {
		t.Error("a run without rehearsal data has a rehearsal section")
	}
	// The timeline is in time order whatever order the run appended in.
	rows := find(byID("timeline"), func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-kind") != "" })
	if len(rows) != len(r.Timeline) {
		t.Fatalf("%d timeline rows, want %d", len(rows), len(r.Timeline))
	}
	if got := text(rows[1]); !strings.Contains(got, "set WPNAV_SPEED") || !strings.HasSuffix(got, "23") || attr(rows[1], "data-vehicles") != "v2 v3" {
		t.Errorf("second row (T+60 s) is %q", got)
	}
	if !hasClass(rows[3], "warning") || hasClass(rows[2], "warning") {
		t.Error("the warning event's row is not marked as a warning (or another row is)")
	}
	if last := rows[len(rows)-1]; attr(last, "data-failed") != "true" || !hasClass(last, "failed") {
		t.Error("the failed assertion's timeline row is not marked failed")
	}

	r.Rehearsal = rehearsal()
	_, doc = render(t, r)
	sec := find(doc, func(n *html.Node) bool { return attr(n, "id") == "rehearsal" })
	if len(sec) != 1 {
		t.Fatal("no rehearsal section")
	}
	body := find(sec[0], func(n *html.Node) bool { return n.Data == "tbody" })[0]
	trs := find(body, func(n *html.Node) bool { return n.Data == "tr" })
	if len(trs) != 3 {
		t.Fatalf("%d rehearsal rows, want 3", len(trs))
	}
	cells := func(tr *html.Node) []string {
		var out []string
		for _, td := range find(tr, func(n *html.Node) bool { return n.Data == "td" }) {
			out = append(out, strings.TrimSpace(text(td)))
		}
		return out
	}
	want := [][]string{
		{"T+02:00.0", "gps_loss: GPS off for 30 s", "v1", "failsafe (v1): GPS glitch", "2.0 s", "rtl → v1", "alice", "11.0 s", "9.0 s", "bob, 4.0 s after the alert"},
		{"T+05:00.0", "link_loss: 30 % loss", "", "no alert", "", "mode → v2", "alice", "40.0 s", "", ""},
		{"T+06:40.0", "battery_drop", "v3", "battery_low (v3)", "1.0 s", "no response", "", "", "", "not acknowledged"},
	}
	for i, tr := range trs {
		if got := cells(tr); strings.Join(got, "|") != strings.Join(want[i], "|") {
			t.Errorf("rehearsal row %d:\n got %q\nwant %q", i, got, want[i])
		}
	}
	if s := text(sec[0]); !strings.Contains(s, "2 raised an alert") || !strings.Contains(s, "2 got a response") || !strings.Contains(s, "median 25.5 s, slowest 40.0 s") {
		t.Errorf("rehearsal summary wrong: %q", s)
	}
}

func TestRenderRefusesBadDataAndWritesWhole(t *testing.T) {
	r := synthetic()
	r.Tracks[0].Samples[3].Lat = math.NaN()
	var buf bytes.Buffer
	if err := Render(&buf, r); err == nil || !strings.Contains(err.Error(), "track v1 sample 3") {
		t.Fatalf("Render of a NaN position = %v", err)
	}
	if buf.Len() != 0 {
		t.Error("a refused report wrote output")
	}
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "r.html")
	if err := WriteFile(path, r); err == nil {
		t.Fatal("WriteFile wrote a bad report")
	}
	if err := WriteFile(path, synthetic()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasSuffix(bytes.TrimSpace(b), []byte("</html>")) {
		t.Fatalf("written report: %v, %d bytes", err, len(b))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the report's directory holds %d files, want just the report (no temporary left)", len(entries))
	}
	// The empty report renders too.
	if err := Render(&buf, &Report{}); err != nil {
		t.Fatal(err)
	}
}

func TestFmtAt(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                     "T+00:00.0",
		1500 * time.Millisecond:               "T+00:01.5",
		61*time.Second + 990*time.Millisecond: "T+01:01.9",
		2*time.Hour + 3*time.Minute + 4*time.Second: "T+2:03:04.0",
		-3 * time.Second: "T-00:03.0",
	} {
		if got := fmtAt(d); got != want {
			t.Errorf("fmtAt(%v) = %q, want %q", d, got, want)
		}
	}
}
