package app

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/groundstation/session"
)

// startGroundStation builds the MAVLink ground station from
// Config.GroundStation, publishes it as a.Station for the API and the
// planner, and runs it for the App's lifetime.
func (a *App) startGroundStation(ctx context.Context) error {
	gc := a.Config.GroundStation
	st, err := groundstation.New(groundstation.Config{
		Links:            gc.MAVLink,
		SystemID:         uint8(gc.SystemID),
		HeartbeatTimeout: gc.HeartbeatTimeout,
		StreamRateHz:     gc.StreamRateHz,
		Session: session.Options{
			CommandTimeout:     gc.CommandTimeout,
			CommandRetries:     noRetriesIfZero(gc.CommandRetries),
			MissionItemTimeout: gc.MissionTimeout,
			MissionRetries:     noRetriesIfZero(gc.MissionRetries),
			UploadWindow:       gc.MissionWindow,
			RefusalTextWindow:  offIfZero(gc.RefusalTextWindow),
			Log:                a.Log,
		},
		IdentityFile:   filepath.Join(a.Config.DataDir, "vehicle-ids.json"),
		SigningKeyFile: filepath.Join(a.Config.DataDir, groundstation.SigningKeyFileName),
		ClockScale:     a.timeScale(),
		// At interval 0 the recorder stores every message received, also
		// those that change no state; the station must hand it them.
		EveryMessage: a.Config.Telemetry.SampleInterval == 0,
		Log:          a.Log,
	}, a.Fleet, a.Log)
	if err != nil {
		return fmt.Errorf("ground station: %w", err)
	}
	a.Station = st
	if a.world == nil && a.Config.Sim.Vehicles == 0 && a.timeScale() > 1 {
		a.worldLag = st.NewLagFollower(a.loadWorldLag())
		a.Go(ctx, "world lag", a.followWorldLag)
	}
	a.observeStation(st)
	a.GoIngest("ground station", st.Run)
	return nil
}

// noRetriesIfZero maps the flags' "0 retries" onto session.Options, where 0
// asks for the default and a negative count means none.
func noRetriesIfZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// offIfZero maps the flags' "0 = off" onto session.Options, where 0 asks
// for the default and a negative duration turns the feature off.
func offIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
