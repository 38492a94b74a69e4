package operations

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/sepmin"
	"github.com/burgut-uav/burgut/missions"
	"github.com/paulmach/orb"
)

// squarePlans are two slots over a 400 m square east of its pad, planned
// as operations plan them with the transit layer (the default where it
// fits): both slots transit, hold and return at 70 m, patrols at 50 and
// 60 m, return layers at 80 m. Slot 0 patrols the south half, slot 1 the
// north half; their holds lie 8 m apart, 33 m east of the pad, on the
// line every return of slot 0 flies home along.
func squarePlans(t *testing.T) []SlotPlan {
	t.Helper()
	c := orb.Point{69.25, 41.3}
	ll := func(x, y float64) orb.Point {
		return orb.Point{c[0] + x/(111320*math.Cos(c[1]*math.Pi/180)), c[1] + y/111320}
	}
	a := &missions.Area{Name: "square", MinAlt: 30, MaxAlt: 100,
		Include: []orb.Polygon{{{ll(-200, -200), ll(200, -200), ll(200, 200), ll(-200, 200), ll(-200, -200)}}},
		Launch:  []missions.Site{{Name: "pad", Point: ll(-260, 0), Radius: 20}}}
	po := missions.PlanOptions{Pattern: missions.PatternPerimeter, Drones: 2, Repeat: -1, Speed: 8, Alt: 50, EntryHold: true, TransitLayer: true}
	plans, err := missions.PlanArea(a, po)
	if err != nil {
		t.Fatal(err)
	}
	eff, err := po.Effective(a)
	if err != nil {
		t.Fatal(err)
	}
	chk := missions.NewChecker(a, eff.CheckOptions(missions.CheckOptions{}))
	alts, noRaised, why := returnLayers(chk, plans, eff.LayerStep, a.MaxAlt)
	if why != "" {
		t.Fatal(why)
	}
	var out []SlotPlan
	for i, dp := range plans {
		dp.Rally = nil
		sp := slotPlan(dp)
		sp.ReturnAlt, sp.NoRaisedSeqs = alts[i], noRaised[i]
		sp.JoinSeqs = joinSeqs(chk, plans, i)
		out = append(out, sp)
	}
	return out
}

// csDrone is a drone of crossSlotFly's start: where it is, what it flies
// and its role.
type csDrone struct {
	id   string
	slot int
	role Role
	p    p3 // where it is (x east, y north, z up of the pad, metres)
	home p3 // its parking spot
	seq  int
	// by, for "a": operation seconds to its wait's bound (ReturnBy; 0:
	// returnWaitS); a bound now forces its return.
	by float64
	// join, for a relief (RoleTransit), is the loop waypoint it was sent
	// on to (JoinSeq): it is on station once past it.
	join int
}

// crossSlotRun is what crossSlotFly measured: the closest approach of the
// drone sent home, once it flies home, to any other drone — the least horizontal distance
// while closer than CriticalVertical in height (the monitor's critical
// zone when under CriticalHorizontal), and the least 3D distance — and
// the operation's notes.
type crossSlotRun struct {
	leastH, least3 float64
	where, where3  string
	// pairH is the least horizontal distance, while closer than
	// CriticalVertical in height, between any two drones but "a", both
	// in the air (pairWhere says when and who).
	pairH     float64
	pairWhere string
	landedPct float64
	rtlAlt    float64
	// coveredBraked counts the scheduler ticks at which a slot was
	// counted covered while none of its drones on station flew (each
	// braked, as the double flew it when the tick looked).
	coveredBraked int
	notes         []Note
	o             *Operation
}

