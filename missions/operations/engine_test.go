package operations

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/missions"
)

// world is a scripted fleet for the scheduler: the test sets each
// vehicle's state, the scheduler steps, the test plays the vehicles'
// answers (what the simulator tests do for real).
type world struct {
	vs    map[string]fleet.Vehicle
	wall  time.Time
	flown int // drones put on a loop so far
}

func (w *world) look(id string) (fleet.Vehicle, bool) { v, ok := w.vs[id]; return v, ok }

const homeLat, homeLon = 41.3, 69.2

func newOp(slots, pool int, w *world) *Operation {
	o := &Operation{ID: "op1", SlotCount: slots, Created: w.wall, TimeScale: 1, State: StateScheduled,
		Start: w.wall.Add(10 * time.Minute), End: w.wall.Add(3 * time.Hour)}
	o.Params.defaults()
	for i := 0; i < slots; i++ {
		dp := &missions.DronePlan{Drone: i, Alt: 50, LoopStart: 3, JumpSeq: 10, Speed: 10}
		dp.Home = missions.Home{Lat: homeLat, Lon: homeLon}
		o.Plans = append(o.Plans, SlotPlan{Plan: dp, TransitM: 500})
		o.Slots = append(o.Slots, &Slot{Index: i})
	}
	for i := 0; i < pool; i++ {
		id := fmt.Sprintf("u%03d", i)
		o.VehicleIDs = append(o.VehicleIDs, id)
		o.Vehicles = append(o.Vehicles, &VehicleState{ID: id, Role: RolePool, Slot: -1, Uploaded: -1})
		// Parked 50 m apart: each on a pad of its own (pad.go sequences
		// drones parked closer than the pad clearance, 30 m).
		lon := homeLon + float64(i)*0.0006
		w.vs[id] = fleet.Vehicle{ID: id, Connected: true, GPSFix: 3, Home: &fleet.Point{Lat: homeLat, Lon: lon}, Lat: homeLat, Lon: lon,
			BatteryPct: 100, Mode: "GUIDED", LandedState: "on_ground"}
	}
	return o
}

// fly puts a launched vehicle on its slot's loop with charge pct, each
// 250 m east of the last (drones of a slot keep apart: the scheduler
// sends a drone home only when its return is clear of the others).
func (w *world) fly(id string, pct float64) {
	v := w.vs[id]
	v.Armed, v.Mode, v.MissionSeq, v.BatteryPct, v.LandedState, v.RelativeAlt = true, "AUTO", 5, pct, "in_air", 50
	v.Lat += 0.004
	w.flown++
	v.Lon += 0.003 * float64(w.flown)
	w.vs[id] = v
}

func acts(as []Action, k ActionKind) []string {
	var out []string
	for _, a := range as {
		if a.Kind == k {
			out = append(out, a.VehicleID)
		}
	}
	return out
}

