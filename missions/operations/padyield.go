package operations

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// A relief braked on its way out for a descent beside it.
//
// With the spots the pad clearance apart no two drones climb or descend
// side by side, but a relief's way out at its layer runs over or beside
// the other spots, and the crossings (crossing.go) keep it only the
// monitor's critical 10 m from a drone coming down there (the ring
// double of TestPadSpotsSequenceCrossings: 10.2–17 m; the 3-hour app
// test 19.3 m). The pad clearance (30 m) is what a takeoff and a landing
// should keep.
//
// Tried before and dropped: the takeoff waiting on the ground while its
// way would pass a descent within the clearance (its climb then comes
// after the descent instead of beside it: the double's short pool went
// uncovered 54–73 s against 11–50 s), and holding the landing instead (a
// landing was then held for a relief at its hold until its reserve was
// at stake). Here the relief climbs as before, in its own column, while
// the other comes down in its own; when its way out would pass within
// the clearance of a drone coming down (or flying in to come down) it is
// braked (ActHold, BRAKE; a `yield` event, cause "descent") at the last
// tick at which a brake still stops it clear — so its climb goes on
// beside the descent — for the least hover after which its way keeps
// the clearance, and sent on (ActResume, `yield_end`, by yields) once
// its way out keeps it, the drone coming down has landed or is held for
// the pad, or after padYieldMaxS.
//
// Coverage is never the price: it is braked only when its slot's
// incumbent can wait for it through the hover (joinBudget) and the pool
// forecast sees no gap (on a pool that is short already, each yield of
// 12–17 s delayed the handover, the incumbent's landing and the swap
// after it: the double's 8-minute packs over eight launch delays went
// uncovered 464 s against 349 s); a braked one is sent on when its
// incumbent can wait no longer. Without an incumbent on the loop (a
// first drone, a failed one's replacement) it is not braked. Its own
// pack must be able to spend the hover too. Once per way out.

// padYieldMaxS bounds (operation seconds) how long a relief is braked for
// a descent beside its way out: a descent from the highest return layer
// takes about a minute (105 m at 1.5 m/s is 70 s, most of it below the
// relief's layer by then).
const padYieldMaxS = 60

// padWaitStepS is the step (seconds) the hover a relief needs is
// searched in.
const padWaitStepS = 2

// descent is a drone of the operation coming down to its spot, or
// flying in to, as a relief's way out is judged against it.
type descent struct {
	id, state string
	t         *track
	home      p3
}

// descents are the predicted tracks of the operation's drones flying
// home (RTL, or LAND) but except, not held for the pad (a held drone
// does not come down until the pad lets it), each taken along by the
// age of its state.
func (st *step) descents(except string) []descent {
	var out []descent
	for _, m := range st.movers(except) {
		if m.state != "flying home" && m.state != "landing" {
			continue
		}
		v := st.o.vehicle(m.id)
		if v == nil || v.Role != RoleReturning || v.PadHeld != nil {
			continue
		}
		fv, ok := st.look(m.id)
		if !ok || !airborne(fv) {
			continue
		}
		t := *m.t
		t.shift = st.ageS(fv)
		out = append(out, descent{id: m.id, state: m.state, t: &t, home: st.homeOf(fv, v.Slot)})
	}
	return out
}

// descentNear says when way, flown from now, first comes within the pad
// clearance (3D) of d while d is within the clearance of its spot (its
// descent, and the last of its way in to it), or -1.
func (st *step) descentNear(way *track, d descent) float64 {
	c := st.o.padClear()
	return firstNear(way, 0, d.t, 0, crossAheadS, func(p, q p3) bool {
		return hdist(q, d.home) < c && dist3(p, q) < c
	})
}

// firstDescent is the first of ds any of ways comes within the pad
// clearance of (descentNear), and when; nil when none.
func (st *step) firstDescent(ways []*track, ds []descent) (*descent, float64) {
	for i := range ds {
		for _, w := range ways {
			if at := st.descentNear(w, ds[i]); at >= 0 {
				return &ds[i], at
			}
		}
	}
	return nil, -1
}

