package operations

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/missions"
)

// Joining the loop where the incumbent is.
//
// Issue 13 asks that a replacement "takes up the patrol where the
// incumbent is". A relief waits at its plan's hold; sent on to the loop's
// entry whatever the phase of the drone it relieves, it could join half a
// lap behind it, and the half lap ahead of the incumbent — the part it
// was about to revisit — went unwatched until the relief came round.
// So at plan time each slot lists the loop waypoints a drone at the hold
// may fly to straight (JoinSeqs: that leg, from the hold's altitude to
// the waypoint's, passes every rule the planner's checker applies to a
// leg — fence, no-fly zones, altitude band — and keeps the plan-time
// separation from the other slots' flights); at release the scheduler
// picks the nearest of them behind the incumbent whose predicted way in
// keeps clear of the slot's other drones (releaseClear), falling back
// along the loop towards its entry, and last to the plan's own way in.

// joinSeqs lists the loop waypoints (by item seq) of plans[i] that a drone
// waiting at its hold may be sent to straight (MISSION_SET_CURRENT):
// each such leg is judged by the planner's own checker, as a plan that
// flies the way in up to the hold and then the leg (a transit leg, as the
// rest of the way in is), against the other slots' plans. Nil without a
// hold or a loop.
func joinSeqs(chk *missions.Checker, plans []*missions.DronePlan, i int) []int {
	dp := plans[i]
	hs, first, jump := int(dp.HoldSeq), int(dp.LoopStart), int(dp.JumpSeq)
	if hs == 0 || first == 0 || jump <= first || hs > len(dp.Mission) || jump > len(dp.Mission)+1 {
		return nil
	}
	others := missions.PlanSet{Label: "slots"}
	for j, o := range plans {
		if j != i {
			others.Plans = append(others.Plans, o)
		}
	}
	var out []int
	for s := first; s < jump; s++ {
		it := dp.Mission[s-1]
		if it.Seq != uint16(s) || it.Command != mavitem.CmdNavWaypoint {
			continue
		}
		hyp := *dp
		js := uint16(hs + 1)
		hyp.Mission = append(slices.Clone(dp.Mission[:hs]), it)
		hyp.Mission[hs].Seq = js
		hyp.Transit = append(slices.Clone(dp.Transit), js)
		hyp.LoopStart, hyp.JumpSeq = 0, 0
		clear := true
		for _, v := range chk.Check([]*missions.DronePlan{&hyp}) {
			if v.Seq == js {
				clear = false
			}
		}
		if clear && len(others.Plans) > 0 {
			for _, v := range chk.CheckAgainst([]*missions.DronePlan{&hyp}, []missions.PlanSet{others}) {
				if v.Seq == js {
					clear = false
				}
			}
		}
		if clear {
			out = append(out, s)
		}
	}
	return out
}

// loopSeqs are p's loop waypoints in flying order (items LoopStart to
// JumpSeq-1 that are waypoints).
func loopSeqs(p SlotPlan) []int {
	dp := p.Plan
	var out []int
	for s := int(dp.LoopStart); s > 0 && s < int(dp.JumpSeq) && s <= len(dp.Mission); s++ {
		if it := dp.Mission[s-1]; it.Seq == uint16(s) && it.Command == mavitem.CmdNavWaypoint {
			out = append(out, s)
		}
	}
	return out
}

// entrySend is the item a drone at its hold is sent to for the plan's
// own way in: the item after the hold (with a transit layer, the point
// over the loop's entry at that layer, from which it descends), which
// leads to LoopStart as the plan was checked.
func entrySend(p SlotPlan) int {
	dp := p.Plan
	if dp.HoldSeq != 0 && dp.HoldSeq+1 < dp.LoopStart {
		return int(dp.HoldSeq) + 1
	}
	return int(dp.LoopStart)
}

// joinMarginS is the least time (seconds) a relief joining behind the
// incumbent must leave between reaching its join waypoint and the
// incumbent's last moment on the loop (its must-leave time, or the start
// of the legs it cannot be sent home from): a later join would trade
// covered time for revisit age. (Without it the real-simulator 3-hour
// operation went uncovered 129 s: reliefs stopped at the hold and
// crossed the loop while their incumbents had to leave.)
const joinMarginS = 30

// joinBudget is how long (operation seconds) a relief of the incumbent
// inc (incumbent) may still take to be on the loop: the incumbent's time
// on station (before its must-leave time, or the legs it cannot be sent
// home from) less joinMarginS; 0 without one.
func (st *step) joinBudget(inc string) float64 {
	w := st.o.vehicle(inc)
	if w == nil {
		return 0
	}
	ifv, ok := st.look(inc)
	if !ok {
		return 0
	}
	return st.leaveIn(w, ifv) - max(st.blockedAhead(w, ifv), 0) - joinMarginS
}

// joinChoice is one way onto the loop: send is the item the relief is
// sent to (MISSION_SET_CURRENT), join the loop waypoint it takes up the
// patrol at, why what the release event says of it.
type joinChoice struct {
	send, join int
	why        string
}

