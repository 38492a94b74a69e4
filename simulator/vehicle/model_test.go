package vehicle

import (
	"math"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/mavitem"
)

// fly drives a vehicle through a fixed script and returns its states.
func flyScript(t *testing.T, cfg Config, slice time.Duration) []State {
	v := newReady(t, cfg)
	mustOK(t, "guided")(v.SetMode(ModeGuided))
	mustOK(t, "arm")(v.Arm(false))
	mustOK(t, "takeoff")(v.Takeoff(15))
	var out []State
	for i := 0; i < 60*int(time.Second/slice); i++ {
		if i == int(15*time.Second/slice) {
			lat, lon := offset(80, 40)
			mustOK(t, "goto")(v.GotoGlobal(lat, lon, 25))
		}
		v.Step(slice)
		if v.Now()%time.Second == 0 {
			out = append(out, v.State())
		}
	}
	return out
}

func TestDeterministicForASeed(t *testing.T) {
	cfg := Config{Seed: 42, WindSpeed: 6, WindDirDeg: 270, GustSpeed: 5}
	a := flyScript(t, cfg, 100*time.Millisecond)
	b := flyScript(t, cfg, 100*time.Millisecond)
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d vs %d states", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("state %d differs for the same seed:\n%+v\n%+v", i, a[i], b[i])
		}
	}
	// How the caller slices time does not matter.
	c := flyScript(t, cfg, 20*time.Millisecond)
	for i := range a {
		if a[i] != c[i] {
			t.Fatalf("state %d differs between 100 ms and 20 ms Step slices", i)
		}
	}
	// Another seed gives other gusts and GPS noise.
	cfg.Seed = 43
	d := flyScript(t, cfg, 100*time.Millisecond)
	same := 0
	for i := range a {
		if a[i].GPSLat == d[i].GPSLat && a[i].Lat == d[i].Lat {
			same++
		}
	}
	if same == len(a) {
		t.Fatal("seeds 42 and 43 gave identical flights")
	}
}

func TestKinematicLimits(t *testing.T) {
	v := newReady(t, Config{})
	setParam(t, v, "WPNAV_SPEED", 800)
	mustOK(t, "guided")(v.SetMode(ModeGuided))
	mustOK(t, "arm")(v.Arm(false))
	mustOK(t, "takeoff")(v.Takeoff(30))
	var maxClimb, maxSink, maxSpeed, maxTilt, maxYawRate float64
	step := func(d time.Duration) {
		for end := v.Now() + d; v.Now() < end; {
			v.Step(physicsStep)
			s := v.State()
			maxClimb = math.Max(maxClimb, s.Climb)
			maxSink = math.Max(maxSink, -s.Climb)
			maxSpeed = math.Max(maxSpeed, s.GroundSpeed)
			maxTilt = math.Max(maxTilt, math.Max(math.Abs(s.Roll), math.Abs(s.Pitch)))
			maxYawRate = math.Max(maxYawRate, math.Abs(s.YawRate))
		}
	}
	step(25 * time.Second)
	if s := v.State(); math.Abs(s.RelAlt-30) > 0.6 || s.LandedState != landedInAir {
		t.Fatalf("after takeoff: alt %.2f landed %d", s.RelAlt, s.LandedState)
	}
	lat, lon := offset(-300, 200)
	mustOK(t, "goto")(v.GotoGlobal(lat, lon, 10))
	step(60 * time.Second)
	if maxClimb > 2.5+0.01 || maxClimb < 2.3 {
		t.Errorf("max climb %.2f, want WPNAV_SPEED_UP 2.5", maxClimb)
	}
	if maxSink > 1.5+0.01 || maxSink < 1.3 {
		t.Errorf("max sink %.2f, want WPNAV_SPEED_DN 1.5", maxSink)
	}
	if maxSpeed > 8.05 || maxSpeed < 7.8 {
		t.Errorf("max ground speed %.2f, want WPNAV_SPEED 8", maxSpeed)
	}
	if maxTilt > 30*math.Pi/180+1e-9 || maxTilt < 2*math.Pi/180 {
		t.Errorf("max tilt %.1f°, want within ANGLE_MAX 30°", maxTilt*180/math.Pi)
	}
	if maxYawRate > 60*math.Pi/180+1e-9 || maxYawRate < 10*math.Pi/180 {
		t.Errorf("max yaw rate %.1f°/s, want within ATC_SLEW_YAW 60°/s", maxYawRate*180/math.Pi)
	}
	if s := v.State(); math.Abs(distFromHome(s)-math.Hypot(300, 200)) > 2 || math.Abs(s.RelAlt-10) > 0.5 {
		t.Errorf("did not settle on the target: %.1f m from home at %.1f m", distFromHome(s), s.RelAlt)
	}
}

