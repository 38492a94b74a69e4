package missions

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/paulmach/orb"
)

// togetherArea is transitArea with a launch pad of radius padR.
func togetherArea(padR float64) *Area {
	a := transitArea(false)
	a.Launch[0].Radius = padR
	return a
}

// trajectory samples, every metre or so, the way an RTL commanded at
// waypoint w flies under the plan's parameters — climb to RTL_ALT, fly to
// RTLTarget, descend — in metres east/north of sepCenter and up: an
// independent model of ArduCopter's RTL (not the checker's pieces).
func trajectory(dp *DronePlan, w orb.Point, alt float64) [][3]float64 {
	rtl := 0.0
	for _, p := range dp.FenceParams {
		if p.Name == "RTL_ALT" {
			rtl = p.Value / 100
		}
	}
	xy := func(p orb.Point) [2]float64 {
		k := math.Cos(sepCenter[1] * math.Pi / 180)
		return [2]float64{(p[0] - sepCenter[0]) * 111320 * k, (p[1] - sepCenter[1]) * 111320}
	}
	a, b := xy(w), xy(dp.RTLTarget(w))
	z := math.Max(alt, rtl)
	var out [][3]float64
	for h := alt; h < z; h++ {
		out = append(out, [3]float64{a[0], a[1], h})
	}
	n := int(math.Hypot(b[0]-a[0], b[1]-a[1])) + 1
	for s := 0; s <= n; s++ {
		t := float64(s) / float64(n)
		out = append(out, [3]float64{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1]), z})
	}
	for h := z; h >= 0; h-- {
		out = append(out, [3]float64{b[0], b[1], h})
	}
	return out
}

// closestReturns is the smallest horizontal distance between two drones'
// RTL trajectories (from each of their patrol waypoints) at points less
// than vsep apart vertically, by brute force.
func closestReturns(p, q *DronePlan, vsep float64) float64 {
	var tp, tq [][][3]float64
	for _, l := range p.Legs() {
		if !l.Transit {
			tp = append(tp, trajectory(p, l.To, l.Alt))
		}
	}
	for _, l := range q.Legs() {
		if !l.Transit {
			tq = append(tq, trajectory(q, l.To, l.Alt))
		}
	}
	best := math.Inf(1)
	for _, a := range tp {
		for _, b := range tq {
			for _, u := range a {
				for _, v := range b {
					if math.Abs(u[2]-v[2]) < vsep {
						best = math.Min(best, math.Hypot(u[0]-v[0], u[1]-v[1]))
					}
				}
			}
		}
	}
	return best
}

// Four drones on a pad big enough for four landing spots 10 m apart (a
// line of 31.5 m, radius 20 m): each
// returns on its own layer (RTL_ALT) to its own spot (its first rally
// point, home excluded), so when all are sent home at once their returns
// are pairwise separated in 3D — by the checker's SimultaneousReturns and
// by a brute-force sampling of every return from every patrol waypoint.
func TestSimultaneousReturnsSeparated(t *testing.T) {
	a := togetherArea(20)
	o := PlanOptions{Pattern: PatternPerimeter, Drones: 4, Alt: 50}
	plans, eff := mustPlan(t, a, o)
	co := eff.CheckOptions(CheckOptions{})
	c := NewChecker(a, co)
	if vs := c.Check(plans); len(vs) != 0 {
		t.Fatalf("violations: %v", vs)
	}
	if vs := c.SimultaneousReturns(plans); len(vs) != 0 {
		t.Fatalf("simultaneous returns: %v", vs)
	}
	for _, dp := range plans {
		want := map[string]float64{"RTL_ALT": dp.Alt * 100, "RALLY_INCL_HOME": 0, "RALLY_LIMIT_KM": 0}
		for _, p := range dp.FenceParams {
			if v, ok := want[p.Name]; ok && v == p.Value {
				delete(want, p.Name)
			}
		}
		if len(want) != 0 {
			t.Errorf("drone %d: missing %v in %v", dp.Drone, want, dp.FenceParams)
		}
		if strings.Contains(strings.Join(dp.Notes, ";"), "too small") {
			t.Errorf("drone %d: %q", dp.Drone, dp.Notes)
		}
	}
	for i := range plans {
		for j := i + 1; j < len(plans); j++ {
			si, sj := llOf(plans[i].Rally[0]), llOf(plans[j].Rally[0])
			k := math.Cos(sepCenter[1] * math.Pi / 180)
			if d := math.Hypot((si[0]-sj[0])*111320*k, (si[1]-sj[1])*111320); d < DefaultClimbSeparation {
				t.Errorf("drones %d and %d land %.1f m apart", i, j, d)
			}
			if d := closestReturns(plans[i], plans[j], co.LayerStep); d < DefaultClimbSeparation {
				t.Errorf("drones %d and %d: returns come within %.1f m horizontally while less than %g m apart vertically", i, j, d, co.LayerStep)
			}
		}
	}
}

// On a pad without a radius the drones share one landing point: the plan
// notes it on each drone, and SimultaneousReturns reports the pairs whose
// returns meet there (what the scenario saw: two drones 0.4 m apart).
func TestSimultaneousReturnsOnOnePointFail(t *testing.T) {
	a := togetherArea(0)
	o := PlanOptions{Pattern: PatternPerimeter, Drones: 4, Alt: 50}
	plans, eff := mustPlan(t, a, o)
	for _, dp := range plans {
		if !strings.Contains(strings.Join(dp.Notes, ";"), "too small for 4 landing spots") {
			t.Errorf("drone %d: no pad note in %q", dp.Drone, dp.Notes)
		}
	}
	vs := NewChecker(a, eff.CheckOptions(CheckOptions{})).SimultaneousReturns(plans)
	if len(vs) == 0 {
		t.Fatal("returns onto one point passed")
	}
	for _, v := range vs {
		if v.Rule != RuleSeparation || v.Other == nil || !strings.HasPrefix(v.Message, "sent home together") {
			t.Errorf("violation %+v", v)
		}
	}
	t.Log(vs[0])
	// The brute-force model sees it too (so it can fail).
	if d := closestReturns(plans[0], plans[1], 10); d >= 10 {
		t.Errorf("brute force: drones 0 and 1 returns %.1f m apart onto one point", d)
	}
}

