package operations

import (
	"fmt"
	"math"

	"github.com/burgut-uav/burgut/fleet"
)

// Crossings at the pad.
//
// The drones of an operation park on spots of one pad, ideally the pad
// clearance (30 m) apart: then no two climb or descend side by side, and
// what remains are the ways that cross a spot's column — a drone taking
// off from the far side of the pad flies out at its layer over a spot
// where another is descending, or one flying home at its return altitude
// passes over a spot from which another is climbing through that
// altitude (the stadium scenario, spots 32 m apart: 9.2 m and 1.4 m).
// Those are judged from predicted tracks in 3D: a takeoff waits while its
// climb and way out would pass within padState.way (10 m, the monitor's
// critical distance) of another drone of the operation, at any launch
// delay up to the station's own (launchDelays); a drone flying home is
// held (pad.go) while its way in would, soon (crossSoonS). Two ways at
// different layers cross 10 m apart by design and are not held.

// crossAheadS bounds (operation seconds) how far ahead a takeoff's climb
// and way out, and a return, are judged: the climb to the highest
// layer and the way across the pad.
const crossAheadS = 90

// crossStepS samples the crossing tracks (seconds): closing at 10 m/s, 3 m
// apart.
const crossStepS = 0.3

// crossSoonS: a drone flying home is held for a crossing predicted within
// this many seconds beyond the tick's look-ahead; a later one is judged
// again on the next ticks (the other drone's way may have changed).
const crossSoonS = 15

// crossNearM bounds which drones are judged at all: one farther than this
// from the candidate now cannot meet it within crossAheadS.
const crossNearM = 2 * crossAheadS * 10

// mover is another drone of the operation as a crossing judges it.
type mover struct {
	id    string
	state string
	t     *track
	// delays are the start times (seconds) its track may begin at: a
	// launch under way starts when the station's commands are through.
	delays []float64
	pos    p3
}

// launchDelays are the moments a takeoff commanded now may begin at
// (operation seconds): up to the station's command latency three times
// over (upload, arm, start) and 10 s more, every 2 s.
func (o *Operation) launchDelays() []float64 {
	d := math.Min(60, 10+3*o.LatencyS)
	var out []float64
	for s := 0.0; s <= d; s += 2 {
		out = append(out, s)
	}
	return out
}

// movers are the predicted tracks of the operation's drones but except
// (and of every airborne drone outside the operation, outside.go):
// those launching (from their spot, at any launch delay), those flying
// (their mission, their RTL — a drone sent home this tick is judged on
// its RTL), and those held (where they are); missions are followed
// crossAheadS ahead.
func (st *step) movers(except string) []mover {
	return st.moversAhead(except, crossAheadS)
}

// moversAhead is movers with missions followed horizon seconds ahead.
func (st *step) moversAhead(except string, horizon float64) []mover {
	if len(st.o.Plans) == 0 {
		return nil
	}
	f := st.opFrame()
	var out []mover
	for _, v := range st.o.Vehicles {
		if v.ID == except || v.Slot < 0 || v.Slot >= len(st.o.Plans) {
			continue
		}
		fv, ok := st.look(v.ID)
		if !ok {
			continue
		}
		p := st.o.Plans[v.Slot]
		switch v.Role {
		case RoleLaunching:
			h := st.homeOf(fv, v.Slot)
			out = append(out, mover{id: v.ID, state: "taking off", t: missionTrack(p, f, h, 1, horizon), delays: st.o.launchDelays(), pos: h})
		case RoleTransit, RoleStation, RoleReturning:
			if !fv.Armed {
				continue
			}
			pos := f.at(fv.Lat, fv.Lon, math.Max(fv.RelativeAlt, 0))
			z := st.o.rtlAltOf(v)
			var t *track
			state := "flying"
			delays := []float64{0}
			switch {
			case v.Role == RoleReturning && v.PadHeld != nil:
				t, state = newTrack(1, pos), "holding"
			case v.Role == RoleTransit && fv.Mode == "AUTO" && fv.MissionSeq <= 1:
				// Armed, its mission not begun or at its takeoff: still on
				// its spot, it may start climbing at any moment yet.
				t, state = missionTrack(p, f, pos, 1, horizon), "taking off"
				if !airborne(fv) || fv.RelativeAlt < 1 {
					delays = st.o.launchDelays()
				}
			case fv.Mode == "RTL" || fv.Mode == "SMART_RTL" || v.Role == RoleReturning && v.ReturnWait == nil && fv.Mode == "AUTO":
				// (Sent home this tick, its mode may show AUTO yet.)
				// Its RTL at the plan's speed and at ArduCopter's default
				// (the station does not know its RTL_SPEED; climbing, its
				// ground speed says nothing yet).
				pts := rtlPoints(p, f, pos, fv.Home, z)
				for _, s := range rtlSpeeds {
					if s == 0 {
						s = math.Max(planSpeed(p), fv.GroundSpeed)
					}
					out = append(out, mover{id: v.ID, state: "flying home", t: newTrack(s, pts...), delays: delays, pos: pos})
				}
				continue
			default:
				t = predicted(p, f, fv, horizon, z)
				if fv.Mode == "LAND" {
					state = "landing"
				}
			}
			out = append(out, mover{id: v.ID, state: state, t: t, delays: delays, pos: pos})
		}
	}
	return append(out, st.outsideMovers()...)
}

