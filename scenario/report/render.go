package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var pageSource string

// page is parsed once; html/template escapes every value by its context
// (text, attribute, SVG attribute), which is what keeps a hostile scenario
// name or STATUSTEXT inert.
var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"at":    fmtAt,
	"delay": fmtDelay,
	"f1":    func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"join":  func(s []string) string { return strings.Join(s, ", ") },
	"stamp": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
}).Parse(pageSource))

// MaxPlotPoints bounds the points drawn per track and per plot: a long
// run of many vehicles would otherwise make a report too heavy to open.
// Longer tracks are thinned evenly, keeping the first and last sample.
const MaxPlotPoints = 1500

// Map and plot geometry, in SVG user units.
const (
	mapW      = 900.0
	mapMaxH   = 700.0
	mapMinH   = 240.0
	mapMargin = 24.0
	plotW     = 440.0
	plotH     = 160.0
	plotLeft  = 44.0
	plotRight = 10.0
	plotTop   = 22.0
	plotBot   = 22.0
)

// Render writes r as one self-contained HTML page: no external scripts,
// styles, fonts or images, so it opens offline. It refuses a report that
// fails Validate.
func Render(w io.Writer, r *Report) error {
	if err := r.Validate(); err != nil {
		return err
	}
	v := build(r)
	// Render into memory first, so a template error never leaves half a
	// page behind in w.
	var buf bytes.Buffer
	if err := page.Execute(&buf, v); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteFile renders r to path, creating its directory; the file appears
// whole or not at all (written to a temporary file, then renamed).
func WriteFile(path string, r *Report) error {
	var buf bytes.Buffer
	if err := Render(&buf, r); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, ".report-*.html")
	if err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// view is what the template renders: the report plus everything computed
// from it (SVG geometry, counts, sorted timeline).
type view struct {
	R         *Report
	Passed    int
	Failed    int
	Failures  []Assertion
	Duration  time.Duration
	Timeline  []entryView
	Kinds     []Kind
	Vehicles  []string
	Map       *mapView
	Plots     []vehiclePlots
	Rehearsal *rehearsalView
}

type entryView struct {
	Entry
	// Vehicles as one space-separated attribute for the filter script.
	VehicleAttr string
}

type mapView struct {
	W, H     float64
	Areas    []areaSVG
	Tracks   []trackSVG
	Faults   []faultMarker
	Scale    scaleBar
	Vehicles []legendItem
}

type areaSVG struct {
	Name  string
	Fence bool
	D     string
}

type trackSVG struct {
	Vehicle    string
	Color      string
	D          string
	Points     int
	Start, End point
}

type point struct{ X, Y float64 }

type faultMarker struct {
	X, Y    float64
	Vehicle string
	Text    string
	At      time.Duration
}

type scaleBar struct {
	X1, X2, Y float64
	Label     string
}

type legendItem struct {
	Vehicle string
	Color   string
}

type vehiclePlots struct {
	Vehicle string
	Color   string
	Alt     plot
	Battery plot
}

type plot struct {
	Kind     string // "alt" or "battery"
	Vehicle  string
	Color    string
	Title    string
	W, H     float64
	D        string // the series; "M" starts each unbroken run
	Points   int
	X0, X1   float64 // plot area in SVG units
	Y0, Y1   float64
	YMin     string // axis labels
	YMax     string
	TMax     time.Duration
	Faults   []faultLine
	Empty    bool
	Baseline float64 // y of value 0, for the altitude plot's ground line
	// Modes is the flight-mode strip under the altitude plot: one band
	// per run of samples in the same mode.
	Modes []modeBand
}

type modeBand struct {
	X, W   float64
	Mode   string
	Color  string
	T0, T1 time.Duration
}

type faultLine struct {
	X    float64
	Text string
}

type rehearsalView struct {
	*Rehearsal
	Alerted, Responded int
	MedianResponse     time.Duration
	MaxResponse        time.Duration
}

// palette gives vehicles distinguishable colours; beyond it colours are
// spread around the hue circle by the golden angle.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"}

func colour(i int) string {
	if i < len(palette) {
		return palette[i]
	}
	return fmt.Sprintf("hsl(%d,65%%,42%%)", (i*137)%360)
}

func build(r *Report) *view {
	v := &view{R: r}
	v.Passed, v.Failed = r.Passed()
	for _, a := range r.Assertions {
		if !a.Passed {
			v.Failures = append(v.Failures, a)
		}
	}
	v.Duration = r.Duration
	for _, t := range r.Tracks {
		if n := len(t.Samples); n > 0 && t.Samples[n-1].At > v.Duration {
			v.Duration = t.Samples[n-1].At
		}
	}

	entries := slices.Clone(r.Timeline)
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].At < entries[j].At })
	kinds := map[Kind]bool{}
	vehicles := map[string]bool{}
	for _, e := range entries {
		v.Timeline = append(v.Timeline, entryView{Entry: e, VehicleAttr: strings.Join(e.Vehicles, " ")})
		kinds[e.Kind] = true
		for _, id := range e.Vehicles {
			vehicles[id] = true
		}
	}
	for _, k := range []Kind{KindStep, KindFault, KindEvent, KindAssertion, KindOperator} {
		if kinds[k] {
			v.Kinds = append(v.Kinds, k)
			delete(kinds, k)
		}
	}
	var other []Kind
	for k := range kinds {
		other = append(other, k)
	}
	slices.Sort(other)
	v.Kinds = append(v.Kinds, other...)
	for _, t := range r.Tracks {
		vehicles[t.Vehicle] = true
	}
	for id := range vehicles {
		v.Vehicles = append(v.Vehicles, id)
	}
	slices.Sort(v.Vehicles)

	faults := faultEntries(entries)
	if len(r.Tracks) > 0 || len(r.Areas) > 0 {
		v.Map = buildMap(r, faults)
	}
	for i, t := range r.Tracks {
		if len(t.Samples) == 0 {
			continue
		}
		v.Plots = append(v.Plots, buildPlots(t, colour(i), v.Duration, faults))
	}
	if r.Rehearsal != nil {
		v.Rehearsal = buildRehearsal(r.Rehearsal)
	}
	return v
}

