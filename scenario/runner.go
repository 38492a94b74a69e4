package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/burgut-uav/burgut/app"
	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/simulator/vehicle"
	"github.com/burgut-uav/burgut/telemetry"
)

// Options adjust a run without changing the file.
type Options struct {
	// Speedup overrides world.speedup (0 = the file's).
	Speedup float64
	// Seed overrides the file's seed (0 = the file's).
	Seed int64
	// StationURL runs against a station that is already running (with
	// Token, an operator token) instead of starting one in this process.
	// A simulated fleet then sends to SimGCS, that station's UDP link.
	StationURL, Token string
	SimGCS            string
	// RestartStation, with StationURL, carries out a station_restart
	// fault on that station for a caller that owns it (a rehearsal): stop
	// it, wait until down() holds (the fault's least downtime has passed
	// in simulated time), start it again on the same addresses and data
	// directory, and return once it answers. Without it a station given
	// by URL is not the run's to restart, and a scenario with a
	// station_restart fault is refused (Scenario.OwnStationFaults).
	RestartStation func(ctx context.Context, down func() bool) error
	// DataDir is the in-process station's data directory ("" = a
	// temporary one, removed after the run unless KeepData).
	DataDir  string
	KeepData bool
	// Log receives the station's and simulator's logs (nil = discarded).
	Log io.Writer
	// Progress, if set, is called about four times a second (wall time).
	Progress func(Progress)
	// Tick is the observation period, wall time (default 50 ms).
	Tick time.Duration

	// stationEdit, for the package's tests, changes the in-process
	// station's configuration last (a station that stores less).
	stationEdit func(*app.Config)
}

// Progress is the state of a run for a progress line.
type Progress struct {
	T, Duration        time.Duration // simulated
	Airborne, Vehicles int
	Failed             int // assertion cases failed so far
	Holding            int // assertions with no failed case so far
	StepsFired, Steps  int
	FaultsFired        int
	Restarting         bool
}

// String is the progress line (without line ending).
func (p Progress) String() string {
	s := fmt.Sprintf("t=%s/%s  airborne %d/%d  steps %d/%d  faults %d  assertions: %d holding, %d failed",
		clock(p.T), clock(p.Duration), p.Airborne, p.Vehicles, p.StepsFired, p.Steps, p.FaultsFired, p.Holding, p.Failed)
	if p.Restarting {
		s += "  (station restarting)"
	}
	return s
}

func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

// item is a step or fault waiting for its trigger.
type item struct {
	step    *Step
	fault   *Fault
	trig    *Trigger
	fired   bool
	due     time.Duration
	hasDue  bool
	trigVeh int // the vehicle that fired it, -1 none
}

// tevent is a station event at simulated time T, of vehicle Index (-1
// when not one of the scenario's).
type tevent struct {
	event
	T     time.Duration
	Index int
}

// firedFault is one fault hitting one vehicle (Index -1: the station).
type firedFault struct {
	Fault *Fault
	Index int
	T     time.Duration
}

type stepOutcome struct {
	it       *item
	start, T time.Duration
	err      error
	text     string
}

type revert struct {
	at time.Duration
	fn func()
}

type sample struct {
	wall time.Time
	sim  time.Duration
}

