package telemetry

import (
	"testing"
	"time"
)

// A patrol operation's coverage point carries the operation and slot tags
// in InfluxDB's key order, without the system_id 0 of a point that names
// no vehicle's system.
func TestCoveragePointTags(t *testing.T) {
	p := Point{Time: time.Unix(1700000000, 0), Measurement: "coverage",
		Tags:   Tags{Operation: "op1", Slot: "2", EventArea: "a1", Mission: "op1/slot-2", Vehicle: "uav-1"},
		Fields: []Field{{Name: "uncovered_s", Float: 12.5}, {Name: "handovers", Kind: FieldInt, Int: 3}}}
	got := string(p.AppendLine(nil))
	want := "coverage,event_area=a1,mission=op1/slot-2,operation=op1,slot=2,vehicle=uav-1 uncovered_s=12.5,handovers=3i 1700000000000000000\n"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	// Samples' tags are unchanged: no operation, slot; system_id kept.
	s := Sample{Vehicle: "uav-1", SystemID: 0}
	if b := string(s.appendTags(nil)); b != ",system_id=0,vehicle=uav-1" {
		t.Fatalf("sample tags %q", b)
	}
}
