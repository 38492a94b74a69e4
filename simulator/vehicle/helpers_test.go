package vehicle

import (
	"math"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/mavitem"
)

var testHome = LatLonAlt{Lat: 41.3123, Lon: 69.2716, AltMSL: 450}

// newReady returns a vehicle whose GPS has a fix and home is set.
func newReady(t *testing.T, cfg Config) *Vehicle {
	t.Helper()
	if cfg.Home == (LatLonAlt{}) {
		cfg.Home = testHome
	}
	if cfg.SystemID == 0 {
		cfg.SystemID = 1
	}
	v := New(cfg)
	v.Step(3 * time.Second)
	s := v.State()
	if s.GPSFixType < 3 || !s.HomeSet {
		t.Fatalf("after 3 s: fix %d home set %v, want a 3D fix and home", s.GPSFixType, s.HomeSet)
	}
	return v
}

// runUntil steps in 100 ms slices until cond is true or limit passes,
// collecting events.
func runUntil(t *testing.T, v *Vehicle, limit time.Duration, events *[]Event, cond func(State) bool) State {
	t.Helper()
	end := v.Now() + limit
	for v.Now() < end {
		v.Step(100 * time.Millisecond)
		ev := v.DrainEvents()
		if events != nil {
			*events = append(*events, ev...)
		}
		if s := v.State(); cond(s) {
			return s
		}
	}
	s := v.State()
	t.Fatalf("condition not met within %v; state: mode %d armed %v relalt %.1f landed %d", limit, s.CustomMode, s.Armed, s.RelAlt, s.LandedState)
	return s
}

// mustOK returns a checker for a command's (result, reason):
// mustOK(t, "arm")(v.Arm(false)).
func mustOK(t *testing.T, what string) func(uint8, string) {
	t.Helper()
	return func(r uint8, reason string) {
		t.Helper()
		if r != ResultAccepted {
			t.Fatalf("%s: result %d (%q), want accepted", what, r, reason)
		}
	}
}

// takeoff arms in GUIDED and climbs to alt.
func takeoff(t *testing.T, v *Vehicle, alt float64) {
	t.Helper()
	mustOK(t, "mode GUIDED")(v.SetMode(ModeGuided))
	mustOK(t, "arm")(v.Arm(false))
	mustOK(t, "takeoff")(v.Takeoff(alt))
	runUntil(t, v, 60*time.Second, nil, func(s State) bool { return s.RelAlt > alt-0.6 })
}

// offset returns the lat/lon dn metres north and de metres east of home.
func offset(dn, de float64) (lat, lon float64) {
	lat = testHome.Lat + dn/111319.49
	lon = testHome.Lon + de/(111319.49*math.Cos(testHome.Lat*math.Pi/180))
	return lat, lon
}

func wp(seq uint16, cmd uint16, dn, de float64, alt float32) mavitem.Item {
	it := mavitem.Item{Seq: seq, Command: cmd, Frame: mavitem.FrameGlobalRelAltInt, Autocontinue: 1, Z: alt}
	if dn != 0 || de != 0 {
		lat, lon := offset(dn, de)
		it.X, it.Y = int32(math.Round(lat*1e7)), int32(math.Round(lon*1e7))
	}
	return it
}

func distFromHome(s State) float64 {
	dn := (s.Lat - testHome.Lat) * 111319.49
	de := (s.Lon - testHome.Lon) * 111319.49 * math.Cos(testHome.Lat*math.Pi/180)
	return math.Hypot(dn, de)
}

func texts(ev []Event) []string {
	var out []string
	for _, e := range ev {
		if e.Text != "" {
			out = append(out, e.Text)
		}
	}
	return out
}
