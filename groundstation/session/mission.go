package session

import (
	"context"
	"errors"

	"github.com/burgut-uav/burgut/missions"
)

// Progress reports a transfer's advance: done of total items or parameters.
// It is called from the operation's goroutine and must not block for long.
type Progress func(done, total int)

// Upload replaces the vehicle's list of type t with items.
func (v *Vehicle) Upload(ctx context.Context, t missions.MissionType, items []missions.Item, p Progress) error {
	return errors.New("not implemented yet")
}

// Download reads the vehicle's list of type t.
func (v *Vehicle) Download(ctx context.Context, t missions.MissionType, p Progress) ([]missions.Item, error) {
	return nil, errors.New("not implemented yet")
}

// Clear removes the vehicle's list of type t.
func (v *Vehicle) Clear(ctx context.Context, t missions.MissionType) error {
	return errors.New("not implemented yet")
}

// SetCurrent makes seq the vehicle's current mission item.
func (v *Vehicle) SetCurrent(ctx context.Context, seq uint16) error {
	return errors.New("not implemented yet")
}
