package separation

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/missions"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestClosestApproachHeadOn(t *testing.T) {
	// 200 m apart, closing at 10+10 m/s, 5 m lateral offset: closest in 10 s at 5 m.
	a := Track{ID: "a", X: 0, Y: 0, Z: 50, VX: 10}
	b := Track{ID: "b", X: 200, Y: 5, Z: 50, VX: -10}
	tca, d := ClosestApproach(a, b, 30)
	if !near(tca, 10) || !near(d, 5) {
		t.Fatalf("tca %v d %v, want 10 s 5 m", tca, d)
	}
	// Beyond the horizon: closest within it is at the horizon.
	tca, d = ClosestApproach(a, b, 4)
	if !near(tca, 4) || !near(d, math.Hypot(120, 5)) {
		t.Fatalf("horizon 4: tca %v d %v", tca, d)
	}
}

func TestClosestApproachDivergingAndParallel(t *testing.T) {
	a := Track{ID: "a", VX: -5}
	b := Track{ID: "b", X: 50, VX: 5}
	if tca, d := ClosestApproach(a, b, 30); tca != 0 || !near(d, 50) {
		t.Fatalf("diverging: tca %v d %v, want now at 50 m", tca, d)
	}
	c := Track{ID: "c", X: 0, Y: 20, VX: 5}
	if tca, d := ClosestApproach(Track{ID: "a", VX: 5}, c, 30); tca != 0 || !near(d, 20) {
		t.Fatalf("parallel: tca %v d %v, want 0 s 20 m", tca, d)
	}
}

func TestClosestApproachUsesAltitude(t *testing.T) {
	a := Track{ID: "a", Z: 40, VX: 10}
	b := Track{ID: "b", X: 200, Z: 80, VX: -10}
	if _, d := ClosestApproach(a, b, 30); !near(d, 40) {
		t.Fatalf("layers 40 m apart pass at %v m, want 40", d)
	}
	// Climbing into the other's layer: b descends 4 m/s, meets a's altitude at 10 s.
	b.VZ = -4
	if tca, d := ClosestApproach(a, b, 30); !near(tca, 10) || !near(d, 0) {
		t.Fatalf("descending: tca %v d %v, want 10 s 0 m", tca, d)
	}
}

func cfg() Config {
	return Config{Warn: 30, Critical: 10, WarnVertical: 8, CriticalVertical: 4, Horizon: 20 * time.Second, ClearFactor: 1.25}
}

// approach puts b at distance x east of a on a line 'off' metres north,
// both still: predicted distance = current distance.
func pairAt(x, off float64) []Track {
	return []Track{{ID: "v1"}, {ID: "v2", X: x, Y: off}}
}

func TestHysteresisRaisesOncePerEpisode(t *testing.T) {
	m := New(cfg())
	steps := []struct {
		dist float64
		want []Level // changes expected at this step
	}{
		{100, nil},
		{29, []Level{Warning}}, // raised
		{25, nil},              // same episode: nothing
		{31, nil},              // above warn but under clear (37.5): still in the episode
		{28, nil},              // back under warn: no second warning
		{9, []Level{Critical}}, // escalated once
		{20, nil},              // no de-escalation
		{5, nil},
		{36, nil},
		{38, []Level{None}}, // cleared
		{36, nil},           // under clear but above warn: no new episode
		{29, []Level{Warning}},
	}
	for i, s := range steps {
		got := m.Step(pairAt(s.dist, 0))
		if len(got) != len(s.want) {
			t.Fatalf("step %d (%v m): changes %+v, want levels %v", i, s.dist, got, s.want)
		}
		for k, c := range got {
			if c.Level != s.want[k] || c.A != "v1" || c.B != "v2" {
				t.Fatalf("step %d: change %+v, want level %v for v1/v2", i, c, s.want[k])
			}
			if c.Level != None && (!near(c.DistanceM, s.dist) || !near(c.NowM, s.dist) || c.Yield != "v2") {
				t.Fatalf("step %d: change %+v", i, c)
			}
		}
	}
}

