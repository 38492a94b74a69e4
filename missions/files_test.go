package missions

import (
	"bytes"
	"errors"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/paulmach/orb"
)

func TestBadGeoJSONCorpus(t *testing.T) {
	want := map[string][]string{
		"unclosed":          {"feature 0", "shell vertex 3", "not closed"},
		"self-intersecting": {"feature 0", "shell vertex 0", "intersects itself", "edge 2–3"},
		"too-few-points":    {"feature 0", "2 distinct points"},
		"out-of-range":      {"feature 0", "vertex 2", "out of range"},
		"hole-outside":      {"feature 0", "hole 1 vertex 0", "outside its shell"},
		"nofly-covers-all":  {"leave nothing to fly"},
		"altitude-inverted": {"min altitude 100 m is not below max altitude 50 m"},
		"absurd-size":       {"feature 0", "absurdly large"},
		"unknown-kind":      {"feature 1", "car park", "unknown kind \"parking\""},
		"no-event-area":     {"no feature of kind \"event-area\""},
		"launch-not-point":  {"feature 1", "must be a Point"},
		"launch-radius":     {"feature 1", "pad", "radius_m -4"},
		"bad-time":          {"feature 0", "starts", "RFC 3339"},
		"not-collection":    {"want \"FeatureCollection\""},
		"circle-no-radius":  {"feature 1", "radius_m"},
		"malformed":         {"malformed JSON at byte"},
	}
	files, _ := filepath.Glob("testdata/bad/*.geojson")
	if len(files) != len(want) {
		t.Errorf("%d files in testdata/bad, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".geojson")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			a, err := ImportGeoJSON(bytes.NewReader(data))
			if err == nil {
				t.Fatalf("imported %+v, want an error", a)
			}
			for _, s := range want[name] {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestValidationErrorIsStructured(t *testing.T) {
	_, err := ImportGeoJSON(strings.NewReader(mustRead(t, "testdata/bad/self-intersecting.geojson")))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 {
		t.Fatalf("err = %v, want one *ValidationError problem", err)
	}
	if p := ve.Problems[0]; p.Feature != 0 || p.Name != "bowtie" || p.Ring != 0 || p.Vertex != 0 {
		t.Fatalf("problem = %+v", p)
	}
}

func mustRead(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func synthetic(t testing.TB) *Area {
	return mustImport(t, "testdata/synthetic-l.geojson")
}

func TestSyntheticAreaEveryPattern(t *testing.T) {
	a := synthetic(t)
	if len(a.Include[0]) != 2 || len(a.NoFly) != 2 || !a.NoFly[1].IsCircle() || len(a.POIs) != 2 {
		t.Fatalf("synthetic import lost features: %+v", a)
	}
	for _, pat := range Patterns {
		for _, n := range []int{1, 2, 4} {
			for _, end := range []string{"rtl", "land"} {
				plans, err := PlanArea(a, PlanOptions{Pattern: pat, Drones: n, Alt: 50, Spacing: 30, Repeat: -1, End: end})
				if err != nil {
					t.Fatalf("%s/%d/%s: %v", pat, n, end, err)
				}
				for _, v := range Check(a, plans, CheckOptions{}) {
					t.Errorf("%s/%d/%s: %s", pat, n, end, v)
				}
				for _, dp := range plans {
					if err := independentLegCheck(a, dp, 9.9); err != nil {
						t.Errorf("%s/%d/%s: %v", pat, n, end, err)
					}
					m := dp.Mission
					if m[0].Command != mavitem.CmdNavTakeoff || m[1].Command != mavitem.CmdDoChangeSpeed {
						t.Errorf("%s: mission does not start with takeoff + speed: %+v", pat, m[:2])
					}
					last := m[len(m)-1].Command
					if end == "rtl" && last != mavitem.CmdNavReturnToLaunch || end == "land" && last != mavitem.CmdNavLand {
						t.Errorf("%s: mission ends with command %d, want %s", pat, last, end)
					}
					if dp.JumpSeq == 0 || m[dp.JumpSeq-1].Command != mavitem.CmdDoJump || m[dp.JumpSeq-1].Param2 != -1 || m[dp.JumpSeq-1].Param1 != float32(dp.LoopStart) {
						t.Errorf("%s: no DO_JUMP repeating forever to the loop start", pat)
					}
					if dp.Fence[0].Command != mavitem.CmdFencePolyInclusion {
						t.Errorf("%s: fence does not start with the inclusion polygon", pat)
					}
					if n == 1 {
						// The area's hole and the tent as exclusion polygons, the crane as a circle.
						polys, circles := 0, 0
						for i := 0; i < len(dp.Fence); i++ {
							switch it := dp.Fence[i]; it.Command {
							case mavitem.CmdFencePolyExclusion:
								polys++
								i += int(it.Param1) - 1
							case mavitem.CmdFenceCircleExclusion:
								circles++
								if it.Param1 != 25 {
									t.Errorf("crane circle radius %g", it.Param1)
								}
							}
						}
						if polys != 2 || circles != 1 {
							t.Errorf("%s: %d exclusion polygons and %d circles, want 2 and 1", pat, polys, circles)
						}
					}
				}
			}
		}
	}
}

func TestPlanFileRoundTrips(t *testing.T) {
	a := synthetic(t)
	plans, err := PlanArea(a, PlanOptions{Pattern: PatternSweep, Drones: 2, Spacing: 40, Repeat: 3})
	if err != nil {
		t.Fatal(err)
	}
	p := plans[1].Plan
	p.Mission[0].Param4 = float32(math.NaN()) // QGC writes NaN yaw as null
	var buf bytes.Buffer
	if err := p.WritePlan(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"fileType": "Plan"`, `"groundStation": "Burgut"`, `"plannedHomePosition"`, `"SimpleItem"`, `"geoFence"`, `"rallyPoints"`, `null`} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf(".plan lacks %s", s)
		}
	}
	back, err := ParsePlan(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(float64(back.Mission[0].Param4)) {
		t.Errorf("NaN param4 came back as %g", back.Mission[0].Param4)
	}
	back.Mission[0].Param4, p.Mission[0].Param4 = 0, 0
	if !reflect.DeepEqual(back, &p) {
		t.Fatalf(".plan round trip differs:\n got %+v\nwant %+v", back, &p)
	}
	buf.Reset()
	if err := p.WriteWaypoints(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "QGC WPL 110\n0\t1\t0\t16\t") {
		t.Errorf("waypoints start %q", buf.String()[:40])
	}
	wp, err := ParseWaypoints(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(wp.Mission, p.Mission) || wp.Home != p.Home {
		t.Fatalf(".waypoints round trip differs:\n got %+v\nwant %+v", wp.Mission, p.Mission)
	}
}

func TestParsePlanErrors(t *testing.T) {
	cases := map[string]string{
		`{"fileType":"Mission"}`: `fileType is "Mission"`,
		`{"fileType":"Plan","mission":{"items":[{"type":"ComplexItem","complexItemType":"survey"}]}}`:                      "mission.items[0]: type \"ComplexItem\" (survey) not supported",
		`{"fileType":"Plan","mission":{"items":[{"type":"SimpleItem","command":16,"params":[0,0,0]}]}}`:                    "mission.items[0].params has 3 values",
		`{"fileType":"Plan","mission":{"items":[{"type":"SimpleItem","command":16,"frame":3,"params":[0,0,0,0,91,0,0]}]}}`: "mission.items[0]: latitude 91",
		`{"fileType":"Plan","geoFence":{"polygons":[{"polygon":[[1,2],[3,4]]}]}}`:                                          "geoFence.polygons[0] has 2 vertices",
		`{"fileType":"Plan","geoFence":{"circles":[{"circle":{"center":[1,2],"radius":-5}}]}}`:                             "geoFence.circles[0]",
		`{"fileType":"Plan","rallyPoints":{"points":[[1,2]]}}`:                                                             "rallyPoints.points[0]",
		`{"fileType":"Plan","mission":{"plannedHomePosition":[1]}}`:                                                        "plannedHomePosition",
		`{"fileType":`: "parse plan",
	}
	for in, want := range cases {
		_, err := ParsePlan(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePlan(%s) = %v, want error containing %q", in, err, want)
		}
	}
}

func TestParseWaypointsErrors(t *testing.T) {
	cases := map[string]string{
		"":                           "empty file",
		"QGC WPL 100\n":              "line 1: header",
		"QGC WPL 110\n0\t1\t0\t16\n": "line 2: 4 columns",
		"QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\tabc\t0\t0\t1\n":                                            "line 2 column 9 (x/lat)",
		"QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t41\t69\t0\t1\n2\t0\t3\t16\t0\t0\t0\t0\t41\t69\t50\t1\n":    "line 3 column 1 (index): 2, want 1",
		"QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t41\t69\t0\t1\n1\t0\t3\t70000\t0\t0\t0\t0\t41\t69\t50\t1\n": "column 4 (command)",
		"QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t41\t69\t0\t1\n1\t0\t3\t16\t0\t0\t0\t0\t141\t69\t50\t1\n":   "line 3: latitude 141",
		"QGC WPL 110\n": "no items",
	}
	for in, want := range cases {
		_, err := ParseWaypoints(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseWaypoints(%q) = %v, want error containing %q", in, err, want)
		}
	}
}

func TestAreaExportRoundTrip(t *testing.T) {
	a := synthetic(t)
	a.Launch[0].Radius = 6 // a pad's size survives the round trip
	var buf bytes.Buffer
	if err := WriteGeoJSON(&buf, a.GeoJSON()); err != nil {
		t.Fatal(err)
	}
	b, err := ImportGeoJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("GeoJSON round trip differs:\n got %+v\nwant %+v", b, a)
	}
	buf.Reset()
	if err := a.WriteKML(&buf); err != nil {
		t.Fatal(err)
	}
	k := buf.String()
	if strings.Count(k, "<Placemark>") != 1+2+1+1+2+1 || strings.Count(k, "<innerBoundaryIs>") != 1 || !strings.Contains(k, "Synthetic L with a hole") {
		t.Fatalf("KML misses features:\n%s", k)
	}
}

func TestCheckNamesDroneLegRule(t *testing.T) {
	a := synthetic(t)
	plans, err := PlanArea(a, PlanOptions{Pattern: PatternSweep, Drones: 2, Spacing: 30, LayerStep: 10})
	if err != nil {
		t.Fatal(err)
	}
	if v := Check(a, plans, CheckOptions{}); len(v) != 0 {
		t.Fatalf("clean plans fail: %v", v)
	}
	// Battery: a 2-minute battery cannot fly a sweep.
	v := Check(a, plans, CheckOptions{Endurance: 120})
	if len(v) != 2 || v[0].Rule != RuleBattery || v[0].Drone != 0 || v[1].Drone != 1 || !strings.Contains(v[0].Message, "battery allows 1.6 min") {
		t.Errorf("battery violations = %v", v)
	}
	// Separation: put drone 1 in drone 0's layer and over its path.
	p1 := *plans[1]
	p1.Alt = plans[0].Alt
	p1.Mission = append([]mavitem.Item(nil), plans[1].Mission...)
	for i := range p1.Mission {
		if p1.Mission[i].Command == mavitem.CmdNavWaypoint || p1.Mission[i].Command == mavitem.CmdNavTakeoff {
			p1.Mission[i].Z = float32(p1.Alt) // the checker judges the altitudes flown, not the label
		}
	}
	for i, it := range plans[0].Mission {
		if i < len(p1.Mission) && it.Command == mavitem.CmdNavWaypoint && p1.Mission[i].Command == mavitem.CmdNavWaypoint {
			p1.Mission[i].X, p1.Mission[i].Y = it.X+20, it.Y // 20e-7° ≈ 0.2 m away
			break
		}
	}
	v = Check(a, []*DronePlan{plans[0], &p1}, CheckOptions{Endurance: 1e6})
	found := false
	for _, x := range v {
		if x.Rule == RuleSeparation && x.Drone == 0 && strings.Contains(x.Message, "drone 1 leg") {
			found = true
		}
	}
	if !found {
		t.Errorf("no separation violation in %v", v)
	}
	// Altitude, area, no-fly and item count: move a waypoint into the tent.
	bad := *plans[0]
	bad.Mission = append([]mavitem.Item(nil), plans[0].Mission...)
	tent := a.NoFly[0].Polygon[0][0]
	for i := range bad.Mission {
		if bad.Mission[i].Command == mavitem.CmdNavWaypoint {
			bad.Mission[i].X, bad.Mission[i].Y = e7(tent[1]+0.0002), e7(tent[0]+0.0002)
			bad.Mission[i].Z = 500
			break
		}
	}
	rules := map[string]bool{}
	for _, x := range Check(a, []*DronePlan{&bad}, CheckOptions{MaxItems: 5, Endurance: 1e6}) {
		rules[x.Rule] = true
		if x.Rule == RuleNoFly && !strings.Contains(x.Message, `"Tent"`) {
			t.Errorf("no-fly violation does not name the zone: %s", x)
		}
	}
	for _, r := range []string{RuleNoFly, RuleAltitude, RuleItems, RuleFence} {
		if !rules[r] {
			t.Errorf("rule %s not reported (got %v)", r, rules)
		}
	}
}

// randomArea builds a random star-shaped polygon (so it is simple) with a
// few random holes and a no-fly circle, from a seed.
func randomArea(rng *rand.Rand) *Area {
	lon0, lat0 := 60+rng.Float64()*20, 30+rng.Float64()*20
	pr := projection{lon0: lon0, lat0: lat0, ky: earthRadius * math.Pi / 180}
	pr.kx = pr.ky * math.Cos(lat0*math.Pi/180)
	n := 5 + rng.Intn(20)
	rmin, rmax := 300+rng.Float64()*300, 700+rng.Float64()*800
	shell := orb.Ring{}
	for i := 0; i < n; i++ {
		th := 2 * math.Pi * (float64(i) + 0.8*rng.Float64()) / float64(n)
		r := rmin + rng.Float64()*(rmax-rmin)
		shell = append(shell, pr.toLL(orb.Point{r * math.Cos(th), r * math.Sin(th)}))
	}
	shell = append(shell, shell[0])
	poly := orb.Polygon{shell}
	for h := 0; h < rng.Intn(4); h++ {
		// Holes on a ring of radius < rmin/2, apart from each other.
		th := float64(h) * math.Pi / 2
		c := orb.Point{rmin / 2 * math.Cos(th), rmin / 2 * math.Sin(th)}
		s := 20 + rng.Float64()*40
		hole := orb.Ring{pr.toLL(orb.Point{c[0] - s, c[1] - s}), pr.toLL(orb.Point{c[0] - s, c[1] + s}), pr.toLL(orb.Point{c[0] + s, c[1] + s}), pr.toLL(orb.Point{c[0] + s, c[1] - s})}
		hole = append(hole, hole[0])
		poly = append(poly, hole)
	}
	a := &Area{Name: "random", Include: []orb.Polygon{normalizePolygon(poly)}, MinAlt: 20, MaxAlt: 120,
		Launch: []Site{{Name: "pad", Point: pr.toLL(orb.Point{0, 0})}}}
	if rng.Intn(2) == 0 {
		a.NoFly = append(a.NoFly, NoFly{Name: "circle", Center: pr.toLL(orb.Point{-rmin / 2, -rmin / 2}), Radius: 30})
	}
	return a
}

func TestPropertyRandomPolygonsWithHoles(t *testing.T) {
	rng := rand.New(rand.NewSource(20261127))
	for i := 0; i < 30; i++ {
		a := randomArea(rng)
		if err := a.Validate(); err != nil {
			t.Fatalf("case %d: generator made an invalid area: %v", i, err)
		}
		pat := Patterns[i%len(Patterns)]
		drones := 1 + i%3
		plans, err := PlanArea(a, PlanOptions{Pattern: pat, Drones: drones, Spacing: 60, Repeat: 1})
		if err != nil {
			t.Errorf("case %d %s/%d: %v", i, pat, drones, err)
			continue
		}
		for _, v := range Check(a, plans, CheckOptions{Endurance: 1e6}) {
			t.Errorf("case %d %s/%d: %s", i, pat, drones, v)
		}
		for _, dp := range plans {
			if err := independentLegCheck(a, dp, 9.9); err != nil {
				t.Errorf("case %d %s/%d: %v", i, pat, drones, err)
			}
			if err := independentFenceCheck(a, dp, 4.9); err != nil {
				t.Errorf("case %d %s/%d: %v", i, pat, drones, err)
			}
		}
	}
}

func FuzzImportGeoJSON(f *testing.F) {
	files, _ := filepath.Glob("testdata/fuzz/*.geojson")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ImportGeoJSON(bytes.NewReader(data))
		if err != nil {
			if a != nil {
				t.Fatal("area returned with an error")
			}
			return
		}
		if len(a.Include) == 0 || !(a.MinAlt < a.MaxAlt) {
			t.Fatalf("accepted an area that Validate should refuse: %+v", a)
		}
		// An accepted area must export and re-import.
		var buf bytes.Buffer
		if err := WriteGeoJSON(&buf, a.GeoJSON()); err != nil {
			t.Fatal(err)
		}
		if _, err := ImportGeoJSON(&buf); err != nil {
			t.Fatalf("re-import of an accepted area failed: %v", err)
		}
	})
}

// The preview's battery numbers are the battery rule's: over exactly when
// the rule fires, the budget is endurance minus reserve, and a longer
// plan takes longer.
func TestBatteryUseMatchesTheBatteryRule(t *testing.T) {
	a := synthetic(t)
	plans, err := PlanArea(a, PlanOptions{Pattern: PatternSweep, Drones: 2, Spacing: 30, LayerStep: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, endurance := range []float64{120, 1e6} {
		c := NewChecker(a, CheckOptions{Endurance: endurance})
		bu := c.Battery(plans)
		fired := map[int]bool{}
		for _, v := range c.Check(plans) {
			if v.Rule == RuleBattery {
				fired[v.Drone] = true
			}
		}
		if len(bu) != 2 {
			t.Fatalf("endurance %g: %d battery estimates, want 2", endurance, len(bu))
		}
		for i, b := range bu {
			if b.Drone != plans[i].Drone || b.Over != fired[b.Drone] || b.BudgetS != endurance*0.8 || b.EnduranceS != endurance || b.FlightS <= 0 {
				t.Errorf("endurance %g: drone %d estimate %+v, rule fired %v", endurance, i, b, fired[b.Drone])
			}
		}
	}
	// One drone sweeping all of it flies longer than each of two.
	one, err := PlanArea(a, PlanOptions{Pattern: PatternSweep, Drones: 1, Spacing: 30})
	if err != nil {
		t.Fatal(err)
	}
	c := NewChecker(a, CheckOptions{})
	b1, b2 := c.Battery(one)[0], c.Battery(plans)
	if b1.FlightS <= b2[0].FlightS || b1.FlightS <= b2[1].FlightS {
		t.Errorf("one drone %.0f s, two drones %.0f s and %.0f s: the one should take longest", b1.FlightS, b2[0].FlightS, b2[1].FlightS)
	}
}
