package vehicleapi

import (
	"context"

	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/groundstation/session"
)

// FromStation adapts the MAVLink ground station to the API's Station. It
// returns nil for a nil station, so Deps.Station stays nil (503) when no
// ground station runs.
func FromStation(s *groundstation.Station) Station {
	if s == nil {
		return nil
	}
	return station{s}
}

// station adds the per-vehicle session operations the Station type does
// not wrap itself (Clear it does: clearing a mission also ends the
// vehicle's plan assignment tags).
type station struct{ *groundstation.Station }

func (s station) SetCurrent(ctx context.Context, id string, seq uint16) error {
	sess, err := s.Session(id)
	if err != nil {
		return err
	}
	return sess.SetCurrent(ctx, seq)
}

func (s station) Params(ctx context.Context, id string) ([]session.Param, error) {
	sess, err := s.Session(id)
	if err != nil {
		return nil, err
	}
	return sess.ParamsAll(ctx, nil)
}

func (s station) ParamGet(ctx context.Context, id, name string) (session.Param, error) {
	sess, err := s.Session(id)
	if err != nil {
		return session.Param{}, err
	}
	return sess.ParamGet(ctx, name)
}

func (s station) ParamSet(ctx context.Context, id, name string, value float64) (session.Param, error) {
	sess, err := s.Session(id)
	if err != nil {
		return session.Param{}, err
	}
	return sess.ParamSet(ctx, name, value)
}
