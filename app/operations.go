package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/groundstation/vehicleapi"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/metrics"
	"github.com/burgut-uav/burgut/missions"
	"github.com/burgut-uav/burgut/missions/operations"
	"github.com/burgut-uav/burgut/telemetry"
)

// operationsActor names the station in the audit log and the event stream
// for the launches and RTLs the operations scheduler sends on its own.
const operationsActor = "station:operations"

// OperationsConfig configures patrol operations (missions/operations).
type OperationsConfig struct {
	// TimeScale is how much faster than the wall clock operation clocks
	// run: 0 picks the simulator's --speedup when `burgut run` flies a
	// simulated fleet, else 1 (real drones fly on wall time).
	TimeScale float64
}

func (c *OperationsConfig) register(fs *flag.FlagSet) {
	fs.Float64Var(&c.TimeScale, "operations-time-scale", c.TimeScale, "operation clocks run this many times faster than the wall clock (0 = the simulator's --speedup under burgut run, else 1); set it to the speedup of an external burgut sitl")
}

func (c *OperationsConfig) validate() error {
	if math.IsNaN(c.TimeScale) || c.TimeScale < 0 || c.TimeScale > 1000 {
		return fmt.Errorf("operations-time-scale %v: want 0 (automatic) to 1000", c.TimeScale)
	}
	return nil
}

// timeScale is the effective operation time scale.
func (a *App) timeScale() float64 {
	if s := a.Config.Operations.TimeScale; s > 0 {
		return s
	}
	if a.Config.Sim.Vehicles > 0 && a.Config.Sim.Speedup > 0 {
		return a.Config.Sim.Speedup
	}
	return 1
}

// operationsLag is how far the world the operations fly in has fallen
// behind the wall clock (operations.Config.Lag). Under burgut run with the
// automatic time scale (the simulator's speedup) it is the time the
// simulator fell behind its speedup (simulator.Sim.Lag), and the
// operations scheduler's clock (the wall clock less it) keeps step with
// the simulated world. A starved machine slows the simulation rather than
// jumping it; with the plain wall clock the operation clock ran on at
// the full speedup meanwhile — a 2 s stall at speedup 60 was 2 minutes of
// operation time in which no drone moved — and the operation tests
// counted uncovered time that was never flown. With a time scale above 1
// and no simulator of its own, the world is an external simulator, and
// its lag is followed from the vehicles' boot clocks (worldLag). Nil (no
// lag) otherwise: real drones' time is the wall clock's (and a test may
// hand the App an in-process simulator: world).
func (a *App) operationsLag() func() time.Duration {
	if a.world != nil {
		return a.world.Lag
	}
	if a.worldLag != nil {
		return a.worldLag.Lag
	}
	if a.Config.Sim.Vehicles == 0 || a.Config.Operations.TimeScale > 0 {
		return nil
	}
	return func() time.Duration {
		if s := a.simClock.Load(); s != nil {
			return s.Lag()
		}
		return 0
	}
}

