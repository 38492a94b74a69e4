package vehicle

import (
	"fmt"
	"math"
	"time"
)

// ArduCopter flight mode numbers (HEARTBEAT custom_mode).
const (
	ModeStabilize uint32 = 0
	ModeAcro      uint32 = 1
	ModeAltHold   uint32 = 2
	ModeAuto      uint32 = 3
	ModeGuided    uint32 = 4
	ModeLoiter    uint32 = 5
	ModeRTL       uint32 = 6
	ModeCircle    uint32 = 7
	ModeLand      uint32 = 9
	ModePosHold   uint32 = 16
	ModeBrake     uint32 = 17
	ModeSmartRTL  uint32 = 21
)

// ModeName returns ArduCopter's name for a mode number ("" if the model
// does not implement it).
func ModeName(m uint32) string {
	switch m {
	case ModeStabilize:
		return "STABILIZE"
	case ModeAcro:
		return "ACRO"
	case ModeAltHold:
		return "ALT_HOLD"
	case ModeAuto:
		return "AUTO"
	case ModeGuided:
		return "GUIDED"
	case ModeLoiter:
		return "LOITER"
	case ModeRTL:
		return "RTL"
	case ModeCircle:
		return "CIRCLE"
	case ModeLand:
		return "LAND"
	case ModePosHold:
		return "POSHOLD"
	case ModeBrake:
		return "BRAKE"
	case ModeSmartRTL:
		return "SMART_RTL"
	}
	return ""
}

func modeRequiresGPS(m uint32) bool {
	switch m {
	case ModeAuto, ModeGuided, ModeLoiter, ModeRTL, ModeCircle, ModePosHold, ModeBrake, ModeSmartRTL:
		return true
	}
	return false
}

// modeAllowsArming follows ArduCopter's Mode::allows_arming for a GCS arm.
func (v *Vehicle) modeAllowsArming(m uint32) bool {
	switch m {
	case ModeRTL, ModeLand, ModeCircle, ModeBrake, ModeSmartRTL:
		return false
	case ModeAuto:
		return v.p.autoOptions&1 != 0 // AUTO_OPTIONS bit 0: allow arming
	}
	return true
}

// --- commands -----------------------------------------------------------

// prearmChecks returns the first failing ArduCopter pre-arm check.
func (v *Vehicle) prearmChecks() (uint8, string) {
	if v.failed {
		return ResultFailed, "PreArm: Motors: vehicle failure"
	}
	if v.p.armingCheck == 0 {
		return ResultAccepted, ""
	}
	if !v.gpsOK() {
		return ResultFailed, "PreArm: GPS 1: Bad fix"
	}
	if v.hdop > v.p.hdopGood {
		return ResultFailed, "PreArm: High GPS HDOP"
	}
	if !v.homeSet {
		return ResultFailed, "PreArm: AHRS: waiting for home"
	}
	if v.battFS != 0 {
		return ResultFailed, "PreArm: Battery failsafe"
	}
	restV := v.openCircuitVoltage()
	if v.p.battCrtVolt > 0 && restV < v.p.battCrtVolt {
		return ResultFailed, "PreArm: Battery 1 critical voltage failsafe"
	}
	if v.p.battLowVolt > 0 && restV < v.p.battLowVolt {
		return ResultFailed, "PreArm: Battery 1 low voltage failsafe"
	}
	remaining := v.capacityMAh - v.consumedMAh
	if v.p.battLowMAh > 0 && remaining < v.p.battLowMAh {
		return ResultFailed, "PreArm: Battery 1 low capacity failsafe"
	}
	if v.p.battArmVolt > 0 && restV < v.p.battArmVolt {
		return ResultFailed, "PreArm: Battery 1 below minimum arming voltage"
	}
	if v.p.battArmMAh > 0 && remaining < v.p.battArmMAh {
		return ResultFailed, "PreArm: Battery 1 below minimum arming capacity"
	}
	if v.fenceEnabled() && v.fenceBreachesAt(v.n, v.e, v.up) != 0 {
		return ResultFailed, "PreArm: Fence: vehicle outside fence"
	}
	return ResultAccepted, ""
}