// crossSlotFly flies the double (double_test.go) from an
// operation in mid-flight: drone "a" of slot 0, relieved, waits for a
// clear return (ReturnWait) with pct % left; the others fly as set. The
// operation is paused, so no relief is released from its hold or
// launched meanwhile: what a relief at its hold does while "a" flies home
// is wait. It runs until "a" has landed.
func crossSlotFly(t *testing.T, sps []SlotPlan, mode string, pct float64, ds []csDrone) crossSlotRun {
	t.Helper()
	wall := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	o := &Operation{ID: "op1", SlotCount: len(sps), Created: wall.Add(-time.Hour), TimeScale: 1, State: StateRunning,
		Start: wall.Add(-50 * time.Minute), End: wall.Add(2 * time.Hour), Paused: true}
	o.Params.defaults()
	o.Params.PadSequencing = mode
	o.Plans = sps
	for i := range sps {
		o.Slots = append(o.Slots, &Slot{Index: i, Covered: true})
	}
	d := newDouble(o, sps, wall)
	const drain = 100.0 / 1500
	for _, c := range ds {
		v := &VehicleState{ID: c.id, Role: c.role, Slot: c.slot, Uploaded: c.slot, Ready: true, Since: wall, RatePctS: drain, JoinSeq: c.join}
		k := &flyer{id: c.id, p: c.p, home: c.home, seq: c.seq, mode: "AUTO", armed: true, started: true, pct: 90, drain: drain, rtlZ: rtlAlt(sps[c.slot].Plan)}
		switch {
		case c.id == "a":
			k.pct = pct
			at, by := wall, wall.Add(returnWaitS*time.Second)
			if c.by != 0 {
				by = wall.Add(secs(c.by))
			}
			v.ReturnWait, v.ReturnBy = &at, &by
		case c.role == RoleStation:
			o.Slots[c.slot].VehicleID = c.id
		case c.role == RoleTransit:
			o.Slots[c.slot].Incoming = c.id
		}
		o.VehicleIDs = append(o.VehicleIDs, c.id)
		o.Vehicles = append(o.Vehicles, v)
		d.add(k, c.slot)
	}
	run := crossSlotRun{leastH: math.Inf(1), least3: math.Inf(1), pairH: math.Inf(1), o: o}
	a := d.fl["a"]
	modes := map[string]string{} // each flyer's mode before the tick's Step
	moved := func(now float64) bool {
		for id, k := range d.fl {
			modes[id] = k.mode
		}
		if !a.armed {
			run.landedPct = a.pct
			return true
		}
		for i, id := range d.ids {
			k := d.fl[id]
			if id == "a" || !k.armed || k.p.z < 1 {
				continue
			}
			for _, jd := range d.ids[i+1:] {
				j := d.fl[jd]
				if jd == "a" || !j.armed || j.p.z < 1 || math.Abs(k.p.z-j.p.z) >= sepmin.CriticalVertical {
					continue
				}
				if h := hdist(k.p, j.p); h < run.pairH {
					run.pairH = h
					run.pairWhere = fmt.Sprintf("t %.0f s: %s %s/%d at %.0f,%.0f,%.0f and %s %s/%d at %.0f,%.0f,%.0f", now, id, k.mode, k.seq, k.p.x, k.p.y, k.p.z, jd, j.mode, j.seq, j.p.x, j.p.y, j.p.z)
				}
			}
		}
		for id, k := range d.fl {
			if id == "a" || !k.armed || a.p.z < 1 || k.p.z < 1 || a.mode == "AUTO" {
				continue
			}
			h, d3 := hdist(a.p, k.p), dist3(a.p, k.p)
			if math.Abs(a.p.z-k.p.z) < sepmin.CriticalVertical && h < run.leastH {
				run.leastH = h
				run.where = fmt.Sprintf("t %.0f s: a %s/%d at %.0f,%.0f,%.0f and %s %s/%d at %.0f,%.0f,%.0f", now, a.mode, a.seq, a.p.x, a.p.y, a.p.z, id, k.mode, k.seq, k.p.x, k.p.y, k.p.z)
			}
			if d3 < run.least3 {
				run.least3 = d3
				run.where3 = fmt.Sprintf("t %.0f s: a %s/%d at %.0f,%.0f,%.0f and %s %s/%d at %.0f,%.0f,%.0f", now, a.mode, a.seq, a.p.x, a.p.y, a.p.z, id, k.mode, k.seq, k.p.x, k.p.y, k.p.z)
			}
		}
		return false
	}
	ticked := func() bool {
		for _, sl := range o.Slots {
			flying := false
			for _, v := range o.Vehicles {
				if v.Role == RoleStation && v.Slot == sl.Index && modes[v.ID] == "AUTO" {
					flying = true
				}
			}
			if sl.Covered && !flying {
				run.coveredBraked++
			}
		}
		if run.rtlAlt == 0 && a.mode == "RTL" {
			run.rtlAlt = a.rtlZ // the altitude of its first RTL
		}
		return false
	}
	if !d.fly(600, moved, ticked) {
		t.Fatalf("a did not land in 10 minutes")
	}
	run.notes = d.notes
	return run
}

