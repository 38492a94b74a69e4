package operations

import (
	"fmt"
	"math"
	"slices"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/missions"
	"github.com/paulmach/orb"
)

// The return layer.
//
// An RTL climbs to RTL_ALT where it is below it and flies straight home
// at that height. The plan sets RTL_ALT to the slot's own layer (or the
// transit layer), which is where the slot's relief flies its way in and
// waits at its hold: a drone sent home while its relief is still on its
// way (a late handover: the incumbent must leave before its relief has
// joined) can fly straight through it, and the reserve forbids waiting.
// So each slot has a return layer above every patrol, transit and RTL
// layer of the operation (SlotPlan.ReturnAlt, returnLayers): when the
// return at the plan's altitude is not clear of the slot's other drones,
// the station sets RTL_ALT to the return layer before the RTL, and the
// drone passes over its relief. The layers keep the slots' order (each
// shifted by the same height), so the pad's landing spots, ordered by the
// slots' RTL altitudes, still keep a drone coming in low clear of those
// descending through its layer. The budget: while another drone of its
// slot flies (when a raised return may be needed), a drone's must-leave
// time counts the climb to the return layer and the descent from it.

// raisedSafeM is the least predicted 3D distance a return on the return
// layer may leave from the slot's other drones (and a release from a
// drone flying home on it): the two are a layer shift apart in height,
// and twice the separation monitor's default critical distance is kept.
const raisedSafeM = followSafeM

// returnCeilingMarginM is how far under the fence's ceiling (the area's
// band top, FENCE_ALT_MAX) a return layer must stay: ArduCopter holds an
// RTL FENCE_MARGIN (2 m by default) under it, and a climb overshoots.
const returnCeilingMarginM = 5

// defaultLayerStep is the planner's layer step when the options left it
// at its default.
const defaultLayerStep = 10

// returnLayers gives each plan its return layer: its RTL altitude
// shifted by one height for all, so that the lowest lies step above the
// highest altitude any plan patrols, transits, holds or returns at. None
// (all 0, why says so) when the highest would not stay
// returnCeilingMarginM under ceiling (the band's top). noRaised lists,
// per plan, the legs (by the item MISSION_CURRENT shows on each) from
// which a return on the return layer comes within the separation of
// another plan's flight (missions' ReturnConflicts: the climb through
// another slot's layer beside its loop; the shared pad exempt as for
// every plan): a drone there is not sent home on it.
func returnLayers(c *missions.Checker, plans []*missions.DronePlan, step, ceiling float64) (alts []float64, noRaised [][]int, why string) {
	alts = make([]float64, len(plans))
	noRaised = make([][]int, len(plans))
	if len(plans) == 0 {
		return alts, noRaised, ""
	}
	if step <= 0 {
		step = defaultLayerStep
	}
	top, low := math.Inf(-1), math.Inf(1)
	for _, dp := range plans {
		r := rtlAlt(dp)
		top = max(top, dp.Alt, dp.TransitAlt, r)
		low = min(low, r)
	}
	shift := top - low + step
	raised := make([]*missions.DronePlan, len(plans))
	for i, dp := range plans {
		alts[i] = rtlAlt(dp) + shift
		if alts[i] > ceiling-returnCeilingMarginM {
			return make([]float64, len(plans)), noRaised, fmt.Sprintf("slot %d's return layer (%g m) would not stay %d m under the ceiling (%g m)", i, alts[i], returnCeilingMarginM, ceiling)
		}
		raised[i] = withRTLAlt(dp, alts[i])
	}
	if c != nil {
		// Each drone comes home to its own spot on the pad: its return
		// is judged to every spot it may have (padSpots).
		for k := range padReturnPoints + 1 {
			to := make([]*missions.DronePlan, len(raised))
			for i, dp := range raised {
				spots := padSpots(dp)
				to[i] = returningTo(dp, spots[min(k, len(spots)-1)])
			}
			for i, vs := range c.ReturnConflicts(to, plans) {
				for _, v := range vs {
					if !slices.Contains(noRaised[i], int(v.Seq)) {
						noRaised[i] = append(noRaised[i], int(v.Seq))
					}
				}
			}
		}
		for i := range noRaised {
			slices.Sort(noRaised[i])
		}
	}
	return alts, noRaised, ""
}

