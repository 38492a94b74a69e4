package operations

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/burgut-uav/burgut/fleet"
)

// ActionKind is what the scheduler asks the station to do.
type ActionKind string

// Actions.
const (
	// ActLaunch uploads the slot's mission (unless the vehicle holds it)
	// and launches the vehicle; the runner reports back with LaunchDone.
	ActLaunch ActionKind = "launch"
	// ActReturn sends the vehicle home (RTL); ReturnDone reports back.
	ActReturn ActionKind = "return"
	// ActContinue sends a vehicle waiting at its plan's hold on to the
	// loop: its current mission item becomes Seq (the loop's entry);
	// ContinueDone reports back.
	ActContinue ActionKind = "continue"
	// ActHold stops a drone flying home where it is until the pad is
	// clear (pad.go); ActReturn sends it on. HoldDone reports back. It
	// also brakes a drone flying its mission that yields to another's
	// forced return (yield.go).
	ActHold ActionKind = "hold"
	// ActResume sends a drone braked for another's return on with its
	// mission (mode AUTO: it resumes at its current item); ResumeDone
	// reports back.
	ActResume ActionKind = "resume"
)

// Action is one command for the runner to carry out.
type Action struct {
	Kind      ActionKind
	VehicleID string
	Slot      int
	// Upload is false when the vehicle already holds the slot's mission.
	Upload bool
	// Seq is the mission item ActContinue makes current.
	Seq int
	// RTLAlt, for ActReturn, is the RTL_ALT (metres) to set before the
	// RTL: the slot's return layer, or the plan's RTL altitude again after
	// one; 0 leaves the vehicle's RTL_ALT as it is. For ActLaunch it is the
	// plan's RTL altitude, to set before a launch without an upload of a
	// vehicle whose last return raised it (an upload sets it anyway).
	RTLAlt float64
}

// Note is an event the operation raises; the runner puts it on the fleet's
// event stream (API, MQTT, WebSocket) as a fleet.Event of that kind.
type Note struct {
	VehicleID string
	Kind      fleet.EventKind
	Severity  fleet.Severity
	Message   string
	Fields    map[string]any
}

// Observe looks a vehicle up in the live fleet. The state's LastSeen is
// on the wall Step is given (the Manager's scheduler clock, Manager.observe).
type Observe func(id string) (fleet.Vehicle, bool)

// maxSamples bounds a drone's battery history (the learned rate uses the
// newest; at 1 Hz this is over half an hour).
const maxSamples = 2048

// startGrace is how long (wall time) after a launch the vehicle may still
// report its pre-launch mode before not flying AUTO counts as a failure.
const startGrace = 5 * time.Second

// Step is one scheduler tick at wall time wall: it observes every pool
// vehicle, accounts coverage since the previous tick, and decides what to
// launch and whom to send home. It changes o and returns the commands for
// the runner and the events to publish. Step does no I/O.
func (o *Operation) Step(wall time.Time, look Observe) ([]Action, []Note) {
	st := &step{o: o, wall: wall, now: o.Now(wall), look: look}
	if !o.Active() {
		// Over: only see the drones it sent home land.
		for _, v := range o.Vehicles {
			if v.Role == RoleReturning {
				st.observe(v)
			}
		}
		st.padInit()
		st.padReturns()
		return st.acts, st.notes
	}
	if o.Last.IsZero() || o.Last.After(st.now) {
		o.Last = st.now
	}
	for _, v := range o.Vehicles {
		st.observe(v)
	}
	st.yields()
	st.padInit()
	st.padReturns()
	st.padYields()
	st.account()
	switch {
	case !st.now.Before(o.End):
		st.finish(fmt.Sprintf("the window ended at %s", o.End.Format(time.RFC3339)))
	case o.State == StateScheduled && !st.now.Before(o.Start):
		o.State = StateRunning
		st.note("", fleet.SeverityInfo, "started", "operation %s started", o.ID)
	}
	if o.Active() {
		if st.allFailed() {
			o.State, o.Reason = StateFailed, "every vehicle of the pool failed"
			st.endGaps()
			st.note("", fleet.SeverityCritical, "failed", "operation %s failed: %s", o.ID, o.Reason)
			st.sendEveryoneHome()
		} else if !o.Paused {
			st.schedule()
			st.release()
		}
		if !st.wall.Before(o.resumeUntil) {
			st.forecast()
		}
	}
	o.Last = st.now
	clear(o.alarms)
	return st.acts, st.notes
}

type step struct {
	pad   *padState // nil until padInit
	o     *Operation
	wall  time.Time
	now   time.Time
	look  Observe
	acts  []Action
	notes []Note
}

func (st *step) note(vid string, sev fleet.Severity, action, format string, args ...any) {
	kind := fleet.EventOperation
	st.notes = append(st.notes, Note{VehicleID: vid, Kind: kind, Severity: sev, Message: fmt.Sprintf(format, args...),
		Fields: map[string]any{"operation_id": st.o.ID, "action": action}})
}

func (st *step) lastNote() map[string]any { return st.notes[len(st.notes)-1].Fields }

func landed(fv fleet.Vehicle) bool {
	return !fv.Armed && (fv.LandedState == "" || fv.LandedState == "on_ground")
}

// failure says why a vehicle that should fly its slot's mission no longer
// does ("" when it does).
func (st *step) failure(v *VehicleState, fv fleet.Vehicle, ok bool) string {
	if st.wall.Before(st.o.resumeUntil) && (!ok || !fv.Connected) {
		return "" // the station just started: not heard yet is not lost
	}
	switch {
	case !ok:
		return "vehicle unknown to the station"
	case !fv.Connected:
		return "link lost"
	case fv.FenceBreached:
		return "fence breach"
	case fv.BatteryPct >= 0 && fv.BatteryPct < st.o.Params.CriticalPct && v.Role == RoleStation:
		return fmt.Sprintf("battery critical (%.0f %%)", fv.BatteryPct)
	case v.Role == RoleTransit && v.releaseFails >= releaseTries:
		return fmt.Sprintf("did not leave its hold, %d tries: %s", v.releaseFails, v.releaseErr)
	}
	if !v.SeenAuto {
		if fv.Armed && fv.Mode == "AUTO" {
			v.SeenAuto = true
			return ""
		}
		if st.wall.Sub(v.launchedAt) > startGrace {
			return fmt.Sprintf("did not start its mission (mode %s, armed %v)", fv.Mode, fv.Armed)
		}
		return ""
	}
	if !fv.Armed {
		return "disarmed in flight"
	}
	if fv.Mode != "AUTO" && (v.YieldTo == "" || fv.Mode != "BRAKE") {
		return "left its mission: mode " + fv.Mode
	}
	return ""
}