type runner struct {
	sc      *Scenario
	o       Options
	speedup float64
	seed    int64
	log     *slog.Logger

	st      *station
	sim     *simulator.Sim
	simStop context.CancelFunc
	simDone chan struct{}
	tempDir string // removed after the run unless KeepData

	ids   []string
	index map[string]int

	t0sim  time.Duration
	t0wall time.Time
	now    time.Duration

	states  []vstate
	seen    []bool
	since   uint64
	epoch   int
	samples []sample

	items     []*item
	doneNamed map[string]time.Duration // steps finished and faults fired, by name
	stepQ     chan *item
	stepDone  chan stepOutcome
	busy      int
	faultLog  []firedFault
	reverts   []revert
	linkF     []map[*Fault]simulator.LinkFaults
	restartCh chan error
	// setupWall is when the in-process station started (stored telemetry
	// of this run is newer); outageSent counts, per vehicle, the positions
	// sent while a station_restart had the station down (telemetry_stored).
	setupWall  time.Time
	outageSent []uint64

	checkers  []checker
	stepCases []Case
	flew      []bool
	reachedAt []map[int]bool // mission items reached, from events
	// flights counts each vehicle's flights by telemetry's definition
	// (the store's), from the polled states and the armed/disarmed events
	// together: a poll alone misses an arm that lasts less than a tick (a
	// vehicle that auto-disarms on the ground during a slow launch and is
	// armed again), and the events alone miss an arm during a station
	// restart.
	flights   []telemetry.FlightCounter
	lastTrack []time.Duration
	trackStep time.Duration

	// worker-only state
	areaIDs    map[string]string
	planIDs    map[string]string
	planDrones map[string]int

	res        *Result
	mu         sync.Mutex // guards res.Timeline and operations (the step worker appends too)
	operations []string   // IDs of the operations steps started
}

