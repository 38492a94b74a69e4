package fleet

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"
)

// Config holds the thresholds that turn state into alerts.
type Config struct {
	// BatteryLowPct and BatteryCriticalPct raise battery_low and
	// battery_critical when the remaining charge falls through them.
	BatteryLowPct      float64
	BatteryCriticalPct float64
	// EventHistory is how many recent events Events() can return.
	EventHistory int
}

// DefaultConfig mirrors common autopilot failsafe levels (ArduPilot's
// BATT_LOW_MAH/BATT_CRT_MAH are usually set near 20 % and 10 %).
func DefaultConfig() Config {
	return Config{BatteryLowPct: 20, BatteryCriticalPct: 10, EventHistory: 2000}
}

// Fleet is the live state of every vehicle. It is safe for concurrent use:
// several writers (one ground-station dispatcher per link) and any number
// of readers.
// Writers never wait on readers: subscribers get coalesced, bounded queues.
type Fleet struct {
	cfg Config

	mu       sync.RWMutex
	vehicles map[string]*entry
	bySlot   []*entry             // the entries by slot
	expected map[string][2]string // ExpectAssignment: mission, event area
	seq      uint64
	history  []Event // ring of recent events
	histHead int

	subMu sync.Mutex
	subs  map[*Subscription]struct{}
}

// New returns an empty fleet.
func New(cfg Config) *Fleet {
	if cfg.EventHistory <= 0 {
		cfg.EventHistory = DefaultConfig().EventHistory
	}
	return &Fleet{
		cfg:      cfg,
		vehicles: make(map[string]*entry),
		subs:     make(map[*Subscription]struct{}),
	}
}

// Update applies fn to the vehicle with the given id (creating it if it is
// new), derives the events the change implies, and publishes the new state
// and events to subscribers. at is the time the data was received; it
// becomes LastSeen and Updated. fn must not block or call back into the
// Fleet.
//
// Publishing happens under the fleet's lock, so with several writers (one
// dispatcher per link) subscribers receive events in Seq order.
func (f *Fleet) Update(id string, at time.Time, fn func(v *Vehicle)) (Vehicle, []Event) {
	var snap Vehicle
	events := f.apply(id, at, at, true, nil, nil, nil, &snap, nil, fn)
	return snap, events
}

// UpdateFrom is Update with the input that caused the change (the ground
// station passes the MAVLink message): KeepAll subscribers receive it
// beside the new state (Batch.Causes), so a store can keep one point per
// message. The fleet never looks into it.
func (f *Fleet) UpdateFrom(id string, at time.Time, cause any, fn func(v *Vehicle)) (Vehicle, []Event) {
	var snap Vehicle
	events := f.apply(id, at, at, true, cause, nil, nil, &snap, nil, fn)
	return snap, events
}

// Ref is a writer's reference to one vehicle's entry in the fleet, for
// UpdateRef. The zero Ref is ready to use; it is filled in by its first
// update and must then be used for that vehicle ID only by one writer.
type Ref struct {
	id string
	e  *entry
}

// UpdateRef is UpdateFrom for a writer that updates the same vehicle
// many times a second (the ground station's dispatcher: every message
// received), returning nothing: ref, kept by the writer for the vehicle,
// finds the vehicle's entry without looking its ID up in the map of every
// vehicle, and the state is not copied back to a caller that does not
// read it. At 2,000 vehicles (36,000 updates a second) the map lookup was
// about 1.5 % of the station's CPU.
func (f *Fleet) UpdateRef(ref *Ref, id string, at time.Time, cause any, fn func(v *Vehicle)) {
	f.apply(id, at, at, true, cause, nil, ref, nil, nil, fn)
}

// UpdatePending is UpdateRef for a writer that hands its states to the
// subscribers in batches: a new state that derives no event is added to
// p, and reaches the subscribers when the writer calls Flush(p). A state
// that derives events is published at once, after what p holds, so every
// subscriber still sees events in Seq order and a writer's states in the
// order it made them. The fleet's own state (Get, List) changes at once.
//
// Why: the ground station's dispatchers update the fleet for every
// message (36,000 a second at 2,000 vehicles), and handing each state to
// the subscribers one by one took the subscribers' lock and every
// subscription's (three) for each, mutexes whose cache lines moved
// between the CPUs of the dispatchers and the subscribers: ~4 % of the
// station's CPU. A dispatcher's batch (a few milliseconds of one link's
// datagrams) now takes them once.
func (f *Fleet) UpdatePending(p *Pending, ref *Ref, id string, at time.Time, cause any, fn func(v *Vehicle)) {
	f.apply(id, at, at, true, cause, nil, ref, nil, p, fn)
}

// Refresh applies a change that no received data caused — a heartbeat
// timeout, the decaying rate of a silent vehicle — at time now. LastSeen
// and Updated only move forward to lastHeard (the last frame heard from
// the vehicle), never to now, so no consumer mistakes the refresh for
// data received at now: a recorder skips it, and a link_lost event carries
// the time the vehicle was last heard. Events are stamped now.
func (f *Fleet) Refresh(id string, lastHeard, now time.Time, fn func(v *Vehicle)) (Vehicle, []Event) {
	var snap Vehicle
	events := f.apply(id, lastHeard, now, false, nil, nil, nil, &snap, nil, fn)
	return snap, events
}

