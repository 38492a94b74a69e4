package simulator

import (
	"fmt"
	"math"
	"strings"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// The parameter protocol, as ArduPilot answers it: PARAM_VALUE carries the
// value as a float whatever the type (MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT /
// C_CAST), a full list is sent paced over several ticks, a PARAM_SET is
// answered with the new (or, when refused, unchanged) value and index 65535
// exactly as the recorded ArduCopter 4.7 does.

// paramsPerTick paces PARAM_REQUEST_LIST: about 500 parameters per second
// at the default 20 ms tick.
const paramsPerTick = 10

type paramList struct {
	active bool
	snap   []vehicle.Param
	next   int
}

func paramValue(p vehicle.Param, index, count int) *common.MessageParamValue {
	return &common.MessageParamValue{
		ParamId:    p.Name,
		ParamValue: float32(p.Value),
		ParamType:  common.MAV_PARAM_TYPE(p.Type),
		ParamCount: uint16(count),
		ParamIndex: uint16(index),
	}
}

func (sv *SimVehicle) startParamList(_ peer) {
	sv.plist = paramList{active: true, snap: sv.allParams()}
	sv.paramListStep()
}

// paramListStep sends the next few parameters of a list request. Called
// every tick with sv.mu held.
func (sv *SimVehicle) paramListStep() {
	pl := &sv.plist
	if !pl.active {
		return
	}
	for n := 0; n < paramsPerTick && pl.next < len(pl.snap); n++ {
		sv.send(paramValue(pl.snap[pl.next], pl.next, len(pl.snap)))
		pl.next++
	}
	if pl.next >= len(pl.snap) {
		*pl = paramList{}
	}
}

func (sv *SimVehicle) paramIndex(name string) (vehicle.Param, int, int, bool) {
	all := sv.allParams()
	for i, p := range all {
		if p.Name == name {
			return p, i, len(all), true
		}
	}
	return vehicle.Param{}, 0, len(all), false
}

func (sv *SimVehicle) paramRead(name string, index int16) {
	name = strings.TrimRight(name, "\x00")
	if index >= 0 {
		all := sv.allParams()
		if int(index) >= len(all) {
			sv.warn("PARAM_REQUEST_READ index out of range", "index", index, "count", len(all))
			return
		}
		sv.send(paramValue(all[index], int(index), len(all)))
		return
	}
	p, i, n, ok := sv.paramIndex(name)
	if !ok {
		// ArduPilot stays silent for an unknown name; the log says why
		sv.warn("PARAM_REQUEST_READ for unknown parameter", "param", name)
		return
	}
	sv.send(paramValue(p, i, n))
}

func (sv *SimVehicle) paramSet(name string, value float64) {
	name = strings.TrimRight(name, "\x00")
	p, _, n, ok := sv.paramIndex(name)
	if !ok {
		sv.warn("PARAM_SET for unknown parameter ignored", "param", name)
		return
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		sv.warn("PARAM_SET with non-finite value refused", "param", name)
		sv.send(paramValue(p, 65535, n))
		return
	}
	np, err := sv.setParam(name, value)
	if err != nil {
		sv.warn("PARAM_SET refused", "param", name, "value", value, "err", err)
		sv.statusText(vehicle.SeverityWarning, "Param write denied ("+name+")")
		sv.send(paramValue(p, 65535, n))
		return
	}
	sv.send(paramValue(np, 65535, n))
}

// allParams is the vehicle's parameter table as a ground station sees it:
// the model's parameters, then the inert ones (Config.ExtraParams).
func (sv *SimVehicle) allParams() []vehicle.Param {
	return append(sv.model.Params(), sv.extra...)
}

// setParam sets a model parameter, or an inert one within its type's range.
func (sv *SimVehicle) setParam(name string, value float64) (vehicle.Param, error) {
	for i := range sv.extra {
		p := &sv.extra[i]
		if p.Name != name {
			continue
		}
		if p.Type != vehicle.ParamReal {
			value = math.Round(value)
		}
		if value < p.Min || value > p.Max {
			return *p, fmt.Errorf("set parameter %s: %v outside [%v, %v]", name, value, p.Min, p.Max)
		}
		p.Value = value
		return *p, nil
	}
	return sv.model.SetParam(name, value)
}

// MaxExtraParams bounds Config.ExtraParams: the generated names run out
// beyond it.
const MaxExtraParams = 1400

// inertParams generates n parameters the model does not act on, named,
// typed and valued like ArduCopter's servo, RC, serial, rate-controller,
// sensor-calibration, battery, relay and OSD groups, in that order, so a simulated vehicle
// can carry ArduCopter's ~1,350 parameters (and a param.pck with realistic
// shared name prefixes) for parameter-download tests and benchmarks.
func inertParams(n int) []vehicle.Param {
	out := make([]vehicle.Param, 0, n)
	add := func(name string, typ uint8, val float64) bool {
		if len(out) >= n {
			return false
		}
		lo, hi := -3.4e38, 3.4e38
		switch typ {
		case vehicle.ParamInt8:
			lo, hi = math.MinInt8, math.MaxInt8
		case vehicle.ParamInt16:
			lo, hi = math.MinInt16, math.MaxInt16
		case vehicle.ParamInt32:
			lo, hi = math.MinInt32, math.MaxInt32
		}
		out = append(out, vehicle.Param{Name: name, Value: val, Type: typ, Min: lo, Max: hi})
		return true
	}
	for i := 1; i <= 32; i++ {
		for _, f := range []struct {
			s   string
			typ uint8
			v   float64
		}{{"MIN", vehicle.ParamInt16, 1100}, {"MAX", vehicle.ParamInt16, 1900}, {"TRIM", vehicle.ParamInt16, 1500},
			{"REVERSED", vehicle.ParamInt8, 0}, {"FUNCTION", vehicle.ParamInt16, float64(min(i+32, 94))}} {
			if !add(fmt.Sprintf("SERVO%d_%s", i, f.s), f.typ, f.v) {
				return out
			}
		}
	}
	for i := 1; i <= 16; i++ {
		for _, f := range []struct {
			s   string
			typ uint8
			v   float64
		}{{"MIN", vehicle.ParamInt16, 1100}, {"TRIM", vehicle.ParamInt16, 1500}, {"MAX", vehicle.ParamInt16, 1900},
			{"REVERSED", vehicle.ParamInt8, 0}, {"DZ", vehicle.ParamInt16, 20}, {"OPTION", vehicle.ParamInt16, 0}} {
			if !add(fmt.Sprintf("RC%d_%s", i, f.s), f.typ, f.v) {
				return out
			}
		}
	}
	for i := range 8 {
		if !add(fmt.Sprintf("SERIAL%d_BAUD", i), vehicle.ParamInt32, 57) || !add(fmt.Sprintf("SERIAL%d_PROTOCOL", i), vehicle.ParamInt8, 2) ||
			!add(fmt.Sprintf("SERIAL%d_OPTIONS", i), vehicle.ParamInt16, 0) {
			return out
		}
	}
	for _, axis := range []string{"RLL", "PIT", "YAW"} {
		for j, f := range []string{"P", "I", "D", "FF", "IMAX", "FLTT", "FLTE", "FLTD", "SMAX", "PDMX", "D_FF", "NTF", "NEF"} {
			if !add("ATC_RAT_"+axis+"_"+f, vehicle.ParamReal, float64(float32(0.135+0.01*float64(j)))) {
				return out
			}
		}
	}
	for _, g := range []string{"INS_ACCOFFS", "INS_ACC2OFFS", "INS_ACC3OFFS", "INS_ACCSCAL", "INS_ACC2SCAL", "INS_ACC3SCAL",
		"INS_GYROFFS", "INS_GYR2OFFS", "INS_GYR3OFFS", "COMPASS_OFS", "COMPASS_OFS2", "COMPASS_OFS3", "COMPASS_DIA",
		"COMPASS_DIA2", "COMPASS_DIA3", "COMPASS_ODI", "COMPASS_ODI2", "COMPASS_ODI3", "COMPASS_MOT", "COMPASS_MOT2", "COMPASS_MOT3"} {
		for k, axis := range []string{"_X", "_Y", "_Z"} {
			v := float64(float32(0.001 * float64(k+1)))
			if strings.Contains(g, "SCAL") || strings.Contains(g, "DIA") {
				v = 1
			}
			if !add(g+axis, vehicle.ParamReal, v) {
				return out
			}
		}
	}
	for i := 2; i <= 9; i++ {
		for j, f := range []string{"MONITOR", "CAPACITY", "VOLT_PIN", "CURR_PIN", "VOLT_MULT", "AMP_PERVLT", "AMP_OFFSET",
			"LOW_VOLT", "CRT_VOLT", "FS_LOW_ACT", "FS_CRT_ACT", "ARM_VOLT", "SERIAL_NUM", "LOW_TIMER", "OPTIONS"} {
			if !add(fmt.Sprintf("BATT%d_%s", i, f), vehicle.ParamReal, float64(j)) {
				return out
			}
		}
	}
	for i := 1; i <= 16; i++ {
		if !add(fmt.Sprintf("RELAY%d_FUNCTION", i), vehicle.ParamInt8, 0) || !add(fmt.Sprintf("RELAY%d_PIN", i), vehicle.ParamInt8, -1) ||
			!add(fmt.Sprintf("RELAY%d_DEFAULT", i), vehicle.ParamInt8, 0) {
			return out
		}
	}
	osd := []string{"ALTITUDE", "BAT_VOLT", "RSSI", "CURRENT", "BATUSED", "SATS", "FLTMODE", "MESSAGE", "GSPEED",
		"HORIZON", "HOME", "HEADING", "THROTTLE", "COMPASS", "WIND", "ASPEED", "VSPEED", "BATT_BAR", "ARMING", "PITCH",
		"ROLL", "DIST", "STAT", "FLTIME", "CLIMBEFF", "EFF", "BTEMP", "ATEMP", "HDOP", "WAYPOINT", "XTRACK", "CURRENT2", "CLK"}
	for screen := 1; screen <= 9; screen++ {
		for j, item := range osd {
			for k, f := range []string{"_EN", "_X", "_Y"} {
				v := float64((j*3 + k*7) % 30)
				if f == "_EN" {
					v = float64(j % 2)
				}
				if !add(fmt.Sprintf("OSD%d_%s%s", screen, item, f), vehicle.ParamInt8, v) {
					return out
				}
			}
		}
	}
	return out
}
