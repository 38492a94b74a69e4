package operations

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/fleet/separation"
)

// Pad sequencing.
//
// The drones of an operation share the pad they take off from and land
// on, each on its own spot (where it armed), ideally the clearance
// apart; the planner's layers keep their patrols apart, not their climbs
// and descents there (parked 5 m apart and launched together they
// climbed side by side 4–5 m apart, and at the window's end they landed
// as close). Crossings of the pad's columns are crossing.go's. The
// scheduler sequences the pad:
//
//   - A takeoff waits until every drone of the operation near its home
//     is clear: one launching, landing or holding within padClear
//     (horizontally) of it blocks it, one climbing away from there
//     blocks it until it is padClear (3D) from the home. The scheduler
//     picks another ready vehicle whose home is clear when there is one;
//     else the slot waits (launch_waiting), and the wait counts in the
//     slot's measured lead time, so the next launch for it goes earlier.
//   - A drone flying home (RTL) is held where it is (ActHold, BRAKE: at
//     its return altitude, on its own way home) when a drone takes off,
//     lands or holds at a spot within padClear of its own (by default),
//     or when its way in would come within padClear of one at the pad
//     ("all"), and sent on (RTL again) once that is clear. The returning
//     drones go first: a takeoff waits for one committed to its landing.
//   - The battery reserve is not the price: a held drone whose reserve
//     is at stake (its must-leave time has come) or that waited padHoldS
//     goes in anyway, with a separation alert naming the drone in its way.
//
// padClear is the operation's PadClearM, by default the separation
// monitor's warning distance (separation.Config.PadClearance; the
// station sets its own): sequenced that far apart, a takeoff or a
// landing raises no separation event.

// padHoldS bounds (operation seconds) how long a returning drone is held
// for the pad: a landing beside it takes under a minute.
const padHoldS = 600

// padLookMaxS bounds how far ahead (seconds of flight) a returning drone
// is judged: the scheduler's tick at a high speedup is several operation
// seconds, in which an RTL flies tens of metres.
const padLookMaxS = 20

// padBrakeS is how long a drone told to hold takes to stop and to obey
// (the command's round trip), seconds.
const padBrakeS = 3

// Pad sequencing modes (Params.PadSequencing).
const (
	PadOff      = "off"      // nothing sequenced
	PadTakeoffs = "takeoffs" // a takeoff waits for the takeoffs beside it
	PadAll      = "all"      // takeoffs and landings (holds)
)

// padMode is the operation's pad sequencing (PadSequencing; "" is
// PadTakeoffs).
func (o *Operation) padMode() string {
	if o.Params.PadSequencing == "" {
		return PadTakeoffs
	}
	return o.Params.PadSequencing
}

// padClear is the distance the pad is sequenced at, metres.
func (o *Operation) padClear() float64 {
	if o.Params.PadClearM > 0 {
		return o.Params.PadClearM
	}
	return separation.DefaultConfig().PadClearance()
}

// padUser is a drone of the operation at or near the pad this tick.
type padUser struct {
	id   string
	pos  p3 // where it is (metres above its home)
	home p3
	// column: it takes off, lands or holds at its home (within padClear
	// of it), or is committed to landing there; a drone elsewhere is
	// only in the way where it is.
	column bool
	// inCol: it is there now (within padClear of its home, or on it
	// launching), not only let in.
	inCol bool
	// climbing: a takeoff on its way up (judged by its 3D distance).
	climbing bool
	// state says what it does, for messages: launching, taking off,
	// landing, holding, flying.
	state string
}

func hdist(a, b p3) float64 { return math.Hypot(a.x-b.x, a.y-b.y) }

func dist3(a, b p3) float64 {
	return math.Sqrt((a.x-b.x)*(a.x-b.x) + (a.y-b.y)*(a.y-b.y) + (a.z-b.z)*(a.z-b.z))
}

// segDist is the horizontal distance from q to the segment a–b.
func segDist(q, a, b p3) float64 {
	dx, dy := b.x-a.x, b.y-a.y
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = math.Max(0, math.Min(1, ((q.x-a.x)*dx+(q.y-a.y)*dy)/l2))
	}
	return math.Hypot(q.x-(a.x+t*dx), q.y-(a.y+t*dy))
}

