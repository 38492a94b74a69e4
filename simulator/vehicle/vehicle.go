package vehicle

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/burgut-uav/burgut/internal/mavitem"
)

// Config describes one simulated vehicle. Only SystemID and Home are needed;
// the zero value of every other field selects an ArduCopter-like default.
type Config struct {
	SystemID uint8
	// Home is the start position (AltMSL in metres). The vehicle starts landed
	// and disarmed there, and the terrain is flat at Home.AltMSL.
	Home LatLonAlt
	// Seed drives all randomness (GPS noise, gusts), so two vehicles built
	// from the same Config and driven by the same calls behave identically.
	Seed int64
	// Optional overrides; zero = ArduCopter-like defaults.
	BatteryCapacityMAh float64
	// Endurance is the full battery's flight time at cruise (level flight
	// at the default WPNAV_SPEED in still air). When set it replaces
	// BatteryCapacityMAh with CapacityForEndurance(Endurance): the current
	// model (hover, speed, climb) is unchanged, so hovering, climbing and
	// wind still shorten or stretch a real flight as before.
	Endurance time.Duration
	// SwapTime models the crew's battery swap: once the vehicle has been
	// landed and disarmed for SwapTime, its battery is full again (and the
	// battery failsafe, latched for the flight, is reset). Zero: never.
	SwapTime time.Duration
	// WindSpeed (m/s) blowing from WindDirDeg (meteorological convention: the
	// direction the wind comes from), with random gusts of up to GustSpeed m/s
	// on top. They seed SIM_WIND_SPD, SIM_WIND_DIR and SIM_WIND_TURB.
	WindSpeed, WindDirDeg, GustSpeed float64
	// GPSWarmup is how long after New the GPS has no fix (like a cold
	// start). Zero selects DefaultGPSWarmup; a negative value gives a 3D fix
	// (and home) from the first step.
	GPSWarmup time.Duration
}

// DefaultGPSWarmup is the simulated time a vehicle waits for its first GPS
// fix; arming is refused ("PreArm: GPS 1: Bad fix") until then.
const DefaultGPSWarmup = 2 * time.Second

// LatLonAlt is a WGS84 position in degrees with altitude above mean sea level in metres.
type LatLonAlt struct{ Lat, Lon, AltMSL float64 }

// DefaultHome is where the simulated fleet (burgut sitl, burgut run) and
// the load generator are centred unless told otherwise: Tashkent, by
// Mustaqillik Square, at ground level.
var DefaultHome = LatLonAlt{Lat: 41.3123, Lon: 69.2716, AltMSL: 455}

// String formats the position as LAT,LON,ALT, the form --home accepts.
func (p LatLonAlt) String() string {
	return strconv.FormatFloat(p.Lat, 'f', -1, 64) + "," + strconv.FormatFloat(p.Lon, 'f', -1, 64) + "," +
		strconv.FormatFloat(p.AltMSL, 'f', -1, 64)
}

// State is a snapshot of everything the MAVLink layer reports in telemetry.
// It is a plain value: it never changes after State returns it.
type State struct {
	Lat, Lon, AltMSL, RelAlt                      float64 // deg, m (the autopilot's position estimate)
	VN, VE, VD                                    float64 // m/s NED
	Roll, Pitch, Yaw                              float64 // rad, Yaw 0..2π from north
	RollRate, PitchRate, YawRate                  float64 // rad/s
	GroundSpeed, AirSpeed, Climb, HeadingDeg      float64 // m/s, m/s, m/s, 0..360
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
	MissionCount                                  int   // items on board including home at seq 0
	MissionState                                  uint8 // MISSION_STATE for MISSION_CURRENT
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
// would send: a STATUSTEXT for every event with a non-empty Text, plus
// MISSION_ITEM_REACHED (EventMissionItemReached), MISSION_CURRENT
// (EventMissionCurrent), HOME_POSITION (EventHomeSet) and an immediate
// HEARTBEAT where it likes (EventModeChanged, EventArmed, EventDisarmed).
const (
	EventStatusText EventKind = iota + 1
	EventMissionItemReached
	EventMissionCurrent
	EventModeChanged // Seq holds the new custom mode
	EventArmed
	EventDisarmed
	EventHomeSet
	EventFenceBreach
	EventFailsafe
)

// String names the kind for logs.
func (k EventKind) String() string {
	switch k {
	case EventStatusText:
		return "statustext"
	case EventMissionItemReached:
		return "mission_item_reached"
	case EventMissionCurrent:
		return "mission_current"
	case EventModeChanged:
		return "mode_changed"
	case EventArmed:
		return "armed"
	case EventDisarmed:
		return "disarmed"
	case EventHomeSet:
		return "home_set"
	case EventFenceBreach:
		return "fence_breach"
	case EventFailsafe:
		return "failsafe"
	}
	return "unknown"
}

// Event is something that happened inside the vehicle that the ground
// station should hear about. Text, when set, is the STATUSTEXT ArduCopter
// prints for it; Seq is the mission item for mission events.
type Event struct {
	Kind     EventKind
	Severity uint8 // MAV_SEVERITY
	Text     string
	Seq      uint16
}

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
	SeverityDebug     uint8 = 7
)