// Arm requests arming as MAV_CMD_COMPONENT_ARM_DISARM does. Unless forced
// (param2 21196), the mode must allow arming and ArduCopter's pre-arm
// checks must pass: GPS 3D fix with good HDOP, home set, battery above the
// failsafe and arming thresholds, inside an enabled fence. A refusal is
// MAV_RESULT_FAILED with the PreArm/Arm text ArduCopter prints.
func (v *Vehicle) Arm(force bool) (result uint8, reason string) {
	if v.armed {
		return ResultAccepted, ""
	}
	if v.failed {
		return ResultFailed, "PreArm: Motors: vehicle failure"
	}
	if !force {
		if !v.modeAllowsArming(v.mode) {
			return ResultFailed, "Arm: " + ModeName(v.mode) + " mode not armable" // ArduCopter's words
		}
		if r, why := v.prearmChecks(); r != ResultAccepted {
			return r, why
		}
	}
	v.armed = true
	v.landed = v.onGround
	v.idleSince = v.now
	v.statusText(SeverityInfo, "Arming motors")
	v.emit(EventArmed, SeverityInfo, "", 0)
	if v.gpsOK() {
		// ArduCopter moves home to where it arms (home is not locked).
		v.setHomeLocal(v.n, v.e, v.up)
	}
	v.speedXY = v.p.wpnavSpeed
	if v.mode == ModeAuto {
		v.missionStartOrResume()
	}
	return ResultAccepted, ""
}

// Disarm requests disarming. ArduCopter refuses a GCS disarm while flying
// unless forced (MAV_RESULT_FAILED, no text); a forced disarm in the air
// stops the motors and the vehicle falls.
func (v *Vehicle) Disarm(force bool) (uint8, string) {
	if !v.armed {
		return ResultAccepted, ""
	}
	if !v.landed && !force {
		return ResultFailed, ""
	}
	v.disarm("Disarming motors", SeverityInfo)
	return ResultAccepted, ""
}

func (v *Vehicle) disarm(text string, sev uint8) {
	if !v.armed {
		return
	}
	v.armed = false
	v.takeoffActive = false
	v.throttle = 0
	v.current = 0
	if v.missionRunning {
		v.missionRunning = false
	}
	v.statusText(sev, text)
	v.emit(EventDisarmed, sev, "", 0)
}

// SetMode changes the flight mode (ArduCopter numbers), as MAV_CMD_DO_SET_MODE
// and SET_MODE do. Modes that need a position refuse without a GPS fix;
// AUTO refuses without a mission, or on the ground armed when the mission
// does not start with a takeoff. Refusals are MAV_RESULT_FAILED with the
// "Mode change to X failed: …" text for the caller to send as STATUSTEXT
// (the vehicle does not emit that one itself).
func (v *Vehicle) SetMode(customMode uint32) (uint8, string) {
	return v.changeMode(customMode, false)
}

func (v *Vehicle) changeMode(m uint32, failsafe bool) (uint8, string) {
	name := ModeName(m)
	if name == "" {
		return ResultFailed, fmt.Sprintf("No such mode %d", m)
	}
	if m == v.mode {
		return ResultAccepted, ""
	}
	fail := func(why string) (uint8, string) {
		return ResultFailed, fmt.Sprintf("Mode change to %s failed: %s", name, why)
	}
	if modeRequiresGPS(m) && !v.gpsOK() && !failsafe {
		return fail("requires position")
	}
	if modeRequiresGPS(m) && !v.gpsOK() && failsafe {
		return ResultFailed, "requires position"
	}
	switch m {
	case ModeAuto:
		if len(v.mission) <= 1 {
			return fail("init failed")
		}
		if v.armed && v.landed && !v.missionStartsWithTakeoff() {
			v.statusText(SeverityCritical, "Auto: Missing Takeoff Cmd")
			return fail("init failed")
		}
	case ModeRTL, ModeSmartRTL:
		if !v.homeSet {
			return fail("init failed")
		}
	}
	prev := v.mode
	v.mode = m
	if prev == ModeAuto && v.missionRunning {
		v.missionRunning = false // paused; AUTO resumes at the current item
	}
	v.takeoffActive = false
	v.speedXY = v.p.wpnavSpeed
	v.enterMode()
	v.emit(EventModeChanged, SeverityInfo, "", uint16(m))
	return ResultAccepted, ""
}

