package operations

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/missions"
)

// flyer is a point-mass copter flying a mission as the simulator's
// autopilot does (a test double written apart from the scheduler's
// predictions): horizontal at the plan's speed, vertical at its own
// rates, each independently; NAV_LOITER_UNLIM holds; DO_JUMP loops; RTL
// climbs to RTL_ALT, flies home at 10 m/s and lands; BRAKE holds.
type flyer struct {
	id      string
	home    p3      // where it takes off and lands (its parking spot on the pad)
	wait    float64 // seconds armed on the ground before it takes off (a slow launch)
	p       p3
	seq     int
	mode    string
	armed   bool
	pct     float64
	drain   float64 // %/s while armed
	started bool
	rtlZ    float64 // RTL_ALT, metres
	climbTo float64 // the height its RTL climbs to (0 before the RTL)
	// accel (m/s², 0: none) limits how fast its horizontal speed grows
	// from the hover (at a hold, after a climb); vh is that speed now.
	accel, vh float64
}

func (k *flyer) step(items []mavitem.Item, f frame, speed, dt float64) {
	if !k.armed {
		return
	}
	k.pct -= k.drain * dt
	if k.wait > 0 {
		k.wait -= dt
		return
	}
	move := func(to p3, hs float64) bool {
		if k.accel > 0 {
			hs = math.Min(hs, k.vh+k.accel*dt)
		}
		k.vh = hs
		dx, dy := to.x-k.p.x, to.y-k.p.y
		if d := math.Hypot(dx, dy); d > hs*dt {
			k.p.x += dx / d * hs * dt
			k.p.y += dy / d * hs * dt
		} else {
			k.p.x, k.p.y = to.x, to.y
		}
		if dz := to.z - k.p.z; dz > 0 {
			k.p.z += math.Min(dz, upRate*dt)
		} else {
			k.p.z -= math.Min(-dz, downRate*dt)
		}
		return math.Hypot(to.x-k.p.x, to.y-k.p.y) < 0.5 && math.Abs(to.z-k.p.z) < 0.3
	}
	if k.mode == "BRAKE" {
		return // holds where it is
	}
	if k.mode == "RTL" {
		if k.climbTo == 0 {
			// Set where the RTL begins: RTL_ALT, lowered near home by
			// ArduCopter's cone (slope 3), never below where it is.
			k.climbTo = math.Max(k.p.z, math.Min(k.rtlZ, 3*math.Hypot(k.p.x-k.home.x, k.p.y-k.home.y)))
		}
		switch {
		case k.p.z < k.climbTo-0.3 && math.Hypot(k.p.x-k.home.x, k.p.y-k.home.y) > 1:
			move(p3{k.p.x, k.p.y, k.climbTo}, 0)
		case math.Hypot(k.p.x-k.home.x, k.p.y-k.home.y) > 0.5:
			move(p3{k.home.x, k.home.y, k.p.z}, 10)
		default:
			if move(k.home, 0) {
				k.armed = false
			}
		}
		return
	}
	for guard := 0; guard < 4 && k.seq < len(items); guard++ {
		it := items[k.seq]
		at := f.at(float64(it.X)/1e7, float64(it.Y)/1e7, float64(it.Z))
		switch it.Command {
		case mavitem.CmdNavTakeoff:
			if move(p3{k.p.x, k.p.y, float64(it.Z)}, 0) {
				k.seq++
			}
			return
		case mavitem.CmdNavWaypoint:
			if move(at, speed) {
				k.seq++
			}
			return
		case mavitem.CmdNavLoiterUnlim:
			if move(at, speed) {
				k.vh = 0 // hovering at the hold
			}
			return
		case mavitem.CmdDoJump:
			k.seq = int(it.Param1)
		case mavitem.CmdNavReturnToLaunch:
			k.mode = "RTL"
			return
		default:
			k.seq++
		}
	}
}

