package vehicle

import (
	"math"
	"time"
)

const (
	earthRadius        = 6378137.0
	defaultCapacityMAh = 5000.0
	hoverCurrentA      = 12.0  // 3S quad of ~1.5 kg: ~20 min on 5000 mAh
	idleCurrentA       = 1.5   // armed, props at idle on the ground
	packResistance     = 0.025 // ohm, whole pack: voltage sag under load
	dragPerMps         = 0.26  // horizontal drag deceleration per m/s of airspeed (≈15° tilt at 10 m/s)
	crashSpeed         = 3.0   // m/s vertical at ground contact that counts as a crash
	idleThrottle       = 0.14  // armed on the ground (MOT_SPIN_ARM), as SITL's VFR_HUD shows
	spoolTime          = time.Second
)

// toLocal converts degrees to metres north/east of the origin (an
// equirectangular projection: accurate to centimetres over the few
// kilometres a multicopter flies).
func (v *Vehicle) toLocal(lat, lon float64) (n, e float64) {
	return (lat - v.lat0) * v.mPerDegLat, (lon - v.lon0) * v.mPerDegLon
}

func (v *Vehicle) toGlobal(n, e float64) (lat, lon float64) {
	return v.lat0 + n/v.mPerDegLat, v.lon0 + e/v.mPerDegLon
}

// sqrtController is ArduPilot's sqrt_controller: proportional close to the
// target, constant-deceleration beyond, so the vehicle stops on the target
// without overshoot at the given acceleration.
func sqrtController(err, p, accel float64) float64 {
	if accel <= 0 || p <= 0 {
		return err * p
	}
	lin := accel / (p * p)
	abs := math.Abs(err)
	if abs <= lin {
		return err * p
	}
	out := math.Sqrt(2 * accel * (abs - lin/2))
	if err < 0 {
		return -out
	}
	return out
}

func clamp(x, lo, hi float64) float64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

func wrapPi(a float64) float64 {
	for a > math.Pi {
		a -= 2 * math.Pi
	}
	for a < -math.Pi {
		a += 2 * math.Pi
	}
	return a
}

// --- wind -------------------------------------------------------------

func (v *Vehicle) setSteadyWind() {
	// SIM_WIND_DIR is where the wind comes from; the air moves the other way.
	dir := v.p.windDir * math.Pi / 180
	v.windN = -v.p.windSpd * math.Cos(dir)
	v.windE = -v.p.windSpd * math.Sin(dir)
}

func (v *Vehicle) drawGustGap() time.Duration {
	// Exponential gaps, mean 8 s: gusts come irregularly.
	return v.now + time.Duration((1+v.rng.ExpFloat64()*8)*float64(time.Second))
}

func (v *Vehicle) updateWind() {
	if v.p.windTurb > 0 && v.now >= v.nextGust && v.now >= v.gustEnd {
		dur := 1 + 3*v.rng.Float64()
		v.gustStart = v.now
		v.gustEnd = v.now + time.Duration(dur*float64(time.Second))
		v.gustPeak = v.p.windTurb * (0.3 + 0.7*v.rng.Float64())
		base := math.Atan2(v.windE, v.windN)
		if v.p.windSpd == 0 {
			base = v.rng.Float64() * 2 * math.Pi
		}
		v.gustDir = base + (v.rng.Float64()-0.5)*math.Pi/3
		v.nextGust = v.gustEnd + v.drawGustGap() - v.now
	}
	mag := 0.0
	if v.now < v.gustEnd && v.gustEnd > v.gustStart {
		frac := float64(v.now-v.gustStart) / float64(v.gustEnd-v.gustStart)
		mag = v.gustPeak * math.Sin(math.Pi*frac) // smooth onset and decay
	}
	dir := v.gustDir
	if v.now < v.injGustUntil {
		if mag == 0 {
			dir = math.Atan2(v.windE, v.windN)
			if v.p.windSpd == 0 {
				dir = math.Pi // calm: the gust blows from the north
			}
		}
		mag += v.injGust
	}
	if mag == 0 {
		v.gustN, v.gustE = 0, 0
		return
	}
	v.gustN = mag * math.Cos(dir)
	v.gustE = mag * math.Sin(dir)
}

// --- GPS ----------------------------------------------------------------

func (v *Vehicle) gpsAvailable() bool {
	return v.now >= v.gpsWarmupUntil && v.now >= v.gpsLossUntil && v.p.gpsDisable == 0
}

// gpsOK is ArduCopter's position_ok(): a 3D fix the EKF can use.
func (v *Vehicle) gpsOK() bool { return v.gpsFix >= 3 }

