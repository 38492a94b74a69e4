package scenario

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/scenario/rehearsal"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// checker decides one assertion: observe sees every tick's state and
// events, finish returns its cases (the station still runs).
type checker interface {
	observe(r *runner, evs []tevent)
	finish(ctx context.Context, r *runner) []Case
	failing() int
}

func newCheckers(r *runner) []checker {
	var out []checker
	for i := range r.sc.Assertions {
		a := &r.sc.Assertions[i]
		vs, _ := r.targets(a.Vehicles, -1)
		b := base{a: a, vs: vs}
		switch a.Kind {
		case AssertAllLanded:
			out = append(out, &allLanded{base: b})
		case AssertNoFenceBreach:
			out = append(out, &noBreach{base: b, bad: map[int]string{}})
		case AssertBreachRTL:
			out = append(out, &breachRTL{base: b, open: map[int]time.Duration{}, res: map[int]*Case{}})
		case AssertMinSeparation:
			out = append(out, &minSep{base: b, min: math.Inf(1)})
		case AssertAlertAfterFault:
			out = append(out, &alertAfter{base: b})
		case AssertTelemetryStored:
			out = append(out, &stored{base: b})
		case AssertMissionCompleted:
			out = append(out, &missionDone{base: b, at: map[int]time.Duration{}})
		case AssertCoverageGap:
			out = append(out, &coverageGap{base: b})
		case AssertVehicleState:
			out = append(out, &stateCheck{base: b, bad: map[int]string{}, at: map[int]time.Duration{}})
		}
	}
	return out
}

type base struct {
	a  *Assertion
	vs []int
}

func (b *base) cs(r *runner, idx int, ok bool, at time.Duration, msg string) Case {
	c := Case{Assertion: b.a.Name, Kind: b.a.Kind, Index: idx, OK: ok, At: at, Line: b.a.node.Line}
	if idx >= 0 {
		c.Vehicle = r.ids[idx]
	}
	if ok {
		c.Message = msg
	} else {
		c.Message = fmt.Sprintf("%s (line %d): %s", b.a.Name, b.a.node.Line, msg)
	}
	return c
}

func describe(v *vstate) string {
	arm := "disarmed"
	if v.Armed {
		arm = "armed"
	}
	return fmt.Sprintf("mode %s, %s, %.1f m above home, battery %.0f %%", v.Mode, arm, v.RelAlt, v.BatteryPct)
}

// all_landed: every selected vehicle landed and disarmed at `by`.
type allLanded struct {
	base
	cases []Case
}

func (c *allLanded) observe(r *runner, _ []tevent) {
	if c.cases == nil && r.now >= c.a.By.Duration {
		c.decide(r)
	}
}

func (c *allLanded) decide(r *runner) {
	c.cases = []Case{}
	for _, i := range c.vs {
		v := &r.states[i]
		switch {
		case !r.seen[i]:
			c.cases = append(c.cases, c.cs(r, i, false, r.now, fmt.Sprintf("%s was never seen by the station", r.vnameIdx(i))))
		case v.landed():
			c.cases = append(c.cases, c.cs(r, i, true, r.now, "landed and disarmed"))
		default:
			c.cases = append(c.cases, c.cs(r, i, false, r.now, fmt.Sprintf("%s not landed and disarmed at %s (by %s): %s", r.vnameIdx(i), clock(r.now), clock(c.a.By.Duration), describe(v))))
		}
	}
}

func (c *allLanded) finish(_ context.Context, r *runner) []Case {
	if c.cases == nil {
		c.decide(r) // the run ended before `by`: judge the final state
	}
	return c.cases
}

func (c *allLanded) failing() int { return countFailed(c.cases) }

func countFailed(cs []Case) int {
	n := 0
	for _, c := range cs {
		if !c.OK {
			n++
		}
	}
	return n
}

// injected says whether a model fault (gust, GPS loss, failure, battery
// drop) hit vehicle i between its start and window after its end.
func (r *runner) injected(i int, t, window time.Duration) bool {
	for _, f := range r.faultLog {
		if f.Index != i {
			continue
		}
		switch f.Fault.Kind {
		case FaultGust, FaultGPSLoss, FaultFailure, FaultBatteryDrop:
			if t >= f.T && t <= f.T+f.Fault.For.Duration+window {
				return true
			}
		}
	}
	return false
}

// no_fence_breach: no fence_breach event, except (with except_injected)
// on a vehicle a model fault hit shortly before.
type noBreach struct {
	base
	bad     map[int]string
	badAt   map[int]time.Duration
	allowed map[int]int
}

