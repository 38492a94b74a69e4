package operations

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/fleet/separation"
	"github.com/burgut-uav/burgut/missions"
)

// padPlans are the three slots of the stadium perimeter plan as
// operations plan them (holds, return layers, no rally: home to the pad).
func padPlans(t *testing.T) []SlotPlan {
	t.Helper()
	a, plans, eff := stadiumPlans(t)
	alts, noRaised, _ := returnLayers(missions.NewChecker(a, eff.CheckOptions(missions.CheckOptions{})), plans, eff.LayerStep, a.MaxAlt)
	var out []SlotPlan
	for i, dp := range plans {
		sp := slotPlan(dp)
		sp.ReturnAlt, sp.NoRaisedSeqs = alts[i], noRaised[i]
		out = append(out, sp)
	}
	return out
}

// padRun is what flyPad measured: the least 3D distance between two
// drones both off the ground, where, and the operation after it.
type padRun struct {
	least float64
	where string
	// outIn is the least 3D distance between a drone on its way out (a
	// relief in transit: its climb, its way to its hold and on to the
	// loop, braked or not) and one coming down to its spot (in RTL within
	// the pad clearance of its home: the last of its way in and its
	// descent), and where — the pad clearance is what a takeoff and a
	// landing should keep (README, pad sequencing, "Not done").
	outIn      float64
	outInWhere string
	o          *Operation
	notes      []Note
}

// flyPad flies an operation of the stadium's three slots with a pool of
// n point-mass drones parked 5 m apart on a line (as a crew parks them
// on the pad), packs draining drain %/s in the air, a window of window
// starting startIn after creation; it runs until every drone that flew
// has landed after the window's end (or, untilCovered, until every slot
// is covered).
func flyPad(t *testing.T, n int, drain float64, startIn, window time.Duration, mode string, untilCovered bool) padRun {
	t.Helper()
	homes := make([]p3, n)
	for i := range homes {
		homes[i] = p3{x: 5 * float64(i)}
	}
	return flyPadAt(t, homes, 0, drain, startIn, window, mode, untilCovered)
}

// ringSpots are n parking spots on a ring around the launch point, apart
// metres from their neighbours (the stadium scenario's pad: 8 spots 32 m
// apart on a ring of 41.8 m, none due east, where the stadium is).
func ringSpots(n int, apart float64) []p3 {
	r := apart / (2 * math.Sin(math.Pi/float64(n)))
	out := make([]p3, n)
	for k := range out {
		a := math.Pi/float64(n) + 2*math.Pi*float64(k)/float64(n)
		out[k] = p3{x: r * math.Cos(a), y: r * math.Sin(a)}
	}
	return out
}

// flyPadAt is flyPad with the drones parked at homes.
func flyPadAt(t *testing.T, homes []p3, launchWait, drain float64, startIn, window time.Duration, mode string, untilCovered bool) padRun {
	t.Helper()
	sps := padPlans(t)
	wall := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	o := &Operation{ID: "op1", SlotCount: len(sps), Created: wall, TimeScale: 1, State: StateScheduled, Start: wall.Add(startIn)}
	o.End = o.Start.Add(window)
	o.Params.defaults()
	o.Params.PadSequencing = mode
	o.Plans = sps
	for i := range sps {
		o.Slots = append(o.Slots, &Slot{Index: i})
	}
	d := newDouble(o, sps, wall)
	d.launchWait, d.drain = launchWait, drain
	for i, h := range homes {
		id := fmt.Sprintf("d%d", i)
		o.VehicleIDs = append(o.VehicleIDs, id)
		o.Vehicles = append(o.Vehicles, &VehicleState{ID: id, Role: RolePool, Slot: -1, Uploaded: -1})
		d.add(&flyer{id: id, pct: 100, mode: "GUIDED", home: h, p: h}, 0)
	}
	run := padRun{least: math.Inf(1), outIn: math.Inf(1), o: o}
	out := func(k *flyer) bool {
		v := o.vehicle(k.id)
		return v != nil && v.Role == RoleTransit && (k.mode == "AUTO" || k.mode == "BRAKE")
	}
	padClear := separation.DefaultConfig().PadClearance()
	down := func(k *flyer) bool {
		return k.mode == "RTL" && hdist(k.p, k.home) < padClear
	}
	moved := func(now float64) bool {
		for i, a := range d.ids {
			ka := d.fl[a]
			if !ka.armed && ka.pct < 95 && ka.started {
				ka.pct = 100 // swapped on landing
			}
			for _, b := range d.ids[i+1:] {
				kb := d.fl[b]
				if !ka.armed || !kb.armed || ka.p.z < 0.5 || kb.p.z < 0.5 {
					continue
				}
				dd := dist3(ka.p, kb.p)
				where := func() string {
					return fmt.Sprintf("t %.0f s: %s %s/%d at %.0f,%.0f,%.0f and %s %s/%d at %.0f,%.0f,%.0f", now, a, ka.mode, ka.seq, ka.p.x, ka.p.y, ka.p.z, b, kb.mode, kb.seq, kb.p.x, kb.p.y, kb.p.z)
				}
				if dd < run.least {
					run.least, run.where = dd, where()
				}
				if dd < run.outIn && (out(ka) && down(kb) || out(kb) && down(ka)) {
					run.outIn, run.outInWhere = dd, where()
				}
			}
		}
		return false
	}
	ticked := func() bool {
		if untilCovered && o.Slots[0].Covered && o.Slots[1].Covered && o.Slots[2].Covered {
			return true
		}
		return d.over()
	}
	if !d.fly(90*60, moved, ticked) {
		t.Fatalf("the drones did not all land in 90 minutes")
	}
	run.notes = d.notes
	return run
}

