package fleet

import (
	"testing"
	"time"
)

// SetAssignment tags a known vehicle without moving its times (so no sample
// is stored for the change itself), publishes the tagged state, and the
// tags last until its mission completes.
func TestAssignmentTagsUntilMissionComplete(t *testing.T) {
	f := New(DefaultConfig())
	at := time.Unix(1_800_000_000, 0)
	f.Update("v1", at, func(v *Vehicle) { v.Mode = "GUIDED" })
	if f.SetAssignment("ghost", "p1", "a1") {
		t.Fatal("SetAssignment on an unknown vehicle reported success")
	}
	if _, ok := f.Get("ghost"); ok {
		t.Fatal("SetAssignment created a vehicle")
	}
	sub := f.Subscribe(SubscribeOptions{KeepAll: true})
	defer sub.Close()
	if !f.SetAssignment("v1", "p1", "a1") {
		t.Fatal("SetAssignment on a known vehicle failed")
	}
	v, _ := f.Get("v1")
	if v.Mission != "p1" || v.EventArea != "a1" || !v.LastSeen.Equal(at) || !v.Updated.Equal(at) {
		t.Fatalf("after SetAssignment: mission %q area %q last_seen %v updated %v", v.Mission, v.EventArea, v.LastSeen, v.Updated)
	}
	if b := sub.Next(); len(b.Vehicles) != 1 || b.Vehicles[0].Mission != "p1" {
		t.Fatalf("published %+v, want the tagged state once", b.Vehicles)
	}
	// Frames keep the tags; other events do not end them.
	f.Update("v1", at.Add(time.Second), func(v *Vehicle) { v.Armed = true })
	f.Emit(Event{VehicleID: "v1", Kind: EventMissionItemReached, Time: at.Add(2 * time.Second)})
	if v, _ := f.Get("v1"); v.Mission != "p1" || v.EventArea != "a1" {
		t.Fatalf("tags lost before the mission completed: %q %q", v.Mission, v.EventArea)
	}
	sub.Next()
	f.Emit(Event{VehicleID: "v1", Kind: EventMissionComplete, Time: at.Add(3 * time.Second)})
	if v, _ := f.Get("v1"); v.Mission != "" || v.EventArea != "" {
		t.Fatalf("tags kept after mission_complete: %q %q", v.Mission, v.EventArea)
	}
	if b := sub.Next(); len(b.Vehicles) != 1 || b.Vehicles[0].Mission != "" || len(b.Events) != 1 {
		t.Fatalf("mission_complete published %d states (%+v) and %d events, want the untagged state and the event", len(b.Vehicles), b.Vehicles, len(b.Events))
	}
}

// SetControl copies who holds a vehicle onto its state without moving its
// times, publishes only real changes, and frees it with an empty holder;
// a snapshot taken before a change keeps the old holder.
func TestSetControlPublishesChanges(t *testing.T) {
	f := New(DefaultConfig())
	at := time.Unix(1_800_000_000, 0)
	f.Update("v1", at, func(v *Vehicle) { v.Mode = "GUIDED" })
	if f.SetControl("ghost", "op1", at) {
		t.Fatal("SetControl on an unknown vehicle reported success")
	}
	sub := f.Subscribe(SubscribeOptions{KeepAll: true})
	defer sub.Close()
	since := at.Add(time.Minute)
	if !f.SetControl("v1", "op1", since) {
		t.Fatal("SetControl on a known vehicle failed")
	}
	before, _ := f.Get("v1")
	if before.Control == nil || before.Control.Holder != "op1" || !before.Control.Since.Equal(since) || !before.Updated.Equal(at) || !before.LastSeen.Equal(at) {
		t.Fatalf("after SetControl: %+v (updated %v)", before.Control, before.Updated)
	}
	if b := sub.Next(); len(b.Vehicles) != 1 || b.Vehicles[0].Control == nil || b.Vehicles[0].Control.Holder != "op1" {
		t.Fatalf("published %+v, want the held state once", b.Vehicles)
	}
	f.SetControl("v1", "op1", since) // no change: nothing published
	f.SetControl("v1", "boss", since.Add(time.Second))
	if b := sub.Next(); len(b.Vehicles) != 1 || b.Vehicles[0].Control.Holder != "boss" {
		t.Fatalf("takeover published %+v, want one state held by boss", b.Vehicles)
	}
	if before.Control.Holder != "op1" {
		t.Fatalf("an earlier snapshot changed to %q", before.Control.Holder)
	}
	f.SetControl("v1", "", time.Time{})
	if v, _ := f.Get("v1"); v.Control != nil {
		t.Fatalf("freed vehicle still held: %+v", v.Control)
	}
	if b := sub.Next(); len(b.Vehicles) != 1 || b.Vehicles[0].Control != nil {
		t.Fatalf("release published %+v", b.Vehicles)
	}
}

// A vehicle expected with a tag carries it from its first state (and its
// first published snapshot); a withdrawn expectation tags nothing, and a
// vehicle already in the fleet is left as it is.
func TestExpectAssignmentTagsFromTheFirstState(t *testing.T) {
	f := New(DefaultConfig())
	sub := f.Subscribe(SubscribeOptions{KeepAll: true})
	defer sub.Close()
	if !f.ExpectAssignment("v1", "op1/slot-0", "a1") || !f.ExpectAssignment("v2", "op1/slot-1", "a1") || !f.ExpectAssignment("v2", "", "") {
		t.Fatal("expectation refused for vehicles not in the fleet")
	}
	at := time.Unix(1000, 0)
	if v, _ := f.Update("v1", at, func(v *Vehicle) { v.Armed = true }); v.Mission != "op1/slot-0" || v.EventArea != "a1" {
		t.Fatalf("v1 first state tagged %q %q", v.Mission, v.EventArea)
	}
	if b := sub.Next(); len(b.Vehicles) != 1 || b.Vehicles[0].Mission != "op1/slot-0" {
		t.Fatalf("first published snapshot: %+v", b.Vehicles)
	}
	if v, _ := f.Update("v2", at, func(v *Vehicle) {}); v.Mission != "" {
		t.Fatalf("withdrawn expectation tagged v2 %q", v.Mission)
	}
	if f.ExpectAssignment("v1", "op2/slot-0", "a2") {
		t.Fatal("expectation taken for a vehicle in the fleet")
	}
	if v, _ := f.Get("v1"); v.Mission != "op1/slot-0" {
		t.Fatalf("known vehicle retagged by an expectation: %q", v.Mission)
	}
	// Taken once: the vehicle is tagged as SetAssignment and mission_complete leave it.
	f.Emit(Event{VehicleID: "v1", Kind: EventMissionComplete})
	if v, _ := f.Update("v1", at.Add(time.Second), func(v *Vehicle) {}); v.Mission != "" {
		t.Fatalf("tag back after mission_complete: %q", v.Mission)
	}
}