// joinCandidates lists, best first, where v (at its hold, or on its way
// to it) may join its slot's loop: every JoinSeqs waypoint and the plan's
// way in to the loop's entry, ordered by how far behind the incumbent the
// relief would be when it gets there (the incumbent flying on along the
// loop at the plan's speed meanwhile). That distance is what the relief
// then has to fly before it is where the incumbent left the loop, so the
// least of it leaves the least of the loop unwatched; joining ahead of
// the incumbent would leave the stretch between them unwatched for a lap.
// Without an incumbent on the loop (or a loop of plain waypoints), only
// the plan's way in. A drone still on the last leg to its hold may only
// go on along that line to the entry (the join legs are judged from the
// hold), as before: only a relief that stopped at the hold (its way was
// not clear on arrival) chooses.
func (st *step) joinCandidates(v *VehicleState, fv fleet.Vehicle) []joinChoice {
	p := st.o.Plans[v.Slot]
	first := int(p.Plan.LoopStart)
	entry := joinChoice{send: entrySend(p), join: first, why: "the loop's entry"}
	inc, seq, at := st.incumbent(v)
	g := st.o.loop(v.Slot)
	budget := st.joinBudget(inc)
	if inc == "" || g == nil || len(p.JoinSeqs) == 0 {
		if inc == "" {
			entry.why = "no drone of the slot on the loop: the loop's entry"
		}
		return []joinChoice{entry}
	}
	f := newFrame(p.Plan.Home.Lat, p.Plan.Home.Lon)
	from := f.at(fv.Lat, fv.Lon, fv.RelativeAlt)
	speed, total := planSpeed(p), g.total()
	// From the hold, for a drone still on its way there.
	hp := f.at(float64(p.Plan.Mission[p.Plan.HoldSeq-1].X)/1e7, float64(p.Plan.Mission[p.Plan.HoldSeq-1].Y)/1e7, float64(p.Plan.Mission[p.Plan.HoldSeq-1].Z))
	toHoldS := newTrack(speed, from, hp).duration()
	cs := []joinChoice{entry}
	for _, s := range p.JoinSeqs {
		// Only a way that has it on the loop before the incumbent must
		// leave: the relief's way in is what keeps the slot covered.
		if c := (joinChoice{send: s, join: s}); s != entry.send && toHoldS+wayTime(p, f, hp, c) <= budget {
			cs = append(cs, c)
		}
	}
	gap := make(map[int]float64, len(cs))
	for _, c := range cs {
		t := wayTime(p, f, from, c)
		gap[c.send] = math.Mod(math.Mod(at+speed*t-joinPos(g, p, c.join), total)+total, total)
	}
	slices.SortStableFunc(cs, func(a, b joinChoice) int { return cmp.Compare(gap[a.send], gap[b.send]) })
	for i := range cs {
		c := &cs[i]
		what := fmt.Sprintf("item %d", c.join)
		if c.send == entry.send {
			what = "the loop's entry"
		}
		c.why = fmt.Sprintf("%s, joined %.0f m behind %s (flying to item %d)", what, gap[c.send], inc, seq)
	}
	if !atHold(p, fv) {
		// On the last leg to the hold it goes on along that line to the
		// entry, not stopping (the join legs are judged from the hold).
		// Stopping at the hold for a nearer way cost the real-simulator
		// 3-hour operation minutes of transit and gaps.
		for _, c := range cs {
			if c.send == entry.send {
				return []joinChoice{c}
			}
		}
	}
	return cs
}

// incumbent is the drone covering v's slot on its loop, the item it
// flies to and how far along the loop it is (metres, revisit.go); ""
// when none does.
func (st *step) incumbent(v *VehicleState) (string, int, float64) {
	p := st.o.Plans[v.Slot]
	first, jump := int(p.Plan.LoopStart), int(p.Plan.JumpSeq)
	for _, w := range st.o.Vehicles {
		if w.ID == v.ID || w.Slot != v.Slot || w.Role != RoleStation {
			continue
		}
		fv, ok := st.look(w.ID)
		if !ok || !fv.Armed || fv.Mode != "AUTO" {
			continue
		}
		seq := fv.MissionSeq
		if seq == jump {
			seq = first // shown on the DO_JUMP: flying to the entry
		}
		if seq >= first && seq < jump {
			at := 0.0
			if g := st.o.loop(v.Slot); g != nil {
				at = g.pos(first, seq, fv)
			}
			return w.ID, seq, at
		}
	}
	return "", 0, 0
}

// joined reports whether fv, sent onto the loop at join (0: the loop's
// entry), flies its slot's patrol loop: AUTO, armed, past that waypoint
// and not beyond the DO_JUMP.
func joined(fv fleet.Vehicle, p SlotPlan, join int) bool {
	if join == 0 {
		join = int(p.Plan.LoopStart)
	}
	s := fv.MissionSeq
	return fv.Armed && fv.Mode == "AUTO" && s >= int(p.Plan.LoopStart) && s <= int(p.Plan.JumpSeq) && s != join
}

// joinPos is how far along the loop (metres, revisit.go) its waypoint
// join lies.
func joinPos(g *loopGeom, p SlotPlan, join int) float64 {
	k := join - int(p.Plan.LoopStart)
	if g == nil || k <= 0 || k >= len(g.pts) {
		return 0
	}
	return g.cum[k]
}

// wayTime is how long a drone at from takes to fly c's way onto the loop
// at the plan's speed: straight to c.send, then item by item to c.join.
func wayTime(p SlotPlan, f frame, from p3, c joinChoice) float64 {
	pts := []p3{from}
	for s := c.send; s <= c.join && s <= len(p.Plan.Mission); s++ {
		if it := p.Plan.Mission[s-1]; it.Command == mavitem.CmdNavWaypoint {
			pts = append(pts, f.at(float64(it.X)/1e7, float64(it.Y)/1e7, float64(it.Z)))
		}
	}
	return newTrack(planSpeed(p), pts...).duration()
}