func TestPredictedConflictWarnsBeforeItHappens(t *testing.T) {
	m := New(cfg())
	// 300 m apart, closing at 20 m/s: closest approach in 15 s, within the horizon.
	got := m.Step([]Track{{ID: "a", VX: 10}, {ID: "b", X: 300, Y: 2, VX: -10}})
	if len(got) != 1 || got[0].Level != Critical || !near(got[0].TCA, 15) || !near(got[0].NowM, math.Hypot(300, 2)) {
		t.Fatalf("changes %+v, want one critical with tca 15 s while 300 m apart", got)
	}
	// The same geometry 30 s ahead of closest approach: nothing yet.
	m2 := New(cfg())
	if got := m2.Step([]Track{{ID: "a", VX: 10}, {ID: "b", X: 600, Y: 2, VX: -10}}); len(got) != 0 {
		t.Fatalf("beyond the horizon: %+v", got)
	}
}

func TestEpisodeEndsWhenDroneLeaves(t *testing.T) {
	m := New(cfg())
	if got := m.Step(pairAt(20, 0)); len(got) != 1 {
		t.Fatalf("want a warning, got %+v", got)
	}
	got := m.Step([]Track{{ID: "v1"}}) // v2 landed
	if len(got) != 1 || got[0].Level != None || got[0].Previous != Warning || !math.IsNaN(got[0].DistanceM) || got[0].Yield != "v2" {
		t.Fatalf("want the episode cleared, got %+v", got)
	}
	if len(m.Active()) != 0 {
		t.Fatalf("active %+v", m.Active())
	}
}

func TestYielder(t *testing.T) {
	p := Track{ID: "a", Patrol: true}
	q := Track{ID: "b"}
	if Yielder(p, q) != "b" || Yielder(q, p) != "b" {
		t.Fatal("the drone not on patrol must yield")
	}
	if Yielder(Track{ID: "z", Patrol: true}, Track{ID: "c"}) != "c" {
		t.Fatal("transit yields even with the lower ID")
	}
	if Yielder(Track{ID: "a"}, Track{ID: "c"}) != "c" || Yielder(Track{ID: "c"}, Track{ID: "a"}) != "c" {
		t.Fatal("equal priority: the higher ID yields")
	}
}

// TestIndexFindsWhatBruteForceFinds compares the monitor with an n² check
// on random traffic: the index must not lose a conflicting pair.
func TestIndexFindsWhatBruteForceFinds(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tracks := randomTracks(r, 400, 1500)
	c := cfg()
	m := New(c)
	got := map[[2]string]Level{}
	for _, ch := range m.Step(tracks) {
		got[[2]string{ch.A, ch.B}] = ch.Level
	}
	want := 0
	for i := range tracks {
		for j := i + 1; j < len(tracks); j++ {
			pw := Approach(tracks[i], tracks[j], c.Horizon.Seconds(), c.Warn, c.WarnVertical)
			pc := Approach(tracks[i], tracks[j], c.Horizon.Seconds(), c.Critical, c.CriticalVertical)
			d := pw.Distance
			lv := None
			switch {
			case pc.Ratio < 1:
				lv = Critical
			case pw.Ratio < 1:
				lv = Warning
			}
			if lv == None {
				continue
			}
			want++
			a, b := min(tracks[i].ID, tracks[j].ID), max(tracks[i].ID, tracks[j].ID)
			if got[[2]string{a, b}] != lv {
				t.Errorf("pair %s/%s at %.1f m: monitor says %v", a, b, d, got[[2]string{a, b}])
			}
		}
	}
	if want == 0 || len(got) != want {
		t.Fatalf("brute force finds %d conflicts, monitor %d (a test without conflicts proves nothing)", want, len(got))
	}
	if m.Checked >= len(tracks)*(len(tracks)-1)/2/10 {
		t.Errorf("index checked %d pairs of %d: not pruning", m.Checked, len(tracks)*(len(tracks)-1)/2)
	}
}

func randomTracks(r *rand.Rand, n int, side float64) []Track {
	out := make([]Track, n)
	for i := range out {
		out[i] = Track{ID: fmt.Sprintf("v%04d", i), X: r.Float64() * side, Y: r.Float64() * side, Z: 30 + float64(r.IntN(3))*20,
			VX: r.NormFloat64() * 5, VY: r.NormFloat64() * 5, VZ: r.NormFloat64() * 0.5}
	}
	return out
}

