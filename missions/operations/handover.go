package operations

import (
	"math"
	"slices"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/sepmin"
	"github.com/burgut-uav/burgut/missions"
	"github.com/paulmach/orb"
)

// The separated handover.
//
// Two drones of one slot fly the same plan on the same layer, so the
// planner's layers cannot keep them apart: the scheduler does, from
// where they are. A replacement waits at its plan's hold (HoldSeq, on the
// way in, HoldClear from the loop) and is sent on to the loop
// (ActContinue) only when the way it would fly from there — to the
// waypoint it joins at (join.go: behind the incumbent, else the loop's
// entry), then around the loop — keeps releaseSafeM from where
// every other airborne drone of its slot is predicted to fly; the drone
// it relieves keeps patrolling ahead of it until it is on the loop, and
// is sent home (RTL, straight home) only when that return keeps the same
// distance from the replacement. Predictions follow each drone's
// mission items at the plan's speed (the loop around its DO_JUMP), an
// RTL straight to its target at RTL_ALT; both drones fly the loop at
// the same speed, so the spacing the release leaves is kept.

// handoverSafeM is the least predicted distance (3D, metres) between two
// drones of a slot that a return may leave: beyond the separation
// monitor's default 30 m warning.
const handoverSafeM = 40

// releaseSafeM is the least predicted distance a release may leave while
// the replacement flies to the loop and joinS after. For the rest of the
// lap ahead the two fly one loop at one speed, where only its legs that
// pass each other bring them closer: followSafeM, twice the separation
// monitor's default critical distance, is asked of that. (60 m, and 40 m
// or 30 m all lap long were tried: on the stadium scenario a release then
// waited minutes where legs of one loop pass each other, and slots went
// uncovered.)
const (
	releaseSafeM = handoverSafeM
	joinS        = 15
	followSafeM  = 20
)

// predictStepS samples predicted tracks (seconds): at 10 m/s closing
// each a metre and a half apart.
const predictStepS = 0.15

// maxPredictS bounds how far ahead a release or a return is judged.
const maxPredictS = 240

// rtlSpeeds are the horizontal speeds an RTL is judged at: the plan's
// own (0 here) and ArduCopter's default WPNAV_SPEED, since the station
// does not know the vehicle's RTL_SPEED.
var rtlSpeeds = []float64{0, 10}

// Vertical rates the autopilot flies between altitudes (ArduCopter's
// WPNAV_SPEED_UP and WPNAV_SPEED_DN defaults).
const (
	upRate   = 2.5
	downRate = 1.5
)

// p3 is a point in metres east (x) and north (y) of a frame's origin and
// metres above launch (z).
type p3 struct{ x, y, z float64 }

type frame struct{ lat0, lon0, kx float64 }

const earthR = 6371008.8

func newFrame(lat, lon float64) frame {
	return frame{lat0: lat, lon0: lon, kx: math.Cos(lat * math.Pi / 180)}
}

func (f frame) at(lat, lon, z float64) p3 {
	k := math.Pi / 180 * earthR
	return p3{(lon - f.lon0) * k * f.kx, (lat - f.lat0) * k, z}
}

func (f frame) ll(p p3) orb.Point {
	k := math.Pi / 180 * earthR
	return orb.Point{f.lon0 + p.x/(k*f.kx), f.lat0 + p.y/k}
}

// track is a predicted flight: straight pieces flown one after the other
// (horizontally at speed, vertically at the climb or descent rate, each
// piece taking the longer), then a hover at the last point.
type track struct {
	pts []p3
	end []float64 // end[i]: time the drone reaches pts[i+1]
	// shift is how far (seconds) along the track the drone already is
	// now: a track predicted from a state age seconds old (st.ageS).
	shift float64
}

func newTrack(speed float64, pts ...p3) *track {
	t := &track{pts: pts}
	var s float64
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		h := math.Hypot(b.x-a.x, b.y-a.y) / speed
		dz := b.z - a.z
		v := dz / upRate
		if dz < 0 {
			v = -dz / downRate
		}
		s += math.Max(h, v)
		t.end = append(t.end, s)
	}
	return t
}

