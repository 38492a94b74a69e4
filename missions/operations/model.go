package operations

import (
	"math"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/missions"
)

// State is an operation's lifecycle state, part of the API contract:
// scheduled (before its window), running (inside it), finished (after it,
// or stopped), failed (cannot run: no plan, or every vehicle failed).
type State string

// States.
const (
	StateScheduled State = "scheduled"
	StateRunning   State = "running"
	StateFinished  State = "finished"
	StateFailed    State = "failed"
)

// Role is what a pool vehicle is doing for its operation.
type Role string

// Roles, in the order a vehicle goes through them.
const (
	RolePool      Role = "pool"      // on the ground; ready when charged (or confirmed)
	RoleLaunching Role = "launching" // upload and launch commands under way
	RoleTransit   Role = "transit"   // flying its slot's mission towards the patrol
	RoleStation   Role = "station"   // on its patrol: the slot is covered
	RoleReturning Role = "returning" // sent home (RTL), not landed yet
	RoleFailed    Role = "failed"    // failed; re-enters the pool on a ready call
)

// Params tune the scheduler. Durations are seconds on the operation's
// clock; zero fields take the defaults of (*Params).defaults.
type Params struct {
	// ReservePct is the charge every drone must still have after landing.
	ReservePct float64 `json:"reserve_pct"`
	// MarginS is extra lead time: the replacement is meant to be on station
	// this long before the incumbent must leave.
	MarginS float64 `json:"margin_s"`
	// SetupS is the upload-and-arm time added to a launch before the
	// station has measured one (default 60 s: generous, since the first
	// drones must be on station when the window opens).
	SetupS float64 `json:"setup_s"`
	// SwapS is how long a landed drone needs for a battery swap (the crew
	// or the simulator's --swap-min); used to forecast the pool.
	SwapS float64 `json:"swap_s"`
	// EnduranceS is the prior endurance of a full pack at cruise, used
	// until a drone's own consumption is learned.
	EnduranceS float64 `json:"endurance_s"`
	// ReadyPct is the charge at which a landed drone counts as swapped.
	ReadyPct float64 `json:"ready_pct"`
	// CriticalPct: a drone below it is replaced and sent home at once.
	CriticalPct float64 `json:"critical_pct"`
	// PadClearM is the distance takeoffs and landings at the pad are
	// sequenced at (pad.go), metres; 0 is the separation monitor's
	// default warning distance (the station sets its own).
	PadClearM float64 `json:"pad_clear_m,omitempty"`
	// PadSequencing is what is sequenced at the pad (pad.go): "takeoffs"
	// (the default), "all" (landings too: a drone flying home is held
	// before the pad while another takes off or lands there) or "off".
	PadSequencing string `json:"pad_sequencing,omitempty"`
}

func (p *Params) defaults() {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&p.ReservePct, 20)
	def(&p.MarginS, 90)
	def(&p.SetupS, 60)
	def(&p.SwapS, 300)
	def(&p.EnduranceS, 1200)
	def(&p.ReadyPct, 95)
	def(&p.CriticalPct, p.ReservePct/2)
}

// SlotPlan is what one slot's drones fly, from the planner: the mission
// (with home), fence, rally items and fence parameters, where the patrol
// loop begins and ends, and the transit distance to it.
type SlotPlan struct {
	Plan *missions.DronePlan `json:"plan"`
	// TransitM is the flown length from the launch point to the loop's
	// first waypoint; LoopLat/LoopLon is that waypoint.
	TransitM float64 `json:"transit_m"`
	LoopLat  float64 `json:"loop_lat"`
	LoopLon  float64 `json:"loop_lon"`
	// NoReturnSeqs are the MISSION_CURRENT values of the loop's legs from
	// which a straight RTL would leave the fence or cross a no-fly zone
	// (missions.Checker.Returns at plan time): the end of the window
	// waits for another leg before sending a drone home from one.
	NoReturnSeqs []int `json:"no_return_seqs,omitempty"`
	// JoinSeqs are the loop waypoints (item seqs) a drone waiting at the
	// hold may be sent to straight: the leg from the hold passes the
	// planner's checks (joinSeqs, at plan time). A relief joins at the
	// nearest of them behind the drone it relieves (join.go).
	JoinSeqs []int `json:"join_seqs,omitempty"`
	// ReturnAlt is the slot's return layer, metres above launch (0: none,
	// as for operations stored before it): the planned RTL altitude
	// shifted above every patrol, transit and RTL layer of the operation,
	// each slot keeping its own (returnLayers). A drone whose return at
	// the planned altitude would cross another drone of its slot is sent
	// home on it instead (RTL_ALT set before the RTL): its relief flies
	// the slot's layer, so the two are apart in height.
	ReturnAlt float64 `json:"return_alt,omitempty"`
	// NoRaisedSeqs are the MISSION_CURRENT values of the loop's legs from
	// which a return on ReturnAlt would come within the plan's separation
	// of another slot's flight (its climb through that slot's layer beside
	// its loop): no raised return is sent from them.
	NoRaisedSeqs []int `json:"no_raised_seqs,omitempty"`
}