// Issue 13's return across another slot's relief: drone "a" of slot 0,
// relieved on the far side of its loop, is due home; slot 1's relief "c"
// waits at its hold, on the transit layer that every return flies (70 m)
// and 4.7 m beside the straight line from "a" to its spot on the pad.
// Returns used to be judged only against the drones of their own slot
// (and, near the pad, crossings within a short look-ahead): "a" was sent
// home at once at 70 m, straight through the hold. Now a return is judged
// against every drone of the operation for the monitor's critical zone
// (10 m horizontally, with the warning's 8 m vertically as the margin a
// layer step keeps): "a" goes home over it on its return layer (80 m),
// or waits, and never comes within the critical zone of anyone, with its
// reserve — whether the pad's crossings are sequenced or not.
func TestReturnKeepsClearOfAnotherSlotsReliefAtItsHold(t *testing.T) {
	sps := squarePlans(t)
	f := newFrame(sps[0].Plan.Home.Lat, sps[0].Plan.Home.Lon)
	hold := sps[1].Plan.Mission[sps[1].Plan.HoldSeq-1]
	h := f.at(float64(hold.X)/1e7, float64(hold.Y)/1e7, float64(hold.Z))
	t.Logf("slot 1's hold at %.0f,%.0f,%.0f; return layers %g/%g m", h.x, h.y, h.z, sps[0].ReturnAlt, sps[1].ReturnAlt)
	for _, mode := range []string{"", PadOff} {
		t.Run("pad "+mode, func(t *testing.T) {
			ds := []csDrone{
				// a flies west on its loop's north leg back to the start
				// (item 5, after the DO_JUMP), 300 m out.
				{id: "a", slot: 0, role: RoleReturning, p: p3{300, -9, 50}, home: p3{15, 0, 0}, seq: 5},
				// b, a's relief, patrols the loop's east side, far behind it.
				{id: "b", slot: 0, role: RoleStation, p: p3{446, -150, 50}, home: p3{0, 15, 0}, seq: 8},
				// c, slot 1's relief, waits at its hold.
				{id: "c", slot: 1, role: RoleTransit, p: h, home: p3{-15, 0, 0}, seq: int(sps[1].Plan.HoldSeq)},
				// d patrols slot 1's loop, on its far side.
				{id: "d", slot: 1, role: RoleStation, p: p3{300, 186, 60}, home: p3{0, -15, 0}, seq: 8},
			}
			run := crossSlotFly(t, sps, mode, 60, ds)
			for _, n := range run.notes {
				t.Log(n.VehicleID, " ", n.Message)
			}
			t.Logf("a flew home at %g m and landed with %.1f %%; closest within %g m in height: %.1f m horizontally (%s); closest 3D %.1f m",
				run.rtlAlt, run.landedPct, sepmin.CriticalVertical, run.leastH, run.where, run.least3)
			if run.leastH < sepmin.CriticalHorizontal {
				t.Errorf("a came within the critical zone of another drone: %.1f m horizontally, under %g m in height (%s)", run.leastH, sepmin.CriticalVertical, run.where)
			}
			// Sequenced, the pad's crossings used to catch it in the last
			// seconds before the hold: braked in the air, then sent on
			// over it on the return layer. That costs a command's round
			// trip where there is least room for it (at speedup 30, 100 ms
			// of lag is 30 m of flight); judged when it is sent home, the
			// return needs no such hold.
			if n := countNotes(run.notes, "pad_hold"); n > 0 {
				t.Errorf("a was held %d times on its way home: its return was not judged clear of c when it was sent", n)
			}
			if run.landedPct < run.o.Params.ReservePct {
				t.Errorf("a landed with %.1f %%, under the %.0f %% reserve", run.landedPct, run.o.Params.ReservePct)
			}
		})
	}
}

