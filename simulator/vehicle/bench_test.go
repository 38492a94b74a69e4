package vehicle

import (
	"fmt"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/mavitem"
)

// patrolVehicle returns a vehicle flying an endless square patrol (DO_JUMP
// -1) in wind with gusts: every part of the step loop is exercised.
func patrolVehicle(tb testing.TB, seed int64) *Vehicle {
	tb.Helper()
	v := New(Config{SystemID: uint8(seed%250 + 1), Home: testHome, Seed: seed, WindSpeed: 5, WindDirDeg: 200, GustSpeed: 4})
	v.Step(3 * time.Second)
	m := []mavitem.Item{
		wp(0, mavitem.CmdNavWaypoint, 0, 0, 0),
		wp(1, mavitem.CmdNavTakeoff, 0, 0, 20),
		wp(2, mavitem.CmdNavWaypoint, 200, 0, 20),
		wp(3, mavitem.CmdNavWaypoint, 200, 200, 20),
		wp(4, mavitem.CmdNavWaypoint, 0, 200, 20),
		{Seq: 5, Command: mavitem.CmdDoJump, Param1: 2, Param2: -1},
	}
	if err := v.SetMission(m); err != nil {
		tb.Fatal(err)
	}
	setParamTB(tb, v, "FS_GCS_ENABLE", 0)
	setParamTB(tb, v, "BATT_CAPACITY", 1000000) // fly for ever
	v.SetMode(ModeGuided)
	if r, why := v.Arm(false); r != ResultAccepted {
		tb.Fatalf("arm: %d %s", r, why)
	}
	v.MissionStart(0, 0)
	v.Step(30 * time.Second)
	if s := v.State(); s.RelAlt < 15 {
		tb.Fatalf("patrol vehicle not flying: %+v", s)
	}
	v.DrainEvents()
	return v
}

func setParamTB(tb testing.TB, v *Vehicle, name string, val float64) {
	tb.Helper()
	if _, err := v.SetParam(name, val); err != nil {
		tb.Fatal(err)
	}
}

// TestStepDoesNotAllocate guards the fleet-scale budget: Step and State
// allocate nothing in steady flight.
func TestStepDoesNotAllocate(t *testing.T) {
	v := patrolVehicle(t, 1)
	allocs := testing.AllocsPerRun(1000, func() {
		v.Step(physicsStep)
		_ = v.State()
	})
	v.DrainEvents()
	if allocs > 0.05 { // mission events (a few per lap) may allocate
		t.Fatalf("%.2f allocations per step", allocs)
	}
}

// BenchmarkStep measures one vehicle's 20 ms physics + autopilot step;
// sim-s/wall-s is how much faster than real time one core runs it.
func BenchmarkStep(b *testing.B) {
	v := patrolVehicle(b, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v.Step(physicsStep)
		if i%1000 == 0 {
			v.DrainEvents()
		}
	}
	b.StopTimer()
	perStep := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(physicsStep.Seconds()/perStep, "sim-s/wall-s")
}

// BenchmarkState measures the telemetry snapshot.
func BenchmarkState(b *testing.B) {
	v := patrolVehicle(b, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = v.State()
	}
}

// BenchmarkFleet advances N flying vehicles by one simulated second per
// op (stepped in 100 ms slices, with a State snapshot at 10 Hz as a
// telemetry layer would take). core-fraction is the share of one core
// the model needs to run N vehicles in real time.
func BenchmarkFleet(b *testing.B) {
	for _, n := range []int{100, 1000, 2000} {
		b.Run(fmt.Sprintf("vehicles=%d", n), func(b *testing.B) {
			fleet := make([]*Vehicle, n)
			for i := range fleet {
				fleet[i] = patrolVehicle(b, int64(i+1))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for slice := 0; slice < 10; slice++ {
					for _, v := range fleet {
						v.Step(100 * time.Millisecond)
						_ = v.State()
					}
				}
				for _, v := range fleet {
					v.DrainEvents()
				}
			}
			b.StopTimer()
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "core-fraction")
		})
	}
}