// startOperations runs the patrol operations scheduler and serves its API.
// It needs the ground station (to fly) and the mission store (areas).
func (a *App) startOperations(ctx context.Context) error {
	var act operations.Actuator
	if a.Station != nil {
		act = operationsActuator{a}
	}
	// Tick every 5 s of operation time (coverage is sampled at the tick),
	// between 20 ms and 200 ms of wall time.
	tick := min(max(time.Duration(float64(5*time.Second)/a.timeScale()), 20*time.Millisecond), 200*time.Millisecond)
	m, err := operations.New(operations.Config{DataDir: a.Config.DataDir, Fleet: a.Fleet, Act: act, TimeScale: a.timeScale(),
		Tick: tick, Log: a.Log.With("part", "operations"), PadClearM: a.Config.Separation.monitor().PadClearance(), Lag: a.operationsLag()})
	if err != nil {
		return err
	}
	a.Operations = m
	a.opsRef.Store(m)
	if a.world != nil && a.Station != nil {
		a.Go(ctx, "simulator pace", func(ctx context.Context) error { a.paceSimulator(ctx, a.world); return nil })
	}
	operations.Register(a.Mux, operations.Deps{Manager: m, Areas: a.Missions, Log: a.Log.With("part", "operations"),
		Known: func(id string) bool { _, ok := a.Fleet.Get(id); return ok },
		// Plans assigned through the missions API and still flown: the
		// vehicle keeps the plan's mission tag until it completes.
		Flying: func() []missions.PlanSet {
			if a.Missions == nil {
				return nil
			}
			return a.Missions.Flying(func(vid, pid string) bool { v, ok := a.Fleet.Get(vid); return ok && v.Mission == pid })
		}})
	a.addFamily(counter("burgut_operations_ticks_total", "operations scheduler ticks"), func(emit metrics.Emit) { emit(float64(m.Stats().Ticks)) })
	a.addFamily(counter("burgut_operations_tick_seconds_total", "time spent in operations scheduler ticks"), func(emit metrics.Emit) {
		emit(float64(m.Stats().TickNanos) / 1e9)
	})
	a.addFamily(counter("burgut_operations_launches_total", "launches the operations scheduler sent"), func(emit metrics.Emit) { emit(float64(m.Stats().Launches)) })
	a.addFamily(counter("burgut_operations_launch_failures_total", "launches that failed (the vehicle is failed and replaced)"), func(emit metrics.Emit) {
		emit(float64(m.Stats().LaunchFailures))
	})
	a.addFamily(counter("burgut_operations_pad_holds_total", "drones the operations scheduler braked: flying home, held before a busy launch pad (pad_sequencing), or flying their mission, yielding to another's forced return"), func(emit metrics.Emit) {
		emit(float64(m.Stats().Holds))
	})
	a.addFamily(counter("burgut_operations_pad_hold_failures_total", "pad holds and yields refused or unanswered (the drone flew on)"), func(emit metrics.Emit) {
		emit(float64(m.Stats().HoldFailures))
	})
	a.addFamily(counter("burgut_operations_resumes_total", "drones braked to yield to a forced return that the operations scheduler sent on with their mission (mode AUTO)"), func(emit metrics.Emit) {
		emit(float64(m.Stats().Resumes))
	})
	a.addFamily(counter("burgut_operations_resume_failures_total", "resumes refused or unanswered (sent again)"), func(emit metrics.Emit) {
		emit(float64(m.Stats().ResumeFailures))
	})
	a.Go(ctx, "operations", m.Run)
	if a.Station != nil {
		a.registerClockMetrics()
		a.Go(ctx, "vehicle clock check", a.checkClocks)
	}
	a.Go(ctx, "operations metrics", func(ctx context.Context) error { a.coverageFeed(ctx, m); return nil })
	return nil
}

// coverageEvery is how often (wall time) each active operation's coverage
// metrics go to InfluxDB and MQTT.
const coverageEvery = 5 * time.Second

// coverageFeed writes each active (or just finished) operation's per-slot
// coverage to InfluxDB as the "coverage" measurement, tagged with the
// operation, its area (event_area), the slot, the slot's vehicle and its
// mission tag, and publishes the operation's view on MQTT (retained
// burgut/STATION/operations/ID).
func (a *App) coverageFeed(ctx context.Context, m *operations.Manager) {
	t := time.NewTicker(coverageEvery)
	defer t.Stop()
	final := map[string]bool{} // finished operations already written once more
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		var pts []telemetry.Point
		for _, o := range m.List() {
			if !o.Active() {
				if final[o.ID] {
					continue
				}
				final[o.ID] = true
			}
			v := operations.View(o, now)
			if a.opPublisher != nil {
				if err := a.opPublisher.PublishOperation(o.ID, v); err != nil {
					a.Log.Warn("operations: publish coverage", "op", o.ID, "err", err)
				}
			}
			for _, s := range v.Slots {
				covered := 0.0
				if s.Covered {
					covered = 1
				}
				pts = append(pts, telemetry.Point{Time: now, Measurement: "coverage",
					Tags: telemetry.Tags{Operation: o.ID, EventArea: o.AreaID, Slot: strconv.Itoa(s.Index), Vehicle: s.VehicleID,
						Mission: o.ID + "/slot-" + strconv.Itoa(s.Index)},
					Fields: []telemetry.Field{{Name: "on_station_s", Float: s.OnStationS}, {Name: "uncovered_s", Float: s.UncoveredS},
						{Name: "handovers", Kind: telemetry.FieldInt, Int: int64(s.Handovers)}, {Name: "replacements", Kind: telemetry.FieldInt, Int: int64(s.Replacement)},
						{Name: "covered", Float: covered}, {Name: "max_revisit_s", Float: s.MaxRevisitS}}})
			}
		}
		if a.points != nil && len(pts) > 0 {
			if err := a.points.WritePoints(ctx, pts); err != nil {
				a.Log.Warn("operations: write coverage points", "points", len(pts), "err", err)
			}
		}
	}
}

