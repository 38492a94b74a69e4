package groundstation

import "math"

// The resolutions the station reports the quantities it derives with.
// MAVLink carries attitude and VFR_HUD's speeds as float32, and the
// station turns radians into degrees and velocity components into a
// ground speed: kept as float64, such a value prints as 17 digits of which
// the last ten are conversion noise (a VFR_HUD airspeed of 12.3 is
// 12.300000190734863), in every WebSocket and MQTT state and InfluxDB
// point. Those digits were ~9 % of a state's bytes on the WebSocket, and
// their shortest-digit search (strconv's slow path: fastfloat proves only
// short decimals) most of the states' float formatting, ~3 % of `burgut
// serve` at 2,000 vehicles. The resolutions are finer than any autopilot's
// estimate (EKF attitude ~0.1°, speeds ~0.1 m/s) and than what a console
// shows; the tlogs keep the bytes as received.
const (
	angleResolution = 1e-4 // degrees
	speedResolution = 1e-3 // metres per second
	rateResolution  = 1e-2 // link rate (Hz) and loss (%)
)

// roundTo returns x to the nearest multiple of unit (a power of ten), as
// the float64 nearest to that decimal, so it prints as the decimal; NaN
// and ±Inf are returned as they are.
func roundTo(x, unit float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	inv := math.Round(1 / unit)
	return math.Round(x*inv) / inv
}