// MAV_STATE and MAV_LANDED_STATE values used in State.
const (
	mavStateStandby   uint8 = 3
	mavStateActive    uint8 = 4
	mavStateCritical  uint8 = 5
	mavStateEmergency uint8 = 6

	landedOnGround uint8 = 1
	landedInAir    uint8 = 2
	landedTakeoff  uint8 = 3
	landedLanding  uint8 = 4
)

// physicsStep is the fixed internal integration step: Step advances in
// whole multiples of it and carries the remainder, so results do not depend
// on how a caller slices time.
const (
	physicsStep = 20 * time.Millisecond
	dtS         = 0.02 // physicsStep in seconds
	gravity     = 9.80665
)

// guidance is what the autopilot asks the position controller to do this step.
type guidance uint8

const (
	gGround guidance = iota // stay on the ground (disarmed, or landed without a takeoff)
	gPos                    // fly to (tgtN, tgtE, tgtU)
	gLand                   // hold (tgtN, tgtE) and descend to the ground
	gDrift                  // no horizontal control (STABILIZE/ALT_HOLD with centred sticks), hold tgtU
)

// Vehicle is one simulated ArduCopter. It is not safe for concurrent use:
// the owner serialises all calls (the simulator steps each vehicle from one
// goroutine; tests call it directly).
type Vehicle struct {
	cfg    Config
	rng    *rand.Rand
	now    time.Duration
	accum  time.Duration
	ticks  uint64
	events []Event

	params []Param
	pidx   map[string]int
	p      paramCache

	// Local flat-earth frame: origin at cfg.Home, metres north/east/up.
	lat0, lon0, alt0       float64
	mPerDegLat, mPerDegLon float64

	n, e, up    float64 // true position
	vn, ve, vu  float64 // commanded (controller) velocity
	gvn, gve    float64 // ground velocity including wind disturbance
	roll, pitch float64
	yaw         float64
	rollRate    float64
	pitchRate   float64
	yawRate     float64
	throttle    float64
	onGround    bool
	landed      bool // ArduCopter's land_complete
	landTimer   float64
	wantClimb   bool

	// Wind (air velocity, m/s, NED) and the controller's estimate of it.
	windN, windE       float64
	windEstN, windEstE float64
	gustN, gustE       float64
	gustStart, gustEnd time.Duration
	gustPeak, gustDir  float64
	nextGust           time.Duration
	injGust            float64
	injGustUntil       time.Duration

	// GPS.
	gpsFix                    uint8
	sats                      uint8
	hdop, vdop                float64
	gpsErrN, gpsErrE, gpsErrU float64
	gpsN, gpsE, gpsU          float64
	gpsWarmupUntil            time.Duration
	gpsLossUntil              time.Duration
	gpsLostSince              time.Duration
	gpsEverFixed              bool

	// Battery.
	capacityMAh, consumedMAh float64
	current, voltage         float64
	cells                    int
	battLowSince             time.Duration
	battCrtSince             time.Duration
	battFS                   uint8 // 0 none, 1 low, 2 critical
	// groundedSince is when the vehicle was last seen landed and disarmed
	// (-1 while it is not), for Config.SwapTime.
	groundedSince time.Duration

	// Autopilot.
	armed         bool
	failed        bool
	mode          uint32
	g             guidance
	tgtN, tgtE    float64
	tgtU          float64
	ffN, ffE      float64 // target velocity fed forward (CIRCLE)
	speedXY       float64 // current horizontal speed limit, m/s
	takeoffActive bool
	takeoffU      float64
	liftoffAt     time.Duration // end of the motor spool-up before a takeoff
	idleSince     time.Duration
	circleCN      float64
	circleCE      float64
	circleAng     float64

	homeSet             bool
	homeN, homeE, homeU float64
	home                LatLonAlt

	rtl rtlState

	// Mission.
	mission        []mavitem.Item
	fence          []mavitem.Item
	rally          []mavitem.Item
	missionRunning bool
	missionDone    bool
	missionStarted bool // since the last upload or completion
	navIdx         int
	nav            navState
	jumpRuns       []int16

	// Fence.
	fz               fenceZones
	fenceBreaches    uint8
	fenceBreachCount uint16
	fenceBreachTime  time.Duration

	// Failsafes.
	gcsSeen bool
	gcsLast time.Duration
	gcsFS   bool
	ekfFS   bool
}

