package scenario

import (
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// fleetList is goodScenario with a fleet.vehicles list of three: vehicle 0
// overrides the endurance, vehicle 1 inherits everything, vehicle 2 has its
// own home, pack, no swap and no video.
var fleetList = strings.Replace(goodScenario, "  vehicles: 2\n", `  vehicles:
    - {endurance_min: 12}
    - {}
    - {home: {lat: 41.3130, lon: 69.2730}, battery_mah: 3000, swap_min: 0, video: false}
  endurance_min: 25
  swap_min: 5
`, 1)

// A fleet.vehicles list validates (and against the JSON Schema), and the
// simulated fleet built from it gives each vehicle its entry's settings
// and the fleet's for the fields the entry leaves out.
func TestFleetVehicleListValidatesAndBuildsTheFleet(t *testing.T) {
	sc, err := Parse("list.yaml", []byte(fleetList))
	if err != nil {
		t.Fatal(err)
	}
	if sc.FleetSize() != 3 || len(sc.Fleet.Vehicles.List) != 3 {
		t.Fatalf("fleet size %d, entries %d; want 3", sc.FleetSize(), len(sc.Fleet.Vehicles.List))
	}
	s, _ := compileSchema(t)
	if err := s.Validate(yamlToJSONValue(t, []byte(fleetList))); err != nil {
		t.Fatalf("schema refuses the vehicle list: %v", err)
	}
	sim, err := newSim(sc, "udp:127.0.0.1:9", 10, 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	wantCap := []float64{vehicle.CapacityForEndurance(12 * time.Minute), vehicle.CapacityForEndurance(25 * time.Minute), 3000}
	for i := range 3 {
		sim.Vehicle(i).Do(func(v *vehicle.Vehicle) {
			if p, _ := v.Param("BATT_CAPACITY"); math.Abs(p.Value-wantCap[i]) > 0.5 {
				t.Errorf("vehicle %d: BATT_CAPACITY %v, want %v", i, p.Value, wantCap[i])
			}
			v.Step(30 * time.Second) // position estimate settled
			h := v.State()
			if own := math.Abs(h.Lat-41.3130) < 1e-4 && math.Abs(h.Lon-69.2730) < 1e-4; own != (i == 2) {
				t.Errorf("vehicle %d: at %v,%v; only vehicle 2 has its own home (41.3130,69.2730)", i, h.Lat, h.Lon)
			}
			// Swap: vehicles 0 and 1 inherit the fleet's 5 minutes, vehicle 2 never swaps.
			v.InjectBatteryDrop(50)
			v.Step(5*time.Minute + time.Second)
			if full := v.State().BatteryRemainingPct == 100; full != (i != 2) {
				t.Errorf("vehicle %d: %.0f %% after 5 min on the ground", i, v.State().BatteryRemainingPct)
			}
		})
	}
}

// A count stays valid (the older form), and a bad entry names its line.
func TestFleetVehicleListBadEntryNamesItsLine(t *testing.T) {
	for _, c := range []struct{ old, new, want string }{
		{"- {home: {lat: 41.3130", "- {endurance_min: -4, home: {lat: 41.3130", "list.yaml:7:23: fleet.vehicles[2]: endurance-min -4"},
		{"- {endurance_min: 12}", "- {endurance_min: 0.2}", "list.yaml:5:23: fleet.vehicles[0]: endurance-min 0.2"},
		{"- {}", "- {colour: red}", "list.yaml:6:8: unknown field \"colour\" in fleet.vehicles[1]"},
		{"- {}", "- 7", "list.yaml:6:7: fleet.vehicles[1]: want a mapping"},
		{"battery_mah: 3000", "battery_mah: -3000", "list.yaml:7:57: fleet.vehicles[2]: battery_mah -3000"},
		{"swap_min: 0,", "swap_min: -1,", "list.yaml:7:73: fleet.vehicles[2]: swap-min -1"},
		{"home: {lat: 41.3130, lon: 69.2730}", "home: {lat: 141.3130, lon: 69.2730}", "list.yaml:7:14: fleet.vehicles[2]: home 141.313"},
		{"  endurance_min: 25\n", "  endurance_min: 25\n  homes: [{lat: 41.31, lon: 69.27}, {lat: 41.32, lon: 69.27}, {lat: 41.33, lon: 69.27}]\n", "fleet.vehicles[2]: home is given here and in fleet.homes"},
	} {
		src := strings.Replace(fleetList, c.old, c.new, 1)
		if src == fleetList {
			t.Fatalf("%q does not change the scenario", c.old)
		}
		_, err := Parse("list.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s → %s: error %v\nwant it to contain %q", c.old, c.new, err, c.want)
		}
	}
	if _, err := Parse("count.yaml", []byte(goodScenario)); err != nil {
		t.Fatalf("fleet.vehicles as a count: %v", err)
	}
}
