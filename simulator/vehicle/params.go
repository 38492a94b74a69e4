package vehicle

import (
	"fmt"
	"math"
	"strings"

	"github.com/burgut-uav/burgut/internal/apparam"
)

// Param is one autopilot parameter as PARAM_VALUE carries it.
type Param struct {
	Name  string
	Value float64
	Type  uint8 // MAV_PARAM_TYPE
	Min   float64
	Max   float64
}

// MAV_PARAM_TYPE values, as ArduPilot declares its parameters (AP_Int8,
// AP_Int16, AP_Int32, AP_Float).
const (
	ParamInt8  uint8 = 2
	ParamInt16 uint8 = 4
	ParamInt32 uint8 = 6
	ParamReal  uint8 = 9
)

// intRange is an integer parameter type's range; isInt is false for reals.
func intRange(typ uint8) (lo, hi int64, isInt bool) {
	switch typ {
	case ParamInt8:
		return math.MinInt8, math.MaxInt8, true
	case ParamInt16:
		return math.MinInt16, math.MaxInt16, true
	case ParamInt32:
		return math.MinInt32, math.MaxInt32, true
	}
	return 0, 0, false
}

// paramDefs lists the parameters the model acts on, with ArduCopter 4.7's
// names, types and SITL defaults (read from a real 4.7 SITL), except where
// noted: the battery and GCS failsafes are enabled by default because an
// unattended simulated fleet should behave like a well-configured one.
var paramDefs = []Param{
	{"FORMAT_VERSION", 120, ParamInt16, 0, 32767},
	{"ARMING_CHECK", 1, ParamInt32, 0, 2147483647},
	{"DISARM_DELAY", 10, ParamInt8, 0, 127},
	{"ANGLE_MAX", 3000, ParamInt16, 1000, 8000},
	{"ATC_SLEW_YAW", 6000, ParamReal, 500, 18000},
	{"AUTO_OPTIONS", 0, ParamInt32, 0, 2147483647},
	{"BATT_MONITOR", 4, ParamInt8, 0, 30},
	{"BATT_CAPACITY", defaultCapacityMAh, ParamInt32, 0, 1000000},
	{"BATT_LOW_TIMER", 10, ParamInt8, 0, 120},
	{"BATT_LOW_VOLT", 10.5, ParamReal, 0, 100},
	{"BATT_LOW_MAH", 0, ParamReal, 0, 1000000},
	{"BATT_CRT_VOLT", 10.0, ParamReal, 0, 100}, // SITL: 0 (off)
	{"BATT_CRT_MAH", 0, ParamReal, 0, 1000000},
	{"BATT_FS_LOW_ACT", 2, ParamInt8, 0, 7}, // SITL: 0; 2 = RTL
	{"BATT_FS_CRT_ACT", 1, ParamInt8, 0, 7}, // SITL: 0; 1 = LAND
	{"BATT_ARM_VOLT", 0, ParamReal, 0, 100},
	{"BATT_ARM_MAH", 0, ParamInt32, 0, 1000000},
	// BRD_SD_FENCE: kB of SD card for fence storage (ArduPilot 4.5+ on
	// boards with an SD card; 0 = the board's own 560 bytes). ArduPilot
	// applies it at boot, the model at once.
	{"BRD_SD_FENCE", 0, ParamInt16, 0, 64},
	{"CIRCLE_RADIUS", 1000, ParamReal, 0, 200000},
	{"CIRCLE_RATE", 20, ParamReal, -90, 90},
	{"FENCE_ENABLE", 0, ParamInt8, 0, 1},
	{"FENCE_TYPE", 7, ParamInt8, 0, 15},
	{"FENCE_ACTION", 1, ParamInt8, 0, 5},
	{"FENCE_ALT_MAX", 100, ParamReal, 10, 1000},
	{"FENCE_RADIUS", 150, ParamReal, 30, 10000},
	{"FENCE_MARGIN", 2, ParamReal, 1, 10},
	{"FS_GCS_ENABLE", 1, ParamInt8, 0, 7}, // SITL: 0; 1 = RTL
	{"FS_GCS_TIMEOUT", 5, ParamReal, 2, 120},
	{"FS_OPTIONS", 16, ParamInt32, 0, 2147483647},
	{"FS_EKF_ACTION", 1, ParamInt8, 1, 3},
	{"GPS_HDOP_GOOD", 140, ParamInt16, 100, 900},
	{"LAND_SPEED", 50, ParamInt16, 30, 200},
	{"LAND_SPEED_HIGH", 0, ParamInt16, 0, 2500},
	{"LAND_ALT_LOW", 1000, ParamInt16, 100, 10000},
	{"LOIT_SPEED", 1250, ParamReal, 20, 3500},
	{"MAV_SYSID", 1, ParamInt16, 1, 255},
	{"MAV_GCS_SYSID", 255, ParamInt16, 1, 255},
	{"MAV1_RAW_SENS", 4, ParamInt16, 0, 50},
	{"MAV1_EXT_STAT", 4, ParamInt16, 0, 50},
	{"MAV1_RC_CHAN", 4, ParamInt16, 0, 50},
	{"MAV1_RAW_CTRL", 4, ParamInt16, 0, 50},
	{"MAV1_POSITION", 4, ParamInt16, 0, 50},
	{"MAV1_EXTRA1", 4, ParamInt16, 0, 50},
	{"MAV1_EXTRA2", 4, ParamInt16, 0, 50},
	{"MAV1_EXTRA3", 4, ParamInt16, 0, 50},
	{"MAV1_PARAMS", 0, ParamInt16, 0, 50},
	{"MAV1_ADSB", 4, ParamInt16, 0, 50},
	{"MIS_TOTAL", 0, ParamInt16, 0, 32766},
	{"MIS_RESTART", 0, ParamInt8, 0, 1},
	{"MOT_THST_HOVER", 0.39, ParamReal, 0.2, 0.8},
	{"PILOT_SPEED_UP", 250, ParamInt16, 50, 500},
	{"PSC_POSXY_P", 1, ParamReal, 0.5, 2},
	{"PSC_POSZ_P", 1, ParamReal, 1, 3},
	{"RALLY_TOTAL", 0, ParamInt8, 0, 127},
	{"RALLY_LIMIT_KM", 0.3, ParamReal, 0, 100},
	{"RALLY_INCL_HOME", 1, ParamInt8, 0, 1},
	{"RTL_ALT", 1500, ParamInt32, 30, 300000},
	{"RTL_ALT_FINAL", 0, ParamInt32, 0, 1000},
	{"RTL_CLIMB_MIN", 0, ParamInt32, 0, 3000},
	{"RTL_CONE_SLOPE", 3, ParamReal, 0, 10},
	{"RTL_LOIT_TIME", 5000, ParamInt32, 0, 60000},
	{"RTL_SPEED", 0, ParamReal, 0, 2000},
	{"SIM_GPS_DISABLE", 0, ParamInt8, 0, 1},
	{"SIM_WIND_DIR", 180, ParamReal, 0, 360},
	{"SIM_WIND_SPD", 0, ParamReal, 0, 40},
	{"SIM_WIND_TURB", 0, ParamReal, 0, 20},
	{"WP_YAW_BEHAVIOR", 2, ParamInt8, 0, 3},
	{"WPNAV_ACCEL", 250, ParamReal, 50, 500},
	{"WPNAV_ACCEL_Z", 100, ParamReal, 50, 500},
	{"WPNAV_RADIUS", 200, ParamReal, 5, 1000},
	{"WPNAV_SPEED", 1000, ParamReal, 20, 2000},
	{"WPNAV_SPEED_DN", 150, ParamReal, 10, 500},
	{"WPNAV_SPEED_UP", 250, ParamReal, 10, 1000},
}

