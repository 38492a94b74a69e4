// Package fleet holds the live state of every vehicle Burgut knows and the
// stream of events derived from it.
//
// It is pure domain code: no sockets, no database, no goroutines. The ground
// station writes into it (one Update per decoded MAVLink message), and the
// stores, relays and the HTTP API read from it through cheap snapshots or a
// Subscription. The rules that turn raw state into operator-facing events
// (armed, mode changed, battery low, link lost…) live here, so every consumer
// sees the same events.
package fleet

import (
	"time"
)

// Vehicle is a snapshot of one aircraft's state. Values are copies: a
// snapshot never changes after it is returned, so readers need no locks.
//
// Unknown values are reported as their zero value, except BatteryPct, which
// is -1 when the autopilot does not report it (0 % is a real, alarming value).
type Vehicle struct {
	// ID is stable across reconnects and URL-safe. It is derived from the
	// autopilot's UID when known, otherwise from (link, system ID).
	ID          string `json:"id"`
	SystemID    uint8  `json:"system_id"`
	ComponentID uint8  `json:"component_id"`
	// Link names the MAVLink link the vehicle was last heard on.
	Link string `json:"link"`
	// UID is the autopilot's unique hardware ID from AUTOPILOT_VERSION, 0 when
	// not (yet) known.
	UID       uint64 `json:"uid,omitempty"`
	Type      string `json:"type"`      // e.g. "quadrotor" (MAV_TYPE)
	Autopilot string `json:"autopilot"` // e.g. "ardupilotmega" (MAV_AUTOPILOT)

	Lat         float64 `json:"lat"`
	Lon         float64 `json:"lon"`
	AltMSL      float64 `json:"alt_msl_m"`
	RelativeAlt float64 `json:"relative_alt_m"`
	HeadingDeg  float64 `json:"heading_deg"`
	GroundSpeed float64 `json:"ground_speed_mps"`
	AirSpeed    float64 `json:"air_speed_mps"`
	Climb       float64 `json:"climb_mps"`
	// VelNorth and VelEast are the ground velocity's components
	// (GLOBAL_POSITION_INT vx, vy): the direction of travel, which the
	// heading (where the nose points) is not. The separation monitor
	// extrapolates positions with them.
	VelNorth      float64 `json:"vel_north_mps"`
	VelEast       float64 `json:"vel_east_mps"`
	RollDeg       float64 `json:"roll_deg"`
	PitchDeg      float64 `json:"pitch_deg"`
	YawDeg        float64 `json:"yaw_deg"`
	BatteryPct    float64 `json:"battery_pct"`
	BatteryVolt   float64 `json:"battery_v"`
	BatteryAmp    float64 `json:"battery_a"`
	GPSFix        int     `json:"gps_fix"` // GPS_FIX_TYPE: 0 none … 3 3D, 6 RTK fixed
	Satellites    int     `json:"satellites"`
	Mode          string  `json:"mode"`
	CustomMode    uint32  `json:"custom_mode"`
	Armed         bool    `json:"armed"`
	SystemStatus  string  `json:"system_status"` // MAV_STATE, e.g. "active"
	MissionSeq    int     `json:"mission_seq"`   // current mission item
	MissionCount  int     `json:"mission_count"` // items on board, when known
	Home          *Point  `json:"home,omitempty"`
	FenceBreached bool    `json:"fence_breached"`
	LandedState   string  `json:"landed_state,omitempty"` // "on_ground", "in_air", …
	// Signing is the MAVLink 2 signing state the ground station keeps for
	// the vehicle: "unsigned" (no key: frames accepted as they come),
	// "pending" (a key is set, no validly signed frame has arrived since)
	// or "signed" (key set, its frames verify; anything else is dropped).
	Signing string `json:"signing,omitempty"`

	LinkQuality LinkQuality   `json:"link_quality"`
	Video       []VideoStream `json:"video,omitempty"`
	// Assignment tags telemetry with the mission and event area the vehicle
	// flies for, when an operator assigned a plan (set by SetAssignment).
	Mission   string `json:"mission,omitempty"`
	EventArea string `json:"event_area,omitempty"`
	// Control is who holds the vehicle's control and since when (issue 12,
	// package groundstation/control, which owns the fact and sets this
	// copy through SetControl so every stream carries it); nil when free.
	Control *Control `json:"control,omitempty"`
	// Transfer is the vehicle's mission, fence or rally upload in progress,
	// or the last one ended (set by the ground station through
	// SetTransfer): how many items the vehicle confirmed, then the
	// read-back verdict or the vehicle's refusal. nil until the first.
	Transfer *Transfer `json:"transfer,omitempty"`

	// Connected is false after a heartbeat timeout, until the vehicle is heard again.
	Connected bool      `json:"connected"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Updated is when any field last changed (the age of the data shown).
	Updated time.Time `json:"updated"`
}

// Point is a WGS84 position with altitude above mean sea level.
type Point struct {
	Lat    float64 `json:"lat"`
	Lon    float64 `json:"lon"`
	AltMSL float64 `json:"alt_msl_m"`
}

// Control is the holder of a vehicle's control: a user name, or
// "token:NAME" for an API token.
type Control struct {
	Holder string    `json:"holder"`
	Since  time.Time `json:"since"`
}

// Transfer phases.
const (
	TransferUploading = "uploading" // items being sent; Done counts the ones the vehicle asked for and got
	TransferVerifying = "verifying" // all sent, reading the list back
	TransferVerified  = "verified"  // read back equal to what was sent
	TransferUploaded  = "uploaded"  // sent and acknowledged, not read back (no verification asked)
	TransferFailed    = "failed"    // Error says why (the vehicle's MISSION_ACK reason when it refused)
)

// Transfer is a mission, fence or rally upload to a vehicle as operators
// follow it: Done of Total items confirmed in attempt Attempt, then the
// verdict.
type Transfer struct {
	Type    string    `json:"type"` // mission, fence or rally
	Phase   string    `json:"phase"`
	Done    int       `json:"done"`
	Total   int       `json:"total"`
	Attempt int       `json:"attempt"`
	Error   string    `json:"error,omitempty"`
	Started time.Time `json:"started"`
}

// LinkQuality summarises how well a vehicle is heard; operators use it to
// tell a weak radio from a vehicle that stopped talking.
type LinkQuality struct {
	Received uint64  `json:"received"`  // frames received
	Lost     uint64  `json:"lost"`      // frames missing by MAVLink sequence gaps
	LossPct  float64 `json:"loss_pct"`  // Lost / (Received + Lost) over a recent window
	RateHz   float64 `json:"rate_hz"`   // frames per second over a recent window
	LatencyS float64 `json:"latency_s"` // command round trip, when measured
}

// VideoStream is one camera stream a vehicle advertises over the MAVLink
// camera protocol (VIDEO_STREAM_INFORMATION), relayed to the monitoring center.
type VideoStream struct {
	CameraID    uint8   `json:"camera_id"` // MAVLink component of the camera
	StreamID    uint8   `json:"stream_id"`
	Name        string  `json:"name"`
	URI         string  `json:"uri"`
	Type        string  `json:"type"` // "rtsp", "rtpudp", "tcp-mpeg", "mpeg-ts"
	Encoding    string  `json:"encoding,omitempty"`
	Width       int     `json:"width,omitempty"`
	Height      int     `json:"height,omitempty"`
	Framerate   float64 `json:"framerate,omitempty"`
	BitrateKbps int     `json:"bitrate_kbps,omitempty"`
	Running     bool    `json:"running"`
	CameraModel string  `json:"camera_model,omitempty"`
	CameraVend  string  `json:"camera_vendor,omitempty"`
	// State is the station's relay of the stream (package video): idle,
	// connecting, live, stalled or failed; empty until someone watched.
	State string `json:"state,omitempty"`
}

// Stale reports whether the vehicle's data is older than maxAge at now; the
// map and relays flag such vehicles so nobody trusts an old position.
func (v Vehicle) Stale(now time.Time, maxAge time.Duration) bool {
	return !v.Connected || now.Sub(v.LastSeen) > maxAge
}

func (v Vehicle) clone() Vehicle {
	c := v
	if v.Home != nil {
		h := *v.Home
		c.Home = &h
	}
	if v.Video != nil {
		c.Video = append([]VideoStream(nil), v.Video...)
	}
	if v.Control != nil {
		ctl := *v.Control
		c.Control = &ctl
	}
	if v.Transfer != nil {
		tr := *v.Transfer
		c.Transfer = &tr
	}
	return c
}