func (k *flyer) vehicle(f frame, home missions.Home) fleet.Vehicle {
	ll := f.ll(k.p)
	hl := f.ll(k.home)
	v := fleet.Vehicle{ID: k.id, Connected: true, GPSFix: 3, Home: &fleet.Point{Lat: hl[1], Lon: hl[0]}, Lat: ll[1], Lon: ll[0],
		RelativeAlt: k.p.z, BatteryPct: k.pct, Mode: k.mode, Armed: k.armed, MissionSeq: k.seq, LandedState: "on_ground"}
	if k.armed && k.p.z > 0.2 {
		v.LandedState = "in_air"
	}
	return v
}

// stadiumPlan is slot 0 of a 3-drone perimeter plan over the stadium of
// the scenario library, planned as operations plan (with the hold and
// the return layers).
func stadiumPlan(t *testing.T) SlotPlan {
	t.Helper()
	a, plans, eff := stadiumPlans(t)
	chk := missions.NewChecker(a, eff.CheckOptions(missions.CheckOptions{}))
	alts, noRaised, why := returnLayers(chk, plans, eff.LayerStep, a.MaxAlt)
	t.Logf("layers %g/%g/%g m, return layers %v %s, not raised from %v", plans[0].Alt, plans[1].Alt, plans[2].Alt, alts, why, noRaised)
	sp := slotPlan(plans[0])
	sp.ReturnAlt, sp.NoRaisedSeqs = alts[0], noRaised[0]
	sp.JoinSeqs = joinSeqs(chk, plans, 0)
	return sp
}

// stadiumPlans plans the stadium for 3 slots as operations do.
func stadiumPlans(t *testing.T) (*missions.Area, []*missions.DronePlan, missions.PlanOptions) {
	t.Helper()
	fh, err := os.Open("../../scenarios/areas/stadium.geojson")
	if err != nil {
		t.Skipf("stadium area: %v", err)
	}
	defer fh.Close()
	a, err := missions.ImportGeoJSON(fh)
	if err != nil {
		t.Fatal(err)
	}
	po := missions.PlanOptions{Pattern: missions.PatternPerimeter, Drones: 3, Repeat: -1, Speed: 6, EntryHold: true}
	plans, err := missions.PlanArea(a, po)
	if err != nil {
		t.Fatal(err)
	}
	if plans[0].HoldSeq == 0 || plans[0].HoldSeq >= plans[0].LoopStart {
		t.Fatalf("hold %d, loop %d: want a hold before the loop", plans[0].HoldSeq, plans[0].LoopStart)
	}
	for _, dp := range plans {
		dp.Rally = nil
	}
	eff, err := po.Effective(a)
	if err != nil {
		t.Fatal(err)
	}
	return a, plans, eff
}

// Each slot's return layer lies above every layer of the operation (the
// stadium's patrols fly 55, 65 and 75 m), the slots' own apart and in
// their order; under a ceiling without room for them there are none, and
// the reason says so.
func TestReturnLayers(t *testing.T) {
	a, plans, eff := stadiumPlans(t)
	alts, _, why := returnLayers(nil, plans, eff.LayerStep, a.MaxAlt)
	if why != "" {
		t.Fatalf("under %g m: %s", a.MaxAlt, why)
	}
	for i, dp := range plans {
		for j, other := range plans {
			if alts[i] < max(other.Alt, rtlAlt(other))+eff.LayerStep {
				t.Errorf("slot %d returns at %g m, less than a layer over slot %d's %g m", i, alts[i], j, other.Alt)
			}
			if j != i && math.Abs(alts[i]-alts[j]) < eff.LayerStep {
				t.Errorf("slots %d and %d return at %g and %g m", i, j, alts[i], alts[j])
			}
			if (dp.Alt < other.Alt) != (alts[i] < alts[j]) {
				t.Errorf("slots %d and %d: layers %g, %g but return layers %g, %g", i, j, dp.Alt, other.Alt, alts[i], alts[j])
			}
		}
		if alts[i] > a.MaxAlt-returnCeilingMarginM {
			t.Errorf("slot %d returns at %g m, under the ceiling %g m by less than %d m", i, alts[i], a.MaxAlt, returnCeilingMarginM)
		}
	}
	alts, _, why = returnLayers(nil, plans, eff.LayerStep, 100)
	if alts[0] != 0 || alts[1] != 0 || alts[2] != 0 || !strings.Contains(why, "ceiling") {
		t.Errorf("under 100 m: %v, %q; want none, saying the ceiling", alts, why)
	}
}

