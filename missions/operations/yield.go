package operations

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/fleet"
)

// Yielding to a forced return.
//
// A drone that must go home now — its wait for a clear return ran out
// (ReturnBy), or its must-leave time came — used to be sent home on the
// safer of its two RTLs even when both entered another drone's critical
// zone: across a relief climbing out of the pad on its way in, 3.2 m in
// TestForcedReturnMakesTheReliefInTransitYield. Its battery decides that
// it goes; the rule decides who gives way: the one in transit (or
// on patrol) yields to the one whose reserve is at stake.
//
//   - Each drone of the operation whose critical zone the return would
//     enter, flying its mission (AUTO, in the air: a relief on its way in
//     or at its hold, a patrol), is a yielder. When the return, judged
//     again with the yielders stopped where a brake sent now stops them
//     (after the command's round trip and padBrakeS), enters nobody's
//     zone, the yielders are braked (ActHold: BRAKE, audited by the
//     runner as the pad's holds are; a `yield` event each) and the drone
//     is sent home. Each yielder is sent on with its mission (ActResume:
//     AUTO, which resumes at its current item; `yield_end`) once the
//     returning drone's way home no longer comes into its critical zone
//     as it would fly on, or the returning drone is down or gone, or
//     after yieldMaxS.
//   - When braking does not clear the way (a drone stopped in it, one
//     on the ground about to take off, one outside the operation) and the
//     drone's battery margin allows (the must-leave margin, leaveMarginS,
//     may be spent, as a pad hold spends it; the reserve may not), it
//     flies on a little longer (`return_held`, once), judged again each
//     tick, but not into a stretch it cannot be sent home from
//     (blockedAhead) and never beyond holdOnMaxS past its bound.
//   - Else it goes as before, with the `return_unclear` alert.

// yieldMaxS bounds (operation seconds) how long a drone is braked for
// another's return: a return passes a point in well under a minute.
const yieldMaxS = 120

// holdOnMaxS bounds (operation seconds) how long past its bound a drone
// flies on waiting for a way home that braking others cannot clear.
const holdOnMaxS = 60

// zoneHit is a drone whose critical zone a return would enter.
type zoneHit struct {
	id, state string
	at        float64 // seconds from now
}

func (h zoneHit) String(o *Operation) string {
	slot := ""
	if v := o.vehicle(h.id); v != nil && v.Slot >= 0 {
		slot = fmt.Sprintf("of slot %d ", v.Slot)
	}
	return fmt.Sprintf("%s %s(%s) in %.0f s", h.id, slot, h.state, h.at)
}

// zoneHits are the drones whose critical zone (zoneNear) the RTL of v at
// alt, flown as returnWays has it, would enter over the next crossAheadS
// (zoneConflict's judgement), each once, the earliest first when all;
// only the first found otherwise. Those in stopped are judged stopped
// where a brake sent now stops them.
func (st *step) zoneHits(v *VehicleState, fv fleet.Vehicle, alt float64, stopped map[string]bool, all bool) []zoneHit {
	p := st.o.Plans[v.Slot]
	f := st.opFrame()
	from := f.at(fv.Lat, fv.Lon, fv.RelativeAlt)
	movers := st.movers(v.ID)
	var out []zoneHit
	seen := map[string]int{}
	for _, t := range st.returnWays(p, f, fv, alt) {
		// As far ahead as the movers are predicted; the rest of the way
		// in is judged again as it comes (and by the pad's crossings).
		to := math.Min(crossAheadS, t.duration()-t.shift)
		for _, m := range movers {
			if hdist(m.pos, from) > crossNearM {
				continue
			}
			mt := *m.t
			if ofv, ok := st.look(m.id); ok {
				mt.shift = st.ageS(ofv)
			}
			if stopped[m.id] {
				mt = *st.stoppedTrack(&mt)
			}
			for _, db := range m.delays {
				at := firstNear(t, 0, &mt, db, to, st.zoneNear)
				if at < 0 {
					continue
				}
				if !all {
					return []zoneHit{{m.id, m.state, at}}
				}
				if i, ok := seen[m.id]; !ok {
					seen[m.id] = len(out)
					out = append(out, zoneHit{m.id, m.state, at})
				} else if at < out[i].at {
					out[i].at = at
				}
				break
			}
		}
	}
	slices.SortStableFunc(out, func(a, b zoneHit) int { return cmp.Compare(a.at, b.at) })
	return out
}