func TestTracksFromFleet(t *testing.T) {
	vs := []fleet.Vehicle{
		{ID: "air", Connected: true, Armed: true, LandedState: "in_air", Lat: 41.3, Lon: 69.2, AltMSL: 500, VelNorth: 3, VelEast: 4, Climb: 1, Mode: "AUTO", MissionCount: 5},
		{ID: "ground", Connected: true, Armed: true, LandedState: "on_ground", Lat: 41.3, Lon: 69.2},
		{ID: "lost", Connected: false, Armed: true, LandedState: "in_air"},
		{ID: "east", Connected: true, Armed: true, RelativeAlt: 20, Lat: 41.3, Lon: 69.2 + 0.001, AltMSL: 520, Mode: "GUIDED"},
	}
	tr := Tracks(nil, vs, nil)
	if len(tr) != 2 || tr[0].ID != "air" || tr[1].ID != "east" {
		t.Fatalf("tracks %+v", tr)
	}
	if !tr[0].Patrol || tr[1].Patrol || tr[0].VX != 4 || tr[0].VY != 3 || tr[0].VZ != 1 {
		t.Fatalf("track 0 %+v / 1 %+v", tr[0], tr[1])
	}
	// 0.001° of longitude at 41.3° N is about 83.6 m.
	if math.Abs(tr[1].X-83.6) > 0.5 || math.Abs(tr[1].Y) > 1e-9 || tr[1].Z != 520 {
		t.Fatalf("east track at %v,%v,%v", tr[1].X, tr[1].Y, tr[1].Z)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultConfig()
	bad.Warn = 5
	if err := bad.Validate(); err == nil {
		t.Fatal("warn under critical accepted")
	}
	bad = DefaultConfig()
	bad.WarnVertical = 3
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "separation-warn-vertical") {
		t.Fatalf("vertical warn under critical: %v", err)
	}
	bad = DefaultConfig()
	bad.CriticalVertical = 0
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "separation-critical-vertical") {
		t.Fatalf("zero vertical critical: %v", err)
	}
	bad = DefaultConfig()
	bad.Critical = math.NaN()
	if err := bad.Validate(); err == nil {
		t.Fatal("NaN accepted")
	}
}

// BenchmarkStep2000 is one monitor tick over 2,000 airborne drones spread
// over 5 km × 5 km in three layers at up to ~15 m/s.
func BenchmarkStep2000(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	tracks := randomTracks(r, 2000, 5000)
	m := New(DefaultConfig())
	m.Step(tracks)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.Step(tracks)
	}
	b.ReportMetric(float64(m.Checked), "pairs_checked")
}

// BenchmarkStep2000Levelling is BenchmarkStep2000 with every drone
// climbing or descending at up to ~2.5 m/s towards a known target
// altitude it reaches within the horizon: every candidate pair takes the
// piecewise closest approach (levelOff), the worst case of that path.
func BenchmarkStep2000Levelling(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	tracks := randomTracks(r, 2000, 5000)
	for i := range tracks {
		t := &tracks[i]
		t.VZ = 0.5 + r.Float64()*2
		if i%2 == 1 {
			t.VZ = -t.VZ
		}
		t.TargetZ, t.HasTargetZ = t.Z+t.VZ*r.Float64()*20, true
	}
	m := New(DefaultConfig())
	m.Step(tracks)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.Step(tracks)
	}
	b.ReportMetric(float64(m.Checked), "pairs_checked")
}

// BenchmarkTracks2000 is the projection from fleet snapshots that precedes
// each step.
func BenchmarkTracks2000(b *testing.B) {
	vs := make([]fleet.Vehicle, 2000)
	for i := range vs {
		vs[i] = fleet.Vehicle{ID: fmt.Sprintf("v%04d", i), Connected: true, Armed: true, LandedState: "in_air", Lat: 41.3 + float64(i%50)*1e-3, Lon: 69.2 + float64(i/50)*1e-3}
	}
	var tr []Track
	for b.Loop() {
		tr = Tracks(tr, vs, nil)
	}
}