func (c *noBreach) observe(r *runner, evs []tevent) {
	window := 60 * time.Second
	if c.a.Window != nil {
		window = c.a.Window.Duration
	}
	for _, e := range evs {
		if e.Kind != "fence_breach" || e.Index < 0 || !slices.Contains(c.vs, e.Index) {
			continue
		}
		if c.a.ExceptInjected && r.injected(e.Index, e.T, window) {
			if c.allowed == nil {
				c.allowed = map[int]int{}
			}
			c.allowed[e.Index]++
			continue
		}
		if _, dup := c.bad[e.Index]; !dup {
			if c.badAt == nil {
				c.badAt = map[int]time.Duration{}
			}
			c.bad[e.Index] = fmt.Sprintf("%s breached its fence at %s: %s", r.vnameIdx(e.Index), clock(e.T), e.Message)
			c.badAt[e.Index] = e.T
		}
	}
}

func (c *noBreach) finish(_ context.Context, r *runner) []Case {
	var out []Case
	for _, i := range c.vs {
		if m, ok := c.bad[i]; ok {
			out = append(out, c.cs(r, i, false, c.badAt[i], m))
			continue
		}
		msg := "no fence breach"
		if n := c.allowed[i]; n > 0 {
			msg = fmt.Sprintf("%d breach(es), each after an injected fault", n)
		}
		out = append(out, c.cs(r, i, true, r.now, msg))
	}
	return out
}

func (c *noBreach) failing() int { return len(c.bad) }

// breach_rtl: after each fence breach the vehicle is in one of Modes
// within Within.
type breachRTL struct {
	base
	open     map[int]time.Duration // breach time awaiting the mode
	res      map[int]*Case
	breaches int
}

func (c *breachRTL) observe(r *runner, evs []tevent) {
	for _, e := range evs {
		if e.Kind != "fence_breach" || e.Index < 0 || !slices.Contains(c.vs, e.Index) {
			continue
		}
		c.breaches++
		if _, ok := c.open[e.Index]; !ok {
			c.open[e.Index] = e.T
		}
	}
	for i, t := range c.open {
		v := &r.states[i]
		if r.seen[i] && slices.ContainsFunc(c.a.Modes, func(m string) bool { return strings.EqualFold(m, v.Mode) }) {
			delete(c.open, i)
			if prev := c.res[i]; prev == nil || prev.OK {
				cs := c.cs(r, i, true, r.now, fmt.Sprintf("breach at %s, %s by %s", clock(t), v.Mode, clock(r.now)))
				c.res[i] = &cs
			}
			continue
		}
		if r.now > t+c.a.Within.Duration {
			delete(c.open, i)
			cs := c.cs(r, i, false, r.now, fmt.Sprintf("%s breached its fence at %s and was not in %s within %v (at %s: %s)",
				r.vnameIdx(i), clock(t), strings.Join(c.a.Modes, "/"), c.a.Within.Duration, clock(r.now), describe(v)))
			c.res[i] = &cs
		}
	}
}

func (c *breachRTL) finish(_ context.Context, r *runner) []Case {
	for i, t := range c.open { // the run ended inside the window
		v := &r.states[i]
		cs := c.cs(r, i, false, r.now, fmt.Sprintf("%s breached its fence at %s and the run ended before it was in %s (%s)", r.vnameIdx(i), clock(t), strings.Join(c.a.Modes, "/"), describe(v)))
		c.res[i] = &cs
	}
	var out []Case
	for _, i := range c.vs {
		if cs := c.res[i]; cs != nil {
			out = append(out, *cs)
		}
	}
	if c.breaches == 0 {
		if c.a.RequireBreach {
			out = append(out, c.cs(r, -1, false, r.now, "no fence breach happened (require_breach)"))
		} else {
			out = append(out, c.cs(r, -1, true, r.now, "no fence breach to answer"))
		}
	}
	return out
}

func (c *breachRTL) failing() int {
	n := 0
	for _, cs := range c.res {
		if !cs.OK {
			n++
		}
	}
	return n
}

// min_separation: no two airborne selected vehicles closer than Meters
// (3D). With the simulated fleet in process it is judged on the
// simulator's own positions (truthSep); with vehicles elsewhere, on the
// positions as the station sees them, every tick.
type minSep struct {
	base
	min    float64
	a1, a2 int
	at     time.Duration
	pairs  bool
	// truth holds the last simulator sample of each selected vehicle
	// (truthSep); seen is the least distance as the station saw it.
	truth      []truthPos
	seen       float64
	lat0, lon0 float64
	// account is what the pair was doing at the closest approach (the
	// simulator's view): which of the drones' own mechanisms brought
	// them together is what tells a fix from a flake.
	account string
}