// paramAliases maps pre-4.7 names (which most ground stations and scripts
// still use) to the 4.7 names in the table.
var paramAliases = map[string]string{
	"SYSID_THISMAV": "MAV_SYSID",
	"SYSID_MYGCS":   "MAV_GCS_SYSID",
}

// paramIndex is shared by all vehicles: the table layout never changes.
var paramIndex = func() map[string]int {
	m := make(map[string]int, len(paramDefs))
	for i, p := range paramDefs {
		m[p.Name] = i
	}
	return m
}()

// paramCache holds the values the step loop reads, in SI units, so a step
// does no map lookups.
type paramCache struct {
	wpnavSpeed, wpnavSpeedUp, wpnavSpeedDn float64 // m/s
	wpnavAccel, wpnavAccelZ, wpnavRadius   float64 // m/s², m
	posXYP, posZP                          float64
	angleMax, yawSlew                      float64 // rad, rad/s
	thrHover                               float64
	landSpeed, landSpeedHigh, landAltLow   float64 // m/s, m/s, m
	rtlAlt, rtlAltFinal, rtlClimbMin       float64 // m
	rtlConeSlope                           float64 // m up per m away
	rtlSpeed                               float64 // m/s
	rtlLoitTime                            float64 // s
	disarmDelay                            float64 // s
	armingCheck                            float64
	autoOptions                            int
	fenceEnable                            bool
	fenceType                              uint8
	fenceAction                            int
	fenceAltMax, fenceRadius, fenceMargin  float64
	battLowVolt, battCrtVolt               float64
	battLowMAh, battCrtMAh, battLowTimer   float64
	battFSLowAct, battFSCrtAct             int
	battArmVolt, battArmMAh                float64
	fsGCSEnable                            int
	fsGCSTimeout                           float64
	fsOptions                              int
	hdopGood                               float64
	rallyLimitKM                           float64
	rallyInclHome                          bool
	circleRadius, circleRate               float64 // m, rad/s
	windSpd, windDir, windTurb             float64
	gpsDisable                             int
}