// enterMode initialises the new mode's controller from the current state.
func (v *Vehicle) enterMode() {
	v.holdHere()
	switch v.mode {
	case ModeStabilize, ModeAcro, ModeAltHold:
		v.g = gDrift
	case ModeAuto:
		if v.armed {
			v.missionStartOrResume()
		}
	case ModeRTL, ModeSmartRTL:
		v.rtlInit()
	case ModeLand:
		v.g = gLand
	case ModeCircle:
		r := v.p.circleRadius
		sy, cy := math.Sincos(v.yaw)
		v.circleCN, v.circleCE = v.n+r*cy, v.e+r*sy
		v.circleAng = math.Atan2(v.e-v.circleCE, v.n-v.circleCN)
	}
}

// holdHere targets the current position (loiter/brake), or the ground when landed.
func (v *Vehicle) holdHere() {
	v.tgtN, v.tgtE, v.tgtU = v.n, v.e, v.up
	if v.landed {
		v.g = gGround
	} else {
		v.g = gPos
	}
}

// Takeoff starts a user takeoff to relAlt metres above home, as
// MAV_CMD_NAV_TAKEOFF does in GUIDED (also LOITER, ALT_HOLD, POSHOLD).
// ArduCopter answers MAV_RESULT_FAILED when disarmed, already flying, in
// another mode, or when the target is not above the vehicle.
func (v *Vehicle) Takeoff(relAlt float64) (uint8, string) {
	if !v.armed {
		return ResultFailed, ""
	}
	switch v.mode {
	case ModeGuided, ModeLoiter, ModeAltHold, ModePosHold:
	default:
		return ResultFailed, ""
	}
	if !v.landed {
		return ResultFailed, ""
	}
	if math.IsNaN(relAlt) || relAlt <= v.up-v.homeU || relAlt > 10000 {
		return ResultFailed, ""
	}
	v.startTakeoff(v.homeU + relAlt)
	return ResultAccepted, ""
}

func (v *Vehicle) startTakeoff(u float64) {
	if v.onGround {
		v.liftoffAt = v.now + spoolTime
	}
	v.takeoffActive = true
	v.takeoffU = u
	v.tgtN, v.tgtE, v.tgtU = v.n, v.e, u
	if v.mode == ModeAltHold {
		v.g = gDrift
	} else {
		v.g = gPos
	}
}

// GotoGlobal sets a GUIDED position target (SET_POSITION_TARGET_GLOBAL_INT,
// MAV_CMD_DO_REPOSITION), relAlt above home. Outside GUIDED, with invalid
// coordinates, or with the target outside an enabled fence it is DENIED, as
// ArduCopter refuses it; disarmed it FAILS. Armed on the ground the target
// is kept but, as in ArduCopter, the vehicle waits for a takeoff.
func (v *Vehicle) GotoGlobal(lat, lon, relAlt float64) (uint8, string) {
	if v.mode != ModeGuided {
		return ResultDenied, ""
	}
	if !validLatLon(lat, lon) || math.IsNaN(relAlt) || math.IsInf(relAlt, 0) {
		return ResultDenied, ""
	}
	if !v.armed {
		return ResultFailed, ""
	}
	n, e := v.toLocal(lat, lon)
	u := v.homeU + relAlt
	if v.fenceEnabled() && v.fenceBreachesAt(n, e, u) != 0 {
		return ResultDenied, "Destination outside fence"
	}
	v.tgtN, v.tgtE, v.tgtU = n, e, u
	if !v.landed {
		v.g = gPos
		v.takeoffActive = false
	}
	return ResultAccepted, ""
}

func validLatLon(lat, lon float64) bool {
	return !math.IsNaN(lat) && !math.IsNaN(lon) && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}

// SetSpeed changes the horizontal speed as MAV_CMD_DO_CHANGE_SPEED does; the
// change lasts until the next mode change (in AUTO: the rest of the mission).
func (v *Vehicle) SetSpeed(groundSpeed float64) (uint8, string) {
	if !(groundSpeed > 0) || math.IsInf(groundSpeed, 0) {
		return ResultFailed, ""
	}
	v.speedXY = math.Min(groundSpeed, 20)
	return ResultAccepted, ""
}

// MissionStart switches to AUTO and starts (or resumes) the mission, as
// MAV_CMD_MISSION_START does; it needs the vehicle armed.
func (v *Vehicle) MissionStart(first, last uint16) (uint8, string) {
	if !v.armed {
		return ResultFailed, ""
	}
	if v.mode != ModeAuto {
		if r, why := v.SetMode(ModeAuto); r != ResultAccepted {
			return r, why
		}
	}
	if !v.missionRunning {
		if first > 0 && int(first) < len(v.mission) {
			v.navIdx = int(first)
			v.missionDone = false
		}
		v.missionStartOrResume()
	}
	return ResultAccepted, ""
}

