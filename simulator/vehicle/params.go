package vehicle

import (
	"fmt"
)

// Param is one autopilot parameter as PARAM_VALUE carries it.
type Param struct {
	Name  string
	Value float64
	Type  uint8 // MAV_PARAM_TYPE
	Min   float64
	Max   float64
}

func (v *Vehicle) initParams() {
	v.params = nil
	v.pidx = map[string]int{}
}

// Params returns all parameters in a stable order (index = position).
func (v *Vehicle) Params() []Param { return append([]Param(nil), v.params...) }

// Param looks a parameter up by name.
func (v *Vehicle) Param(name string) (Param, bool) {
	i, ok := v.pidx[name]
	if !ok {
		return Param{}, false
	}
	return v.params[i], true
}

// SetParam sets a parameter; out-of-range values are refused.
func (v *Vehicle) SetParam(name string, value float64) (Param, error) {
	i, ok := v.pidx[name]
	if !ok {
		return Param{}, fmt.Errorf("set parameter %q: unknown parameter", name)
	}
	p := &v.params[i]
	if value < p.Min || value > p.Max {
		return *p, fmt.Errorf("set parameter %s to %g: outside %g..%g", name, value, p.Min, p.Max)
	}
	p.Value = value
	return *p, nil
}