func (st *step) observe(v *VehicleState) {
	o := st.o
	fv, ok := st.look(v.ID)
	switch v.Role {
	case RoleTransit, RoleStation:
		if v.LaunchUnconfirmed && st.confirmLaunch(v, fv, ok) {
			return
		}
		why, alarmed := o.alarms[v.ID]
		if !alarmed {
			why = st.failure(v, fv, ok)
		}
		if why != "" {
			st.fail(v, fv, ok, why)
			return
		}
		sl := o.Slots[v.Slot]
		if p := o.Plans[v.Slot]; v.Role == RoleTransit && joined(fv, p, v.JoinSeq) {
			v.Role, v.Since, v.releaseFails = RoleStation, st.now, 0
			// It passed the waypoint it joined at (the loop's first, or
			// the one its release chose: join.go).
			v.lastSeq = max(v.JoinSeq, int(p.Plan.LoopStart))
			v.lastPos, v.posKnown = joinPos(o.loop(v.Slot), p, v.JoinSeq), true
			v.samples = v.samples[:0]
			if d := st.now.Sub(v.launchAt).Seconds(); !v.launchAt.IsZero() && d > 0 {
				sl.TransitS = d
				sl.LeadS = max(d, 0.9*sl.LeadS)
			}
			st.note(v.ID, fleet.SeverityInfo, "on_station", "%s on station in slot %d of operation %s", v.ID, sl.Index, o.ID)
			st.lastNote()["slot"] = sl.Index
			if sl.Incoming == v.ID {
				st.handover(sl, v)
			} else {
				sl.VehicleID = v.ID
			}
		}
		if v.Role == RoleStation {
			st.visited(sl, o.Plans[v.Slot], v, fv)
		}
		if ok {
			st.watchBattery(v, fv)
		}
		if v.Role == RoleStation && fv.BatteryPct >= 0 {
			t := st.now.Sub(o.Created).Seconds()
			if n := len(v.samples); n == 0 || t > v.samples[n-1].T {
				if n >= maxSamples {
					v.samples = append(v.samples[:0], v.samples[n/2:]...)
				}
				v.samples = append(v.samples, BatterySample{T: t, Pct: fv.BatteryPct})
			}
		}
	case RoleReturning:
		if v.ReturnWait != nil {
			st.returnWhenClear(v, fv, ok)
		}
		if ok && fv.Connected && landed(fv) {
			if v.Slot >= 0 && v.Slot < len(o.Slots) && !v.rtlAt.IsZero() {
				if d := st.now.Sub(v.rtlAt).Seconds(); d > 0 {
					sl := o.Slots[v.Slot]
					sl.ReturnS = max(d, 0.9*sl.ReturnS)
				}
			}
			v.rtlAt = time.Time{}
			v.Role, v.Since, v.LandedAt, v.Slot, v.PadHeld, v.padIn = RolePool, st.now, st.now, -1, nil, false
			st.note(v.ID, fleet.SeverityInfo, "landed", "%s landed with %.0f %% (reserve %.0f %%)", v.ID, fv.BatteryPct, o.Params.ReservePct)
			st.lastNote()["battery_pct"] = fv.BatteryPct
		}
	case RolePool:
		if ok && fv.Armed && !v.Ready {
			v.LandedAt = time.Time{} // flown by someone else: not ours to time
		}
	}
}

// visited records the loop waypoints v reached since the last tick: every
// item from the one it flew to then up to (not including) the one it
// flies to now, following the loop around its DO_JUMP; and the points
// along the legs it passed (revisit.go).
func (st *step) visited(sl *Slot, p SlotPlan, v *VehicleState, fv fleet.Vehicle) {
	seq := fv.MissionSeq
	first, jump := int(p.Plan.LoopStart), int(p.Plan.JumpSeq)
	n := jump - first
	if n <= 0 || seq < first || seq >= jump {
		v.lastSeq = 0
		return
	}
	if len(sl.Visits) != n {
		sl.Visits = make([]time.Time, n)
	}
	prev := v.lastSeq
	v.lastSeq = seq
	o := st.o
	if g := o.loop(v.Slot); g != nil {
		st.visitedPoints(sl, g, first, v, fv, seq)
	}
	if prev < first || prev >= jump || prev == seq {
		return
	}
	for k := prev; k != seq; k = first + (k-first+1)%n {
		// The age it had when it was revisited (bounded by the window).
		if !st.now.Before(o.Start) {
			if age := minTime(st.now, o.End).Sub(maxTime(sl.Visits[k-first], o.Start)).Seconds(); age > sl.MaxRevisitS {
				sl.MaxRevisitS = age
			}
		}
		sl.Visits[k-first] = st.now
	}
}

// fail takes v off its slot; a slot left without a drone is replaced at
// once by the scheduling pass of this same tick.
func (st *step) fail(v *VehicleState, fv fleet.Vehicle, ok bool, why string) {
	o := st.o
	sl := o.Slots[v.Slot]
	wasCovering := sl.VehicleID == v.ID
	if wasCovering {
		sl.VehicleID = ""
		if sl.Incoming != "" {
			sl.VehicleID, sl.Incoming = sl.Incoming, ""
		}
	}
	if sl.Incoming == v.ID {
		sl.Incoming = ""
	}
	if wasCovering || v.Role == RoleStation {
		sl.Replacement++
	}
	st.keepRate(v)
	v.Role, v.Since, v.Reason, v.Slot, v.Ready = RoleFailed, st.now, why, -1, false
	st.note(v.ID, fleet.SeverityWarning, "failed", "%s failed in slot %d of operation %s: %s; replacing it", v.ID, sl.Index, o.ID, why)
	st.lastNote()["slot"], st.lastNote()["reason"] = sl.Index, why
	// Bring it home if it can still hear us and is not already doing so.
	if ok && fv.Connected && fv.Armed && fv.Mode != "RTL" && fv.Mode != "LAND" && !fv.FenceBreached {
		st.acts = append(st.acts, Action{Kind: ActReturn, VehicleID: v.ID, Slot: sl.Index})
	}
}

// keepRate remembers the consumption v showed on this patrol, for its
// next forecast.
func (st *step) keepRate(v *VehicleState) {
	if r, ok := slope(v.samples); ok && r > 0 {
		v.RatePctS = r
	}
}

// handover: in is on station, the slot's incumbent goes home.
func (st *step) handover(sl *Slot, in *VehicleState) {
	if old := st.o.vehicle(sl.VehicleID); old != nil && old.ID != in.ID && (old.Role == RoleStation || old.Role == RoleTransit) {
		// The relieved drone flies on ahead of its relief until its way
		// home keeps clear of it, but no longer than its battery allows.
		wait := float64(returnWaitS)
		if fv, ok := st.look(old.ID); ok && old.Role == RoleStation {
			wait = math.Min(wait, st.leaveIn(old, fv))
		}
		st.sendHomeClear(old, st.now.Add(secs(math.Max(wait, 0))))
		sl.Handovers++
		st.note(in.ID, fleet.SeverityInfo, "handover", "%s took over slot %d of operation %s from %s", in.ID, sl.Index, st.o.ID, old.ID)
		st.lastNote()["slot"], st.lastNote()["from"] = sl.Index, old.ID
	}
	sl.VehicleID, sl.Incoming = in.ID, ""
}

