// Package groundstation owns Burgut's MAVLink side: links, the dispatcher
// that drains gomavlib's events, per-vehicle protocol sessions, and the
// translation of frames into fleet state.
package groundstation

// Station is the MAVLink ground station. (Being built: see issue 3.)
type Station struct{}