func (v *Vehicle) updateGPS() {
	if !v.gpsAvailable() {
		if v.gpsFix >= 3 {
			v.gpsLostSince = v.now
		}
		v.gpsFix = 1 // GPS_FIX_TYPE_NO_FIX
		v.sats = uint8(v.rng.IntN(4))
		v.hdop, v.vdop = 99.99, 99.99
		return
	}
	const dt = 0.2 // 5 Hz
	if v.gpsFix < 3 {
		v.sats = uint8(10 + v.rng.IntN(5))
		v.gpsLostSince = -1
	} else if v.rng.IntN(50) == 0 { // a satellite rises or sets every ~10 s
		if v.rng.IntN(2) == 0 && v.sats > 8 {
			v.sats--
		} else if v.sats < 16 {
			v.sats++
		}
	}
	v.gpsFix = 3
	v.hdop = 0.6 + 0.06*float64(16-int(v.sats)) + 0.02*v.rng.Float64()
	v.vdop = v.hdop * 1.5
	// Gauss-Markov error: slowly wandering bias (τ 30 s) plus white noise,
	// scaled by HDOP like a real receiver.
	a := math.Exp(-dt / 30)
	b := math.Sqrt(1 - a*a)
	sh := 0.5 * v.hdop
	v.gpsErrN = a*v.gpsErrN + b*sh*v.rng.NormFloat64()
	v.gpsErrE = a*v.gpsErrE + b*sh*v.rng.NormFloat64()
	v.gpsErrU = a*v.gpsErrU + b*1.5*sh*v.rng.NormFloat64()
	v.gpsN = v.n + v.gpsErrN + 0.05*v.rng.NormFloat64()
	v.gpsE = v.e + v.gpsErrE + 0.05*v.rng.NormFloat64()
	v.gpsU = v.up + v.gpsErrU + 0.08*v.rng.NormFloat64()
	if !v.gpsEverFixed {
		v.gpsEverFixed = true
		v.statusText(SeverityInfo, "EKF3 IMU0 is using GPS")
		if !v.homeSet {
			v.setHomeLocal(v.n, v.e, v.up)
		}
	}
}

// --- battery ------------------------------------------------------------

// lipoCurve is the open-circuit voltage of one LiPo cell against state of charge.
var lipoCurve = [...]struct{ soc, v float64 }{
	{0, 3.00}, {0.05, 3.30}, {0.10, 3.50}, {0.15, 3.62}, {0.20, 3.68}, {0.30, 3.73},
	{0.40, 3.77}, {0.50, 3.81}, {0.60, 3.86}, {0.70, 3.92}, {0.80, 3.99}, {0.90, 4.08}, {1, 4.20},
}

func (v *Vehicle) soc() float64 { return clamp(1-v.consumedMAh/v.capacityMAh, 0, 1) }

func (v *Vehicle) remainingPct() float64 { return 100 * v.soc() }

func (v *Vehicle) openCircuitVoltage() float64 {
	s := v.soc()
	for i := 1; i < len(lipoCurve); i++ {
		if s <= lipoCurve[i].soc {
			lo, hi := lipoCurve[i-1], lipoCurve[i]
			return float64(v.cells) * (lo.v + (hi.v-lo.v)*(s-lo.soc)/(hi.soc-lo.soc))
		}
	}
	return float64(v.cells) * lipoCurve[len(lipoCurve)-1].v
}

// CruiseCurrentA is the current, amperes, of level flight at airspeed
// m/s: hover current plus induced and parasitic drag growing with the
// square of speed. updateBattery applies it (times the climb factor), so
// it is the one model of the battery's drain.
func CruiseCurrentA(airspeed float64) float64 { return hoverCurrentA * (1 + 0.0025*airspeed*airspeed) }

// CruiseSpeed is the speed Config.Endurance is stated at: WPNAV_SPEED's
// default, the speed of missions and GUIDED go-to.
func CruiseSpeed() float64 { return paramDefs[paramIndex["WPNAV_SPEED"]].Value / 100 }

// MaxEndurance bounds Config.Endurance (and the flags that set it).
const MaxEndurance = 24 * time.Hour

// CapacityForEndurance is the battery capacity, mAh, that lasts d of level
// flight at CruiseSpeed in still air.
func CapacityForEndurance(d time.Duration) float64 {
	return CruiseCurrentA(CruiseSpeed()) * d.Hours() * 1000
}

// swapBattery models the crew swapping the pack: after Config.SwapTime
// landed and disarmed, the battery is full and its failsafe reset.
func (v *Vehicle) swapBattery() {
	if v.cfg.SwapTime <= 0 || v.armed || !v.onGround {
		v.groundedSince = -1
		return
	}
	if v.groundedSince < 0 {
		v.groundedSince = v.now
	}
	if v.now-v.groundedSince < v.cfg.SwapTime || v.consumedMAh == 0 {
		return
	}
	v.consumedMAh = 0
	v.battFS, v.battLowSince, v.battCrtSince = 0, -1, -1
	v.statusText(SeverityInfo, "Battery 1 swapped: full")
}