// The first drones go up one lead time before the window; a drone that
// fails on station is replaced on the same tick and counted; one whose
// battery will not last is relieved before it must leave, handed over,
// then sent home.
func TestSchedulerLaunchesReplacesAndHandsOver(t *testing.T) {
	w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	o := newOp(2, 5, w)
	a, _ := o.Step(w.wall, w.look)
	if len(a) != 0 {
		t.Fatalf("10 min before the window: launched %v", a)
	}
	w.wall = o.Start.Add(-secs(o.leadNoMargin(0) + o.Params.MarginS))
	a, _ = o.Step(w.wall, w.look)
	up := acts(a, ActLaunch)
	if len(up) != 2 {
		t.Fatalf("one lead before the window: launched %v, want 2", up)
	}
	for _, id := range up {
		if _, n := o.LaunchDone(id, true, nil, w.wall); len(n) != 0 {
			t.Fatalf("launch done: %v", n)
		}
		w.fly(id, 95)
	}
	w.wall = o.Start.Add(-time.Second)
	o.Step(w.wall, w.look)
	for _, s := range o.Slots {
		if !s.Covered {
			t.Fatalf("slot %d not covered at the start", s.Index)
		}
	}
	// Slot 0's drone loses its link: replaced at once.
	w.wall = w.wall.Add(5 * time.Minute)
	victim := o.Slots[0].VehicleID
	v := w.vs[victim]
	v.Connected = false
	w.vs[victim] = v
	a, notes := o.Step(w.wall, w.look)
	if got := acts(a, ActLaunch); len(got) != 1 || o.Slots[0].Replacement != 1 || o.vehicle(victim).Role != RoleFailed {
		t.Fatalf("after the link loss: launches %v replacements %d role %s notes %v", got, o.Slots[0].Replacement, o.vehicle(victim).Role, notes)
	}
	repl := acts(a, ActLaunch)[0]
	o.LaunchDone(repl, true, nil, w.wall)
	w.wall = w.wall.Add(90 * time.Second)
	w.fly(repl, 96)
	o.Step(w.wall, w.look)
	if o.Slots[0].VehicleID != repl || !o.Slots[0].Covered || o.Slots[0].UncoveredS != 90 {
		t.Fatalf("slot 0 after the replacement: %+v", o.Slots[0])
	}
	// Slot 1's drone drains: it learns its rate and is relieved in time.
	inc := o.Slots[1].VehicleID
	pct := 95.0
	var relief string
	for i := 0; i < 3000 && relief == ""; i++ {
		w.wall = w.wall.Add(5 * time.Second)
		pct -= 5 * 100.0 / 1500
		v := w.vs[inc]
		v.BatteryPct = float64(int(pct))
		w.vs[inc] = v
		a, _ = o.Step(w.wall, w.look)
		if l := acts(a, ActLaunch); len(l) > 0 {
			relief = l[0]
		}
		if len(acts(a, ActReturn)) > 0 {
			t.Fatalf("sent home at %.0f %% before a relief was launched", pct)
		}
	}
	if relief == "" || o.Slots[1].Incoming != relief {
		t.Fatalf("no relief launched for slot 1 (%+v)", o.Slots[1])
	}
	o.LaunchDone(relief, true, nil, w.wall)
	w.wall = w.wall.Add(60 * time.Second)
	w.fly(relief, 99)
	a, _ = o.Step(w.wall, w.look)
	if home := acts(a, ActReturn); len(home) != 1 || home[0] != inc || o.Slots[1].Handovers != 1 || o.Slots[1].VehicleID != relief {
		t.Fatalf("handover: returns %v slot %+v", home, o.Slots[1])
	}
	if pct < o.Params.ReservePct {
		t.Fatalf("relieved at %.0f %%, under the reserve", pct)
	}
	if o.Slots[1].UncoveredS != 0 {
		t.Fatalf("slot 1 uncovered %v s", o.Slots[1].UncoveredS)
	}
}

// Two drones for two slots cannot rotate: the forecast names the gap
// before it opens, when the first drone must leave.
func TestForecastSeesTheGapOfASmallPool(t *testing.T) {
	w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	o := newOp(2, 2, w)
	w.wall = o.Start.Add(-10 * time.Second)
	a, notes := o.Step(w.wall, w.look)
	for _, id := range acts(a, ActLaunch) {
		o.LaunchDone(id, true, nil, w.wall)
		w.fly(id, 100)
	}
	_, more := o.Step(w.wall.Add(time.Second), w.look)
	notes = append(notes, more...)
	var alert *Note
	for i := range notes {
		if notes[i].Kind == fleet.EventCoverageGapPredicted {
			alert = &notes[i]
		}
	}
	if alert == nil || o.Gap == nil {
		t.Fatalf("no predicted gap: %+v", notes)
	}
	// A full pack at the prior 20 minutes, less the reserve and the way home.
	if !o.Gap.Start.After(w.wall) || o.Gap.Start.After(w.wall.Add(20*time.Minute)) {
		t.Fatalf("gap at %s, want within the first pack's 20 minutes after %s", o.Gap.Start, w.wall)
	}
	// A pool of 6 covers it.
	w2 := &world{vs: map[string]fleet.Vehicle{}, wall: w.wall}
	o2 := newOp(2, 6, w2)
	o2.Step(w2.wall, w2.look)
	if o2.Gap != nil {
		t.Fatalf("6 drones for 2 slots: gap %+v", o2.Gap)
	}
}