// Slot is one patrol position and its coverage so far.
type Slot struct {
	Index int `json:"index"`
	// VehicleID is the drone covering (or first flying to) the slot;
	// Incoming its replacement on the way.
	VehicleID   string  `json:"vehicle_id"`
	Incoming    string  `json:"incoming_vehicle_id,omitempty"`
	UncoveredS  float64 `json:"uncovered_s"`
	OnStationS  float64 `json:"on_station_s"`
	Handovers   int     `json:"handovers"`
	Replacement int     `json:"replacements"`
	Covered     bool    `json:"covered"`
	// GapSince is when the current gap began (window time), nil when
	// covered.
	GapSince *time.Time `json:"gap_since,omitempty"`
	// TransitS is the last measured launch-to-station time, seconds (0
	// until one was measured).
	TransitS float64 `json:"transit_s"`
	// LeadS is what the scheduler plans a launch-to-station with: the
	// longest recent measurement (decaying by a tenth per launch), so one
	// slow launch on a busy station is not forgotten at the next quick one.
	LeadS float64 `json:"lead_s"`
	// ReturnS is what the pool forecast plans a drone's way home from the
	// slot with: RTL sent to landed, measured as LeadS is (the longest
	// recent, decaying by a tenth per landing; 0 until one landed).
	ReturnS float64 `json:"return_s"`
	// PadWaitSince is when a launch for the slot began to wait for the
	// pad (nil when none waits).
	PadWaitSince *time.Time `json:"pad_wait_since,omitempty"`
	// MaxRevisitS is the longest any waypoint of the slot's patrol loop
	// went unvisited inside the window (from the window's start for a
	// waypoint not reached yet), seconds: the revisit age of a perimeter.
	MaxRevisitS float64 `json:"max_revisit_s"`
	// Visits is when each loop waypoint (LoopStart + i) was last reached.
	Visits []time.Time `json:"visits,omitempty"`
	// points is when each point along the loop's legs (pointSpacingM
	// apart, revisit.go) was last passed; not kept over a restart.
	points []time.Time
}

