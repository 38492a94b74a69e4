package fleet

import "time"

// SetAssignment tags vehicle id with the mission (plan) and event area it
// now flies for; empty strings clear the tags. The ground station calls it
// when a mission upload succeeds (with the plan's IDs when the upload came
// from a plan assignment, with empty ones for a raw upload or a clear), so
// the tags always describe the mission on board. It changes no time: the
// recorder stores nothing for the change itself, and the next state heard
// from the vehicle is stored at once with the new tags. It reports whether
// the vehicle is known.
func (f *Fleet) SetAssignment(id, mission, eventArea string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.vehicles[id]
	if !ok {
		return false
	}
	v := &e.v
	if v.Mission == mission && v.EventArea == eventArea {
		return true
	}
	v.Mission, v.EventArea = mission, eventArea
	f.publishEntry(e)
	return true
}

// ExpectAssignment tags vehicle id with mission and eventArea from the
// moment it joins the fleet; empty strings withdraw the expectation. A
// restarted station learns its operations' drones only as they are heard
// again, and tagging them on the scheduler's next tick left their first
// states untagged (on a loaded machine, for as long as the tick took to
// come). It does nothing to a vehicle already in the fleet (that is
// SetAssignment's) and reports whether the vehicle was unknown, the
// expectation taken.
func (f *Fleet) ExpectAssignment(id, mission, eventArea string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.vehicles[id]; ok {
		return false
	}
	if mission == "" && eventArea == "" {
		delete(f.expected, id)
		return true
	}
	if f.expected == nil {
		f.expected = make(map[string][2]string)
	}
	f.expected[id] = [2]string{mission, eventArea}
	return true
}

// endAssignmentLocked clears the tags of a vehicle whose mission just
// completed and returns its snapshot to publish, its slot and revision
// (nil, -1, 0 when there was nothing to clear). f.mu must be held.
func (f *Fleet) endAssignmentLocked(id string) (*Vehicle, int32, uint64) {
	e, ok := f.vehicles[id]
	if !ok || e.v.Mission == "" && e.v.EventArea == "" {
		return nil, -1, 0
	}
	e.v.Mission, e.v.EventArea = "", ""
	e.rev++
	snap := e.v.clone()
	return &snap, e.slot, e.rev
}

// publishEntry publishes e's state as changed by something no data
// caused (no cause, no events). f.mu must be held.
func (f *Fleet) publishEntry(e *entry) {
	e.rev++
	snap := e.v.clone()
	f.publish(&snap, e.slot, e.rev, nil, nil)
}

// SetControl records who holds vehicle id's control since when (holder ""
// frees it) and publishes the vehicle, so the WebSocket and MQTT streams
// and the vehicle API show a change at once, even for a silent vehicle.
// Like SetAssignment it changes no time, so recorders store nothing for
// it. It reports whether the vehicle is known.
func (f *Fleet) SetControl(id, holder string, since time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.vehicles[id]
	if !ok {
		return false
	}
	v := &e.v
	var c *Control
	if holder != "" {
		c = &Control{Holder: holder, Since: since}
	}
	if (c == nil) == (v.Control == nil) && (c == nil || c.Holder == v.Control.Holder && c.Since.Equal(v.Control.Since)) {
		return true
	}
	v.Control = c
	f.publishEntry(e)
	return true
}

// SetTransfer records the state of an upload to vehicle id and publishes
// the vehicle, so consoles follow it item by item (the ground station
// calls it at most a few dozen times per transfer). Like SetAssignment it
// changes no time. It reports whether the vehicle is known.
func (f *Fleet) SetTransfer(id string, t Transfer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.vehicles[id]
	if !ok {
		return false
	}
	v := &e.v
	v.Transfer = &t
	f.publishEntry(e)
	return true
}