func TestWindAndGusts(t *testing.T) {
	hover := func(cfg Config, gust float64) (maxDev float64, s State) {
		v := newReady(t, cfg)
		takeoff(t, v, 20)
		v.Step(10 * time.Second)
		n0, e0 := v.n, v.e
		if gust > 0 {
			v.InjectGust(gust, 3*time.Second)
		}
		for i := 0; i < 300; i++ {
			v.Step(100 * time.Millisecond)
			maxDev = math.Max(maxDev, math.Hypot(v.n-n0, v.e-e0))
		}
		return maxDev, v.State()
	}
	calm, _ := hover(Config{}, 0)
	steady, s := hover(Config{WindSpeed: 8, WindDirDeg: 0}, 0)
	gusty, _ := hover(Config{WindSpeed: 8, WindDirDeg: 0}, 6)
	if calm > 0.05 || steady > 0.5 {
		t.Errorf("position hold drifted %.2f m calm, %.2f m in steady wind", calm, steady)
	}
	if gusty < 1 {
		t.Errorf("a 6 m/s gust moved the vehicle only %.2f m", gusty)
	}
	// Holding against an 8 m/s northerly: airspeed ≈ 8, leaning into it (nose
	// north → pitch down, negative).
	if math.Abs(s.AirSpeed-8) > 0.5 || s.GroundSpeed > 0.3 {
		t.Errorf("airspeed %.2f ground speed %.2f, want ≈8 and ≈0", s.AirSpeed, s.GroundSpeed)
	}
	if tilt := math.Hypot(s.Roll, s.Pitch); tilt < 5*math.Pi/180 {
		t.Errorf("tilt %.1f° against 8 m/s wind, want a lean", tilt*180/math.Pi)
	}
}

func TestBatteryModel(t *testing.T) {
	v := newReady(t, Config{BatteryCapacityMAh: 4000})
	s := v.State()
	if s.BatteryVoltage < 12.55 || s.BatteryRemainingPct != 100 || s.BatteryCurrent != 0 || s.CellCount != 3 {
		t.Fatalf("fresh battery: %+v", s)
	}
	if p, _ := v.Param("BATT_CAPACITY"); p.Value != 4000 {
		t.Fatalf("BATT_CAPACITY %v, want the configured 4000", p.Value)
	}
	takeoff(t, v, 20)
	v.Step(30 * time.Second)
	hover := v.State()
	lat, lon := offset(2000, 0)
	mustOK(t, "goto")(v.GotoGlobal(lat, lon, 20))
	v.Step(20 * time.Second)
	cruise := v.State()
	if hover.BatteryCurrent < 8 || hover.BatteryCurrent > 16 {
		t.Errorf("hover current %.1f A", hover.BatteryCurrent)
	}
	if cruise.BatteryCurrent <= hover.BatteryCurrent*1.1 {
		t.Errorf("cruise at %.1f m/s draws %.1f A, hover %.1f A: want more in cruise", cruise.GroundSpeed, cruise.BatteryCurrent, hover.BatteryCurrent)
	}
	if cruise.BatteryConsumedMAh <= hover.BatteryConsumedMAh || cruise.BatteryVoltage >= hover.BatteryVoltage {
		t.Errorf("consumption/voltage did not move: %+v → %+v", hover, cruise)
	}
	// Voltage curve: lower charge, lower voltage.
	before := v.State().BatteryVoltage
	v.InjectBatteryDrop(50)
	if after := v.State().BatteryVoltage; after > before-0.5 {
		t.Errorf("voltage %.2f → %.2f after losing half the pack", before, after)
	}
}

