package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/fleet/separation"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/metrics"
	"github.com/burgut-uav/burgut/missions"
)

// Separation actions on a critical conflict.
const (
	SeparationAlert = "alert" // events only
	SeparationBrake = "brake" // also pause the yielding drone
)

// separationActor is who the audit log and the event stream name for the
// brake commands the station sends on its own.
const separationActor = "station:separation"

// separationTick is how often the monitor looks at the fleet. Half a
// second is a tenth of the 5 s a 10 m/s closing pair needs to cross the
// 30 m - 10 m band between the default thresholds, and costs ~5 ms of one
// core at 2,000 drones (BENCHMARKS.md).
const separationTick = 500 * time.Millisecond

// sepWait is the wait before the next look: the tick, but at least
// sepBusyFactor times what the last look took, so the monitor uses at
// most a tenth of a core whatever the fleet and the time scale (2,000
// drones take ~5 ms a look: a 10 ms tick at speedup 50 would have been
// half a core).
func sepWait(tick, took time.Duration) time.Duration {
	return max(tick, sepBusyFactor*took)
}

const sepBusyFactor = 10

// minSeparationTick bounds the tick at high time scales.
const minSeparationTick = 10 * time.Millisecond

// sepTick is the monitor's period in wall time: separationTick of
// simulated time when the fleet runs faster than the wall clock (the
// operations' time scale: a scenario, burgut run --speedup). At a fixed
// half second of wall time a speedup of 50 looked at the fleet every 25
// simulated seconds — longer than the 20 s horizon, so a conflict could
// come and go between two looks (the marathon scenario passed 27.7 m
// apart without a warning).
func sepTick(timeScale float64) time.Duration {
	if !(timeScale > 1) {
		return separationTick
	}
	return max(minSeparationTick, time.Duration(float64(separationTick)/timeScale))
}

// SeparationConfig configures the live separation monitor
// (fleet/separation): thresholds, horizon and what a critical conflict does.
type SeparationConfig struct {
	Warn     float64 // horizontal predicted miss distance that warns, metres
	Critical float64 // horizontal predicted miss distance that is critical, metres
	// WarnVertical and CriticalVertical are the vertical minima: a pair
	// conflicts only when closer than both minima at the same moment.
	WarnVertical     float64
	CriticalVertical float64
	Horizon          time.Duration // how far ahead closest approach is predicted
	Action           string        // alert or brake
}

// defaults come from separation.DefaultConfig: one source each.
func (c *SeparationConfig) defaults() {
	d := separation.DefaultConfig()
	c.Warn, c.Critical, c.Horizon, c.Action = d.Warn, d.Critical, d.Horizon, SeparationAlert
	c.WarnVertical, c.CriticalVertical = d.WarnVertical, d.CriticalVertical
}

func (c *SeparationConfig) register(fs *flag.FlagSet) {
	fs.Float64Var(&c.Warn, "separation-warn", c.Warn, "raise a separation warning when two airborne drones are predicted to pass closer than this horizontally, metres, while also closer than separation-warn-vertical vertically (linear extrapolation); also the 3D pad clearance")
	fs.Float64Var(&c.Critical, "separation-critical", c.Critical, "horizontal predicted miss distance, metres, under which a separation conflict is critical (with separation-critical-vertical at once)")
	fs.Float64Var(&c.WarnVertical, "separation-warn-vertical", c.WarnVertical, fmt.Sprintf("vertical minimum of a separation warning, metres: keep it under the planner's layer step (%g m by default) so drones on adjacent layers do not warn", missions.DefaultLayerStep))
	fs.Float64Var(&c.CriticalVertical, "separation-critical-vertical", c.CriticalVertical, "vertical minimum of a critical separation conflict, metres")
	fs.DurationVar(&c.Horizon, "separation-horizon", c.Horizon, "how far ahead the separation monitor predicts closest approach")
	fs.StringVar(&c.Action, "separation-action", c.Action, "on a critical separation conflict: alert (events only) or brake (also pause the yielding drone: the one not on patrol, else the higher vehicle ID; audited as "+separationActor+")")
}

func (c *SeparationConfig) monitor() separation.Config {
	d := separation.DefaultConfig()
	d.Warn, d.Critical, d.Horizon = c.Warn, c.Critical, c.Horizon
	d.WarnVertical, d.CriticalVertical = c.WarnVertical, c.CriticalVertical
	return d
}

