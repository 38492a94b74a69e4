package scenario

import (
	"reflect"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// One record per vehicle hit becomes one firing per fault and time, with
// the station IDs of its vehicles; a station restart hits none.
func TestFiredFaultsGroupsTheLog(t *testing.T) {
	gps := &Fault{Name: "gps out", Kind: FaultGPSLoss, node: &yaml.Node{Line: 12}}
	drop := &Fault{Kind: FaultBatteryDrop, node: &yaml.Node{Line: 20}}
	restart := &Fault{Kind: FaultStationRestart, node: &yaml.Node{Line: 30}}
	r := &runner{ids: []string{"uav-a", "uav-b", "uav-c"}, faultLog: []firedFault{
		{Fault: gps, Index: 0, T: time.Second}, {Fault: gps, Index: 2, T: time.Second},
		{Fault: drop, Index: 1, T: 2 * time.Second},
		{Fault: restart, Index: -1, T: 3 * time.Second},
		{Fault: gps, Index: 1, T: 4 * time.Second}, // the same fault again (a repeated trigger)
	}}
	want := []FiredFault{
		{Name: "gps out", Kind: FaultGPSLoss, Vehicles: []string{"uav-a", "uav-c"}, T: time.Second, Line: 12},
		{Name: FaultBatteryDrop, Kind: FaultBatteryDrop, Vehicles: []string{"uav-b"}, T: 2 * time.Second, Line: 20},
		{Name: FaultStationRestart, Kind: FaultStationRestart, T: 3 * time.Second, Line: 30},
		{Name: "gps out", Kind: FaultGPSLoss, Vehicles: []string{"uav-b"}, T: 4 * time.Second, Line: 12},
	}
	if got := r.firedFaults(); !reflect.DeepEqual(got, want) {
		t.Fatalf("firedFaults =\n%+v\nwant\n%+v", got, want)
	}
}