// landedBy reports whether the track ends on the ground (an RTL's
// landing) and has by s seconds: a drone landed at its parking spot is
// not a drone in the air to keep clear of (landings side by side on the
// pad are the pad's sequencing, not a return's).
func (t *track) landedBy(s float64) bool {
	return len(t.end) > 0 && s+t.shift > t.duration() && t.pts[len(t.pts)-1].z <= 0.5
}

// duration is when the track reaches its last point.
func (t *track) duration() float64 {
	if len(t.end) == 0 {
		return 0
	}
	return t.end[len(t.end)-1]
}

// at is where the drone is predicted at s seconds (calls with s not
// decreasing are cheap: the piece is searched from the last one).
func (t *track) at(s float64, hint *int) p3 {
	s += t.shift
	i := *hint
	for i < len(t.end) && t.end[i] < s {
		i++
	}
	*hint = i
	if i >= len(t.end) {
		return t.pts[len(t.pts)-1]
	}
	from := 0.0
	if i > 0 {
		from = t.end[i-1]
	}
	a, b := t.pts[i], t.pts[i+1]
	f := 0.0
	if d := t.end[i] - from; d > 0 {
		f = (s - from) / d
	}
	return p3{a.x + (b.x-a.x)*f, a.y + (b.y-a.y)*f, a.z + (b.z-a.z)*f}
}

// minDist is the least 3D distance between two tracks flown from now,
// between from and to seconds ahead.
func minDist(a, b *track, from, to float64) float64 {
	best := math.Inf(1)
	ha, hb := 0, 0
	for s := from; s <= to; s += predictStepS {
		if a.landedBy(s) || b.landedBy(s) {
			continue // on the ground at its spot: no longer in the air
		}
		p, q := a.at(s, &ha), b.at(s, &hb)
		best = math.Min(best, math.Sqrt((p.x-q.x)*(p.x-q.x)+(p.y-q.y)*(p.y-q.y)+(p.z-q.z)*(p.z-q.z)))
	}
	return best
}

func planSpeed(p SlotPlan) float64 {
	if p.Plan.Speed > 0 {
		return p.Plan.Speed
	}
	return 10
}

// rtlAlt is the altitude an RTL climbs to (RTL_ALT in the plan's
// parameters, centimetres; else its transit layer).
func rtlAlt(dp *missions.DronePlan) float64 {
	if cm, ok := paramOf(dp, "RTL_ALT"); ok {
		return cm / 100
	}
	return dp.TransitAlt
}

// paramOf is the value dp's upload sets parameter name to (FenceParams).
func paramOf(dp *missions.DronePlan, name string) (float64, bool) {
	for _, pv := range dp.FenceParams {
		if pv.Name == name {
			return pv.Value, true
		}
	}
	return 0, false
}

// missionTrack follows p's mission items from seq, starting at from, for
// at least horizon seconds (around the loop's DO_JUMP): a hold or the
// mission's end stops it there.
func missionTrack(p SlotPlan, f frame, from p3, seq int, horizon float64) *track {
	items := p.Plan.MissionWithHome()
	speed := planSpeed(p)
	pts := []p3{from}
	dist := 0.0 // a bound on the time so far: pieces flown at speed
	last := from
	addPt := func(q p3) {
		dist += math.Hypot(q.x-last.x, q.y-last.y)/speed + math.Abs(q.z-last.z)/downRate
		pts = append(pts, q)
		last = q
	}
	for i, n := seq, 0; i > 0 && i < len(items) && n < 4*len(items)+64 && dist < horizon; n++ {
		it := items[i]
		pt := func() p3 {
			return f.at(float64(it.X)/1e7, float64(it.Y)/1e7, float64(it.Z))
		}
		switch it.Command {
		case mavitem.CmdNavWaypoint:
			addPt(pt())
			i++
		case mavitem.CmdNavLoiterUnlim:
			addPt(pt())
			i = -1
		case mavitem.CmdNavTakeoff:
			addPt(p3{last.x, last.y, float64(it.Z)})
			i++
		case mavitem.CmdDoJump:
			if i = int(it.Param1); i <= 0 {
				i = -1
			}
		case mavitem.CmdNavReturnToLaunch:
			for _, q := range rtlPoints(p, f, last, nil, rtlAlt(p.Plan))[1:] {
				addPt(q)
			}
			i = -1
		case mavitem.CmdNavLand:
			addPt(p3{pt().x, pt().y, last.z})
			addPt(p3{last.x, last.y, 0})
			i = -1
		default:
			i++
		}
	}
	return newTrack(speed, pts...)
}