// stoppedTrack is t flown until a brake sent now has stopped the drone
// (the station's command round trip and padBrakeS), then hovering there.
func (st *step) stoppedTrack(t *track) *track { return st.stoppedAfter(t, 0) }

// stoppedAfter is stoppedTrack for a brake sent later seconds from now.
func (st *step) stoppedAfter(t *track, later float64) *track {
	stop := t.shift + later + st.o.LatencyS + padBrakeS
	q := *t
	q.shift = 0
	h := 0
	at := q.at(stop, &h)
	c := t.then(stop, newTrack(1, at, at))
	c.shift = t.shift
	return c
}

// yielder says whether the drone id may be braked for another's return:
// a drone of the operation flying its mission in the air (a relief on
// its way in or at its hold, a patrol), not yielding to another already.
func (st *step) yielder(id, to string) bool {
	y := st.o.vehicle(id)
	if y == nil || y.Slot < 0 || y.Role != RoleTransit && y.Role != RoleStation || y.YieldTo != "" && y.YieldTo != to {
		return false
	}
	fy, ok := st.look(id)
	return ok && fy.Connected && airborne(fy) && fy.Mode == "AUTO"
}

// forcedReturn is how v, which must go home now although neither of its
// RTLs is clear (returnChoice gave alt and why), goes: the drones in its
// way that can yield are braked and it is sent (true), or it flies on a
// little longer (false: judged again next tick), or it is sent as before.
// why is what to alert ("" when the way was made clear).
func (st *step) forcedReturn(v *VehicleState, fv fleet.Vehicle, ok bool, alt float64, why string, bound time.Time) (bool, string) {
	if !ok || v.Slot < 0 || v.Slot >= len(st.o.Plans) || fv.Mode != "AUTO" || !airborne(fv) ||
		slices.Contains(st.o.Plans[v.Slot].NoReturnSeqs, fv.MissionSeq) {
		return true, why
	}
	hits := st.zoneHits(v, fv, alt, nil, true)
	if len(hits) == 0 {
		// Only the spacing from its slot's drones is short, outside
		// everyone's critical zone: it goes, said as before.
		return true, why
	}
	stop := map[string]bool{}
	for _, h := range hits {
		if !st.yielder(h.id, v.ID) {
			stop = nil
			break
		}
		stop[h.id] = true
	}
	clears := stop != nil && len(st.zoneHits(v, fv, alt, stop, false)) == 0
	var behind []zoneHit
	if clears {
		// The drones that would close in on a braked one are braked
		// too, when that keeps the return clear.
		behind, clears = st.brakeChain(v.ID, stop)
		clears = clears && (len(behind) == 0 || len(st.zoneHits(v, fv, alt, stop, false)) == 0)
	}
	if clears {
		var names []string
		brake := func(y *VehicleState, msg string) {
			at := st.now
			y.YieldTo, y.YieldSince, y.resumedAt, y.YieldPad, y.resumeFails = v.ID, &at, time.Time{}, false, 0
			st.acts = append(st.acts, Action{Kind: ActHold, VehicleID: y.ID, Slot: y.Slot})
			st.notes = append(st.notes, Note{VehicleID: y.ID, Kind: fleet.EventOperation, Severity: fleet.SeverityWarning,
				Message: fmt.Sprintf("%s brakes where it is for %s, which must go home now (operation %s): %s", y.ID, v.ID, st.o.ID, msg),
				Fields:  map[string]any{"operation_id": st.o.ID, "action": "yield", "slot": y.Slot, "other_vehicle_id": v.ID, "yield_vehicle_id": y.ID}})
			names = append(names, y.ID)
		}
		for _, h := range hits {
			brake(st.o.vehicle(h.id), fmt.Sprintf("%s's return would enter its critical zone in %.0f s", v.ID, h.at))
		}
		for _, h := range behind {
			brake(st.o.vehicle(h.id), fmt.Sprintf("flying on it would come into the critical zone of %s, braked for that return, in %.0f s", h.state, h.at))
		}
		st.note(v.ID, fleet.SeverityInfo, "return_yield", "%s goes home, the drones in its way braked (%s; operation %s): %s", v.ID, strings.Join(names, ", "), st.o.ID, why)
		st.lastNote()["slot"], st.lastNote()["yielded_by"] = v.Slot, names
		return true, ""
	}
	// Braking does not clear its way: it flies on while its margin lasts.
	margin := st.leaveInAt(v, fv, alt) + leaveMarginS
	look := padBrakeS + st.o.LatencyS + st.tickS()
	if margin > look && st.now.Before(bound.Add(secs(holdOnMaxS))) && st.blockedAhead(v, fv) == 0 {
		if !v.heldOn {
			v.heldOn = true
			st.note(v.ID, fleet.SeverityWarning, "return_held", "%s flies on past its bound for a clear return (operation %s, %.0f s of margin): %s; %s cannot yield",
				v.ID, st.o.ID, margin, why, hits[0].String(st.o))
			st.lastNote()["slot"], st.lastNote()["margin_s"] = v.Slot, margin
		}
		return false, why
	}
	return true, why
}