// VehicleState is one pool vehicle's part in its operation.
type VehicleState struct {
	ID   string `json:"id"`
	Role Role   `json:"role"`
	Slot int    `json:"slot"` // -1 when in the pool
	// Since is when the vehicle took its role (operation clock).
	Since time.Time `json:"since"`
	// LandedAt is when it last landed (zero if never), for the swap wait.
	LandedAt time.Time `json:"landed_at,omitempty"`
	// Ready is a crew's confirmation that the vehicle is swapped and fit
	// to fly, until its next launch.
	Ready bool `json:"ready"`
	// SeenAuto: since its launch the vehicle was seen flying AUTO (before
	// that a stale mode is not a failure).
	SeenAuto bool `json:"seen_auto"`
	// RatePctS is the consumption learned on its last patrol, %/s.
	RatePctS float64 `json:"rate_pct_s"`
	// Uploaded is the slot whose mission the vehicle holds (-1 none), so a
	// relaunch after a restart does not upload again needlessly.
	Uploaded int `json:"uploaded_slot"`
	// Reason says why the vehicle failed.
	Reason string `json:"reason,omitempty"`
	// LaunchUnconfirmed: its last launch went unanswered (ErrNoAnswer)
	// and the scheduler has not yet seen whether it flies (confirmLaunch).
	LaunchUnconfirmed bool `json:"launch_unconfirmed,omitempty"`
	// LaunchNoAnswer counts its launches in a row that went unanswered and
	// left it on the ground; RetryAt is the wall time before which it is
	// not picked again (nil: at once).
	LaunchNoAnswer int        `json:"launch_no_answer,omitempty"`
	RetryAt        *time.Time `json:"launch_retry_at,omitempty"`
	// Launches and Returns count what the station sent it.
	Launches int `json:"launches"`
	Returns  int `json:"returns"`
	// RaisedRTL: the station set the vehicle's RTL_ALT to its slot's
	// return layer (ReturnAlt) and has not set it back to the plan's yet,
	// so an RTL of it climbs there. A launch that uploads a plan setting
	// RTL_ALT (every built plan does) sets it back (LaunchDone); one that
	// does not upload sets the plan's RTL_ALT first (Action.RTLAlt), and
	// it is cleared once the vehicle acknowledged that (rtlAltSet).
	RaisedRTL bool `json:"raised_rtl,omitempty"`
	// JoinSeq is the loop waypoint the drone was sent on to from its hold
	// (0: the loop's entry): it is on station once past it.
	JoinSeq int `json:"join_seq,omitempty"`
	// BatteryUnknownSince is when (operation time) the drone, flying for
	// the operation, was first seen with no charge reported on this
	// patrol (nil while it reports one): battery.go.
	BatteryUnknownSince *time.Time `json:"battery_unknown_since,omitempty"`
	// reckoned is its charge reckoned from the endurance prior, while
	// reckoning: it has reported none for batteryUnknownGraceS.
	reckoned  float64
	reckoning bool
	// batteryAlarmed: the battery_unknown warning was given for this
	// silence.
	batteryAlarmed bool

	samples    []BatterySample
	lastSeq    int       // the mission item it flew to at the last tick (0 unknown)
	lastPos    float64   // how far along its slot's loop it was at the last tick, metres
	posKnown   bool      // lastPos is known (not after a launch or a restart)
	launchedAt time.Time // wall time the launch completed
	rtlTries   int
	// ReturnWait is when the drone was due home but flew a leg whose
	// straight return is not clear (nil when not waiting).
	ReturnWait *time.Time `json:"return_wait_since,omitempty"`
	// ReturnBy is when (operation time) a waiting drone is sent home
	// whether its return is clear or not (nil: returnWaitS after
	// ReturnWait).
	ReturnBy *time.Time `json:"return_by,omitempty"`
	launchAt time.Time  // operation time the launch was started
	// rtlAt is when (operation time) its last RTL was sent, for the
	// slot's measured way home (Slot.ReturnS); zero after a restart.
	rtlAt time.Time
	// continuedAt is when (wall time) the drone was last sent on from its
	// hold (zero: not yet).
	continuedAt time.Time
	// rtlAlt is the RTL_ALT its last RTL was sent with (Action.RTLAlt),
	// for a retry.
	rtlAlt float64
	// PadHeld is when a drone flying home was stopped to wait for the pad
	// (nil when it is not held).
	PadHeld *time.Time `json:"pad_held_since,omitempty"`
	// PadRaise: held for a crossing (crossing.go) that its slot's return
	// layer passes over, it is sent on at that layer (RTL_ALT raised).
	PadRaise bool `json:"pad_raise,omitempty"`
	// cmdBusy: a command of the station's to it is still under way (set
	// by the Manager before each Step): not ready to launch, since its
	// launch could not be sent.
	cmdBusy bool
	// padUnclear: its landing without a clear pad was alerted already.
	padUnclear bool
	// padIn: flying home, it was let in to land: it goes before the
	// drones judged after it (until it lands).
	padIn bool
	// YieldTo names the drone this one was braked for (yield.go): one
	// that had to go home with this one in its way. YieldSince is when
	// (operation time).
	YieldTo    string     `json:"yield_to,omitempty"`
	YieldSince *time.Time `json:"yield_since,omitempty"`
	// YieldPad: the yield is a takeoff's, braked over its spot while
	// YieldTo descends beside its way out (padyield.go), not one for a
	// forced return.
	YieldPad bool `json:"yield_pad,omitempty"`
	// padYieldLaunch is the launch (launchAt) whose way out was braked
	// for a descent: once per way out.
	padYieldLaunch time.Time
	// resumedAt is when (wall time) a yielding drone was sent on with its
	// mission (zero: not yet).
	resumedAt time.Time
	// resumeFails counts the resumes in a row that failed, and resumeErr
	// is the last one's error: after resumeTries the scheduler stops
	// sending them (yields).
	resumeFails int
	resumeErr   string
	// releaseFails counts the releases from its hold (ActContinue) in a
	// row that failed, and releaseErr is the last one's error: after
	// releaseTries the relief fails (failure).
	releaseFails int
	releaseErr   string
	// heldOn: flying on past its bound for a clear return, said once.
	heldOn bool
}

