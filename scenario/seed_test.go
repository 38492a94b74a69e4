package scenario

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// seedWorld is a fleet whose every random part is in play: homes spread
// over a disc, a steady wind with random gusts.
const seedWorld = `name: seeded
duration: 5m
fleet:
  vehicles: 3
  home: {lat: 41.3123, lon: 69.2716}
  spread: 40
world:
  wind: {speed: 5, dir: 270, gusts: 4}
assertions:
  - kind: all_landed
    by: 5m
`

// seededFlight builds the scenario's simulated fleet for seed, as Run
// does (newSim), and flies each vehicle the same script on its model
// directly — no UDP, no wall clock, no station — returning its UID and
// its state after each simulated minute.
func seededFlight(t *testing.T, sc *Scenario, seed int64) (uids []uint64, states [][]vehicle.State) {
	t.Helper()
	sim, err := newSim(sc, "udp:127.0.0.1:9", 10, seed, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	for i := range sim.Len() {
		sv := sim.Vehicle(i)
		uids = append(uids, sv.UID())
		var got []vehicle.State
		sv.Do(func(v *vehicle.Vehicle) {
			v.Step(time.Minute) // a GPS fix and a home
			got = append(got, v.State())
			for _, cmd := range []func() (uint8, string){
				func() (uint8, string) { return v.SetMode(vehicle.ModeGuided) },
				func() (uint8, string) { return v.Arm(true) },
				func() (uint8, string) { return v.Takeoff(30) },
			} {
				if r, msg := cmd(); r != 0 {
					t.Errorf("vehicle %d refused: %s", i, msg)
				}
			}
			for range 3 {
				v.Step(time.Minute)
				got = append(got, v.State())
			}
		})
		states = append(states, got)
	}
	return uids, states
}

// Everything random in a run comes from the seed (--seed, else the
// file's): the same scenario and seed build the same fleet — UIDs (hence
// station IDs), homes — whose models, given the same commands at the same
// simulated times, fly bit-identical flights through the same gusts and
// GPS noise. Another seed gives other vehicles and another flight. (Whole
// runs differ in their exact tracks only because commands and faults
// reach the models at wall-clock-dependent simulated times:
// scenarios/README.md.)
func TestSeedFixesTheFleetAndItsWorld(t *testing.T) {
	sc, err := Parse("seeded.yaml", []byte(seedWorld))
	if err != nil {
		t.Fatal(err)
	}
	uidsA, a := seededFlight(t, sc, 7)
	uidsB, b := seededFlight(t, sc, 7)
	for i := range a {
		if uidsA[i] != uidsB[i] {
			t.Errorf("vehicle %d: UID %x then %x with the same seed", i, uidsA[i], uidsB[i])
		}
		for k := range a[i] {
			if a[i][k] != b[i][k] {
				t.Fatalf("vehicle %d, minute %d: the same seed flew differently:\n%+v\n%+v", i, k, a[i][k], b[i][k])
			}
		}
		if a[i][3].RelAlt < 20 {
			t.Errorf("vehicle %d did not fly (%.1f m up): the comparison proves little", i, a[i][3].RelAlt)
		}
	}
	// The homes are spread: no two vehicles start at the same place.
	if a[0][0].Lat == a[1][0].Lat && a[0][0].Lon == a[1][0].Lon {
		t.Error("vehicles 0 and 1 share a home")
	}
	// The gusts are the world's (world.wind.gusts reaches the models):
	// without them the same seed flies otherwise.
	calm := *sc
	calm.World.Wind.Gusts = 0
	if _, d := seededFlight(t, &calm, 7); d[0][3] == a[0][3] {
		t.Error("the same flight with and without gusts: world.wind.gusts does not reach the simulator")
	}
	uidsC, c := seededFlight(t, sc, 8)
	for i := range a {
		if uidsC[i] == uidsA[i] {
			t.Errorf("vehicle %d: seeds 7 and 8 gave the same UID %x", i, uidsA[i])
		}
		if a[i][3] == c[i][3] {
			t.Errorf("vehicle %d: seeds 7 and 8 flew identical flights (gusts and GPS noise not seeded?)", i)
		}
	}
}
