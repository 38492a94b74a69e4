package simulator

import (
	"math"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// MAVLink message IDs of the telemetry the vehicle streams or sends on request.
const (
	msgHeartbeat         = 0
	msgSysStatus         = 1
	msgGPSRawInt         = 24
	msgAttitude          = 30
	msgGlobalPositionInt = 33
	msgMissionCurrent    = 42
	msgVFRHUD            = 74
	msgAutopilotVersion  = 148
	msgFenceStatus       = 162
	msgBatteryStatus     = 147
	msgHomePosition      = 242
	msgExtendedSysState  = 245
	msgCameraInformation = 259
	msgVideoStreamInfo   = 269
)

// stream is one periodically sent message. Intervals are simulated time,
// as in ArduPilot SITL, so with --speedup the rates scale too — up to
// Config.MaxStreamSpeedup times the real-time rate in wall time, the
// position excepted (see DefaultMaxStreamSpeedup); at most one message
// per stream is sent per scheduler tick.
type stream struct {
	id       uint32
	interval time.Duration // 0 = off
	def      time.Duration // default interval, restored by interval 0 requests
	next     time.Duration
	group    uint8 // MAV_DATA_STREAM group it belongs to
	// wallNext is the wall time before which the stream is not sent
	// again (the MaxStreamSpeedup cap).
	wallNext time.Time
}

// DefaultMaxStreamSpeedup caps how fast, in wall time, a vehicle streams
// telemetry faster than real time: 5 times its real-time rate. Uncapped,
// one message per stream per 20 ms tick made a vehicle at --speedup 60
// send ~550 messages per wall second instead of ~14: the operation tests'
// 8 vehicles sent a station 4,400 datagrams/s, and a loaded 2-core
// machine running the -race test binary fell 10–15 s behind that link
// (its 32,768-datagram staging buffer full, then dropping), so command
// replies waited behind telemetry and launches failed ("no COMMAND_ACK
// after 4 attempts", "no MISSION_REQUEST after 6 MISSION_COUNTs"). The
// position (GLOBAL_POSITION_INT), which the map, the separation monitor
// and the stored tracks need densest, is not thinned: it still comes once
// per tick (1.2 s of simulated time at speedup 60; the physics steps 1 s
// at a time). With the station's 4 Hz requests the 8 vehicles send
// ~1,800 datagrams/s at speedup 60 instead of ~4,400. State changes are
// events, sent at once whatever the cap.
const DefaultMaxStreamSpeedup = 5

// streamWallGap is the least wall time between two messages of a stream
// of the given (simulated) interval, less half a tick of slack so that
// at a speedup at or under the cap tick jitter never holds one back.
func (sv *SimVehicle) streamWallGap(interval time.Duration) time.Duration {
	if sv.maxStreamSpeedup <= 0 {
		return 0
	}
	return time.Duration(float64(interval)/sv.maxStreamSpeedup) - sv.tickEvery/2
}

// MAV_DATA_STREAM groups as ArduPilot assigns its messages to them.
const (
	dsAll            = 0
	dsExtendedStatus = 2
	dsPosition       = 6
	dsExtra1         = 10
	dsExtra2         = 11
	dsExtra3         = 12
)

// defaultStreams gives about 14 messages per second from the autopilot, plus
// the camera heartbeat: enough for a live map and HUD, light enough for
// thousands of vehicles.
func defaultStreams() []stream {
	s := []stream{
		{id: msgHeartbeat, def: time.Second},
		{id: msgSysStatus, def: time.Second, group: dsExtendedStatus},
		{id: msgGPSRawInt, def: time.Second, group: dsExtendedStatus},
		{id: msgMissionCurrent, def: time.Second, group: dsExtendedStatus},
		{id: msgFenceStatus, def: time.Second, group: dsExtendedStatus},
		{id: msgGlobalPositionInt, def: 250 * time.Millisecond, group: dsPosition},
		{id: msgAttitude, def: 500 * time.Millisecond, group: dsExtra1},
		{id: msgVFRHUD, def: 500 * time.Millisecond, group: dsExtra2},
		{id: msgBatteryStatus, def: time.Second, group: dsExtra3},
		{id: msgExtendedSysState, def: time.Second, group: dsExtra3},
		{id: msgHomePosition, def: 5 * time.Second, group: 255}, // also sent when home changes and on request
	}
	for i := range s {
		s[i].interval = s[i].def
	}
	return s
}

func (sv *SimVehicle) findStream(id uint32) *stream {
	for i := range sv.streams {
		if sv.streams[i].id == id {
			return &sv.streams[i]
		}
	}
	return nil
}

// sendDueStreams sends every stream whose time has come. Called with sv.mu held.
func (sv *SimVehicle) sendDueStreams() {
	now := sv.model.Now()
	var st vehicle.State
	have := false
	for i := range sv.streams {
		s := &sv.streams[i]
		if s.interval <= 0 || now < s.next || sv.wallNow.Before(s.wallNext) {
			continue
		}
		if !have {
			st = sv.model.State()
			have = true
		}
		if m := sv.buildMessage(s.id, &st, now); m != nil {
			sv.send(m)
		}
		s.next += s.interval
		if s.next <= now {
			s.next = now + s.interval
		}
		if s.id != msgGlobalPositionInt {
			s.wallNext = sv.wallNow.Add(sv.streamWallGap(s.interval))
		}
	}
	if now >= sv.camNextHB && !sv.wallNow.Before(sv.camWallNext) {
		sv.sendCam(sv.cameraHeartbeat())
		sv.camNextHB = now + time.Second
		sv.camWallNext = sv.wallNow.Add(sv.streamWallGap(time.Second))
	}
}

// requestDataStream applies REQUEST_DATA_STREAM: rate in Hz for a group
// (or all), start_stop 0 stops it.
func (sv *SimVehicle) requestDataStream(group uint8, rateHz uint16, start bool) {
	for i := range sv.streams {
		s := &sv.streams[i]
		if s.id == msgHeartbeat || s.group == 255 {
			continue
		}
		if group != dsAll && s.group != group {
			continue
		}
		if !start || rateHz == 0 {
			s.interval = 0
			continue
		}
		s.interval = time.Second / time.Duration(rateHz)
		s.next = sv.model.Now()
	}
}

// setMessageInterval applies MAV_CMD_SET_MESSAGE_INTERVAL: us -1 disables,
// 0 restores the default, >0 sets the interval. Returns a MAV_RESULT.
func (sv *SimVehicle) setMessageInterval(id uint32, us float64) uint8 {
	s := sv.findStream(id)
	if s == nil {
		if sv.canBuild(id) {
			sv.streams = append(sv.streams, stream{id: id, group: 255})
			s = &sv.streams[len(sv.streams)-1]
		} else {
			return vehicle.ResultDenied
		}
	}
	switch {
	case us < 0:
		s.interval = 0
	case us == 0:
		s.interval = s.def
	default:
		iv := time.Duration(us) * time.Microsecond
		if iv < time.Millisecond {
			iv = time.Millisecond
		}
		s.interval = iv
	}
	s.next = sv.model.Now()
	return vehicle.ResultAccepted
}

// messageInterval answers MAV_CMD_GET_MESSAGE_INTERVAL in MESSAGE_INTERVAL's
// units: µs, -1 disabled, 0 not available.
func (sv *SimVehicle) messageInterval(id uint32) int32 {
	s := sv.findStream(id)
	if s == nil {
		if sv.canBuild(id) {
			return -1
		}
		return 0
	}
	if s.interval <= 0 {
		return -1
	}
	return int32(s.interval / time.Microsecond)
}

func (sv *SimVehicle) canBuild(id uint32) bool {
	switch id {
	case msgHeartbeat, msgSysStatus, msgGPSRawInt, msgAttitude, msgGlobalPositionInt, msgMissionCurrent,
		msgVFRHUD, msgAutopilotVersion, msgFenceStatus, msgBatteryStatus, msgHomePosition, msgExtendedSysState:
		return true
	}
	return false
}

func clampI16(v float64) int16 {
	return int16(math.Max(math.MinInt16, math.Min(math.MaxInt16, math.Round(v))))
}

func clampU16(v float64) uint16 {
	return uint16(math.Max(0, math.Min(math.MaxUint16, math.Round(v))))
}

func e7(deg float64) int32 { return int32(math.Round(deg * 1e7)) }

// baseMode is HEARTBEAT.base_mode the way ArduCopter computes it.
func baseMode(st *vehicle.State) common.MAV_MODE_FLAG {
	m := common.MAV_MODE_FLAG_STABILIZE_ENABLED | common.MAV_MODE_FLAG_MANUAL_INPUT_ENABLED | common.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
	switch st.CustomMode {
	case vehicle.ModeAuto, vehicle.ModeRTL, vehicle.ModeLoiter, vehicle.ModeGuided, vehicle.ModeCircle,
		vehicle.ModePosHold, vehicle.ModeBrake, vehicle.ModeSmartRTL, 13 /* AUTO_RTL... */, 23 /* FOLLOW */ :
		m |= common.MAV_MODE_FLAG_GUIDED_ENABLED
	}
	if st.Armed {
		m |= common.MAV_MODE_FLAG_SAFETY_ARMED
	}
	return m
}

// buildMessage makes the telemetry message with the given ID from the
// state, or nil when there is nothing to say (e.g. no home yet).
func (sv *SimVehicle) buildMessage(id uint32, st *vehicle.State, now time.Duration) message.Message {
	bootMs := uint32(now / time.Millisecond)
	switch id {
	case msgHeartbeat:
		return &common.MessageHeartbeat{
			Type:           common.MAV_TYPE_QUADROTOR,
			Autopilot:      common.MAV_AUTOPILOT_ARDUPILOTMEGA,
			BaseMode:       baseMode(st),
			CustomMode:     st.CustomMode,
			SystemStatus:   common.MAV_STATE(st.SystemStatus),
			MavlinkVersion: 3,
		}
	case msgSysStatus:
		return &common.MessageSysStatus{
			OnboardControlSensorsPresent: common.MAV_SYS_STATUS_SENSOR(st.SensorsPresent),
			OnboardControlSensorsEnabled: common.MAV_SYS_STATUS_SENSOR(st.SensorsEnabled),
			OnboardControlSensorsHealth:  common.MAV_SYS_STATUS_SENSOR(st.SensorsHealth),
			Load:                         120,
			VoltageBattery:               clampU16(st.BatteryVoltage * 1000),
			CurrentBattery:               clampI16(st.BatteryCurrent * 100),
			BatteryRemaining:             int8(math.Max(-1, math.Min(100, math.Round(st.BatteryRemainingPct)))),
		}
	case msgGlobalPositionInt:
		hdg := uint16(math.Mod(st.HeadingDeg+360, 360) * 100)
		return &common.MessageGlobalPositionInt{
			TimeBootMs:  bootMs,
			Lat:         e7(st.Lat),
			Lon:         e7(st.Lon),
			Alt:         int32(math.Round(st.AltMSL * 1000)),
			RelativeAlt: int32(math.Round(st.RelAlt * 1000)),
			Vx:          clampI16(st.VN * 100),
			Vy:          clampI16(st.VE * 100),
			Vz:          clampI16(st.VD * 100),
			Hdg:         hdg,
		}
	case msgAttitude:
		yaw := st.Yaw
		if yaw > math.Pi {
			yaw -= 2 * math.Pi
		}
		return &common.MessageAttitude{
			TimeBootMs: bootMs,
			Roll:       float32(st.Roll), Pitch: float32(st.Pitch), Yaw: float32(yaw),
			Rollspeed: float32(st.RollRate), Pitchspeed: float32(st.PitchRate), Yawspeed: float32(st.YawRate),
		}
	case msgGPSRawInt:
		cog := math.Atan2(st.VE, st.VN) * 180 / math.Pi
		if cog < 0 {
			cog += 360
		}
		return &common.MessageGpsRawInt{
			TimeUsec:          uint64(now / time.Microsecond),
			FixType:           common.GPS_FIX_TYPE(st.GPSFixType),
			Lat:               e7(st.GPSLat),
			Lon:               e7(st.GPSLon),
			Alt:               int32(math.Round(st.GPSAlt * 1000)),
			Eph:               clampU16(st.HDOP * 100),
			Epv:               clampU16(st.VDOP * 100),
			Vel:               clampU16(st.GroundSpeed * 100),
			Cog:               clampU16(cog * 100),
			SatellitesVisible: st.Satellites,
			AltEllipsoid:      int32(math.Round(st.GPSAlt * 1000)),
			HAcc:              uint32(st.HDOP * 300),
			VAcc:              uint32(st.VDOP * 300),
		}
	case msgVFRHUD:
		return &common.MessageVfrHud{
			Airspeed:    float32(st.AirSpeed),
			Groundspeed: float32(st.GroundSpeed),
			Heading:     int16(math.Mod(st.HeadingDeg+360, 360)),
			Throttle:    clampU16(st.Throttle * 100),
			Alt:         float32(st.AltMSL),
			Climb:       float32(st.Climb),
		}
	case msgBatteryStatus:
		var volts [10]uint16
		for i := range volts {
			volts[i] = math.MaxUint16
		}
		cells := st.CellCount
		if cells <= 0 {
			cells = 1
		}
		if cells > 10 {
			cells = 10
		}
		for i := 0; i < cells; i++ {
			volts[i] = clampU16(st.BatteryVoltage / float64(cells) * 1000)
		}
		return &common.MessageBatteryStatus{
			Id:               0,
			BatteryFunction:  common.MAV_BATTERY_FUNCTION_ALL,
			Type:             common.MAV_BATTERY_TYPE_LIPO,
			Temperature:      math.MaxInt16,
			Voltages:         volts,
			CurrentBattery:   clampI16(st.BatteryCurrent * 100),
			CurrentConsumed:  int32(st.BatteryConsumedMAh),
			EnergyConsumed:   -1,
			BatteryRemaining: int8(math.Max(-1, math.Min(100, math.Round(st.BatteryRemainingPct)))),
		}
	case msgMissionCurrent:
		// ArduPilot counts the items after home (seq 0): the recorded
		// ArduCopter 4.7 reports total 4 for home + 4 items, 0 for home alone.
		total := max(st.MissionCount-1, 0)
		if total > math.MaxUint16 {
			total = math.MaxUint16
		}
		return &common.MessageMissionCurrent{Seq: st.MissionCurrent, Total: uint16(total), MissionState: common.MISSION_STATE(st.MissionState),
			MissionMode: boolU8(st.CustomMode == vehicle.ModeAuto)}
	case msgFenceStatus:
		if !st.FenceEnabled {
			return nil
		}
		return &common.MessageFenceStatus{
			BreachStatus:     boolU8(st.FenceBreached),
			BreachCount:      st.FenceBreachCount,
			BreachType:       common.FENCE_BREACH(st.FenceBreachType),
			BreachTime:       uint32(st.FenceBreachTime / time.Millisecond),
			BreachMitigation: common.FENCE_MITIGATE_UNKNOWN,
		}
	case msgHomePosition:
		if !st.HomeSet {
			return nil
		}
		nan := float32(math.NaN())
		return &common.MessageHomePosition{
			Latitude:  e7(st.Home.Lat),
			Longitude: e7(st.Home.Lon),
			Altitude:  int32(math.Round(st.Home.AltMSL * 1000)),
			Q:         [4]float32{nan, nan, nan, nan},
			TimeUsec:  uint64(now / time.Microsecond),
		}
	case msgExtendedSysState:
		return &common.MessageExtendedSysState{VtolState: common.MAV_VTOL_STATE_UNDEFINED, LandedState: common.MAV_LANDED_STATE(st.LandedState)}
	case msgAutopilotVersion:
		return sv.autopilotVersion()
	}
	return nil
}

func boolU8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// autopilotVersion advertises what this vehicle speaks, with a UID stable
// for (seed, index) so a ground station keeps its identity across restarts.
func (sv *SimVehicle) autopilotVersion() *common.MessageAutopilotVersion {
	caps := common.MAV_PROTOCOL_CAPABILITY_MISSION_FLOAT | common.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT |
		common.MAV_PROTOCOL_CAPABILITY_MISSION_INT | common.MAV_PROTOCOL_CAPABILITY_COMMAND_INT |
		common.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT | common.MAV_PROTOCOL_CAPABILITY_MAVLINK2 |
		common.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE | common.MAV_PROTOCOL_CAPABILITY_MISSION_RALLY |
		common.MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_C_CAST | common.MAV_PROTOCOL_CAPABILITY_FTP
	var uid2 [18]uint8
	for i := range 8 {
		uid2[i] = uint8(sv.uid >> (8 * i))
	}
	return &common.MessageAutopilotVersion{
		Capabilities:        caps,
		FlightSwVersion:     4<<24 | 7<<16, // 4.7.0, FIRMWARE_VERSION_TYPE_DEV
		MiddlewareSwVersion: 0,
		OsSwVersion:         0,
		BoardVersion:        0,
		FlightCustomVersion: [8]uint8{'b', 'u', 'r', 'g', 'u', 't', 0, 0},
		VendorId:            0x1209,
		ProductId:           0x5740,
		Uid:                 sv.uid,
		Uid2:                uid2,
	}
}
