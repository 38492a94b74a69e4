package operations

import "math"

// BatterySample is one battery reading of a drone in flight: T in seconds
// on the operation's clock, Pct the remaining charge in percent.
type BatterySample struct {
	T   float64
	Pct float64
}

// PredictInput is what the endurance predictor knows about one airborne
// drone. Times and speeds are on the operation's clock.
type PredictInput struct {
	// Samples are the drone's battery readings while it patrolled, oldest
	// first: its own consumption is learned from them.
	Samples []BatterySample
	// PriorRate is the consumption, percent per second, assumed until the
	// samples span MinSpan (the drone's rate learned on an earlier flight,
	// else the operation's endurance prior).
	PriorRate float64
	Pct       float64 // charge now, percent
	DistHomeM float64 // horizontal distance to the launch pad, metres
	AltM      float64 // height above the pad, metres
	Cruise    float64 // cruise speed home, m/s
	Descent   float64 // descent speed, m/s
	Reserve   float64 // percent that must remain after landing
}

// Prediction says when a drone must leave its station to land with its
// reserve.
type Prediction struct {
	// Rate is the consumption used, percent per second; Learned tells
	// whether it came from the samples rather than the prior.
	Rate    float64 `json:"rate_pct_s"`
	Learned bool    `json:"learned"`
	// ReturnS is the flight home: distance at cruise, then the descent.
	ReturnS float64 `json:"return_s"`
	// LeaveInS is how long the drone can stay before it must turn home;
	// negative when it is already late.
	LeaveInS float64 `json:"leave_in_s"`
	// BatteryUnknown is set when the drone has reported no charge on this
	// patrol yet: LeaveInS is then +Inf for batteryUnknownGraceS, then
	// from the charge reckoned from the endurance prior (battery.go).
	BatteryUnknown bool `json:"battery_unknown,omitempty"`
}

// MinSpan is how long (seconds of flight) the samples must span before the
// learned rate replaces the prior: battery percentages come in whole
// percent, so a shorter window measures the rounding, not the drone.
const MinSpan = 90

// landingS is the time a copter needs from the end of its descent to
// being disarmed on the pad (the final slow-down and the land detector).
const landingS = 10

// Predict is the endurance predictor: a pure function of the drone's own
// telemetry. Consumption is the least-squares slope of the samples (the
// drone's real draw with its payload, wind and battery age), falling back
// to the prior while too little has been seen or when the slope is not a
// consumption at all (a swapped pack mid-window, noise). The time home is
// the straight distance at cruise plus the descent; the drone must leave
// when what is left above the reserve is what the flight home takes.
func Predict(in PredictInput) Prediction {
	rate, learned := in.PriorRate, false
	if r, ok := slope(in.Samples); ok && r > 0 {
		rate, learned = r, true
	}
	p := Prediction{Rate: rate, Learned: learned}
	cruise, descent := in.Cruise, in.Descent
	if cruise <= 0 {
		cruise = 10
	}
	if descent <= 0 {
		descent = 1.5
	}
	p.ReturnS = in.DistHomeM/cruise + math.Max(in.AltM, 0)/descent + landingS
	if rate <= 0 {
		p.LeaveInS = math.Inf(1)
		return p
	}
	need := in.Reserve + rate*p.ReturnS
	p.LeaveInS = (in.Pct - need) / rate
	return p
}

// slope fits Pct = a − r·T by least squares and returns r, the
// consumption in percent per second, when the samples span MinSpan.
func slope(s []BatterySample) (float64, bool) {
	if len(s) < 3 || s[len(s)-1].T-s[0].T < MinSpan {
		return 0, false
	}
	var n, st, sp, stt, stp float64
	t0 := s[0].T
	for _, x := range s {
		t := x.T - t0
		n++
		st += t
		sp += x.Pct
		stt += t * t
		stp += t * x.Pct
	}
	den := n*stt - st*st
	if den <= 0 {
		return 0, false
	}
	return -(n*stp - st*sp) / den, true
}

// FullEndurance is the flight time, seconds, a full pack gives at rate.
func FullEndurance(rate float64) float64 {
	if rate <= 0 {
		return math.Inf(1)
	}
	return 100 / rate
}