// New builds a vehicle landed and disarmed at cfg.Home. Out-of-range
// optional values (NaN, negative, beyond the matching parameter's range)
// fall back to the default or the nearest limit; an invalid home becomes
// 0,0.
func New(cfg Config) *Vehicle {
	cfg = sanitizeConfig(cfg)
	v := &Vehicle{
		cfg:           cfg,
		rng:           rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15)),
		lat0:          cfg.Home.Lat,
		lon0:          cfg.Home.Lon,
		alt0:          cfg.Home.AltMSL,
		mode:          ModeStabilize,
		onGround:      true,
		landed:        true,
		battLowSince:  -1,
		battCrtSince:  -1,
		groundedSince: -1,
		gpsLostSince:  -1,
		hdop:          99.99,
		vdop:          99.99,
		gpsFix:        1,
		yaw:           0,
	}
	v.mPerDegLat = earthRadius * math.Pi / 180
	v.mPerDegLon = v.mPerDegLat * math.Cos(cfg.Home.Lat*math.Pi/180)
	if v.mPerDegLon < 1 {
		v.mPerDegLon = 1 // at the poles; keeps the projection finite
	}
	switch {
	case cfg.GPSWarmup == 0:
		v.gpsWarmupUntil = DefaultGPSWarmup
	case cfg.GPSWarmup < 0:
		v.gpsWarmupUntil = 0
	default:
		v.gpsWarmupUntil = cfg.GPSWarmup
	}
	v.capacityMAh = cfg.BatteryCapacityMAh
	if cfg.Endurance > 0 {
		v.capacityMAh = CapacityForEndurance(cfg.Endurance)
	}
	if v.capacityMAh <= 0 {
		v.capacityMAh = defaultCapacityMAh
	}
	v.cells = 3
	v.initParams()
	v.voltage = v.openCircuitVoltage()
	v.mission = []mavitem.Item{{Command: mavitem.CmdNavWaypoint, Autocontinue: 1}}
	v.speedXY = v.p.wpnavSpeed
	v.nextGust = v.drawGustGap()
	v.sats = 0
	if v.gpsWarmupUntil == 0 {
		v.updateGPS()
	}
	return v
}

