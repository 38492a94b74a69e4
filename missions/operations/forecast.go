package operations

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/burgut-uav/burgut/fleet"
)

// gapMoved is how far (seconds) a predicted gap's start must move before
// the alert is raised again.
const gapMoved = 60

// gapClearS is how long (seconds of operation time) the forecast must
// show no gap at all before the announced gaps that have not begun are
// called off (coverage_gap_cleared). Not a gap's own absence: a short
// pool's gaps move between slots and by minutes from tick to tick as the
// drones' learned rates move, and calling off each one the forecast lost
// sight of called off 42 in the double's 10-minute short pool, 36 of
// which came after all (forecast_test.go). While any gap is predicted
// the shortfall stands, and so do its alerts.
const gapClearS = 60

// announcedGap is a gap raised as an alert, and since when (operation
// time) the forecast has shown no gap at all (zero: it shows one).
type announcedGap struct {
	PredictedGap
	absent time.Time
}

// forecast plays the rotation forward to the window's end with the pool as
// it stands: each slot is covered until its drone must leave; the drone
// that replaces it is the pool vehicle available first (ready now, or
// after its flight home and the swap), on station for what a full pack
// gives at its learned rate. When no vehicle can be launched in time the
// slot has a gap. Every gap is kept (o.Gaps, ordered by start; o.Gap is
// the first) and each is raised as a coverage_gap_predicted alert before
// it begins, with its start time — once: a gap that overlaps one already
// announced and not yet over, or starts within gapMoved of it, of any
// slot (sameGap), is the same gap, and is raised again only when it now
// starts gapMoved or more earlier (later is good news). Compared by slot
// and start alone, a short pool's gaps, which move from tick to tick
// with every drone's learned rate, were raised ~26 times each in the
// double's rotations (forecast_test.go). Once the forecast has shown no
// gap at all for gapClearS (the first flights showed the planning
// estimates too long, a drone came back sooner), each announced gap that
// has not begun is called off with a coverage_gap_cleared operation
// event, so the crew who read the alert reads that it no longer stands;
// one that began is the coverage_gap's business.
func (st *step) forecast() {
	o := st.o
	gs := o.predictGaps(st.now, st.look)
	o.Gaps, o.Gap = gs, nil
	kept := o.announced[:0]
	for _, a := range o.announced {
		if !a.End.After(st.now) {
			continue
		}
		switch {
		case !a.Start.After(st.now) || len(gs) > 0:
			a.absent = time.Time{}
		case a.absent.IsZero():
			a.absent = st.now
		case st.now.Sub(a.absent).Seconds() >= gapClearS:
			st.note(st.slotVehicle(a.Slot), fleet.SeverityInfo, "coverage_gap_cleared", "operation %s: the gap predicted for slot %d from %s to %s is no longer predicted", o.ID, a.Slot, a.Start.Format(time.RFC3339), a.End.Format(time.RFC3339))
			st.lastNote()["slot"], st.lastNote()["gap_start"], st.lastNote()["gap_end"] = a.Slot, a.Start, a.End
			continue
		}
		kept = append(kept, a)
	}
	o.announced = kept
	for _, g := range gs {
		k := slices.IndexFunc(o.announced, func(a announcedGap) bool { return sameGap(a.PredictedGap, g) })
		if k >= 0 && g.Start.After(o.announced[k].Start.Add(-gapMoved*time.Second)) {
			o.announced[k].End = maxTime(o.announced[k].End, g.End)
			continue
		}
		if k >= 0 {
			o.announced[k] = announcedGap{PredictedGap: g}
		} else {
			o.announced = append(o.announced, announcedGap{PredictedGap: g})
		}
		st.notes = append(st.notes, Note{VehicleID: st.slotVehicle(g.Slot), Kind: fleet.EventCoverageGapPredicted, Severity: fleet.SeverityWarning,
			Message: fmt.Sprintf("operation %s: the pool cannot cover slot %d from %s to %s", o.ID, g.Slot, g.Start.Format(time.RFC3339), g.End.Format(time.RFC3339)),
			Fields:  map[string]any{"operation_id": o.ID, "slot": g.Slot, "gap_start": g.Start, "gap_end": g.End, "gap_s": g.End.Sub(g.Start).Seconds()}})
	}
	if len(gs) > 0 {
		g := gs[0]
		o.Gap = &g
	}
}

// slotVehicle is the drone covering slot i ("" for none), whom the
// forecast's events are about.
func (st *step) slotVehicle(i int) string {
	return st.o.Slots[i].VehicleID
}

// sameGap says whether g is a re-prediction of the gap p (overlapping it
// or starting within gapMoved of it). Of any slot: which slot of a short
// pool goes uncovered first depends on which drone comes back first, and
// flips from tick to tick as their learned rates move; the shortfall is
// the news.
func sameGap(p, g PredictedGap) bool {
	return g.Start.Before(p.End) && p.Start.Before(g.End) || math.Abs(p.Start.Sub(g.Start).Seconds()) < gapMoved
}

type poolEntry struct {
	at   float64 // seconds from now until it can be launched
	rate float64
}