func (v *Vehicle) initParams() {
	v.params = append([]Param(nil), paramDefs...)
	v.pidx = paramIndex
	set := func(name string, val float64) { v.params[v.pidx[name]].Value = val }
	if v.cfg.SystemID != 0 {
		set("MAV_SYSID", float64(v.cfg.SystemID))
	}
	set("BATT_CAPACITY", math.Round(v.capacityMAh))
	set("SIM_WIND_SPD", v.cfg.WindSpeed)
	set("SIM_WIND_DIR", v.cfg.WindDirDeg)
	set("SIM_WIND_TURB", v.cfg.GustSpeed)
	v.refreshParams()
}

func (v *Vehicle) pv(name string) float64 { return v.params[v.pidx[name]].Value }

// refreshParams recomputes the cache after any parameter change.
func (v *Vehicle) refreshParams() {
	c := &v.p
	c.wpnavSpeed = v.pv("WPNAV_SPEED") / 100
	c.wpnavSpeedUp = v.pv("WPNAV_SPEED_UP") / 100
	c.wpnavSpeedDn = v.pv("WPNAV_SPEED_DN") / 100
	c.wpnavAccel = v.pv("WPNAV_ACCEL") / 100
	c.wpnavAccelZ = v.pv("WPNAV_ACCEL_Z") / 100
	c.wpnavRadius = v.pv("WPNAV_RADIUS") / 100
	c.posXYP = v.pv("PSC_POSXY_P")
	c.posZP = v.pv("PSC_POSZ_P")
	c.angleMax = v.pv("ANGLE_MAX") / 100 * math.Pi / 180
	c.yawSlew = v.pv("ATC_SLEW_YAW") / 100 * math.Pi / 180
	c.thrHover = v.pv("MOT_THST_HOVER")
	c.landSpeed = v.pv("LAND_SPEED") / 100
	c.landSpeedHigh = v.pv("LAND_SPEED_HIGH") / 100
	c.landAltLow = v.pv("LAND_ALT_LOW") / 100
	c.rtlAlt = v.pv("RTL_ALT") / 100
	c.rtlAltFinal = v.pv("RTL_ALT_FINAL") / 100
	c.rtlClimbMin = v.pv("RTL_CLIMB_MIN") / 100
	c.rtlConeSlope = v.pv("RTL_CONE_SLOPE")
	c.rtlSpeed = v.pv("RTL_SPEED") / 100
	c.rtlLoitTime = v.pv("RTL_LOIT_TIME") / 1000
	c.disarmDelay = v.pv("DISARM_DELAY")
	c.armingCheck = v.pv("ARMING_CHECK")
	c.autoOptions = int(v.pv("AUTO_OPTIONS"))
	c.fenceEnable = v.pv("FENCE_ENABLE") == 1
	c.fenceType = uint8(v.pv("FENCE_TYPE"))
	c.fenceAction = int(v.pv("FENCE_ACTION"))
	c.fenceAltMax = v.pv("FENCE_ALT_MAX")
	c.fenceRadius = v.pv("FENCE_RADIUS")
	c.fenceMargin = v.pv("FENCE_MARGIN")
	c.battLowVolt = v.pv("BATT_LOW_VOLT")
	c.battCrtVolt = v.pv("BATT_CRT_VOLT")
	c.battLowMAh = v.pv("BATT_LOW_MAH")
	c.battCrtMAh = v.pv("BATT_CRT_MAH")
	c.battLowTimer = v.pv("BATT_LOW_TIMER")
	c.battFSLowAct = int(v.pv("BATT_FS_LOW_ACT"))
	c.battFSCrtAct = int(v.pv("BATT_FS_CRT_ACT"))
	c.battArmVolt = v.pv("BATT_ARM_VOLT")
	c.battArmMAh = v.pv("BATT_ARM_MAH")
	c.fsGCSEnable = int(v.pv("FS_GCS_ENABLE"))
	c.fsGCSTimeout = v.pv("FS_GCS_TIMEOUT")
	c.fsOptions = int(v.pv("FS_OPTIONS"))
	c.hdopGood = v.pv("GPS_HDOP_GOOD") / 100
	c.rallyLimitKM = v.pv("RALLY_LIMIT_KM")
	c.rallyInclHome = v.pv("RALLY_INCL_HOME") == 1
	c.circleRadius = v.pv("CIRCLE_RADIUS") / 100
	c.circleRate = v.pv("CIRCLE_RATE") * math.Pi / 180
	c.windSpd = v.pv("SIM_WIND_SPD")
	c.windDir = v.pv("SIM_WIND_DIR")
	c.windTurb = v.pv("SIM_WIND_TURB")
	c.gpsDisable = int(v.pv("SIM_GPS_DISABLE"))
	if cap := v.pv("BATT_CAPACITY"); cap > 0 {
		v.capacityMAh = cap
	}
	v.setSteadyWind()
}

