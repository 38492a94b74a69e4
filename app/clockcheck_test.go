package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator"
)

func TestClockMismatchRule(t *testing.T) {
	for _, c := range []struct {
		rate     float64
		n        int
		scale    float64
		follows  bool
		mismatch bool
	}{
		{0, 0, 1, false, false},    // nothing measured
		{1.01, 3, 1, false, false}, // real drones
		{19.6, 4, 20, false, false},
		{20, 4, 1, false, true}, // an external sitl at 20 the station was not told of
		{1, 4, 20, false, true}, // told 20, the vehicles fly in real time
		{12, 4, 20, false, true},
		{12, 4, 20, true, false}, // burgut run: the clock follows the simulator's lag
		{30, 4, 20, true, true},
	} {
		got, msg := clockMismatch(c.rate, c.n, c.scale, c.follows)
		if got != c.mismatch {
			t.Errorf("rate %v of %d vehicles, scale %v, follows %v: mismatch %v (%q), want %v", c.rate, c.n, c.scale, c.follows, got, msg, c.mismatch)
		}
		if got && !strings.Contains(msg, fmt.Sprintf("--operations-time-scale %.3g", c.rate)) {
			t.Errorf("rate %v: message %q does not say which --operations-time-scale to give", c.rate, msg)
		}
	}
}

// An external simulator at --speedup 20 and a station told nothing of it:
// the station sees the vehicles' clocks run 20 times as fast as its
// operation clock and says so in /api/v1/health (and on /metrics).
func TestHealthReportsAVehicleClockFasterThanTheOperationClock(t *testing.T) {
	if testing.Short() {
		t.Skip("measures a simulator's clock over 10 s windows")
	}
	port := testenv.FreeUDPPort(t)
	runSim(t, simulator.Config{Vehicles: 2, GCS: []string{fmt.Sprintf("udp:127.0.0.1:%d", port)}, Speedup: 20})
	a, _ := runApp(t, func(c *Config) {
		c.GroundStation.MAVLink = []string{fmt.Sprintf("udp:127.0.0.1:%d", port)}
	})
	var h struct{ Clock *ClockCheck }
	testenv.Eventually(t, 90*time.Second, "the clock check measured the vehicles", func() bool {
		getJSON(t, "http://"+a.HTTPAddr()+"/api/v1/health", &h)
		return h.Clock != nil && h.Clock.Vehicles == 2
	})
	c := h.Clock
	// The simulator may lag on a loaded machine; it still runs far faster
	// than the station's operation clock at 1.
	if !c.Mismatch || c.TimeScale != 1 || c.VehicleRate < 5 || c.VehicleRate > 25 || !strings.Contains(c.Message, "--operations-time-scale") {
		t.Fatalf("health clock %+v: want a mismatch at about 20 against 1 that names --operations-time-scale", *c)
	}
}

// An external simulator at --speedup 20 against a station told 20, slowed
// to 10 for a while as a loaded machine slows it: the operation clock
// follows the time the simulated world lost, as the simulator itself
// counts it (Sim.Lag), and health says the clock follows it rather than
// reporting the slower vehicles' clocks as a mismatch. One vehicle: a
// simulator's lag is its slowest scheduler's, the followed lag the median
// vehicle's (groundstation's tests cover the median).
func TestOperationClockFollowsAnExternalSimulatorsLag(t *testing.T) {
	if testing.Short() {
		t.Skip("slows a simulator for 12 s")
	}
	port := testenv.FreeUDPPort(t)
	sim, _ := runSim(t, simulator.Config{Vehicles: 1, GCS: []string{fmt.Sprintf("udp:127.0.0.1:%d", port)}, Speedup: 20})
	dir := t.TempDir()
	station := func(c *Config) {
		c.DataDir = dir
		c.GroundStation.MAVLink = []string{fmt.Sprintf("udp:127.0.0.1:%d", port)}
		c.Operations.TimeScale = 20
	}
	a, stop := runApp(t, station)
	lag := a.operationsLag()
	if lag == nil {
		t.Fatal("the operation clock does not follow an external simulator")
	}
	testenv.Eventually(t, 60*time.Second, "the vehicles' clock offsets are measured", func() bool {
		return len(a.Station.ClockOffsets()) == 1
	})
	time.Sleep(2 * time.Second) // the vehicle's lag anchored
	sim0, ops0 := sim.Lag(), lag()
	if err := sim.SetSpeedup(10); err != nil {
		t.Fatal(err)
	}
	var h struct{ Clock *ClockCheck }
	testenv.Eventually(t, 30*time.Second, "the clock check sees the vehicles' clocks at about half the scale", func() bool {
		getJSON(t, "http://"+a.HTTPAddr()+"/api/v1/health", &h)
		return h.Clock != nil && h.Clock.Vehicles == 1 && h.Clock.VehicleRate < 15
	})
	if c := h.Clock; c.Mismatch || !c.FollowsSimulator {
		t.Fatalf("health clock %+v while the simulator runs at half the scale: want it followed, not a mismatch", *c)
	}
	if err := sim.SetSpeedup(20); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // the last slow second's offsets are in
	lost, followed := sim.Lag()-sim0, lag()-ops0
	t.Logf("the simulator lost %v, the operation clock followed %v", lost, followed)
	if lost < 2*time.Second {
		t.Fatalf("the simulator lost only %v at half its speedup", lost)
	}
	if d := followed - lost; d < -500*time.Millisecond || d > 500*time.Millisecond {
		t.Fatalf("the operation clock followed %v of the %v the simulator lost", followed, lost)
	}

	// A restart goes on from the lag followed, and follows what the
	// simulator loses while the station is down (it runs at half its
	// speedup for those 3 s).
	stop()
	before := lag()
	sim1 := sim.Lag()
	if err := sim.SetSpeedup(10); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := sim.SetSpeedup(20); err != nil {
		t.Fatal(err)
	}
	a, _ = runApp(t, station)
	lag = a.operationsLag()
	if got := lag(); got < before-500*time.Millisecond {
		t.Fatalf("after a restart the lag is %v, want the %v followed before", got, before)
	}
	testenv.Eventually(t, 60*time.Second, "the vehicles' clock offsets are measured again", func() bool {
		return len(a.Station.ClockOffsets()) == 1
	})
	time.Sleep(2 * time.Second)
	lostDown, followedAll := sim.Lag()-sim1, lag()-before
	t.Logf("while the station was down the simulator lost %v; the restarted station followed %v more", lostDown, followedAll)
	if d := followedAll - lostDown; d < -500*time.Millisecond || d > 500*time.Millisecond {
		t.Fatalf("the restarted station followed %v more, the simulator lost %v", followedAll, lostDown)
	}
}
