package simulator

import (
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/simulator/vehicle"
)

func ptr[T any](v T) *T { return &v }

// Two vehicles of one fleet with different endurance (vehicle 1 overrides
// the fleet's 25 minutes with 10) drain at different rates flying the same
// hover: each uses its own endurance's share of the pack, in simulated time.
// Fields an override leaves out (the swap time) inherit the fleet's.
func TestPerVehicleEnduranceDrainsAtItsOwnRate(t *testing.T) {
	s, err := New(Config{Vehicles: 3, GCS: []string{"udp:127.0.0.1:9"}, EnduranceMin: 25, SwapMin: 5,
		PerVehicle: map[int]VehicleSettings{1: {EnduranceMin: ptr(10.0)}, 2: {BatteryCapacityMAh: ptr(3000.0), SwapMin: ptr(0.0)}},
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantCap := []float64{vehicle.CapacityForEndurance(25 * time.Minute), vehicle.CapacityForEndurance(10 * time.Minute), 3000}
	used := make([]float64, 3)
	for i := range 3 {
		if got := s.Vehicle(i).modelCfg.SwapTime; got != []time.Duration{5 * time.Minute, 5 * time.Minute, 0}[i] {
			t.Errorf("vehicle %d: swap time %v", i, got)
		}
		s.Vehicle(i).Do(func(v *vehicle.Vehicle) {
			if p, _ := v.Param("BATT_CAPACITY"); math.Abs(p.Value-wantCap[i]) > 0.5 {
				t.Errorf("vehicle %d: BATT_CAPACITY %v, want %v", i, p.Value, wantCap[i])
			}
			v.Step(30 * time.Second) // GPS fix, EKF settled
			if r, why := v.SetMode(vehicle.ModeGuided); r != 0 {
				t.Fatalf("vehicle %d: guided: %d %s", i, r, why)
			}
			if r, why := v.Arm(false); r != 0 {
				t.Fatalf("vehicle %d: arm: %d %s", i, r, why)
			}
			if r, why := v.Takeoff(20); r != 0 {
				t.Fatalf("vehicle %d: takeoff: %d %s", i, r, why)
			}
			before := v.State().BatteryConsumedMAh
			v.Step(3 * time.Minute)
			st := v.State()
			if st.RelAlt < 15 {
				t.Fatalf("vehicle %d: not flying after 3 min: %.1f m", i, st.RelAlt)
			}
			used[i] = (st.BatteryConsumedMAh - before) / wantCap[i]
		})
	}
	// Same flight, same current: the share of the pack scales inversely
	// with capacity, so vehicle 1 (10 min) uses 2.5× vehicle 0's (25 min).
	if r := used[1] / used[0]; math.Abs(r-2.5) > 0.01 {
		t.Fatalf("pack share used: vehicle 0 %.3f, vehicle 1 %.3f (ratio %.3f), want vehicle 1 to drain 2.5× faster", used[0], used[1], r)
	}
	if used[2] <= used[0] {
		t.Fatalf("vehicle 2 (3000 mAh) used %.3f of its pack, vehicle 0 (%.0f mAh) %.3f: want the smaller pack to drain faster", used[2], wantCap[0], used[0])
	}
}

// A bad override names its vehicle; an override of a vehicle that does
// not exist is refused.
func TestPerVehicleSettingsRejected(t *testing.T) {
	for _, c := range []struct {
		pv   map[int]VehicleSettings
		want string
	}{
		{map[int]VehicleSettings{1: {EnduranceMin: ptr(-3.0)}}, "vehicle 1: endurance-min -3"},
		{map[int]VehicleSettings{0: {SwapMin: ptr(math.NaN())}}, "vehicle 0: swap-min"},
		{map[int]VehicleSettings{1: {BatteryCapacityMAh: ptr(-1.0)}}, "vehicle 1: battery capacity"},
		{map[int]VehicleSettings{2: {EnduranceMin: ptr(10.0)}}, "vehicle 2 settings: no such vehicle"},
		{map[int]VehicleSettings{0: {Home: &vehicle.LatLonAlt{Lat: 95}}}, "vehicle 0: home"},
	} {
		_, err := New(Config{Vehicles: 2, GCS: []string{"udp:127.0.0.1:9"}, PerVehicle: c.pv})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one containing %q", c.pv, err, c.want)
		}
	}
}

// A per-vehicle home replaces that vehicle's spread position; video can be
// turned off for one vehicle of a streaming fleet.
func TestPerVehicleHomeAndVideo(t *testing.T) {
	home := vehicle.LatLonAlt{Lat: 41.3, Lon: 69.2, AltMSL: 450}
	cfg := Config{Vehicles: 2, GCS: []string{"udp:127.0.0.1:9"}, Video: true,
		PerVehicle: map[int]VehicleSettings{1: {Home: &home, Video: ptr(false)}}}
	if !cfg.settings(0).video || cfg.settings(1).video {
		t.Fatalf("video: vehicle 0 %v, vehicle 1 %v; want on, off", cfg.settings(0).video, cfg.settings(1).video)
	}
	cfg.Video = false
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if h := s.Vehicle(1).modelCfg.Home; h != home {
		t.Fatalf("vehicle 1 home %+v, want %+v", h, home)
	}
	if h := s.Vehicle(0).modelCfg.Home; h == home {
		t.Fatal("vehicle 0 took vehicle 1's home")
	}
}

// burgut sitl's --vehicle syntax: the keys given are set, the others stay
// nil (inherit); malformed input names the key.
func TestParseVehicleSettings(t *testing.T) {
	i, vs, err := ParseVehicleSettings("vehicle=2,endurance-min=12,swap-min=0,video=false,home=41.31;69.27;500")
	if err != nil {
		t.Fatal(err)
	}
	if i != 2 || vs.EnduranceMin == nil || *vs.EnduranceMin != 12 || vs.SwapMin == nil || *vs.SwapMin != 0 ||
		vs.Video == nil || *vs.Video || vs.BatteryCapacityMAh != nil || vs.Home == nil || *vs.Home != (vehicle.LatLonAlt{Lat: 41.31, Lon: 69.27, AltMSL: 500}) {
		t.Fatalf("parsed %d %+v", i, vs)
	}
	for _, c := range []struct{ in, want string }{
		{"endurance-min=12", "vehicle=INDEX is missing"},
		{"vehicle=-1", "want an index"},
		{"vehicle=1,endurance-min=lots", "endurance-min \"lots\" is not a number"},
		{"vehicle=1,colour=red", "unknown key \"colour\""},
		{"vehicle=1,video=maybe", "video \"maybe\""},
		{"vehicle=1,home=95;10", "home"},
		{"vehicle=1,12", "not key=value"},
	} {
		if _, _, err := ParseVehicleSettings(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.in, err, c.want)
		}
	}
}
