package operations

import (
	"testing"

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