func countNotes(ns []Note, action string) int {
	c := 0
	for _, n := range ns {
		if n.Fields["action"] == action {
			c++
		}
	}
	return c
}

// Issue 13's pad with pad_sequencing "all": the drones of an operation
// are parked 5 m apart, and
// the scheduler launched the first three at once (they climbed side by
// side 5 m apart) and sent them home together at the window's end (they
// landed as close; 3.7–5.3 m in the stadium scenario; this double
// measured 2.7 m and 3.3 m without the sequencing). With the pad
// sequenced no two come closer than the separation monitor's critical
// distance at the first launches and the window's end, nor in a busy
// rotation unless a drone had to land for its reserve (alerted), and no
// slot goes uncovered after the start: the waits fit in the launch lead
// time.
func TestPadAllKeepsTakeoffsAndLandingsApart(t *testing.T) {
	crit := separation.DefaultConfig().Critical
	for _, c := range []struct {
		name   string
		n      int
		drain  float64
		window time.Duration
	}{
		{"first launches and the window's end", 3, 100.0 / 3000, 4 * time.Minute},
		{"rotations", 6, 100.0 / 720, 25 * time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := flyPad(t, c.n, c.drain, 6*time.Minute, c.window, PadAll, false)
			t.Logf("closest approach %.1f m (%s); launches waited %d, holds %d, unclear landings %d, handovers %d",
				run.least, run.where, countNotes(run.notes, "launch_waiting"), countNotes(run.notes, "pad_hold"), countNotes(run.notes, "pad_unclear"), run.o.Slots[0].Handovers+run.o.Slots[1].Handovers+run.o.Slots[2].Handovers)
			// A drone whose battery reserve is at stake lands without a
			// clear pad (with a pad_unclear alert): with 12-minute packs
			// on a pad this busy that happens, and only then may two
			// come closer than the critical distance.
			if run.least < crit && (c.n == 3 || countNotes(run.notes, "pad_unclear") == 0) {
				var log []string
				for _, n := range run.notes {
					log = append(log, n.VehicleID+" "+n.Message)
				}
				t.Errorf("two drones came %.1f m apart (critical %g m): %s\n%s", run.least, crit, run.where, strings.Join(log, "\n"))
			}
			if run.o.UncoveredS() > 0 {
				for _, n := range run.notes {
					t.Log(n.VehicleID, " ", n.Message)
				}
				for _, s := range run.o.Slots {
					t.Logf("slot %+v", *s)
				}
				t.Errorf("uncovered %.0f s", run.o.UncoveredS())
			}
		})
	}
}