// loopAt is the point of sp's loop s metres along it from its first
// waypoint (at the plan's altitude), and the item a drone there flies to
// (MISSION_CURRENT: the next waypoint, the first again on the leg closing
// the loop).
func loopAt(sp SlotPlan, f frame, s float64) (p3, int) {
	dp := sp.Plan
	var pts []p3
	var seqs []int
	for _, it := range dp.Mission {
		if it.Seq >= dp.LoopStart && it.Seq < dp.JumpSeq && it.Command == mavitem.CmdNavWaypoint {
			pts = append(pts, f.at(float64(it.X)/1e7, float64(it.Y)/1e7, float64(it.Z)))
			seqs = append(seqs, int(it.Seq))
		}
	}
	s = math.Mod(s, loopLen(sp))
	for i := range pts {
		a, b := pts[i], pts[(i+1)%len(pts)]
		l := hdist(a, b)
		if s <= l {
			u := s / l
			return p3{a.x + (b.x-a.x)*u, a.y + (b.y-a.y)*u, a.z}, seqs[(i+1)%len(pts)]
		}
		s -= l
	}
	return pts[0], seqs[0]
}

// A relief may join the loop less than the handover distance (40 m)
// behind the drone it relieves: the release keeps 40 m only until 15 s
// after it joins, then 20 m (followSafeM) for the lap. The relieved
// drone's return was then never clear — 40 m from a drone 30 m behind
// it, judged from now — and it flew on until its bound and went home
// unclear, its battery too low for the return layer: in the stadium
// scenario under load across the relief (0.0 m) or its slot's next
// relief taking off (3.3 m). Now, in the last minute before its bound, a
// return that comes no closer than the two are and keeps followSafeM is
// clear: here, on the stadium's slot 0 with the relief 30 m behind at
// each eighth of the lap, the relieved drone goes home clear, never
// within followSafeM of the relief, with its reserve.
func TestRelievedDroneGoesHomeAheadOfACloseRelief(t *testing.T) {
	sps := padPlans(t)
	sp := sps[0]
	f := newFrame(sp.Plan.Home.Lat, sp.Plan.Home.Lon)
	lap := loopLen(sp)
	spots := ringSpots(8, 32)
	for phase := 0; phase < 8; phase++ {
		t.Run(fmt.Sprint("phase ", phase), func(t *testing.T) {
			s := float64(phase) * lap / 8
			pa, sa := loopAt(sp, f, s+30)
			pb, sb := loopAt(sp, f, s)
			run := crossSlotFly(t, sps[:1], "", 36, []csDrone{
				{id: "a", slot: 0, role: RoleReturning, p: pa, home: spots[3], seq: sa},
				{id: "b", slot: 0, role: RoleStation, p: pb, home: spots[5], seq: sb},
			})
			unclear := countNotes(run.notes, "return_unclear")
			for _, n := range run.notes {
				t.Log(n.VehicleID, " ", n.Message)
			}
			t.Logf("a flew home at %g m, landed with %.1f %%; closest 3D %.1f m (%s)", run.rtlAlt, run.landedPct, run.least3, run.where3)
			if run.least3 < followSafeM {
				t.Errorf("a came %.1f m from its relief", run.least3)
			}
			if unclear > 0 {
				t.Errorf("a was sent home unclear")
			}
			if run.landedPct < run.o.Params.ReservePct {
				t.Errorf("a landed with %.1f %%, under the %.0f %% reserve", run.landedPct, run.o.Params.ReservePct)
			}
		})
	}
}