// padReturnPoints is how many points on the launch pad's edge returns are
// judged to (besides its centre): 16 keep every spot on a 45 m pad within
// 2π·45/16/2 ≈ 4.4 m of one judged, under the margin a fence keeps around
// the pad.
const padReturnPoints = 16

// padSpots are the points (lon/lat) a drone of dp may come home to: the
// launch pad's centre and padReturnPoints points on its edge (the
// centre alone for a pad without a radius). A drone lands where it armed,
// its own spot anywhere on the pad, not at the plan's launch point.
func padSpots(dp *missions.DronePlan) []orb.Point {
	out := []orb.Point{{dp.Home.Lon, dp.Home.Lat}}
	r := dp.Launch.Radius
	if r <= 0 {
		return out
	}
	f := newFrame(dp.Home.Lat, dp.Home.Lon)
	for i := range padReturnPoints {
		th := 2 * math.Pi * float64(i) / padReturnPoints
		out = append(out, f.ll(p3{x: r * math.Cos(th), y: r * math.Sin(th)}))
	}
	return out
}

// returningTo is a copy of dp whose RTL flies to q (lon/lat): q is its
// only rally point, used at any distance and nearer than home
// (RALLY_LIMIT_KM 0, RALLY_INCL_HOME 0). Home stays the launch point, so
// the shared pad's zone the checks exempt is unchanged.
func returningTo(dp *missions.DronePlan, q orb.Point) *missions.DronePlan {
	c := *dp
	c.Rally = []mavitem.Item{{Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavRallyPoint, Autocontinue: 1,
		X: int32(math.Round(q[1] * 1e7)), Y: int32(math.Round(q[0] * 1e7))}}
	c.FenceParams = slices.DeleteFunc(slices.Clone(dp.FenceParams), func(p missions.ParamValue) bool {
		return p.Name == "RALLY_LIMIT_KM" || p.Name == "RALLY_INCL_HOME"
	})
	c.FenceParams = append(c.FenceParams, missions.ParamValue{Name: "RALLY_LIMIT_KM", Value: 0}, missions.ParamValue{Name: "RALLY_INCL_HOME", Value: 0})
	return &c
}

// withRTLAlt is a copy of dp whose RTL_ALT is alt (metres).
func withRTLAlt(dp *missions.DronePlan, alt float64) *missions.DronePlan {
	c := *dp
	c.FenceParams = slices.Clone(dp.FenceParams)
	cm := math.Round(alt * 100)
	for i, pv := range c.FenceParams {
		if pv.Name == "RTL_ALT" {
			c.FenceParams[i].Value = cm
			return &c
		}
	}
	c.FenceParams = append(c.FenceParams, missions.ParamValue{Name: "RTL_ALT", Value: cm})
	return &c
}

// rtlAltOf is the altitude an RTL of v climbs to now: its slot's return
// layer when the station raised its RTL_ALT, else the plan's.
func (o *Operation) rtlAltOf(v *VehicleState) float64 {
	if v.Slot < 0 || v.Slot >= len(o.Plans) {
		return 0
	}
	p := o.Plans[v.Slot]
	if v.RaisedRTL && p.ReturnAlt > 0 {
		return p.ReturnAlt
	}
	return rtlAlt(p.Plan)
}

