package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/burgut-uav/burgut/groundstation"

	"github.com/burgut-uav/burgut/metrics"
)

// ClockCheck compares how fast the vehicles' clocks run with the operation
// clock (GET /api/v1/health "clock"). The operations scheduler times
// launches, handovers and returns in operation time; when it runs at 1
// against a simulator flying 20 times faster (an external `burgut sitl
// --speedup 20` without --operations-time-scale 20), every relief is
// launched twenty times too late. The station cannot see the speedup it
// was not told of except in the vehicles' own boot clocks.
type ClockCheck struct {
	// VehicleRate is the median rate of the connected vehicles' boot
	// clocks against the station's (groundstation.Station.ClockRate);
	// Vehicles how many were measured (0: none yet).
	VehicleRate float64 `json:"vehicle_rate"`
	Vehicles    int     `json:"vehicles"`
	// TimeScale is the operation clock's rate (--operations-time-scale,
	// or the simulator's speedup under burgut run).
	TimeScale float64 `json:"operations_time_scale"`
	// FollowsSimulator: the operation clock follows the simulated world's
	// lag — the in-process simulator's under burgut run, or an external
	// one's from the vehicles' clocks when the time scale is above 1 —
	// so a slower vehicle rate is expected and not a mismatch. WorldLagS
	// is that lag now, in wall seconds.
	FollowsSimulator bool    `json:"follows_simulator,omitempty"`
	WorldLagS        float64 `json:"world_lag_s,omitempty"`
	// Mismatch: the vehicles' clocks run more than 25 % faster or 20 %
	// slower than the operation clock.
	Mismatch bool   `json:"mismatch"`
	Message  string `json:"message,omitempty"`
}

// clockCheckEvery is how often the vehicles' clock rate is compared; a
// vehicle's rate is itself measured over 10 s windows.
const clockCheckEvery = 5 * time.Second

// checkClocks compares the vehicles' clocks with the operation clock every
// clockCheckEvery until ctx ends, logging a warning when they start to
// disagree and again when they agree.
func (a *App) checkClocks(ctx context.Context) error {
	t := time.NewTicker(clockCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		was := a.clock.Load()
		c := a.compareClocks()
		a.clock.Store(c)
		switch {
		case c.Mismatch && (was == nil || !was.Mismatch):
			a.Log.Warn("operations: "+c.Message, "vehicle_rate", c.VehicleRate, "vehicles", c.Vehicles, "operations_time_scale", c.TimeScale)
		case !c.Mismatch && was != nil && was.Mismatch:
			a.Log.Info("operations: the vehicles' clocks agree with the operation clock again", "vehicle_rate", c.VehicleRate, "operations_time_scale", c.TimeScale)
		}
	}
}

// compareClocks is the comparison now.
func (a *App) compareClocks() *ClockCheck {
	r, n := a.Station.ClockRate()
	c := &ClockCheck{VehicleRate: r, Vehicles: n, TimeScale: a.timeScale()}
	if lag := a.operationsLag(); lag != nil {
		c.FollowsSimulator, c.WorldLagS = true, lag().Seconds()
	}
	c.Mismatch, c.Message = clockMismatch(r, n, c.TimeScale, c.FollowsSimulator)
	return c
}

// clockMismatch says whether vehicles' clocks at rate disagree with an
// operation clock at scale, and what to do about it. Under burgut run
// (follows) a lagging simulator reads slower than its speedup by design;
// only a faster one would be wrong there.
func clockMismatch(rate float64, vehicles int, scale float64, follows bool) (bool, string) {
	if vehicles == 0 || rate <= 0 || scale <= 0 {
		return false, ""
	}
	q := rate / scale
	if q <= 1.25 && (q >= 0.8 || follows) {
		return false, ""
	}
	return true, fmt.Sprintf("the vehicles' clocks run %.3g times as fast as the station's (median of %d) but operation clocks run at %.3g: operations would time launches, handovers and returns wrongly; run the station with --operations-time-scale %.3g", rate, vehicles, scale, rate)
}

// worldLagEvery is how often the external world's lag is followed; a
// vehicle's clock offset is itself a second's least (groundstation).
const worldLagEvery = 100 * time.Millisecond

// worldLagFile keeps the lag followed over a station restart, in the data
// directory: the external world flies on while the station is down, and
// its operations' clocks must go on from where they were, not jump ahead
// by the lag a new follower would start without.
const worldLagFile = "world-lag.json"

// followWorldLag updates worldLag from the vehicles' clocks every
// worldLagEvery until ctx ends, logging each whole second the lag gains,
// and keeps its state in worldLagFile every clockCheckEvery and at the end.
func (a *App) followWorldLag(ctx context.Context) error {
	t := time.NewTicker(worldLagEvery)
	defer t.Stop()
	var logged time.Duration
	saved := time.Now()
	for {
		select {
		case <-ctx.Done():
			a.saveWorldLag(time.Now())
			return nil
		case now := <-t.C:
			if lag := a.worldLag.Update(now); lag >= logged+time.Second {
				a.Log.Info("operations: the simulated world runs behind the operations time scale; the operation clock waits for it", "lag", lag.Round(time.Millisecond), "operations_time_scale", a.timeScale())
				logged = lag.Truncate(time.Second)
			}
			if now.Sub(saved) >= clockCheckEvery {
				a.saveWorldLag(now)
				saved = now
			}
		}
	}
}

// loadWorldLag is the lag state a station before this one kept (nil:
// none, or one that cannot be read, which is logged: the lag then starts
// again at 0).
func (a *App) loadWorldLag() *groundstation.LagState {
	path := filepath.Join(a.Config.DataDir, worldLagFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var st groundstation.LagState
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil {
		a.Log.Warn("operations: the world's lag kept by the last run is not used; it starts again at 0", "file", path, "err", err)
		return nil
	}
	return &st
}

func (a *App) saveWorldLag(now time.Time) {
	path := filepath.Join(a.Config.DataDir, worldLagFile)
	data, err := json.Marshal(a.worldLag.State(now))
	if err == nil {
		tmp := path + ".tmp"
		if err = os.WriteFile(tmp, data, 0o644); err == nil {
			err = os.Rename(tmp, path)
		}
	}
	if err != nil {
		a.Log.Warn("operations: keep the world's lag", "file", path, "err", err)
	}
}

// registerClockMetrics exposes the last comparison on /metrics.
func (a *App) registerClockMetrics() {
	a.addFamily(gauge("burgut_vehicle_clock_rate", "median rate of the connected vehicles' boot clocks against the station's clock (0: not measured)"), func(emit metrics.Emit) {
		if c := a.clock.Load(); c != nil {
			emit(c.VehicleRate)
			return
		}
		emit(0)
	})
	a.addFamily(gauge("burgut_operations_world_lag_seconds", "wall seconds the simulated world the operations fly in has fallen behind their time scale (0: real time, or not followed)"), func(emit metrics.Emit) {
		if c := a.clock.Load(); c != nil {
			emit(c.WorldLagS)
			return
		}
		emit(0)
	})
	a.addFamily(gauge("burgut_operations_clock_mismatch", "1 when the vehicles' clocks disagree with the operation time scale"), func(emit metrics.Emit) {
		if c := a.clock.Load(); c != nil && c.Mismatch {
			emit(1)
			return
		}
		emit(0)
	})
}