// padState is the pad as one tick sees it (drones outside the operation
// near it included, outside.go): the drones of the operation
// there (padUser), grown as the tick commits landings and launches.
type padState struct {
	f     frame
	clear float64
	users []padUser
	look  float64 // operation seconds ahead a returning drone is judged
}

// way is how far (3D) a drone held on its way home must be from the
// way another drone flies past it: a third of the pad clearance (10 m,
// the monitor's critical distance, at the defaults), so a drone of
// another slot held on its own layer (10 m above or below) beside a way
// out does not hold every takeoff up (the full clearance asked of that
// starved the pool: the stadium scenario's launches then waited up to 6
// minutes).
func (p *padState) way() float64 { return p.clear / 3 }

// homeOf is where fv armed (its parking spot), else the slot's launch
// point.
func (st *step) homeOf(fv fleet.Vehicle, slot int) p3 {
	if len(st.o.Plans) == 0 {
		return p3{}
	}
	f := st.opFrame()
	if fv.Home != nil {
		return f.at(fv.Home.Lat, fv.Home.Lon, 0)
	}
	p := st.o.Plans[max(slot, 0)].Plan.Home
	return f.at(p.Lat, p.Lon, 0)
}

// opFrame is the frame the operation's drones are judged in one against
// another: the pad's (centred on the first slot's launch point), also
// when the pad is not sequenced.
func (st *step) opFrame() frame {
	if st.pad != nil {
		return st.pad.f
	}
	h := st.o.Plans[0].Plan.Home
	return newFrame(h.Lat, h.Lon)
}

// padInit looks at every drone of the operation once per tick.
func (st *step) padInit() {
	o := st.o
	if len(o.Plans) == 0 || o.padMode() == PadOff {
		return
	}
	h := o.Plans[0].Plan.Home
	dt := 1.0
	if !o.padLast.IsZero() && st.now.After(o.padLast) {
		dt = st.now.Sub(o.padLast).Seconds()
	}
	o.padLast = st.now
	st.pad = &padState{f: newFrame(h.Lat, h.Lon), clear: o.padClear(), look: math.Min(dt+padBrakeS, padLookMaxS)}
	for _, v := range o.Vehicles {
		fv, ok := st.look(v.ID)
		if !ok {
			continue
		}
		u := padUser{id: v.ID, home: st.homeOf(fv, v.Slot)}
		switch {
		case v.Role == RoleLaunching:
			u.pos, u.column, u.inCol, u.climbing, u.state = u.home, true, true, true, "launching"
		case fv.Armed:
			u.pos = st.pad.f.at(fv.Lat, fv.Lon, math.Max(fv.RelativeAlt, 0))
			u.column = hdist(u.pos, u.home) < st.pad.clear
			u.inCol = u.column
			u.climbing = v.Role == RoleTransit
			switch {
			case u.climbing:
				u.state = "taking off"
			case v.PadHeld != nil:
				u.state = "holding"
			case v.Role == RoleReturning:
				u.state = "landing"
			default:
				u.state = "flying"
			}
		default:
			continue
		}
		st.pad.users = append(st.pad.users, u)
	}
	st.outsideUsers()
}

func (st *step) padUserOf(id string) *padUser {
	for i := range st.pad.users {
		if st.pad.users[i].id == id {
			return &st.pad.users[i]
		}
	}
	return nil
}

// seg3 is the 3D distance from q to the segment a–b.
func seg3(q, a, b p3) float64 {
	d := p3{b.x - a.x, b.y - a.y, b.z - a.z}
	l2 := d.x*d.x + d.y*d.y + d.z*d.z
	t := 0.0
	if l2 > 0 {
		t = math.Max(0, math.Min(1, ((q.x-a.x)*d.x+(q.y-a.y)*d.y+(q.z-a.z)*d.z)/l2))
	}
	return dist3(q, p3{a.x + t*d.x, a.y + t*d.y, a.z + t*d.z})
}