func (v *Vehicle) updateBattery() {
	switch {
	case !v.armed || v.failed:
		v.current = 0
	case v.onGround && !v.wantClimb:
		v.current = idleCurrentA
	default:
		air := math.Hypot(v.gvn-v.windN-v.gustN, v.gve-v.windE-v.gustE)
		climb := 1 + 0.2*math.Max(v.vu, 0) - 0.06*math.Max(-v.vu, 0)
		v.current = climb * CruiseCurrentA(air)
	}
	v.swapBattery()
	v.consumedMAh += v.current * dtS / 3.6
	v.voltage = v.openCircuitVoltage() - v.current*packResistance
	if v.consumedMAh >= v.capacityMAh && v.armed && !v.failed && !v.onGround {
		v.statusText(SeverityEmergency, "Battery 1 is depleted: motors stopped")
		v.failed = true
	}
}

// --- kinematics ---------------------------------------------------------

func (v *Vehicle) integrate() {
	motorsOn := v.armed && !v.failed
	if !motorsOn {
		v.throttle = 0
		if v.onGround {
			v.vn, v.ve, v.vu, v.gvn, v.gve = 0, 0, 0, 0, 0
			v.rollRate, v.pitchRate, v.yawRate = 0, 0, 0
			if v.failed {
				v.roll, v.pitch = 0, 0
			}
			return
		}
		// Falling: gravity against quadratic drag (terminal ≈ 20 m/s), the
		// air carries the airframe sideways.
		v.vu += (-gravity + 0.0245*v.vu*v.vu) * dtS
		k := dtS / 3
		v.vn += (v.windN + v.gustN - v.vn) * k
		v.ve += (v.windE + v.gustE - v.ve) * k
		v.gvn, v.gve = v.vn, v.ve
		v.n += v.vn * dtS
		v.e += v.ve * dtS
		v.up += v.vu * dtS
		v.rollRate = 3
		v.roll = wrapPi(v.roll + v.rollRate*dtS)
		v.groundContact()
		return
	}

	// Desired velocity from the guidance.
	var vdn, vde, vdu float64
	accH := v.p.wpnavAccel
	switch v.g {
	case gGround:
		if v.onGround {
			v.vn, v.ve, v.vu, v.gvn, v.gve = 0, 0, 0, 0, 0
			v.throttle = idleThrottle
			v.wantClimb = false
			v.rollRate, v.pitchRate, v.yawRate = 0, 0, 0
			v.roll, v.pitch = 0, 0
			v.windEstN, v.windEstE = v.windN, v.windE
			return
		}
		// Airborne but told to stay down: descend gently.
		vdu = -v.p.landSpeed
	case gPos, gLand:
		dn, de := v.tgtN-v.n, v.tgtE-v.e
		if d := math.Hypot(dn, de); d > 1e-6 {
			s := math.Min(sqrtController(d, v.p.posXYP, accH), v.speedXY)
			vdn, vde = dn/d*s, de/d*s
		}
		vdn += v.ffN
		vde += v.ffE
		if v.g == gPos {
			vdu = clamp(sqrtController(v.tgtU-v.up, v.p.posZP, v.p.wpnavAccelZ), -v.p.wpnavSpeedDn, v.p.wpnavSpeedUp)
		} else {
			vdu = -v.landDescentRate()
		}
	case gDrift:
		vdn, vde = v.windN, v.windE
		vdu = clamp(sqrtController(v.tgtU-v.up, v.p.posZP, v.p.wpnavAccelZ), -v.p.wpnavSpeedDn, v.p.wpnavSpeedUp)
	}
	v.wantClimb = vdu > 0.1
	if v.onGround && v.wantClimb && v.now < v.liftoffAt {
		// Motors spooling up from ground idle before the takeoff climb, as
		// ArduCopter's takeoff does (about a second).
		frac := 1 - float64(v.liftoffAt-v.now)/float64(spoolTime)
		v.throttle = idleThrottle + (v.p.thrHover-idleThrottle)*clamp(frac, 0, 1)
		v.vn, v.ve, v.vu, v.gvn, v.gve = 0, 0, 0, 0, 0
		return
	}
	if !v.gpsOK() && v.g != gDrift {
		// No position: the controller holds zero velocity on its wind
		// estimate and whatever it has not learned pushes the vehicle.
		vdn, vde = 0, 0
	}
	if v.onGround && !v.wantClimb {
		vdn, vde = 0, 0
	}

	// Acceleration limits.
	pvn, pve := v.vn, v.ve
	an, ae := (vdn-v.vn)/dtS, (vde-v.ve)/dtS
	if a := math.Hypot(an, ae); a > accH*2 {
		an, ae = an/a*accH*2, ae/a*accH*2
	}
	v.vn += an * dtS
	v.ve += ae * dtS
	az := clamp((vdu-v.vu)/dtS, -v.p.wpnavAccelZ*2, v.p.wpnavAccelZ*2)
	v.vu += az * dtS

	// Wind: the velocity controller's integrator learns the steady wind
	// (τ 2 s); what it has not learned yet (gusts) pushes the vehicle.
	if !v.onGround && v.gpsOK() {
		k := dtS / 2
		v.windEstN += (v.windN + v.gustN - v.windEstN) * k
		v.windEstE += (v.windE + v.gustE - v.windEstE) * k
	}
	if v.onGround {
		v.windEstN, v.windEstE = v.windN+v.gustN, v.windE+v.gustE
		v.gvn, v.gve = v.vn, v.ve
	} else {
		v.gvn = v.vn + (v.windN + v.gustN - v.windEstN)
		v.gve = v.ve + (v.windE + v.gustE - v.windEstE)
	}
	v.n += v.gvn * dtS
	v.e += v.gve * dtS
	v.up += v.vu * dtS

	// Attitude follows the force the rotors must make: acceleration plus drag.
	airN, airE := v.gvn-v.windN-v.gustN, v.gve-v.windE-v.gustE
	fN := (v.vn-pvn)/dtS + dragPerMps*airN
	fE := (v.ve-pve)/dtS + dragPerMps*airE
	sy, cy := math.Sincos(v.yaw)
	fwd := fN*cy + fE*sy
	right := -fN*sy + fE*cy
	maxTilt := v.p.angleMax
	tp := clamp(-math.Atan(fwd/gravity), -maxTilt, maxTilt)
	tr := clamp(math.Atan(right/gravity), -maxTilt, maxTilt)
	const att = dtS / 0.15
	nr := v.roll + (tr-v.roll)*att
	np := v.pitch + (tp-v.pitch)*att
	v.rollRate, v.pitchRate = (nr-v.roll)/dtS, (np-v.pitch)/dtS
	v.roll, v.pitch = nr, np

	// Yaw: face the direction of travel (WP_YAW_BEHAVIOR 2), slew limited.
	if sp := math.Hypot(v.vn, v.ve); sp > 1 && v.g != gLand {
		want := math.Atan2(v.ve, v.vn)
		d := wrapPi(want - v.yaw)
		lim := v.p.yawSlew * dtS
		d = clamp(d, -lim, lim)
		v.yawRate = d / dtS
		v.yaw += d
		if v.yaw < 0 {
			v.yaw += 2 * math.Pi
		} else if v.yaw >= 2*math.Pi {
			v.yaw -= 2 * math.Pi
		}
	} else {
		v.yawRate = 0
	}

	tilt := math.Max(math.Cos(v.roll)*math.Cos(v.pitch), 0.5)
	v.throttle = clamp(v.p.thrHover*(1+(az/gravity))/tilt, 0.05, 1)
	v.groundContact()
}

