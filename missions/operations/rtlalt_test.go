package operations

import (
	"context"
	"fmt"
	"strings"
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
// sets the plan's parameters, RTL_ALT among them; one without an upload
// sets the RTL_ALT it is given first (refused when refuse is set: then it
// is not launched); a return with an altitude sets RTL_ALT first.
type rtlVehicles struct {
	checker
	rtlAlt map[string]float64 // metres
	refuse bool
}

func (r *rtlVehicles) Launch(ctx context.Context, id string, p *missions.DronePlan, upload bool, rtlAltM float64, tag Tag) error {
	r.mu.Lock()
	switch {
	case upload:
		if cm, ok := paramOf(p, "RTL_ALT"); ok {
			r.rtlAlt[id] = cm / 100
		}
	case rtlAltM > 0 && r.refuse:
		r.mu.Unlock()
		return fmt.Errorf("%w: set parameter \"RTL_ALT\": rejected, the vehicle holds %g", ErrRTLAlt, r.rtlAlt[id]*100)
	case rtlAltM > 0:
		r.rtlAlt[id] = rtlAltM
	}
	r.mu.Unlock()
	return r.checker.Launch(ctx, id, p, upload, rtlAltM, tag)
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
// layer) is relaunched: the vehicle flies with the plan's RTL_ALT again,
// and the RTL altitude the station predicts for it (Manager.RTLAlt, the
// separation monitor's) is the one the vehicle holds. Relaunched with an
// upload — for another slot, or for its own when its mission had changed
// — the plan's parameters set RTL_ALT back to the plan's: before, the
// station still believed it raised (RaisedRTL) and predicted the new
// slot's return layer. Relaunched for its own slot without an upload, the
// launch sets the plan's RTL_ALT back first: before, it stayed raised, and
// its next failsafe RTL came home on the return layer, across the layers
// of the other slots' returns. A vehicle that refuses that set is not
// launched (a refused launch: failed, its reason says why) and is still
// believed raised.
func TestRTLAltAfterARelaunch(t *testing.T) {
	for _, c := range []struct {
		name     string
		last     int    // the slot it flew for and was sent home from, raised
		diff     string // what its mission check finds
		uploaded bool
		refuse   bool // the vehicle refuses the RTL_ALT set
	}{
		{name: "another slot", last: 1, uploaded: true},
		{name: "its slot, mission changed", last: 0, diff: "mission: item 3 differs", uploaded: true},
		{name: "its slot, holding its plan", last: 0, uploaded: false},
		{name: "its slot, holding its plan, RTL_ALT refused", last: 0, uploaded: false, refuse: true},
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
			raised := o.Plans[c.last].ReturnAlt
			act := &rtlVehicles{checker: checker{diff: c.diff}, rtlAlt: map[string]float64{v.ID: raised}, refuse: c.refuse}
			ff := &eventFleet{fakeFleet: fakeFleet{vs: w.vs}}
			m, err := New(Config{Fleet: ff, Act: act, Now: func() time.Time { return w.wall }})
			if err != nil {
				t.Fatal(err)
			}
			m.ops[o.ID] = o
			w.wall = o.Start
			m.Tick(t.Context())
			m.wg.Wait()
			_, ups := act.seen()
			held := act.held(v.ID)
			plan := rtlAlt(o.Plans[0].Plan)
			if c.refuse {
				if len(ups) != 0 {
					t.Errorf("launches %v after the RTL_ALT set was refused, want none", ups)
				}
				if v.Role != RoleFailed || !strings.Contains(v.Reason, "RTL_ALT") {
					t.Errorf("%s is %s (%q), want failed for the refused RTL_ALT", v.ID, v.Role, v.Reason)
				}
				if !v.RaisedRTL || held != raised {
					t.Errorf("RaisedRTL %v, the vehicle holds %g m: want still raised at %g m", v.RaisedRTL, held, raised)
				}
				failed := 0
				for _, e := range ff.taken() {
					if e.Fields["action"] == "launch_failed" && e.VehicleID == v.ID {
						failed++
					}
				}
				if failed != 1 {
					t.Errorf("%d launch_failed events, want 1", failed)
				}
				return
			}
			if len(ups) != 1 || ups[0] != fmt.Sprintf("%s upload=%v", v.ID, c.uploaded) {
				t.Fatalf("launches %v, want %s once with upload=%v", ups, v.ID, c.uploaded)
			}
			if v.Role != RoleTransit || v.Slot != 0 {
				t.Fatalf("%s is %s for slot %d, want in transit for slot 0", v.ID, v.Role, v.Slot)
			}
			if held != plan {
				t.Errorf("the vehicle holds RTL_ALT %g m after its launch, want the plan's %g m (its last return raised it to %g m)", held, plan, raised)
			}
			if v.RaisedRTL {
				t.Errorf("%s still believed raised after its launch", v.ID)
			}
			got, ok := m.RTLAlt(v.ID)
			if !ok || got != held {
				t.Errorf("the station predicts an RTL of %s at %g m (%v), the vehicle holds RTL_ALT %g m", v.ID, got, ok, held)
			}
		})
	}
}
