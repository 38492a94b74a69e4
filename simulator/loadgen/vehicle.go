package loadgen

import (
	"encoding/binary"
	"math"
	"net/netip"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/bluenviron/gomavlib/v3/pkg/streamwriter"
)

// msgType indexes the per-type counters.
type msgType int

const (
	mHeartbeat msgType = iota
	mGlobalPosition
	mAttitude
	mVfrHud
	mSysStatus
	mBattery
	mGPSRaw
	mCommandAck
	mAutopilotVersion
	nMsgTypes
)

// msgNames are the MAVLink names the counts are reported under.
var msgNames = [nMsgTypes]string{
	"HEARTBEAT", "GLOBAL_POSITION_INT", "ATTITUDE", "VFR_HUD", "SYS_STATUS",
	"BATTERY_STATUS", "GPS_RAW_INT", "COMMAND_ACK", "AUTOPILOT_VERSION",
}

var dialectRW = func() *dialect.ReadWriter {
	rw := &dialect.ReadWriter{Dialect: ardupilotmega.Dialect}
	if err := rw.Initialize(); err != nil {
		panic("loadgen: ardupilotmega dialect: " + err.Error())
	}
	return rw
}()

// vehicle is one simulated aircraft: a socket connected to its target and
// an analytic flight (a circle at constant speed), so its messages cost no
// physics and still look like a flying ArduCopter.
type vehicle struct {
	index  int
	target int
	sysid  uint8
	fd     int
	phase  time.Duration
	sw     *streamwriter.Writer
	sent   [nMsgTypes]uint64

	probe                bool
	centerLat, centerLon float64
	radius, speed        float64 // m, m/s
	theta0, alt          float64
	bootOffsetMs         uint64
	uid                  uint64
}

const metersPerDegLat = 111_320.0

func newVehicle(index, target int, sysid uint8, bind netip.Addr, to netip.AddrPort, cfg Config) (*vehicle, error) {
	fd, err := openSocket(bind, to)
	if err != nil {
		return nil, err
	}
	// Vehicles sit on a grid of 600 m cells around the centre, each flying
	// a 100-250 m circle at 8-15 m/s; deterministic per index.
	side := int(math.Ceil(math.Sqrt(float64(cfg.Vehicles))))
	row, col := index/side, index%side
	north := (float64(row) - float64(side)/2) * 600
	east := (float64(col) - float64(side)/2) * 600
	v := &vehicle{
		index: index, target: target, sysid: sysid, fd: fd,
		probe:        index == 0 && cfg.Probe != nil,
		centerLat:    cfg.CenterLat + north/metersPerDegLat,
		radius:       100 + float64(index%7)*25,
		speed:        8 + float64(index%8),
		theta0:       float64(index%36) * 10 * math.Pi / 180,
		alt:          30 + float64(index%10)*5,
		bootOffsetMs: 60_000 + uint64(index%97)*1000,
		uid:          0x4255_0000_0000_0000 | uint64(cfg.RunID&0xFF_FFFF)<<24 | uint64(target)<<8 | uint64(sysid),
	}
	v.centerLon = cfg.CenterLon + east/(metersPerDegLat*math.Cos(v.centerLat*math.Pi/180))
	return v, nil
}

func (v *vehicle) close() {
	if v.fd > 0 {
		closeFD(v.fd)
		v.fd = 0
	}
}

// flight returns position (deg), ground velocity north/east (m/s) and
// course (rad, 0 = north) at t seconds into the run.
func (v *vehicle) flight(t float64) (lat, lon, vn, ve, course float64) {
	w := v.speed / v.radius
	th := v.theta0 + w*t
	n, e := v.radius*math.Cos(th), v.radius*math.Sin(th)
	lat = v.centerLat + n/metersPerDegLat
	lon = v.centerLon + e/(metersPerDegLat*math.Cos(v.centerLat*math.Pi/180))
	vn, ve = -v.speed*math.Sin(th), v.speed*math.Cos(th)
	course = math.Atan2(ve, vn)
	if course < 0 {
		course += 2 * math.Pi
	}
	return
}

func (v *vehicle) heartbeat() message.Message {
	return &common.MessageHeartbeat{
		Type:      common.MAV_TYPE_QUADROTOR,
		Autopilot: common.MAV_AUTOPILOT_ARDUPILOTMEGA,
		BaseMode: common.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | common.MAV_MODE_FLAG_SAFETY_ARMED |
			common.MAV_MODE_FLAG_GUIDED_ENABLED | common.MAV_MODE_FLAG_STABILIZE_ENABLED,
		CustomMode:     4, // GUIDED
		SystemStatus:   common.MAV_STATE_ACTIVE,
		MavlinkVersion: 3,
	}
}

