package operations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/missions"
)

// Actuator carries out the scheduler's commands on real vehicles (the app
// adapts the ground station: verified uploads, then GUIDED, arm, mission
// start; RTL). Calls block until the vehicle answered.
type Actuator interface {
	// Launch uploads p (when upload is set: fence, rally, mission and
	// fence parameters, tagged with the operation and area) and starts the
	// mission from its first item. Without an upload and with rtlAltM > 0
	// it first sets the vehicle's RTL_ALT to it (metres: the plan's again,
	// where the last return raised it to its slot's return layer), as
	// ReturnHome sets it; a set that is refused or unanswered is returned
	// wrapping ErrRTLAlt, and nothing more is sent (any other error means
	// RTL_ALT was set).
	Launch(ctx context.Context, vehicleID string, p *missions.DronePlan, upload bool, rtlAltM float64, tag Tag) error
	// ReturnHome sends the vehicle home (RTL). With rtlAltM > 0 it first
	// sets the vehicle's RTL_ALT to it (metres; its slot's return layer,
	// or the plan's RTL altitude again after one), so the RTL climbs there.
	ReturnHome(ctx context.Context, vehicleID string, rtlAltM float64) error
	// Continue makes mission item seq the vehicle's current one
	// (MISSION_SET_CURRENT): flying AUTO it goes there at once. The
	// scheduler sends a drone waiting at its plan's hold on to the loop.
	Continue(ctx context.Context, vehicleID string, seq int) error
	// Hold stops a drone flying home where it is (BRAKE) until the pad
	// it lands on is clear; ReturnHome sends it on. It also brakes a
	// drone flying its mission that yields to another's forced return.
	Hold(ctx context.Context, vehicleID string) error
	// Resume sends a drone braked to yield on with its mission (mode
	// AUTO: it resumes at its current item) at the plan's speed
	// speedMS (0: none set). The speed is set again because ArduCopter
	// flies a resumed mission at WPNAV_SPEED: the plan's DO_CHANGE_SPEED
	// lies before the loop and is not flown again, so a relief resumed
	// after a yield flew its slot's loop at 10 m/s, not 6, into the
	// drone ahead of it on the same loop.
	Resume(ctx context.Context, vehicleID string, speedMS float64) error
}

// Tag is what telemetry of a vehicle flying for an operation is tagged
// with (the fleet's mission and event_area tags).
type Tag struct {
	Mission   string
	EventArea string
}

// Fleet is what the manager reads of the live fleet and where its events
// go.
type Fleet interface {
	Get(id string) (fleet.Vehicle, bool)
	Emit(e fleet.Event) fleet.Event
}

// Config configures a Manager.
type Config struct {
	// DataDir keeps operations.json ("" = in memory only).
	DataDir string
	Fleet   Fleet
	Act     Actuator
	// TimeScale is how much faster than the wall clock operation clocks of
	// new operations run: 1 with real drones; the simulator's speedup when
	// the station flies a faster-than-real-time simulated fleet.
	TimeScale float64
	// Tick is the scheduler's period, wall time (default 200 ms).
	Tick time.Duration
	Log  *slog.Logger
	// Now is the wall clock (default time.Now); tests may replace it.
	// The vehicles' states carry times of it (fleet.Vehicle.LastSeen).
	Now func() time.Time
	// Lag is how far (wall time) the world the operations fly in has
	// fallen behind the wall clock: under burgut run the in-process
	// simulator's lag (simulator.Sim.Lag), so the operation clocks keep
	// step with a simulation a loaded machine slowed. Nil (no lag) with
	// real drones and an external simulator. The scheduler's clock is
	// Now less Lag (clock.go).
	Lag func() time.Duration
	// PadClearM is the distance new operations sequence takeoffs and
	// landings at their pad at (Params.PadClearM): the station's
	// separation warning distance, so the pad raises no separation
	// event (0: the monitor's default).
	PadClearM float64
}