// operationsActuator flies the scheduler's commands through the ground
// station, the same path an operator's plan assignment takes (verified
// uploads, then GUIDED, arm, mission start), each audited as the station.
type operationsActuator struct{ a *App }

func (x operationsActuator) Launch(ctx context.Context, id string, p *missions.DronePlan, upload bool, rtlAltM float64, tag operations.Tag) (err error) {
	a := x.a
	fields := map[string]any{"mission": tag.Mission, "event_area": tag.EventArea, "upload": upload}
	defer func() {
		if noAnswer(err) {
			err = fmt.Errorf("%w: %w", operations.ErrNoAnswer, err)
		}
		x.audit(id, "launch", fields, err)
	}()
	if !upload && rtlAltM > 0 {
		// The vehicle's last return raised RTL_ALT to its slot's return
		// layer; without an upload nothing else sets the plan's back.
		fields["rtl_alt_m"] = rtlAltM
		if err := x.setRTLAlt(ctx, id, rtlAltM); err != nil {
			return fmt.Errorf("%w: %w", operations.ErrRTLAlt, err)
		}
	}
	if upload {
		o := groundstation.UploadOptions{Verify: true, Mission: tag.Mission, EventArea: tag.EventArea}
		for _, l := range []struct {
			t     mavitem.MissionType
			items []mavitem.Item
		}{{mavitem.TypeFence, p.Fence}, {mavitem.TypeRally, p.Rally}, {mavitem.TypeMission, p.MissionWithHome()}} {
			if _, err := a.Station.Upload(ctx, id, l.t, l.items, o); err != nil {
				return fmt.Errorf("%w: %s: %w", operations.ErrUpload, l.t, err)
			}
		}
		sess, err := a.Station.Session(id)
		if err != nil {
			return err
		}
		for _, pv := range p.FenceParams {
			if _, err := sess.ParamSet(ctx, pv.Name, pv.Value); err != nil {
				return fmt.Errorf("%w: set %s: %w", operations.ErrUpload, pv.Name, err)
			}
		}
	} else {
		a.Fleet.SetAssignment(id, tag.Mission, tag.EventArea)
	}
	// The launch arms in AUTO (AUTO_OPTIONS bits 0 and 1: allow arming,
	// take off without raising the throttle), so the mission starts with
	// the arming itself: arming in GUIDED and starting the mission with a
	// second command races the autopilot's DISARM_DELAY, which a busy link
	// or a fast simulation loses.
	sess, err := a.Station.Session(id)
	if err != nil {
		return err
	}
	if p, err := sess.ParamGet(ctx, "AUTO_OPTIONS"); err != nil || int(p.Value)&3 != 3 {
		v := 3.0
		if err == nil {
			v = float64(int(p.Value) | 3)
		}
		if _, err := sess.ParamSet(ctx, "AUTO_OPTIONS", v); err != nil {
			return fmt.Errorf("set AUTO_OPTIONS: %w", err)
		}
	}
	st := vehicleapi.FromStation(a.Station)
	d := vehicleapi.Deps{Fleet: a.Fleet, Station: st, Log: a.Log}
	if _, err := vehicleapi.RunCommand(ctx, d, id, "mode", vehicleapi.CommandArgs{Mode: "GUIDED"}); err != nil {
		return fmt.Errorf("mode GUIDED: %w", err)
	}
	// A mission interrupted by the last RTL would resume at the item it
	// was flying (MIS_RESTART 0), which on the ground is no takeoff: start
	// from the first item (set outside AUTO, where it does not jump).
	if err := st.SetCurrent(ctx, id, 1); err != nil {
		return fmt.Errorf("mission current 1: %w", err)
	}
	if _, err := vehicleapi.RunCommand(ctx, d, id, "mode", vehicleapi.CommandArgs{Mode: "AUTO"}); err != nil {
		return fmt.Errorf("mode AUTO: %w", err)
	}
	if _, err := vehicleapi.RunCommand(ctx, d, id, "arm", vehicleapi.CommandArgs{}); err != nil {
		return fmt.Errorf("arm: %w", err)
	}
	return nil
}