// rtlPoints is an RTL from q: the climb to alt (RTL_ALT) where it is below it,
// straight to the RTL target at that height, the landing. The target is
// the nearest rally point, else the vehicle's home (where it armed: the
// crew's parking spot on the pad) when known, else the plan's.
func rtlPoints(p SlotPlan, f frame, q p3, home *fleet.Point, alt float64) []p3 {
	to := p.Plan.RTLTarget(f.ll(q))
	if len(p.Plan.Rally) == 0 && home != nil {
		to = orb.Point{home.Lon, home.Lat}
	}
	h := f.at(to[1], to[0], 0)
	// ArduCopter lowers the return near its target: no higher than
	// RTL_CONE_SLOPE (default 3) times the distance, never below where
	// the drone is.
	z := math.Max(q.z, math.Min(alt, rtlConeSlope*math.Hypot(h.x-q.x, h.y-q.y)))
	h.z = z
	return []p3{q, {q.x, q.y, z}, h, {h.x, h.y, 0}}
}

// rtlConeSlope is ArduCopter's default RTL_CONE_SLOPE (the station does
// not read the vehicle's).
const rtlConeSlope = 3

// airborne reports whether fv flies (armed and off the ground).
func airborne(fv fleet.Vehicle) bool {
	return fv.Armed && fv.LandedState != "on_ground"
}

// predicted is where fv is going as it flies now: its RTL (climbing to
// rtlZ), its mission (in AUTO), or where it is.
func predicted(p SlotPlan, f frame, fv fleet.Vehicle, horizon, rtlZ float64) *track {
	pos := f.at(fv.Lat, fv.Lon, fv.RelativeAlt)
	switch {
	case fv.Mode == "RTL" || fv.Mode == "SMART_RTL":
		return newTrack(math.Max(planSpeed(p), fv.GroundSpeed), rtlPoints(p, f, pos, fv.Home, rtlZ)...)
	case fv.Mode == "AUTO" && fv.MissionSeq > 0:
		return missionTrack(p, f, pos, fv.MissionSeq, horizon)
	}
	return newTrack(1, pos)
}

// maxAgeS bounds how far (operation seconds) a drone's last state is
// carried along its predicted track (ageS): a drone silent longer is the
// link-lost check's business, not a prediction's.
const maxAgeS = 30

// ageS is how old fv's state is, in operation seconds (stateAgeS), at
// most maxAgeS. Under load the station reads states that waited in its
// queues — at speedup 60, 100 ms of wall time is 6 s of flight, 60 m at
// 10 m/s — and the releases and returns
// judged from them kept 40 m from where the other drones had been, not
// where they were: a release judged to keep 40 m passed 18 m, a return
// judged 30 m passed 17.6 m (the 3-hour operation test under CI load).
// The other drones' tracks are taken that far along (track.shift).
func (st *step) ageS(fv fleet.Vehicle) float64 {
	return math.Min(st.stateAgeS(fv), maxAgeS)
}