// BenchmarkSchedulerTick is one scheduler tick of an operation with 50
// slots and 200 drones, all on station (prediction and forecast for each).
func BenchmarkSchedulerTick(b *testing.B) {
	w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	o := newOp(50, 200, w)
	w.wall = o.Start.Add(-10 * time.Second)
	a, _ := o.Step(w.wall, w.look)
	for _, id := range acts(a, ActLaunch) {
		o.LaunchDone(id, true, nil, w.wall)
		w.fly(id, 90)
	}
	for i := 0; i < 60; i++ { // a minute of samples each
		w.wall = w.wall.Add(time.Second)
		o.Step(w.wall, w.look)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.wall = w.wall.Add(200 * time.Millisecond)
		o.Step(w.wall, w.look)
	}
}

// recorder is an Actuator that records what it was asked.
type recorder struct {
	mu   sync.Mutex
	done []string
}

func (r *recorder) Launch(_ context.Context, id string, _ *missions.DronePlan, _ bool, _ float64, _ Tag) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, "launch "+id)
	return nil
}

func (r *recorder) ReturnHome(_ context.Context, id string, rtlAltM float64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rtlAltM > 0 {
		id += fmt.Sprintf(" at %g m", rtlAltM)
	}
	r.done = append(r.done, "rtl "+id)
	return nil
}

func (r *recorder) Continue(_ context.Context, id string, seq int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, fmt.Sprintf("continue %s %d", id, seq))
	return nil
}

func (r *recorder) Hold(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, "hold "+id)
	return nil
}

func (r *recorder) Resume(_ context.Context, id string, _ float64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, "resume "+id)
	return nil
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.done...)
}

// Paused, an operation launches nothing; resumed, it launches; stopped,
// every drone flying for it is sent home and it is finished.
func TestPauseResumeStop(t *testing.T) {
	w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	o := newOp(1, 2, w)
	rec := &recorder{}
	m, err := New(Config{Fleet: &fakeFleet{vs: w.vs}, Act: rec, Now: func() time.Time { return w.wall }})
	if err != nil {
		t.Fatal(err)
	}
	m.ops[o.ID] = o
	ctx := t.Context()
	if _, err := m.Change(ctx, o.ID, "pause"); err != nil {
		t.Fatal(err)
	}
	w.wall = o.Start
	m.Tick(ctx)
	m.wg.Wait()
	if got := rec.list(); len(got) != 0 {
		t.Fatalf("paused: %v", got)
	}
	if _, err := m.Change(ctx, o.ID, "resume"); err != nil {
		t.Fatal(err)
	}
	m.Tick(ctx)
	m.wg.Wait()
	got := rec.list()
	if len(got) != 1 || !strings.HasPrefix(got[0], "launch ") {
		t.Fatalf("resumed: %v", got)
	}
	id := strings.TrimPrefix(got[0], "launch ")
	w.fly(id, 90)
	w.wall = w.wall.Add(time.Second)
	m.Tick(ctx)
	v, err := m.Change(ctx, o.ID, "stop")
	if err != nil {
		t.Fatal(err)
	}
	m.wg.Wait()
	if v.State != StateFinished || !v.Stopped || rec.list()[len(rec.list())-1] != "rtl "+id {
		t.Fatalf("stopped: state %s stopped %v actions %v", v.State, v.Stopped, rec.list())
	}
	if _, err := m.Change(ctx, o.ID, "resume"); !errors.Is(err, ErrConflict) {
		t.Fatalf("resume a finished operation: %v, want a conflict", err)
	}
}

// The revisit age of a patrol loop: a drone lapping 7 waypoints at 10 s
// each revisits every waypoint after 70 s; the largest age seen is a lap
// (plus a tick of sampling), and a waypoint skipped between two ticks
// still counts as visited.
func TestRevisitAge(t *testing.T) {
	w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	o := newOp(1, 1, w)
	w.wall = o.Start.Add(-time.Minute)
	a, _ := o.Step(w.wall, w.look)
	id := acts(a, ActLaunch)[0]
	o.LaunchDone(id, true, nil, w.wall)
	w.fly(id, 100)
	v := w.vs[id]
	v.MissionSeq = 4
	w.vs[id] = v
	w.wall = o.Start
	o.Step(w.wall, w.look)
	seq := 4
	for i := 0; i < 40; i++ { // 40 legs, 5 laps and more
		w.wall = w.wall.Add(10 * time.Second)
		seq++
		if seq == 10 {
			seq = 3
		}
		if i == 20 { // two items between ticks
			w.wall = w.wall.Add(10 * time.Second)
			seq++
		}
		v := w.vs[id]
		v.MissionSeq = seq
		w.vs[id] = v
		o.Step(w.wall, w.look)
	}
	sl := o.Slots[0]
	for k, at := range sl.Visits {
		if at.IsZero() {
			t.Fatalf("waypoint %d never visited", k+3)
		}
	}
	if sl.MaxRevisitS < 70 || sl.MaxRevisitS > 80 {
		t.Fatalf("max revisit %v s, want a lap of 70 s (80 with the skipped tick)", sl.MaxRevisitS)
	}
}

// At the window's end a drone on a leg whose straight return is not clear
// (NoReturnSeqs) is not sent home from it: it waits for a clear leg; one
// that never reaches one is sent after returnWaitS with an alert.
func TestEndOfWindowWaitsForAClearReturn(t *testing.T) {
	w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	o := newOp(2, 2, w)
	o.Plans[0].NoReturnSeqs = []int{5, 6}
	o.Plans[1].NoReturnSeqs = []int{5, 6}
	w.wall = o.Start.Add(-time.Minute)
	a, _ := o.Step(w.wall, w.look)
	ids := acts(a, ActLaunch)
	if len(ids) != 2 {
		t.Fatalf("launched %v", ids)
	}
	for _, id := range ids {
		o.LaunchDone(id, true, nil, w.wall)
		w.fly(id, 95) // MissionSeq 5: an unclear leg
	}
	w.wall = w.wall.Add(time.Second)
	o.Step(w.wall, w.look)
	w.wall = o.End.Add(-time.Second)
	o.Step(w.wall, w.look)
	w.wall = o.End
	a, _ = o.Step(w.wall, w.look)
	if got := acts(a, ActReturn); len(got) != 0 {
		t.Fatalf("window end, both on unclear legs: sent home %v", got)
	}
	for _, id := range ids {
		if v := o.vehicle(id); v.Role != RoleReturning || v.ReturnWait == nil {
			t.Fatalf("%s: role %s wait %v, want returning and waiting", id, v.Role, v.ReturnWait)
		}
	}
	// The first reaches a clear leg: it goes home; the other stays.
	v0 := w.vs[ids[0]]
	v0.MissionSeq = 7
	w.vs[ids[0]] = v0
	w.wall = w.wall.Add(time.Second)
	a, _ = o.Step(w.wall, w.look)
	if got := acts(a, ActReturn); len(got) != 1 || got[0] != ids[0] {
		t.Fatalf("one on a clear leg: sent home %v, want [%s]", got, ids[0])
	}
	w.wall = w.wall.Add(time.Second)
	if a, _ = o.Step(w.wall, w.look); len(a) != 0 {
		t.Fatalf("RTL sent twice or too early: %v", a)
	}
	// The other never does: sent anyway after the bound, with an alert.
	w.wall = o.End.Add(secs(returnWaitS))
	a, notes := o.Step(w.wall, w.look)
	if got := acts(a, ActReturn); len(got) != 1 || got[0] != ids[1] {
		t.Fatalf("after the bound: sent home %v, want [%s]", got, ids[1])
	}
	alerted := false
	for _, n := range notes {
		if n.Fields["action"] == "return_unclear" && n.VehicleID == ids[1] {
			alerted = true
		}
	}
	if !alerted {
		t.Fatalf("no return_unclear alert: %+v", notes)
	}
}

