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

// The report's fault entries name the vehicles the fault hit, so the map
// marks them and only their plots show the fault.
func TestReportFaultEntriesNameTheirVehicles(t *testing.T) {
	res := &Result{
		Timeline: []Entry{
			{T: time.Second, Kind: EntryFault, Name: "gps out", Text: "gps_loss on vehicles 0,2", OK: true, Line: 12},
			{T: 3 * time.Second, Kind: EntryFault, Name: FaultStationRestart, Text: "station restart", OK: true},
			{T: 4 * time.Second, Kind: EntryEvent, Name: "link_lost", Vehicle: "uav-b", OK: true},
		},
		Faults: []FiredFault{
			{Name: "gps out", Kind: FaultGPSLoss, Vehicles: []string{"uav-a", "uav-c"}, T: time.Second, Line: 12},
			{Name: FaultStationRestart, Kind: FaultStationRestart, T: 3 * time.Second, Line: 30},
		},
	}
	rep := res.Report(nil)
	got := [][]string{rep.Timeline[0].Vehicles, rep.Timeline[1].Vehicles, rep.Timeline[2].Vehicles}
	want := [][]string{{"uav-a", "uav-c"}, nil, {"uav-b"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("timeline vehicles %q, want %q", got, want)
	}
}