// A 4-drone sweep of the synthetic area (lines 30 m apart) judged for
// simultaneous returns: about 0.12 s on the 2-core machine.
func BenchmarkSimultaneousReturnsSweep4(b *testing.B) {
	a := synthetic(b)
	plans, err := PlanArea(a, PlanOptions{Pattern: PatternSweep, Drones: 4, Alt: 50, Spacing: 30})
	if err != nil {
		b.Fatal(err)
	}
	c := NewChecker(a, CheckOptions{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.SimultaneousReturns(plans)
	}
}

// ReturnConflicts flags exactly the legs from which a return on a raised
// RTL_ALT climbs through another drone's flight: on the stadium of the
// scenario library (three drones on layers 10 m apart, parts side by
// side) each drone's RTL_ALT raised 30 m, compared leg by leg with a
// brute-force sampling of the climb against every other drone's legs
// (the shared pad's zone exempt). With the planned RTL_ALT (each drone's
// own layer: no climb) nothing is flagged.
func TestReturnConflictsRaised(t *testing.T) {
	fh, err := os.Open("../scenarios/areas/stadium.geojson")
	if err != nil {
		t.Skipf("stadium area: %v", err)
	}
	defer fh.Close()
	a, err := ImportGeoJSON(fh)
	if err != nil {
		t.Fatal(err)
	}
	plans, eff := mustPlan(t, a, PlanOptions{Pattern: PatternPerimeter, Drones: 3, Repeat: -1, Speed: 6, EntryHold: true})
	co := eff.CheckOptions(CheckOptions{})
	c := NewChecker(a, co)
	for i, vs := range c.ReturnConflicts(plans, plans) {
		if len(vs) != 0 {
			t.Errorf("drone %d at its own layer: %v", i, vs)
		}
	}
	raised := make([]*DronePlan, len(plans))
	for i, dp := range plans {
		r := *dp
		r.FenceParams = nil
		for _, p := range dp.FenceParams {
			if p.Name == "RTL_ALT" {
				p.Value += 3000
			}
			r.FenceParams = append(r.FenceParams, p)
		}
		raised[i] = &r
	}
	got := c.ReturnConflicts(raised, plans)
	flagged := 0
	for i, dp := range raised {
		rtl := dp.rtlAlt()
		home := c.xy(orb.Point{dp.Home.Lon, dp.Home.Lat})
		zone := func(d *DronePlan) float64 { return d.Launch.Radius + c.opt.ClimbSeparation + 1 }
		bad := map[uint16]bool{}
		for _, v := range got[i] {
			bad[v.Seq] = true
		}
		flagged += len(bad)
		for _, l := range dp.Legs() {
			if l.Transit {
				continue
			}
			// The least horizontal distance from the climb on this leg to
			// another drone's flight less than LayerStep from it vertically.
			least := math.Inf(1)
			pa, pb := c.xy(l.From), c.xy(l.To)
			np := int(math.Hypot(pb[0]-pa[0], pb[1]-pa[1])) + 1
			for j, o := range plans {
				if j == i {
					continue
				}
				ohome := c.xy(orb.Point{o.Home.Lon, o.Home.Lat})
				sharedPad := math.Hypot(home[0]-ohome[0], home[1]-ohome[1]) < c.opt.ClimbSeparation+dp.Launch.Radius+o.Launch.Radius
				for _, m := range o.Legs() {
					qa, qb := c.xy(m.From), c.xy(m.To)
					nq := int(math.Hypot(qb[0]-qa[0], qb[1]-qa[1])) + 1
					for s := 0; s <= np; s++ {
						u := float64(s) / float64(np)
						p := lerp(pa, pb, u)
						zp := l.FromAlt + u*(l.Alt-l.FromAlt)
						pPad := math.Hypot(p[0]-home[0], p[1]-home[1]) < zone(dp)
						for r := 0; r <= nq; r++ {
							w := float64(r) / float64(nq)
							q := lerp(qa, qb, w)
							zq := m.FromAlt + w*(m.Alt-m.FromAlt)
							if sharedPad && pPad && math.Hypot(q[0]-ohome[0], q[1]-ohome[1]) < zone(o) {
								continue
							}
							dv := 0.0
							if zq < zp {
								dv = zp - zq
							} else if zq > rtl {
								dv = zq - rtl
							}
							if dv < c.opt.LayerStep-1e-6 {
								least = math.Min(least, math.Hypot(p[0]-q[0], p[1]-q[1]))
							}
						}
					}
				}
			}
			switch {
			case least < c.opt.ClimbSeparation-0.5 && !bad[l.ToSeq]:
				t.Errorf("drone %d leg to item %d: its raised return climbs %.1f m from another drone's flight, not flagged", i, l.ToSeq, least)
			case least > c.opt.ClimbSeparation+0.5 && bad[l.ToSeq]:
				t.Errorf("drone %d leg to item %d: flagged, but its climb keeps %.1f m", i, l.ToSeq, least)
			}
		}
	}
	if flagged == 0 {
		t.Error("no leg flagged: the stadium's parts lie side by side, some raised return must climb beside a neighbour")
	}
	t.Logf("%d legs flagged", flagged)
}