// SetHome sets home (MAV_CMD_DO_SET_HOME): the current position when
// useCurrent (or lat = lon = 0, as ArduPilot reads it), else the given
// position with alt in metres MSL. ArduPilot refuses a home more than
// 50 km from the EKF origin.
func (v *Vehicle) SetHome(useCurrent bool, lat, lon, alt float64) (uint8, string) {
	if useCurrent || (lat == 0 && lon == 0) {
		if !v.gpsOK() {
			return ResultFailed, ""
		}
		v.setHomeLocal(v.n, v.e, v.up)
		return ResultAccepted, ""
	}
	if !validLatLon(lat, lon) || math.IsNaN(alt) || math.IsInf(alt, 0) {
		return ResultDenied, ""
	}
	n, e := v.toLocal(lat, lon)
	if math.Hypot(n, e) > 50000 {
		return ResultFailed, ""
	}
	v.setHomeLocal(n, e, alt-v.alt0)
	return ResultAccepted, ""
}

func (v *Vehicle) setHomeLocal(n, e, u float64) {
	v.homeN, v.homeE, v.homeU = n, e, u
	lat, lon := v.toGlobal(n, e)
	v.home = LatLonAlt{Lat: lat, Lon: lon, AltMSL: v.alt0 + u}
	v.homeSet = true
	v.emit(EventHomeSet, SeverityInfo, "", 0)
}

// GCSHeartbeat records a heartbeat from the ground station (MAV_GCS_SYSID)
// for the GCS failsafe; the MAVLink layer calls it on each GCS HEARTBEAT.
func (v *Vehicle) GCSHeartbeat() {
	v.gcsSeen = true
	v.gcsLast = v.Now()
}

// --- per-step mode logic --------------------------------------------------

func (v *Vehicle) runMode() {
	v.ffN, v.ffE = 0, 0
	if !v.armed || v.failed {
		if v.onGround {
			v.g = gGround
		}
		return
	}
	// On the ground only a takeoff (or a landing mode, which disarms)
	// lifts the vehicle, as ArduCopter's is_disarmed_or_landed() holds it.
	if v.landed && !v.takeoffActive {
		if v.mode == ModeAuto && v.missionRunning {
			v.runAuto()
			if v.takeoffActive {
				return
			}
		}
		if v.mode == ModeLand || ((v.mode == ModeRTL || v.mode == ModeSmartRTL) && v.rtl.phase == rtlLand) {
			// LAND (or RTL's landing) on the ground: land_complete already
			// holds, so ArduCopter disarms at once.
			v.g = gGround
			v.rtl.phase = rtlDone
			v.disarm("Disarming motors", SeverityInfo)
			return
		}
		v.g = gGround
		if v.p.disarmDelay > 0 && (v.now-v.idleSince).Seconds() >= v.p.disarmDelay {
			v.disarm("Disarming motors", SeverityInfo)
		}
		return
	}
	if v.takeoffActive && v.up >= v.takeoffU-0.5 && v.mode != ModeAuto {
		v.takeoffActive = false
	}
	switch v.mode {
	case ModeAuto:
		v.runAuto()
	case ModeRTL, ModeSmartRTL:
		v.runRTL()
	case ModeCircle:
		if v.p.circleRadius > 0 {
			v.circleAng += v.p.circleRate * dtS
			sa, ca := math.Sincos(v.circleAng)
			r := v.p.circleRadius
			v.tgtN, v.tgtE = v.circleCN+r*ca, v.circleCE+r*sa
			// The target's own velocity, fed forward as AC_Circle does.
			v.ffN, v.ffE = -r*v.p.circleRate*sa, r*v.p.circleRate*ca
		}
		v.g = gPos
	}
}

// onLanded runs when the land detector reports land_complete.
func (v *Vehicle) onLanded() {
	if v.mode == ModeAuto && v.missionRunning {
		v.autoOnLanded()
	}
	if (v.mode == ModeRTL || v.mode == ModeSmartRTL) && v.rtl.phase == rtlLand {
		v.rtl.phase = rtlDone
	}
}

// --- RTL ----------------------------------------------------------------

type rtlPhase uint8

const (
	rtlClimb rtlPhase = iota
	rtlReturn
	rtlLoiter
	rtlFinal
	rtlLand
	rtlDone
)

// ArduCopter's RTL_ALT_MIN (2 m, the lowest return altitude above home)
// and RTL_MIN_CONE_SLOPE (a shallower RTL_CONE_SLOPE turns the cone off).
const (
	rtlAltMin       = 2.0
	rtlMinConeSlope = 0.5
)

type rtlState struct {
	phase        rtlPhase
	destN, destE float64
	alt          float64 // local up of the return altitude
	loiterStart  time.Duration
}

// rtlInit plans ArduCopter's RTL: climb to RTL_ALT (or stay higher), fly to
// home or the nearest rally point, loiter RTL_LOIT_TIME, then land (or hold
// RTL_ALT_FINAL).
func (v *Vehicle) rtlInit() {
	r := &v.rtl
	if v.landed {
		r.phase = rtlLand
		r.destN, r.destE = v.n, v.e
		v.g = gLand
		v.tgtN, v.tgtE = v.n, v.e
		return
	}
	// The return altitude as ModeRTL::compute_return_target has it: the
	// target's own altitude (home's, or a rally point's, never below
	// home), raised to RTL_ALT and to the current altitude plus
	// RTL_CLIMB_MIN (at least 2 m, RTL_ALT_MIN), then lowered by the cone
	// when the target is close: no higher than RTL_CONE_SLOPE times the
	// horizontal distance to it (a slope under 0.5, 0 included, turns the
	// cone off), held under FENCE_ALT_MAX, and never below where the
	// vehicle already is. So a rally point below RTL_ALT is approached at
	// RTL_ALT, and a vehicle 3 m from home climbs to 9 m, not 15, as on
	// the autopilot.
	r.destN, r.destE = v.homeN, v.homeE
	alt := v.homeU
	if pn, pe, pu, ok := v.nearestRally(); ok {
		r.destN, r.destE = pn, pe
		alt = math.Max(pu, v.homeU)
	}
	minAlt := math.Max(v.homeU+rtlAltMin, v.up+v.p.rtlClimbMin)
	alt = math.Max(alt, math.Max(v.homeU+v.p.rtlAlt, minAlt))
	if v.p.rtlConeSlope >= rtlMinConeSlope {
		dist := math.Hypot(r.destN-v.n, r.destE-v.e)
		alt = math.Min(alt, math.Max(v.homeU+dist*v.p.rtlConeSlope, minAlt))
	}
	if v.fenceEnabled() && v.p.fenceType&fenceAltMax != 0 {
		alt = math.Min(alt, v.homeU+v.p.fenceAltMax-v.p.fenceMargin)
	}
	alt = math.Max(alt, v.up)
	r.alt = alt
	r.phase = rtlClimb
	v.tgtN, v.tgtE = v.n, v.e
	if v.p.rtlSpeed > 0 {
		v.speedXY = v.p.rtlSpeed
	}
	v.runRTL()
}

func (v *Vehicle) runRTL() {
	r := &v.rtl
	switch r.phase {
	case rtlClimb:
		v.g = gPos
		v.tgtU = r.alt
		if v.up >= r.alt-0.5 {
			r.phase = rtlReturn
		}
	case rtlReturn:
		v.g = gPos
		v.tgtN, v.tgtE, v.tgtU = r.destN, r.destE, r.alt
		if math.Hypot(r.destN-v.n, r.destE-v.e) < v.p.wpnavRadius && math.Abs(r.alt-v.up) < 1 {
			r.phase = rtlLoiter
			r.loiterStart = v.now
		}
	case rtlLoiter:
		v.g = gPos
		if (v.now - r.loiterStart).Seconds() >= v.p.rtlLoitTime {
			if v.p.rtlAltFinal > 0 {
				r.phase = rtlFinal
			} else {
				r.phase = rtlLand
			}
		}
	case rtlFinal:
		v.g = gPos
		v.tgtN, v.tgtE, v.tgtU = r.destN, r.destE, v.homeU+v.p.rtlAltFinal
	case rtlLand:
		v.g = gLand
		v.tgtN, v.tgtE = r.destN, r.destE
	case rtlDone:
		v.g = gGround
	}
}