// sendHome sends v home now on an RTL climbing to alt (rtlAction).
func (st *step) sendHome(v *VehicleState, alt float64) {
	st.keepRate(v)
	v.padUnclear, v.padIn = false, false
	v.Role, v.Since, v.rtlTries = RoleReturning, st.now, 0
	st.acts = append(st.acts, st.rtlAction(v, alt))
}

// account adds the time since the previous tick to each slot's on-station
// or uncovered seconds, by the state the slot was in (sample and hold),
// then takes the state now.
func (st *step) account() {
	o := st.o
	from, to := maxTime(o.Last, o.Start), minTime(st.now, o.End)
	d := to.Sub(from).Seconds()
	for _, sl := range o.Slots {
		if d > 0 {
			if sl.Covered {
				sl.OnStationS += d
			} else {
				sl.UncoveredS += d
			}
		}
		if !st.now.Before(o.Start) && len(sl.Visits) > 0 {
			at := minTime(st.now, o.End)
			for _, t := range sl.Visits {
				if age := at.Sub(maxTime(t, o.Start)).Seconds(); age > sl.MaxRevisitS {
					sl.MaxRevisitS = age
				}
			}
			for _, t := range sl.points {
				if age := at.Sub(maxTime(t, o.Start)).Seconds(); age > sl.MaxRevisitS {
					sl.MaxRevisitS = age
				}
			}
		}
		covered := false
		for _, v := range o.Vehicles {
			if v.Role == RoleStation && v.Slot == sl.Index && !st.braked(v) {
				covered = true
			}
		}
		inWindow := !st.now.Before(o.Start) && st.now.Before(o.End)
		switch {
		case covered && sl.GapSince != nil:
			if inWindow || st.now.Sub(*sl.GapSince) > 0 {
				st.note(sl.VehicleID, fleet.SeverityInfo, "gap_ended", "slot %d of operation %s covered again after %.0f s", sl.Index, o.ID, st.now.Sub(*sl.GapSince).Seconds())
				st.lastNote()["slot"], st.lastNote()["gap_s"] = sl.Index, st.now.Sub(*sl.GapSince).Seconds()
			}
			sl.GapSince = nil
		case !covered && sl.GapSince == nil && inWindow:
			at := st.now
			if sl.Covered || o.Last.After(o.Start) {
				at = maxTime(o.Last, o.Start)
			} else {
				at = o.Start
			}
			sl.GapSince = &at
			st.notes = append(st.notes, Note{VehicleID: sl.VehicleID, Kind: fleet.EventCoverageGap, Severity: fleet.SeverityWarning,
				Message: fmt.Sprintf("slot %d of operation %s uncovered since %s", sl.Index, o.ID, at.Format(time.RFC3339)),
				Fields:  map[string]any{"operation_id": o.ID, "slot": sl.Index, "since": at}})
		}
		sl.Covered = covered
	}
}

// braked says whether v, on station, is braked where it is (BRAKE) —
// yielding to another's return (yield.go) — rather than flying its
// patrol. Its slot is not covered meanwhile: nobody flies the loop, and
// the independent check (a drone of the slot flying its loop in
// AUTO, from the stored tracks) counts that time uncovered; counted as
// covered, the point-mass double of
// TestForcedReturnBrakesThePatrolsFollowerToo counted 52 ticks covered
// with the slot's only patrol braked. It is the likeliest cause of a
// loaded run of TestOperationReplacesAFailedDrone whose stored tracks had
// 42.4 s uncovered on a slot the operation called covered; that run kept
// no operation events, so it is not shown.
func (st *step) braked(v *VehicleState) bool {
	fv, ok := st.look(v.ID)
	return ok && fv.Mode == "BRAKE"
}