// The defect of issue 13: a replacement joined the loop at its entry
// wherever the drone it relieved was (the stadium scenario saw 0.8 m).
// Here the relieved drone is at every eighth of its loop in turn when the
// replacement is launched (its pack a little fuller each time). Whatever
// the phase the two never come closer than followSafeM (20 m, 3D, from
// their positions every 0.1 s; without the hold they came 5.9 m apart),
// the slot is never uncovered, the relieved drone lands, and the
// replacement patrols.
func TestHandoverKeepsTheDronesApart(t *testing.T) {
	sp := stadiumPlan(t)
	lap := loopLen(sp) / planSpeed(sp)
	for phase := 0; phase < 8; phase++ {
		t.Run(fmt.Sprint("phase ", phase), func(t *testing.T) {
			least, o, _ := flyHandover(t, sp, float64(phase)*lap/8, 0)
			t.Logf("least distance %.1f m, slot %+v", least, *o.Slots[0])
			if least < followSafeM {
				t.Errorf("the two drones of the slot came %.1f m apart", least)
			}
			if s := o.Slots[0]; s.UncoveredS != 0 || s.Handovers != 1 {
				t.Errorf("uncovered %.1f s, handovers %d: want 0 and 1", s.UncoveredS, s.Handovers)
			}
		})
	}
}

// flyHandover flies one slot's handover: the first drone launched with
// offset seconds of charge more than the base, relieved when it runs
// low; it returns the least distance between the two while both flew.
func flyHandover(t *testing.T, sp SlotPlan, offset, delay float64) (least float64, o *Operation, landedPct float64) {
	t.Helper()
	return flyHandoverSeq(t, sp, offset, delay, nil)
}

// handoverRun asks flyHandoverSeq for more than the least distance: it
// flies on flyOn seconds after the handover, and stores the item the
// first drone flew to when it was sent home (rtlSeq), the item the relief
// was sent to from its hold (releaseSeq) and the one the first drone flew
// to then (incSeq).
type handoverRun struct {
	flyOn                      float64
	rtlSeq, releaseSeq, incSeq int
	// A busy station (all 0: none): each Continue and RTL reaches the
	// drone latency seconds after the tick that decided it (and is
	// reported done, taking that long, then); the scheduler sees states
	// age seconds old; the drones accelerate at accel m/s² from the hover.
	latency, age, accel float64
}