// others are the tracks of the airborne drones of slot (but the one
// named) as they fly now; raised are those of them flying home on the
// slot's return layer, apart in height from everyone on its patrol,
// transit and hold layer. Drones of other slots fly other layers, which
// the plan keeps apart (the pad they share is not judged: see the
// README's limitations).
func (st *step) others(slot int, except string, f frame, horizon float64) (out, raised []*track) {
	for _, v := range st.o.Vehicles {
		if v.ID == except || v.Slot != slot {
			continue
		}
		switch v.Role {
		case RoleTransit, RoleStation, RoleReturning:
		default:
			continue
		}
		fv, ok := st.look(v.ID)
		if !ok || !airborne(fv) {
			continue
		}
		z := st.o.rtlAltOf(v)
		p := st.o.Plans[slot]
		t := predicted(p, f, fv, horizon, z)
		sent := v.Role == RoleReturning && v.ReturnWait == nil
		if sent && fv.Mode == "AUTO" {
			// Sent home (this tick, or its mode has not shown RTL yet):
			// it flies its RTL. Two drones of a slot sent home on one
			// tick (the window's end: the incumbent and its relief on
			// its way in) are judged one against the other's return.
			t = newTrack(planSpeed(p), rtlPoints(p, f, f.at(fv.Lat, fv.Lon, fv.RelativeAlt), fv.Home, z)...)
		}
		t.shift = st.ageS(fv)
		if sent && v.RaisedRTL {
			raised = append(raised, t)
		} else {
			out = append(out, t)
		}
	}
	return out, raised
}

// clearOf reports whether t keeps near metres (3D) from every track of
// others over the first split seconds, and far metres from then to
// horizon, and the least distance it keeps.
func clearOf(t *track, others []*track, split, near, horizon, far float64) (bool, float64) {
	ok, least := true, math.Inf(1)
	for _, o := range others {
		a := minDist(t, o, 0, math.Min(split, horizon))
		b := math.Inf(1)
		if split < horizon {
			b = minDist(t, o, split, horizon)
		}
		ok = ok && a >= near && b >= far
		least = math.Min(least, math.Min(a, b))
	}
	return ok, least
}

// atHold reports whether fv waits at its plan's hold.
func atHold(p SlotPlan, fv fleet.Vehicle) bool {
	hs := int(p.Plan.HoldSeq)
	if hs == 0 || fv.Mode != "AUTO" || fv.MissionSeq != hs || hs > len(p.Plan.Mission) {
		return false
	}
	it := p.Plan.Mission[hs-1]
	return distM(fv.Lat, fv.Lon, float64(it.X)/1e7, float64(it.Y)/1e7) < holdReachedM && math.Abs(fv.RelativeAlt-float64(it.Z)) < holdReachedM
}

// toHold reports whether fv flies to its plan's hold on the last leg
// before the loop (the hold is the last item before LoopStart): sent on
// from there it flies straight on along the same line to the loop's
// entry, so a drone with nothing to wait for need not stop at the hold.
func toHold(p SlotPlan, fv fleet.Vehicle) bool {
	hs := int(p.Plan.HoldSeq)
	return hs != 0 && hs == int(p.Plan.LoopStart)-1 && fv.Mode == "AUTO" && fv.MissionSeq == hs && fv.RelativeAlt > 1
}

// holdReachedM is how near its hold a drone counts as waiting there.
const holdReachedM = 5

