package simulator

import (
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
	sv.plist = paramList{active: true, snap: sv.model.Params()}
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
	all := sv.model.Params()
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
		all := sv.model.Params()
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
	np, err := sv.model.SetParam(name, value)
	if err != nil {
		sv.warn("PARAM_SET refused", "param", name, "value", value, "err", err)
		sv.statusText(vehicle.SeverityWarning, "Param write denied ("+name+")")
		sv.send(paramValue(p, 65535, n))
		return
	}
	sv.send(paramValue(np, 65535, n))
}