// flyHandoverSeq is flyHandover that also fills run (nil: nothing asked).
func flyHandoverSeq(t *testing.T, sp SlotPlan, offset, delay float64, run *handoverRun) (least float64, o *Operation, landedPct float64) {
	if run == nil {
		run = &handoverRun{}
	}
	t.Helper()
	wall := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	o = &Operation{ID: "op1", SlotCount: 1, Created: wall, TimeScale: 1, State: StateScheduled, Start: wall.Add(10 * time.Minute), End: wall.Add(3 * time.Hour)}
	o.Params.defaults()
	o.Plans = []SlotPlan{sp}
	o.Slots = []*Slot{{Index: 0}}
	dp := sp.Plan
	f := newFrame(dp.Home.Lat, dp.Home.Lon)
	items := dp.MissionWithHome()
	fl := map[string]*flyer{}
	for _, id := range []string{"a", "b"} {
		o.VehicleIDs = append(o.VehicleIDs, id)
		o.Vehicles = append(o.Vehicles, &VehicleState{ID: id, Role: RolePool, Slot: -1, Uploaded: -1})
		fl[id] = &flyer{id: id, pct: 100, mode: "GUIDED", rtlZ: rtlAlt(dp)}
		if id == "b" {
			fl[id].home = p3{x: 10} // parking spots 10 m apart
		}
		fl[id].p = fl[id].home
	}
	// a goes first (the fuller pack) and is relieved once it runs low:
	// offset seconds of charge more, offset seconds later. b's pack is
	// not full either: a crew confirmed both ready.
	const drain = 100.0 / 1500
	fl["a"].pct = 70 + offset*drain
	fl["b"].pct = 60
	o.Vehicles[0].Ready, o.Vehicles[1].Ready = true, true
	for _, k := range fl {
		k.accel = run.accel
	}
	// past keeps each drone's states, newest last, for a station that
	// reads them age seconds late.
	past := map[string][]fleet.Vehicle{}
	lag := int(math.Round(run.age / 0.1))
	look := func(id string) (fleet.Vehicle, bool) {
		h, ok := past[id]
		if !ok || len(h) == 0 {
			return fleet.Vehicle{}, false
		}
		v := h[max(len(h)-1-lag, 0)]
		v.LastSeen = wall.Add(-secs(run.age))
		return v, true
	}
	type queued struct {
		at float64
		a  Action
	}
	pending := map[string][]queued{}
	apply := func(a Action, now float64) {
		k := fl[a.VehicleID]
		switch a.Kind {
		case ActLaunch:
			o.LaunchDone(a.VehicleID, true, nil, wall)
			k.started = true
			k.armed, k.mode, k.seq, k.p, k.drain = true, "AUTO", 1, k.home, drain
			if a.VehicleID == "b" {
				k.wait = delay
			}
		case ActContinue:
			if a.VehicleID == "b" {
				run.releaseSeq, run.incSeq = a.Seq, fl["a"].seq
			}
			k.seq = a.Seq
			o.ContinueDone(a.VehicleID, nil, secs(run.latency))
		case ActReturn:
			t.Logf("%5.0f rtl %s at %g m from item %d", now, a.VehicleID, a.RTLAlt, k.seq)
			if a.VehicleID == "a" {
				run.rtlSeq = k.seq
			}
			if a.RTLAlt > 0 {
				k.rtlZ = a.RTLAlt
			}
			k.mode = "RTL"
			o.ReturnDone(a.VehicleID, nil, wall, secs(run.latency))
		}
	}
	const dt = 0.1
	least = math.Inf(1)
	landedAt := -1.0
	padLeast := math.Inf(1)
	where := ""
	// Both in the pad's zone (the pad, the planner's separation and a
	// metre: where missions' plan check leaves takeoffs and landings to be
	// sequenced), a takeoff beside a landing is pad sequencing, not the
	// handover: logged, not counted.
	zone := dp.Launch.Radius + missions.DefaultSeparation + 1
	inPad := func(k *flyer) bool { return math.Hypot(k.p.x, k.p.y) < zone }
	defer func() { t.Logf("closest approach: %s; in the pad's zone %.1f m", where, padLeast) }()
	for tick := 0; tick < int((30*60+run.flyOn)/dt); tick++ {
		now := float64(tick) * dt
		for _, k := range fl {
			k.step(items, f, dp.Speed, dt)
		}
		wall = o.Created.Add(secs(now))
		for id, k := range fl {
			if len(past[id]) > lag+1 {
				past[id] = past[id][1:]
			}
			past[id] = append(past[id], k.vehicle(f, dp.Home))
		}
		// Commands whose time has come reach their drone (the station
		// handles one per drone at a time, as the Manager does).
		for id, qs := range pending {
			if len(qs) > 0 && now >= qs[0].at-1e-9 {
				pending[id] = qs[1:]
				apply(qs[0].a, now)
			}
		}
		if a, b := fl["a"], fl["b"]; a.armed && b.armed && a.p.z > 3 && b.p.z > 3 {
			d := math.Sqrt((a.p.x-b.p.x)*(a.p.x-b.p.x) + (a.p.y-b.p.y)*(a.p.y-b.p.y) + (a.p.z-b.p.z)*(a.p.z-b.p.z))
			if inPad(a) && inPad(b) {
				padLeast = math.Min(padLeast, d)
				continue
			}
			if d < least {
				where = fmt.Sprintf("t %.0f a %s/%d %.0f,%.0f,%.0f b %s/%d %.0f,%.0f,%.0f", now, a.mode, a.seq, a.p.x, a.p.y, a.p.z, b.mode, b.seq, b.p.x, b.p.y, b.p.z)
			}
			least = math.Min(least, d)
		}
		if tick%10 != 0 { // the scheduler ticks every second
			continue
		}
		acts, notes := o.Step(wall, look)
		for _, n := range notes {
			t.Logf("%5.0f %s %s", now, n.VehicleID, n.Message)
		}
		for _, a := range acts {
			if run.latency <= 0 || a.Kind == ActLaunch {
				apply(a, now)
				continue
			}
			if qs := pending[a.VehicleID]; len(qs) > 0 {
				// A command to it is under way: the Manager sends none
				// beside it; the scheduler asks again later, and an RTL
				// is retried (Retries) when that one is through.
				switch a.Kind {
				case ActContinue:
					o.vehicle(a.VehicleID).continuedAt = time.Time{}
				case ActReturn:
					pending[a.VehicleID] = append(qs, queued{qs[len(qs)-1].at + run.latency, a})
				}
				continue
			}
			pending[a.VehicleID] = []queued{{now + run.latency, a}}
		}
		if fl["a"].started && !fl["a"].armed && o.vehicle("b").Role == RoleStation {
			if landedAt < 0 {
				landedAt = now
			}
			if now-landedAt >= run.flyOn {
				return least, o, fl["a"].pct
			}
		}
	}
	t.Fatalf("no handover in 30 minutes: a %s, b %s", o.Vehicles[0].Role, o.Vehicles[1].Role)
	return least, o, 0
}