// brakeChain judges the drones in stop braked for the return of the
// drone returning — each stopped where a brake sent now stops it
// (stoppedTrack), hovering there for up to yieldMaxS — against every
// other drone's predicted flight but the returning one's (its return is
// zoneHits'): a drone braked on its loop is in the way of the drones
// coming along it behind it (its slot's relief joining, or the drone
// trailing it) and of any other drone predicted to pass. One that would
// come into a braked drone's critical zone (zoneNear) within yieldMaxS
// is braked too when it may yield (yielder), and judged in its turn
// stopped; the chain ends when no drone comes into a braked one's zone
// (it grows by one drone at a time, so it ends). It reports the drones
// added to stop (id, and in state the braked drone each would have
// closed on), or false when one that would close in cannot yield (a
// drone flying home, launching, held, outside the operation) or two
// braked ones would stop within each other's zone: the way cannot be
// cleared by braking. Braked alone, a patrol let the drone behind it
// fly into it (the point-mass double of
// TestForcedReturnBrakesThePatrolsFollowerToo: 4.0 m).
func (st *step) brakeChain(returning string, stop map[string]bool) ([]zoneHit, bool) {
	ms := st.moversAhead(returning, yieldMaxS)
	tracks := map[string][]int{} // the movers' indexes by drone
	for i := range ms {
		mt := *ms[i].t
		if fv, ok := st.look(ms[i].id); ok {
			mt.shift = st.ageS(fv)
		}
		ms[i].t = &mt
		tracks[ms[i].id] = append(tracks[ms[i].id], i)
	}
	stopped := func(m mover) *track {
		if stop[m.id] {
			return st.stoppedTrack(m.t)
		}
		return m.t
	}
	var added []zoneHit
	for judged := map[string]bool{}; ; {
		var next string
		for _, y := range ms {
			if !stop[y.id] || judged[y.id] {
				continue
			}
			next = y.id
			break
		}
		if next == "" {
			return added, true
		}
		judged[next] = true
		for _, iy := range tracks[next] {
			y := ms[iy]
			yt := stopped(y)
			for _, m := range ms {
				if m.id == y.id || hdist(m.pos, y.pos) > 2*yieldMaxS*10 {
					continue
				}
				mt := stopped(m)
				for _, db := range m.delays {
					at := firstNear(yt, 0, mt, db, yieldMaxS, st.zoneNear)
					if at < 0 || at <= db && still(yt) && still(mt) {
						// Two that hover where they are already (reliefs
						// at holds a plan put side by side) come no closer.
						continue
					}
					if stop[m.id] || !st.yielder(m.id, returning) {
						// Braked both, or one that cannot yield: no
						// braking clears this way.
						return nil, false
					}
					stop[m.id] = true
					added = append(added, zoneHit{m.id, y.id, at})
					break
				}
			}
		}
	}
}

// still reports whether t hovers where it is: no point of it is a metre
// from where it starts.
func still(t *track) bool {
	h := 0
	p := t.at(0, &h)
	for _, q := range t.pts {
		if dist3(p, q) > 1 {
			return false
		}
	}
	return true
}

// tickS is the operation time since the last tick (1 s before the first).
func (st *step) tickS() float64 {
	if st.o.Last.IsZero() || !st.now.After(st.o.Last) {
		return 1
	}
	return st.now.Sub(st.o.Last).Seconds()
}

// yields sends the drones braked for a return on with their missions
// once that return no longer comes into their critical zone as they
// would fly on (ActResume), and forgets a yield the drone left.
func (st *step) yields() {
	o := st.o
	for _, y := range o.Vehicles {
		if y.YieldTo == "" {
			continue
		}
		fy, ok := st.look(y.ID)
		if y.Role != RoleTransit && y.Role != RoleStation || !ok || !fy.Armed {
			y.endYield()
			continue
		}
		if !y.resumedAt.IsZero() {
			// Sent on: done once it flies its mission again; the command
			// is sent again if it still shows the brake after a while.
			if fy.Mode == "AUTO" && st.wall.Sub(y.resumedAt) > 0 {
				y.endYield()
				continue
			}
			if st.wall.Sub(y.resumedAt) < continueRetry {
				continue
			}
		}
		if y.resumeFails >= resumeTries {
			st.resumeGaveUp(y, fy)
			continue
		}
		waited := 0.0
		if y.YieldSince != nil {
			waited = st.now.Sub(*y.YieldSince).Seconds()
			if waited <= 0 {
				// Braked on this tick: the states do not show the brakes
				// yet (a drone braked behind it would be judged as flying
				// on ahead of it).
				continue
			}
		}
		why, limit := st.stillInWay(y, fy), float64(yieldMaxS)
		if y.YieldPad {
			why, limit = st.padInWay(y, fy)
		}
		if why != "" && waited < limit {
			continue
		}
		if why == "" {
			why = "its way is clear"
		} else {
			why = fmt.Sprintf("after %.0f s (%s)", waited, why)
		}
		y.resumedAt = st.wall
		st.acts = append(st.acts, Action{Kind: ActResume, VehicleID: y.ID, Slot: y.Slot})
		st.note(y.ID, fleet.SeverityInfo, "yield_end", "%s goes on with its mission after yielding %.0f s to %s (operation %s): %s", y.ID, waited, y.YieldTo, o.ID, why)
		st.lastNote()["slot"], st.lastNote()["other_vehicle_id"], st.lastNote()["waited_s"] = y.Slot, y.YieldTo, waited
	}
}