// Run flies sc and returns its result. An error means the run could not
// be made (station or fleet did not start, ctx cancelled); a run that
// flew returns a Result whose Cases say which assertions held.
func Run(ctx context.Context, sc *Scenario, o Options) (*Result, error) {
	r := &runner{sc: sc, o: o, speedup: sc.Speedup(), seed: sc.Seed}
	if o.Speedup > 0 {
		r.speedup = o.Speedup
	}
	if o.Seed != 0 {
		r.seed = o.Seed
	}
	if r.speedup > MaxSpeedup {
		return nil, fmt.Errorf("speedup %g: at most %d", r.speedup, MaxSpeedup)
	}
	if o.Tick <= 0 {
		r.o.Tick = 50 * time.Millisecond
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	r.log = slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	wallStart := time.Now()
	r.res = &Result{Scenario: sc.Name, File: sc.File, Seed: r.seed, Speedup: r.speedup}
	if err := r.setup(ctx, logw); err != nil {
		r.teardown()
		return nil, err
	}
	err := r.fly(ctx)
	r.finish(ctx)
	r.teardown()
	r.res.Wall = time.Since(wallStart)
	if err != nil {
		return r.res, err
	}
	return r.res, nil
}

func (r *runner) setup(ctx context.Context, logw io.Writer) error {
	sc := r.sc
	if r.o.StationURL != "" && r.o.RestartStation == nil {
		if err := sc.OwnStationFaults(); err != nil {
			return err
		}
	}
	if r.o.StationURL != "" {
		u, err := url.Parse(r.o.StationURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("--station %q: want http://HOST:PORT", r.o.StationURL)
		}
		if r.o.Token == "" {
			return errors.New("--station needs --token (an operator token: burgut tokens create --role operator)")
		}
		r.st = &station{base: strings.TrimRight(r.o.StationURL, "/"), token: r.o.Token, http: &http.Client{Timeout: 2 * time.Minute},
			up: true, restartFn: r.o.RestartStation}
		if sc.Simulated() {
			gcs := r.o.SimGCS
			if gcs == "" {
				gcs = "udp:127.0.0.1:14550"
			}
			sim, err := newSim(sc, gcs, r.speedup, r.seed, r.log)
			if err != nil {
				return fmt.Errorf("simulated fleet: %w", err)
			}
			r.sim = sim
		}
	} else {
		dir := r.o.DataDir
		if dir == "" {
			d, err := os.MkdirTemp("", "burgut-scenario-*")
			if err != nil {
				return err
			}
			dir, r.tempDir = d, d
		}
		if r.tempDir == "" || r.o.KeepData {
			r.res.DataDir = dir
		}
		r.setupWall = time.Now()
		var edit func(*app.Config)
		if sc.hasAssertion(AssertTelemetryStored) {
			// telemetry_stored compares every stored position with every
			// position sent: the station stores each message (interval 0).
			edit = func(c *app.Config) { c.Telemetry.SampleInterval = 0 }
		}
		if r.o.stationEdit != nil {
			prev := edit
			edit = func(c *app.Config) {
				if prev != nil {
					prev(c)
				}
				r.o.stationEdit(c)
			}
		}
		st, err := startInProcess(ctx, dir, sc.Fleet.Links, r.speedup, logw, edit)
		if err != nil {
			return err
		}
		r.st = st
		if sc.Simulated() {
			sim, err := newSim(sc, st.cfg.GroundStation.MAVLink[0], r.speedup, r.seed, r.log)
			if err != nil {
				return fmt.Errorf("simulated fleet: %w", err)
			}
			r.sim = sim
		}
	}
	if r.sim != nil {
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r.simStop = cancel
		r.simDone = make(chan struct{})
		go func() {
			defer close(r.simDone)
			if err := r.sim.Run(sctx); err != nil {
				r.log.Warn("simulator stopped", "err", err)
			}
		}()
	}
	return r.waitReady(ctx)
}

// waitReady waits until the whole fleet is connected with a 3D fix and a
// home, maps scenario indices to station IDs, and starts the clock.
func (r *runner) waitReady(ctx context.Context) error {
	n := r.sc.FleetSize()
	timeout := 120 * time.Second
	if r.sc.Fleet.Ready != nil {
		timeout = r.sc.Fleet.Ready.Duration
	}
	deadline := time.Now().Add(timeout)
	var want map[string]int
	if r.sim != nil {
		want = map[string]int{}
		for i := range r.sim.Len() {
			want[fmt.Sprintf("%016x", r.sim.Vehicle(i).UID())] = i
		}
	}
	for {
		var vs []vstate
		err := r.st.do(ctx, "GET", "/api/v1/vehicles", nil, &vs)
		ready := 0
		if err == nil {
			ids := make([]string, n)
			for _, v := range vs {
				if !v.Connected || v.GPSFix < 3 || v.Home == nil {
					continue
				}
				if want != nil {
					i, ok := want[fmt.Sprintf("%016x", v.UID)]
					if ok && ids[i] == "" {
						ids[i] = v.ID
						ready++
					}
				} else if ready < n {
					ids[ready] = v.ID
					ready++
				}
			}
			if ready == n {
				if want == nil {
					sort.Strings(ids)
				}
				r.ids = ids
				break
			}
		}
		// A refused credential does not get better by waiting: say so now
		// rather than after the ready timeout (two minutes by default).
		if ae := (*apiError)(nil); errors.As(err, &ae) && (ae.Status == 401 || ae.Status == 403) {
			return fmt.Errorf("the station refused the run's token (an operator token is needed): %w", err)
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("fleet not ready after %v: %w", timeout, err)
			}
			return fmt.Errorf("fleet not ready after %v: %d of %d vehicles connected with a 3D fix and a home", timeout, ready, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	r.index = map[string]int{}
	for i, id := range r.ids {
		r.index[id] = i
	}
	r.res.Vehicles = r.ids
	r.states = make([]vstate, n)
	r.seen = make([]bool, n)
	r.flew = make([]bool, n)
	r.reachedAt = make([]map[int]bool, n)
	r.flights = make([]telemetry.FlightCounter, n)
	r.lastTrack = make([]time.Duration, n)
	r.linkF = make([]map[*Fault]simulator.LinkFaults, n)
	r.res.Tracks = make([]Track, n)
	for i, id := range r.ids {
		r.res.Tracks[i] = Track{Vehicle: id, Index: i}
		r.lastTrack[i] = -time.Hour
	}
	r.trackStep = max(time.Second, r.sc.Duration.Duration/2000)
	if r.sc.Fleet.Signing {
		if err := r.provisionSigning(ctx); err != nil {
			return err
		}
	}
	// Events from before the fleet was ready are not the scenario's.
	var evs []event
	if err := r.st.do(ctx, "GET", "/api/v1/events?limit=1", nil, &evs); err == nil && len(evs) > 0 {
		r.since = evs[len(evs)-1].Seq
	}
	r.t0wall = time.Now()
	r.res.Started = r.t0wall
	if r.sim != nil {
		r.t0sim = r.simNow()
	}
	return nil
}

func (r *runner) simNow() time.Duration {
	var t time.Duration
	r.sim.Vehicle(0).Do(func(v *vehicle.Vehicle) { t = v.Now() })
	return t
}

// clockNow is the simulated time since the fleet was ready: the simulated
// vehicles' own clock, or wall time × speedup for external vehicles.
func (r *runner) clockNow() time.Duration {
	if r.sim != nil {
		return r.simNow() - r.t0sim
	}
	return time.Duration(float64(time.Since(r.t0wall)) * r.speedup)
}

// rateNow is the simulated-per-wall factor now: the simulator's, which
// runs at real time during a mission upload (realTime), or the speedup.
func (r *runner) rateNow() float64 {
	if r.sim != nil {
		return r.sim.Speedup()
	}
	return r.speedup
}

// realTime runs a step's API calls with the simulated world at real time
// (speedup 1) and restores the speedup after them. A step is bound by
// wall time — a mission upload's MAVLink round trips and retransmission
// timeouts, a launch's command acknowledgements, all longer on a loaded
// machine — so at speedup 50 a 14 s upload on a CI runner at load 13
// cost 11.5 simulated minutes, and drones launched after it could not
// finish a mission by a deadline written for the flight (the marathon
// scenario's all_landed by 19m), and vehicles armed early in a slow
// launch disarmed themselves on the ground before the last was armed.
// At real time a step costs the simulated world what it would cost a
// real one, whatever the host's load; everything between steps (the
// flights, the faults) still runs at the speedup. Not done for external
// vehicles (no clock to slow) nor in a scenario with an operation, whose
// station-side clock runs at the speedup (Operations.TimeScale): it
// follows the vehicles' lag (app's worldLag), but only about a second
// late and never faster than the wall clock, so a world slowed to real
// time for a step would still count its first second at the speedup.
func (r *runner) realTime(f func() (string, error)) (string, error) {
	if !r.stepsAtRealTime() {
		return f()
	}
	if err := r.sim.SetSpeedup(1); err != nil {
		return f()
	}
	defer func() {
		if err := r.sim.SetSpeedup(r.speedup); err != nil {
			r.log.Error("scenario: restore the simulator's speedup", "err", err)
		}
	}()
	return f()
}

// stepsAtRealTime says whether realTime slows the simulated world.
func (r *runner) stepsAtRealTime() bool {
	return r.sim != nil && r.speedup > 1 && !r.hasOperation()
}

// atSpeedup runs f, part of a step, with the simulated world back at the
// speedup: waiting inside a step for the world to change (the launch
// step's wait for a shared pad to clear) costs simulated time, not API
// round trips, so at real time it would only cost wall time.
func (r *runner) atSpeedup(f func() error) error {
	if !r.stepsAtRealTime() {
		return f()
	}
	if err := r.sim.SetSpeedup(r.speedup); err != nil {
		return f()
	}
	defer func() {
		if err := r.sim.SetSpeedup(1); err != nil {
			r.log.Error("scenario: back to real time after a wait inside a step", "err", err)
		}
	}()
	return f()
}

func (r *runner) hasOperation() bool {
	for i := range r.sc.Steps {
		if r.sc.Steps[i].Operation != nil {
			return true
		}
	}
	return false
}

// simAt converts a station event's wall time to simulated time.
func (r *runner) simAt(w time.Time) time.Duration {
	for i := len(r.samples) - 1; i >= 0; i-- {
		s := r.samples[i]
		if !w.Before(s.wall) {
			t := s.sim + time.Duration(float64(w.Sub(s.wall))*r.rateNow())
			return min(t, r.now)
		}
	}
	return 0
}

func (r *runner) fly(ctx context.Context) error {
	sc := r.sc
	for i := range sc.Steps {
		r.items = append(r.items, &item{step: &sc.Steps[i], trig: &sc.Steps[i].Trigger, trigVeh: -1})
	}
	for i := range sc.Faults {
		r.items = append(r.items, &item{fault: &sc.Faults[i], trig: &sc.Faults[i].Trigger, trigVeh: -1})
	}
	r.doneNamed = map[string]time.Duration{}
	r.checkers = newCheckers(r)
	r.stepQ = make(chan *item, len(sc.Steps)+1)
	r.stepDone = make(chan stepOutcome, len(sc.Steps)+1)
	r.restartCh = make(chan error, 1)
	r.areaIDs, r.planIDs, r.planDrones = map[string]string{}, map[string]string{}, map[string]int{}
	wctx, cancelWorker := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for it := range r.stepQ {
			r.stepDone <- r.execStep(wctx, it)
		}
	}()
	defer func() {
		close(r.stepQ)
		cancelWorker()
		// Drain what the worker still reports so it can end.
		go func() {
			for range r.stepDone {
			}
		}()
		wg.Wait()
		close(r.stepDone)
	}()

	tick := time.NewTicker(r.o.Tick)
	defer tick.Stop()
	lastProgress := time.Time{}
	restarting := false
	for {
		select {
		case <-ctx.Done():
			r.res.EndReason = "interrupted"
			if restarting { // its goroutine ends with ctx; never leave a station starting behind teardown
				err := <-r.restartCh
				r.addEntry(Entry{T: r.now, Kind: EntryFault, Name: FaultStationRestart, Text: restartText(err), OK: err == nil})
			}
			r.res.SimTime = r.now
			return ctx.Err()
		case out := <-r.stepDone:
			r.busy--
			r.stepFinished(out)
			continue
		case err := <-r.restartCh:
			restarting = false
			r.addEntry(Entry{T: r.now, Kind: EntryFault, Name: FaultStationRestart, Text: restartText(err), OK: err == nil})
			if err != nil {
				r.stepCases = append(r.stepCases, Case{Assertion: "station_restart", Kind: "fault", Index: -1, Message: err.Error(), At: r.now})
			}
			continue
		case <-tick.C:
		}
		r.now = r.clockNow()
		r.samples = append(r.samples, sample{time.Now(), r.now})
		if len(r.samples) > 400 {
			r.samples = append(r.samples[:0], r.samples[200:]...)
		}
		evs := r.observe(ctx)
		r.runReverts()
		restarting = r.fire(ctx, evs) || restarting
		for _, c := range r.checkers {
			c.observe(r, evs)
		}
		if r.o.Progress != nil && time.Since(lastProgress) >= 250*time.Millisecond {
			lastProgress = time.Now()
			r.o.Progress(r.progress(restarting))
		}
		if r.now >= sc.Duration.Duration {
			r.res.EndReason = fmt.Sprintf("duration %v reached", sc.Duration.Duration)
			break
		}
		if sc.EndWhen == EndLanded && !restarting && r.busy == 0 && len(r.reverts) == 0 && r.allLandedAndDone() && r.operationsDone(ctx) {
			r.res.EndReason = "every step and fault fired and every vehicle that flew has landed"
			break
		}
	}
	if r.o.Progress != nil {
		r.o.Progress(r.progress(restarting))
	}
	for restarting { // never leave the station half-restarted
		err := <-r.restartCh
		restarting = false
		r.addEntry(Entry{T: r.now, Kind: EntryFault, Name: FaultStationRestart, Text: restartText(err), OK: err == nil})
	}
	// Steps still running (or queued) when the run ended are stopped and
	// reported as not finished rather than dropped.
	cancelWorker()
	for r.busy > 0 {
		out := <-r.stepDone
		r.busy--
		if out.err != nil && wctx.Err() != nil {
			out.err = fmt.Errorf("the run ended (%s) before this step finished", r.res.EndReason)
		}
		r.stepFinished(out)
	}
	r.res.SimTime = r.now
	return nil
}

func restartText(err error) string {
	if err != nil {
		return "station restart failed: " + err.Error()
	}
	return "station back up"
}

func (r *runner) progress(restarting bool) Progress {
	p := Progress{T: r.now, Duration: r.sc.Duration.Duration, Vehicles: len(r.ids), Steps: len(r.sc.Steps), Restarting: restarting}
	for i := range r.states {
		if r.seen[i] && r.states[i].airborne() {
			p.Airborne++
		}
	}
	for _, it := range r.items {
		if it.fired && it.step != nil {
			p.StepsFired++
		}
		if it.fired && it.fault != nil {
			p.FaultsFired++
		}
	}
	for _, c := range r.checkers {
		f := c.failing()
		p.Failed += f
		if f == 0 {
			p.Holding++
		}
	}
	return p
}

// allLandedAndDone: every timed item fired, some vehicle flew, and every
// vehicle is on the ground and disarmed.
func (r *runner) allLandedAndDone() bool {
	for _, it := range r.items {
		if !it.fired && (it.trig.At != nil || it.hasDue) {
			return false
		}
	}
	flew := false
	for i := range r.states {
		flew = flew || r.flew[i]
		if !r.seen[i] || !r.states[i].landed() {
			return false
		}
	}
	return flew
}

// operationsDone reports whether every operation a step started has
// ended (finished or failed). Without it a run could end while its
// operation was still going: drones armed at the start of an operation
// and disarmed again on the ground (a slow launch) read as "flew and
// landed", and a stadium run once ended after 12 simulated seconds with
// every assertion passed and nothing checked. An operation the station
// cannot report keeps the run going (the duration still bounds it).
func (r *runner) operationsDone(ctx context.Context) bool {
	r.mu.Lock()
	ids := append([]string(nil), r.operations...)
	r.mu.Unlock()
	for _, id := range ids {
		var op struct {
			State string `json:"state"`
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := r.st.do(cctx, "GET", "/api/v1/operations/"+url.PathEscape(id), nil, &op)
		cancel()
		if err != nil || op.State != "finished" && op.State != "failed" {
			return false
		}
	}
	return true
}

// observe polls the station's vehicles and new events (unless it is
// restarting) and records tracks, flights and the timeline.
func (r *runner) observe(ctx context.Context) []tevent {
	up, epoch := r.st.isUp()
	if !up {
		return nil
	}
	if epoch != r.epoch { // a restarted station numbers its events from 1 again
		r.epoch, r.since = epoch, 0
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var vs []vstate
	if err := r.st.do(cctx, "GET", "/api/v1/vehicles", nil, &vs); err == nil {
		for _, v := range vs {
			i, ok := r.index[v.ID]
			if !ok {
				continue
			}
			r.states[i], r.seen[i] = v, true
			r.seeArmed(i, v.Armed)
			if r.now-r.lastTrack[i] >= r.trackStep {
				r.lastTrack[i] = r.now
				r.res.Tracks[i].Points = append(r.res.Tracks[i].Points, TrackPoint{T: r.now, Lat: v.Lat, Lon: v.Lon, Alt: v.RelAlt, BatteryPct: v.BatteryPct, Mode: v.Mode})
			}
		}
	}
	var out []tevent
	for range 20 { // at most 20 pages a tick
		var evs []event
		if err := r.st.do(cctx, "GET", fmt.Sprintf("/api/v1/events?since=%d&limit=1000", r.since), nil, &evs); err != nil {
			break
		}
		for _, e := range evs {
			r.since = max(r.since, e.Seq)
			if e.Time.Before(r.t0wall) {
				continue
			}
			idx, ok := r.index[e.VehicleID]
			if !ok {
				idx = -1
			}
			te := tevent{event: e, T: r.simAt(e.Time), Index: idx}
			if idx >= 0 && (e.Kind == "armed" || e.Kind == "disarmed") {
				r.seeArmed(idx, e.Kind == "armed")
			}
			if e.Kind == "mission_item_reached" && idx >= 0 {
				if seq, ok := e.Fields["seq"].(float64); ok {
					if r.reachedAt[idx] == nil {
						r.reachedAt[idx] = map[int]bool{}
					}
					r.reachedAt[idx][int(seq)] = true
				}
			}
			out = append(out, te)
			if e.Kind != "statustext" || e.alert() {
				r.addEntry(Entry{T: te.T, Kind: EntryEvent, Name: e.Kind, Vehicle: e.VehicleID, Text: e.Message, OK: true, Severity: e.Severity})
			}
		}
		if len(evs) < 1000 {
			break
		}
	}
	return out
}

// seeArmed takes vehicle i's arm state from a poll or an event. A poll
// reads the state after the events the last tick took and before those
// this tick takes, so in the order observe applies them every arm the
// station reported starts one flight: an event that repeats what a poll
// already showed changes nothing.
func (r *runner) seeArmed(i int, armed bool) {
	if started, _ := r.flights[i].See(armed); started {
		r.flew[i] = true
	}
}

func (r *runner) addEntry(e Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.res.Timeline) >= 50000 {
		return
	}
	r.res.Timeline = append(r.res.Timeline, e)
}

// fire fires every step and fault whose trigger holds now; it returns
// whether a station restart started.
func (r *runner) fire(ctx context.Context, evs []tevent) bool {
	restarting := false
	for _, it := range r.items {
		if it.fired {
			continue
		}
		t := it.trig
		switch {
		case t.At != nil:
			if r.now >= t.At.Duration {
				it.due, it.hasDue = t.At.Duration, true
			}
		case t.When != nil:
			if ok, v := r.holds(t.When); ok {
				it.due, it.hasDue, it.trigVeh = r.now, true, v
			}
		case t.After != nil && !it.hasDue:
			a := t.After
			switch {
			case a.Event != "":
				for _, e := range evs {
					if e.Kind != a.Event {
						continue
					}
					if ref := a.Vehicle.Index(); ref >= 0 && e.Index != ref || e.Index < 0 && ref != RefAll {
						continue
					}
					it.due, it.hasDue, it.trigVeh = e.T+a.Delay.Duration, true, e.Index
					break
				}
			case a.Step != "":
				if at, ok := r.doneNamed[a.Step]; ok {
					it.due, it.hasDue = at+a.Delay.Duration, true
				}
			case a.Fault != "":
				if at, ok := r.doneNamed[a.Fault]; ok {
					it.due, it.hasDue = at+a.Delay.Duration, true
				}
			}
		}
		if !it.hasDue || r.now < it.due {
			continue
		}
		it.fired = true
		if it.step != nil {
			r.busy++
			r.stepQ <- it
			continue
		}
		if r.applyFault(ctx, it) {
			restarting = true
		}
	}
	return restarting
}

// holds evaluates a condition; for one vehicle or any it also returns the
// vehicle that satisfied it (-1 for all).
func (r *runner) holds(c *Condition) (bool, int) {
	one := func(i int) bool {
		if !r.seen[i] {
			return false
		}
		v := &r.states[i]
		switch {
		case c.ReachesItem != nil:
			return v.MissionSeq > *c.ReachesItem || r.reached(i, *c.ReachesItem)
		case c.AltAbove != nil:
			return v.RelAlt > *c.AltAbove
		case c.AltBelow != nil:
			return v.RelAlt < *c.AltBelow
		case c.Mode != "":
			return strings.EqualFold(v.Mode, c.Mode)
		case c.Armed != nil:
			return v.Armed == *c.Armed
		case c.Landed != nil:
			return v.landed() == *c.Landed
		case c.BatteryBelow != nil:
			return v.BatteryPct >= 0 && v.BatteryPct < *c.BatteryBelow
		}
		return false
	}
	switch ref := c.Vehicle.Index(); ref {
	case RefAll:
		for i := range r.ids {
			if !one(i) {
				return false, -1
			}
		}
		return true, -1
	case RefAny:
		for i := range r.ids {
			if one(i) {
				return true, i
			}
		}
		return false, -1
	default:
		return one(ref), ref
	}
}

func (r *runner) reached(i, seq int) bool { return r.reachedAt[i][seq] }

// targets expands a selection to vehicle indices.
func (r *runner) targets(s VehicleSel, trigVeh int) ([]int, error) {
	switch {
	case s.All:
		out := make([]int, len(r.ids))
		for i := range out {
			out[i] = i
		}
		return out, nil
	case s.Trigger:
		if trigVeh < 0 {
			return nil, errors.New("vehicles: trigger, but no single vehicle fired this")
		}
		return []int{trigVeh}, nil
	}
	return slices.Clone(s.List), nil
}

func (r *runner) stepFinished(out stepOutcome) {
	s := out.it.step
	name := s.Name
	if name == "" {
		name = stepAction(s)
	}
	r.doneNamed[s.Name] = out.T
	if s.Name == "" {
		delete(r.doneNamed, "")
	}
	text := out.text
	if out.err != nil {
		text = out.err.Error()
	}
	r.addEntry(Entry{T: out.start, Kind: EntryStep, Name: name, Text: text, OK: out.err == nil, Line: s.node.Line})
	c := Case{Assertion: fmt.Sprintf("step %s (line %d)", name, s.node.Line), Kind: "step", Index: -1, OK: out.err == nil, At: out.start, Line: s.node.Line, Message: text}
	if out.err != nil {
		c.Message = fmt.Sprintf("step %s (line %d) at %s failed: %v", name, s.node.Line, clock(out.start), out.err)
	}
	r.stepCases = append(r.stepCases, c)
}

func stepAction(s *Step) string {
	switch {
	case s.Plan != nil:
		return "plan " + s.Plan.As
	case s.Assign != nil:
		return "assign " + s.Assign.Plan
	case s.Launch != nil:
		return "launch"
	case s.Command != nil:
		return "command " + s.Command.Name
	case s.Param != nil:
		return "param " + s.Param.Name
	case s.Upload != nil:
		return "upload " + s.Upload.Type
	}
	return "operation " + s.Operation.Area
}

func (r *runner) runReverts() {
	keep := r.reverts[:0]
	for _, rv := range r.reverts {
		if r.now >= rv.at {
			rv.fn()
			continue
		}
		keep = append(keep, rv)
	}
	r.reverts = keep
}

// finish decides every assertion, while the station still runs (some
// read stored telemetry), and records the cases.
func (r *runner) finish(ctx context.Context) {
	if r.ids == nil {
		return
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	var cases []Case
	for _, c := range r.checkers {
		cases = append(cases, c.finish(fctx, r)...)
	}
	cases = append(cases, r.stepCases...)
	for _, c := range cases {
		r.addEntry(Entry{T: c.At, Kind: EntryAssertion, Name: c.Name(), Vehicle: c.Vehicle, Text: c.Message, OK: c.OK, Line: c.Line})
	}
	r.res.Cases = cases
	r.res.Faults = r.firedFaults()
	sort.SliceStable(r.res.Timeline, func(i, j int) bool { return r.res.Timeline[i].T < r.res.Timeline[j].T })
}

func (r *runner) teardown() {
	if r.st != nil && r.st.app != nil {
		if err := r.st.stop(); err != nil {
			r.log.Warn("station stopped with an error", "err", err)
		}
	}
	if r.simStop != nil {
		r.simStop()
		<-r.simDone
	} else if r.sim != nil {
		r.sim.Close()
	}
	if r.tempDir != "" && !r.o.KeepData {
		os.RemoveAll(r.tempDir)
	}
}

// provisionSigning gives every vehicle a MAVLink signing key (generated by
// the station) before the scenario starts, as a crew does on the bench:
// PUT /api/v1/vehicles/{id}/signing answers once a frame signed with the
// new key arrived. It needs an admin token (the in-process station makes
// one; with --station, --token must be an admin's).
func (r *runner) provisionSigning(ctx context.Context) error {
	actx := context.WithValue(ctx, adminKey{}, true)
	for i, id := range r.ids {
		var st struct {
			State string `json:"state"`
		}
		if err := r.st.do(actx, "PUT", "/api/v1/vehicles/"+url.PathEscape(id)+"/signing", map[string]any{"generate": true}, &st); err != nil {
			return fmt.Errorf("fleet.signing: key for vehicle %d (%s): %w", i, id, err)
		}
		if st.State != "signed" {
			return fmt.Errorf("fleet.signing: vehicle %d (%s) is %q after its key was set", i, id, st.State)
		}
	}
	r.addEntry(Entry{T: 0, Kind: EntryStep, Name: "signing", Text: fmt.Sprintf("MAVLink signing keys set on %d vehicles", len(r.ids)), OK: true})
	return nil
}