func faultEntries(entries []Entry) []Entry {
	var out []Entry
	for _, e := range entries {
		if e.Kind == KindFault {
			out = append(out, e)
		}
	}
	return out
}

// projection maps degrees to map coordinates: equirectangular around the
// data's mid latitude (east-west distances shrunk by cos(lat)), scaled to
// fit, north up. Over the few kilometres a scenario covers it is true to
// scale within a fraction of a percent.
type projection struct {
	lon0, lat1 float64 // west and north edges
	kx, k      float64 // cos(mid lat); SVG units per degree of latitude
	ox, oy     float64 // offsets that centre the data
}

func (p projection) at(lat, lon float64) point {
	return point{X: p.ox + (lon-p.lon0)*p.kx*p.k, Y: p.oy + (p.lat1-lat)*p.k}
}

func newProjection(lats, lons []float64) (projection, float64) {
	latMin, latMax := minMax(lats)
	lonMin, lonMax := minMax(lons)
	mid := (latMin + latMax) / 2
	kx := math.Cos(mid * math.Pi / 180)
	if kx < 0.01 {
		kx = 0.01 // near a pole; nobody flies there, but never divide by zero
	}
	// A single point (or a vertical/horizontal line) still gets a
	// sensible span: 200 m.
	const minSpanDeg = 200.0 / 111320
	spanY := math.Max(latMax-latMin, minSpanDeg)
	spanX := math.Max((lonMax-lonMin)*kx, minSpanDeg)
	innerW := mapW - 2*mapMargin
	k := innerW / spanX
	h := spanY*k + 2*mapMargin
	if h > mapMaxH {
		k = (mapMaxH - 2*mapMargin) / spanY
		h = mapMaxH
	}
	h = math.Max(h, mapMinH)
	p := projection{lon0: lonMin, lat1: latMax, kx: kx, k: k}
	// Centre the data in the box.
	p.ox = (mapW - (lonMax-lonMin)*kx*k) / 2
	p.oy = (h - (latMax-latMin)*k) / 2
	return p, h
}