// RefreshNoted is Refresh whose derived events also carry note in their
// Fields: what the state alone cannot say, such as a link_lost the
// station could not verify because it was itself behind its link (the
// ground station's "unverified" fields). note's keys are added to (and
// override) the event's own fields; note is not kept.
func (f *Fleet) RefreshNoted(id string, lastHeard, now time.Time, note map[string]any, fn func(v *Vehicle)) (Vehicle, []Event) {
	var snap Vehicle
	events := f.apply(id, lastHeard, now, false, nil, note, nil, &snap, nil, fn)
	return snap, events
}

// apply is every update's work: it returns the events derived and, when
// out is not nil, sets *out to the new state. ref, when not nil, is the
// writer's reference to the vehicle's entry (UpdateRef), read and filled
// in here under f.mu. pend, when not nil, takes the new state if it
// derives no event (UpdatePending).
func (f *Fleet) apply(id string, heard, now time.Time, received bool, cause any, note map[string]any, ref *Ref, out *Vehicle, pend *Pending, fn func(v *Vehicle)) []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	var e *entry
	var existed bool
	if ref != nil && ref.e != nil && ref.id == id { // vehicles are never removed: the entry stays the ID's
		e, existed = ref.e, true
	} else {
		e, existed = f.vehicles[id]
	}
	var before eventFields
	if existed {
		before = eventFieldsOf(&e.v)
	} else {
		e = &entry{v: Vehicle{ID: id, BatteryPct: -1, FirstSeen: heard, Connected: true, MissionSeq: -1}, slot: int32(len(f.vehicles))}
		if a, ok := f.expected[id]; ok { // tagged from its first state on
			e.v.Mission, e.v.EventArea = a[0], a[1]
			delete(f.expected, id)
		}
		f.vehicles[id] = e
		f.bySlot = append(f.bySlot, e)
	}
	if ref != nil {
		ref.id, ref.e = id, e
	}
	v := &e.v
	fn(v)
	v.ID = id
	if heard.After(v.LastSeen) {
		v.LastSeen = heard
	}
	if received || heard.After(v.Updated) {
		v.Updated = heard
	}
	events := deriveEvents(f.cfg, existed, &before, v)
	for i := range events {
		if len(note) > 0 {
			if events[i].Fields == nil {
				events[i].Fields = make(map[string]any, len(note))
			}
			maps.Copy(events[i].Fields, note)
		}
		events[i] = f.recordLocked(events[i], now)
	}
	e.rev++
	if pend != nil {
		if len(events) == 0 {
			pend.add(v, e.slot, e.rev, cause)
			return nil
		}
		f.Flush(pend) // the writer's earlier states go first
	}
	snap := v.clone()
	f.publish(&snap, e.slot, e.rev, cause, events)
	if out != nil {
		*out = snap
	}
	return events
}

// Emit records an event that no state change implies (a STATUSTEXT, a
// mission item reached) and publishes it. Seq and, if zero, Time are set.
func (f *Fleet) Emit(e Event) Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	e = f.recordLocked(e, e.Time)
	var snap *Vehicle
	slot, rev := int32(-1), uint64(0)
	if e.Kind == EventMissionComplete { // the assignment ends with its mission
		snap, slot, rev = f.endAssignmentLocked(e.VehicleID)
	}
	f.publish(snap, slot, rev, nil, []Event{e})
	return e
}

func (f *Fleet) recordLocked(e Event, at time.Time) Event {
	f.seq++
	e.Seq = f.seq
	if e.Time.IsZero() {
		e.Time = at
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.Severity == "" {
		e.Severity = SeverityInfo
	}
	e.Fields = finiteFields(e.Fields)
	if len(f.history) < f.cfg.EventHistory {
		f.history = append(f.history, e)
	} else {
		f.history[f.histHead] = e
		f.histHead = (f.histHead + 1) % len(f.history)
	}
	return e
}

// finiteFields returns fields with every float that is not finite
// replaced by nil: a copy when there is one, else fields itself (the
// caller's map is never changed).
func finiteFields(fields map[string]any) map[string]any {
	finite := func(v any) bool {
		switch x := v.(type) {
		case float64:
			return !math.IsNaN(x) && !math.IsInf(x, 0)
		case float32:
			return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0)
		}
		return true
	}
	for _, v := range fields {
		if finite(v) {
			continue
		}
		out := make(map[string]any, len(fields))
		for k, v := range fields {
			if !finite(v) {
				v = nil
			}
			out[k] = v
		}
		return out
	}
	return fields
}

// Get returns a snapshot of one vehicle.
func (f *Fleet) Get(id string) (Vehicle, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	e, ok := f.vehicles[id]
	if !ok {
		return Vehicle{}, false
	}
	return e.v.clone(), true
}

