package vehicle

import (
	"fmt"
	"time"
)

// checks runs the 10 Hz safety logic.
func (v *Vehicle) checks() {
	v.fenceCheck()
	v.batteryCheck()
	v.gcsCheck()
	v.ekfCheck()
}

// battery failsafe actions (BATT_FS_LOW_ACT / BATT_FS_CRT_ACT).
func (v *Vehicle) battAction(act int) {
	if !v.armed {
		return
	}
	if v.landed {
		v.disarm("Disarming motors", SeverityInfo)
		return
	}
	switch act {
	case 1, 7: // Land; Brake or Land
		v.failsafeMode(ModeLand)
	case 2, 3, 4, 6: // RTL; SmartRTL or RTL/Land; DO_LAND_START or RTL
		v.failsafeMode(ModeRTL)
	case 5: // Terminate
		v.disarm("Disarming motors", SeverityCritical)
	}
}

// batteryCheck is AP_BattMonitor's failsafe: voltage below BATT_LOW_VOLT /
// BATT_CRT_VOLT for BATT_LOW_TIMER seconds, or remaining capacity below
// BATT_LOW_MAH / BATT_CRT_MAH. It only escalates.
func (v *Vehicle) batteryCheck() {
	timer := time.Duration(v.p.battLowTimer * float64(time.Second))
	below := func(th float64, since *time.Duration) bool {
		if th <= 0 || v.voltage >= th || !v.armed {
			*since = -1
			return false
		}
		if *since < 0 {
			*since = v.now
		}
		return v.now-*since >= timer
	}
	remaining := v.capacityMAh - v.consumedMAh
	crt := below(v.p.battCrtVolt, &v.battCrtSince) || (v.p.battCrtMAh > 0 && remaining < v.p.battCrtMAh)
	low := below(v.p.battLowVolt, &v.battLowSince) || (v.p.battLowMAh > 0 && remaining < v.p.battLowMAh)
	var level uint8
	var act int
	var name string
	switch {
	case crt:
		level, act, name = 2, v.p.battFSCrtAct, "critical"
	case low:
		level, act, name = 1, v.p.battFSLowAct, "low"
	default:
		return
	}
	if level <= v.battFS {
		return
	}
	v.battFS = level
	v.emit(EventFailsafe, SeverityCritical,
		fmt.Sprintf("Battery 1 is %s %.2fV used %.0f mAh", name, v.voltage, v.consumedMAh), 0)
	v.battAction(act)
}

// gcsCheck is Copter::failsafe_gcs_check: only once a GCS has been heard,
// FS_GCS_TIMEOUT seconds without its heartbeat triggers FS_GCS_ENABLE's
// action while armed; in pilot-controlled modes FS_OPTIONS bit 4 (set by
// default) keeps flying.
func (v *Vehicle) gcsCheck() {
	if v.p.fsGCSEnable == 0 || !v.gcsSeen {
		if v.gcsFS {
			v.gcsFS = false
		}
		return
	}
	since := (v.now - v.gcsLast).Seconds()
	if since < v.p.fsGCSTimeout {
		if v.gcsFS {
			v.gcsFS = false
			v.emit(EventFailsafe, SeverityWarning, "GCS Failsafe Cleared", 0)
		}
		return
	}
	if v.gcsFS {
		return
	}
	v.gcsFS = true
	if !v.armed {
		return
	}
	if v.landed {
		v.emit(EventFailsafe, SeverityWarning, "GCS Failsafe - Disarming", 0)
		v.disarm("Disarming motors", SeverityInfo)
		return
	}
	switch v.mode {
	case ModeStabilize, ModeAcro, ModeAltHold, ModeLoiter, ModePosHold, ModeCircle:
		if v.p.fsOptions&16 != 0 {
			v.emit(EventFailsafe, SeverityWarning, "GCS Failsafe - Continuing Pilot Control", 0)
			return
		}
	case ModeLand:
		v.emit(EventFailsafe, SeverityWarning, "GCS Failsafe - Continuing Landing", 0)
		return
	case ModeAuto:
		if v.p.fsOptions&2 != 0 {
			v.emit(EventFailsafe, SeverityWarning, "GCS Failsafe - Continuing Auto Mode", 0)
			return
		}
	}
	v.emit(EventFailsafe, SeverityWarning, "GCS Failsafe", 0)
	if v.p.fsGCSEnable == 5 {
		v.failsafeMode(ModeLand)
	} else {
		v.failsafeMode(ModeRTL)
	}
}

// ekfCheck stands in for ArduCopter's EKF failsafe: flying a mode that
// needs a position with no GPS fix for 5 s → LAND (FS_EKF_ACTION 1).
func (v *Vehicle) ekfCheck() {
	if v.gpsOK() {
		if v.ekfFS {
			v.ekfFS = false
			v.emit(EventFailsafe, SeverityCritical, "EKF Failsafe Cleared", 0)
		}
		return
	}
	if v.ekfFS || !v.armed || v.landed || v.gpsLostSince < 0 || v.now-v.gpsLostSince < 5*time.Second {
		return
	}
	v.ekfFS = true
	v.emit(EventFailsafe, SeverityCritical, "EKF Failsafe", 0)
	if modeRequiresGPS(v.mode) {
		if v.pv("FS_EKF_ACTION") == 2 {
			v.changeMode(ModeAltHold, true)
		} else {
			v.changeMode(ModeLand, true)
		}
	}
}

// InjectGPSLoss makes the GPS lose its fix for d of simulated time. Flying
// a position mode, the vehicle drifts with the wind and after 5 s the EKF
// failsafe lands it.
func (v *Vehicle) InjectGPSLoss(d time.Duration) {
	if d <= 0 {
		return
	}
	if until := v.now + d; until > v.gpsLossUntil {
		v.gpsLossUntil = until
	}
	v.updateGPS()
}

// InjectBatteryDrop removes pct percentage points of capacity at once (a
// failing cell); voltage and the failsafes follow.
func (v *Vehicle) InjectBatteryDrop(pct float64) {
	if !(pct > 0) {
		return
	}
	v.consumedMAh = min(v.consumedMAh+pct/100*v.capacityMAh, v.capacityMAh)
	v.voltage = v.openCircuitVoltage() - v.current*packResistance
}

// InjectFailure stops the motors: the vehicle falls, crashes and stays
// failed (arming is refused from then on).
func (v *Vehicle) InjectFailure() {
	if v.failed {
		return
	}
	v.failed = true
	v.statusText(SeverityEmergency, "Potential Thrust Loss")
	v.emit(EventFailsafe, SeverityEmergency, "", 0)
	if v.onGround && v.armed {
		v.disarm("Crash: Disarming", SeverityEmergency)
	}
}

// InjectGust adds a gust of speed m/s along the wind (from the north when
// calm) for d of simulated time, on top of the random gusts.
func (v *Vehicle) InjectGust(speed float64, d time.Duration) {
	if !(speed > 0) || d <= 0 {
		return
	}
	v.injGust = speed
	v.injGustUntil = v.now + d
}
