// Package mavitem holds the MAVLink mission item as it travels on the wire
// (MISSION_ITEM_INT) and the MAV_MISSION_TYPE, MAV_FRAME and MAV_CMD numbers
// that Burgut uses. It is a leaf: the planner (missions), the protocol
// engine (groundstation/session) and the simulator all speak this type, so
// none of them has to import another — in particular the protocol engine and
// the simulator do not pull in the planner and its geometry libraries.
package mavitem

// MissionType selects which of the vehicle's three item lists a transfer
// addresses; the values are MAVLink's MAV_MISSION_TYPE.
type MissionType uint8

// Mission types, as in MAV_MISSION_TYPE.
const (
	TypeMission MissionType = 0
	TypeFence   MissionType = 1
	TypeRally   MissionType = 2
)

// String returns the name used in the API and in file names.
func (t MissionType) String() string {
	switch t {
	case TypeMission:
		return "mission"
	case TypeFence:
		return "fence"
	case TypeRally:
		return "rally"
	}
	return "unknown"
}

// ParseMissionType accepts the names String returns.
func ParseMissionType(s string) (MissionType, bool) {
	switch s {
	case "mission":
		return TypeMission, true
	case "fence":
		return TypeFence, true
	case "rally":
		return TypeRally, true
	}
	return 0, false
}

// Item is one MAVLink mission item exactly as it travels in MISSION_ITEM_INT.
// The planner produces them, the ground station transfers them, and file
// formats (.plan, .waypoints) convert to and from them. Lat/Lon are in
// degrees ×1e7 as on the wire, so a round trip through a vehicle compares
// equal bit for bit.
type Item struct {
	Seq          uint16      `json:"seq"`
	Frame        uint8       `json:"frame"`   // MAV_FRAME, e.g. 3 = GLOBAL_RELATIVE_ALT
	Command      uint16      `json:"command"` // MAV_CMD, e.g. 16 = NAV_WAYPOINT
	Current      uint8       `json:"current"`
	Autocontinue uint8       `json:"autocontinue"`
	Param1       float32     `json:"param1"`
	Param2       float32     `json:"param2"`
	Param3       float32     `json:"param3"`
	Param4       float32     `json:"param4"`
	X            int32       `json:"x"` // latitude ×1e7 (or a local/param value, per command)
	Y            int32       `json:"y"` // longitude ×1e7
	Z            float32     `json:"z"` // altitude in metres, in Frame's reference
	MissionType  MissionType `json:"mission_type"`
}

// MAVLink command and frame numbers the planner and the ground station use.
const (
	CmdNavWaypoint          uint16 = 16
	CmdNavLoiterUnlim       uint16 = 17
	CmdNavLoiterTime        uint16 = 19
	CmdNavReturnToLaunch    uint16 = 20
	CmdNavLand              uint16 = 21
	CmdNavTakeoff           uint16 = 22
	CmdDoJump               uint16 = 177
	CmdDoChangeSpeed        uint16 = 178
	CmdFencePolyInclusion   uint16 = 5001
	CmdFencePolyExclusion   uint16 = 5002
	CmdFenceCircleInclusion uint16 = 5003
	CmdFenceCircleExclusion uint16 = 5004
	CmdNavRallyPoint        uint16 = 5100

	FrameGlobal            uint8 = 0
	FrameMission           uint8 = 2
	FrameGlobalRelativeAlt uint8 = 3
	FrameGlobalInt         uint8 = 5
	FrameGlobalRelAltInt   uint8 = 6
)