// firstMeet is the first time (seconds, within to) at which a, begun at
// da, and b, begun at db, are closer than lim (3D), both in the air (a
// track not begun yet, or on the ground, is on its spot), or -1.
func firstMeet(a *track, da float64, b *track, db float64, to, lim float64) float64 {
	return firstNear(a, da, b, db, to, func(p, q p3) bool { return dist3(p, q) < lim })
}

// firstNear is firstMeet with near deciding when two points are too
// close.
func firstNear(a *track, da float64, b *track, db float64, to float64, near func(p, q p3) bool) float64 {
	ha, hb := 0, 0
	for s := math.Max(da, db); s <= to; s += crossStepS {
		sa, sb := s-da, s-db
		if a.landedBy(sa) || b.landedBy(sb) {
			continue
		}
		p, q := a.at(sa, &ha), b.at(sb, &hb)
		if p.z < 1 || q.z < 1 {
			continue
		}
		if near(p, q) {
			return s
		}
	}
	return -1
}

// crossing names the first drone of others that t, begun at any of
// delays, comes within lim of before to seconds, and when; "" when none
// does.
func crossing(t *track, delays []float64, from p3, others []mover, to, lim float64) (string, float64, string) {
	for _, m := range others {
		if hdist(m.pos, from) > crossNearM {
			continue
		}
		for _, da := range delays {
			for _, db := range m.delays {
				if s := firstMeet(t, da, m.t, db, to, lim); s >= 0 {
					return m.id, s, m.state
				}
			}
		}
	}
	return "", -1, ""
}

// takeoffCrossing names a drone whose predicted flight the takeoff of id
// for slot from home would meet (within padState.way, 3D) on its climb or
// its way out, or "".
func (st *step) takeoffCrossing(id string, slot int, home p3) string {
	if st.pad == nil {
		return ""
	}
	t := missionTrack(st.o.Plans[slot], st.pad.f, home, 1, crossAheadS)
	who, at, state := crossing(t, st.o.launchDelays(), home, st.movers(id), crossAheadS, st.pad.way())
	if who == "" {
		return ""
	}
	return fmt.Sprintf("%s, %s, would pass within %.0f m of its climb or way out in %.0f s", who, state, st.pad.way(), at)
}

// returnCrossing names a drone that the RTL of v (from pos, at rtl
// altitude z, at the plan's speed and ArduCopter's default) would meet
// (within padState.way, 3D) within soon seconds, among others, or "".
func (st *step) returnCrossing(v *VehicleState, pos p3, home p3, z float64, others []mover, soon float64) (string, string) {
	p := st.o.Plans[v.Slot]
	ll := st.pad.f.ll(home)
	pts := rtlPoints(p, st.pad.f, pos, &fleet.Point{Lat: ll[1], Lon: ll[0]}, z)
	for _, s := range rtlSpeeds {
		if s == 0 {
			s = planSpeed(p)
		}
		t := newTrack(s, pts...)
		if who, at, state := crossing(t, []float64{0}, pos, others, math.Min(soon, t.duration()), st.pad.way()); who != "" {
			return who, fmt.Sprintf("%s, %s, would pass within %.0f m of its way in in %.0f s", who, state, st.pad.way(), at)
		}
	}
	return "", ""
}

// canRaise says whether v, flying home on its plan's RTL altitude, may
// be sent on at its slot's return layer: the slot has one, and the extra
// climb and descent come out of what is left above the reserve.
func (st *step) canRaise(v *VehicleState, fv fleet.Vehicle) bool {
	p := st.o.Plans[v.Slot]
	return p.ReturnAlt > 0 && !v.RaisedRTL && st.leaveInAt(v, fv, p.ReturnAlt)+leaveMarginS >= 0
}