func sanitizeConfig(c Config) Config {
	fin := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	if !validLatLon(c.Home.Lat, c.Home.Lon) || c.Home.Lat < -89 || c.Home.Lat > 89 {
		c.Home.Lat, c.Home.Lon = 0, 0
	}
	if !fin(c.Home.AltMSL) || math.Abs(c.Home.AltMSL) > 20000 {
		c.Home.AltMSL = 0
	}
	if !fin(c.BatteryCapacityMAh) || c.BatteryCapacityMAh < 0 || c.BatteryCapacityMAh > 1e6 {
		c.BatteryCapacityMAh = 0
	}
	if c.Endurance < 0 || c.Endurance > MaxEndurance {
		c.Endurance = 0
	}
	if c.SwapTime < 0 {
		c.SwapTime = 0
	}
	if !fin(c.WindSpeed) {
		c.WindSpeed = 0
	}
	c.WindSpeed = clamp(c.WindSpeed, 0, 40)
	if !fin(c.WindDirDeg) {
		c.WindDirDeg = 0
	}
	c.WindDirDeg = math.Mod(math.Mod(c.WindDirDeg, 360)+360, 360)
	if !fin(c.GustSpeed) {
		c.GustSpeed = 0
	}
	c.GustSpeed = clamp(c.GustSpeed, 0, 20)
	return c
}

// Step advances physics and autopilot by dt of simulated time. Internally
// the model integrates in fixed 20 ms steps and carries any remainder to
// the next call, so Step(time.Second) and fifty Step(20*time.Millisecond)
// give identical results.
func (v *Vehicle) Step(dt time.Duration) {
	if dt <= 0 {
		return
	}
	v.accum += dt
	for v.accum >= physicsStep {
		v.accum -= physicsStep
		v.now += physicsStep
		v.tick()
	}
}

// Now is the simulated time since New.
func (v *Vehicle) Now() time.Duration { return v.now + v.accum }

// DrainEvents returns what happened since the last call, oldest first.
func (v *Vehicle) DrainEvents() []Event {
	ev := v.events
	v.events = nil
	return ev
}

func (v *Vehicle) emit(kind EventKind, sev uint8, text string, seq uint16) {
	v.events = append(v.events, Event{Kind: kind, Severity: sev, Text: text, Seq: seq})
}

func (v *Vehicle) statusText(sev uint8, text string) {
	v.emit(EventStatusText, sev, text, 0)
}

// tick is one fixed physics + autopilot step.
func (v *Vehicle) tick() {
	v.ticks++
	v.updateWind()
	if v.ticks%10 == 0 { // GPS at 5 Hz
		v.updateGPS()
	}
	if v.ticks%5 == 0 { // failsafes and fence at 10 Hz, like ArduCopter's slow loops
		v.checks()
	}
	v.runMode()
	v.integrate()
	v.updateBattery()
	v.landDetector()
}

// State returns a telemetry snapshot.
func (v *Vehicle) State() State {
	lat, lon := v.toGlobal(v.n, v.e)
	s := State{
		Lat: lat, Lon: lon, AltMSL: v.alt0 + v.up, RelAlt: v.up - v.homeU,
		VN: v.gvn, VE: v.gve, VD: -v.vu,
		Roll: v.roll, Pitch: v.pitch, Yaw: v.yaw,
		RollRate: v.rollRate, PitchRate: v.pitchRate, YawRate: v.yawRate,
		GroundSpeed: math.Hypot(v.gvn, v.gve),
		AirSpeed:    math.Hypot(v.gvn-v.windN-v.gustN, v.gve-v.windE-v.gustE),
		Climb:       v.vu,
		HeadingDeg:  v.yaw * 180 / math.Pi,
		Throttle:    v.throttle,

		BatteryVoltage: v.voltage, BatteryCurrent: v.current,
		BatteryRemainingPct: v.remainingPct(), BatteryConsumedMAh: v.consumedMAh,
		CellCount: v.cells,

		GPSFixType: v.gpsFix, Satellites: v.sats, HDOP: v.hdop, VDOP: v.vdop,

		Armed: v.armed, CustomMode: v.mode,
		Home: v.home, HomeSet: v.homeSet,
		MissionCurrent: uint16(v.navIdx), MissionCount: len(v.mission),
		FenceEnabled: v.fenceEnabled(), FenceBreached: v.fenceBreaches != 0,
		FenceBreachCount: v.fenceBreachCount, FenceBreachTime: v.fenceBreachTime,
		Failed: v.failed,
	}
	if v.onGround {
		s.AirSpeed = 0
	}
	glat, glon := v.toGlobal(v.gpsN, v.gpsE)
	s.GPSLat, s.GPSLon, s.GPSAlt = glat, glon, v.alt0+v.gpsU
	if s.HeadingDeg < 0 {
		s.HeadingDeg += 360
	}
	switch {
	case v.fenceBreaches&(fenceCircle|fencePolygon) != 0:
		s.FenceBreachType = 3 // FENCE_BREACH_BOUNDARY
	case v.fenceBreaches&fenceAltMax != 0:
		s.FenceBreachType = 2 // FENCE_BREACH_MAXALT
	}
	s.MissionState = v.missionState()
	s.SystemStatus = v.systemStatus()
	s.LandedState = v.landedState()
	s.SensorsPresent, s.SensorsEnabled, s.SensorsHealth = v.sensorBits()
	return s
}