// truthPos is a vehicle's position from the simulator (metres east,
// north and up of the first sample) at simulated time t (seconds), with
// its velocity.
type truthPos struct {
	ok         bool // airborne
	t          float64
	x, y, z    float64
	vx, vy, vz float64
}

func (c *minSep) observe(r *runner, _ []tevent) {
	if r.sim != nil {
		c.truthSep(r)
	}
	var air []int
	for _, i := range c.vs {
		if r.seen[i] && r.states[i].airborne() && r.states[i].RelAlt > 3 {
			air = append(air, i)
		}
	}
	for x := 0; x < len(air); x++ {
		for y := x + 1; y < len(air); y++ {
			c.pairs = true
			d := distance3D(&r.states[air[x]], &r.states[air[y]])
			if r.sim != nil {
				c.seen = math.Min(c.seen, d)
				continue
			}
			if d < c.min {
				c.min, c.a1, c.a2, c.at = d, air[x], air[y], r.now
			}
		}
	}
}

// truthSep judges separation on the simulator's own positions. The
// station's view — each vehicle's latest state, received at its own
// moment — puts two drones at positions of different instants: at a
// speedup of 30, 50 ms between two states' arrival is 1.5 s of flight,
// 15 m at 10 m/s, so under CI load the stadium scenario's drones were
// seen 2.7 m apart. Here every vehicle is read from the simulator,
// brought to one simulated instant along its velocity, and each pair's
// closest approach between this sample and the last is taken with both
// moving straight between them (so a crossing between two samples is
// not missed).
func (c *minSep) truthSep(r *runner) {
	if c.truth == nil {
		c.truth, c.seen = make([]truthPos, len(c.vs)), math.Inf(1)
	}
	cur := make([]truthPos, len(c.vs))
	var states []vehicle.State
	var times []float64
	tmax := math.Inf(-1)
	for _, i := range c.vs {
		var st vehicle.State
		var now time.Duration
		r.sim.Vehicle(i).Do(func(v *vehicle.Vehicle) { st, now = v.State(), v.Now() })
		states, times = append(states, st), append(times, now.Seconds())
		tmax = math.Max(tmax, now.Seconds())
	}
	if c.lat0 == 0 && c.lon0 == 0 && len(states) > 0 {
		c.lat0, c.lon0 = states[0].Lat, states[0].Lon
	}
	for k, st := range states {
		e := flatENU(st.Lat, st.Lon, st.AltMSL, c.lat0, c.lon0, 0)
		dt := tmax - times[k]
		cur[k] = truthPos{ok: st.Armed && st.RelAlt > 3, t: tmax,
			x: e[0] + st.VE*dt, y: e[1] + st.VN*dt, z: e[2] - st.VD*dt, vx: st.VE, vy: st.VN, vz: -st.VD}
	}
	for a := range cur {
		for b := a + 1; b < len(cur); b++ {
			if !cur[a].ok || !cur[b].ok {
				continue
			}
			c.pairs = true
			d1 := [3]float64{cur[b].x - cur[a].x, cur[b].y - cur[a].y, cur[b].z - cur[a].z}
			d := math.Sqrt(d1[0]*d1[0] + d1[1]*d1[1] + d1[2]*d1[2])
			if p, q := c.truth[a], c.truth[b]; p.ok && q.ok && p.t == q.t && p.t < cur[a].t {
				// Both flew straight from the last sample: the relative
				// position moves linearly from d0 to d1.
				d0 := [3]float64{q.x - p.x, q.y - p.y, q.z - p.z}
				w := [3]float64{d1[0] - d0[0], d1[1] - d0[1], d1[2] - d0[2]}
				if w2 := w[0]*w[0] + w[1]*w[1] + w[2]*w[2]; w2 > 0 {
					u := math.Max(0, math.Min(1, -(d0[0]*w[0]+d0[1]*w[1]+d0[2]*w[2])/w2))
					m := [3]float64{d0[0] + u*w[0], d0[1] + u*w[1], d0[2] + u*w[2]}
					d = math.Min(d, math.Sqrt(m[0]*m[0]+m[1]*m[1]+m[2]*m[2]))
				}
			}
			if d < c.min {
				c.min, c.a1, c.a2, c.at = d, c.vs[a], c.vs[b], r.now
				sa, sb := states[a], states[b]
				c.account = truthAccount(r.ids[c.vs[a]], sa) + "; " + truthAccount(r.ids[c.vs[b]], sb)
			}
		}
	}
	c.truth = cur
}