// BenchmarkTracks2000Climbing is the projection with every drone
// climbing, so each one's target altitude is looked up (here a constant:
// the app's lookup is a map and a list-cache read, Station.MissionItem).
func BenchmarkTracks2000Climbing(b *testing.B) {
	vs := make([]fleet.Vehicle, 2000)
	for i := range vs {
		vs[i] = fleet.Vehicle{ID: fmt.Sprintf("v%04d", i), Connected: true, Armed: true, LandedState: "in_air", Climb: 2,
			Lat: 41.3 + float64(i%50)*1e-3, Lon: 69.2 + float64(i/50)*1e-3}
	}
	target := func(*fleet.Vehicle) (float64, bool) { return 500, true }
	var tr []Track
	for b.Loop() {
		tr = Tracks(tr, vs, target)
	}
}

// BenchmarkBruteForce2000 is the n² alternative the index replaces: every
// pair's closest approach, nothing else (no hysteresis, no allocation).
func BenchmarkBruteForce2000(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	tracks := randomTracks(r, 2000, 5000)
	h := DefaultConfig().Horizon.Seconds()
	n := 0
	for b.Loop() {
		n = 0
		for i := range tracks {
			for j := i + 1; j < len(tracks); j++ {
				if _, d := ClosestApproach(tracks[i], tracks[j], h); d < 30 {
					n++
				}
			}
		}
	}
	b.ReportMetric(float64(n), "conflicts")
}

// A drone climbing after takeoff under a drone hovering 25 m to the side
// at a higher layer: extrapolated straight ahead its 2.5 m/s climb
// reaches the other's altitude within the horizon (25 m: a warning); it
// levels off at its target 20 m below the other (32 m: nothing).
func TestClimbLevelsOffAtItsTarget(t *testing.T) {
	above := Track{ID: "v1", Z: 560}
	climber := Track{ID: "v2", X: 25, Z: 510, VZ: 2.5}
	if got := New(cfg()).Step([]Track{above, climber}); len(got) != 1 || got[0].Level != Warning {
		t.Fatalf("no target known: changes %+v, want the straight-ahead warning", got)
	}
	climber.TargetZ, climber.HasTargetZ = 540, true
	tca, d := ClosestApproach(above, climber, 20)
	if !near(tca, 12) || !near(d, math.Hypot(25, 20)) {
		t.Fatalf("levelling at 540 m: tca %v d %v, want 12 s at %v m", tca, d, math.Hypot(25, 20))
	}
	if got := New(cfg()).Step([]Track{above, climber}); len(got) != 0 {
		t.Fatalf("target 20 m under the other: changes %+v, want none", got)
	}
	// A target at the other's layer is a true conflict and still warns;
	// so does one the climb would overshoot within the horizon.
	for _, z := range []float64{560, 600} {
		climber.TargetZ = z
		if got := New(cfg()).Step([]Track{above, climber}); len(got) != 1 || got[0].Level != Warning || !near(got[0].DistanceM, 25) {
			t.Fatalf("target %v m: changes %+v, want a warning at 25 m", z, got)
		}
	}
	// A descent levels off the same way: from above onto a drone below.
	below := Track{ID: "v1", Z: 510}
	desc := Track{ID: "v2", X: 25, Z: 560, VZ: -2.5, TargetZ: 535, HasTargetZ: true}
	if _, d := ClosestApproach(below, desc, 20); !near(d, math.Hypot(25, 25)) {
		t.Fatalf("descent to 535 m: closest %v m, want %v", d, math.Hypot(25, 25))
	}
}

// A target the drone moves away from (passed, or stale) does not shorten
// the prediction: only an intent the drone's own motion agrees with does.
func TestTargetBehindTheMotionIsIgnored(t *testing.T) {
	above := Track{ID: "v1", Z: 560}
	for _, c := range []Track{
		{ID: "v2", X: 25, Z: 510, VZ: 2.5, TargetZ: 500, HasTargetZ: true}, // target below, climbing
		{ID: "v2", X: 25, Z: 510, VZ: 2.5},                                 // no target
	} {
		tca, d := ClosestApproach(above, c, 20)
		if !near(tca, 20) || !near(d, 25) {
			t.Fatalf("%+v: tca %v d %v, want the straight-ahead 20 s at 25 m", c, tca, d)
		}
	}
}