// releaseClear judges sending v (waiting at its hold, or on the last leg
// to it) on to the loop by way of c: the way from where it is to c's join
// waypoint and around the loop must keep releaseSafeM from the other
// airborne drones of its slot until joinS after it reaches that waypoint,
// and followSafeM for the rest of a lap (both then fly the loop at the
// same speed). The way is judged as the relief really sets off: when the
// station's MISSION_SET_CURRENT reaches it, at any moment up to the
// station's command latency (commandDelays), and from the hover at its
// hold, accelerating (accelLagS) — judged as if it left now at cruise
// speed, a release kept 40 m on paper and 18 m in the air (the 3-hour
// operation test under load: the relief set off seconds later than
// predicted, with the incumbent coming round the loop behind it).
func (st *step) releaseClear(v *VehicleState, fv fleet.Vehicle, c joinChoice) (bool, float64) {
	p := st.o.Plans[v.Slot]
	f := newFrame(p.Plan.Home.Lat, p.Plan.Home.Lon)
	lap := loopLen(p) / planSpeed(p)
	// It sets off at once (the judgement made before the Continue was
	// allowed for) or when the Continue reaches it, at any moment up to
	// the command latency, from the hover.
	lag := accelLagS(planSpeed(p))
	waits := []float64{0}
	for _, d := range st.o.commandDelays() {
		waits = append(waits, d+lag)
	}
	ways := make([]*track, len(waits))
	joins := make([]float64, len(waits))
	horizon := 0.0
	for i, w := range waits {
		ways[i] = st.setOff(p, f, fv, c, w)
		joins[i] = ways[i].reaches(joinPoint(p, f, c)) - ways[i].shift
		horizon = math.Max(horizon, math.Min(maxPredictS, joins[i]+lap+10))
	}
	others, raised := st.others(v.Slot, v.ID, f, horizon)
	ok, least := true, math.Inf(1)
	for i, way := range ways {
		h := math.Min(maxPredictS, joins[i]+lap+10)
		okA, l := clearOf(way, others, joins[i]+joinS, releaseSafeM, h, followSafeM)
		// A drone flying home on the return layer passes over the way in,
		// apart in height: raisedSafeM is asked of it.
		okR, lR := clearOf(way, raised, h, raisedSafeM, h, raisedSafeM)
		ok, least = ok && okA && okR, math.Min(least, math.Min(l, lR))
		if !ok {
			return false, least
		}
	}
	if st.pad != nil {
		// Nor may its way to the loop cross another drone's climb from
		// (or descent to) its spot on the pad: a hold over the pad sits
		// above the spots (crossing.go).
		pf := st.pad.f
		way := missionTrack(p, pf, pf.at(fv.Lat, fv.Lon, fv.RelativeAlt), c.send, maxPredictS)
		to := math.Min(horizon, way.reaches(joinPoint(p, pf, c))+waits[len(waits)-1]+joinS)
		if who, _, _ := crossing(way, waits, way.pts[0], st.movers(v.ID), to, st.pad.way()); who != "" {
			return false, least
		}
	}
	return true, least
}

// wpnavAccel is the horizontal acceleration (m/s²) a drone sets off from
// the hover with: ArduCopter's default WPNAV_ACCEL.
const wpnavAccel = 2.5

// accelLagS is how far (seconds) a drone setting off from the hover
// towards a waypoint speed m/s away stays behind one that left at that
// speed: speed/(2·wpnavAccel) once it is at speed (1.2 s at 6 m/s, 2 s at
// 10 m/s).
func accelLagS(speed float64) float64 { return speed / (2 * wpnavAccel) }

// maxCommandDelays bounds how many moments commandDelays lists: the
// judgements that use them fly one prediction each.
const maxCommandDelays = 20

// commandDelays are the moments (operation seconds from now) a command
// the scheduler sends on this tick may take effect at on the vehicle:
// at once, or as late as the station's recent command round trip
// (Operation.LatencyS), every second (coarser past maxCommandDelays of
// them). At speedup 60 a busy station's 200 ms is 12 s of flight.
func (o *Operation) commandDelays() []float64 {
	top := math.Max(o.LatencyS, 0)
	step := math.Max(1, top/maxCommandDelays)
	out := []float64{0}
	for d := step; d < top; d += step {
		out = append(out, d)
	}
	if top > 0 {
		out = append(out, top)
	}
	return out
}

// setOff is the way fv flies onto the loop by way of c when it sets off
// wait seconds from now (the Continue reaching it, and its acceleration
// from the hover: accelLagS): a drone waiting at its hold hovers there
// until then; one still on the last leg to its hold flies on along it
// (from where its state, as old as it is, puts it now: the track's
// shift) and, when it gets there before, hovers there the same way —
// else it flies straight on to the loop's entry without stopping.
func (st *step) setOff(p SlotPlan, f frame, fv fleet.Vehicle, c joinChoice, wait float64) *track {
	pos := f.at(fv.Lat, fv.Lon, fv.RelativeAlt)
	if atHold(p, fv) || p.Plan.HoldSeq == 0 || int(p.Plan.HoldSeq) > len(p.Plan.Mission) {
		t, _ := missionTrack(p, f, pos, c.send, maxPredictS).heldUntil(0, wait)
		return t
	}
	it := p.Plan.Mission[p.Plan.HoldSeq-1]
	hold := f.at(float64(it.X)/1e7, float64(it.Y)/1e7, float64(it.Z))
	on := missionTrack(p, f, hold, c.send, maxPredictS)
	t := newTrack(planSpeed(p), append([]p3{pos}, on.pts...)...)
	age := st.ageS(fv)
	if t.end[0] < age+wait {
		t, _ = t.heldUntil(1, age+wait)
	}
	t.shift = age
	return t
}