// truthAccount says where a vehicle is and what it flies (mode, mission
// item, position, altitude above home, velocity north/east/down).
func truthAccount(id string, s vehicle.State) string {
	return fmt.Sprintf("%s %s item %d at %.7f,%.7f %.1f m, v %.1f,%.1f,%.1f m/s", id, vehicle.ModeName(s.CustomMode), s.MissionCurrent, s.Lat, s.Lon, s.RelAlt, s.VN, s.VE, s.VD)
}

func distance3D(a, b *vstate) float64 {
	return flatENU(a.Lat, a.Lon, a.AltMSL, b.Lat, b.Lon, b.AltMSL).dist(enu{})
}

func (c *minSep) finish(_ context.Context, r *runner) []Case {
	if !c.pairs {
		return []Case{c.cs(r, -1, true, r.now, "never two vehicles airborne at once")}
	}
	if c.min < c.a.Meters {
		by := ""
		if r.sim != nil {
			by = " (the simulator's positions)"
		}
		account := ""
		if c.account != "" {
			account = ": " + c.account
		}
		return []Case{c.cs(r, -1, false, c.at, fmt.Sprintf("%s and %s came within %.1f m of each other at %s%s (minimum %g m)%s", r.vnameIdx(c.a1), r.vnameIdx(c.a2), c.min, clock(c.at), by, c.a.Meters, account))}
	}
	seen := ""
	if r.sim != nil && !math.IsInf(c.seen, 1) {
		seen = fmt.Sprintf("; as the station saw them, %.1f m", c.seen)
	}
	if c.account != "" {
		seen += ": " + c.account
	}
	return []Case{c.cs(r, -1, true, r.now, fmt.Sprintf("closest approach %.1f m (%s, %s at %s)%s", c.min, r.ids[c.a1], r.ids[c.a2], clock(c.at), seen))}
}

func (c *minSep) failing() int {
	if c.pairs && c.min < c.a.Meters {
		return 1
	}
	return 0
}

// alert_after_fault: each fault (of Faults' kinds, default every vehicle
// fault) raises an alert on the vehicle it hit within Within. Which alert
// is "the alert a fault raised" is rehearsal.FirstAlerts' definition, the
// one a rehearsal's report uses too: of the kinds the fault's kind raises
// (rehearsal.DefaultAlertKinds), at or after the fault and before the next
// fault on the same vehicle. Each vehicle a fault hit is judged as a fault
// of its own.
type alertAfter struct {
	base
	alerts []fleet.Event // every alert seen, at epoch + simulated time
	cases  []Case
}

// alertEpoch places simulated times on a time line for rehearsal's
// matching, which works on time.Time.
var alertEpoch = time.Unix(0, 0).UTC()

func (c *alertAfter) wanted(f *Fault) bool {
	if f.Kind == FaultStationRestart {
		return false
	}
	return len(c.a.Faults) == 0 || slices.Contains(c.a.Faults, f.Kind)
}

func (c *alertAfter) observe(r *runner, evs []tevent) {
	for _, e := range evs {
		if e.Index >= 0 && e.alert() {
			c.alerts = append(c.alerts, fleet.Event{Seq: e.Seq, Time: alertEpoch.Add(e.T), VehicleID: e.VehicleID,
				Kind: fleet.EventKind(e.Kind), Severity: fleet.Severity(e.Severity), Message: e.Message})
		}
	}
}

// alertFaults is the fault log as rehearsal faults, one per vehicle hit
// (a station restart: fleet-wide), index-aligned with r.faultLog.
func alertFaults(r *runner) []rehearsal.Fault {
	out := make([]rehearsal.Fault, len(r.faultLog))
	for i, f := range r.faultLog {
		out[i] = rehearsal.Fault{Kind: f.Fault.Kind, At: alertEpoch.Add(f.T)}
		if f.Index >= 0 && f.Index < len(r.ids) {
			out[i].Vehicles = []string{r.ids[f.Index]}
		}
	}
	return out
}