// Manager owns the operations of one station: it persists them, runs their
// scheduler ticks and carries out their commands through the Actuator.
type Manager struct {
	cfg  Config
	path string
	// clock is the scheduler's clock (Now less Lag), which every
	// operation clock runs from.
	clock *clock

	mu   sync.Mutex
	ops  map[string]*Operation
	next int
	busy map[string]bool // vehicles with a command under way
	// expected: vehicles given a tag to take when first heard (retag)
	expected map[string]bool
	// dirty: an operation changed since the last save.
	dirty     bool
	lastSave  time.Time
	saveFails uint64

	wg    sync.WaitGroup
	stats Stats
	// eventSeq is the last fleet event the manager looked at; primed once
	// it has looked (the history before the manager started is not acted on).
	eventSeq uint64
	primed   bool
	// unverified: "op/vehicle" of the drones a saved operation has in the
	// air at start whose mission is still to be read back (verify.go).
	unverified map[string]bool
}

// EventSource is the fleet's event history (fleet.Fleet.Events); when the
// Fleet has it, the vehicles' own failure reports replace a drone at once.
type EventSource interface {
	Events(since uint64, vehicleID string, limit int) []fleet.Event
}

// alarmKinds are the events that mean a drone cannot go on patrolling.
var alarmKinds = map[fleet.EventKind]bool{fleet.EventFailsafe: true, fleet.EventBatteryCritical: true, fleet.EventFenceBreach: true}

// alarms hands the failure events since the last tick to the operations
// (the first call only notes where the history stands).
func (m *Manager) alarms() {
	src, ok := m.cfg.Fleet.(EventSource)
	if !ok {
		return
	}
	first := !m.primed
	m.primed = true
	for _, e := range src.Events(m.eventSeq, "", 0) {
		m.eventSeq = max(m.eventSeq, e.Seq)
		if first || !alarmKinds[e.Kind] {
			continue
		}
		for _, o := range m.ops {
			if o.Active() {
				o.Alarm(e.VehicleID, fmt.Sprintf("%s: %s", e.Kind, e.Message))
			}
		}
	}
}

// Stats are the manager's counters for /metrics.
type Stats struct {
	Ticks, Launches, LaunchFailures, Returns, ReturnFailures uint64
	// Continues count drones sent on from their hold (ContinueFailures
	// of them refused or unanswered).
	Continues, ContinueFailures uint64
	// Holds count drones flying home stopped to wait for the pad
	// (HoldFailures of them refused or unanswered).
	Holds, HoldFailures uint64
	// Resumes count drones braked to yield to a forced return sent on
	// with their missions (ResumeFailures of them refused or unanswered).
	Resumes, ResumeFailures uint64
	// TickNanos is the total time spent in scheduler ticks.
	TickNanos uint64
}

type persisted struct {
	Next int          `json:"next"`
	Ops  []*Operation `json:"operations"`
}