// budgetAlt is the return altitude v's must-leave time is counted with:
// the return layer while a relief of its slot is on its way (launching,
// or flying to the loop or waiting at the hold: when a late handover
// would need the raised return), else the plan's RTL altitude (at least
// its transit layer). A relief is launched by the plain budget, and one
// that joins in time (the launch's margin is larger than the raised
// return's extra climb and descent) costs no patrol time; a late one
// sends the drone it relieves home that much earlier, on a return the
// reserve is kept for. (Counted also while a relieved drone flies home,
// the budget cost the stadium scenario a minute of each patrol of its
// short pool and left slots uncovered for minutes.) A drone whose
// RTL_ALT is still raised from its last return is not counted raised:
// every return the station sends sets RTL_ALT; only the autopilot's own
// failsafe RTL would climb higher than budgeted.
func (o *Operation) budgetAlt(v *VehicleState) float64 {
	if v.Slot < 0 || v.Slot >= len(o.Plans) {
		return 0
	}
	p := o.Plans[v.Slot]
	alt := math.Max(rtlAlt(p.Plan), p.Plan.TransitAlt)
	if p.ReturnAlt <= 0 {
		return alt
	}
	for _, x := range o.Vehicles {
		if x != v && x.Slot == v.Slot && (x.Role == RoleLaunching || x.Role == RoleTransit) {
			return math.Max(alt, p.ReturnAlt)
		}
	}
	return alt
}

// returnRelaxS is how long (operation seconds) before its bound
// (ReturnBy) a drone waiting for a clear return takes one that keeps
// followSafeM from the other drones of its slot, not handoverSafeM. A
// relief may join less than handoverSafeM behind the drone it relieves
// (the release keeps releaseSafeM only until joinS after it joins, then
// followSafeM): judged for handoverSafeM from where they are, that
// drone's return was never clear, and at its bound it went home
// unclear — its battery too low for the return layer — across its
// relief (the stadium scenario under load: 0.0 m) or its slot's next
// relief taking off (3.3 m). Over the last minute it goes at the first
// moment its return keeps the spacing the two fly the loop at.
const returnRelaxS = 60

// returnChoice is how v goes home now: at alt, the plan's RTL altitude
// when that return is clear (returnClear: handoverSafeM from the other
// drones of its slot — followSafeM in the last returnRelaxS before its
// bound — and out of every other drone's critical zone),
// else its slot's return layer when that one is (raisedSafeM) and its
// battery allows the climb there without the reserve. why says why
// neither is ("" when one is); alt is then the one that passes farther
// from the drones of its slot (the plan's when it is the critical zone of
// another drone that neither keeps). A leg whose straight return leaves
// the fence or crosses a no-fly zone (SlotPlan.NoReturnSeqs) is not clear
// at any height.
func (st *step) returnChoice(v *VehicleState, fv fleet.Vehicle, ok bool) (alt float64, why string) {
	if v.Slot < 0 || v.Slot >= len(st.o.Plans) {
		return 0, ""
	}
	p := st.o.Plans[v.Slot]
	plan := rtlAlt(p.Plan)
	if !ok || fv.Mode != "AUTO" {
		return plan, ""
	}
	if slices.Contains(p.NoReturnSeqs, fv.MissionSeq) {
		return plan, fmt.Sprintf("its straight return from item %d may leave the fence or cross a no-fly zone", fv.MissionSeq)
	}
	safe := float64(handoverSafeM)
	if v.ReturnBy != nil && v.ReturnBy.Sub(st.now).Seconds() < returnRelaxS {
		safe = followSafeM
	}
	clear, least, who := st.returnClear(v, fv, plan, safe)
	if clear {
		return plan, ""
	}
	pass := fmt.Sprintf("its return would pass %.0f m from another drone of slot %d", least, v.Slot)
	if who != "" {
		pass = "its return would enter the critical zone of " + who
	}
	if p.ReturnAlt <= 0 {
		return plan, pass
	}
	if slices.Contains(p.NoRaisedSeqs, fv.MissionSeq) {
		return plan, fmt.Sprintf("%s (its return layer's climb from item %d would pass another slot's flight)", pass, fv.MissionSeq)
	}
	// The raised return's extra climb and descent must come out of what
	// is left above the reserve (the must-leave margin may go to it): a
	// relieved drone's budget did not count it once its relief joined.
	if st.leaveInAt(v, fv, p.ReturnAlt)+leaveMarginS < 0 {
		return plan, pass + " (its battery does not allow the climb to its return layer)"
	}
	clearR, leastR, whoR := st.returnClear(v, fv, p.ReturnAlt, raisedSafeM)
	if clearR {
		return p.ReturnAlt, ""
	}
	alt = plan
	if leastR > least && whoR == "" {
		alt = p.ReturnAlt
	}
	on := fmt.Sprintf("%.0f m", leastR)
	if whoR != "" {
		on = "the critical zone of " + whoR
	}
	return alt, fmt.Sprintf("%s (%s on its return layer at %g m)", pass, on, p.ReturnAlt)
}