// noAnswer says whether a launch error is the vehicle or its link not
// answering (the session's timeout after its retries, a transfer of the
// same kind holding the session, the station stopping mid-launch) rather
// than a refusal (a NACK, DENIED, a rejected value) or an unknown vehicle:
// the scheduler tries such a launch again instead of failing the drone
// (operations.ErrNoAnswer). The one place that maps the session's errors
// to that outcome.
func noAnswer(err error) bool {
	return errors.Is(err, session.ErrTimeout) || errors.Is(err, session.ErrBusy) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// CheckMission reads the vehicle's mission, fence and rally lists (the
// station's copy while it is known current, else a download) and compares
// them with the plan's, with the tolerances of an upload's verification.
// The read-back and its outcome are audited: it decides whether a
// relaunch uploads again.
func (x operationsActuator) CheckMission(ctx context.Context, id string, p *missions.DronePlan, tag operations.Tag) (diff string, err error) {
	defer func() {
		outcome := "match"
		switch {
		case err != nil:
			outcome = operations.ReasonMissionUnverified
		case diff != "":
			outcome = operations.ReasonMissionChanged
		}
		f := map[string]any{"mission": tag.Mission, "event_area": tag.EventArea, "outcome": outcome}
		if diff != "" {
			f["diff"] = diff
		}
		if err != nil {
			f["error"] = err.Error()
		}
		// Audited, not shown as a command in the event stream: it
		// changes nothing on the vehicle (the scheduler's event says
		// when it leads to an upload or a replacement).
		body, _ := json.Marshal(f)
		if _, aerr := x.a.Audit.Append(audit.Entry{Time: time.Now(), Actor: operationsActor, Source: "station", Route: "STATION operations/verify_mission",
			Vehicles: []string{id}, Body: string(body), BodyBytes: int64(len(body)), Status: http.StatusOK, Result: "ok", Detail: outcome}); aerr != nil {
			x.a.Log.Error("operations: audit", "vehicle", id, "err", aerr)
		}
	}()
	for _, l := range []struct {
		t     mavitem.MissionType
		items []mavitem.Item
	}{{mavitem.TypeMission, p.MissionWithHome()}, {mavitem.TypeFence, p.Fence}, {mavitem.TypeRally, p.Rally}} {
		got, err := x.a.Station.Download(ctx, id, l.t)
		if err != nil {
			return "", err
		}
		if d := groundstation.SameItems(l.t, l.items, got); d != "" {
			return fmt.Sprintf("%s: %s", l.t, d), nil
		}
	}
	return "", nil
}

// ReturnHome sends a drone home; with rtlAltM it first sets RTL_ALT
// (the slot's return layer the operation planned and checked, or the
// plan's RTL altitude back), so the RTL climbs there. Both are audited.
func (x operationsActuator) ReturnHome(ctx context.Context, id string, rtlAltM float64) (err error) {
	var fields map[string]any
	if rtlAltM > 0 {
		fields = map[string]any{"rtl_alt_m": rtlAltM}
	}
	defer func() { x.audit(id, "rtl", fields, err) }()
	if rtlAltM > 0 {
		if err := x.setRTLAlt(ctx, id, rtlAltM); err != nil {
			return err
		}
	}
	d := vehicleapi.Deps{Fleet: x.a.Fleet, Station: vehicleapi.FromStation(x.a.Station), Log: x.a.Log}
	_, err = vehicleapi.RunCommand(ctx, d, id, "rtl", vehicleapi.CommandArgs{})
	return err
}

// setRTLAlt sets the vehicle's RTL_ALT to rtlAltM metres and waits for
// the vehicle's echo of the value (ParamSet): the one place the station
// changes a drone's return altitude for the operations — raised to its
// slot's return layer before a return, set back to the plan's before a
// return or a launch without an upload.
func (x operationsActuator) setRTLAlt(ctx context.Context, id string, rtlAltM float64) error {
	sess, err := x.a.Station.Session(id)
	if err != nil {
		return fmt.Errorf("set RTL_ALT %g m: %w", rtlAltM, err)
	}
	if _, err := sess.ParamSet(ctx, "RTL_ALT", math.Round(rtlAltM*100)); err != nil {
		return fmt.Errorf("set RTL_ALT %g m: %w", rtlAltM, err)
	}
	return nil
}

// Hold stops a drone flying home where it is (mode BRAKE: ArduCopter
// holds its position and altitude) until the pad it lands on is clear;
// the scheduler sends it on with ReturnHome.
func (x operationsActuator) Hold(ctx context.Context, id string) (err error) {
	defer func() { x.audit(id, "hold", nil, err) }()
	d := vehicleapi.Deps{Fleet: x.a.Fleet, Station: vehicleapi.FromStation(x.a.Station), Log: x.a.Log}
	_, err = vehicleapi.RunCommand(ctx, d, id, "mode", vehicleapi.CommandArgs{Mode: "BRAKE"})
	return err
}

// Resume sends a drone braked to yield to another's forced return on
// with its mission (mode AUTO: ArduCopter resumes at its current item)
// and sets the plan's speed again (DO_CHANGE_SPEED): entering AUTO
// resets the speed to WPNAV_SPEED (10 m/s by default) and the plan's
// DO_CHANGE_SPEED, before the loop, is not flown again, so a resumed
// relief flew its loop at 10 m/s into the drone ahead of it at 6 m/s
// (the stadium scenario's 0.4 m).
func (x operationsActuator) Resume(ctx context.Context, id string, speedMS float64) (err error) {
	var fields map[string]any
	if speedMS > 0 {
		fields = map[string]any{"ground_speed_mps": speedMS}
	}
	defer func() { x.audit(id, "resume", fields, err) }()
	d := vehicleapi.Deps{Fleet: x.a.Fleet, Station: vehicleapi.FromStation(x.a.Station), Log: x.a.Log}
	if _, err = vehicleapi.RunCommand(ctx, d, id, "mode", vehicleapi.CommandArgs{Mode: "AUTO"}); err != nil {
		return err
	}
	if speedMS > 0 {
		if _, err = vehicleapi.RunCommand(ctx, d, id, "speed", vehicleapi.CommandArgs{GroundSpeedMPS: &speedMS}); err != nil {
			return fmt.Errorf("set the plan's speed %g m/s after resuming: %w", speedMS, err)
		}
	}
	return nil
}

// Continue sends a drone waiting at its plan's hold on to the loop: the
// mission's current item becomes seq (MISSION_SET_CURRENT, verified by
// the vehicle's MISSION_CURRENT).
func (x operationsActuator) Continue(ctx context.Context, id string, seq int) (err error) {
	defer func() { x.audit(id, "continue", map[string]any{"seq": seq}, err) }()
	if seq < 0 || seq > math.MaxUint16 {
		return fmt.Errorf("mission item %d out of range", seq)
	}
	return vehicleapi.FromStation(x.a.Station).SetCurrent(ctx, id, uint16(seq))
}

// audit records a command the scheduler sent, as the separation monitor
// records its brakes, and shows it in the event stream.
func (x operationsActuator) audit(id, what string, fields map[string]any, err error) {
	a := x.a
	body, _ := json.Marshal(fields)
	e := audit.Entry{Time: time.Now(), Actor: operationsActor, Source: "station", Route: "STATION operations/" + what,
		Vehicles: []string{id}, Body: string(body), BodyBytes: int64(len(body)), Status: http.StatusOK, Result: "ok", Detail: what}
	if err != nil {
		e.Status, e.Result, e.Detail = http.StatusBadGateway, "command_failed", fmt.Sprintf("%s: %v", what, err)
		if errors.Is(err, context.Canceled) {
			e.Result = "cancelled"
		}
	}
	entry, aerr := a.Audit.Append(e)
	if aerr != nil {
		a.Log.Error("operations: audit", "vehicle", id, "err", aerr)
	}
	a.Fleet.Emit(fleet.Event{VehicleID: id, Kind: fleet.EventCommand, Severity: fleet.SeverityInfo,
		Message: fmt.Sprintf("%s sent by %s (%s)", what, operationsActor, e.Result),
		Fields:  map[string]any{"actor": operationsActor, "name": what, "route": e.Route, "audit_seq": entry.Seq, "result": e.Result}})
}