func (c *SeparationConfig) validate() error {
	if c.Action != SeparationAlert && c.Action != SeparationBrake {
		return fmt.Errorf("separation-action %q: want alert or brake", c.Action)
	}
	return c.monitor().Validate()
}

// sepStats are the monitor's counters for /metrics.
type sepStats struct {
	raised, brakes, brakeFailures atomic.Uint64
	active, tracked               atomic.Int64
}

// startSeparation runs the separation monitor over the fleet's airborne
// drones for the App's lifetime; its events go through the fleet, so they
// reach the API, MQTT, the WebSocket stream and the map like any other.
func (a *App) startSeparation(ctx context.Context) error {
	sc := a.Config.Separation
	mon := separation.New(sc.monitor())
	st := &sepStats{}
	a.addFamily(counter("burgut_separation_conflicts_total", "separation episodes raised or escalated (warning or critical)"), func(emit metrics.Emit) {
		emit(float64(st.raised.Load()))
	})
	a.addFamily(gauge("burgut_separation_active", "pairs of airborne drones in a separation episode now"), func(emit metrics.Emit) {
		emit(float64(st.active.Load()))
	})
	a.addFamily(gauge("burgut_separation_tracked", "airborne drones the separation monitor tracks"), func(emit metrics.Emit) {
		emit(float64(st.tracked.Load()))
	})
	a.addFamily(counter("burgut_separation_brakes_total", "brake commands the separation monitor sent (separation-action brake)"), func(emit metrics.Emit) {
		emit(float64(st.brakes.Load()))
	})
	a.addFamily(counter("burgut_separation_brake_failures_total", "brake commands refused or unanswered (logged, audited)"), func(emit metrics.Emit) {
		emit(float64(st.brakeFailures.Load()))
	})
	var active atomic.Pointer[[]separation.Change] // the episodes now, for the route
	a.Mux.HandleFunc(http.MethodGet, "/api/v1/separation", httpapi.Observer, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, separationStatus(sc, active.Load(), st.tracked.Load()))
	})
	a.Go(ctx, "separation monitor", func(ctx context.Context) error {
		var cmds sync.WaitGroup
		defer cmds.Wait() // every brake command ends before the part does
		var mu sync.Mutex
		braking := map[string]bool{} // one brake in flight per vehicle
		tick := sepTick(a.timeScale())
		t := time.NewTimer(tick)
		defer t.Stop()
		var tracks []separation.Track
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
			began := time.Now()
			tracks = separation.Tracks(tracks, a.Fleet.List(), a.separationTargetAlt)
			changes := mon.Step(tracks)
			t.Reset(sepWait(tick, time.Since(began)))
			st.tracked.Store(int64(len(tracks)))
			for _, c := range changes {
				brake := c.Level == separation.Critical && sc.Action == SeparationBrake
				a.emitSeparation(c, sc.Action)
				if c.Level != separation.None {
					st.raised.Add(1)
				}
				// A drone the monitor already stopped needs no second brake:
				// a pair's level can fall and rise again while the yielding
				// drone decelerates, and each re-brake would be one more
				// command and audit entry for nothing.
				if v, ok := a.Fleet.Get(c.Yield); brake && ok && v.Mode == "BRAKE" {
					continue
				}
				mu.Lock()
				busy := braking[c.Yield]
				if brake && !busy {
					braking[c.Yield] = true
				}
				mu.Unlock()
				if !brake || busy {
					continue
				}
				cmds.Add(1)
				go func() {
					defer cmds.Done()
					defer func() { mu.Lock(); delete(braking, c.Yield); mu.Unlock() }()
					if !a.brakeForSeparation(ctx, c) {
						st.brakeFailures.Add(1)
					}
					st.brakes.Add(1)
				}()
			}
			if len(changes) > 0 || active.Load() == nil {
				now := mon.Active()
				active.Store(&now)
			}
			st.active.Store(int64(len(*active.Load())))
		}
	})
	return nil
}

// sepPair is one pair in a separation episode as GET /api/v1/separation
// shows it.
type sepPair struct {
	A     string `json:"vehicle_a"`
	B     string `json:"vehicle_b"`
	Level string `json:"level"`
	Yield string `json:"yield_vehicle_id"`
}

