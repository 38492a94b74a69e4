package separation

import (
	"math"

	"github.com/burgut-uav/burgut/fleet"
)

// earthRadius is the WGS84 equatorial radius; an equirectangular
// projection around the fleet's first drone is accurate to well under a
// metre per kilometre at event scales, far inside the thresholds.
const earthRadius = 6378137.0

// Airborne reports whether a vehicle counts for separation: heard from,
// armed and not known to be on the ground. A vehicle whose autopilot does
// not report a landed state counts once it is 1 m above home.
func Airborne(v *fleet.Vehicle) bool {
	if !v.Connected || !v.Armed {
		return false
	}
	switch v.LandedState {
	case "on_ground":
		return false
	case "":
		return v.RelativeAlt > 1
	}
	return true
}

// TargetAlt says what altitude (metres above mean sea level) a vehicle
// is flying to, when the caller knows it (the station's copy of the
// mission item the vehicle flies, app/separation.go).
type TargetAlt func(v *fleet.Vehicle) (altMSL float64, ok bool)

// minClimb is the vertical speed (m/s) under which a drone counts as
// level and its target altitude is not looked up: over a 20 s horizon it
// moves at most 2 m vertically, and the lookup is skipped for the many
// drones cruising level.
const minClimb = 0.1

// Tracks projects the airborne vehicles into the local frame of the first
// of them, appending to dst (reused between ticks). A vehicle is on patrol
// when it flies a mission in AUTO. target, when not nil, gives the
// altitude a climbing or descending vehicle levels off at (Track.TargetZ).
func Tracks(dst []Track, vs []fleet.Vehicle, target TargetAlt) []Track {
	dst = dst[:0]
	var lat0, lon0, kx float64
	ky := earthRadius * math.Pi / 180
	for i := range vs {
		v := &vs[i]
		if !Airborne(v) {
			continue
		}
		if len(dst) == 0 {
			lat0, lon0 = v.Lat, v.Lon
			kx = ky * math.Cos(lat0*math.Pi/180)
		}
		dst = append(dst, Track{
			ID: v.ID,
			X:  (v.Lon - lon0) * kx, Y: (v.Lat - lat0) * ky, Z: v.AltMSL,
			VX: v.VelEast, VY: v.VelNorth, VZ: v.Climb,
			Patrol: v.Mode == "AUTO" && v.MissionCount > 0,
		})
		if target != nil && math.Abs(v.Climb) > minClimb {
			t := &dst[len(dst)-1]
			t.TargetZ, t.HasTargetZ = target(v)
		}
	}
	return dst
}