// waysOut are the ways v (in transit, flying its mission) may fly out
// from where its state puts it now (shifted by its age, unless braked):
// its mission (to its hold, where it stops), and — on its way to a hold
// on the last leg in, which the release sends it on from before it
// stops there, at this tick or the next — up to its layer and straight
// to the loop's entry from now or from a tick on. toLoop is how long
// until it is on its slot's loop by the first.
func (st *step) waysOut(v *VehicleState, fv fleet.Vehicle, braked bool) (ways []*track, toLoop float64) {
	p := st.o.Plans[v.Slot]
	f := st.opFrame()
	pos := f.at(fv.Lat, fv.Lon, fv.RelativeAlt)
	way := missionTrack(p, f, pos, fv.MissionSeq, crossAheadS)
	if !braked {
		way.shift = st.ageS(fv)
	}
	ways = append(ways, way)
	toLoop = way.duration() - way.shift
	hs := int(p.Plan.HoldSeq)
	if hs <= 0 || hs > len(p.Plan.Mission) || fv.MissionSeq > hs {
		return ways, toLoop
	}
	it := p.Plan.Mission[hs-1]
	hp := f.at(float64(it.X)/1e7, float64(it.Y)/1e7, float64(it.Z))
	entry := joinChoice{send: entrySend(p), join: int(p.Plan.LoopStart)}
	toLoop += wayTime(p, f, hp, entry)
	if hs != int(p.Plan.LoopStart)-1 {
		return ways, toLoop
	}
	items := p.Plan.MissionWithHome()
	for _, from := range []float64{0, st.tickS()} {
		h := 0
		q := way.at(from, &h)
		top := q
		for s := fv.MissionSeq; s > 0 && s < len(items) && s < hs; s++ {
			if items[s].Command == mavitem.CmdNavTakeoff {
				top.z = math.Max(top.z, float64(items[s].Z))
			}
		}
		on := missionTrack(p, f, top, entry.send, crossAheadS)
		direct := way.then(way.shift+from, newTrack(planSpeed(p), append([]p3{q}, on.pts...)...))
		direct.shift = way.shift
		ways = append(ways, direct)
	}
	return ways, toLoop
}

// padYields brakes a relief on its way out of the pad when its way would
// pass within the pad clearance of a drone coming down to another spot
// (the yield is ended by yields, judged by padInWay).
func (st *step) padYields() {
	if st.pad == nil {
		return
	}
	for _, v := range st.o.Vehicles {
		if v.YieldTo == "" {
			v.YieldPad = false
		}
		if v.Role != RoleTransit || v.Slot < 0 || v.Slot >= len(st.o.Plans) || v.YieldTo != "" || v.padYieldLaunch.Equal(v.launchAt) {
			continue
		}
		p := st.o.Plans[v.Slot]
		fv, ok := st.look(v.ID)
		// In the air on its way out (a drone on the ground would disarm
		// in BRAKE; one at its hold stands where it stands).
		if !ok || !fv.Connected || fv.Mode != "AUTO" || !airborne(fv) || fv.RelativeAlt < 1 ||
			fv.MissionSeq < 1 || atHold(p, fv) {
			continue
		}
		ds := st.descents(v.ID)
		if len(ds) == 0 {
			continue
		}
		ways, toLoop := st.waysOut(v, fv, false)
		in, at := st.firstDescent(ways, ds)
		if in == nil {
			continue
		}
		// Braked at the next tick (two, for a tick that comes late) a
		// hover would do too: it climbs on beside the descent and is
		// judged again then.
		wait := st.padWait(ways, ds, 0)
		if wait < 0 || st.padWait(ways, ds, 2*st.tickS()) >= 0 {
			continue
		}
		h := 0
		if st.onSomeonesWay(v.ID, st.stoppedTrack(ways[0]).at(crossAheadS, &h)) != "" {
			continue // stopped there it would sit on another drone's way
		}
		inc, _, _ := st.incumbent(v)
		if inc == "" || st.o.Gap != nil || toLoop+wait > st.joinBudget(inc) || st.leaveIn(v, fv) < toLoop+wait {
			continue
		}
		now := st.now
		v.YieldTo, v.YieldSince, v.resumedAt, v.YieldPad, v.padYieldLaunch, v.resumeFails = in.id, &now, time.Time{}, true, v.launchAt, 0
		st.acts = append(st.acts, Action{Kind: ActHold, VehicleID: v.ID, Slot: v.Slot})
		st.notes = append(st.notes, Note{VehicleID: v.ID, Kind: fleet.EventOperation, Severity: fleet.SeverityWarning,
			Message: fmt.Sprintf("%s brakes on its way out (%.0f m up) while %s, %s, comes down beside it (operation %s): flying on it would pass within %.0f m of it in %.0f s; about %.0f s",
				v.ID, math.Max(fv.RelativeAlt, 0), in.id, in.state, st.o.ID, st.o.padClear(), at, wait),
			Fields: map[string]any{"operation_id": st.o.ID, "action": "yield", "cause": "descent", "slot": v.Slot, "other_vehicle_id": in.id, "yield_vehicle_id": v.ID}})
	}
}