// takeoffBlocker names the drone in the way of a takeoff for slot from
// home, or is "" when the pad is clear there. Besides the pad itself, a
// drone held on its way home (or flying home) must not sit on the way
// the new one flies out: a return and a way in from one pad run along
// much the same line, at the same layer for one slot. Judged by
// padState.way, so a return on another layer does not hold a takeoff
// up.
func (st *step) takeoffBlocker(id string, slot int, home p3) string {
	if st.pad == nil {
		return ""
	}
	if why := st.outsideTakeoffBlocker(slot, home); why != "" {
		return why
	}
	c := st.pad.clear
	var way *track
	for _, v := range st.o.Vehicles {
		if v.Role != RoleReturning || v.ID == id || v.PadHeld == nil {
			continue
		}
		fv, ok := st.look(v.ID)
		if !ok || !airborne(fv) {
			continue
		}
		if way == nil {
			way = missionTrack(st.o.Plans[slot], st.pad.f, home, 1, maxPredictS)
		}
		q := st.pad.f.at(fv.Lat, fv.Lon, fv.RelativeAlt)
		for i := 1; i < len(way.pts); i++ {
			if d := seg3(q, way.pts[i-1], way.pts[i]); d < st.pad.way() {
				return fmt.Sprintf("%s, on its way home, is %.0f m from its way out", v.ID, d)
			}
		}
	}
	for _, u := range st.pad.users {
		if u.id == id {
			continue
		}
		// A drone let in to land but not there yet does not hold a
		// takeoff up: it is held if the takeoff is still in its way
		// when it gets there (takeoffs go first, descents under way
		// before them).
		near := hdist(u.pos, home) < c || u.inCol && hdist(u.home, home) < c && u.state != "flying"
		if !near {
			continue
		}
		if u.climbing && u.state == "taking off" && u.inCol && dist3(u.pos, home) >= c {
			continue // climbing away from its own spot, already clear
		}
		if !u.climbing && st.o.padMode() != PadAll {
			continue // landings are not sequenced: only takeoffs wait for each other
		}
		return fmt.Sprintf("%s is %s %.0f m from its home", u.id, u.state, dist3(u.pos, home))
	}
	return st.takeoffCrossing(id, slot, home)
}

// spotBlocker names a drone taking off, landing or holding at a spot
// within padClear of home (the spot a drone flying home lands on), or
// is "": on a pad whose spots are the clearance apart there is none, and
// only crossings (crossing.go) hold a landing.
func (st *step) spotBlocker(id string, pos, home p3, held bool) (string, string) {
	// Judged once it is about to come in (a held one: at once), as
	// landingBlocker does: not held far out for a landing that is over
	// by the time it gets there.
	if !held && hdist(pos, home)-st.pad.look*10 >= st.pad.clear {
		return "", ""
	}
	for _, u := range st.pad.users {
		// A drone held for the pad is stopped at its return altitude,
		// judged as a crossing if it is in the way; as a spot's user two
		// held drones 24 m apart waited for each other until one's
		// reserve was at stake (the 3-hour app test, spots 15–25 m apart).
		if u.id == id || !u.inCol || u.state == "flying" || u.state == "holding" {
			continue
		}
		if d := hdist(u.home, home); d < st.pad.clear {
			return u.id, fmt.Sprintf("%s is %s at its spot %.0f m from this one's", u.id, u.state, d)
		}
	}
	return "", ""
}

// landingBlocker names a drone at the pad that a returning drone at pos
// flying home to home would come within padClear of (horizontally)
// within the look-ahead (a held one: at all), or is "".
func (st *step) landingBlocker(id string, pos, home p3, held, onlyTakeoffs bool) (string, string) {
	c := st.pad.clear
	reach := st.pad.look * 10 // ArduCopter's default WPNAV_SPEED, the faster of the RTL speeds judged
	if held {
		// Sent on, it flies all the way in: whatever is at the pad now
		// is in its way however far out it holds.
		reach = math.Inf(1)
	}
	for _, u := range st.pad.users {
		if u.id == id || !u.column || onlyTakeoffs && !u.climbing {
			continue
		}
		lim := c
		if u.state == "holding" {
			// Stopped at its return altitude: a landing passing it
			// descends away from it; the way's distance is enough (and
			// two held drones judging each other by the full clearance
			// would wait for each other until neither could).
			lim = st.pad.way()
		}
		for _, q := range []p3{u.pos, u.home} {
			if u.state == "holding" && q == u.home {
				continue
			}
			if segDist(q, pos, home) < lim && hdist(pos, q)-reach < lim {
				return u.id, fmt.Sprintf("%s is %s %.0f m from its way in", u.id, u.state, segDist(q, pos, home))
			}
		}
	}
	return "", ""
}