// A gap still open when the window ends ends with it: the operation says
// so (gap_ended, gap_s from the gap's start to the window's end), so
// whoever counts gaps from the event stream does not count the time
// after the window — a scenario run counted a stadium slot uncovered in
// the window's last half minute as uncovered until its last drone
// landed, over a minute.
func TestGapOpenAtTheWindowsEndEndsWithIt(t *testing.T) {
	w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	o := newOp(1, 2, w)
	spare := w.vs["u001"]
	spare.BatteryPct = 50 // not swapped yet: the pool has no one ready
	w.vs["u001"] = spare
	w.wall = o.Start.Add(-time.Minute)
	a, _ := o.Step(w.wall, w.look)
	ids := acts(a, ActLaunch)
	if len(ids) != 1 {
		t.Fatalf("launched %v", ids)
	}
	o.LaunchDone(ids[0], true, nil, w.wall)
	w.fly(ids[0], 95)
	w.wall = w.wall.Add(time.Second)
	o.Step(w.wall, w.look) // on station before the window opens
	w.wall = o.End.Add(-30 * time.Second)
	o.Step(w.wall, w.look)
	// Its link drops 30 s before the end, with nobody left to replace it.
	v := w.vs[ids[0]]
	v.Connected = false
	w.vs[ids[0]] = v
	_, notes := o.Step(w.wall, w.look)
	opened := false
	for _, n := range notes {
		opened = opened || n.Kind == fleet.EventCoverageGap
	}
	if !opened {
		t.Fatalf("no coverage_gap when the slot was left: %+v", notes)
	}
	w.wall = o.End.Add(2 * time.Second)
	_, notes = o.Step(w.wall, w.look)
	var ended []Note
	for _, n := range notes {
		if n.Fields["action"] == "gap_ended" {
			ended = append(ended, n)
		}
	}
	if len(ended) != 1 || ended[0].Fields["gap_s"] != 30.0 || ended[0].Fields["slot"] != 0 {
		t.Fatalf("at the window's end: gap_ended notes %+v, want one for slot 0 with gap_s 30", ended)
	}
	if o.State != StateFinished || o.Slots[0].GapSince != nil || o.Slots[0].UncoveredS != 30 {
		t.Fatalf("state %s, slot %+v", o.State, *o.Slots[0])
	}
}

