package operations

import (
	"fmt"
	"math"
	"time"

	"github.com/burgut-uav/burgut/fleet"
)

// gapMoved is how far (seconds) a predicted gap's start must move before
// the alert is raised again.
const gapMoved = 60

// forecast plays the rotation forward to the window's end with the pool as
// it stands: each slot is covered until its drone must leave; the drone
// that replaces it is the pool vehicle available first (ready now, or
// after its flight home and the swap), on station for what a full pack
// gives at its learned rate. When no vehicle can be launched in time the
// slot has a gap: the first one is kept in o.Gap and raised as a
// coverage_gap_predicted alert before it begins, with its start time.
func (st *step) forecast() {
	o := st.o
	g := o.predictGap(st.now, st.look)
	prev := o.Gap
	o.Gap = g
	if g == nil {
		return
	}
	if prev != nil && prev.Slot == g.Slot && math.Abs(prev.Start.Sub(g.Start).Seconds()) < gapMoved {
		o.Gap = prev // the same gap: keep the time first announced
		return
	}
	vid := ""
	if sl := o.Slots[g.Slot]; sl.VehicleID != "" {
		vid = sl.VehicleID
	}
	st.notes = append(st.notes, Note{VehicleID: vid, Kind: fleet.EventCoverageGapPredicted, Severity: fleet.SeverityWarning,
		Message: fmt.Sprintf("operation %s: the pool cannot cover slot %d from %s to %s", o.ID, g.Slot, g.Start.Format(time.RFC3339), g.End.Format(time.RFC3339)),
		Fields:  map[string]any{"operation_id": o.ID, "slot": g.Slot, "gap_start": g.Start, "gap_end": g.End, "gap_s": g.End.Sub(g.Start).Seconds()}})
}

type poolEntry struct {
	at   float64 // seconds from now until it can be launched
	rate float64
}

// predictGap is the forecast itself (no side effects): the first gap, or
// nil.
func (o *Operation) predictGap(now time.Time, look Observe) *PredictedGap {
	endIn := o.End.Sub(now).Seconds()
	startIn := o.Start.Sub(now).Seconds()
	if endIn <= 0 {
		return nil
	}
	swap := o.Params.SwapS
	var pool []poolEntry
	type slotF struct {
		until float64 // covered until, seconds from now
		rate  float64 // consumption of the drone covering it
	}
	slots := make([]slotF, len(o.Slots))
	for i := range slots {
		slots[i].until = math.Inf(-1) // nobody: needs a drone now
	}
	stationFor := func(i int, rate float64) float64 {
		// A full pack minus the reserve, the flight out and the flight home.
		return (100-o.Params.ReservePct)/rate - 2*o.leadNoMargin(i)
	}
	for _, v := range o.Vehicles {
		fv, ok := look(v.ID)
		rate := o.priorRate(v)
		switch v.Role {
		case RolePool:
			if !ok || !fv.Connected {
				continue
			}
			at := 0.0
			if !o.ready(v, fv) {
				at = swap
				if !v.LandedAt.IsZero() {
					at = math.Max(0, v.LandedAt.Add(secs(swap)).Sub(now).Seconds())
				}
			}
			pool = append(pool, poolEntry{at, rate})
		case RoleReturning:
			ret := 0.0
			if ok {
				ret = o.prediction(v, fv).ReturnS
			}
			pool = append(pool, poolEntry{ret + swap, rate})
		case RoleStation:
			if !ok {
				continue
			}
			pr := o.prediction(v, fv)
			left := math.Max(pr.LeaveInS, 0)
			if sl := o.Slots[v.Slot]; sl.Incoming == "" || sl.Incoming == v.ID {
				// Goes back to the pool when relieved (below).
				slots[v.Slot].until = math.Max(slots[v.Slot].until, left)
				slots[v.Slot].rate = pr.Rate
			} else {
				pool = append(pool, poolEntry{left + pr.ReturnS + swap, pr.Rate})
			}
		case RoleLaunching, RoleTransit:
			elapsed := now.Sub(v.launchAt).Seconds()
			if v.launchAt.IsZero() {
				elapsed = 0
			}
			arrive := math.Max(o.leadNoMargin(v.Slot)-elapsed, 0)
			slots[v.Slot].until = math.Max(slots[v.Slot].until, arrive+stationFor(v.Slot, rate))
			slots[v.Slot].rate = rate
		}
	}
	var first *PredictedGap
	for iter := 0; iter < 100*len(slots)+1000; iter++ {
		// The slot whose cover ends first.
		si := -1
		for i := range slots {
			if si < 0 || slots[i].until < slots[si].until {
				si = i
			}
		}
		if si < 0 || slots[si].until >= endIn {
			break
		}
		need := math.Max(slots[si].until, startIn) // no cover is needed before the window
		leadNM := o.leadNoMargin(si)
		launchAt := need - leadNM - o.Params.MarginS - o.earlyLeaveS(si) // as schedule launches
		pi := -1
		for j := range pool {
			if pi < 0 || pool[j].at < pool[pi].at {
				pi = j
			}
		}
		if pi < 0 {
			g := &PredictedGap{Slot: si, Start: now.Add(secs(math.Max(need, 0))), End: o.End}
			if first == nil || g.Start.Before(first.Start) {
				first = g
			}
			slots[si].until = math.Inf(1)
			continue
		}
		e := pool[pi]
		pool = append(pool[:pi], pool[pi+1:]...)
		launch := math.Max(launchAt, e.at)
		arrive := launch + leadNM
		if arrive > need && need < endIn {
			g := &PredictedGap{Slot: si, Start: now.Add(secs(math.Max(need, 0))), End: now.Add(secs(math.Min(arrive, endIn)))}
			if g.End.After(g.Start.Add(time.Second)) && (first == nil || g.Start.Before(first.Start)) {
				first = g
			}
		}
		// The drone it relieves goes home and is swapped.
		if !math.IsInf(slots[si].until, -1) && slots[si].rate > 0 {
			pool = append(pool, poolEntry{math.Max(slots[si].until, 0) + leadNM + swap, slots[si].rate})
		}
		stay := stationFor(si, e.rate)
		if stay <= 0 {
			// A pack that cannot even reach the slot and back: the slot
			// cannot be covered by this pool.
			g := &PredictedGap{Slot: si, Start: now.Add(secs(math.Max(need, 0))), End: o.End}
			if first == nil || g.Start.Before(first.Start) {
				first = g
			}
			slots[si].until = math.Inf(1)
			continue
		}
		slots[si].until = arrive + stay
		slots[si].rate = e.rate
	}
	return first
}