// separationStatus is GET /api/v1/separation: the monitor's settings as
// this station runs them — so that a client sequencing launches (the
// scenario runner's launch step against --station URL) uses this
// station's pad clearance, not its own default — and the pairs in an
// episode now.
func separationStatus(sc SeparationConfig, active *[]separation.Change, tracked int64) map[string]any {
	m := sc.monitor()
	pairs := []sepPair{}
	if active != nil {
		for _, c := range *active {
			pairs = append(pairs, sepPair{A: c.A, B: c.B, Level: c.Level.String(), Yield: c.Yield})
		}
	}
	return map[string]any{
		"warn_m": m.Warn, "critical_m": m.Critical, "horizon_s": m.Horizon.Seconds(), "action": sc.Action,
		"warn_vertical_m": m.WarnVertical, "critical_vertical_m": m.CriticalVertical,
		"pad_clearance_m": m.PadClearance(), "tracked": tracked, "active": pairs,
	}
}

// separationTargetAlt is the altitude (MSL) a climbing or descending
// vehicle levels off at, where its mode makes it known to the station:
// in AUTO the mission item it flies to (missionTargetAlt); climbing in
// RTL, for a drone an operation flies, its slot's RTL altitude (rtlTarget).
// GUIDED climbs have none: neither ArduCopter nor the simulator reports
// a guided target the station could read for them.
func (a *App) separationTargetAlt(v *fleet.Vehicle) (float64, bool) {
	switch v.Mode {
	case "AUTO":
		return a.missionTargetAlt(v)
	case "RTL":
		if m := a.opsRef.Load(); m != nil {
			return rtlTarget(v, m.RTLAlt)
		}
	}
	return 0, false
}

// rtlTarget is where an RTL climb of v levels off (MSL): the RTL
// altitude rtlAlt knows for it, above its home. Only a climb is given
// one: ArduCopter's RTL climbs to RTL_ALT where the drone is below it
// and flies home at that height. Without it, a drone climbing at 2.5 m/s
// is projected 50 m up over the 20 s horizon, through the layers above
// the one it levels off at. ArduCopter's RTL_CONE_SLOPE lowers the climb near
// home, so the drone may level off below this: the prediction errs high,
// never low.
func rtlTarget(v *fleet.Vehicle, rtlAlt func(id string) (float64, bool)) (float64, bool) {
	if v.Climb <= 0 || v.Home == nil {
		return 0, false
	}
	alt, ok := rtlAlt(v.ID)
	if !ok {
		return 0, false
	}
	return v.Home.AltMSL + alt, true
}

// missionTargetAlt is the altitude (MSL) a vehicle flying its mission in
// AUTO climbs or descends to: that of the mission item it flies
// (MISSION_CURRENT), from the station's copy of the mission it uploaded
// or read. ArduCopter names no target while it takes off
// (POSITION_TARGET_GLOBAL_INT is not sent for AUTO's takeoff), and the
// takeoff is where a drone climbs through the others' layers above a
// shared pad, so the mission is the source. Items whose altitude is not
// where the drone levels off (LAND, RTL, terrain frames, commands
// without a position) say nothing.
func (a *App) missionTargetAlt(v *fleet.Vehicle) (float64, bool) {
	if v.Mode != "AUTO" || v.MissionSeq <= 0 || a.Station == nil {
		return 0, false
	}
	it, ok := a.Station.MissionItem(v.ID, v.MissionSeq)
	if !ok {
		return 0, false
	}
	return itemAltMSL(it, v.Home)
}

// itemAltMSL is where a mission item's navigation levels off, above mean
// sea level: its altitude, from home for the relative frames.
func itemAltMSL(it mavitem.Item, home *fleet.Point) (float64, bool) {
	switch it.Command {
	case mavitem.CmdNavTakeoff, mavitem.CmdNavWaypoint, mavitem.CmdNavLoiterUnlim, mavitem.CmdNavLoiterTime,
		cmdNavLoiterTurns, cmdNavSplineWaypoint:
	default:
		return 0, false
	}
	z := float64(it.Z)
	switch it.Frame {
	case mavitem.FrameGlobal, mavitem.FrameGlobalInt:
		return z, true
	case mavitem.FrameGlobalRelativeAlt, mavitem.FrameGlobalRelAltInt:
		if home == nil {
			return 0, false
		}
		return home.AltMSL + z, true
	}
	return 0, false
}