func (c *alertAfter) finish(_ context.Context, r *runner) []Case {
	c.cases = nil
	first := rehearsal.FirstAlerts(alertFaults(r), c.alerts, rehearsal.Options{})
	for k, f := range r.faultLog {
		if f.Index < 0 || !c.wanted(f.Fault) || !slices.Contains(c.vs, f.Index) {
			continue
		}
		label := f.Fault.Name
		if label == "" {
			label = f.Fault.Kind
		}
		cs := c.cs(r, f.Index, true, f.T, "")
		cs.Assertion = fmt.Sprintf("%s after %s at %s", c.a.Name, label, clock(f.T))
		e := first[k]
		switch {
		case e != nil && e.Time.Sub(alertEpoch) <= f.T+c.a.Within.Duration:
			cs.Message = fmt.Sprintf("%s alert %v after the fault", e.Kind, (e.Time.Sub(alertEpoch) - f.T).Round(100*time.Millisecond))
		case e != nil:
			cs.OK = false
			cs.Message = fmt.Sprintf("%s (line %d): %s on %s at %s: the first %s alert came %v later, not within %v", c.a.Name, c.a.node.Line, label, r.vnameIdx(f.Index), clock(f.T), e.Kind, e.Time.Sub(alertEpoch)-f.T, c.a.Within.Duration)
		default:
			cs.OK = false
			cs.Message = fmt.Sprintf("%s (line %d): %s on %s at %s: no alert within %v (none %s after it, before the next fault on it)", c.a.Name, c.a.node.Line, label, r.vnameIdx(f.Index), clock(f.T), c.a.Within.Duration, alertKindsText(f.Fault.Kind))
		}
		c.cases = append(c.cases, cs)
	}
	if len(c.cases) == 0 {
		c.cases = append(c.cases, c.cs(r, -1, false, r.now, "no fault it watches fired, so nothing was checked"))
	}
	return c.cases
}

// alertKindsText names the alerts a fault kind counts, for a message.
func alertKindsText(kind string) string {
	ks := rehearsal.DefaultAlertKinds[kind]
	if len(ks) == 0 {
		return "of any kind"
	}
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = string(k)
	}
	return "of " + strings.Join(names, ", ")
}

func (c *alertAfter) failing() int { return countFailed(c.cases) }

// telemetry_stored: telemetry stored equals telemetry sent. For each
// vehicle the store holds exactly as many positions as the simulated
// vehicle sent GLOBAL_POSITION_INT frames to the station (the in-process
// station stores every message: telemetry interval 0), the recorder
// dropped nothing, and the store holds as many flights as the vehicle
// flew, each with samples. Frames sent while a station_restart had the
// station down cannot be stored: with a restart the stored count must lie
// between what was sent outside the outage and everything sent. Against a
// station given by URL, or vehicles on external links, the runner does
// not know what was sent: the case is skipped, saying so.
type stored struct {
	base
	cases []Case
}

func (c *stored) observe(*runner, []tevent) {}

// hasAssertion says whether the scenario has an assertion of kind.
func (sc *Scenario) hasAssertion(kind string) bool {
	return slices.ContainsFunc(sc.Assertions, func(a Assertion) bool { return a.Kind == kind })
}

// positionsSent is every simulated vehicle's count of GLOBAL_POSITION_INT
// frames sent to the station (nil without a simulated fleet).
func (r *runner) positionsSent() []uint64 {
	if r.sim == nil {
		return nil
	}
	out := make([]uint64, r.sim.Len())
	for i := range out {
		out[i] = r.sim.Vehicle(i).PositionsSent()
	}
	return out
}

// addOutage adds the positions sent between before and after (a station
// restart's stop and its start) to the outage counts.
func (r *runner) addOutage(before, after []uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.outageSent == nil {
		r.outageSent = make([]uint64, len(after))
	}
	for i := range min(len(before), len(after), len(r.outageSent)) {
		r.outageSent[i] += after[i] - before[i]
	}
}

type recStats struct {
	Samples       uint64 `json:"samples"`
	DroppedQueue  uint64 `json:"dropped_queue"`
	WriteErrors   uint64 `json:"write_errors"`
	DroppedWrites uint64 `json:"dropped_writes"`
	Queued        int    `json:"queued"`
}

func (c *stored) recorder(ctx context.Context, r *runner) (*recStats, error) {
	var st struct {
		Recorder *recStats `json:"recorder"`
	}
	if err := r.st.do(ctx, "GET", "/api/v1/telemetry/status", nil, &st); err != nil {
		return nil, fmt.Errorf("telemetry status: %w", err)
	}
	if st.Recorder == nil {
		return nil, errors.New("telemetry status has no recorder")
	}
	return st.Recorder, nil
}

// storedPositions is how many positions the store holds for vehicle i
// from the station's start on (the track's total before downsampling).
func (c *stored) storedPositions(ctx context.Context, r *runner, i int) (int, error) {
	from := r.setupWall.Add(-time.Minute).UTC().Format(time.RFC3339)
	to := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	var tr struct {
		Total int `json:"total_points"`
	}
	path := fmt.Sprintf("/api/v1/vehicles/%s/track?from=%s&to=%s&max_points=2", url.PathEscape(r.ids[i]), url.QueryEscape(from), url.QueryEscape(to))
	if err := r.st.do(ctx, "GET", path, nil, &tr); err != nil {
		return 0, fmt.Errorf("stored track: %w", err)
	}
	return tr.Total, nil
}