func TestGPSNoiseAndFix(t *testing.T) {
	v := New(Config{SystemID: 1, Home: testHome, Seed: 5})
	if s := v.State(); s.GPSFixType >= 3 || s.HomeSet {
		t.Fatalf("at boot: fix %d home %v, want no fix before the warm-up", s.GPSFixType, s.HomeSet)
	}
	var ev []Event
	runUntil(t, v, 5*time.Second, &ev, func(s State) bool { return s.HomeSet })
	if !hasText(ev, "EKF3 IMU0 is using GPS") {
		t.Errorf("texts %q", texts(ev))
	}
	var sum, maxErr float64
	n := 0
	for i := 0; i < 300; i++ {
		v.Step(time.Second)
		s := v.State()
		if s.GPSFixType != 3 || s.Satellites < 8 || s.HDOP > 1.4 {
			t.Fatalf("fix %d sats %d hdop %.2f", s.GPSFixType, s.Satellites, s.HDOP)
		}
		dn := (s.GPSLat - s.Lat) * 111319.49
		de := (s.GPSLon - s.Lon) * 111319.49 * math.Cos(s.Lat*math.Pi/180)
		e := math.Hypot(dn, de)
		sum += e
		maxErr = math.Max(maxErr, e)
		n++
	}
	if mean := sum / float64(n); mean < 0.05 || mean > 2 || maxErr > 5 {
		t.Errorf("GPS error mean %.2f m max %.2f m, want a realistic sub-metre to metre error", mean, maxErr)
	}
	if cold := New(Config{Home: testHome, GPSWarmup: -1}); !cold.State().HomeSet {
		t.Error("GPSWarmup < 0 should give a fix and home at once")
	}
}

func TestModeRefusals(t *testing.T) {
	v := New(Config{SystemID: 1, Home: testHome})
	if r, why := v.SetMode(ModeLoiter); r != ResultFailed || why != "Mode change to LOITER failed: requires position" {
		t.Errorf("LOITER without GPS = %d %q", r, why)
	}
	if r, why := v.SetMode(99); r != ResultFailed || why != "No such mode 99" {
		t.Errorf("mode 99 = %d %q", r, why)
	}
	v.Step(3 * time.Second)
	if r, why := v.SetMode(ModeAuto); r != ResultFailed || why != "Mode change to AUTO failed: init failed" {
		t.Errorf("AUTO without mission = %d %q", r, why)
	}
	mustOK(t, "loiter")(v.SetMode(ModeLoiter))
	if s := v.State(); s.CustomMode != ModeLoiter || s.BaseMode()&8 == 0 {
		t.Errorf("mode %d base %b", s.CustomMode, s.BaseMode())
	}
}

func TestLandModeAndRally(t *testing.T) {
	v := newReady(t, Config{})
	rally := wp(0, 5100, 120, 0, 25)
	rally.MissionType = 2
	if err := v.SetRally([]mavitem.Item{rally}); err != nil {
		t.Fatal(err)
	}
	takeoff(t, v, 10)
	lat, lon := offset(150, 0)
	mustOK(t, "goto")(v.GotoGlobal(lat, lon, 10))
	runUntil(t, v, time.Minute, nil, func(s State) bool { return distFromHome(s) > 149 })
	mustOK(t, "rtl")(v.SetMode(ModeRTL))
	s := runUntil(t, v, 3*time.Minute, nil, func(s State) bool { return !s.Armed })
	if d := distFromHome(s); math.Abs(d-120) > 1.5 {
		t.Fatalf("RTL with a rally point 120 m north landed %.1f m from home", d)
	}
	// LAND mode: straight down where it is, disarm on touchdown.
	v2 := newReady(t, Config{})
	takeoff(t, v2, 12)
	mustOK(t, "land")(v2.SetMode(ModeLand))
	var ev []Event
	var sawLanding bool
	s = runUntil(t, v2, time.Minute, &ev, func(s State) bool {
		sawLanding = sawLanding || s.LandedState == landedLanding
		return !s.Armed
	})
	if !sawLanding || distFromHome(s) > 0.5 || !hasText(ev, "Disarming motors") {
		t.Fatalf("LAND: landing state seen %v, %.2f m from home, texts %q", sawLanding, distFromHome(s), texts(ev))
	}
}

