package simulator

import (
	"runtime"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// The vehicles fly in one world: when one scheduler shard is starved
// (here: one of its vehicles held for 600 ms, longer than the 10 ticks a
// late tick makes good), the other shard waits for it rather than flying
// on, so the vehicles' simulated clocks stay within 10 ticks of each
// other (a late tick makes good up to 10), and close once both run. Before, the starved shard fell behind for good, by the starved
// time less 10 ticks, times the speedup (here about 25 simulated seconds).
func TestShardsKeepOneSimulatedClock(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one scheduler shard with GOMAXPROCS 1")
	}
	g := newTestGCS(t, true)
	s := startSim(t, Config{Vehicles: 2, GCS: []string{g.addr()}, Speedup: 50})
	if s.nShards != 2 {
		t.Fatalf("%d shards, want 2 (one per vehicle)", s.nShards)
	}
	clock := func(i int) (now time.Duration) {
		s.Vehicle(i).Do(func(v *vehicle.Vehicle) { now = v.Now() })
		return now
	}
	time.Sleep(300 * time.Millisecond)
	for range 3 {
		s.Vehicle(1).Do(func(*vehicle.Vehicle) { time.Sleep(600 * time.Millisecond) }) // shard 1 starved
		time.Sleep(300 * time.Millisecond)
	}
	// Read both clocks once both shards run again: the difference a
	// tick's phase explains is a tick or two at the speedup.
	var worst time.Duration
	for range 20 {
		a, b := clock(0), clock(1)
		worst = max(worst, (a - b).Abs())
		time.Sleep(20 * time.Millisecond)
	}
	tickSim := time.Duration(float64(s.cfg.TickInterval) * s.cfg.Speedup)
	t.Logf("clocks at most %v apart (a tick is %v of simulated time); lag %v", worst, tickSim, s.Lag())
	if worst > 5*tickSim {
		t.Fatalf("the vehicles' simulated clocks are %v apart after one shard was starved, want within a few ticks (%v each)", worst, tickSim)
	}
	if s.Lag() < time.Second {
		t.Fatalf("lag %v after 1.8 s of starved shard, want the time the world waited", s.Lag())
	}
}
