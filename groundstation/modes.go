package groundstation

import (
	"context"
	"errors"

	"github.com/burgut-uav/burgut/groundstation/session"
)

// ModeNames lists the ArduCopter mode names SetMode accepts.
func ModeNames() []string { return nil }

// SetMode switches a vehicle to an ArduCopter flight mode by name.
func (s *Station) SetMode(ctx context.Context, vehicleID, mode string) (session.CommandResult, error) {
	return session.CommandResult{}, errors.New("not implemented yet")
}