// Operation is one continuous-coverage operation: an area patrolled by
// Slots drones at once from Start to End, drawing on a pool of vehicles.
type Operation struct {
	ID         string    `json:"id"`
	AreaID     string    `json:"area_id"`
	Pattern    string    `json:"pattern"`
	SlotCount  int       `json:"slot_count"`
	VehicleIDs []string  `json:"vehicle_ids"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	// Created is the wall time the operation was made; the operation clock
	// runs TimeScale times faster than the wall clock from there.
	Created   time.Time `json:"created"`
	TimeScale float64   `json:"time_scale"`
	Params    Params    `json:"params"`

	State   State  `json:"state"`
	Paused  bool   `json:"paused"`
	Stopped bool   `json:"stopped"`
	Reason  string `json:"reason,omitempty"`
	// Last is the operation time of the last scheduler tick (coverage is
	// accounted from there).
	Last time.Time `json:"last"`

	Slots    []*Slot         `json:"slots"`
	Vehicles []*VehicleState `json:"vehicle_states"`
	Plans    []SlotPlan      `json:"plans"`
	// Warnings say what the plan could not do as asked by default (no
	// room for the transit layer: transits on each slot's own layer).
	Warnings []string `json:"warnings,omitempty"`

	// Gap is the pool forecast's first predicted gap, nil when the pool
	// covers the window.
	Gap *PredictedGap `json:"predicted_gap"`
	// Gaps is every gap the forecast sees, ordered by start (Gap is the
	// first).
	Gaps []PredictedGap `json:"predicted_gaps"`
	// announced are the predicted gaps raised as alerts and not over yet
	// (forecast), so a gap is raised once, not at every tick it moves.
	announced []announcedGap
	// LatencyS is the station's recent command latency in operation
	// seconds: a high percentile of LatencySamplesS (see noteLatency).
	LatencyS float64 `json:"latency_s"`
	// LatencySamplesS are the latest command round trips (operation
	// seconds, oldest first) LatencyS is taken from, kept over a restart.
	LatencySamplesS []float64 `json:"latency_samples_s,omitempty"`

	// outside are the airborne drones of the fleet that are not the
	// operation's, as the Manager saw them this tick (outside.go).
	outside []fleet.Vehicle
	// padLast is the operation time of the last tick's look at the pad.
	padLast time.Time
	// resumeUntil (wall) is the grace after a station start during which
	// a vehicle not heard yet is not taken for lost.
	resumeUntil time.Time
	// alarms are failures the vehicles reported since the last tick
	// (failsafe, battery critical, fence breach events), by vehicle.
	alarms map[string]string
	// loops caches each slot's loop geometry for the revisit age (nil
	// for a slot without one).
	loops map[int]*loopGeom
}

// Alarm reports a failure a vehicle announced (a failsafe event): if it
// flies for a slot it is replaced on the next tick without waiting for its
// state to show it (a drone whose motors stopped is falling already).
func (o *Operation) Alarm(vehicleID, reason string) {
	if v := o.vehicle(vehicleID); v == nil || (v.Role != RoleTransit && v.Role != RoleStation) {
		return
	}
	if o.alarms == nil {
		o.alarms = map[string]string{}
	}
	o.alarms[vehicleID] = reason
}

// PredictedGap is a gap the pool forecast sees coming.
type PredictedGap struct {
	Slot  int       `json:"slot"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Now is the operation clock at wall time w (the scheduler's clock,
// Manager.now).
func (o *Operation) Now(w time.Time) time.Time {
	return o.Created.Add(time.Duration(float64(w.Sub(o.Created)) * o.scale()))
}

// scale is how many operation seconds a second of the scheduler's clock
// is (TimeScale, 1 when unset).
func (o *Operation) scale() float64 {
	if o.TimeScale <= 0 {
		return 1
	}
	return o.TimeScale
}

// UncoveredS is the sum over slots.
func (o *Operation) UncoveredS() float64 {
	var s float64
	for _, sl := range o.Slots {
		s += sl.UncoveredS
	}
	return s
}

func (o *Operation) vehicle(id string) *VehicleState {
	for _, v := range o.Vehicles {
		if v.ID == id {
			return v
		}
	}
	return nil
}

// Active reports whether the operation still commands vehicles.
func (o *Operation) Active() bool { return o.State == StateScheduled || o.State == StateRunning }

// distM is the equirectangular distance in metres (good to well under a
// metre over an event area).
func distM(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371008.8
	k := math.Pi / 180
	x := (lon2 - lon1) * k * math.Cos((lat1+lat2)/2*k)
	y := (lat2 - lat1) * k
	return r * math.Hypot(x, y)
}