// ClosestApproach with level-offs against sampling the same piecewise
// motion finely: it never reports a miss distance larger than one the
// tracks actually reach (that would hide a conflict), nor much smaller.
func TestClosestApproachWithLevelOffMatchesSampling(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const h = 20.0
	pos := func(tr Track, s float64) (float64, float64, float64) {
		vs := min(s, tr.levelOff())
		return tr.X + tr.VX*s, tr.Y + tr.VY*s, tr.Z + tr.VZ*vs
	}
	levelled := 0
	for i := range 2000 {
		tr := randomTracks(r, 2, 120)
		for k := range tr {
			tr[k].VZ = r.NormFloat64() * 3
			if r.IntN(4) > 0 {
				tr[k].TargetZ, tr[k].HasTargetZ = tr[k].Z+r.NormFloat64()*30, true
			}
			if tr[k].levelOff() < h {
				levelled++
			}
		}
		tca, d := ClosestApproach(tr[0], tr[1], h)
		ax, ay, az := pos(tr[0], tca)
		bx, by, bz := pos(tr[1], tca)
		if got := math.Sqrt((ax-bx)*(ax-bx) + (ay-by)*(ay-by) + (az-bz)*(az-bz)); math.Abs(got-d) > 1e-6 {
			t.Fatalf("case %d: distance at tca %v is %v, reported %v", i, tca, got, d)
		}
		best := math.Inf(1)
		for s := 0.0; s <= h; s += 0.01 {
			ax, ay, az := pos(tr[0], s)
			bx, by, bz := pos(tr[1], s)
			best = min(best, math.Sqrt((ax-bx)*(ax-bx)+(ay-by)*(ay-by)+(az-bz)*(az-bz)))
		}
		if d > best+1e-9 || d < best-0.5 {
			t.Fatalf("case %d %+v: reported %v m, sampling finds %v m", i, tr, d, best)
		}
	}
	if levelled < 1000 {
		t.Fatalf("only %d of 4000 tracks level off within the horizon: the test proves little", levelled)
	}
}

// Two drones crossing on adjacent planned layers (the planner's 10 m
// layer step) pass right over each other: the planner approves the plan,
// and the monitor must not warn — but on one layer they do, and a drone
// climbing through the other's layer while they converge does too. The
// 3D sphere of 30 m warned for the first.
func TestSeparationIsACylinder(t *testing.T) {
	// East-bound at 40 m, north-bound at 50 m, crossing over the same
	// point in 10 s.
	a := Track{ID: "v1", X: -100, Z: 40, VX: 10}
	b := Track{ID: "v2", Y: -100, Z: 50, VY: 10}
	if got := New(cfg()).Step([]Track{a, b}); len(got) != 0 {
		t.Fatalf("crossing 10 m apart vertically: changes %+v, want none", got)
	}
	if _, d := ClosestApproach(a, b, 20); d >= 30 {
		t.Fatalf("3D closest %v m: the case does not show the sphere's nuisance warning", d)
	}
	// Same layer: critical (they meet).
	b.Z = 40
	if got := New(cfg()).Step([]Track{a, b}); len(got) != 1 || got[0].Level != Critical || !near(got[0].TCA, 10) || got[0].HorizontalM > 1e-9 || got[0].VerticalM != 0 {
		t.Fatalf("crossing on one layer: changes %+v, want a critical at 10 s", got)
	}
	// 6 m apart vertically, crossing 20 m apart horizontally: warning.
	b.Z, b.X = 46, 20
	if got := New(cfg()).Step([]Track{a, b}); len(got) != 1 || got[0].Level != Warning || !near(got[0].VerticalM, 6) {
		t.Fatalf("crossing 6 m apart: changes %+v, want a warning", got)
	}
	// One climbing through the other's layer while they converge: b
	// starts 20 m below, climbs 2 m/s to a target 20 m above a; the pair
	// is horizontally within 30 m from 7.9 s to 12.1 s, when b passes
	// through a's altitude (at 10 s).
	b = Track{ID: "v2", Y: -100, Z: 20, VY: 10, VZ: 2, TargetZ: 60, HasTargetZ: true}
	got := New(cfg()).Step([]Track{a, b})
	if len(got) != 1 || got[0].Level == None || got[0].VerticalM >= 8 || got[0].HorizontalM >= 30 {
		t.Fatalf("climbing through a's layer while converging: changes %+v, want a conflict", got)
	}
	// Climbing to a level-off 10 m under a's layer (its own planned
	// layer): nothing.
	b.TargetZ = 30
	if got := New(cfg()).Step([]Track{a, b}); len(got) != 0 {
		t.Fatalf("levelling off a layer under a: changes %+v, want none", got)
	}
}