// By default (pad_sequencing "takeoffs") three drones parked 5 m apart
// and due at once (an operation starting now, as the stadium scenario's)
// no longer take off side by side: each waits until the ones before are
// clear of its home (30 m, 3D). Without it (pad_sequencing "off", as
// before) they climbed together, 5 m apart.
func TestPadTakeoffsWaitForEachOther(t *testing.T) {
	crit := separation.DefaultConfig().Critical
	run := flyPad(t, 3, 100.0/3000, 0, 4*time.Minute, "", true)
	t.Logf("closest approach %.1f m (%s); launches waited %d, uncovered %.0f s", run.least, run.where, countNotes(run.notes, "launch_waiting"), run.o.UncoveredS())
	if run.least < crit {
		t.Errorf("two drones came %.1f m apart taking off (critical %g m): %s", run.least, crit, run.where)
	}
	if countNotes(run.notes, "launch_waiting") == 0 {
		t.Error("no launch waited for the pad")
	}
	off := flyPad(t, 3, 100.0/3000, 0, 4*time.Minute, PadOff, true)
	t.Logf("off: closest approach %.1f m (%s), uncovered %.0f s", off.least, off.where, off.o.UncoveredS())
	if off.least >= crit {
		t.Errorf("with the pad not sequenced the first three came no closer than %.1f m: the test does not see side-by-side takeoffs", off.least)
	}
}

// The default pad sequencing holds the landings once the window is over
// (every drone comes home at once then): the first case of the "all"
// test, in the default mode, keeps the critical distance too.
func TestPadDefaultSequencesTheWindowsEnd(t *testing.T) {
	crit := separation.DefaultConfig().Critical
	run := flyPad(t, 3, 100.0/3000, 6*time.Minute, 4*time.Minute, "", false)
	t.Logf("closest approach %.1f m (%s); holds %d", run.least, run.where, countNotes(run.notes, "pad_hold"))
	if run.least < crit {
		t.Errorf("two drones came %.1f m apart (critical %g m): %s", run.least, crit, run.where)
	}
	if countNotes(run.notes, "pad_hold") == 0 {
		t.Error("no landing was held at the window's end")
	}
}

// A drone flying home is held while another takes off beside its home —
// unless its battery reserve is at stake: then it lands, and a
// separation alert names the other drone (the reserve is never the
// price of a hold).
func TestPadHoldNeverSpendsTheReserve(t *testing.T) {
	for _, c := range []struct {
		pct  float64
		hold bool
	}{{90, true}, {21, false}} {
		t.Run(fmt.Sprint(c.pct, " %"), func(t *testing.T) {
			w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
			o := newOp(1, 2, w)
			o.Params.PadSequencing = PadAll
			o.State = StateRunning
			o.Start = w.wall.Add(-time.Minute)
			// r flies home (RTL) 40 m east of its home at 50 m; n, parked 5 m
			// from r's home, is being launched.
			r, n := w.vs["u000"], w.vs["u001"]
			n.Lat, n.Lon = homeLat, homeLon+5/(111320*0.7513)
			n.Home = &fleet.Point{Lat: n.Lat, Lon: n.Lon}
			r.Armed, r.Mode, r.LandedState, r.RelativeAlt, r.BatteryPct = true, "RTL", "in_air", 50, c.pct
			r.Lon = homeLon + 40/(111320*0.7513)
			r.LastSeen = w.wall
			w.vs["u000"], w.vs["u001"] = r, n
			o.Vehicles[0].Role, o.Vehicles[0].Slot, o.Vehicles[0].RatePctS = RoleReturning, 0, 100.0/1200
			o.Vehicles[1].Role, o.Vehicles[1].Slot = RoleLaunching, 0
			o.Slots[0].VehicleID = "u001"
			acts, notes := o.Step(w.wall, w.look)
			held := len(acts) > 0 && acts[0].Kind == ActHold && acts[0].VehicleID == "u000"
			if held != c.hold {
				t.Fatalf("held %v (actions %+v, notes %+v): want %v", held, acts, notes, c.hold)
			}
			if !c.hold {
				var alert *Note
				for i := range notes {
					if notes[i].Kind == fleet.EventSeparation && notes[i].Fields["action"] == "pad_unclear" {
						alert = &notes[i]
					}
				}
				if alert == nil || alert.Fields["other_vehicle_id"] != "u001" || !strings.Contains(alert.Message, "reserve") {
					t.Fatalf("no pad_unclear separation alert naming u001: %+v", notes)
				}
			}
		})
	}
}