// position is GLOBAL_POSITION_INT. The probe vehicle (index 0 with a
// Probe set) flies at a relative altitude of cycle mm, so a client can
// tell which datagram a state it receives came from.
func (v *vehicle) position(t float64, bootMs uint32, cycle int64) message.Message {
	lat, lon, vn, ve, course := v.flight(t)
	rel := int32(v.alt * 1000)
	if v.probe {
		rel = int32(cycle)
	}
	return &common.MessageGlobalPositionInt{
		TimeBootMs:  bootMs,
		Lat:         int32(lat * 1e7),
		Lon:         int32(lon * 1e7),
		Alt:         455_000 + rel,
		RelativeAlt: rel,
		Vx:          int16(vn * 100),
		Vy:          int16(ve * 100),
		Hdg:         uint16(course * 18000 / math.Pi),
	}
}

func (v *vehicle) attitude(t float64, bootMs uint32) message.Message {
	_, _, _, _, course := v.flight(t)
	yaw := course
	if yaw > math.Pi {
		yaw -= 2 * math.Pi
	}
	bank := float32(math.Atan(v.speed * v.speed / v.radius / 9.81))
	return &common.MessageAttitude{TimeBootMs: bootMs, Roll: bank, Pitch: -0.05, Yaw: float32(yaw), Yawspeed: float32(v.speed / v.radius)}
}

func (v *vehicle) vfrHud(t float64) message.Message {
	_, _, _, _, course := v.flight(t)
	return &common.MessageVfrHud{
		Airspeed: float32(v.speed), Groundspeed: float32(v.speed),
		Heading: int16(course * 180 / math.Pi), Throttle: 45, Alt: float32(455 + v.alt),
	}
}

// remaining is the battery level: 95 % draining 1 % a minute, floored.
func (v *vehicle) remaining(t float64) int8 {
	return int8(math.Max(20, 95-t/60))
}

func (v *vehicle) sysStatus(t float64) message.Message {
	sensors := common.MAV_SYS_STATUS_SENSOR_3D_GYRO | common.MAV_SYS_STATUS_SENSOR_3D_ACCEL |
		common.MAV_SYS_STATUS_SENSOR_3D_MAG | common.MAV_SYS_STATUS_SENSOR_ABSOLUTE_PRESSURE |
		common.MAV_SYS_STATUS_SENSOR_GPS | common.MAV_SYS_STATUS_SENSOR_BATTERY
	return &common.MessageSysStatus{
		OnboardControlSensorsPresent: sensors, OnboardControlSensorsEnabled: sensors, OnboardControlSensorsHealth: sensors,
		Load: 250, VoltageBattery: v.voltageMV(t), CurrentBattery: 1500, BatteryRemaining: v.remaining(t),
	}
}

func (v *vehicle) voltageMV(t float64) uint16 {
	return uint16(14000 + 2800*float64(v.remaining(t))/100)
}

func (v *vehicle) battery(t float64) message.Message {
	m := &common.MessageBatteryStatus{
		Id: 0, BatteryFunction: common.MAV_BATTERY_FUNCTION_ALL, Type: common.MAV_BATTERY_TYPE_LIPO,
		Temperature: math.MaxInt16, CurrentBattery: 1500, CurrentConsumed: int32(t * 15000 / 3600),
		EnergyConsumed: -1, BatteryRemaining: v.remaining(t), TimeRemaining: int32(float64(v.remaining(t)) * 60),
	}
	for i := range m.Voltages {
		m.Voltages[i] = math.MaxUint16
	}
	m.Voltages[0] = v.voltageMV(t)
	return m
}

func (v *vehicle) gpsRaw(t float64, start time.Time) message.Message {
	lat, lon, _, _, course := v.flight(t)
	return &common.MessageGpsRawInt{
		TimeUsec: uint64(start.UnixMicro()) + uint64(t*1e6),
		FixType:  common.GPS_FIX_TYPE_3D_FIX, Lat: int32(lat * 1e7), Lon: int32(lon * 1e7),
		Alt: int32((455 + v.alt) * 1000), Eph: 80, Epv: 120, Vel: uint16(v.speed * 100),
		Cog: uint16(course * 18000 / math.Pi), SatellitesVisible: 14,
	}
}

func (v *vehicle) autopilotVersion() message.Message {
	return &common.MessageAutopilotVersion{
		Capabilities: common.MAV_PROTOCOL_CAPABILITY_MAVLINK2 | common.MAV_PROTOCOL_CAPABILITY_MISSION_INT |
			common.MAV_PROTOCOL_CAPABILITY_COMMAND_INT | common.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT,
		FlightSwVersion: 4<<24 | 7<<16 | 0<<8 | 255, // 4.7.0 official
		Uid:             v.uid,
	}
}

func f32(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }
