package operations

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/missions"
)

// RTLAlt gives the separation monitor the RTL altitude of a drone an
// active operation flies for a slot: the plan's RTL_ALT, the slot's
// return layer while the station has set it; nothing for a pool drone,
// a landed drone of a finished operation or one unknown.
func TestRTLAltOfAnOperationsDrone(t *testing.T) {
	m, err := New(Config{Fleet: &fakeFleet{vs: map[string]fleet.Vehicle{}}})
	if err != nil {
		t.Fatal(err)
	}
	dp := &missions.DronePlan{TransitAlt: 45, FenceParams: []missions.ParamValue{{Name: "RTL_ALT", Value: 5000}}}
	o := &Operation{ID: "op1", State: StateRunning, Plans: []SlotPlan{{Plan: dp, ReturnAlt: 80}},
		Vehicles: []*VehicleState{
			{ID: "home", Role: RoleReturning, Slot: 0},
			{ID: "raised", Role: RoleReturning, Slot: 0, RaisedRTL: true},
			{ID: "patrol", Role: RoleStation, Slot: 0},
			{ID: "parked", Role: RolePool, Slot: -1},
		}}
	m.ops[o.ID] = o
	for id, want := range map[string]float64{"home": 50, "raised": 80, "patrol": 50, "parked": 0, "stranger": 0} {
		got, ok := m.RTLAlt(id)
		if ok != (want > 0) || got != want {
			t.Errorf("%s: RTL altitude %v (%v), want %v", id, got, ok, want)
		}
	}
	// Finished, its drones still flying home keep theirs.
	o.State = StateFinished
	if _, ok := m.RTLAlt("raised"); !ok {
		t.Error("a drone flying home at its operation's end lost its RTL altitude")
	}
	for _, v := range o.Vehicles {
		v.Role = RolePool
	}
	if _, ok := m.RTLAlt("raised"); ok {
		t.Error("a landed drone of a finished operation still has its RTL altitude")
	}
}

// rtlVehicles is a checker that keeps each vehicle's RTL_ALT as the
// station's actuator leaves it (app/operations.go): a launch that uploads
// sets the plan's parameters, RTL_ALT among them; a return with an
// altitude sets RTL_ALT first.
type rtlVehicles struct {
	checker
	rtlAlt map[string]float64 // metres
}

func (r *rtlVehicles) Launch(ctx context.Context, id string, p *missions.DronePlan, upload bool, tag Tag) error {
	if cm, ok := paramOf(p, "RTL_ALT"); ok && upload {
		r.mu.Lock()
		r.rtlAlt[id] = cm / 100
		r.mu.Unlock()
	}
	return r.checker.Launch(ctx, id, p, upload, tag)
}

func (r *rtlVehicles) ReturnHome(ctx context.Context, id string, alt float64) error {
	if alt > 0 {
		r.mu.Lock()
		r.rtlAlt[id] = alt
		r.mu.Unlock()
	}
	return r.recorder.ReturnHome(ctx, id, alt)
}

func (r *rtlVehicles) held(id string) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rtlAlt[id]
}

// A drone whose last return was raised (RTL_ALT set to its slot's return
// layer) is relaunched: the RTL altitude the station predicts for it
// (Manager.RTLAlt, the separation monitor's) is the one the vehicle
// holds. Relaunched with an upload — for another slot, or for its own
// when its mission had changed — the plan's parameters set RTL_ALT back
// to the plan's: before, the station still believed it raised (RaisedRTL)
// and predicted the new slot's return layer. Relaunched for its own slot
// without an upload, RTL_ALT stays raised, and so does the prediction.
func TestRTLAltAfterARelaunch(t *testing.T) {
	for _, c := range []struct {
		name     string
		last     int    // the slot it flew for and was sent home from, raised
		diff     string // what its mission check finds
		uploaded bool
		wantPlan bool // RTL_ALT is the new slot plan's again
	}{
		{name: "another slot", last: 1, uploaded: true, wantPlan: true},
		{name: "its slot, mission changed", last: 0, diff: "mission: item 3 differs", uploaded: true, wantPlan: true},
		{name: "its slot, holding its plan", last: 0, uploaded: false, wantPlan: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
			o := newOp(2, 1, w)
			for i := range o.Plans {
				o.Plans[i].Plan.FenceParams = []missions.ParamValue{{Name: "RTL_ALT", Value: float64(5000 + 1000*i)}}
				o.Plans[i].ReturnAlt = float64(80 + 10*i)
			}
			v := o.Vehicles[0] // the pool's only drone: launched for slot 0
			v.RaisedRTL, v.Uploaded = true, c.last
			act := &rtlVehicles{checker: checker{diff: c.diff}, rtlAlt: map[string]float64{v.ID: o.Plans[c.last].ReturnAlt}}
			m, err := New(Config{Fleet: &fakeFleet{vs: w.vs}, Act: act, Now: func() time.Time { return w.wall }})
			if err != nil {
				t.Fatal(err)
			}
			m.ops[o.ID] = o
			w.wall = o.Start
			m.Tick(t.Context())
			m.wg.Wait()
			if _, ups := act.seen(); len(ups) != 1 || ups[0] != fmt.Sprintf("%s upload=%v", v.ID, c.uploaded) {
				t.Fatalf("launches %v, want %s once with upload=%v", ups, v.ID, c.uploaded)
			}
			if v.Role != RoleTransit || v.Slot != 0 {
				t.Fatalf("%s is %s for slot %d, want in transit for slot 0", v.ID, v.Role, v.Slot)
			}
			held := act.held(v.ID)
			if want := rtlAlt(o.Plans[0].Plan); c.wantPlan != (held == want) {
				t.Fatalf("the vehicle holds RTL_ALT %g m (the plan's %g m): the case does not test what it says", held, want)
			}
			got, ok := m.RTLAlt(v.ID)
			if !ok || got != held {
				t.Errorf("the station predicts an RTL of %s at %g m (%v), the vehicle holds RTL_ALT %g m", v.ID, got, ok, held)
			}
		})
	}
}