// New opens the manager and loads the operations saved in the data dir,
// which resume on the next tick from their saved state (vehicles in the
// air stay where they are: nothing is relaunched or uploaded again).
func New(cfg Config) (*Manager, error) {
	if cfg.Tick <= 0 {
		cfg.Tick = 200 * time.Millisecond
	}
	if cfg.TimeScale <= 0 {
		cfg.TimeScale = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	m := &Manager{cfg: cfg, clock: newClock(cfg.Now, cfg.Lag), ops: map[string]*Operation{}, busy: map[string]bool{}, unverified: map[string]bool{}, expected: map[string]bool{}}
	if cfg.DataDir == "" {
		return m, nil
	}
	m.path = filepath.Join(cfg.DataDir, "operations.json")
	b, err := os.ReadFile(m.path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open operations: %w", err)
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("operations file %s: %w", m.path, err)
	}
	m.next = p.Next
	wall := m.now()
	for _, o := range p.Ops {
		for _, v := range o.Vehicles {
			if v.Role == RoleLaunching {
				// The station stopped mid-launch: find out by looking.
				v.Role, v.SeenAuto = RoleTransit, false
			}
			v.launchedAt = wall
			if v.Role == RoleTransit || v.Role == RoleStation {
				m.unverified[o.ID+"/"+v.ID] = true
			}
		}
		o.resumeUntil = wall.Add(ResumeGrace)
		m.ops[o.ID] = o
		if o.Active() || o.returning() { // as Tick does
			m.retag(o) // before the station hears the drones again
		}
	}
	return m, nil
}

// ResumeGrace is how long after a station start the operations wait to
// hear their vehicles before a silent one counts as lost (the station's
// link-lost timeout is 5 s).
const ResumeGrace = 15 * time.Second

// Tagger restores a vehicle's telemetry tags (fleet.Fleet.SetAssignment):
// after a station restart the drones in the air keep flying their
// operation's mission, and their telemetry is tagged with it again.
type Tagger interface {
	SetAssignment(id, mission, eventArea string) bool
	// ExpectAssignment tags a vehicle not heard yet from its first state
	// on ("" withdraws it): a restarted station hears its drones only
	// after the operations are loaded.
	ExpectAssignment(id, mission, eventArea string) bool
}

// save writes every operation (atomically: a temporary file renamed).
func (m *Manager) saveLocked() error {
	m.dirty = false
	m.lastSave = m.now()
	if m.path == "" {
		return nil
	}
	p := persisted{Next: m.next}
	for _, o := range m.ops {
		p.Ops = append(p.Ops, o)
	}
	sort.Slice(p.Ops, func(i, j int) bool { return p.Ops[i].ID < p.Ops[j].ID })
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	tmp := m.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("save operations: %w", err)
	}
	if err := os.Rename(tmp, m.path); err != nil {
		return fmt.Errorf("save operations: %w", err)
	}
	return nil
}

// Run ticks every operation until ctx ends, then waits for the commands
// under way and saves.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Tick)
	defer t.Stop()
	defer func() {
		m.wg.Wait()
		m.mu.Lock()
		defer m.mu.Unlock()
		if err := m.saveLocked(); err != nil {
			m.cfg.Log.Error("operations: save at shutdown", "err", err)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		m.Tick(ctx)
	}
}

// Tick runs one scheduler step of every active operation and starts the
// commands it decided.
func (m *Manager) Tick(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := time.Now()
	wall := m.now()
	look := m.observe
	m.alarms()
	var all []fleet.Vehicle
	listed := false
	for _, id := range m.sortedIDs() {
		o := m.ops[id]
		if !o.Active() && !o.returning() {
			continue
		}
		// Every other airborne drone of the fleet (another operation's,
		// an operator's flight) holds this one's launches and landings
		// near the pad too (outside.go). Listed once per tick.
		// Only the pad's sequencing looks at them: with it off the fleet
		// is not listed (a copy of every vehicle).
		o.outside = nil
		if o.padMode() != PadOff {
			if l, ok := m.cfg.Fleet.(fleetLister); ok && !listed {
				all, listed = l.List(), true
			}
			o.outside = airborneOutside(o, all)
		}
		for _, v := range o.Vehicles {
			v.cmdBusy = m.busy[v.ID]
		}
		acts, notes := o.Step(wall, look)
		acts = append(acts, o.Retries(look)...)
		m.retag(o)
		m.dirty = true
		m.emit(o, notes)
		m.start(ctx, o, acts)
		m.verifyFlying(ctx, o)
	}
	m.stats.Ticks++
	m.stats.TickNanos += uint64(time.Since(start))
	if m.dirty && m.now().Sub(m.lastSave) >= time.Second {
		if err := m.saveLocked(); err != nil {
			m.saveFails++
			m.cfg.Log.Error("operations: save", "err", err)
		}
	}
}