// missionState is MAV's MISSION_STATE as ArduPilot reports it.
func (v *Vehicle) missionState() uint8 {
	switch {
	case len(v.mission) <= 1:
		return 1 // NO_MISSION
	case v.missionRunning:
		return 3 // ACTIVE
	case v.missionDone:
		return 5 // COMPLETE
	case v.missionStarted:
		return 4 // PAUSED
	}
	return 2 // NOT_STARTED
}

func (v *Vehicle) systemStatus() uint8 {
	switch {
	case v.failed:
		return mavStateEmergency
	case v.battFS != 0 || v.gcsFS || v.ekfFS:
		return mavStateCritical
	case v.landed:
		return mavStateStandby
	}
	return mavStateActive
}

func (v *Vehicle) landedState() uint8 {
	switch {
	case v.landed:
		return landedOnGround
	case v.g == gLand:
		return landedLanding
	case v.takeoffActive:
		return landedTakeoff
	}
	return landedInAir
}

// MAV_SYS_STATUS_SENSOR bits, as a real ArduCopter 4.7 SITL reports them.
const (
	sensGyro     = 1
	sensAccel    = 2
	sensMag      = 4
	sensBaro     = 8
	sensGPS      = 32
	sensRate     = 1024
	sensAttitude = 2048
	sensYaw      = 4096
	sensZ        = 8192
	sensXY       = 16384
	sensMotors   = 32768
	sensRC       = 65536
	sensFence    = 1 << 20
	sensAHRS     = 1 << 21
	sensTerrain  = 1 << 22
	sensLogging  = 1 << 24
	sensBattery  = 1 << 25
	sensProx     = 1 << 26
	sensPrearm   = 1 << 28
	sensProp     = 1 << 30
)

func (v *Vehicle) sensorBits() (present, enabled, health uint32) {
	base := uint32(sensGyro | sensAccel | sensMag | sensBaro | sensGPS | sensRate | sensAttitude | sensYaw |
		sensMotors | sensRC | sensAHRS | sensTerrain | sensBattery | sensPrearm | sensProp)
	present = base | sensZ | sensXY | sensFence | sensLogging
	enabled = base
	health = base | sensFence | sensLogging | sensProx
	if v.armed {
		enabled |= sensZ | sensXY
		health |= sensZ | sensXY
	}
	if v.fenceEnabled() {
		enabled |= sensFence
		if v.fenceBreaches != 0 {
			health &^= sensFence
		}
	}
	if v.gpsFix < 3 {
		health &^= sensGPS
	}
	if v.battFS != 0 {
		health &^= sensBattery
	}
	if !v.armed {
		if _, reason := v.prearmChecks(); reason != "" {
			health &^= sensPrearm
		}
	}
	if v.failed {
		health &^= sensMotors | sensProp
	}
	return present, enabled, health
}

// BaseMode returns HEARTBEAT's base_mode as ArduCopter fills it for this state.
func (s State) BaseMode() uint8 {
	const (
		customModeEnabled = 1
		guidedEnabled     = 8
		stabilizeEnabled  = 16
		manualInput       = 64
		safetyArmed       = 128
	)
	b := uint8(customModeEnabled | stabilizeEnabled | manualInput)
	switch s.CustomMode {
	case ModeAuto, ModeRTL, ModeLoiter, ModeGuided, ModeCircle, ModePosHold, ModeBrake, ModeSmartRTL:
		b |= guidedEnabled
	}
	if s.Armed {
		b |= safetyArmed
	}
	return b
}