// stillInWay says how the drone y yields to, or another drone braked for
// the same return (still braked: a brakeChain's drone ahead of it), would
// still come into y's critical zone were y sent on now (flying its
// mission from where it stands, at once or after the command's round
// trip), or "". A drone braked behind a patrol goes on only once the
// patrol flies on ahead of it.
func (st *step) stillInWay(y *VehicleState, fy fleet.Vehicle) string {
	r := st.o.vehicle(y.YieldTo)
	if r == nil || r.Role != RoleReturning {
		return ""
	}
	fr, ok := st.look(r.ID)
	if !ok || !airborne(fr) {
		return ""
	}
	f := st.opFrame()
	p := st.o.Plans[y.Slot]
	pos := f.at(fy.Lat, fy.Lon, fy.RelativeAlt)
	mine := missionTrack(p, f, pos, fy.MissionSeq, crossAheadS)
	for _, m := range st.movers(y.ID) {
		x := st.o.vehicle(m.id)
		if m.id != r.ID && (x == nil || x.YieldTo != y.YieldTo || x.YieldPad) {
			continue
		}
		mt := *m.t
		fx, ok := st.look(m.id)
		if ok {
			mt.shift = st.ageS(fx)
		}
		if m.id != r.ID && x.resumedAt.IsZero() && ok && fx.Mode == "AUTO" {
			// Braked, its state not showing it yet: it stops where the
			// brake stops it.
			mt = *st.stoppedTrack(&mt)
		}
		for _, d := range []float64{0, st.o.LatencyS} {
			if at := firstNear(mine, d, &mt, 0, crossAheadS, st.zoneNear); at >= 0 {
				if m.id != r.ID {
					return fmt.Sprintf("%s, %s for %s, would come into its critical zone in %.0f s", m.id, m.state, r.ID, at)
				}
				return fmt.Sprintf("%s, %s, would come into its critical zone in %.0f s", r.ID, m.state, at)
			}
		}
	}
	return ""
}

// endYield forgets v's yield: whom it yielded to, since when, and its
// resumes (sent, failed).
func (v *VehicleState) endYield() {
	v.YieldTo, v.YieldSince, v.resumedAt, v.resumeFails, v.resumeErr = "", nil, time.Time{}, 0, ""
}

// resumeTries is how many resumes in a row may fail before the scheduler
// stops sending them: like an RTL refused three times (ReturnDone), a
// vehicle that does not take the command after three tries of six
// attempts each will not take it on the next tick either, and a resume
// sent every tick for the rest of the event only floods the link and the
// log.
const resumeTries = 3

// ResumeDone records the outcome of a resume: a failed one is sent again
// on a later tick, up to resumeTries in a row (yields, resumeGaveUp).
func (o *Operation) ResumeDone(id string, err error, took time.Duration) []Note {
	v := o.vehicle(id)
	if v == nil {
		return nil
	}
	o.noteLatency(took)
	if err == nil {
		v.resumeFails, v.resumeErr = 0, ""
		return nil
	}
	v.resumedAt = time.Time{}
	v.resumeFails++
	v.resumeErr = err.Error()
	next := "tried again"
	if v.resumeFails >= resumeTries {
		next = fmt.Sprintf("%d tries in a row: replacing it", v.resumeFails)
	}
	return []Note{{VehicleID: id, Kind: fleet.EventOperation, Severity: fleet.SeverityWarning,
		Message: fmt.Sprintf("%s was not sent on with its mission after yielding (operation %s): %v; %s", id, o.ID, err, next),
		Fields:  map[string]any{"operation_id": o.ID, "action": "resume_failed", "slot": v.Slot, "attempts": v.resumeFails}}}
}

// resumeGaveUp fails a drone whose last resumeTries resumes failed: its
// slot is replaced at once and it is sent home (fail), as a drone whose
// RTL is refused is. Also when it shows AUTO (the mode went through, the
// speed did not: Actuator's Resume sends AUTO, then DO_CHANGE_SPEED): it
// then flies its loop at WPNAV_SPEED, not the plan's, while the
// scheduler's handovers and separation predictions assume the plan's —
// the 0.4 m near miss of a stadium run (issue 13's note, stop 26) was a
// resumed drone at 10 m/s closing on one at 6 m/s on the same leg.
func (st *step) resumeGaveUp(y *VehicleState, fy fleet.Vehicle) {
	tries, why := y.resumeFails, y.resumeErr
	y.endYield()
	if fy.Mode == "AUTO" {
		st.fail(y, fy, true, fmt.Sprintf("its speed could not be set after yielding (%d tries: %s): it flies at its default speed, not the plan's", tries, why))
		return
	}
	st.fail(y, fy, true, fmt.Sprintf("not sent on with its mission after yielding, %d tries: %s", tries, why))
}