// padReturns sequences the drones flying home: those descending first
// (they only mark the pad), then those let in before (held only for a
// takeoff started since), then held ones (lowest charge first), then
// those still on their way (nearest first). Each that goes on is let in
// to land and is in the way of those judged after it.
func (st *step) padReturns() {
	// With "all" a landing is held for any drone taking off, landing or
	// holding near its way in (landingBlocker): on a pad of spots a few
	// metres apart during the window that delayed the battery swaps of
	// the stadium's short pool, and slots went uncovered for minutes.
	//
	// By default the pad is a set of spots: a landing is held only for a
	// drone taking off, landing or holding at a spot within the
	// clearance of its own (spotBlocker), or for a predicted crossing
	// (crossing.go, judged in every mode). On a ring of spots 32 m apart
	// the way-in rule of "all" held every landing at the window's end for
	// drones landing 13–29 m beside its way in, at spots it passed high
	// over.
	if st.pad == nil {
		return
	}
	spots := st.o.padMode() == PadTakeoffs
	type ret struct {
		v     *VehicleState
		fv    fleet.Vehicle
		pos   p3
		home  p3
		class int
		key   float64
	}
	var rs []ret
	for _, v := range st.o.Vehicles {
		if v.Role != RoleReturning {
			continue
		}
		fv, ok := st.look(v.ID)
		if !ok || !fv.Connected || !fv.Armed {
			continue
		}
		held := v.PadHeld != nil
		if !held && fv.Mode != "RTL" && fv.Mode != "SMART_RTL" && fv.Mode != "LAND" {
			continue // still waiting for a clear return (AUTO), or not ours to steer
		}
		r := ret{v: v, fv: fv, pos: st.pad.f.at(fv.Lat, fv.Lon, math.Max(fv.RelativeAlt, 0)), home: st.homeOf(fv, v.Slot)}
		dh := hdist(r.pos, r.home)
		rz := st.o.rtlAltOf(v)
		switch {
		case held:
			r.class, r.key = 2, fv.BatteryPct
		case fv.Mode == "LAND" || dh < st.pad.clear && fv.RelativeAlt < rz-3:
			r.class, r.key = 0, dh // descending already: nothing to hold
		case v.padIn:
			r.class, r.key = 1, dh // let in: only a takeoff started since holds it
		default:
			r.class, r.key = 3, dh
		}
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b ret) int { return cmp.Or(cmp.Compare(a.class, b.class), cmp.Compare(a.key, b.key)) })
	// The other drones' predicted flights, for the crossings; a drone
	// flying home is judged against those before it in this order (they
	// go first), and those held or sent on here change their tracks.
	movers := st.movers("")
	later := map[string]bool{}
	for _, r := range rs {
		later[r.v.ID] = true
	}
	setMover := func(id string, t *track, state string) {
		for i := range movers {
			if movers[i].id == id {
				movers[i].t, movers[i].state = t, state
			}
		}
	}
	for _, r := range rs {
		v := r.v
		delete(later, v.ID)
		u := st.padUserOf(v.ID)
		commit := func() {
			v.padIn = true
			if u != nil {
				u.column, u.state = true, "landing"
			}
		}
		if r.class == 0 {
			commit()
			continue
		}
		var who, why string
		crossed := false
		sp := st.o.Plans[v.Slot]
		z := st.o.rtlAltOf(v)
		if v.PadRaise && sp.ReturnAlt > 0 {
			z = sp.ReturnAlt
		}
		if spots {
			who, why = st.spotBlocker(v.ID, r.pos, r.home, r.class == 2)
		} else {
			who, why = st.landingBlocker(v.ID, r.pos, r.home, r.class == 2, r.class == 1)
		}
		if who == "" {
			var others []mover
			for _, m := range movers {
				if m.id != v.ID && !later[m.id] {
					others = append(others, m)
				}
			}
			soon := st.pad.look + crossSoonS
			if r.class == 2 {
				soon += crossSoonS // held: sent on only when clear a while longer
			}
			who, why = st.returnCrossing(v, r.pos, r.home, z, others, soon)
			crossed = who != ""
			// A crossing its return layer passes over (a relief waiting at
			// its hold on the slot's way home, at the slot's layer; a
			// climb below it): it holds, and goes on at that layer — the
			// RTL from the hold climbs where it stopped.
			if crossed && !v.PadRaise && st.canRaise(v, r.fv) {
				if w, _ := st.returnCrossing(v, r.pos, r.home, sp.ReturnAlt, others, soon); w == "" {
					v.PadRaise = true
					why += fmt.Sprintf("; it goes on over it on its return layer (%g m)", sp.ReturnAlt)
				}
			}
			if crossed && r.class == 2 && v.PadRaise {
				who, why = st.returnCrossing(v, r.pos, r.home, sp.ReturnAlt, others, soon)
				z = sp.ReturnAlt
			}
		}
		if r.class == 2 && who == "" && st.o.Active() {
			// Sent on from a hold during the window, its return must keep
			// clear of the drones of its own slot as a handover's does
			// (returnClear): they fly its layer, towards it on the way in,
			// and the crossings judge only 10 m over a short look-ahead (a
			// relieved drone let go from a hold met its relief head-on,
			// 3 m, in the 3-hour app test).
			safe := float64(handoverSafeM)
			if sp.ReturnAlt > 0 && z == sp.ReturnAlt {
				safe = raisedSafeM
			}
			if ok, least, conflict := st.returnClear(v, r.fv, z, safe); !ok {
				who, why = fmt.Sprintf("slot %d", v.Slot), fmt.Sprintf("its return would pass %.0f m from another drone of slot %d", least, v.Slot)
				if conflict != "" {
					who, why = conflict, "its return would enter the critical zone of "+conflict
				}
			}
		}
		if r.class == 2 {
			waited := st.now.Sub(*v.PadHeld).Seconds()
			reserve := st.reserveAtStake(v, r.fv)
			if who != "" && !reserve && waited < padHoldS {
				continue
			}
			if who != "" {
				v.padUnclear = true
				cause := fmt.Sprintf("held %.0f s", waited)
				if reserve {
					cause = "its battery reserve is at stake"
				}
				st.notes = append(st.notes, Note{VehicleID: v.ID, Kind: fleet.EventSeparation, Severity: fleet.SeverityWarning,
					Message: fmt.Sprintf("%s lands without a clear pad (%s; operation %s): %s", v.ID, cause, st.o.ID, why),
					Fields: map[string]any{"operation_id": st.o.ID, "action": "pad_unclear", "slot": v.Slot, "other_vehicle_id": who,
						"yield_vehicle_id": v.ID, "level": "warning", "waited_s": waited}})
			} else {
				st.note(v.ID, fleet.SeverityInfo, "pad_clear", "%s flies in to land after holding %.0f s for the pad (operation %s)", v.ID, waited, st.o.ID)
				st.lastNote()["slot"], st.lastNote()["waited_s"] = v.Slot, waited
			}
			v.PadHeld, v.rtlTries, v.PadRaise = nil, 0, false
			// RTL again, at the altitude its return was sent with (or its
			// return layer, over a crossing).
			st.acts = append(st.acts, st.rtlAction(v, z))
			setMover(v.ID, newTrack(planSpeed(sp), rtlPoints(sp, st.pad.f, r.pos, r.fv.Home, z)...), "flying home")
			commit()
			continue
		}
		if who != "" && st.reserveAtStake(v, r.fv) {
			if v.padUnclear {
				commit()
				continue
			}
			v.padUnclear = true
			st.notes = append(st.notes, Note{VehicleID: v.ID, Kind: fleet.EventSeparation, Severity: fleet.SeverityWarning,
				Message: fmt.Sprintf("%s lands without a clear pad (its battery reserve is at stake; operation %s): %s", v.ID, st.o.ID, why),
				Fields: map[string]any{"operation_id": st.o.ID, "action": "pad_unclear", "slot": v.Slot, "other_vehicle_id": who,
					"yield_vehicle_id": v.ID, "level": "warning", "waited_s": 0.0}})
			commit()
			continue
		}
		if who != "" && st.onSomeonesWay(v.ID, r.pos) == "" {
			at := st.now
			v.PadHeld, v.rtlTries = &at, 0
			st.acts = append(st.acts, Action{Kind: ActHold, VehicleID: v.ID, Slot: v.Slot})
			st.note(v.ID, fleet.SeverityInfo, "pad_hold", "%s holds on its way home until the pad is clear (operation %s): %s", v.ID, st.o.ID, why)
			st.lastNote()["slot"], st.lastNote()["other_vehicle_id"] = v.Slot, who
			v.padIn = false
			if u != nil {
				u.state, u.column = "holding", u.inCol
			}
			setMover(v.ID, newTrack(1, r.pos), "holding")
			continue
		}
		if who != "" {
			// In the way but on another drone's way where it is: not held
			// here, and not let in either — judged again on the next tick.
			// (Let in, only a takeoff would have held it: a landing beside
			// one let in so came 9.7 m from it on a pad of spots 5 m apart.)
			continue
		}
		if r.class == 1 {
			commit()
			continue
		}
		if hdist(r.pos, r.home)-st.pad.look*10 < st.pad.clear {
			commit()
		}
	}
}