// joinPoint is where c's join waypoint lies in f.
func joinPoint(p SlotPlan, f frame, c joinChoice) p3 {
	if c.join < 1 || c.join > len(p.Plan.Mission) {
		return p3{}
	}
	it := p.Plan.Mission[c.join-1]
	return f.at(float64(it.X)/1e7, float64(it.Y)/1e7, float64(it.Z))
}

// reaches is when (on t's own clock) t first reaches q, one of its
// points, after it starts; its duration when it never does. (A way in
// over a transit layer passes the point over the entry first: a point
// of another height.)
func (t *track) reaches(q p3) float64 {
	for k := 1; k < len(t.pts); k++ {
		if t.pts[k] == q {
			return t.end[k-1]
		}
	}
	return t.duration()
}

// heldUntil is t with the drone hovering at its point i until time until
// (on t's own clock) when it would be there earlier, the rest flown that
// much later; extra is how much later (0: t itself).
func (t *track) heldUntil(i int, until float64) (*track, float64) {
	arrive := 0.0
	if i > 0 && i-1 < len(t.end) {
		arrive = t.end[i-1]
	}
	extra := until - arrive
	if extra <= 0 || i >= len(t.pts)-1 {
		return t, 0
	}
	c := &track{shift: t.shift}
	c.pts = append(append(slices.Clone(t.pts[:i+1]), t.pts[i]), t.pts[i+1:]...)
	c.end = append(slices.Clone(t.end[:i]), until)
	for _, e := range t.end[i:] {
		c.end = append(c.end, e+extra)
	}
	return c, extra
}

// then is t flown until s seconds (on its own clock) and u from there on:
// u begins where t is at s.
func (t *track) then(s float64, u *track) *track {
	k := 0
	for k < len(t.end) && t.end[k] <= s {
		k++
	}
	c := &track{pts: slices.Clone(t.pts[:k+1]), end: slices.Clone(t.end[:k])}
	if s > 0 && (k == 0 || t.end[k-1] < s) {
		h := 0
		q := *t
		q.shift = 0
		c.pts = append(c.pts, q.at(s, &h))
		c.end = append(c.end, s)
	}
	c.pts = append(c.pts, u.pts[1:]...)
	for _, e := range u.end {
		c.end = append(c.end, s+e)
	}
	return c
}

// loopLen is the loop's length, metres (0 without one).
func loopLen(p SlotPlan) float64 {
	dp := p.Plan
	if dp.LoopStart == 0 || dp.JumpSeq == 0 {
		return 0
	}
	var pts [][2]float64
	for _, it := range dp.Mission {
		if it.Seq >= dp.LoopStart && it.Seq < dp.JumpSeq && it.Command == mavitem.CmdNavWaypoint {
			pts = append(pts, [2]float64{float64(it.X) / 1e7, float64(it.Y) / 1e7})
		}
	}
	var l float64
	for i := range pts {
		a, b := pts[i], pts[(i+1)%len(pts)]
		l += distM(a[0], a[1], b[0], b[1])
	}
	return l
}

