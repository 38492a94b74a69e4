package relay

import (
	"strings"
	"time"

	"github.com/burgut-uav/burgut/fleet"
)

// SchemaVersion is the version of every JSON payload this package emits
// (MQTT and WebSocket). It changes only when a field changes meaning or
// disappears; new fields are added without a bump.
const SchemaVersion = 1

// TopicVersion is the topic scheme's version, the second topic level.
const TopicVersion = "v1"

// Topics builds the MQTT topic scheme of one station:
//
//	burgut/v1/<station>/status                 presence: "online"/"offline" (retained, QoS 1, last will)
//	burgut/v1/<station>/vehicles/<id>/state    vehicle state (retained, QoS 0, at the state rate)
//	burgut/v1/<station>/vehicles/<id>/events   every event of the vehicle (QoS 1, not retained)
//	burgut/v1/<station>/vehicles/<id>/video    the vehicle's video streams (retained, QoS 1)
//	burgut/v1/<station>/alerts                 warning and critical events of every vehicle (QoS 1)
//
// Subscribe to burgut/v1/+/vehicles/+/state for every station's positions.
type Topics struct {
	Station string
}

// Prefix is burgut/v1/<station>.
func (t Topics) Prefix() string { return "burgut/" + TopicVersion + "/" + TopicLevel(t.Station) }

// Status is the presence topic.
func (t Topics) Status() string { return t.Prefix() + "/status" }

// Audit is the topic of the station's audit log entries (only admins
// may read it on the embedded broker).
func (t Topics) Audit() string { return t.Prefix() + "/audit" }

// Operation is a patrol operation's coverage topic (retained).
func (t Topics) Operation(id string) string { return t.Prefix() + "/operations/" + id }

// Alerts is the station-wide alert topic.
func (t Topics) Alerts() string { return t.Prefix() + "/alerts" }

// State is a vehicle's state topic.
func (t Topics) State(vehicleID string) string { return t.vehicle(vehicleID) + "/state" }

// Events is a vehicle's event topic.
func (t Topics) Events(vehicleID string) string { return t.vehicle(vehicleID) + "/events" }

// Video is a vehicle's video-link topic.
func (t Topics) Video(vehicleID string) string { return t.vehicle(vehicleID) + "/video" }

func (t Topics) vehicle(id string) string { return t.Prefix() + "/vehicles/" + TopicLevel(id) }

// TopicLevel makes s safe as one MQTT topic level: the wildcards '+' and
// '#', the separator '/' and NUL become '_'; an empty string becomes "_".
func TopicLevel(s string) string {
	if s == "" {
		return "_"
	}
	if !strings.ContainsAny(s, "+#/\x00") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '+', '#', '/', 0:
			return '_'
		}
		return r
	}, s)
}

// StatePayload is the JSON of a state message: the fleet.Vehicle fields at
// the top level plus the schema, station and a stale flag.
type StatePayload struct {
	Schema  int    `json:"schema"`
	Station string `json:"station"`
	// Stale is true when the vehicle's data is older than the relay's
	// stale age or its link is lost: do not trust the position.
	Stale bool `json:"stale"`
	fleet.Vehicle
}

// EventPayload is the JSON of an event or alert message.
type EventPayload struct {
	Schema  int    `json:"schema"`
	Station string `json:"station"`
	fleet.Event
}

// VideoPayload is the JSON of a video message: every stream the vehicle
// currently advertises (an empty list when it has none any more).
type VideoPayload struct {
	Schema    int                 `json:"schema"`
	Station   string              `json:"station"`
	VehicleID string              `json:"vehicle_id"`
	Time      time.Time           `json:"time"`
	Streams   []fleet.VideoStream `json:"streams"`
}

// StatusPayload is the JSON of the station presence message.
type StatusPayload struct {
	Schema  int       `json:"schema"`
	Station string    `json:"station"`
	Status  string    `json:"status"` // "online" or "offline"
	Time    time.Time `json:"time"`
}