// padWait is the least hover (operation seconds, within padYieldMaxS,
// in padWaitStepS) where a brake sent later seconds from now stops the
// drone flying ways, the resume then taking the command's round trip,
// after which none of its ways comes within the pad clearance of a
// descent of ds; -1 when none is.
func (st *step) padWait(ways []*track, ds []descent, later float64) float64 {
	for w := 0.0; w <= padYieldMaxS; w += padWaitStepS {
		var paused []*track
		for _, t := range ways {
			paused = append(paused, t.pausedAt(t.shift+later+st.o.LatencyS+padBrakeS, w+st.o.LatencyS))
		}
		if d, _ := st.firstDescent(paused, ds); d == nil {
			return w
		}
	}
	return -1
}

// pausedAt is t with the drone hovering d seconds where it is at s (on
// t's own clock), the rest flown that much later.
func (t *track) pausedAt(s, d float64) *track {
	k := 0
	for k < len(t.end) && t.end[k] <= s {
		k++
	}
	h := 0
	q := *t
	q.shift = 0
	at := q.at(s, &h)
	c := &track{shift: t.shift, pts: slices.Clone(t.pts[:k+1]), end: slices.Clone(t.end[:k])}
	c.pts = append(c.pts, at, at)
	c.end = append(c.end, s, s+d)
	c.pts = append(c.pts, t.pts[k+1:]...)
	for _, e := range t.end[k:] {
		c.end = append(c.end, e+d)
	}
	return c
}

// padInWay says how a drone coming down beside the way out of y (braked
// by padYields) would still come within the pad clearance of it were y
// sent on now (at once or after the command's round trip), or ""; and
// how long y may be braked: padYieldMaxS, or no longer when its slot's
// incumbent cannot wait for it any more (why then says so).
func (st *step) padInWay(y *VehicleState, fy fleet.Vehicle) (string, float64) {
	if y.Slot < 0 || y.Slot >= len(st.o.Plans) {
		return "", 0
	}
	ways, toLoop := st.waysOut(y, fy, true)
	var sent []*track
	for _, w := range ways {
		for _, delay := range []float64{0, st.o.LatencyS} {
			t, _ := w.heldUntil(0, delay)
			sent = append(sent, t)
		}
	}
	d, at := st.firstDescent(sent, st.descents(y.ID))
	if d == nil {
		return "", padYieldMaxS
	}
	why := fmt.Sprintf("%s, %s, would come within %.0f m of its way out in %.0f s", d.id, d.state, st.o.padClear(), at)
	if inc, _, _ := st.incumbent(y); inc == "" || toLoop > st.joinBudget(inc) {
		return "its slot's incumbent cannot wait for it longer: " + why, 0
	}
	return why, padYieldMaxS
}