// predictGaps is the forecast itself (no side effects): every gap it
// finds, ordered by start.
//
// It plays the rotation as the scheduler flies it: a relief is launched
// its lead, the margin and the early leave before the incumbent must
// leave, and the incumbent is sent home when the relief arrives (the
// handover), not at its must-leave time, or at that time, less the
// scheduler's margins, when the relief comes too late (a gap); a pack
// lasts for the flight out (flownLeadS), the patrol and the flight home
// (returnS). Modelling the relieved drone's return as its must-leave time
// plus a lead, and a pack's way out and home as two leads of the
// estimate, put every drone back in the pool minutes late and predicted
// gaps on pools that covered every slot (the double's rotations,
// forecast_test.go).
func (o *Operation) predictGaps(now time.Time, look Observe) []PredictedGap {
	endIn := o.End.Sub(now).Seconds()
	startIn := o.Start.Sub(now).Seconds()
	if endIn <= 0 {
		return nil
	}
	swap := o.Params.SwapS
	var pool []poolEntry
	var gaps []PredictedGap
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
		return (100-o.Params.ReservePct)/rate - o.flownLeadS(i) - o.returnS(i)
	}
	// arriving is how long each drone on its way in still needs to its
	// slot (from its launch, at the slot's lead).
	arriving := func(v *VehicleState) float64 {
		elapsed := now.Sub(v.launchAt).Seconds()
		if v.launchAt.IsZero() {
			elapsed = 0
		}
		return math.Max(o.flownLeadS(v.Slot)-elapsed, 0)
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
			// When the scheduler sends it home (leaveIn: less the RTL's
			// margin and the station's command latency).
			left := math.Max(pr.LeaveInS-leaveMarginS-o.LatencyS, 0)
			if sl := o.Slots[v.Slot]; sl.Incoming == "" || sl.Incoming == v.ID {
				// Goes back to the pool when relieved (below).
				slots[v.Slot].until = math.Max(slots[v.Slot].until, left)
				slots[v.Slot].rate = pr.Rate
			} else {
				// Relieved when its relief arrives, if it may stay that
				// long; if not, the slot is uncovered between the two.
				if in := o.vehicle(sl.Incoming); in != nil && (in.Role == RoleLaunching || in.Role == RoleTransit) {
					if arrive := arriving(in); arrive > left+1 && left < endIn {
						gaps = append(gaps, PredictedGap{Slot: v.Slot, Start: now.Add(secs(math.Max(left, startIn))), End: now.Add(secs(math.Min(arrive, endIn)))})
					} else {
						left = arrive
					}
				}
				pool = append(pool, poolEntry{left + pr.ReturnS + swap, pr.Rate})
			}
		case RoleLaunching, RoleTransit:
			arrive := arriving(v)
			slots[v.Slot].until = math.Max(slots[v.Slot].until, arrive+stationFor(v.Slot, rate))
			slots[v.Slot].rate = rate
		}
	}
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
			gaps = append(gaps, PredictedGap{Slot: si, Start: now.Add(secs(math.Max(need, 0))), End: o.End})
			slots[si].until = math.Inf(1)
			continue
		}
		e := pool[pi]
		pool = append(pool[:pi], pool[pi+1:]...)
		launch := math.Max(launchAt, e.at)
		arrive := launch + o.flownLeadS(si)
		if arrive > need && need < endIn {
			g := PredictedGap{Slot: si, Start: now.Add(secs(math.Max(need, 0))), End: now.Add(secs(math.Min(arrive, endIn)))}
			if g.End.After(g.Start.Add(time.Second)) {
				gaps = append(gaps, g)
			}
		}
		// The drone it relieves goes home when the relief arrives (or
		// when it must, if that is sooner) and is swapped.
		if !math.IsInf(slots[si].until, -1) && slots[si].rate > 0 {
			left := math.Max(math.Min(arrive, slots[si].until), 0)
			pool = append(pool, poolEntry{left + o.returnS(si) + swap, slots[si].rate})
		}
		stay := stationFor(si, e.rate)
		if stay <= 0 {
			// A pack that cannot even reach the slot and back: the slot
			// cannot be covered by this pool.
			gaps = append(gaps, PredictedGap{Slot: si, Start: now.Add(secs(math.Max(need, 0))), End: o.End})
			slots[si].until = math.Inf(1)
			continue
		}
		slots[si].until = arrive + stay
		slots[si].rate = e.rate
	}
	sort.SliceStable(gaps, func(i, j int) bool { return gaps[i].Start.Before(gaps[j].Start) })
	return gaps
}

// flownLeadS is how long a drone of slot i takes from its launch to
// station: as last measured for the slot (Slot.TransitS), else the
// scheduler's lead. The scheduler launches by its lead (leadNoMargin: the
// longest recent measurement or the estimate from the transit, climb
// and setup, whichever is longer — early rather than late); the forecast
// needs when the drone really arrives and what the way out takes from
// its pack, and the estimate's 60 s setup put arrivals 30–60 s late in
// the double's rotations.
func (o *Operation) flownLeadS(i int) float64 {
	if t := o.Slots[i].TransitS; t > 0 {
		return t
	}
	return o.leadNoMargin(i)
}

// returnS is the flight home of a drone of slot i relieved on its loop:
// as measured for the slot (Slot.ReturnS), else the predictor's return
// (Predict, as for a drone on station) from the loop's first waypoint,
// climbing to the slot's return layer (a relief is on its way in when it
// leaves).
func (o *Operation) returnS(i int) float64 {
	if r := o.Slots[i].ReturnS; r > 0 {
		return r
	}
	p := o.Plans[i]
	home := p.Plan.Home
	dist := p.TransitM
	if p.LoopLat != 0 || p.LoopLon != 0 {
		dist = distM(p.LoopLat, p.LoopLon, home.Lat, home.Lon)
	}
	alt := math.Max(math.Max(rtlAlt(p.Plan), p.Plan.TransitAlt), p.ReturnAlt)
	return Predict(PredictInput{PriorRate: 100 / o.Params.EnduranceS, Pct: 100, DistHomeM: dist, AltM: returnHeight(p.Plan.Alt, alt),
		Cruise: p.Plan.Speed, Reserve: o.Params.ReservePct}).ReturnS
}
