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
