package vehicle

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/burgut-uav/burgut/missions"
)

// Config describes one simulated vehicle. Only SystemID and Home are needed;
// the zero value of every other field selects an ArduCopter-like default.
type Config struct {
	SystemID uint8
	// Home is the start position (AltMSL in metres). The vehicle starts landed
	// and disarmed there, and the terrain is flat at Home.AltMSL.
	Home LatLonAlt
	// Seed drives all randomness (GPS noise, gusts), so two vehicles built
	// from the same Config behave identically.
	Seed int64
	// Optional overrides; zero = ArduCopter-like defaults.
	BatteryCapacityMAh float64
	// WindSpeed (m/s) blowing from WindDirDeg (meteorological: the direction
	// the wind comes from), with random gusts up to GustSpeed m/s on top.
	WindSpeed, WindDirDeg, GustSpeed float64
}

// LatLonAlt is a WGS84 position in degrees with altitude above mean sea level in metres.
type LatLonAlt struct{ Lat, Lon, AltMSL float64 }

// State is a snapshot of everything the MAVLink layer reports in telemetry.
// It is a plain value: it never changes after State returns it.
type State struct {
	Lat, Lon, AltMSL, RelAlt                      float64 // deg, m (true position)
	VN, VE, VD                                    float64 // m/s NED
	Roll, Pitch, Yaw                              float64 // rad, Yaw 0..2π from north
	RollRate, PitchRate, YawRate                  float64 // rad/s
	GroundSpeed, AirSpeed, Climb, HeadingDeg      float64
	Throttle                                      float64 // 0..1
	BatteryVoltage, BatteryCurrent                float64 // V, A
	BatteryRemainingPct, BatteryConsumedMAh       float64
	CellCount                                     int
	GPSFixType                                    uint8 // GPS_FIX_TYPE
	Satellites                                    uint8
	HDOP, VDOP                                    float64
	GPSLat, GPSLon, GPSAlt                        float64 // noisy GPS solution (deg, m MSL)
	Armed                                         bool
	CustomMode                                    uint32 // ArduCopter mode number
	SystemStatus                                  uint8  // MAV_STATE
	LandedState                                   uint8  // MAV_LANDED_STATE
	Home                                          LatLonAlt
	HomeSet                                       bool
	MissionCurrent                                uint16
	MissionCount                                  int
	FenceEnabled, FenceBreached                   bool
	FenceBreachType                               uint8 // FENCE_BREACH
	FenceBreachCount                              uint16
	FenceBreachTime                               time.Duration // simulated time of the last breach
	Failed                                        bool          // vehicle failure (fell)
	SensorsPresent, SensorsEnabled, SensorsHealth uint32        // MAV_SYS_STATUS_SENSOR bits for SYS_STATUS
}

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds. The MAVLink layer turns each into the message ArduCopter
// would send (STATUSTEXT, MISSION_ITEM_REACHED, MISSION_CURRENT, …).
const (
	EventStatusText EventKind = iota + 1
	EventMissionItemReached
	EventMissionCurrent
	EventModeChanged
	EventArmed
	EventDisarmed
	EventHomeSet
	EventFenceBreach
	EventFailsafe
)

// Event is something that happened inside the vehicle that the ground
// station should hear about. Text is set for every kind that ArduCopter
// announces with a STATUSTEXT; Seq is the mission item for mission events.
type Event struct {
	Kind     EventKind
	Severity uint8 // MAV_SEVERITY
	Text     string
	Seq      uint16
}

// ArduCopter flight mode numbers (HEARTBEAT custom_mode).
const (
	ModeStabilize uint32 = 0
	ModeAcro      uint32 = 1
	ModeAltHold   uint32 = 2
	ModeAuto      uint32 = 3
	ModeGuided    uint32 = 4
	ModeLoiter    uint32 = 5
	ModeRTL       uint32 = 6
	ModeCircle    uint32 = 7
	ModeLand      uint32 = 9
	ModePosHold   uint32 = 16
	ModeBrake     uint32 = 17
	ModeSmartRTL  uint32 = 21
)

// MAV_RESULT values returned by the command methods.
const (
	ResultAccepted            uint8 = 0
	ResultTemporarilyRejected uint8 = 1
	ResultDenied              uint8 = 2
	ResultUnsupported         uint8 = 3
	ResultFailed              uint8 = 4
)

// MAV_SEVERITY values used in events.
const (
	SeverityEmergency uint8 = 0
	SeverityAlert     uint8 = 1
	SeverityCritical  uint8 = 2
	SeverityError     uint8 = 3
	SeverityWarning   uint8 = 4
	SeverityNotice    uint8 = 5
	SeverityInfo      uint8 = 6
)

// physicsStep is the fixed internal integration step: Step advances in
// whole multiples of it and carries the remainder, so results do not depend
// on how a caller slices time.
const physicsStep = 20 * time.Millisecond