// The late handover of issue 13: the relief's launch is slow (it waits
// delay seconds armed on its parking spot), so it is still on its way in,
// or at its hold, when the drone it relieves must leave — and that
// drone's straight RTL at the slot's layer, which the way in and the hold
// share, runs back across them. Before the return layer this double
// measured (least distance, m) delay 160 s 5.4, 170 3.6, 180 1.9, 190
// 0.3 (the stadium scenario saw 1.1 m). Now such a drone is sent home on
// its slot's return layer (RTL_ALT raised before the RTL), 30 m over its
// relief: whatever the delay the two keep followSafeM (20 m, 3D) outside
// the pad's zone (a takeoff beside a landing there is pad sequencing),
// the drone sent home lands with its reserve (the raised return is in
// its budget), and some delays do need the return layer.
func TestLateHandoverKeepsTheDronesApart(t *testing.T) {
	sp := stadiumPlan(t)
	if sp.ReturnAlt == 0 {
		t.Fatal("the stadium's slot 0 has no return layer")
	}
	lap := loopLen(sp) / planSpeed(sp)
	raised := 0
	for delay := 0.0; delay <= 240; delay += 10 {
		t.Run(fmt.Sprint("delay ", delay), func(t *testing.T) {
			least, o, pct := flyHandover(t, sp, lap/8, delay)
			t.Logf("least distance %.1f m, landed with %.1f %%, slot %+v", least, pct, *o.Slots[0])
			if least < followSafeM {
				t.Errorf("the two drones of the slot came %.1f m apart", least)
			}
			if pct < o.Params.ReservePct {
				t.Errorf("the relieved drone landed with %.1f %%, under the %.0f %% reserve", pct, o.Params.ReservePct)
			}
			if o.vehicle("a").RaisedRTL {
				raised++
			}
		})
	}
	if raised == 0 {
		t.Error("no delay sent the relieved drone home on its return layer: the test no longer covers a late handover")
	}
}

