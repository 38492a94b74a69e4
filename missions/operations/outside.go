package operations

import (
	"fmt"
	"math"

	"github.com/burgut-uav/burgut/fleet"
)

// Drones outside the operation.
//
// The pad's sequencing and the crossings (pad.go, crossing.go) judge the
// operation's drones by their roles and plans. Any other airborne drone
// of the fleet — another operation's, a plan set flown through the
// missions API, an operator's manual flight — is in the same air: near
// the pad it must hold a launch or a landing too. The Manager hands each
// operation those drones every tick (Operation.outside, from the fleet's
// List when the fleet has one); the step judges them as it can without a
// plan: where they are, and where their velocity takes them over the
// next outsideAheadS seconds (then they are taken to stay there).

// outsideAheadS is how far (operation seconds) the track of a drone
// outside the operation is extrapolated: the live separation monitor's
// default horizon. Beyond it a manual flight's velocity says nothing.
const outsideAheadS = 20

// fleetLister is the fleet as the Manager needs it to see every drone:
// *fleet.Fleet has it; a Fleet without it (a test double) shows none.
type fleetLister interface {
	List() []fleet.Vehicle
}

// airborneOutside returns the airborne drones of all that are not among
// o's vehicles. A drone whose link is lost is left out: its last position
// is stale (the live monitor and the link-lost alert speak for it), and
// a record that never comes back would hold the pad for good.
func airborneOutside(o *Operation, all []fleet.Vehicle) []fleet.Vehicle {
	var out []fleet.Vehicle
	for _, fv := range all {
		if !fv.Connected || !airborne(fv) || o.hasVehicle(fv.ID) {
			continue
		}
		out = append(out, fv)
	}
	return out
}

func (o *Operation) hasVehicle(id string) bool {
	for _, v := range o.Vehicles {
		if v.ID == id {
			return true
		}
	}
	return false
}

// outsideTrack is fv's position extrapolated by its velocity (climb
// included, not below the ground) for outsideAheadS, in frame f.
func outsideTrack(f frame, fv fleet.Vehicle) (p3, *track) {
	pos := f.at(fv.Lat, fv.Lon, math.Max(fv.RelativeAlt, 0))
	gs := math.Hypot(fv.VelNorth, fv.VelEast)
	if gs < 0.5 && math.Abs(fv.Climb) < 0.2 {
		return pos, newTrack(1, pos)
	}
	to := p3{x: pos.x + fv.VelEast*outsideAheadS, y: pos.y + fv.VelNorth*outsideAheadS, z: math.Max(0, pos.z+fv.Climb*outsideAheadS)}
	// newTrack times the segment by the slower of its horizontal and
	// vertical parts; at the drone's own speeds both take outsideAheadS.
	return pos, newTrack(math.Max(gs, 0.5), pos, to)
}

// outsideMovers are the drones outside the operation as the crossings
// judge them.
func (st *step) outsideMovers() []mover {
	if len(st.o.outside) == 0 {
		return nil
	}
	var out []mover
	for _, fv := range st.o.outside {
		pos, t := outsideTrack(st.opFrame(), fv)
		out = append(out, mover{id: fv.ID, state: "flying outside the operation", t: t, delays: []float64{0}, pos: pos})
	}
	return out
}

// outsideTakeoffBlocker names a drone outside the operation within the
// pad clearance (3D) of the column a takeoff from home climbs (to the
// slot's highest altitude), now or where its velocity takes it within
// outsideAheadS, or is "". Whatever the pad mode (short of "off"): a
// drone the scheduler does not command may be hovering there, and a
// launch under it is what the pad's sequencing is for.
func (st *step) outsideTakeoffBlocker(slot int, home p3) string {
	if st.pad == nil || len(st.o.outside) == 0 {
		return ""
	}
	p := st.o.Plans[slot].Plan
	top := home
	top.z = math.Max(p.Alt, p.TransitAlt)
	c := st.pad.clear
	for _, fv := range st.o.outside {
		pos, t := outsideTrack(st.pad.f, fv)
		h := 0
		for s := 0.0; s <= outsideAheadS; s += 1 {
			q := t.at(s, &h)
			if d := seg3(q, home, top); d < c {
				when := "now"
				if s > 0 {
					when = fmt.Sprintf("in %.0f s", s)
				}
				return fmt.Sprintf("%s, flying outside the operation, is %.0f m from its climb %s (at %.0f m, %.0f m off)", fv.ID, d, when, pos.z, hdist(pos, home))
			}
		}
	}
	return ""
}

// outsideUsers adds the drones outside the operation near the pad to its
// users, so a landing's spot and way in are judged against them as
// against the operation's own (pad.go): climbing they count as taking
// off, else as landing where they are within the clearance of their
// home, else as flying.
func (st *step) outsideUsers() {
	for _, fv := range st.o.outside {
		pos := st.pad.f.at(fv.Lat, fv.Lon, math.Max(fv.RelativeAlt, 0))
		if hdist(pos, p3{}) > crossNearM {
			continue
		}
		home := pos
		if fv.Home != nil {
			home = st.pad.f.at(fv.Home.Lat, fv.Home.Lon, 0)
		}
		u := padUser{id: fv.ID, home: home, pos: pos, state: "flying"}
		u.column = hdist(pos, home) < st.pad.clear
		u.inCol = u.column
		switch {
		case u.column && fv.Climb > 0.2:
			u.climbing, u.state = true, "taking off"
		case u.column:
			u.state = "landing"
		}
		st.pad.users = append(st.pad.users, u)
	}
}