// Params returns all parameters in a stable order (index = position), as
// PARAM_REQUEST_LIST sends them.
func (v *Vehicle) Params() []Param { return append([]Param(nil), v.params...) }

// Param looks a parameter up by name (4.7 names, plus the older
// SYSID_THISMAV, SYSID_MYGCS and SRn_* names).
func (v *Vehicle) Param(name string) (Param, bool) {
	i, ok := v.lookup(name)
	if !ok {
		return Param{}, false
	}
	return v.params[i], true
}

func (v *Vehicle) lookup(name string) (int, bool) {
	if a, ok := paramAliases[name]; ok {
		name = a
	} else if strings.HasPrefix(name, "SR0_") {
		name = "MAV1_" + name[4:]
	}
	i, ok := v.pidx[name]
	return i, ok
}

// SetParam sets a parameter as PARAM_SET does. Integer parameters take
// the value ArduPilot would store (apparam.Int: 2.7 is 2, 0.995 is 1); NaN, infinities and values outside the
// parameter's range are refused (the old value stays and is returned).
func (v *Vehicle) SetParam(name string, value float64) (Param, error) {
	i, ok := v.lookup(name)
	if !ok {
		return Param{}, fmt.Errorf("set parameter %q: unknown parameter", name)
	}
	p := &v.params[i]
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return *p, fmt.Errorf("set parameter %s: value %v is not a number", p.Name, value)
	}
	if lo, hi, isInt := intRange(p.Type); isInt {
		n, _ := apparam.Int(value, lo, hi) // NaN and ±Inf were refused above
		value = float64(n)
	}
	if value < p.Min || value > p.Max {
		return *p, fmt.Errorf("set parameter %s to %g: outside its range %g..%g", p.Name, value, p.Min, p.Max)
	}
	p.Value = value
	v.refreshParams()
	v.onParamChanged(p.Name)
	return *p, nil
}

// setParamInternal updates a parameter the autopilot maintains itself
// (MIS_TOTAL, RALLY_TOTAL), bypassing range checks.
func (v *Vehicle) setParamInternal(name string, value float64) {
	v.params[v.pidx[name]].Value = value
}

func (v *Vehicle) onParamChanged(name string) {
	switch name {
	case "WPNAV_SPEED":
		v.speedXY = v.p.wpnavSpeed
	case "FENCE_ENABLE":
		if !v.p.fenceEnable {
			v.fenceBreaches = 0
		}
	}
}