// A late handover on every phase of the lap: the must-leave time of the
// drone relieved falls anywhere on its loop, also on the stadium slot 0's
// leg back to the loop's first waypoint, from which its return layer's
// climb would pass another slot's flight (NoRaisedSeqs). Sent home from
// there at its must-leave time, its return at the slot's layer crossed
// its relief on the way in: before blockedAhead this double measured
// 8.8 m (phase 5, delay 150 s), 4.2 m (5, 160 s) and 18.8 m (7, 120 s);
// the stadium scenario saw 0.4 m. Now such a drone leaves on the leg
// before, where the return layer is allowed.
func TestMustLeaveBeforeALegWithNoRaisedReturn(t *testing.T) {
	sp := stadiumPlan(t)
	if len(sp.NoRaisedSeqs) == 0 {
		t.Fatal("the stadium's slot 0 has no leg without a raised return: the test no longer covers one")
	}
	lap := loopLen(sp) / planSpeed(sp)
	for phase := 0; phase < 8; phase++ {
		for delay := 100.0; delay <= 200; delay += 10 {
			t.Run(fmt.Sprint("phase ", phase, " delay ", delay), func(t *testing.T) {
				run := &handoverRun{}
				least, o, pct := flyHandoverSeq(t, sp, float64(phase)*lap/8, delay, run)
				seq := run.rtlSeq
				if least < followSafeM {
					t.Errorf("the two drones of the slot came %.1f m apart (sent home from item %d)", least, seq)
				}
				if pct < o.Params.ReservePct {
					t.Errorf("the relieved drone landed with %.1f %%, under the %.0f %% reserve", pct, o.Params.ReservePct)
				}
			})
		}
	}
}

// A drone is never sent home from a leg whose straight return leaves the
// fence (NoReturnSeqs) because its must-leave time or its wait for a
// clear return ran out there: it leaves on the leg before. Half the
// stadium loop's legs are marked so here; before blockedAhead the relieved
// drone was sent home from one of them on some phases of the lap (a
// scenario run breached the fence right after such a must-leave return).
func TestNoReturnFromALegThatLeavesTheFence(t *testing.T) {
	sp := stadiumPlan(t)
	first, jump := int(sp.Plan.LoopStart), int(sp.Plan.JumpSeq)
	sp.NoReturnSeqs = nil
	for s := first + 1; s < first+(jump-first)/2; s++ {
		sp.NoReturnSeqs = append(sp.NoReturnSeqs, s)
	}
	t.Logf("no return from %v (loop %d..%d)", sp.NoReturnSeqs, first, jump-1)
	lap := loopLen(sp) / planSpeed(sp)
	for phase := 0; phase < 8; phase++ {
		for _, delay := range []float64{0, 120, 160, 200} {
			t.Run(fmt.Sprint("phase ", phase, " delay ", delay), func(t *testing.T) {
				run := &handoverRun{}
				least, o, pct := flyHandoverSeq(t, sp, float64(phase)*lap/8, delay, run)
				seq := run.rtlSeq
				if slices.Contains(sp.NoReturnSeqs, seq) {
					t.Errorf("sent home from item %d, whose straight return leaves the fence", seq)
				}
				if least < followSafeM {
					t.Errorf("the two drones of the slot came %.1f m apart", least)
				}
				if pct < o.Params.ReservePct {
					t.Errorf("the relieved drone landed with %.1f %%, under the %.0f %% reserve", pct, o.Params.ReservePct)
				}
			})
		}
	}
}

