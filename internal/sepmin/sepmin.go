// Package sepmin owns the separation minima between two of our drones,
// metres: the live separation monitor's default thresholds
// (fleet/separation.DefaultConfig) and the plan-time separation rule's
// horizontal minimum (missions.DefaultSeparation) are these numbers, so a
// plan the planner accepts does not make the monitor warn by
// construction — two of its legs on one layer are at least
// WarnHorizontal apart, and legs closer than that are at least the
// planner's layer step (10 m, above WarnVertical) apart in height.
//
// A conflict is a cylinder, not a sphere: closer than the horizontal
// minimum AND the vertical one at the same moment.
//
// Horizontally 30 m warns and 10 m is critical for multirotors cruising
// at 5–15 m/s with GNSS errors of a few metres. Vertically 8 m warns and
// 4 m is critical, against the planner's 10 m between altitude layers:
// altitude is held on the barometer within about ±0.5–1 m, so two drones
// on adjacent layers stay 8–10 m apart and only one that has left its
// layer by more than the two drones' combined hold error (2 m) warns; 4 m
// — under half the layer step — is a drone in the other's layer band.
package sepmin

const (
	// WarnHorizontal is the horizontal distance under which a pair that
	// is also closer than WarnVertical raises a separation warning, and
	// the planner's horizontal minimum between legs less than a layer
	// step apart vertically.
	WarnHorizontal = 30.0
	// CriticalHorizontal with CriticalVertical is a critical conflict.
	CriticalHorizontal = 10.0
	// WarnVertical is the vertical minimum of a warning: strictly under
	// the planner's layer step, so adjacent layers do not warn.
	WarnVertical = 8.0
	// CriticalVertical is the vertical minimum of a critical conflict.
	CriticalVertical = 4.0
)