// Vehicle is one simulated ArduCopter. It is not safe for concurrent use:
// the owner serialises all calls (the simulator runs one goroutine per
// group of vehicles, tests call it directly).
type Vehicle struct {
	cfg    Config
	rng    *rand.Rand
	now    time.Duration
	accum  time.Duration
	events []Event

	params []Param
	pidx   map[string]int

	mission, fence, rally []missions.Item
}

// New builds a vehicle landed and disarmed at cfg.Home.
func New(cfg Config) *Vehicle {
	v := &Vehicle{
		cfg: cfg,
		rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15)),
	}
	v.initParams()
	return v
}

// Step advances physics and autopilot by dt of simulated time.
func (v *Vehicle) Step(dt time.Duration) {
	v.accum += dt
	for v.accum >= physicsStep {
		v.accum -= physicsStep
		v.now += physicsStep
	}
}

// Now is the simulated time since New.
func (v *Vehicle) Now() time.Duration { return v.now + v.accum }

// State returns a telemetry snapshot.
func (v *Vehicle) State() State {
	return State{
		Lat: v.cfg.Home.Lat, Lon: v.cfg.Home.Lon, AltMSL: v.cfg.Home.AltMSL,
		Yaw: math.Pi / 2,
	}
}

// DrainEvents returns what happened since the last call, oldest first.
func (v *Vehicle) DrainEvents() []Event {
	ev := v.events
	v.events = nil
	return ev
}

// Arm requests arming; see the package doc for the checks.
func (v *Vehicle) Arm(force bool) (uint8, string) { return ResultFailed, "PreArm: GPS 1: Bad fix" }

// Disarm requests disarming.
func (v *Vehicle) Disarm(force bool) (uint8, string) { return ResultAccepted, "" }

// SetMode changes the flight mode (ArduCopter numbers).
func (v *Vehicle) SetMode(customMode uint32) (uint8, string) { return ResultAccepted, "" }

// Takeoff starts a GUIDED takeoff to relAlt metres above home.
func (v *Vehicle) Takeoff(relAlt float64) (uint8, string) { return ResultFailed, "" }

// GotoGlobal sets a GUIDED position target.
func (v *Vehicle) GotoGlobal(lat, lon, relAlt float64) (uint8, string) { return ResultFailed, "" }

// SetSpeed changes the horizontal speed as MAV_CMD_DO_CHANGE_SPEED does.
func (v *Vehicle) SetSpeed(groundSpeed float64) (uint8, string) { return ResultAccepted, "" }

// MissionStart starts the mission in AUTO (MAV_CMD_MISSION_START).
func (v *Vehicle) MissionStart(first, last uint16) (uint8, string) { return ResultFailed, "" }

// SetMissionCurrent jumps to a mission item (MISSION_SET_CURRENT / MAV_CMD_DO_SET_MISSION_CURRENT).
func (v *Vehicle) SetMissionCurrent(seq uint16) (uint8, string) { return ResultFailed, "" }

// SetHome sets home (MAV_CMD_DO_SET_HOME).
func (v *Vehicle) SetHome(useCurrent bool, lat, lon, alt float64) (uint8, string) {
	return ResultAccepted, ""
}

// SetMission replaces the mission.
func (v *Vehicle) SetMission(items []missions.Item) error {
	v.mission = append([]missions.Item(nil), items...)
	return nil
}

// SetFence replaces the fence items.
func (v *Vehicle) SetFence(items []missions.Item) error {
	v.fence = append([]missions.Item(nil), items...)
	return nil
}

// SetRally replaces the rally points.
func (v *Vehicle) SetRally(items []missions.Item) error {
	v.rally = append([]missions.Item(nil), items...)
	return nil
}

// Mission returns a copy of the mission.
func (v *Vehicle) Mission() []missions.Item { return append([]missions.Item(nil), v.mission...) }

// Fence returns a copy of the fence items.
func (v *Vehicle) Fence() []missions.Item { return append([]missions.Item(nil), v.fence...) }

// Rally returns a copy of the rally points.
func (v *Vehicle) Rally() []missions.Item { return append([]missions.Item(nil), v.rally...) }

// ValidateItem returns the MAV_MISSION_RESULT ArduCopter would give.
func (v *Vehicle) ValidateItem(it missions.Item) uint8 { return 0 }

// GCSHeartbeat records a GCS heartbeat for the GCS failsafe.
func (v *Vehicle) GCSHeartbeat() {}

// InjectGPSLoss makes the GPS lose its fix for d.
func (v *Vehicle) InjectGPSLoss(d time.Duration) {}

// InjectBatteryDrop removes pct percent of the remaining capacity at once.
func (v *Vehicle) InjectBatteryDrop(pct float64) {}

// InjectFailure stops the motors: the vehicle falls, crashes and stays failed.
func (v *Vehicle) InjectFailure() {}

// InjectGust adds a gust of speed m/s for d.
func (v *Vehicle) InjectGust(speed float64, d time.Duration) {}