// MAV_CMD numbers mavitem does not name.
const (
	cmdNavLoiterTurns    = 18
	cmdNavSplineWaypoint = 82
)

// emitSeparation publishes one change of a pair as an event of the
// yielding drone, naming the other.
func (a *App) emitSeparation(c separation.Change, action string) {
	other := otherOf(c)
	if c.Level == separation.None {
		a.Fleet.Emit(fleet.Event{VehicleID: c.Yield, Kind: fleet.EventSeparationCleared, Severity: fleet.SeverityInfo,
			Message: fmt.Sprintf("%s and %s separated", c.Yield, other),
			Fields:  map[string]any{"other_vehicle_id": other, "yield_vehicle_id": c.Yield, "previous_level": c.Previous.String()}})
		return
	}
	sev := fleet.SeverityWarning
	if c.Level == separation.Critical {
		sev = fleet.SeverityCritical
	} else {
		action = SeparationAlert // only a critical conflict brakes
	}
	a.Fleet.Emit(fleet.Event{VehicleID: c.Yield, Kind: fleet.EventSeparation, Severity: sev,
		Message: fmt.Sprintf("%s and %s predicted %.0f m apart (%.0f m horizontally, %.0f m vertically) in %.0f s (now %.0f m)", c.Yield, other, c.DistanceM, c.HorizontalM, c.VerticalM, c.TCA, c.NowM),
		Fields: map[string]any{
			"other_vehicle_id":     other,
			"yield_vehicle_id":     c.Yield,
			"level":                c.Level.String(),
			"predicted_distance_m": round1(c.DistanceM),
			"horizontal_m":         round1(c.HorizontalM),
			"vertical_m":           round1(c.VerticalM),
			"time_to_closest_s":    round1(c.TCA),
			"distance_m":           round1(c.NowM),
			"action":               action,
		}})
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// brakeForSeparation pauses the yielding drone of a critical pair:
// MAV_CMD_DO_PAUSE_CONTINUE 0 (ArduCopter brakes in AUTO and GUIDED),
// else, when refused (RTL, LOITER…), the BRAKE mode. Either way the
// attempt is audited with the station as the actor and shown in the
// event stream like an operator's command. It reports success.
func (a *App) brakeForSeparation(ctx context.Context, c separation.Change) bool {
	id := c.Yield
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	how := "pause"
	res, err := a.Station.Command(ctx, id, session.CommandRequest{Command: uint16(common.MAV_CMD_DO_PAUSE_CONTINUE)})
	if err != nil || !res.Accepted() {
		how = "mode BRAKE"
		res, err = a.Station.SetMode(ctx, id, "BRAKE")
	}
	ok := err == nil && res.Accepted()
	body, _ := json.Marshal(map[string]any{"reason": "separation", "with": otherOf(c), "predicted_distance_m": round1(c.DistanceM), "time_to_closest_s": round1(c.TCA), "command": how})
	e := audit.Entry{Time: time.Now(), Actor: separationActor, Source: "station", Route: "STATION separation/brake",
		Vehicles: []string{id}, Body: string(body), BodyBytes: int64(len(body)), Status: http.StatusOK, Result: "ok", Detail: how}
	switch {
	case err != nil:
		e.Status, e.Result, e.Detail = http.StatusBadGateway, "command_failed", fmt.Sprintf("%s: %v", how, err)
	case !ok:
		e.Status, e.Result, e.Detail = http.StatusUnprocessableEntity, "refused", fmt.Sprintf("%s: %s %s", how, res.ResultName, res.Text)
	}
	entry, aerr := a.Audit.Append(e)
	if aerr != nil {
		a.Log.Error("separation: audit the brake command", "vehicle", id, "err", aerr)
	}
	if !ok {
		a.Log.Warn("separation: brake failed", "vehicle", id, "detail", e.Detail)
	}
	a.Fleet.Emit(fleet.Event{VehicleID: id, Kind: fleet.EventCommand, Severity: fleet.SeverityInfo,
		Message: fmt.Sprintf("%s sent by %s (%s)", how, separationActor, e.Result),
		Fields:  map[string]any{"actor": separationActor, "name": how, "route": e.Route, "audit_seq": entry.Seq, "result": e.Result}})
	return ok
}

func otherOf(c separation.Change) string {
	if c.Yield == c.A {
		return c.B
	}
	return c.A
}