// returnClear judges sending v home now on an RTL climbing to alt, as the
// drone really flies it (returnWays): from where its state, as old as it
// is, puts it now, beginning when the station's command reaches it, at
// the plan's speed and at ArduCopter's default:
//   - it must keep safe metres (3D) from the other airborne drones of its
//     slot until it has landed;
//   - and it must not enter the critical zone (zoneNear) of any other drone
//     of the operation, of any slot, nor of one flying outside it
//     (zoneConflict): drones of other slots fly other layers, but not
//     where a return crosses their way in or their hold on a shared
//     transit layer, or climbs to a return layer through theirs.
//
// least is the least predicted distance to its slot's drones (+Inf with
// none about); conflict names the drone whose zone it would enter ("").
func (st *step) returnClear(v *VehicleState, fv fleet.Vehicle, alt, safe float64) (ok bool, least float64, conflict string) {
	if v.Slot < 0 || v.Slot >= len(st.o.Plans) || !airborne(fv) {
		return true, math.Inf(1), ""
	}
	p := st.o.Plans[v.Slot]
	f := newFrame(p.Plan.Home.Lat, p.Plan.Home.Lon)
	o, r := st.others(v.Slot, v.ID, f, maxPredictS)
	others := append(o, r...)
	ok, least = true, math.Inf(1)
	for _, hyp := range st.returnWays(p, f, fv, alt) {
		horizon := math.Min(maxPredictS, hyp.duration()-hyp.shift)
		c, l := clearOf(hyp, others, horizon, safe, horizon, safe)
		ok, least = ok && c, math.Min(least, l)
	}
	if ok {
		conflict = st.zoneConflict(v, fv, alt)
	}
	return ok && conflict == "", least, conflict
}

// zoneNear reports whether p and q are within the separation monitor's
// critical zone, with a margin in height: closer than the critical
// distance horizontally (the pad clearance's third: 10 m at the
// defaults, as padState.way) and than the warning's vertical minimum
// (8 m) — a layer step (10 m) apart is clear, a climb or descent through
// the other's layer is not.
func (st *step) zoneNear(p, q p3) bool {
	return hdist(p, q) < st.o.padClear()/3 && math.Abs(p.z-q.z) < sepmin.WarnVertical
}

// zoneConflict names the drone (with what it does and when) whose
// critical zone (zoneNear) the RTL of v at alt, flown as returnWays
// has it, would enter over the next crossAheadS, judged against the
// predicted flight of every other drone of the operation (crossing.go's
// movers: launching at any delay, flying their mission or home, held) and
// of every airborne drone outside it (listed while the pad is
// sequenced), each taken along by the age of its state; "" when none.
func (st *step) zoneConflict(v *VehicleState, fv fleet.Vehicle, alt float64) string {
	if hs := st.zoneHits(v, fv, alt, nil, false); len(hs) > 0 {
		return hs[0].String(st.o)
	}
	return ""
}

// returnWays are the ways fv may fly home on an RTL to alt sent now: it
// flies on as it does (its mission in AUTO, else where it is) from where
// its state, as old as it is, puts it now (the tracks' shift) until the
// RTL reaches it — at once, or at any moment up to the station's command
// round trip (commandDelays) — and its RTL from there, at the plan's speed
// and at ArduCopter's default. Judged from where its last state had it
// and as if it turned at once, a relieved drone sent home on a return
// predicted to pass 30 m from its relief passed 17.6 m (the 3-hour
// operation test under load).
func (st *step) returnWays(p SlotPlan, f frame, fv fleet.Vehicle, alt float64) []*track {
	pos := f.at(fv.Lat, fv.Lon, fv.RelativeAlt)
	age := st.ageS(fv)
	delays := st.o.commandDelays()
	cur := newTrack(1, pos)
	if fv.Mode == "AUTO" && fv.MissionSeq > 0 {
		cur = missionTrack(p, f, pos, fv.MissionSeq, age+delays[len(delays)-1]+1)
	}
	var out []*track
	for _, d := range delays {
		h := 0
		pts := rtlPoints(p, f, cur.at(age+d, &h), fv.Home, alt)
		for _, s := range rtlSpeeds {
			if s == 0 {
				s = planSpeed(p)
			}
			t := cur.then(age+d, newTrack(s, pts...))
			t.shift = age
			out = append(out, t)
		}
	}
	return out
}