// With a short pool, the drone back from its swap goes where it is
// needed most: a slot nobody covers before any early relief, and of two
// reliefs the one whose incumbent must leave first. Slot order decided
// before: a stadium slot left uncovered with the pool empty stayed so
// for nearly five minutes while the other slots took every drone that
// came back, as early reliefs.
func TestShortPoolServesTheUncoveredSlotFirst(t *testing.T) {
	w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	o := newOp(3, 5, w)
	for _, id := range []string{"u003", "u004"} { // still on the charger
		v := w.vs[id]
		v.BatteryPct = 50
		w.vs[id] = v
	}
	w.wall = o.Start.Add(-time.Minute)
	a, _ := o.Step(w.wall, w.look)
	ids := acts(a, ActLaunch)
	if len(ids) != 3 {
		t.Fatalf("launched %v", ids)
	}
	for _, id := range ids {
		o.LaunchDone(id, true, nil, w.wall)
		w.fly(id, 95)
	}
	w.wall = w.wall.Add(time.Second)
	o.Step(w.wall, w.look)
	set := func(id string, f func(*fleet.Vehicle)) {
		v := w.vs[id]
		f(&v)
		w.vs[id] = v
	}
	inc := func(slot int) string { return o.Slots[slot].VehicleID }
	// Slot 2's drone is lost with nobody ready; slot 0's and slot 1's run
	// low enough to call for a relief (slot 1's lower).
	lost := inc(2)
	set(lost, func(v *fleet.Vehicle) { v.Connected = false })
	set(inc(0), func(v *fleet.Vehicle) { v.BatteryPct = 45 })
	set(inc(1), func(v *fleet.Vehicle) { v.BatteryPct = 42 })
	w.wall = w.wall.Add(time.Minute)
	if a, _ := o.Step(w.wall, w.look); len(acts(a, ActLaunch)) != 0 {
		t.Fatalf("nobody is ready, yet launched %v", acts(a, ActLaunch))
	}
	if o.Slots[2].Covered {
		t.Fatal("slot 2 covered after its drone was lost")
	}
	// One drone is swapped: it goes to the uncovered slot.
	set("u003", func(v *fleet.Vehicle) { v.BatteryPct = 100 })
	w.wall = w.wall.Add(time.Second)
	a, _ = o.Step(w.wall, w.look)
	if got := acts(a, ActLaunch); len(got) != 1 || a[0].Slot != 2 {
		t.Fatalf("one drone ready, slot 2 uncovered: launched %+v, want u003 for slot 2", a)
	}
	o.LaunchDone("u003", true, nil, w.wall)
	// The next goes to slot 1, whose incumbent must leave before slot 0's.
	set("u004", func(v *fleet.Vehicle) { v.BatteryPct = 100 })
	w.wall = w.wall.Add(time.Second)
	a, _ = o.Step(w.wall, w.look)
	if got := acts(a, ActLaunch); len(got) != 1 || a[0].Slot != 1 {
		t.Fatalf("reliefs due in slots 0 and 1: launched %+v, want u004 for slot 1", a)
	}
}

// At the window's end the incumbent and its relief, still on its way in,
// are sent home on the same tick: judged each against the other's
// return, not against where the other flies now, so they do not both fly
// straight home on the slot's layer along one line (a stadium run: 1.6 m
// on the way home). The second goes on the slot's return layer.
func TestWindowEndSendsASlotsTwoDronesHomeApart(t *testing.T) {
	a := windowEndReturns(t, 95)
	var plain, raised int
	for _, x := range a {
		if x.Kind != ActReturn {
			continue
		}
		if x.RTLAlt == 80 {
			raised++
		} else {
			plain++
		}
	}
	if plain > 1 || plain+raised == 0 {
		t.Fatalf("window's end: returns %+v; want at most one at the slot's layer (the other on the return layer, or waiting)", a)
	}
	t.Logf("returns %+v", a)
}

// A raised return is not flown on the reserve: a relief too low for the
// climb to its return layer and the descent from it waits instead (the
// drone it relieves goes home first).
func TestRaisedReturnKeepsTheReserve(t *testing.T) {
	a := windowEndReturns(t, 25)
	for _, x := range a {
		if x.Kind == ActReturn && x.RTLAlt == 80 {
			t.Fatalf("returns %+v: %s sent up to its return layer with 25 %% (reserve 20 %%)", a, x.VehicleID)
		}
	}
	if len(a) != 1 {
		t.Fatalf("returns %+v; want the incumbent's only", a)
	}
}

// windowEndReturns is what the window's end sends home: a slot's
// incumbent 100 m east of the pad and its relief (charge pct) at 200 m
// east and 100 m north, both at the slot's 50 m, return layer 80 m.
func windowEndReturns(t *testing.T, pct float64) []Action {
	t.Helper()
	w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	o := newOp(1, 2, w)
	o.State = StateRunning
	o.Plans[0].ReturnAlt = 80
	o.Last = o.Now(o.End.Add(-time.Second))
	f := newFrame(homeLat, homeLon)
	// The incumbent 100 m east of the pad, its relief at 200 m east and
	// 100 m north, both at the slot's 50 m: the relief's way home passes
	// 45 m from where the incumbent is, but straight home the two meet
	// over the pad, the incumbent still descending there.
	for i, xy := range [][2]float64{{100, 0}, {200, 100}} {
		v := o.Vehicles[i]
		v.Slot, v.SeenAuto = 0, true
		v.Role = []Role{RoleStation, RoleTransit}[i]
		ll := f.ll(p3{xy[0], xy[1], 50})
		fv := w.vs[v.ID]
		fv.Armed, fv.Mode, fv.MissionSeq, fv.LandedState, fv.Lat, fv.Lon, fv.RelativeAlt = true, "AUTO", 5, "in_air", ll[1], ll[0], 50
		if i == 1 {
			fv.BatteryPct = pct
		}
		spot := f.ll(p3{0, 10 * float64(i), 0}) // parking spots 10 m apart
		fv.Home = &fleet.Point{Lat: spot[1], Lon: spot[0]}
		w.vs[v.ID] = fv
	}
	o.Slots[0].VehicleID, o.Slots[0].Incoming, o.Slots[0].Covered = o.Vehicles[0].ID, o.Vehicles[1].ID, true
	a, _ := o.Step(o.End, w.look)
	return a
}