// onSomeonesWay names a drone of the operation flying its mission
// (AUTO) or home (RTL) whose way over the next padLookAheadS passes
// within padState.way (3D) of q, or is "": a drone held at q would sit
// in its way.
func (st *step) onSomeonesWay(id string, q p3) string {
	for _, v := range st.o.Vehicles {
		if v.ID == id || v.Slot < 0 || v.Role != RoleTransit && v.Role != RoleStation && v.Role != RoleReturning {
			continue
		}
		fv, ok := st.look(v.ID)
		if !ok || !airborne(fv) || fv.Mode != "AUTO" && fv.Mode != "RTL" {
			continue
		}
		if fv.Mode == "RTL" {
			// Its way is straight to its home, every point of it nearer
			// that home than it is now: a point farther out (by the way's
			// distance) is not on it — a drone following another home
			// may hold behind it.
			if u := st.padUserOf(v.ID); u != nil && hdist(q, u.home) > hdist(u.pos, u.home)+st.pad.way() {
				continue
			}
		}
		t := predicted(st.o.Plans[v.Slot], st.pad.f, fv, padLookAheadS, st.o.rtlAltOf(v))
		for i := 1; i < len(t.pts); i++ {
			a, b := t.pts[i-1], t.pts[i]
			// A climb or a descent at a spot counts too: held beside a
			// spot's column, a drone sat 8.9 m from the drone landing there.
			if seg3(q, a, b) < st.pad.way() {
				return v.ID
			}
		}
	}
	return ""
}