func (c *stored) finish(ctx context.Context, r *runner) []Case {
	c.cases = c.decide(ctx, r)
	return c.cases
}

func (c *stored) decide(ctx context.Context, r *runner) []Case {
	if r.o.StationURL != "" || r.sim == nil {
		why := "the station was given by URL (--station): what it stored cannot be compared with what it received from other senders"
		if r.sim == nil {
			why = "the vehicles are on external links: the runner does not know what they sent"
		}
		cs := c.cs(r, -1, true, r.now, "not checked: "+why)
		cs.Skipped = true
		return []Case{cs}
	}
	if up, _ := r.st.isUp(); !up {
		return []Case{c.cs(r, -1, false, r.now, "the station was not up at the end of the run")}
	}
	// Stop every vehicle's radio so the counts sent stop moving, then
	// wait until the store holds them all or the pipeline is idle with
	// counts that no longer change.
	for i := range r.sim.Len() {
		r.sim.Vehicle(i).LinkDown(0)
	}
	sent := r.positionsSent()
	r.mu.Lock()
	outage := slices.Clone(r.outageSent)
	r.mu.Unlock()
	if outage == nil {
		outage = make([]uint64, len(sent))
	}
	got := make([]int, len(sent))
	var rs *recStats
	var err error
	stable, deadline := 0, time.Now().Add(45*time.Second)
	for {
		if rs, err = c.recorder(ctx, r); err != nil {
			return []Case{c.cs(r, -1, false, r.now, err.Error())}
		}
		changed, all := false, true
		for _, i := range c.vs {
			n, err := c.storedPositions(ctx, r, i)
			if err != nil {
				return []Case{c.cs(r, i, false, r.now, fmt.Sprintf("%s: %v", r.vnameIdx(i), err))}
			}
			changed = changed || n != got[i]
			got[i] = n
			all = all && uint64(n) == sent[i]
		}
		if !changed && rs.Queued == 0 {
			stable++
		} else {
			stable = 0
		}
		if all && rs.Queued == 0 || stable >= 10 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	var out []Case
	if rs.DroppedQueue+rs.DroppedWrites+rs.WriteErrors > 0 {
		out = append(out, c.cs(r, -1, false, r.now, fmt.Sprintf("the recorder lost data: %d updates dropped in its queue, %d samples in %d failed writes", rs.DroppedQueue, rs.DroppedWrites, rs.WriteErrors)))
	} else {
		out = append(out, c.cs(r, -1, true, r.now, fmt.Sprintf("%d samples stored, none dropped", rs.Samples)))
	}
	from := r.setupWall.Add(-time.Minute).UTC().Format(time.RFC3339)
	to := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	for _, i := range c.vs {
		var resp struct {
			Flights []struct {
				Samples    int  `json:"samples"`
				InProgress bool `json:"in_progress"`
			} `json:"flights"`
		}
		path := fmt.Sprintf("/api/v1/vehicles/%s/flights?from=%s&to=%s", url.PathEscape(r.ids[i]), url.QueryEscape(from), url.QueryEscape(to))
		err := r.st.do(ctx, "GET", path, nil, &resp)
		fl := resp.Flights
		if err != nil {
			out = append(out, c.cs(r, i, false, r.now, fmt.Sprintf("%s: flights from the store: %v", r.vnameIdx(i), err)))
			continue
		}
		empty := 0
		for _, f := range fl {
			if f.Samples == 0 {
				empty++
			}
		}
		n, s, down := uint64(got[i]), sent[i], outage[i]
		switch {
		case down == 0 && n != s:
			out = append(out, c.cs(r, i, false, r.now, fmt.Sprintf("%s sent %d positions (GLOBAL_POSITION_INT) to the station; the store holds %d", r.vnameIdx(i), s, n)))
		case down > 0 && (n > s || n < s-down):
			out = append(out, c.cs(r, i, false, r.now, fmt.Sprintf("%s sent %d positions (GLOBAL_POSITION_INT) to the station, %d of them while it restarted; the store holds %d (want %d to %d)", r.vnameIdx(i), s, down, n, s-down, s)))
		case len(fl) != r.flights[i].Flights():
			out = append(out, c.cs(r, i, false, r.now, fmt.Sprintf("%s flew %d flight(s); the store holds %d", r.vnameIdx(i), r.flights[i].Flights(), len(fl))))
		case empty > 0:
			out = append(out, c.cs(r, i, false, r.now, fmt.Sprintf("%s: %d stored flight(s) have no samples", r.vnameIdx(i), empty)))
		case down > 0:
			out = append(out, c.cs(r, i, true, r.now, fmt.Sprintf("%d of %d positions sent stored (%d sent while the station restarted), %d flight(s)", n, s, down, len(fl))))
		default:
			out = append(out, c.cs(r, i, true, r.now, fmt.Sprintf("all %d positions sent stored, %d flight(s)", n, len(fl))))
		}
	}
	return out
}

func (c *stored) failing() int { return countFailed(c.cases) }

// mission_completed: each selected vehicle completed its mission (the
// station's mission_complete event, or a final state on the ground past
// the last item when the event fell into a station outage), by `by` if
// given.
type missionDone struct {
	base
	at map[int]time.Duration
}

func (c *missionDone) observe(r *runner, evs []tevent) {
	for _, e := range evs {
		if e.Kind == "mission_complete" && e.Index >= 0 {
			if _, ok := c.at[e.Index]; !ok {
				c.at[e.Index] = e.T
			}
		}
	}
}

func (c *missionDone) finish(_ context.Context, r *runner) []Case {
	var out []Case
	for _, i := range c.vs {
		v := &r.states[i]
		t, ok := c.at[i]
		switch {
		case ok && c.a.By != nil && t > c.a.By.Duration:
			out = append(out, c.cs(r, i, false, t, fmt.Sprintf("%s completed its mission at %s, after %s", r.vnameIdx(i), clock(t), clock(c.a.By.Duration))))
		case ok:
			out = append(out, c.cs(r, i, true, t, "mission completed at "+clock(t)))
		case r.seen[i] && v.MissionCount > 1 && v.MissionSeq >= v.MissionCount-1 && v.landed():
			out = append(out, c.cs(r, i, true, r.now, fmt.Sprintf("on the ground past the last item (item %d, %d on board); the completion event was not observed", v.MissionSeq, v.MissionCount)))
		default:
			out = append(out, c.cs(r, i, false, r.now, fmt.Sprintf("%s did not complete its mission: at item %d of %d, %s", r.vnameIdx(i), v.MissionSeq, max(v.MissionCount-1, 0), describe(v))))
		}
	}
	return out
}

func (c *missionDone) failing() int { return 0 }

// coverage_gap: no slot of any operation the scenario started stays
// uncovered longer than Max at a time. Gaps come from the station's
// coverage_gap alerts and their gap_ended notes (whose gap_s is on the
// operation clock, i.e. simulated seconds); a gap still open at the end
// counts to the end.
type coverageGap struct {
	base
	open    map[string]time.Duration
	covered map[string]bool // slots covered at least once
	initial int             // first gaps left out (ignore_initial)
	longest time.Duration
	where   string
	at      time.Duration
	gaps    int
}

func gapKey(e *tevent) (string, bool) {
	op, _ := e.Fields["operation_id"].(string)
	slot, ok := e.Fields["slot"].(float64)
	return fmt.Sprintf("slot %d of operation %s", int(slot), op), ok && op != ""
}

func (c *coverageGap) note(d time.Duration, where string, at time.Duration) {
	c.gaps++
	if d > c.longest {
		c.longest, c.where, c.at = d, where, at
	}
}

func (c *coverageGap) observe(r *runner, evs []tevent) {
	if c.open == nil {
		c.open = map[string]time.Duration{}
	}
	for i := range evs {
		e := &evs[i]
		k, ok := gapKey(e)
		if !ok {
			continue
		}
		switch {
		case e.Kind == "coverage_gap":
			if _, dup := c.open[k]; !dup {
				c.open[k] = e.T
			}
		case e.Kind == "operation" && e.Fields["action"] == "gap_ended":
			start, was := c.open[k]
			delete(c.open, k)
			if c.covered == nil {
				c.covered = map[string]bool{}
			}
			first := !c.covered[k]
			c.covered[k] = true
			if first && c.a.IgnoreInitial {
				c.initial++ // the climb-out to a slot not yet covered
				continue
			}
			d := e.T - start
			if g, ok := e.Fields["gap_s"].(float64); ok {
				d = time.Duration(g * float64(time.Second))
			}
			if !was {
				start = e.T - d
			}
			c.note(d, k, start)
		}
	}
}

func (c *coverageGap) finish(_ context.Context, r *runner) []Case {
	r.mu.Lock()
	ops := len(r.operations)
	r.mu.Unlock()
	if ops == 0 {
		return []Case{c.cs(r, -1, false, r.now, "no operation was started (an operation step), so there was no coverage to check")}
	}
	for k, start := range c.open {
		c.note(r.now-start, k+" (still open at the end)", start)
	}
	c.open = nil
	if c.longest > c.a.Max.Duration {
		return []Case{c.cs(r, -1, false, c.at, fmt.Sprintf("%s was uncovered for %v from %s, longer than %v (%d gaps in all)", c.where, c.longest.Round(time.Second), clock(c.at), c.a.Max.Duration, c.gaps))}
	}
	skipped := ""
	if c.initial > 0 {
		skipped = fmt.Sprintf(" (%d initial climb-outs not counted)", c.initial)
	}
	if c.gaps == 0 {
		return []Case{c.cs(r, -1, true, r.now, fmt.Sprintf("%d operation(s), no coverage gap%s", ops, skipped))}
	}
	return []Case{c.cs(r, -1, true, r.now, fmt.Sprintf("%d operation(s), %d gaps, the longest %v (%s from %s)%s", ops, c.gaps, c.longest.Round(time.Second), c.where, clock(c.at), skipped))}
}

func (c *coverageGap) failing() int {
	if c.longest > c.a.Max.Duration {
		return 1
	}
	return 0
}

// vehicle_state: a field of the vehicle's state against min, below or
// equals, always while airborne or at the end.
type stateCheck struct {
	base
	bad map[int]string
	at  map[int]time.Duration
}

func (c *stateCheck) check(r *runner, i int) (bool, string) {
	v := &r.states[i]
	var num float64
	var str string
	isNum := true
	switch c.a.Field {
	case "battery_pct":
		num = v.BatteryPct
	case "relative_alt_m":
		num = v.RelAlt
	case "alt_msl_m":
		num = v.AltMSL
	case "ground_speed_mps":
		num = v.GroundSpeed
	case "gps_fix":
		num = float64(v.GPSFix)
	case "satellites":
		num = float64(v.Satellites)
	case "mission_seq":
		num = float64(v.MissionSeq)
	case "landed_state":
		str, isNum = v.LandedState, false
	case "mode":
		str, isNum = v.Mode, false
	case "armed":
		str, isNum = fmt.Sprint(v.Armed), false
	case "signing":
		str, isNum = v.Signing, false
	case "video_streams":
		for _, st := range v.Video {
			if st.Type == "rtpudp" {
				num++ // a stream sent to the station (fleet.video), not just advertised
			}
		}
	}
	val := str
	if isNum {
		val = fmt.Sprintf("%g", num)
	}
	switch {
	case c.a.Min != nil:
		return isNum && num >= *c.a.Min, fmt.Sprintf("%s %s, want at least %g", c.a.Field, val, *c.a.Min)
	case c.a.Below != nil:
		return isNum && num < *c.a.Below, fmt.Sprintf("%s %s, want below %g", c.a.Field, val, *c.a.Below)
	default:
		want := fmt.Sprint(c.a.Equals)
		return strings.EqualFold(val, want), fmt.Sprintf("%s %s, want %s", c.a.Field, val, want)
	}
}

func (c *stateCheck) observe(r *runner, _ []tevent) {
	if c.a.During != "always" {
		return
	}
	for _, i := range c.vs {
		if _, done := c.bad[i]; done || !r.seen[i] || !r.states[i].airborne() {
			continue
		}
		if ok, msg := c.check(r, i); !ok {
			c.bad[i] = fmt.Sprintf("%s at %s: %s", r.vnameIdx(i), clock(r.now), msg)
			c.at[i] = r.now
		}
	}
}

func (c *stateCheck) finish(_ context.Context, r *runner) []Case {
	var out []Case
	for _, i := range c.vs {
		if m, ok := c.bad[i]; ok {
			out = append(out, c.cs(r, i, false, c.at[i], m))
			continue
		}
		if c.a.During == "end" {
			if !r.seen[i] {
				out = append(out, c.cs(r, i, false, r.now, r.vnameIdx(i)+" was never seen by the station"))
				continue
			}
			ok, msg := c.check(r, i)
			if !ok {
				msg = fmt.Sprintf("%s at the end (%s): %s", r.vnameIdx(i), clock(r.now), msg)
			}
			out = append(out, c.cs(r, i, ok, r.now, msg))
			continue
		}
		out = append(out, c.cs(r, i, true, r.now, "held while airborne"))
	}
	return out
}

func (c *stateCheck) failing() int { return len(c.bad) }