func minMax(v []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo = math.Min(lo, x)
		hi = math.Max(hi, x)
	}
	return lo, hi
}

func buildMap(r *Report, faults []Entry) *mapView {
	var lats, lons []float64
	for _, t := range r.Tracks {
		for _, s := range t.Samples {
			lats = append(lats, s.Lat)
			lons = append(lons, s.Lon)
		}
	}
	for _, a := range r.Areas {
		for _, ring := range a.Rings {
			for _, p := range ring {
				lats = append(lats, p.Lat)
				lons = append(lons, p.Lon)
			}
		}
	}
	if len(lats) == 0 {
		return nil
	}
	proj, h := newProjection(lats, lons)
	m := &mapView{W: mapW, H: h}
	for _, a := range r.Areas {
		var d strings.Builder
		for _, ring := range a.Rings {
			for i, p := range ring {
				q := proj.at(p.Lat, p.Lon)
				if i == 0 {
					fmt.Fprintf(&d, "M%.1f,%.1f", q.X, q.Y)
				} else {
					fmt.Fprintf(&d, " L%.1f,%.1f", q.X, q.Y)
				}
			}
			if len(ring) > 0 {
				d.WriteString(" Z ")
			}
		}
		m.Areas = append(m.Areas, areaSVG{Name: a.Name, Fence: a.Kind == "fence", D: strings.TrimSpace(d.String())})
	}
	for i, t := range r.Tracks {
		m.Vehicles = append(m.Vehicles, legendItem{Vehicle: t.Vehicle, Color: colour(i)})
		if len(t.Samples) == 0 {
			continue
		}
		kept := thin(len(t.Samples))
		var d strings.Builder
		for j, idx := range kept {
			s := t.Samples[idx]
			q := proj.at(s.Lat, s.Lon)
			if j == 0 {
				fmt.Fprintf(&d, "M%.1f,%.1f", q.X, q.Y)
			} else {
				fmt.Fprintf(&d, " L%.1f,%.1f", q.X, q.Y)
			}
		}
		first, last := t.Samples[0], t.Samples[len(t.Samples)-1]
		m.Tracks = append(m.Tracks, trackSVG{
			Vehicle: t.Vehicle, Color: colour(i), D: d.String(), Points: len(kept),
			Start: proj.at(first.Lat, first.Lon), End: proj.at(last.Lat, last.Lon),
		})
	}
	// A fault is marked where each vehicle it hit was when it fired.
	for _, f := range faults {
		for _, id := range f.Vehicles {
			t := trackOf(r.Tracks, id)
			if t == nil || len(t.Samples) == 0 {
				continue
			}
			lat, lon := positionAt(t.Samples, f.At)
			q := proj.at(lat, lon)
			m.Faults = append(m.Faults, faultMarker{X: q.X, Y: q.Y, Vehicle: id, Text: f.Text, At: f.At})
		}
	}
	m.Scale = scaleFor(proj, h)
	return m
}

func trackOf(ts []Track, id string) *Track {
	for i := range ts {
		if ts[i].Vehicle == id {
			return &ts[i]
		}
	}
	return nil
}

// positionAt interpolates a track's position at time at, holding the
// first or last position outside the track's span.
func positionAt(ss []Sample, at time.Duration) (lat, lon float64) {
	i := sort.Search(len(ss), func(i int) bool { return ss[i].At >= at })
	switch {
	case i == 0:
		return ss[0].Lat, ss[0].Lon
	case i == len(ss):
		return ss[len(ss)-1].Lat, ss[len(ss)-1].Lon
	}
	a, b := ss[i-1], ss[i]
	if b.At == a.At {
		return b.Lat, b.Lon
	}
	f := float64(at-a.At) / float64(b.At-a.At)
	return a.Lat + f*(b.Lat-a.Lat), a.Lon + f*(b.Lon-a.Lon)
}