// List returns snapshots of every vehicle, ordered by ID.
func (f *Fleet) List() []Vehicle {
	f.mu.RLock()
	out := make([]Vehicle, 0, len(f.vehicles))
	for _, e := range f.vehicles {
		out = append(out, e.v.clone())
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b Vehicle) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// Slot returns the vehicle's slot: a dense index (0, 1, …, in order of
// first appearance, never reused while the fleet lives), the same as
// Batch.Slots carries with its states.
func (f *Fleet) Slot(id string) (int32, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	e, ok := f.vehicles[id]
	if !ok {
		return -1, false
	}
	return e.slot, true
}

// Len is the number of vehicles known.
func (f *Fleet) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.vehicles)
}

// Events returns up to limit recent events with Seq > since, oldest first,
// optionally only those of one vehicle (vehicleID "" means all).
func (f *Fleet) Events(since uint64, vehicleID string, limit int) []Event {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n := len(f.history)
	out := make([]Event, 0)
	for i := 0; i < n; i++ {
		e := f.history[(f.histHead+i)%n]
		if e.Seq <= since || (vehicleID != "" && e.VehicleID != vehicleID) {
			continue
		}
		out = append(out, e)
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}

// entry is a vehicle's state and its slot: a dense index (0, 1, …, in
// order of first appearance; vehicles are never removed) that coalescing
// subscriptions index their pending states with instead of a map keyed by
// ID, looked up for every update of every subscriber.
type entry struct {
	v    Vehicle
	slot int32
	// rev counts the states published for the vehicle (under f.mu): a
	// coalescing subscription keeps a newer state when a writer's
	// pending batch (UpdatePending) hands it an older one later.
	rev uint64
}

// eventFields are the fields deriveEvents compares before and after an
// update: the fleet copies these, not the whole Vehicle (~520 bytes), on
// every update (36,000 a second at 2,000 vehicles).
type eventFields struct {
	Connected, Armed, FenceBreached bool
	Mode                            string
	BatteryPct                      float64
	Video                           []VideoStream
}

func eventFieldsOf(v *Vehicle) eventFields {
	return eventFields{Connected: v.Connected, Armed: v.Armed, FenceBreached: v.FenceBreached, Mode: v.Mode,
		BatteryPct: v.BatteryPct, Video: v.Video}
}

func deriveEvents(cfg Config, existed bool, before *eventFields, after *Vehicle) []Event {
	var out []Event
	add := func(kind EventKind, sev Severity, msg string, fields map[string]any) {
		out = append(out, Event{VehicleID: after.ID, Kind: kind, Severity: sev, Message: msg, Fields: fields})
	}
	if !existed {
		add(EventConnected, SeverityInfo, fmt.Sprintf("vehicle %s connected on %s (system %d)", after.ID, after.Link, after.SystemID),
			map[string]any{"link": after.Link, "system_id": after.SystemID})
		before.Connected = true
		before.BatteryPct = -1
	}
	if before.Connected && !after.Connected {
		add(EventLinkLost, SeverityCritical, fmt.Sprintf("link to %s lost", after.ID), map[string]any{"last_seen": after.LastSeen})
	}
	if !before.Connected && after.Connected {
		add(EventLinkRegained, SeverityInfo, fmt.Sprintf("link to %s regained", after.ID), nil)
	}
	if existed && before.Armed != after.Armed {
		if after.Armed {
			add(EventArmed, SeverityInfo, fmt.Sprintf("%s armed", after.ID), nil)
		} else {
			add(EventDisarmed, SeverityInfo, fmt.Sprintf("%s disarmed", after.ID), nil)
		}
	}
	if before.Mode != after.Mode && after.Mode != "" && before.Mode != "" {
		add(EventModeChanged, SeverityInfo, fmt.Sprintf("%s mode %s → %s", after.ID, before.Mode, after.Mode),
			map[string]any{"mode": after.Mode, "previous_mode": before.Mode})
	}
	if !before.FenceBreached && after.FenceBreached {
		add(EventFenceBreach, SeverityCritical, fmt.Sprintf("%s breached its geofence", after.ID), nil)
	}
	if before.FenceBreached && !after.FenceBreached {
		add(EventFenceCleared, SeverityInfo, fmt.Sprintf("%s back inside its geofence", after.ID), nil)
	}
	if after.BatteryPct >= 0 {
		b, a := before.BatteryPct, after.BatteryPct
		if b < 0 {
			b = 101 // first reading: a low first value still alerts
		}
		switch {
		case a <= cfg.BatteryCriticalPct && b > cfg.BatteryCriticalPct:
			add(EventBatteryCritical, SeverityCritical, fmt.Sprintf("%s battery critical (%.0f %%)", after.ID, a), map[string]any{"battery_pct": a})
		case a <= cfg.BatteryLowPct && b > cfg.BatteryLowPct:
			add(EventBatteryLow, SeverityWarning, fmt.Sprintf("%s battery low (%.0f %%)", after.ID, a), map[string]any{"battery_pct": a})
		}
	}
	if existed && !slices.Equal(before.Video, after.Video) {
		add(EventVideoChanged, SeverityInfo, fmt.Sprintf("%s video streams changed (%d)", after.ID, len(after.Video)), nil)
	}
	return out
}