// groundContact keeps the vehicle on flat terrain at the origin's altitude
// and detects crashes.
func (v *Vehicle) groundContact() {
	if v.up > 0 {
		v.onGround = false
		return
	}
	impact := -v.vu
	v.up = 0
	if v.vu < 0 {
		v.vu = 0
	}
	if !v.onGround {
		v.onGround = true
		if v.failed || impact > crashSpeed {
			v.vn, v.ve, v.gvn, v.gve = 0, 0, 0, 0
			if impact > crashSpeed && !v.failed {
				v.failed = true
			}
			if v.armed {
				v.disarm("Crash: Disarming", SeverityEmergency)
			}
		}
	}
}

// landDescentRate is ArduCopter's land speed: WPNAV_SPEED_DN (or
// LAND_SPEED_HIGH) above LAND_ALT_LOW, LAND_SPEED below.
func (v *Vehicle) landDescentRate() float64 {
	if v.up > v.p.landAltLow {
		if v.p.landSpeedHigh > 0 {
			return v.p.landSpeedHigh
		}
		return v.p.wpnavSpeedDn
	}
	return v.p.landSpeed
}

// landDetector sets land_complete after one second on the ground without
// climbing (LAND_DETECTOR_TRIGGER_SEC), and disarms when a landing mode
// brought the vehicle down.
func (v *Vehicle) landDetector() {
	if !v.armed {
		v.landed = v.onGround
		v.landTimer = 0
		return
	}
	if v.landed {
		if v.up > 0.2 {
			v.landed = false
		}
		return
	}
	if v.onGround && !v.wantClimb {
		v.landTimer += dtS
		if v.landTimer >= 1 {
			v.landed = true
			v.landTimer = 0
			v.idleSince = v.now
			v.takeoffActive = false
			wasLanding := v.g == gLand
			v.onLanded()
			if wasLanding {
				v.disarm("Disarming motors", SeverityInfo)
			}
		}
		return
	}
	v.landTimer = 0
}