// A vehicle that a command of the station's still waits on (an RTL
// unanswered on a loaded machine while the drone landed and was swapped)
// is not picked for a launch, and a launch that could not be sent for
// that reason puts the vehicle back in the pool: before, the launch was
// dropped, the vehicle stayed "launching" for good and its slot got no
// drone (the 3-hour test's stalled launches at load 19–26).
func TestLaunchOfABusyVehicleIsNotLost(t *testing.T) {
	w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	o := newOp(1, 2, w)
	rec := &recorder{}
	m, err := New(Config{Fleet: &fakeFleet{vs: w.vs}, Act: rec, Now: func() time.Time { return w.wall }})
	if err != nil {
		t.Fatal(err)
	}
	m.ops[o.ID] = o
	ctx := t.Context()
	m.busy["u000"] = true // its RTL is still waiting for an answer
	w.wall = o.Start
	m.Tick(ctx)
	m.wg.Wait()
	w.wall = w.wall.Add(time.Second)
	m.Tick(ctx)
	m.wg.Wait()
	if got := rec.list(); len(got) != 1 || got[0] != "launch u001" {
		t.Fatalf("actions %v: want u001 launched", got)
	}
	if v := o.vehicle("u000"); v.Role != RolePool {
		t.Fatalf("u000 is %s, want in the pool", v.Role)
	}
	// The same when the vehicle became busy between the step and the
	// launch: it goes back to the pool, and the slot is free again.
	o.Slots[0].VehicleID = ""
	o.vehicle("u001").Role, o.vehicle("u001").Slot = RolePool, -1
	m.mu.Lock()
	acts, _ := o.Step(w.wall, w.look)
	id := acts[0].VehicleID
	m.busy[id] = true
	m.start(ctx, o, acts)
	m.mu.Unlock()
	m.wg.Wait()
	if v := o.vehicle(id); v.Role != RolePool || o.Slots[0].VehicleID != "" {
		t.Fatalf("%s is %s, slot 0 has %q: want it back in the pool, the slot free", id, v.Role, o.Slots[0].VehicleID)
	}
}