// rtlAction is the RTL of v at alt: RTL_ALT is set first when alt is its
// slot's return layer, or the plan's again after one (RaisedRTL says
// which the vehicle has).
func (st *step) rtlAction(v *VehicleState, alt float64) Action {
	a := Action{Kind: ActReturn, VehicleID: v.ID, Slot: v.Slot}
	v.rtlAt = st.now
	if v.Slot < 0 || v.Slot >= len(st.o.Plans) {
		return a
	}
	p := st.o.Plans[v.Slot]
	switch {
	case p.ReturnAlt > 0 && alt == p.ReturnAlt:
		a.RTLAlt, v.RaisedRTL = alt, true
	case v.RaisedRTL:
		a.RTLAlt, v.RaisedRTL = rtlAlt(p.Plan), false
	}
	v.rtlAlt = a.RTLAlt
	return a
}

// blockedAhead is how long (operation seconds, at the plan's speed) until
// v is past a stretch of its loop it cannot be sent home from as it
// should, when that stretch begins at its next leg: legs whose straight
// return leaves the fence (NoReturnSeqs) and, while another drone of its
// slot flies, legs with no raised return (NoRaisedSeqs). 0 when v flies
// such a leg now or the next leg is not one. A must-leave time that
// falls inside the stretch is met before it (schedule): left to the last
// moment, a stadium drone was sent home from such a leg across its relief
// at the slot's layer (4 m in the point-mass double, 0.4 m in a scenario
// run), or out of the fence.
func (st *step) blockedAhead(v *VehicleState, fv fleet.Vehicle) float64 {
	if v.Slot < 0 || v.Slot >= len(st.o.Plans) || fv.Mode != "AUTO" {
		return 0
	}
	p := st.o.Plans[v.Slot]
	dp := p.Plan
	if dp.LoopStart == 0 || dp.JumpSeq == 0 {
		return 0
	}
	company := p.ReturnAlt > 0 && len(p.NoRaisedSeqs) > 0 && st.slotCompany(v)
	blocked := func(seq int) bool { return p.blockedLeg(seq, company) }
	seq := fv.MissionSeq
	if seq < int(dp.LoopStart) || seq >= int(dp.JumpSeq) || blocked(seq) {
		return 0
	}
	items := dp.MissionWithHome()
	if int(dp.JumpSeq) >= len(items) {
		return 0 // not a mission this package built: nothing to judge
	}
	f := newFrame(dp.Home.Lat, dp.Home.Lon)
	pos := func(i int) p3 {
		it := items[i]
		return f.at(float64(it.X)/1e7, float64(it.Y)/1e7, float64(it.Z))
	}
	next := func(i int) int {
		jumped := false
		for i++; i < len(items); i++ {
			switch items[i].Command {
			case mavitem.CmdNavWaypoint:
				return i
			case mavitem.CmdDoJump:
				if j := int(items[i].Param1); jumped || j <= 0 || j >= len(items) {
					return -1
				}
				i, jumped = int(items[i].Param1)-1, true
			default:
				return -1
			}
		}
		return -1
	}
	speed := planSpeed(p)
	here := f.at(fv.Lat, fv.Lon, fv.RelativeAlt)
	to := pos(seq)
	t := math.Hypot(to.x-here.x, to.y-here.y) / speed
	stretch := 0.0
	for i, n := seq, 0; n < len(items); n++ {
		j := next(i)
		if j < 0 || !blocked(j) {
			break
		}
		a, b := pos(i), pos(j)
		stretch += math.Hypot(b.x-a.x, b.y-a.y) / speed
		i = j
	}
	if stretch == 0 {
		return 0
	}
	return t + stretch
}

