package operations

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/missions"
)

// eventFleet is a fleet with an event history (EventSource) that keeps
// what the manager emits.
type eventFleet struct {
	fakeFleet
	mu      sync.Mutex
	history []fleet.Event
	emitted []fleet.Event
}

func (f *eventFleet) Events(since uint64, vehicleID string, limit int) []fleet.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fleet.Event
	for _, e := range f.history {
		if e.Seq > since && (vehicleID == "" || e.VehicleID == vehicleID) {
			out = append(out, e)
		}
	}
	return out
}

func (f *eventFleet) Emit(e fleet.Event) fleet.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.emitted = append(f.emitted, e)
	return e
}

func (f *eventFleet) raise(id string, kind fleet.EventKind, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.history = append(f.history, fleet.Event{Seq: uint64(len(f.history) + 1), VehicleID: id, Kind: kind, Severity: fleet.SeverityCritical, Message: msg})
}

func (f *eventFleet) taken() []fleet.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.emitted
	f.emitted = nil
	return out
}

// refuser is an Actuator that refuses the launches of the vehicles in no.
type refuser struct {
	recorder
	no map[string]bool
}

func (r *refuser) Launch(ctx context.Context, id string, p *missions.DronePlan, upload bool, rtlAltM float64, tag Tag) error {
	if err := r.recorder.Launch(ctx, id, p, upload, rtlAltM, tag); err != nil {
		return err
	}
	if r.no[id] {
		return errors.New("COMMAND_LONG MAV_CMD_MISSION_START: MAV_RESULT_DENIED")
	}
	return nil
}

// Each kind of failure of issue 13 ("battery critical, link lost, fence
// breach, failsafe, refused command"), as the vehicle's state shows it or
// as its own event reports it, takes the drone off its slot on the tick
// that sees it: a relief is launched for the slot on that same tick, the
// failed drone is not relaunched, the slot counts a replacement and a
// failed event says why. The manager runs the ticks (its event
// alarms and its launch outcomes included) over a scripted fleet.
func TestEveryFailureKindIsReplacedOnTheSameTick(t *testing.T) {
	cases := []struct {
		name string
		// fail makes the slot's drone fail (its state, an event, a
		// refused launch); refuse is the drone whose launch is refused.
		fail   func(w *world, f *eventFleet, id string)
		refuse bool
		reason string // in the failed event's reason
	}{
		{name: "link lost", fail: func(w *world, _ *eventFleet, id string) { set(w, id, func(v *fleet.Vehicle) { v.Connected = false }) }, reason: "link lost"},
		{name: "fence breach (state)", fail: func(w *world, _ *eventFleet, id string) {
			set(w, id, func(v *fleet.Vehicle) { v.FenceBreached = true })
		}, reason: "fence breach"},
		{name: "battery critical (state)", fail: func(w *world, _ *eventFleet, id string) { set(w, id, func(v *fleet.Vehicle) { v.BatteryPct = 9 }) }, reason: "battery critical"},
		{name: "failsafe event", fail: func(_ *world, f *eventFleet, id string) {
			f.raise(id, fleet.EventFailsafe, id+" failsafe: EKF variance")
		}, reason: "failsafe"},
		{name: "battery critical event", fail: func(_ *world, f *eventFleet, id string) {
			f.raise(id, fleet.EventBatteryCritical, id+" battery critical (9 %)")
		}, reason: "battery_critical"},
		{name: "fence breach event", fail: func(_ *world, f *eventFleet, id string) {
			f.raise(id, fleet.EventFenceBreach, id+" breached its geofence")
		}, reason: "fence_breach"},
		{name: "left AUTO (another GCS or the RC)", fail: func(w *world, _ *eventFleet, id string) { set(w, id, func(v *fleet.Vehicle) { v.Mode = "LOITER" }) }, reason: "mode LOITER"},
		{name: "failsafe RTL", fail: func(w *world, _ *eventFleet, id string) { set(w, id, func(v *fleet.Vehicle) { v.Mode = "RTL" }) }, reason: "mode RTL"},
		{name: "disarmed in flight", fail: func(w *world, _ *eventFleet, id string) { set(w, id, func(v *fleet.Vehicle) { v.Armed = false }) }, reason: "disarmed in flight"},
		{name: "launch refused", refuse: true, reason: "MAV_RESULT_DENIED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
			o := newOp(1, 3, w)
			f := &eventFleet{fakeFleet: fakeFleet{vs: w.vs}}
			act := &refuser{no: map[string]bool{}}
			if c.refuse {
				act.no["u000"] = true // the first picked (the pool's order)
			}
			m, err := New(Config{Fleet: f, Act: act, Now: func() time.Time { return w.wall }})
			if err != nil {
				t.Fatal(err)
			}
			m.ops[o.ID] = o
			ctx := t.Context()
			tick := func() []string {
				n := len(act.list())
				m.Tick(ctx)
				m.wg.Wait()
				return act.list()[n:]
			}
			w.wall = o.Start.Add(-time.Minute)
			first := tick()
			if len(first) != 1 || !strings.HasPrefix(first[0], "launch ") {
				t.Fatalf("first tick: %v, want one launch", first)
			}
			victim := strings.TrimPrefix(first[0], "launch ")
			if !c.refuse {
				w.fly(victim, 95)
				w.wall = o.Start
				tick()
				if o.Slots[0].VehicleID != victim || !o.Slots[0].Covered || o.vehicle(victim).Role != RoleStation {
					t.Fatalf("%s not on station: slot %+v", victim, *o.Slots[0])
				}
				f.taken()
				w.wall = w.wall.Add(time.Minute)
				c.fail(w, f, victim)
			}
			// The tick that sees the failure (for a refused launch: the
			// first after the refusal came back).
			w.wall = w.wall.Add(time.Second)
			done := tick()
			var relief string
			for _, d := range done {
				if id, ok := strings.CutPrefix(d, "launch "); ok {
					relief = id
				}
			}
			if relief == "" || relief == victim {
				t.Fatalf("after the failure the station did %v: want a relief for slot 0 other than %s", done, victim)
			}
			if v := o.vehicle(victim); v.Role != RoleFailed || !strings.Contains(v.Reason, c.reason) {
				t.Fatalf("%s: role %s reason %q, want failed with %q", victim, v.Role, v.Reason, c.reason)
			}
			if o.Slots[0].Replacement != 1 {
				t.Fatalf("slot 0 counts %d replacements, want 1", o.Slots[0].Replacement)
			}
			said := false
			for _, e := range f.taken() {
				r, _ := e.Fields["reason"].(string)
				said = said || e.VehicleID == victim && e.Kind == fleet.EventOperation && strings.Contains(r, c.reason)
			}
			if !said {
				t.Fatalf("no event says why %s left slot 0 (%q)", victim, c.reason)
			}
			// The relief flies the slot; the failed drone is not picked
			// again, however long the operation runs.
			w.fly(relief, 96)
			for i := 0; i < 20; i++ {
				w.wall = w.wall.Add(5 * time.Second)
				for _, d := range tick() {
					if d == "launch "+victim {
						t.Fatalf("the failed %s was launched again", victim)
					}
				}
			}
			if o.Slots[0].VehicleID != relief || !o.Slots[0].Covered {
				t.Fatalf("slot 0 after the relief: %+v", *o.Slots[0])
			}
		})
	}
}

func set(w *world, id string, f func(*fleet.Vehicle)) {
	v := w.vs[id]
	f(&v)
	w.vs[id] = v
}