// endGaps closes the gaps still open when the operation ends (its window
// is over, it was stopped or it failed): each ends then, with a
// gap_ended note saying how long it was (gap_s, from its start to the
// window's end or the stop). Without it a slot uncovered in the last
// moments of the window read as uncovered until whoever counts the
// stream stopped counting: a scenario run's assertion counted a 20 s gap
// at a stadium window's end as over a minute, up to when the last drone
// landed.
func (st *step) endGaps() {
	o := st.o
	at := minTime(st.now, o.End)
	for _, sl := range o.Slots {
		if sl.GapSince == nil {
			continue
		}
		d := math.Max(at.Sub(*sl.GapSince).Seconds(), 0)
		st.note(sl.VehicleID, fleet.SeverityInfo, "gap_ended", "slot %d of operation %s uncovered until the operation's end, %.0f s", sl.Index, o.ID, d)
		st.lastNote()["slot"], st.lastNote()["gap_s"], st.lastNote()["until_end"] = sl.Index, d, true
		sl.GapSince = nil
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// finish ends the operation: every drone flying for it goes home.
func (st *step) finish(why string) {
	o := st.o
	o.State = StateFinished
	if o.Reason == "" {
		o.Reason = why
	}
	st.endGaps()
	st.sendEveryoneHome()
	st.note("", fleet.SeverityInfo, "finished", "operation %s finished: %s (uncovered %.0f s)", o.ID, o.Reason, o.UncoveredS())
}

func (st *step) sendEveryoneHome() {
	for _, v := range st.o.Vehicles {
		if v.Role == RoleStation || v.Role == RoleTransit {
			st.sendHomeClear(v, st.now.Add(secs(returnWaitS)))
		}
	}
	for _, sl := range st.o.Slots {
		sl.Incoming = ""
	}
}

// returnWaitS bounds (operation seconds) how long a drone due home waits
// for a clear return: longer than a loop leg takes, short enough that the
// battery reserve is not the price.
const returnWaitS = 120

// sendHomeClear sends v home now if its return is clear at the plan's
// altitude or on its slot's return layer (returnChoice); else it is
// marked returning and the RTL waits for a clear moment
// (returnWhenClear, each tick) until by at the latest.
func (st *step) sendHomeClear(v *VehicleState, by time.Time) {
	fv, ok := st.look(v.ID)
	alt, why := st.returnChoice(v, fv, ok)
	if why != "" {
		st.keepRate(v)
		at := st.now
		v.Role, v.Since, v.rtlTries, v.ReturnWait, v.ReturnBy = RoleReturning, st.now, 0, &at, &by
		return
	}
	st.sendHome(v, alt)
}

// returnWhenClear sends a waiting drone home once its return is clear,
// or at its bound (ReturnBy; returnWaitS for one stored without it) with
// an alert saying why.
func (st *step) returnWhenClear(v *VehicleState, fv fleet.Vehicle, ok bool) {
	alt, why := st.returnChoice(v, fv, ok)
	waited := st.now.Sub(*v.ReturnWait).Seconds()
	by := v.ReturnWait.Add(secs(returnWaitS))
	if v.ReturnBy != nil {
		by = *v.ReturnBy
	}
	// A bound inside a stretch of legs it cannot be sent home from as it
	// should (blockedAhead) is met on the leg before it.
	if ahead := st.blockedAhead(v, fv); why != "" && st.now.Before(by) && (ahead == 0 || by.Sub(st.now).Seconds() > ahead) {
		return
	}
	if why != "" {
		// At its bound: the drones in its way yield, or it flies on while
		// its margin lasts (yield.go).
		var send bool
		if send, why = st.forcedReturn(v, fv, ok, alt, why, by); !send {
			return
		}
	}
	v.heldOn = false
	if why != "" {
		st.notes = append(st.notes, Note{VehicleID: v.ID, Kind: fleet.EventOperation, Severity: fleet.SeverityWarning,
			Message: fmt.Sprintf("%s sent home after waiting %.0f s for a clear return (operation %s): %s", v.ID, waited, st.o.ID, why),
			Fields:  map[string]any{"operation_id": st.o.ID, "action": "return_unclear", "slot": v.Slot, "seq": fv.MissionSeq}})
	}
	if why == "" {
		st.note(v.ID, fleet.SeverityInfo, "return", "%s sent home after waiting %.0f s for a clear return (operation %s)", v.ID, waited, st.o.ID)
		st.lastNote()["slot"], st.lastNote()["waited_s"] = v.Slot, waited
	}
	v.ReturnWait, v.ReturnBy = nil, nil
	st.acts = append(st.acts, st.rtlAction(v, alt))
}

// release sends drones waiting at their plan's hold on to the loop once
// the way there and around it is clear of the other drones of their slot
// (releaseClear); a drone still flying to a hold on the loop's last leg
// in is sent on before it gets there when the way is clear already (a
// first drone, a replacement for a failed one), so it does not stop. A
// Continue not obeyed is sent again after continueRetry; one that failed
// is sent again at once, up to releaseTries in a row (ContinueDone).
func (st *step) release() {
	for _, v := range st.o.Vehicles {
		if v.Role != RoleTransit || v.Slot < 0 {
			continue
		}
		p := st.o.Plans[v.Slot]
		fv, ok := st.look(v.ID)
		if !ok || !atHold(p, fv) && !toHold(p, fv) || !v.continuedAt.IsZero() && st.wall.Sub(v.continuedAt) < continueRetry {
			continue
		}
		// The nearest way onto the loop behind the drone it relieves whose
		// predicted way in is clear (join.go), else it waits.
		var c joinChoice
		clear, skipped := false, 0
		for _, c = range st.joinCandidates(v, fv) {
			if clear, _ = st.releaseClear(v, fv, c); clear {
				break
			}
			skipped++
		}
		if !clear {
			continue
		}
		v.continuedAt, v.JoinSeq = st.wall, c.join
		st.acts = append(st.acts, Action{Kind: ActContinue, VehicleID: v.ID, Slot: v.Slot, Seq: c.send})
		why := c.why
		if skipped > 0 {
			why += fmt.Sprintf("; %d nearer not clear of the slot's drones", skipped)
		}
		st.note(v.ID, fleet.SeverityInfo, "release", "%s leaves its hold for item %d, joining the loop of slot %d of operation %s at item %d: %s", v.ID, c.send, v.Slot, st.o.ID, c.join, why)
		st.lastNote()["slot"], st.lastNote()["seq"], st.lastNote()["join_seq"], st.lastNote()["reason"] = v.Slot, c.send, c.join, why
	}
}

// continueRetry is how long (wall time) a drone sent on from its hold may
// still show the hold before the Continue is sent again.
const continueRetry = 5 * time.Second

// releaseTries is how many releases in a row may fail before the relief
// fails (failure: replaced and sent home), as a resume (resumeTries) or
// an RTL refused three times: a relief left at its hold re-sent a
// MISSION_SET_CURRENT on every tick for the rest of its pack, while its
// incumbent flew to its must-leave time and the slot went uncovered with
// a drone hovering beside it.
const releaseTries = 3

// ContinueDone records the outcome of a Continue: a failed one is tried
// again on the next tick that finds the way clear, up to releaseTries in
// a row.
func (o *Operation) ContinueDone(id string, err error, took time.Duration) []Note {
	v := o.vehicle(id)
	if v == nil {
		return nil
	}
	o.noteLatency(took)
	if err == nil {
		v.releaseFails, v.releaseErr = 0, ""
		return nil
	}
	v.continuedAt = time.Time{}
	v.releaseFails++
	v.releaseErr = err.Error()
	next := "trying again"
	if v.releaseFails >= releaseTries {
		next = fmt.Sprintf("%d tries in a row: replacing it", v.releaseFails)
	}
	return []Note{{VehicleID: id, Kind: fleet.EventOperation, Severity: fleet.SeverityWarning,
		Message: fmt.Sprintf("%s did not leave its hold for slot %d of operation %s: %v; %s", id, v.Slot, o.ID, err, next),
		Fields:  map[string]any{"operation_id": o.ID, "action": "release_failed", "slot": v.Slot, "attempts": v.releaseFails}}}
}

func (st *step) allFailed() bool {
	for _, v := range st.o.Vehicles {
		if v.Role != RoleFailed {
			return false
		}
	}
	return len(st.o.Vehicles) > 0
}

// latencyWindow is how many of the latest command round trips the
// latency estimate is taken from (noteLatency).
const latencyWindow = 16

// noteLatency adds a command's round trip (took, on the scheduler's
// clock) to the latest latencyWindow ones, in operation seconds, and sets
// the station's command latency — which a drone's must-leave time, the
// release from the hold, a takeoff's start and a held drone's reserve
// allow for — to their 90th percentile (nearest rank): the longest while
// fewer than 10 are known, then the second longest of up to 16. A slow
// link (every command slow, or one in eight) keeps it high; a lone slow
// command (a stall of a loaded station) counts only while fewer than 10
// round trips are known. The decaying maximum it replaces (a tenth less
// per command) kept one 60 s round trip above a typical 2 s for some 30
// commands, most of a 3-hour operation, and every release window that
// wide: transits of up to 198 s.
func (o *Operation) noteLatency(took time.Duration) {
	o.LatencySamplesS = append(o.LatencySamplesS, took.Seconds()*o.scale())
	if n := len(o.LatencySamplesS) - latencyWindow; n > 0 {
		o.LatencySamplesS = slices.Delete(o.LatencySamplesS, 0, n)
	}
	o.LatencyS = latencyOf(o.LatencySamplesS)
}

// latencyOf is the 90th percentile of round trips rs by nearest rank
// (the ceil(0.9·n)-th shortest), 0 for none.
func latencyOf(rs []float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(rs))
	return s[(9*len(s)+9)/10-1]
}

// leaveMarginS is how long before the predicted last moment a drone is
// sent home: the RTL's round trip and the autopilot's turn (seconds of
// operation time; at speedup 100 a busy station's 0.2 s is 20 s).
const leaveMarginS = 30

// climbRate is the copter's climb in AUTO takeoff (WPNAV_SPEED_UP 2.5 m/s).
const climbRate = 2.5

// lead is how long before a slot must be covered its drone is launched:
// the launch-to-station time (leadNoMargin) plus the margin.
func (st *step) lead(i int) float64 {
	return st.o.leadNoMargin(i) + st.o.Params.MarginS
}

// leadNoMargin is the slot's launch-to-station time the scheduler plans
// with: the longer of the measured one (Slot.LeadS: the longest recent
// launch, decaying by a tenth per launch) and the estimate from the
// setup, transit and climb. The estimate's 60 s setup prior usually wins
// (92-124 s against 35-80 s flown in the double's stadium rotations), so
// reliefs go that much earlier than the measurements ask; taking the
// measurement alone once there is one was tried and changed which slot a
// short pool serves first (TestShortPoolServesTheUncoveredSlotFirst) and
// the rotation flown, and is not done (issue 13's note).
func (o *Operation) leadNoMargin(i int) float64 {
	p := o.Plans[i]
	speed := p.Plan.Speed
	if speed <= 0 {
		speed = 10
	}
	est := o.Params.SetupS + p.TransitM/speed + transitClimbS(p.Plan)
	return math.Max(est, o.Slots[i].LeadS)
}

// prediction is the endurance predictor applied to an airborne vehicle.
func (o *Operation) prediction(v *VehicleState, fv fleet.Vehicle) Prediction {
	return o.predictionAt(v, fv, o.budgetAlt(v))
}

// predictionAt is the prediction for a return climbing to alt.
func (o *Operation) predictionAt(v *VehicleState, fv fleet.Vehicle, alt float64) Prediction {
	p := o.Plans[max(v.Slot, 0)]
	dist := 0.0
	if fv.Home != nil {
		dist = distM(fv.Lat, fv.Lon, fv.Home.Lat, fv.Home.Lon)
	} else {
		dist = distM(fv.Lat, fv.Lon, p.Plan.Home.Lat, p.Plan.Home.Lon)
	}
	pct := fv.BatteryPct
	if pct < 0 {
		// No charge reported (MAVLink's battery_remaining −1, the fleet's
		// "not heard yet"): a station that has just restarted, or a link
		// just back, has not had the drone's SYS_STATUS yet. Read as a
		// charge, −1 sent every drone on station home at once after a
		// restart, their reliefs launched only then (a gap of one transit
		// per slot). This patrol's last reading stands in; with none
		// there is no evidence the drone must leave, and it gets no
		// must-leave time until it reports.
		// Silent on its charge past batteryUnknownGraceS, it is reckoned
		// from the endurance prior (battery.go).
		n := len(v.samples)
		switch {
		case n > 0:
			pct = v.samples[n-1].Pct
		case v.reckoning:
			pr := Predict(PredictInput{PriorRate: o.priorRate(v), Pct: v.reckoned, DistHomeM: dist, AltM: returnHeight(fv.RelativeAlt, alt),
				Cruise: p.Plan.Speed, Reserve: o.Params.ReservePct})
			pr.BatteryUnknown = true
			return pr
		default:
			return Prediction{Rate: o.priorRate(v), LeaveInS: math.Inf(1), BatteryUnknown: true}
		}
	}
	return Predict(PredictInput{Samples: v.samples, PriorRate: o.priorRate(v), Pct: pct, DistHomeM: dist, AltM: returnHeight(fv.RelativeAlt, alt),
		Cruise: p.Plan.Speed, Reserve: o.Params.ReservePct})
}

// priorRate is v's consumption before this patrol taught one: what it
// showed last time, else what the fleet showed, else the operation prior.
func (o *Operation) priorRate(v *VehicleState) float64 {
	if v != nil && v.RatePctS > 0 {
		return v.RatePctS
	}
	var rs []float64
	for _, x := range o.Vehicles {
		if x.RatePctS > 0 {
			rs = append(rs, x.RatePctS)
		}
	}
	if len(rs) > 0 {
		return slices.Max(rs)
	}
	return 100 / o.Params.EnduranceS
}

// mustLeaveEarlyS is how long before its must-leave time a drone on
// station looks for a clear return (operation seconds): it never waits
// past that time for one.
const mustLeaveEarlyS = 15

// leaveIn is how long (operation seconds) the drone on station may still
// stay: the predictor's time left, less leaveMarginS (the RTL itself
// takes a moment to be sent and obeyed) and a busy station's own delay —
// its command latency and how old the drone's telemetry is, both on the
// operation clock.
func (st *step) leaveIn(v *VehicleState, fv fleet.Vehicle) float64 {
	return st.leaveInAt(v, fv, st.o.budgetAlt(v))
}

// leaveInAt is leaveIn for a return climbing to alt.
func (st *step) leaveInAt(v *VehicleState, fv fleet.Vehicle, alt float64) float64 {
	o := st.o
	pr := o.predictionAt(v, fv, alt)
	return pr.LeaveInS - leaveMarginS - o.LatencyS - st.stateAgeS(fv)
}

// stateAgeS is how old fv's state is, in operation seconds: the operation
// time since it was received (0 for a state never received, or received
// after the tick's wall). The one measure of it: the must-leave time
// allows for it (leaveInAt) and predicted tracks are taken along by it
// (ageS). fv's LastSeen is on the tick's wall (Observe).
func (st *step) stateAgeS(fv fleet.Vehicle) float64 {
	if fv.LastSeen.IsZero() || !st.wall.After(fv.LastSeen) {
		return 0
	}
	return st.wall.Sub(fv.LastSeen).Seconds() * st.o.scale()
}

// schedule launches first drones and replacements, and sends drones home
// that must leave. A slot nobody covers gets a ready drone before any
// relief of a covered one, and reliefs go by urgency (the incumbent that
// must leave first): in slot order, a stadium slot whose incumbent had
// to leave with the pool empty stayed uncovered for nearly five minutes
// while the other two slots took each drone that came back from its
// swap, as an early relief.
func (st *step) schedule() {
	o := st.o
	type relief struct {
		slot    int
		leaveIn float64
	}
	var reliefs []relief
	for i, sl := range o.Slots {
		inc := o.vehicle(sl.VehicleID)
		lead := st.lead(i)
		switch {
		case inc == nil:
			// Nobody covers or flies to the slot: launch as soon as the
			// window is within reach (at once after a failure).
			if st.now.Add(secs(lead)).Before(o.Start) {
				continue
			}
			if v := st.pick(i); v != nil {
				sl.VehicleID = v.ID
				st.launch(v, i)
			}
		case inc.Role == RoleStation:
			fv, ok := st.look(inc.ID)
			if !ok {
				continue
			}
			leaveIn := st.leaveIn(inc, fv)
			// A must-leave time inside a stretch of legs it cannot be
			// sent home from as it should (blockedAhead) is met on the
			// leg before it.
			ahead := st.blockedAhead(inc, fv)
			why, alt := "", 0.0
			if leaveIn <= mustLeaveEarlyS+ahead {
				alt, why = st.returnChoice(inc, fv, ok)
			}
			// Must leave now, relieved or not: the reserve is not ours to
			// spend. In the last mustLeaveEarlyS before that it leaves at
			// the first moment its return is clear; at the last moment
			// clear or not, saying why.
			if leaveIn <= 0 || ahead > 0 && leaveIn <= ahead || leaveIn <= mustLeaveEarlyS+ahead && why == "" {
				if why != "" {
					// No clear return: the drones in its way yield, or it
					// flies on while its margin lasts (yield.go).
					var send bool
					if send, why = st.forcedReturn(inc, fv, ok, alt, why, st.now.Add(secs(math.Max(leaveIn, 0)))); !send {
						continue
					}
				}
				inc.heldOn = false
				pr := o.prediction(inc, fv)
				before := ""
				if ahead > 0 && leaveIn > 0 {
					before = fmt.Sprintf(", before %.0f s of legs it cannot be sent home from as it should", ahead)
				}
				st.note(inc.ID, fleet.SeverityWarning, "must_leave", "%s must leave slot %d of operation %s now (%.0f %%, %.0f s home%s)", inc.ID, i, o.ID, fv.BatteryPct, pr.ReturnS, before)
				st.lastNote()["slot"] = i
				if before != "" {
					st.lastNote()["before_blocked_s"] = ahead
				}
				if why != "" {
					st.notes = append(st.notes, Note{VehicleID: inc.ID, Kind: fleet.EventOperation, Severity: fleet.SeverityWarning,
						Message: fmt.Sprintf("%s sent home without a clear return (operation %s): %s", inc.ID, o.ID, why),
						Fields:  map[string]any{"operation_id": o.ID, "action": "return_unclear", "slot": i, "seq": fv.MissionSeq}})
				}
				st.sendHome(inc, alt)
				sl.VehicleID = sl.Incoming
				sl.Incoming = ""
				if sl.VehicleID == "" {
					if v := st.pick(i); v != nil {
						sl.VehicleID = v.ID
						st.launch(v, i)
					}
				}
				continue
			}
			// The relief goes for the earliest moment the incumbent may
			// leave: before a stretch it cannot be sent home from.
			if sl.Incoming == "" && leaveIn-o.earlyLeaveS(i) <= lead {
				reliefs = append(reliefs, relief{i, leaveIn})
			}
		}
	}
	sort.SliceStable(reliefs, func(a, b int) bool { return reliefs[a].leaveIn < reliefs[b].leaveIn })
	for _, r := range reliefs {
		if v := st.pick(r.slot); v != nil {
			o.Slots[r.slot].Incoming = v.ID
			st.launch(v, r.slot)
		}
	}
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// pick chooses the pool vehicle to launch for slot i: ready (connected,
// disarmed, with a fix and home, charged or confirmed by the crew), with
// the most charge, then the nearest to the slot's launch point — of
// those whose home the pad leaves clear for a takeoff (pad.go). When
// every ready one is blocked the slot waits for the pad, said once
// (launch_waiting), and nil is returned.
func (st *step) pick(i int) *VehicleState {
	o := st.o
	var best *VehicleState
	var bestFV fleet.Vehicle
	blocked := ""
	home := wayIn(o.Plans[i])
	for _, v := range o.Vehicles {
		if v.Role != RolePool || v.RetryAt != nil && st.wall.Before(*v.RetryAt) {
			continue
		}
		fv, ok := st.look(v.ID)
		if !ok || !o.ready(v, fv) {
			continue
		}
		if best == nil || fv.BatteryPct > bestFV.BatteryPct ||
			fv.BatteryPct == bestFV.BatteryPct && distM(fv.Lat, fv.Lon, home.Lat, home.Lon) < distM(bestFV.Lat, bestFV.Lon, home.Lat, home.Lon) {
			if why := st.takeoffBlocker(v.ID, i, st.homeOf(fv, i)); why != "" {
				if blocked == "" {
					blocked = v.ID + ": " + why
				}
				continue
			}
			best, bestFV = v, fv
		}
	}
	sl := o.Slots[i]
	if best == nil && blocked != "" && sl.PadWaitSince == nil {
		at := st.now
		sl.PadWaitSince = &at
		st.note("", fleet.SeverityInfo, "launch_waiting", "slot %d of operation %s waits for the pad to launch (%s)", i, o.ID, blocked)
		st.lastNote()["slot"] = i
	}
	return best
}

// wayIn is where slot plan p's drones fly first after the takeoff (its
// hold, else the loop's entry), else the plan's launch point: a pool
// drone parked nearer it has the shorter way in (on a pad whose spots
// are the clearance apart, tens of metres of a short battery).
func wayIn(p SlotPlan) fleet.Point {
	dp := p.Plan
	seq := dp.HoldSeq
	if seq == 0 {
		seq = dp.LoopStart
	}
	if seq > 0 && int(seq) <= len(dp.Mission) {
		if it := dp.Mission[seq-1]; it.Seq == seq && (it.X != 0 || it.Y != 0) {
			return fleet.Point{Lat: float64(it.X) / 1e7, Lon: float64(it.Y) / 1e7}
		}
	}
	return fleet.Point{Lat: dp.Home.Lat, Lon: dp.Home.Lon}
}

// ready says whether a pool vehicle can be launched now.
func (o *Operation) ready(v *VehicleState, fv fleet.Vehicle) bool {
	if !fv.Connected || fv.Armed || fv.GPSFix < 3 || fv.Home == nil || v.cmdBusy {
		return false
	}
	return v.Ready || fv.BatteryPct >= o.Params.ReadyPct
}

func (st *step) launch(v *VehicleState, slot int) {
	v.Role, v.Slot, v.Since, v.SeenAuto, v.Reason = RoleLaunching, slot, st.now, false, ""
	v.launchAt = st.now
	waited := 0.0
	if sl := st.o.Slots[slot]; sl.PadWaitSince != nil {
		// The wait for the pad is part of this slot's launch-to-station
		// time (LeadS is measured from launchAt): its next launch goes
		// that much earlier.
		v.launchAt, waited, sl.PadWaitSince = *sl.PadWaitSince, st.now.Sub(*sl.PadWaitSince).Seconds(), nil
	}
	if st.pad != nil {
		if fv, ok := st.look(v.ID); ok {
			h := st.homeOf(fv, slot)
			st.pad.users = append(st.pad.users, padUser{id: v.ID, pos: h, home: h, column: true, climbing: true, state: "launching"})
		}
	}
	v.samples = v.samples[:0]
	v.BatteryUnknownSince, v.reckoning, v.batteryAlarmed = nil, false, false
	v.lastSeq, v.posKnown, v.JoinSeq = 0, false, 0
	a := Action{Kind: ActLaunch, VehicleID: v.ID, Slot: slot, Upload: v.Uploaded != slot}
	if cm, ok := paramOf(st.o.Plans[slot].Plan, "RTL_ALT"); ok && v.RaisedRTL && !a.Upload {
		// Left raised, its next failsafe RTL would come home on its
		// slot's return layer, across the layers the plan keeps for the
		// other slots' returns: the launch sets the plan's back first.
		a.RTLAlt = cm / 100
	}
	st.acts = append(st.acts, a)
	if waited > 0 {
		st.note(v.ID, fleet.SeverityInfo, "launch", "launching %s for slot %d of operation %s after %.0f s waiting for the pad", v.ID, slot, st.o.ID, waited)
		st.lastNote()["waited_s"] = waited
	} else {
		st.note(v.ID, fleet.SeverityInfo, "launch", "launching %s for slot %d of operation %s", v.ID, slot, st.o.ID)
	}
	st.lastNote()["slot"] = slot
}

// launchNotSent undoes the launch of id the runner could not send (a
// command to it was still under way): it is back in the pool and its
// slot without it, and the next tick picks again.
func (o *Operation) launchNotSent(id string) {
	v := o.vehicle(id)
	if v == nil || v.Role != RoleLaunching {
		return
	}
	if v.Slot >= 0 && v.Slot < len(o.Slots) {
		sl := o.Slots[v.Slot]
		if sl.VehicleID == id {
			sl.VehicleID = ""
		}
		if sl.Incoming == id {
			sl.Incoming = ""
		}
	}
	v.Role, v.Slot = RolePool, -1
}

// LaunchDone records the outcome of a launch at wall time wall. A vehicle
// that refused its launch is failed (the next tick picks another); one
// launched after the operation ended is sent straight home.
//
// An error wrapping ErrNoAnswer is not a refusal: the vehicle (or its
// link) did not answer in time, so what it did is not known — one lost
// datagram on a loaded link ends a parameter read that way, and failing
// the drone for it took a healthy one out of the pool for the rest of
// the event (a crew must confirm a failed drone ready). Such a launch is
// unconfirmed (confirmLaunch): if the next ticks see the vehicle flying
// its mission it was launched after all (an arm whose ACK was lost);
// still on the ground after startGrace it goes back to the pool and is
// tried again after a back-off, failed after maxLaunchNoAnswer in a row.
// A failure before any flight command (the upload, the RTL_ALT set) left
// it on the ground for certain: back to the pool at once.
func (o *Operation) LaunchDone(id string, uploaded bool, err error, wall time.Time) ([]Action, []Note) {
	v := o.vehicle(id)
	if v == nil || v.Role != RoleLaunching {
		return nil, nil
	}
	st := &step{o: o, wall: wall, now: o.Now(wall)}
	v.releaseFails, v.releaseErr = 0, "" // a new sortie: its own releases
	if uploaded {
		v.Uploaded = v.Slot
		// The upload set the plan's parameters, its RTL_ALT among them
		// (Actuator.Launch): a return layer the vehicle's last return
		// raised it to is gone. Left believed raised, the separation
		// monitor levelled a failsafe RTL of it off on the new slot's
		// return layer (Manager.RTLAlt), and no return of it could be
		// raised (canRaise).
		if _, ok := paramOf(o.Plans[v.Slot].Plan, "RTL_ALT"); ok {
			v.RaisedRTL = false
		}
	}
	sl := o.Slots[v.Slot]
	if errors.Is(err, ErrNoAnswer) {
		v.Launches++
		v.Reason = "launch unconfirmed: " + err.Error()
		if errors.Is(err, ErrUpload) || errors.Is(err, ErrRTLAlt) {
			if errors.Is(err, ErrUpload) {
				v.Uploaded = -1 // part of it may have gone through
			}
			st.launchRetry(v, err.Error())
			return nil, st.notes
		}
		if !o.Active() {
			// The operation ended meanwhile: nothing watches a drone in
			// transit any more, so it is sent home whatever it did (on
			// the ground it is seen landed at the next tick).
			v.Role, v.launchedAt = RoleTransit, wall
			st.sendHome(v, rtlAlt(o.Plans[v.Slot].Plan))
			return st.acts, st.notes
		}
		// Flying or not, it is the slot's (or the relief) until seen.
		v.Role, v.launchedAt, v.SeenAuto, v.LaunchUnconfirmed = RoleTransit, wall, false, true
		st.note(id, fleet.SeverityWarning, "launch_unconfirmed", "%s did not answer its launch for slot %d of operation %s (%v): watching whether it flies", id, sl.Index, o.ID, err)
		st.lastNote()["slot"], st.lastNote()["reason"] = sl.Index, err.Error()
		return nil, st.notes
	}
	if err != nil {
		if sl.VehicleID == id {
			// The slot's own drone refused: a failure like any other
			// (issue 13 lists a refused command), counted as fail counts
			// one; a refused relief leaves the incumbent covering.
			sl.VehicleID = ""
			sl.Replacement++
		}
		if sl.Incoming == id {
			sl.Incoming = ""
		}
		v.Role, v.Since, v.Reason, v.Slot, v.Ready = RoleFailed, st.now, "launch: "+err.Error(), -1, false
		if uploaded {
			v.Uploaded = -1
		}
		st.note(id, fleet.SeverityWarning, "launch_failed", "%s could not be launched for slot %d of operation %s: %v", id, sl.Index, o.ID, err)
		st.lastNote()["slot"], st.lastNote()["reason"] = sl.Index, err.Error()
		return nil, st.notes
	}
	v.Role, v.launchedAt, v.Ready, v.LaunchNoAnswer, v.RetryAt = RoleTransit, wall, false, 0, nil
	v.Launches++
	if !o.Active() {
		st.sendHome(v, rtlAlt(o.Plans[v.Slot].Plan))
	}
	return st.acts, st.notes
}

// maxLaunchNoAnswer is how many launches in a row a vehicle may leave
// unanswered (and unflown) before it is failed: a link that loses one
// exchange in a few is worth a retry; one that loses three in a row is
// not fit to carry the operation's commands. launchBackoff is the wall
// time it waits before it may be picked again, times the attempts so
// far (another ready drone is picked meanwhile).
const (
	maxLaunchNoAnswer = 3
	launchBackoff     = 5 * time.Second
)

// confirmLaunch decides what an unconfirmed launch (LaunchDone) did, from
// what the vehicle shows: flying its mission in AUTO, it was launched;
// connected, disarmed and on the ground once startGrace has passed, it
// was not (launchRetry). It reports whether v left its slot. Anything
// else is judged as a launch that completed (failure): a lost link fails
// it, as does an armed vehicle not flying AUTO after startGrace — that
// one is sent home.
func (st *step) confirmLaunch(v *VehicleState, fv fleet.Vehicle, ok bool) bool {
	switch {
	case ok && fv.Connected && fv.Armed && fv.Mode == "AUTO":
		v.LaunchUnconfirmed, v.LaunchNoAnswer, v.RetryAt, v.Ready, v.Reason = false, 0, nil, false, ""
		st.note(v.ID, fleet.SeverityInfo, "launch_confirmed", "%s flies its mission for slot %d of operation %s: its launch went through unanswered", v.ID, v.Slot, st.o.ID)
		st.lastNote()["slot"] = v.Slot
	case ok && fv.Connected && landed(fv) && st.wall.Sub(v.launchedAt) > startGrace:
		st.launchRetry(v, v.Reason)
		return true
	}
	return false
}

// launchRetry takes v, whose launch went unanswered and which is still on
// the ground, off its slot: back to the pool, to be picked again after a
// back-off, or failed after maxLaunchNoAnswer in a row. Either way it is a
// launch_failed event with retry saying which; a slot's own drone that
// goes back to the pool is not a replacement (it never flew for the slot),
// one that is failed is, as a refusal is.
func (st *step) launchRetry(v *VehicleState, why string) {
	o := st.o
	sl := o.Slots[v.Slot]
	own := sl.VehicleID == v.ID
	if own {
		sl.VehicleID = ""
	}
	if sl.Incoming == v.ID {
		sl.Incoming = ""
	}
	v.LaunchUnconfirmed = false
	v.LaunchNoAnswer++
	if v.LaunchNoAnswer >= maxLaunchNoAnswer {
		if own {
			sl.Replacement++
		}
		v.Role, v.Since, v.Slot, v.Ready, v.RetryAt = RoleFailed, st.now, -1, false, nil
		v.Reason = fmt.Sprintf("launch: no answer %d times in a row: %s", v.LaunchNoAnswer, why)
		st.note(v.ID, fleet.SeverityWarning, "launch_failed", "%s could not be launched for slot %d of operation %s: no answer %d times in a row (%s); not tried again", v.ID, sl.Index, o.ID, v.LaunchNoAnswer, why)
		st.lastNote()["slot"], st.lastNote()["reason"], st.lastNote()["retry"], st.lastNote()["attempts"] = sl.Index, why, false, v.LaunchNoAnswer
		return
	}
	at := st.wall.Add(time.Duration(v.LaunchNoAnswer) * launchBackoff)
	v.Role, v.Slot, v.Since, v.RetryAt, v.Reason = RolePool, -1, st.now, &at, ""
	st.note(v.ID, fleet.SeverityWarning, "launch_failed", "%s did not answer its launch for slot %d of operation %s (%s) and is on the ground: back in the pool, tried again after %v", v.ID, sl.Index, o.ID, why, time.Duration(v.LaunchNoAnswer)*launchBackoff)
	st.lastNote()["slot"], st.lastNote()["reason"], st.lastNote()["retry"], st.lastNote()["attempts"] = sl.Index, why, true, v.LaunchNoAnswer
}

// rtlAltSet records that vehicle id acknowledged RTL_ALT set to alt
// (metres) before a launch without an upload: back at its plan's, its
// return is no longer raised (RaisedRTL), for the separation monitor's
// prediction (Manager.RTLAlt) and for a later raise (canRaise).
func (o *Operation) rtlAltSet(id string, alt float64) {
	v := o.vehicle(id)
	if v == nil || v.Slot < 0 || v.Slot >= len(o.Plans) {
		return
	}
	if alt == rtlAlt(o.Plans[v.Slot].Plan) {
		v.RaisedRTL = false
	}
}

// ReturnDone records the outcome of an RTL; a refused one is retried on
// the next ticks, then the vehicle is failed.
func (o *Operation) ReturnDone(id string, err error, wall time.Time, took time.Duration) []Note {
	v := o.vehicle(id)
	if v == nil {
		return nil
	}
	o.noteLatency(took)
	v.Returns++
	if err == nil || v.Role != RoleReturning {
		return nil
	}
	v.rtlTries++
	st := &step{o: o, wall: wall, now: o.Now(wall)}
	if v.rtlTries >= 3 {
		v.Role, v.Reason = RoleFailed, "RTL refused: "+err.Error()
		st.note(id, fleet.SeverityCritical, "return_failed", "%s did not accept RTL for operation %s: %v", id, o.ID, err)
	}
	return st.notes
}

// Retries lists RTLs to send again (vehicles returning whose RTL failed
// and that still do not fly home).
func (o *Operation) Retries(look Observe) []Action {
	var out []Action
	for _, v := range o.Vehicles {
		if v.Role == RoleReturning && v.rtlTries > 0 {
			if fv, ok := look(v.ID); ok && fv.Connected && fv.Armed && fv.Mode != "RTL" && fv.Mode != "LAND" {
				out = append(out, Action{Kind: ActReturn, VehicleID: v.ID, Slot: v.Slot, RTLAlt: v.rtlAlt})
			}
		}
	}
	return out
}

// SetReady is a crew's confirmation that vehicle id is swapped and fit to
// fly: a failed or landed vehicle re-enters the pool.
func (o *Operation) SetReady(id string, wall time.Time) error {
	v := o.vehicle(id)
	if v == nil {
		return fmt.Errorf("vehicle %q is not in operation %s", id, o.ID)
	}
	switch v.Role {
	case RolePool, RoleFailed:
	default:
		return fmt.Errorf("vehicle %q is %s: only a landed or failed vehicle can be confirmed ready", id, v.Role)
	}
	v.Role, v.Ready, v.Reason, v.Slot, v.Since = RolePool, true, "", -1, o.Now(wall)
	return nil
}

// sortedByID orders vehicles by ID (stable API output).
func sortedByID(vs []*VehicleState) {
	sort.Slice(vs, func(i, j int) bool { return vs[i].ID < vs[j].ID })
}