// The other drones' predicted tracks start where their states, as old as
// they are, say they are now: at speedup 60 a state received 100 ms ago
// is 6 s of flight old, and a drone flying at 10 m/s is 60 m further on
// its track. Judged from where it had been, a release kept 40 m on paper
// and 18 m in the air (the 3-hour operation test under CI load).
func TestOtherDronesAreTakenAlongByTheAgeOfTheirState(t *testing.T) {
	wall := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	st := &step{o: &Operation{TimeScale: 60}, wall: wall}
	for _, c := range []struct {
		seen time.Time
		want float64
	}{
		{wall, 0},
		{wall.Add(-100 * time.Millisecond), 6},
		{wall.Add(time.Second), 0},        // newer than the operation's clock: not old
		{wall.Add(-time.Minute), maxAgeS}, // silent: bounded
		{time.Time{}, 0},                  // never heard
	} {
		if got := st.ageS(fleet.Vehicle{LastSeen: c.seen}); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("last seen %v before the tick: age %v s, want %v", wall.Sub(c.seen), got, c.want)
		}
	}
	tr := newTrack(10, p3{}, p3{x: 200})
	tr.shift = st.ageS(fleet.Vehicle{LastSeen: wall.Add(-100 * time.Millisecond)})
	h := 0
	if p := tr.at(0, &h); math.Abs(p.x-60) > 1e-9 {
		t.Errorf("now on a track 6 s old: x %.1f m, want 60", p.x)
	}
	other := newTrack(10, p3{x: 60, y: 30}, p3{x: 60, y: 30})
	if d := minDist(tr, other, 0, 1); math.Abs(d-30) > 0.5 {
		t.Errorf("least distance to a drone beside where it is now: %.1f m, want 30", d)
	}
}

// A relief is launched for the earliest moment its incumbent may leave:
// before a stretch of legs it cannot be sent home from (blockedAhead),
// which can be up to earlyLeaveS before its must-leave time. Launched
// for the must-leave time alone, the relief was still on its way in
// when the incumbent left on the leg before such a stretch, and the slot
// went uncovered (the 3-hour operation test: 40–67 s, its incumbents
// leaving 109–122 s early). Every phase of the lap, with the stadium
// slot 0's legs without a raised return and with half its loop marked as
// leaving the fence. With the relief launched for the must-leave time,
// this double left the slot uncovered 13 and 27 s.
func TestReliefLaunchedForTheEarliestLeave(t *testing.T) {
	// The relief's launch takes this much longer than planned (a pad
	// wait, a slow arm): within the operation's margin (90 s).
	const slowLaunchS = 80
	stadium := stadiumPlan(t)
	fence := stadiumPlan(t)
	first, jump := int(fence.Plan.LoopStart), int(fence.Plan.JumpSeq)
	fence.NoReturnSeqs = nil
	for s := first + 1; s < first+(jump-first)/2; s++ {
		fence.NoReturnSeqs = append(fence.NoReturnSeqs, s)
	}
	for name, sp := range map[string]SlotPlan{"no raised return": stadium, "no return": fence} {
		o := &Operation{Plans: []SlotPlan{sp}}
		if o.earlyLeaveS(0) <= 0 {
			t.Fatalf("%s: no stretch to leave early for", name)
		}
		t.Logf("%s: early leave up to %.0f s", name, o.earlyLeaveS(0))
		lap := loopLen(sp) / planSpeed(sp)
		for phase := 0; phase < 8; phase++ {
			t.Run(fmt.Sprint(name, " phase ", phase), func(t *testing.T) {
				least, o, pct := flyHandover(t, sp, float64(phase)*lap/8, slowLaunchS)
				if s := o.Slots[0]; s.UncoveredS != 0 {
					t.Errorf("uncovered %.1f s (a relief's lead %.0f s, early leave up to %.0f s)", s.UncoveredS, o.leadNoMargin(0)+o.Params.MarginS, o.earlyLeaveS(0))
				}
				if least < followSafeM {
					t.Errorf("the two drones of the slot came %.1f m apart", least)
				}
				if pct < o.Params.ReservePct {
					t.Errorf("the relieved drone landed with %.1f %%, under the %.0f %% reserve", pct, o.Params.ReservePct)
				}
			})
		}
	}
}
