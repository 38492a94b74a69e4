package session

import (
	"context"
	"errors"
)

// Param is one onboard parameter as the vehicle reported it.
type Param struct {
	Name  string
	Value float64
	Type  uint8 // MAV_PARAM_TYPE
	Index int   // -1 when the vehicle answered a by-name read with index 65535
	Count int
}

// ParamsAll downloads every parameter.
func (v *Vehicle) ParamsAll(ctx context.Context, p Progress) ([]Param, error) {
	return nil, errors.New("not implemented yet")
}

// ParamGet reads one parameter by name.
func (v *Vehicle) ParamGet(ctx context.Context, name string) (Param, error) {
	return Param{}, errors.New("not implemented yet")
}

// ParamSet sets one parameter and verifies the echoed value.
func (v *Vehicle) ParamSet(ctx context.Context, name string, value float64) (Param, error) {
	return Param{}, errors.New("not implemented yet")
}