// scaleFor picks a round length (1, 2 or 5 × 10^n metres) near a fifth of
// the map's width for the scale bar.
func scaleFor(p projection, h float64) scaleBar {
	unitsPerMetre := p.k / 111320
	target := mapW / 5 / unitsPerMetre
	mag := math.Pow(10, math.Floor(math.Log10(target)))
	length := mag
	for _, m := range []float64{2, 5, 10} {
		if m*mag <= target {
			length = m * mag
		}
	}
	label := fmt.Sprintf("%.0f m", length)
	if length >= 1000 {
		label = fmt.Sprintf("%g km", length/1000)
	}
	return scaleBar{X1: mapMargin, X2: mapMargin + length*unitsPerMetre, Y: h - 8, Label: label}
}

// thin returns the indices of the samples to draw: all of them up to
// MaxPlotPoints, else an even selection keeping the first and the last.
func thin(n int) []int {
	if n <= MaxPlotPoints {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	idx := make([]int, 0, MaxPlotPoints)
	for j := 0; j < MaxPlotPoints; j++ {
		idx = append(idx, j*(n-1)/(MaxPlotPoints-1))
	}
	return idx
}

func buildPlots(t Track, colour string, tmax time.Duration, faults []Entry) vehiclePlots {
	vp := vehiclePlots{Vehicle: t.Vehicle, Color: colour}
	var lines []Entry
	for _, f := range faults {
		if len(f.Vehicles) == 0 || slices.Contains(f.Vehicles, t.Vehicle) {
			lines = append(lines, f)
		}
	}
	altLo, altHi := 0.0, 0.0
	for _, s := range t.Samples {
		altLo = math.Min(altLo, s.AltM)
		altHi = math.Max(altHi, s.AltM)
	}
	altHi = niceCeil(altHi)
	if altHi <= altLo {
		altHi = altLo + 10
	}
	vp.Alt = series("alt", "Altitude (m)", t.Samples, tmax, altLo, altHi, func(s Sample) (float64, bool) { return s.AltM, true }, lines)
	vp.Battery = series("battery", "Battery (%)", t.Samples, tmax, 0, 100, func(s Sample) (float64, bool) { return s.BatteryPct, s.BatteryPct >= 0 }, lines)
	for _, p := range []*plot{&vp.Alt, &vp.Battery} {
		p.Vehicle, p.Color = t.Vehicle, colour
	}
	vp.Alt.Modes = modeBands(t.Samples, tmax, vp.Alt.X0, vp.Alt.X1)
	return vp
}

// modeBands splits a track into runs of the same flight mode, each a
// band from its first sample to the next run's first sample (the last to
// its last sample). Samples without a mode start no band.
func modeBands(ss []Sample, tmax time.Duration, x0, x1 float64) []modeBand {
	span := float64(tmax)
	if span <= 0 {
		span = 1
	}
	x := func(at time.Duration) float64 { return x0 + float64(at)/span*(x1-x0) }
	var out []modeBand
	for i := 0; i < len(ss); {
		j := i + 1
		for j < len(ss) && ss[j].Mode == ss[i].Mode {
			j++
		}
		end := ss[len(ss)-1].At
		if j < len(ss) {
			end = ss[j].At
		}
		if ss[i].Mode != "" {
			out = append(out, modeBand{X: x(ss[i].At), W: math.Max(x(end)-x(ss[i].At), 0.5), Mode: ss[i].Mode, Color: modeColour(ss[i].Mode), T0: ss[i].At, T1: end})
		}
		i = j
	}
	return out
}

// modeColours are the modes an operator reads most, in colours far apart.
var modeColours = map[string]string{
	"STABILIZE": "#9e9e9e", "ALT_HOLD": "#bdbdbd", "LOITER": "#66bb6a", "POSHOLD": "#43a047",
	"GUIDED": "#26c6da", "AUTO": "#3f51b5", "RTL": "#ff9800", "SMART_RTL": "#ffb74d",
	"LAND": "#8e24aa", "BRAKE": "#e53935",
}

// modeColour gives each flight mode a stable colour (the same mode looks
// the same on every vehicle's strip).
func modeColour(mode string) string {
	if c, ok := modeColours[mode]; ok {
		return c
	}
	h := uint32(2166136261)
	for i := 0; i < len(mode); i++ {
		h = (h ^ uint32(mode[i])) * 16777619
	}
	return fmt.Sprintf("hsl(%d,55%%,60%%)", h%360)
}

// niceCeil rounds up to 1, 2 or 5 × 10^n so the axis label is a round
// number.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 0
	}
	mag := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= v {
			return m * mag
		}
	}
	return 10 * mag
}