// padLookAheadS is how far ahead the ways of the drones flying their
// missions are judged against a hold (seconds of flight).
const padLookAheadS = 90

// reserveAtStake says whether a drone flying home cannot be held any
// longer without landing under its reserve: the predictor's time left
// before it must leave (which for a drone on its way home is what it may
// still spend) is within the command latency and the look-ahead. The
// margins the scheduler keeps before a must-leave (leaveMarginS) may be
// spent holding; the reserve is not.
func (st *step) reserveAtStake(v *VehicleState, fv fleet.Vehicle) bool {
	return st.o.prediction(v, fv).LeaveInS-st.o.LatencyS <= st.pad.look
}

// HoldDone records the outcome of a hold: a drone that did not stop is
// on its way in (RTL) as before, and said so.
func (o *Operation) HoldDone(id string, err error, took time.Duration) []Note {
	v := o.vehicle(id)
	if v == nil {
		return nil
	}
	o.noteLatency(took)
	if err != nil && v.YieldTo != "" {
		// Not braked for a forced return (yield.go): it flies on, and so
		// does the return; the pad's crossings judge them from here.
		other := v.YieldTo
		v.YieldTo, v.YieldSince = "", nil
		return []Note{{VehicleID: id, Kind: fleet.EventOperation, Severity: fleet.SeverityWarning,
			Message: fmt.Sprintf("%s did not brake for %s's return (operation %s): %v", id, other, o.ID, err),
			Fields:  map[string]any{"operation_id": o.ID, "action": "yield_failed", "slot": v.Slot, "other_vehicle_id": other}}}
	}
	if err == nil || v.PadHeld == nil {
		return nil
	}
	v.PadHeld = nil
	v.rtlTries = 1 // RTL again if the failed hold left it in another mode (Retries)
	return []Note{{VehicleID: id, Kind: fleet.EventOperation, Severity: fleet.SeverityWarning,
		Message: fmt.Sprintf("%s did not hold for the pad (operation %s): %v; it flies in", id, o.ID, err),
		Fields:  map[string]any{"operation_id": o.ID, "action": "pad_hold_failed", "slot": v.Slot}}}
}