// blockedLeg reports whether a drone flying the loop's leg seq (its
// MISSION_CURRENT) cannot be sent home from it as it should: its straight
// return leaves the fence (NoReturnSeqs), or, with company (another drone
// of its slot flying), the leg has no raised return (NoRaisedSeqs) where
// the slot has a return layer. blockedAhead and earlyLeaveS both ask it.
func (p SlotPlan) blockedLeg(seq int, company bool) bool {
	return slices.Contains(p.NoReturnSeqs, seq) || company && p.ReturnAlt > 0 && slices.Contains(p.NoRaisedSeqs, seq)
}

// slotCompany reports whether another drone of v's slot flies for the
// operation (launched and on its way in, on station or on its way home).
func (st *step) slotCompany(v *VehicleState) bool {
	for _, o := range st.o.Vehicles {
		if o.ID == v.ID || o.Slot != v.Slot {
			continue
		}
		switch o.Role {
		case RoleTransit:
			return true // launched: on the ground yet, it comes
		case RoleStation, RoleReturning:
			if fv, ok := st.look(o.ID); ok && airborne(fv) {
				return true
			}
		}
	}
	return false
}

// earlyLeaveS is how much sooner than its must-leave time a drone of slot
// i may be sent home because of the stretches blockedAhead keeps it out
// of: the longest run of such legs on the loop plus the leg before it
// (blockedAhead is judged from the start of that leg), at the plan's
// speed. The legs without a raised return count as blocked, as they do
// once a relief flies (slotCompany). Reliefs are launched this much
// earlier (schedule, forecast): launched for the must-leave time alone,
// a relief was still in transit when its incumbent left before such a
// stretch, 109–122 s early, and the slot went uncovered (the 3-hour
// operation test, 40–67 s).
func (o *Operation) earlyLeaveS(i int) float64 {
	if i < 0 || i >= len(o.Plans) {
		return 0
	}
	p := o.Plans[i]
	dp := p.Plan
	if dp == nil || dp.LoopStart == 0 || dp.JumpSeq == 0 || len(p.NoReturnSeqs) == 0 && (p.ReturnAlt <= 0 || len(p.NoRaisedSeqs) == 0) {
		return 0
	}
	items := dp.MissionWithHome()
	if int(dp.JumpSeq) >= len(items) {
		return 0
	}
	var seqs []int
	for s := int(dp.LoopStart); s < int(dp.JumpSeq); s++ {
		if items[s].Command == mavitem.CmdNavWaypoint {
			seqs = append(seqs, s)
		}
	}
	n := len(seqs)
	if n < 2 {
		return 0
	}
	f := newFrame(dp.Home.Lat, dp.Home.Lon)
	pos := func(s int) p3 {
		it := items[s]
		return f.at(float64(it.X)/1e7, float64(it.Y)/1e7, float64(it.Z))
	}
	speed := planSpeed(p)
	// dur[k] is the leg into seqs[k] (its MISSION_CURRENT), from the loop's
	// waypoint before it; the loop closes through the DO_JUMP.
	dur := make([]float64, n)
	blocked := make([]bool, n)
	all := true
	for k, s := range seqs {
		a, b := pos(seqs[(k+n-1)%n]), pos(s)
		dur[k] = math.Hypot(b.x-a.x, b.y-a.y) / speed
		blocked[k] = p.blockedLeg(s, true)
		all = all && blocked[k]
	}
	if all {
		return 0 // nowhere to leave from before it: blockedAhead is 0 too
	}
	longest := 0.0
	for k := range n {
		// A run starts at k: blocked, after a leg that is not.
		before := (k + n - 1) % n
		if !blocked[k] || blocked[before] {
			continue
		}
		run := dur[before]
		for j := k; blocked[j%n]; j++ {
			run += dur[j%n]
		}
		longest = math.Max(longest, run)
	}
	return longest
}