// Issue 13's pad with its spots the pad clearance apart (the stadium
// scenario's ring: 8 spots 32 m apart, 8-minute packs): no two drones
// climb or descend side by side, but a drone taking off from one side of
// the pad flew out at its layer over a spot where another was descending,
// or one flying home at its slot's layer passed over a spot from which
// another was climbing through it (the stadium scenario: 9.2 m and
// 1.4 m; this double, with launches taking 4–15 s, 5.4, 8.3 and 6.1 m on
// the code before). By default such crossings are sequenced
// (crossing.go): a takeoff waits, a landing holds or goes on over it on
// its return layer, a relief stays at its hold. The closest approach left
// is two ways crossing a layer apart (10 m, the layer step), and the
// sequencing costs the short pool no coverage against none at all.
func TestPadSpotsSequenceCrossings(t *testing.T) {
	crit := separation.DefaultConfig().Critical
	for _, wait := range []float64{4, 8, 15} {
		t.Run(fmt.Sprintf("launch %g s", wait), func(t *testing.T) {
			run := flyPadAt(t, ringSpots(8, 32), wait, 100.0/480, 6*time.Minute, 15*time.Minute, "", false)
			off := flyPadAt(t, ringSpots(8, 32), wait, 100.0/480, 6*time.Minute, 15*time.Minute, PadOff, false)
			t.Logf("closest approach %.1f m (%s); launches waited %d, holds %d, unclear landings %d, handovers %d, uncovered %.0f s",
				run.least, run.where, countNotes(run.notes, "launch_waiting"), countNotes(run.notes, "pad_hold"), countNotes(run.notes, "pad_unclear"),
				run.o.Slots[0].Handovers+run.o.Slots[1].Handovers+run.o.Slots[2].Handovers, run.o.UncoveredS())
			t.Logf("way out and descent: closest %.1f m (%s)", run.outIn, run.outInWhere)
			t.Logf("not sequenced: closest approach %.1f m (%s), uncovered %.0f s; way out and descent %.1f m (%s)", off.least, off.where, off.o.UncoveredS(), off.outIn, off.outInWhere)
			// Two ways a layer apart cross at the layer step, which is the
			// monitor's critical distance: 10 % is left for the double's
			// sampling.
			if run.least < 0.9*crit {
				for _, n := range run.notes {
					t.Log(n.VehicleID, " ", n.Message)
				}
				t.Errorf("two drones came %.1f m apart (critical %g m): %s", run.least, crit, run.where)
			}
			if run.o.UncoveredS() > off.o.UncoveredS()+10 {
				t.Errorf("uncovered %.0f s, against %.0f s with the pad not sequenced", run.o.UncoveredS(), off.o.UncoveredS())
			}
		})
	}
}

// A relief's way out at its layer runs over or beside the other spots of
// the ring, and the crossings kept it only the critical 10 m from a drone
// coming down there (the ring double with 15-minute packs, launches
// taking 10–18 s: 16.1–18.6 m on the code before). Now the relief climbs
// beside the descent and is braked on its way out (a yield, cause
// "descent") until its way keeps the pad clearance, when its slot's
// incumbent can wait for it and the pool forecast sees no gap; the slots
// stay covered. (With the short pool of TestPadSpotsSequenceCrossings
// the forecast sees gaps and no relief is braked: each yield of 12–17 s
// there delayed the handover, the incumbent's landing and its swap, and
// the slots went uncovered longer.)
func TestPadReliefBrakesForADescentBesideItsWayOut(t *testing.T) {
	padClear := separation.DefaultConfig().PadClearance()
	for _, wait := range []float64{10, 12, 15, 18} {
		t.Run(fmt.Sprintf("launch %g s", wait), func(t *testing.T) {
			run := flyPadAt(t, ringSpots(8, 32), wait, 100.0/900, 6*time.Minute, 15*time.Minute, "", false)
			yields := 0
			for _, n := range run.notes {
				if n.Fields["action"] == "yield" && n.Fields["cause"] == "descent" {
					yields++
				}
			}
			t.Logf("way out and descent: closest %.1f m (%s); closest approach %.1f m; yields %d, uncovered %.0f s",
				run.outIn, run.outInWhere, run.least, yields, run.o.UncoveredS())
			// The double moves its flyers every 0.1 s: at 6 m/s, 0.6 m.
			if run.outIn < padClear-0.6 {
				for _, n := range run.notes {
					t.Log(n.VehicleID, " ", n.Message)
				}
				t.Errorf("a relief on its way out came %.1f m from a drone coming down (pad clearance %g m): %s", run.outIn, padClear, run.outInWhere)
			}
			if yields == 0 {
				t.Error("no relief was braked for a descent: the case is not flown")
			}
			if run.o.UncoveredS() > 0 {
				t.Errorf("uncovered %.0f s", run.o.UncoveredS())
			}
		})
	}
}
