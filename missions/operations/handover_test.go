package operations

import (
	"fmt"
	"math"
	"os"
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
// climbs to RTL_ALT, flies home at 10 m/s and lands.
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
}

func (k *flyer) step(items []mavitem.Item, f frame, speed, rtlZ, dt float64) {
	if !k.armed {
		return
	}
	k.pct -= k.drain * dt
	if k.wait > 0 {
		k.wait -= dt
		return
	}
	move := func(to p3, hs float64) bool {
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
	if k.mode == "RTL" {
		switch {
		case k.p.z < rtlZ-0.3 && math.Hypot(k.p.x-k.home.x, k.p.y-k.home.y) > 1:
			move(p3{k.p.x, k.p.y, rtlZ}, 0)
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
			move(at, speed)
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
// the scenario library, planned as operations plan (with the hold).
func stadiumPlan(t *testing.T) SlotPlan {
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
	plans, err := missions.PlanArea(a, missions.PlanOptions{Pattern: missions.PatternPerimeter, Drones: 3, Repeat: -1, Speed: 6, EntryHold: true})
	if err != nil {
		t.Fatal(err)
	}
	if plans[0].HoldSeq == 0 || plans[0].HoldSeq >= plans[0].LoopStart {
		t.Fatalf("hold %d, loop %d: want a hold before the loop", plans[0].HoldSeq, plans[0].LoopStart)
	}
	plans[0].Rally = nil
	return slotPlan(plans[0])
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
			least, o := flyHandover(t, sp, float64(phase)*lap/8, 0)
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
func flyHandover(t *testing.T, sp SlotPlan, offset, delay float64) (float64, *Operation) {
	t.Helper()
	wall := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	o := &Operation{ID: "op1", SlotCount: 1, Created: wall, TimeScale: 1, State: StateScheduled, Start: wall.Add(10 * time.Minute), End: wall.Add(3 * time.Hour)}
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
		fl[id] = &flyer{id: id, pct: 100, mode: "GUIDED"}
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
	look := func(id string) (fleet.Vehicle, bool) {
		k, ok := fl[id]
		if !ok {
			return fleet.Vehicle{}, false
		}
		v := k.vehicle(f, dp.Home)
		v.LastSeen = wall
		return v, true
	}
	const dt = 0.1
	least := math.Inf(1)
	where := ""
	defer func() { t.Logf("closest approach: %s", where) }()
	for tick := 0; tick < 30*60/dt; tick++ {
		now := float64(tick) * dt
		for _, k := range fl {
			k.step(items, f, dp.Speed, rtlAlt(dp), dt)
		}
		wall = o.Created.Add(secs(now))
		if a, b := fl["a"], fl["b"]; a.armed && b.armed && a.p.z > 3 && b.p.z > 3 {
			d := math.Sqrt((a.p.x-b.p.x)*(a.p.x-b.p.x) + (a.p.y-b.p.y)*(a.p.y-b.p.y) + (a.p.z-b.p.z)*(a.p.z-b.p.z))
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
				k.seq = a.Seq
				o.ContinueDone(a.VehicleID, nil, 0)
			case ActReturn:
				k.mode = "RTL"
				o.ReturnDone(a.VehicleID, nil, wall, 0)
			}
		}
		if fl["a"].started && !fl["a"].armed && o.vehicle("b").Role == RoleStation {
			return least, o
		}
	}
	t.Fatalf("no handover in 30 minutes: a %s, b %s", o.Vehicles[0].Role, o.Vehicles[1].Role)
	return least, o
}

// The residual defect of issue 13, a late handover: the relief's launch
// is slow (it waits delay seconds armed on its parking spot), so it is
// still on its way in, or at its hold, when the drone it relieves must
// leave — and that drone's straight RTL, at the transit layer the hold
// shares, runs back across the relief's way in or over its hold. Measured
// on main with this double (least distance, m): delay 160 s phase 1 5.4,
// 170/1 3.6, 180/1 1.9, 190/1 0.3 (the stadium scenario saw 1.1 m). The
// battery reserve rule (must leave is never postponed) and the geometry
// leave the scheduler no clear straight return in these cases; what was
// tried is in the package README. Known failure: run with
// BURGUT_KNOWN_FAILURES=1.
func TestLateHandoverKeepsTheDronesApart(t *testing.T) {
	if os.Getenv("BURGUT_KNOWN_FAILURES") == "" {
		t.Skip("known failure (issue 13, late handover): set BURGUT_KNOWN_FAILURES=1 to run it")
	}
	sp := stadiumPlan(t)
	lap := loopLen(sp) / planSpeed(sp)
	for _, delay := range []float64{160, 170, 180, 190} {
		t.Run(fmt.Sprint("delay ", delay), func(t *testing.T) {
			least, o := flyHandover(t, sp, lap/8, delay)
			t.Logf("least distance %.1f m, slot %+v", least, *o.Slots[0])
			if least < followSafeM {
				t.Errorf("the two drones of the slot came %.1f m apart", least)
			}
		})
	}
}
