package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/groundstation/control"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/missions"
	"github.com/burgut-uav/burgut/missions/missionsapi"
)

// startMissions serves the event-area and planning API; assigning a plan
// to vehicles uploads through the ground station with read-back.
func (a *App) startMissions(ctx context.Context) error {
	if err := os.MkdirAll(a.Config.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	store, err := missionsapi.NewStore(a.Config.DataDir)
	if err != nil {
		return err
	}
	a.Missions = store
	deps := missionsapi.Deps{Store: store, Log: a.Log.With("part", "missions")}
	// Plans keep their separation from the patrol operations' (started
	// after this, before the HTTP server).
	deps.Airspace = func(start, end time.Time) []missions.PlanSet {
		if a.Operations == nil {
			return nil
		}
		return a.Operations.PlanSets(start, end)
	}
	if a.Station != nil {
		deps.Uploader = stationUploader{a.Station, a.ops(), a.Control}
	}
	missionsapi.Register(a.Mux, deps)
	return nil
}

// stationUploader adapts the ground station to the planner's Uploader:
// every upload from a plan is verified by reading it back.
type stationUploader struct {
	s   *groundstation.Station
	ops *opCounter
	// ctl refuses a plan's upload or parameter to a vehicle another
	// operator controls, as the vehicle API does (nil: no control).
	ctl *control.Table
}

func (u stationUploader) checkControl(ctx context.Context, vehicleID string) error {
	if u.ctl == nil {
		return nil
	}
	return u.ctl.Check(ctx, vehicleID, false, "")
}

// GetParam reads one parameter for the planner (a vehicle's storage
// size). ArduPilot does not answer a read of a parameter it lacks, so a
// read that times out, or outlives ctx, means "not there", as does a
// name outside the vehicle's parameter table when the session knows it.
func (u stationUploader) GetParam(ctx context.Context, vehicleID, name string) (float64, bool, error) {
	sess, err := u.s.Session(vehicleID)
	if errors.Is(err, groundstation.ErrUnknownVehicle) {
		return 0, false, fmt.Errorf("%w: %v", missionsapi.ErrUnknownVehicle, err)
	}
	if err != nil {
		return 0, false, err
	}
	p, err := sess.ParamGet(ctx, name)
	if errors.Is(err, session.ErrTimeout) || errors.Is(err, session.ErrUnknownParam) || errors.Is(err, context.DeadlineExceeded) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return p.Value, true, nil
}

// SetParam sets one parameter and verifies the vehicle echoes it.
func (u stationUploader) SetParam(ctx context.Context, vehicleID, name string, value float64) error {
	if err := u.checkControl(ctx, vehicleID); err != nil {
		return err
	}
	sess, err := u.s.Session(vehicleID)
	if err != nil {
		return err
	}
	_, err = sess.ParamSet(ctx, name, value)
	return err
}

func (u stationUploader) UploadMission(ctx context.Context, vehicleID string, t mavitem.MissionType, items []mavitem.Item, tag missionsapi.Tag) error {
	if err := u.checkControl(ctx, vehicleID); err != nil {
		return err
	}
	rep, err := u.s.Upload(ctx, vehicleID, t, items, groundstation.UploadOptions{Verify: true, Mission: tag.Mission, EventArea: tag.EventArea})
	u.ops.upload(rep, err)
	if err != nil {
		return err
	}
	if !rep.Verified {
		return errors.New("upload was not verified by read-back")
	}
	return nil
}