// A drone on station whose charge is not reported (battery_remaining −1,
// as the fleet holds it until the first SYS_STATUS: right after a station
// restart) is not sent home for it: −1 is no charge. With readings of this
// patrol the last one stands in; with none it has no must-leave time until
// it reports, and then is judged again.
func TestUnknownChargeIsNoMustLeave(t *testing.T) {
	w, o, _ := twoOnStation(t)
	// A few minutes of patrol: slot 0's drone has readings, slot 1's
	// drone's are forgotten below (a restarted station has none).
	for i := 0; i < 40; i++ {
		w.wall = w.wall.Add(5 * time.Second)
		o.Step(w.wall, w.look)
	}
	withReadings, without := o.Slots[0].VehicleID, o.Slots[1].VehicleID
	o.vehicle(without).samples = nil
	for _, id := range []string{withReadings, without} {
		v := w.vs[id]
		v.BatteryPct = -1
		w.vs[id] = v
	}
	w.wall = w.wall.Add(5 * time.Second)
	a, notes := o.Step(w.wall, w.look)
	if home := acts(a, ActReturn); len(home) != 0 {
		t.Fatalf("sent home with no charge reported: %v (notes %v)", home, notes)
	}
	for _, n := range notes {
		if n.Fields["action"] == "must_leave" {
			t.Fatalf("must_leave with no charge reported: %s", n.Message)
		}
	}
	if p := o.prediction(o.vehicle(without), w.vs[without]); !p.BatteryUnknown || !math.IsInf(p.LeaveInS, 1) {
		t.Fatalf("prediction without readings: %+v", p)
	}
	if p := o.prediction(o.vehicle(withReadings), w.vs[withReadings]); p.BatteryUnknown || p.LeaveInS <= 0 {
		t.Fatalf("prediction from the last reading: %+v", p)
	}
	// Once it reports a charge under what the way home needs, it leaves.
	v := w.vs[without]
	v.BatteryPct = o.Params.ReservePct
	w.vs[without] = v
	w.wall = w.wall.Add(5 * time.Second)
	a, _ = o.Step(w.wall, w.look)
	if home := acts(a, ActReturn); len(home) != 1 || home[0] != without {
		t.Fatalf("at the reserve: returns %v, want %s", home, without)
	}
}

// A drone that never reports its charge is not left on station for ever:
// past batteryUnknownGraceS it is reckoned from a full pack at its launch
// at the expected consumption, the operator is warned once, and it is sent
// home by the reckoning — before a full pack at that consumption would be
// flat. Before, a drone whose SYS_STATUS never came had no must-leave time
// at all.
func TestSilentBatteryIsReckonedAndSentHome(t *testing.T) {
	w, o, up := twoOnStation(t)
	launched := w.wall
	silent := up[1]
	v := w.vs[silent]
	v.BatteryPct = -1
	w.vs[silent] = v
	var warned []Note
	var home time.Time
	empty := launched.Add(secs(100 / o.priorRate(o.vehicle(silent))))
	for w.wall.Before(empty) && home.IsZero() {
		w.wall = w.wall.Add(5 * time.Second)
		a, notes := o.Step(w.wall, w.look)
		for _, n := range notes {
			if n.Fields["action"] == "battery_unknown" {
				warned = append(warned, n)
				if n.VehicleID != silent {
					t.Errorf("battery_unknown for %s, which reports its charge", n.VehicleID)
				}
			}
		}
		if len(warned) == 0 {
			if p := o.prediction(o.vehicle(silent), w.vs[silent]); !p.BatteryUnknown || !math.IsInf(p.LeaveInS, 1) {
				t.Fatalf("before the warning: prediction %+v, want unknown with no must-leave time", p)
			}
		}
		for _, id := range acts(a, ActReturn) {
			if id != silent {
				t.Fatalf("%s sent home at %v (it reports 90 %%)", id, w.wall.Sub(launched))
			}
			home = w.wall
		}
	}
	if len(warned) != 1 {
		t.Fatalf("%d battery_unknown warnings, want 1: %v", len(warned), warned)
	}
	if home.IsZero() {
		t.Fatalf("a drone reporting no charge was not sent home in the %v a full pack lasts at the expected consumption", empty.Sub(launched))
	}
	t.Logf("warned: %s; sent home %v after launch (a full pack lasts %v at the expected consumption)", warned[0].Message, home.Sub(launched), empty.Sub(launched))
}

// twoOnStation is an operation of 2 slots and 4 drones whose first two
// were launched in time for its start and fly at 90 %.
func twoOnStation(t *testing.T) (*world, *Operation, []string) {
	t.Helper()
	w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	o := newOp(2, 4, w)
	w.wall = o.Start.Add(-secs(o.leadNoMargin(0) + o.Params.MarginS))
	a, _ := o.Step(w.wall, w.look)
	up := acts(a, ActLaunch)
	if len(up) != 2 {
		t.Fatalf("launched %v, want 2", up)
	}
	for _, id := range up {
		o.LaunchDone(id, true, nil, w.wall)
		w.fly(id, 90)
	}
	return w, o, up
}