// series draws one quantity over time. Samples where ok is false (e.g.
// battery not reported) break the line rather than drop to zero.
func series(kind, title string, ss []Sample, tmax time.Duration, lo, hi float64, value func(Sample) (float64, bool), faults []Entry) plot {
	p := plot{Kind: kind, Title: title, W: plotW, H: plotH, X0: plotLeft, X1: plotW - plotRight, Y0: plotTop, Y1: plotH - plotBot, TMax: tmax}
	p.YMin = fmt.Sprintf("%.0f", lo)
	p.YMax = fmt.Sprintf("%.0f", hi)
	span := float64(tmax)
	if span <= 0 {
		span = 1
	}
	x := func(at time.Duration) float64 { return p.X0 + float64(at)/span*(p.X1-p.X0) }
	y := func(v float64) float64 {
		v = math.Max(lo, math.Min(hi, v))
		return p.Y1 - (v-lo)/(hi-lo)*(p.Y1-p.Y0)
	}
	p.Baseline = y(0)
	var d strings.Builder
	pen := false
	for _, idx := range thin(len(ss)) {
		val, ok := value(ss[idx])
		if !ok {
			pen = false
			continue
		}
		cmd := "L"
		if !pen {
			cmd = "M"
		}
		if d.Len() > 0 {
			d.WriteByte(' ')
		}
		fmt.Fprintf(&d, "%s%.1f,%.1f", cmd, x(ss[idx].At), y(val))
		pen = true
		p.Points++
	}
	p.D = d.String()
	p.Empty = p.Points == 0
	for _, f := range faults {
		p.Faults = append(p.Faults, faultLine{X: x(f.At), Text: fmtAt(f.At) + " " + f.Text})
	}
	return p
}

func buildRehearsal(r *Rehearsal) *rehearsalView {
	v := &rehearsalView{Rehearsal: r}
	var delays []time.Duration
	for _, f := range r.Faults {
		if f.Alert != nil {
			v.Alerted++
		}
		if f.Response != nil {
			v.Responded++
			delays = append(delays, f.Response.Delay)
		}
	}
	if len(delays) > 0 {
		slices.Sort(delays)
		v.MedianResponse = delays[len(delays)/2]
		if len(delays)%2 == 0 {
			v.MedianResponse = (delays[len(delays)/2-1] + delays[len(delays)/2]) / 2
		}
		v.MaxResponse = delays[len(delays)-1]
	}
	return v
}

// fmtAt formats simulated time since start as T+h:mm:ss.s (hours only
// when needed).
func fmtAt(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	tenths := int64(d / (100 * time.Millisecond))
	h := tenths / 36000
	m := tenths / 600 % 60
	s := tenths % 600
	if h > 0 {
		return fmt.Sprintf("T%s%d:%02d:%02d.%d", sign, h, m, s/10, s%10)
	}
	return fmt.Sprintf("T%s%02d:%02d.%d", sign, m, s/10, s%10)
}

// fmtDelay formats a delay in seconds with one decimal.
func fmtDelay(d time.Duration) string {
	return fmt.Sprintf("%.1f s", d.Seconds())
}