// The episode ends once the pair is outside the warning cylinder grown by
// the clear factor: here by leaving vertically (8×1.25 = 10 m) while
// still horizontally inside 30 m.
func TestEpisodeClearsVertically(t *testing.T) {
	m := New(cfg())
	at := func(dz float64) []Change { return m.Step([]Track{{ID: "v1"}, {ID: "v2", X: 20, Z: dz}}) }
	if got := at(7); len(got) != 1 || got[0].Level != Warning {
		t.Fatalf("7 m under: %+v, want a warning", got)
	}
	if got := at(9); len(got) != 0 {
		t.Fatalf("9 m (in the hysteresis band): %+v, want nothing", got)
	}
	if got := at(10.5); len(got) != 1 || got[0].Level != None {
		t.Fatalf("10.5 m: %+v, want cleared", got)
	}
}

// Approach against fine sampling of the same piecewise motion: the least
// of max(horizontal/H, vertical/V) it reports is reached at its TCA, no
// sample is lower, and none is much higher (it does not miss the moment
// both minima are lost).
func TestApproachMatchesSampling(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const h = 20.0
	pos := func(tr Track, s float64) (float64, float64, float64) {
		vs := min(s, tr.levelOff())
		return tr.X + tr.VX*s, tr.Y + tr.VY*s, tr.Z + tr.VZ*vs
	}
	ratio := func(a, b Track, s, H, V float64) float64 {
		ax, ay, az := pos(a, s)
		bx, by, bz := pos(b, s)
		return max(math.Hypot(ax-bx, ay-by)/H, math.Abs(az-bz)/V)
	}
	conflicts := 0
	for i := range 3000 {
		tr := randomTracks(r, 2, 150)
		for k := range tr {
			tr[k].Z = 40 + r.NormFloat64()*10
			tr[k].VZ = r.NormFloat64() * 3
			if r.IntN(4) > 0 {
				tr[k].TargetZ, tr[k].HasTargetZ = tr[k].Z+r.NormFloat64()*30, true
			}
		}
		H, V := []float64{30, 10}[i%2], []float64{8, 4}[i%2]
		p := Approach(tr[0], tr[1], h, H, V)
		if got := ratio(tr[0], tr[1], p.TCA, H, V); math.Abs(got-p.Ratio) > 1e-6 || math.Abs(max(p.Horizontal/H, p.Vertical/V)-p.Ratio) > 1e-9 {
			t.Fatalf("case %d: ratio at tca %v is %v, reported %+v", i, p.TCA, got, p)
		}
		best := math.Inf(1)
		for s := 0.0; s <= h; s += 0.005 {
			best = min(best, ratio(tr[0], tr[1], s, H, V))
		}
		if p.Ratio > best+1e-9 || p.Ratio < best-0.02 {
			t.Fatalf("case %d %+v: reported %+v, sampling finds %v", i, tr, p, best)
		}
		if p.Ratio < 1 {
			conflicts++
		}
	}
	if conflicts < 100 {
		t.Fatalf("only %d of 3000 cases conflict: the test proves little", conflicts)
	}
}

// One owner of the vertical separation: the monitor's vertical warning
// minimum stays under the planner's default layer step with room for two
// drones' altitude-hold error (DefaultConfig), so drones the planner puts
// on adjacent layers never warn — the planner's default is the fact, the
// monitor's is checked against it.
func TestVerticalMinimaFitThePlannersLayers(t *testing.T) {
	c := DefaultConfig()
	if c.WarnVertical+2 > missions.DefaultLayerStep {
		t.Fatalf("warn vertical %v m: want at least 2 m (altitude-hold error) under the planner's layer step %v m", c.WarnVertical, missions.DefaultLayerStep)
	}
	if c.CriticalVertical >= c.WarnVertical {
		t.Fatalf("critical vertical %v m not under warn vertical %v m", c.CriticalVertical, c.WarnVertical)
	}
	// And the planner's horizontal separation is the monitor's warning
	// distance (both internal/sepmin's): legs the planner accepts on one
	// layer are far enough apart not to warn.
	if missions.DefaultSeparation != c.Warn {
		t.Fatalf("planner separation %v m, monitor's warning %v m: a plan the planner accepts would warn", missions.DefaultSeparation, c.Warn)
	}
}
