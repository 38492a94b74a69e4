package fleet

import "time"

// EventKind names what happened. The strings are part of the public feeds
// (HTTP, MQTT, WebSocket): add kinds, never rename them.
type EventKind string

// Event kinds. Most are derived by Fleet.Update from state changes; the
// ground station emits the ones only a MAVLink message can tell
// (mission item reached, STATUSTEXT, failsafe).
const (
	EventConnected          EventKind = "connected"
	EventLinkLost           EventKind = "link_lost"
	EventLinkRegained       EventKind = "link_regained"
	EventArmed              EventKind = "armed"
	EventDisarmed           EventKind = "disarmed"
	EventModeChanged        EventKind = "mode_changed"
	EventMissionItemReached EventKind = "mission_item_reached"
	EventMissionComplete    EventKind = "mission_complete"
	EventFenceBreach        EventKind = "fence_breach"
	EventFenceCleared       EventKind = "fence_cleared"
	EventBatteryLow         EventKind = "battery_low"
	EventBatteryCritical    EventKind = "battery_critical"
	EventFailsafe           EventKind = "failsafe"
	EventStatusText         EventKind = "statustext"
	EventVideoChanged       EventKind = "video_changed"
	// EventSeparation warns that two of our airborne drones are predicted
	// to pass closer than the separation minima, horizontal and vertical
	// at once (severity warning) or the critical ones (critical), raised
	// once per pair per episode by the separation monitor (package
	// fleet/separation); EventSeparationCleared ends the episode. Fields:
	// "other_vehicle_id", "predicted_distance_m", "horizontal_m",
	// "vertical_m", "time_to_closest_s", "distance_m",
	// "yield_vehicle_id", "action".
	EventSeparation        EventKind = "separation"
	EventSeparationCleared EventKind = "separation_cleared"
	// EventCommand and EventUpload record who sent a command or uploaded a
	// mission, fence, rally set or parameter (Fields "actor", "name"),
	// emitted by the API after the vehicle answered.
	EventCommand EventKind = "command"
	EventUpload  EventKind = "upload"
	// EventSigningRejected alerts that frames claiming a keyed vehicle's
	// system ID were dropped: unsigned, signed with another key, replayed
	// or too old (Fields "reason", "count" since the last such event).
	EventSigningRejected EventKind = "signing_rejected"
	// EventControl tells everyone who holds a vehicle's control (issue
	// 12): Fields "action" (taken, takeover, released, expired, logout,
	// bypassed), "holder", "previous", "by", "since", and "command" of an
	// emergency command that bypassed the holder.
	EventControl EventKind = "control"
	// EventAlertAck tells that an operator acknowledged an alert: Fields
	// "seq" (the alert's), "alert_kind", "by", "at".
	EventAlertAck EventKind = "alert_ack"
	// EventOperation reports what a patrol operation (package
	// missions/operations) did with a vehicle or itself: Fields
	// "operation_id", "action" (launch, on_station, handover, must_leave,
	// failed, launch_failed, landed, started, finished…), "slot".
	EventOperation EventKind = "operation"
	// EventCoverageGap alerts that a slot of an operation is uncovered
	// inside its window: Fields "operation_id", "slot", "since".
	EventCoverageGap EventKind = "coverage_gap"
	// EventCoverageGapPredicted alerts, before it begins, that the pool
	// cannot keep a slot covered: Fields "operation_id", "slot",
	// "gap_start", "gap_end", "gap_s".
	EventCoverageGapPredicted EventKind = "coverage_gap_predicted"
)

// Severity ranks events for the alert list; the monitoring center shows
// Warning and Critical events as alerts.
type Severity string

// Severities, from least to most urgent.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Event is one thing that happened to one vehicle.
type Event struct {
	// Seq increases by one per event across the fleet, so consumers can
	// resume ("events since 1234") and detect gaps.
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	VehicleID string    `json:"vehicle_id"`
	Kind      EventKind `json:"kind"`
	Severity  Severity  `json:"severity"`
	Message   string    `json:"message"`
	// Fields carries the kind-specific details (e.g. "seq" for a mission
	// item, "mode"/"previous_mode" for a mode change). A field holding a
	// float that is not finite is recorded as nil (null in JSON), as a
	// vehicle's NaN is: encoding/json refuses NaN, and the event would
	// reach no relay.
	Fields map[string]any `json:"fields,omitempty"`
}

// IsAlert reports whether operators should see the event in the alert list.
func (e Event) IsAlert() bool {
	return e.Severity == SeverityWarning || e.Severity == SeverityCritical
}