func (m *Manager) sortedIDs() []string {
	ids := make([]string, 0, len(m.ops))
	for id := range m.ops {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (m *Manager) emit(o *Operation, notes []Note) {
	for _, n := range notes {
		vid := n.VehicleID
		if vid == "" && len(o.VehicleIDs) > 0 {
			// An event of the operation as a whole: the fleet's stream is
			// per vehicle, so it goes out under the pool's first vehicle
			// (Fields "operation_id" says which operation).
			vid = o.VehicleIDs[0]
		}
		m.cfg.Log.Info("operation", "id", o.ID, "vehicle", vid, "kind", n.Kind, "msg", n.Message)
		if m.cfg.Fleet != nil {
			m.cfg.Fleet.Emit(fleet.Event{VehicleID: vid, Kind: n.Kind, Severity: n.Severity, Message: n.Message, Fields: n.Fields})
		}
	}
}

// retag puts the operation's tags back on its flying vehicles whose tags
// the fleet lost (a station restart).
func (m *Manager) retag(o *Operation) {
	tg, ok := m.cfg.Fleet.(Tagger)
	if !ok {
		return
	}
	for _, v := range o.Vehicles {
		if v.Role != RoleTransit && v.Role != RoleStation {
			if m.expected[v.ID] {
				// It left the slot unheard: no tag waits for it any more
				// (nothing is done to a vehicle heard meanwhile).
				tg.ExpectAssignment(v.ID, "", "")
				delete(m.expected, v.ID)
			}
			continue
		}
		fv, known := m.cfg.Fleet.Get(v.ID)
		tag := o.ID + "/slot-" + strconv.Itoa(v.Slot)
		if !known && tg.ExpectAssignment(v.ID, tag, o.AreaID) {
			// Not heard yet (a station restart): tagged as it joins the
			// fleet, not on the first tick after it did.
			m.expected[v.ID] = true
			continue
		}
		delete(m.expected, v.ID)
		if !known { // heard between the two looks
			fv, known = m.cfg.Fleet.Get(v.ID)
		}
		if known && fv.Mission == "" {
			tg.SetAssignment(v.ID, tag, o.AreaID)
		}
	}
}

// returning reports whether a drone of o is still on its way home.
func (o *Operation) returning() bool {
	for _, v := range o.Vehicles {
		if v.Role == RoleReturning {
			return true
		}
	}
	return false
}

// commandTimeout bounds one launch (uploads and three commands) or RTL.
const commandTimeout = 90 * time.Second

// start runs each action in a goroutine of its own (one per vehicle at a
// time); its outcome is fed back into the operation under the lock.
func (m *Manager) start(ctx context.Context, o *Operation, acts []Action) {
	for _, a := range acts {
		if m.busy[a.VehicleID] || m.cfg.Act == nil {
			switch a.Kind {
			case ActLaunch:
				if m.cfg.Act != nil {
					// Dropped, it stayed "launching" for good and its slot
					// got no relief: a machine so loaded that an RTL went
					// unanswered until the drone had landed, swapped and
					// been picked again stalled the stadium's launches.
					o.launchNotSent(a.VehicleID)
					m.emit(o, []Note{{VehicleID: a.VehicleID, Kind: fleet.EventOperation, Severity: fleet.SeverityWarning,
						Message: fmt.Sprintf("%s was not launched for slot %d of operation %s: a command to it is still under way; another is picked", a.VehicleID, a.Slot, o.ID),
						Fields:  map[string]any{"operation_id": o.ID, "action": "launch_not_sent", "slot": a.Slot}}})
				}
			case ActReturn:
				if v := o.vehicle(a.VehicleID); v != nil && v.Role == RoleReturning {
					v.rtlTries++ // retried by Retries on a later tick
				}
			case ActContinue:
				if v := o.vehicle(a.VehicleID); v != nil {
					v.continuedAt = time.Time{} // sent again on a later tick
				}
			case ActHold:
				if v := o.vehicle(a.VehicleID); v != nil {
					v.PadHeld = nil // not held: judged again on a later tick
					v.YieldTo, v.YieldSince = "", nil
				}
			case ActResume:
				if v := o.vehicle(a.VehicleID); v != nil {
					v.resumedAt = time.Time{} // sent again on a later tick
				}
			}
			continue
		}
		m.busy[a.VehicleID] = true
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			cctx, cancel := context.WithTimeout(ctx, commandTimeout)
			defer cancel()
			var err error
			// The command's latency on the scheduler's clock (m.now):
			// under burgut run it keeps step with the simulator, and a
			// second the simulation was slowed is not TimeScale seconds
			// of operation time.
			began := m.now()
			upload, reason, note, rtlAlt := a.Upload, "", Note{}, 0.0
			switch a.Kind {
			case ActLaunch:
				p := o.Plans[a.Slot].Plan
				tag := Tag{Mission: o.ID + "/slot-" + strconv.Itoa(a.Slot), EventArea: o.AreaID}
				if !upload {
					// The vehicle was sent this plan before: skip the
					// upload only if it still holds it (verify.go).
					var detail string
					if reason, detail = m.verifyMission(cctx, a.VehicleID, p, tag); reason != "" {
						upload = true
						m.cfg.Log.Info("operations: uploading again", "op", o.ID, "vehicle", a.VehicleID, "reason", reason, "detail", detail)
						note = verifyNote(o, a.VehicleID, a.Slot, reason, detail, "uploading again", fleet.SeverityInfo)
					}
				}
				if !upload {
					// An upload sets the plan's RTL_ALT with its
					// parameters; without one the launch sets it.
					rtlAlt = a.RTLAlt
				}
				err = m.cfg.Act.Launch(cctx, a.VehicleID, p, upload, rtlAlt, tag)
			case ActReturn:
				err = m.cfg.Act.ReturnHome(cctx, a.VehicleID, a.RTLAlt)
			case ActContinue:
				err = m.cfg.Act.Continue(cctx, a.VehicleID, a.Seq)
			case ActHold:
				err = m.cfg.Act.Hold(cctx, a.VehicleID)
			case ActResume:
				err = m.cfg.Act.Resume(cctx, a.VehicleID, o.Plans[a.Slot].Plan.CruiseSpeed)
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			delete(m.busy, a.VehicleID)
			m.dirty = true
			wall := m.now()
			switch a.Kind {
			case ActLaunch:
				if err != nil {
					m.stats.LaunchFailures++
					m.cfg.Log.Warn("operations: launch failed", "op", o.ID, "vehicle", a.VehicleID, "err", err)
				}
				m.stats.Launches++
				if reason != "" {
					m.emit(o, []Note{note})
				}
				if rtlAlt > 0 && !errors.Is(err, ErrRTLAlt) {
					o.rtlAltSet(a.VehicleID, rtlAlt)
				}
				// A failed launch after the upload went through still holds the
				// mission; only a failed upload leaves it unknown.
				more, notes := o.LaunchDone(a.VehicleID, upload && (err == nil || !errors.Is(err, ErrUpload)), err, wall)
				m.emit(o, notes)
				m.start(ctx, o, more)
			case ActReturn:
				if err != nil {
					m.stats.ReturnFailures++
					m.cfg.Log.Warn("operations: RTL failed", "op", o.ID, "vehicle", a.VehicleID, "err", err)
				}
				m.stats.Returns++
				m.emit(o, o.ReturnDone(a.VehicleID, err, wall, m.now().Sub(began)))
			case ActContinue:
				if err != nil {
					m.stats.ContinueFailures++
					m.cfg.Log.Warn("operations: continue failed", "op", o.ID, "vehicle", a.VehicleID, "err", err)
				}
				m.stats.Continues++
				m.emit(o, o.ContinueDone(a.VehicleID, err, m.now().Sub(began)))
			case ActHold:
				if err != nil {
					m.stats.HoldFailures++
					m.cfg.Log.Warn("operations: hold failed", "op", o.ID, "vehicle", a.VehicleID, "err", err)
				}
				m.stats.Holds++
				m.emit(o, o.HoldDone(a.VehicleID, err, m.now().Sub(began)))
			case ActResume:
				if err != nil {
					m.stats.ResumeFailures++
					m.cfg.Log.Warn("operations: resume failed", "op", o.ID, "vehicle", a.VehicleID, "err", err)
				}
				m.stats.Resumes++
				m.emit(o, o.ResumeDone(a.VehicleID, err, m.now().Sub(began)))
			}
		}()
	}
}

// ErrUpload wraps an Actuator's launch error when the upload itself failed
// (the vehicle's mission is then unknown and is uploaded again next time).
var ErrUpload = errors.New("upload failed")

// ErrNoAnswer wraps an Actuator's launch error when the vehicle or its link
// did not answer (a timeout, a session busy or closing under it): unlike a
// refusal it says nothing about the vehicle's fitness, and what the
// vehicle did is not known (LaunchDone looks before it decides).
var ErrNoAnswer = errors.New("no answer from the vehicle")

// ErrRTLAlt wraps an Actuator's launch error when the RTL_ALT it was to set
// before a launch without an upload was refused or not answered: the
// vehicle may still hold a raised return layer, and it is not launched (a
// refused launch: it fails, and the next tick picks another drone).
var ErrRTLAlt = errors.New("RTL_ALT not set")

// Stats returns the counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// ErrNotFound is returned for an unknown operation ID.
var ErrNotFound = errors.New("operation not found")

// ErrConflict is returned when a vehicle already serves another active
// operation, or a transition is not possible in the operation's state.
var ErrConflict = errors.New("conflict")

// Spec is what a new operation is made of (already validated and planned
// by the API).
type Spec struct {
	AreaID     string
	Pattern    string
	VehicleIDs []string
	Start, End time.Time // operation clock; Start zero = now
	Params     Params
	Plans      []SlotPlan
	// Warnings are the planner's (see OperationView.Warnings).
	Warnings []string
}

// Create adds an operation; it starts on the tick its window allows.
func (m *Manager) Create(s Spec) (*Operation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.ops {
		if !o.Active() {
			continue
		}
		for _, v := range o.Vehicles {
			for _, id := range s.VehicleIDs {
				if v.ID == id {
					return nil, fmt.Errorf("%w: vehicle %q already serves operation %s", ErrConflict, id, o.ID)
				}
			}
		}
	}
	wall := m.now()
	s.Params.defaults()
	if s.Params.PadClearM == 0 {
		s.Params.PadClearM = m.cfg.PadClearM
	}
	o := &Operation{AreaID: s.AreaID, Pattern: s.Pattern, SlotCount: len(s.Plans), VehicleIDs: s.VehicleIDs,
		Start: s.Start, End: s.End, Created: wall, TimeScale: m.cfg.TimeScale, Params: s.Params, State: StateScheduled, Plans: s.Plans, Warnings: s.Warnings}
	if o.Start.IsZero() {
		o.Start = wall
	}
	for i := range s.Plans {
		o.Slots = append(o.Slots, &Slot{Index: i})
	}
	for _, id := range s.VehicleIDs {
		o.Vehicles = append(o.Vehicles, &VehicleState{ID: id, Role: RolePool, Slot: -1, Uploaded: -1, Since: wall})
	}
	m.next++
	o.ID = "op" + strconv.Itoa(m.next)
	m.ops[o.ID] = o
	if err := m.saveLocked(); err != nil {
		delete(m.ops, o.ID)
		return nil, err
	}
	return o.clone(), nil
}

// Busy returns the active operation vehicle id serves ("" when none).
func (m *Manager) Busy(id string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.ops {
		if o.Active() && o.vehicle(id) != nil {
			return o.ID
		}
	}
	return ""
}

// Airspace returns the slot plans of the active operations whose window
// overlaps [start, end), by operation id, for the plan-time separation
// check of a new operation.
func (m *Manager) Airspace(start, end time.Time) map[string][]SlotPlan {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]SlotPlan{}
	for _, o := range m.ops {
		if o.Active() && o.Start.Before(end) && start.Before(o.End) {
			out[o.ID] = o.Plans
		}
	}
	return out
}

// Get returns a copy of operation id.
func (m *Manager) Get(id string) (*Operation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.ops[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return o.clone(), nil
}

// List returns copies of every operation, by ID.
func (m *Manager) List() []*Operation {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Operation
	for _, id := range m.sortedIDs() {
		out = append(out, m.ops[id].clone())
	}
	return out
}

// Clock returns the operation clock now, for callers that must read times
// (start "now") on it before the operation exists.
func (m *Manager) Clock() time.Time { return m.now() }

// now is the scheduler's clock: the wall every operation clock runs from
// (Operation.Now).
func (m *Manager) now() time.Time { return m.clock.Now() }

// observe is a vehicle's live state as the operations see it (Observe):
// its receive time (LastSeen) on the scheduler's clock, so that the age
// of the state (step.stateAgeS) is operation time, whatever lag the
// simulated world gathered before and since.
func (m *Manager) observe(id string) (fleet.Vehicle, bool) {
	fv, ok := m.cfg.Fleet.Get(id)
	if ok {
		fv.LastSeen = m.clock.At(fv.LastSeen)
	}
	return fv, ok
}

// RTLAlt is the altitude (metres above its home) an RTL of vehicle id
// climbs to, when an active operation flies it for a slot: the slot
// plan's RTL_ALT, or the slot's return layer while the station has set
// it (VehicleState.RaisedRTL). The separation monitor levels a climbing
// RTL off there instead of extrapolating the climb (app/separation.go).
func (m *Manager) RTLAlt(id string) (float64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.ops {
		if !o.Active() && !o.returning() {
			continue
		}
		v := o.vehicle(id)
		if v == nil || v.Slot < 0 {
			continue
		}
		switch v.Role {
		case RoleTransit, RoleStation, RoleReturning:
			if z := o.rtlAltOf(v); z > 0 {
				return z, true
			}
		}
	}
	return 0, false
}

// TickInterval is the scheduler's period (wall time).
func (m *Manager) TickInterval() time.Duration { return m.cfg.Tick }

// Scale is the time scale new operations get.
func (m *Manager) Scale() float64 { return m.cfg.TimeScale }

// Change applies a transition: pause, resume, stop or start (begin a
// scheduled operation now).
func (m *Manager) Change(ctx context.Context, id, what string) (*Operation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.ops[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if !o.Active() {
		return nil, fmt.Errorf("%w: operation %s is %s", ErrConflict, id, o.State)
	}
	wall := m.now()
	switch what {
	case "pause":
		o.Paused = true
	case "resume":
		o.Paused = false
	case "start":
		if o.State != StateScheduled {
			return nil, fmt.Errorf("%w: operation %s is already %s", ErrConflict, id, o.State)
		}
		o.Start = o.Now(wall)
	case "stop":
		o.Stopped, o.Reason = true, "stopped by an operator"
		st := &step{o: o, wall: wall, now: o.Now(wall), look: m.observe}
		st.account()
		o.Last = st.now
		st.finish(o.Reason)
		m.emit(o, st.notes)
		m.start(ctx, o, st.acts)
	default:
		return nil, fmt.Errorf("unknown transition %q", what)
	}
	if err := m.saveLocked(); err != nil {
		return nil, err
	}
	return o.clone(), nil
}

// Ready confirms a vehicle swapped and fit to fly (a crew's call).
func (m *Manager) Ready(id, vehicleID string) (*Operation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.ops[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err := o.SetReady(vehicleID, m.now()); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConflict, err)
	}
	if err := m.saveLocked(); err != nil {
		return nil, err
	}
	return o.clone(), nil
}

// clone deep-copies what the API shows (via JSON: operations are small).
func (o *Operation) clone() *Operation {
	b, _ := json.Marshal(o)
	var c Operation
	_ = json.Unmarshal(b, &c)
	return &c
}
