package rehearsal

import (
	"fmt"
	"testing"

	"github.com/burgut-uav/burgut/fleet"
)

// Every event the fleet emits between Record and Stop is kept, in order,
// more than the fleet's own history holds.
func TestRecorderKeepsEveryEvent(t *testing.T) {
	cfg := fleet.DefaultConfig()
	f := fleet.New(cfg)
	f.Emit(fleet.Event{VehicleID: "v0", Kind: fleet.EventStatusText, Severity: fleet.SeverityInfo, Message: "before"})
	r := Record(f)
	n := cfg.EventHistory + 500
	for i := 0; i < n; i++ {
		f.Emit(fleet.Event{VehicleID: fmt.Sprintf("v%d", i%3), Kind: fleet.EventStatusText, Severity: fleet.SeverityInfo, Message: fmt.Sprint(i)})
	}
	events, dropped := r.Stop()
	if dropped != 0 {
		t.Fatalf("%d events dropped", dropped)
	}
	if len(events) != n {
		t.Fatalf("recorded %d events, want %d", len(events), n)
	}
	for i, e := range events {
		if e.Message != fmt.Sprint(i) {
			t.Fatalf("event %d is %q: out of order or not the recording's", i, e.Message)
		}
	}
	// After Stop nothing more is taken (and emitting does not block).
	f.Emit(fleet.Event{VehicleID: "v0", Kind: fleet.EventStatusText, Message: "after"})
	if len(events) != n {
		t.Fatal("the recording grew after Stop")
	}
}