// ArduCopter returns to a rally point at the higher of the point's
// altitude and RTL_ALT (ModeRTL::compute_return_target), never lower.
func TestRTLToRallyPointFliesAtTheHigherOfItsAltitudeAndRTLAlt(t *testing.T) {
	cases := []struct {
		name             string
		rallyAlt, rtlAlt float64 // m above home
		want             float64
	}{
		{"rally point below RTL_ALT", 8, 30, 30},
		{"rally point above RTL_ALT", 40, 20, 40},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newReady(t, Config{})
			setParam(t, v, "RTL_ALT", c.rtlAlt*100)
			rally := wp(0, mavitem.CmdNavRallyPoint, 120, 0, float32(c.rallyAlt))
			rally.MissionType = mavitem.TypeRally
			if err := v.SetRally([]mavitem.Item{rally}); err != nil {
				t.Fatal(err)
			}
			takeoff(t, v, 10)
			lat, lon := offset(250, 0)
			mustOK(t, "goto")(v.GotoGlobal(lat, lon, 10))
			runUntil(t, v, time.Minute, nil, func(s State) bool { return distFromHome(s) > 249 })
			mustOK(t, "rtl")(v.SetMode(ModeRTL))
			// Over the return leg (from 200 m out to the point) the
			// vehicle holds the return altitude.
			lo, hi := math.Inf(1), math.Inf(-1)
			s := runUntil(t, v, 3*time.Minute, nil, func(s State) bool {
				if d := distFromHome(s); d < 200 && d > 125 {
					lo, hi = math.Min(lo, s.RelAlt), math.Max(hi, s.RelAlt)
				}
				return !s.Armed
			})
			if math.Abs(lo-c.want) > 1 || math.Abs(hi-c.want) > 1 {
				t.Fatalf("returned at %.1f–%.1f m, want %.0f m (rally point %.0f m, RTL_ALT %.0f m)", lo, hi, c.want, c.rallyAlt, c.rtlAlt)
			}
			if d := distFromHome(s); math.Abs(d-120) > 1.5 {
				t.Fatalf("landed %.1f m from home, want at the rally point 120 m north", d)
			}
		})
	}
}

// Close to home ArduCopter climbs less than RTL_ALT: no higher than
// RTL_CONE_SLOPE times its distance from home (ModeRTL::compute_return_
// target's cone), never under 2 m or its own altitude; a slope under 0.5
// turns the cone off, and far away RTL_ALT holds.
func TestRTLClimbIsLoweredByTheConeNearHome(t *testing.T) {
	cases := []struct {
		name      string
		slope     float64 // RTL_CONE_SLOPE; -1 leaves the default (3)
		north, up float64 // where RTL starts, m from home
		want      float64 // highest altitude above home on the way back
	}{
		{"default slope 3, 4 m out", -1, 4, 3, 12},
		{"slope 1, 6 m out", 1, 6, 3, 6},
		{"slope 0 turns the cone off", 0, 4, 3, 30},
		{"slope 0.4 is too shallow: off", 0.4, 4, 3, 30},
		{"far out: RTL_ALT", -1, 40, 3, 30},
		{"already above the cone: no descent", -1, 4, 20, 20},
		{"at home: 2 m at least", -1, 0, 1, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newReady(t, Config{})
			setParam(t, v, "RTL_ALT", 3000)
			if c.slope >= 0 {
				setParam(t, v, "RTL_CONE_SLOPE", c.slope)
			}
			takeoff(t, v, c.up)
			if c.north > 0 {
				lat, lon := offset(c.north, 0)
				mustOK(t, "goto")(v.GotoGlobal(lat, lon, c.up))
				runUntil(t, v, time.Minute, nil, func(s State) bool {
					return math.Abs(distFromHome(s)-c.north) < 0.3 && math.Abs(s.RelAlt-c.up) < 0.2 && math.Hypot(s.VN, s.VE) < 0.1
				})
			}
			mustOK(t, "rtl")(v.SetMode(ModeRTL))
			hi := math.Inf(-1)
			runUntil(t, v, 3*time.Minute, nil, func(s State) bool {
				hi = math.Max(hi, s.RelAlt)
				return !s.Armed
			})
			if math.Abs(hi-c.want) > 0.7 {
				t.Fatalf("RTL from %.0f m out at %.0f m climbed to %.1f m, want %.0f m", c.north, c.up, hi, c.want)
			}
		})
	}
}

func TestCircleMode(t *testing.T) {
	v := newReady(t, Config{})
	setParam(t, v, "CIRCLE_RADIUS", 2000) // 20 m
	takeoff(t, v, 15)
	mustOK(t, "circle")(v.SetMode(ModeCircle))
	cn, ce := v.circleCN, v.circleCE
	v.Step(20 * time.Second)
	var minR, maxR = math.Inf(1), 0.0
	var path float64
	pn, pe := v.n, v.e
	for i := 0; i < 300; i++ {
		v.Step(100 * time.Millisecond)
		r := math.Hypot(v.n-cn, v.e-ce)
		minR, maxR = math.Min(minR, r), math.Max(maxR, r)
		path += math.Hypot(v.n-pn, v.e-pe)
		pn, pe = v.n, v.e
	}
	if minR < 18 || maxR > 22 {
		t.Errorf("radius %.1f..%.1f m, want ≈20", minR, maxR)
	}
	// CIRCLE_RATE 20°/s on 20 m is 7 m/s: 30 s ≈ 210 m of arc.
	if path < 150 || path > 240 {
		t.Errorf("flew %.0f m in 30 s of circling", path)
	}
}
