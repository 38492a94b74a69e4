package simulator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/cputime"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// sinkGCS opens n loopback UDP sockets that never read: the vehicles send
// real datagrams, the kernel drops what overflows, and the benchmark
// process spends nothing on receiving.
func sinkGCS(b *testing.B, n int) []string {
	b.Helper()
	var out []string
	for range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		out = append(out, "udp:"+c.LocalAddr().String())
	}
	return out
}

// BenchmarkOneVehicleSimSpeed measures simulated seconds per wall second
// for one flying vehicle with its full telemetry encoded and sent over UDP
// (the scheduler's tick, run back to back instead of on a timer).
func BenchmarkOneVehicleSimSpeed(b *testing.B) {
	s, err := New(Config{Vehicles: 1, GCS: sinkGCS(b, 1), Log: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sv := s.Vehicle(0)
	const dt = 20 * time.Millisecond
	now := time.Now()
	for i := 0; i < 500 && !sv.State().HomeSet; i++ { // GPS fix and home
		now = now.Add(dt)
		sv.tick(now, dt)
	}
	sv.Do(func(v *vehicle.Vehicle) {
		v.SetMode(vehicle.ModeGuided)
		if r, why := v.Arm(false); r != vehicle.ResultAccepted {
			b.Fatalf("arm: %d %s", r, why)
		}
		v.Takeoff(30)
	})
	// a fixed 1,000 s of simulated flight per iteration, so even
	// -benchtime 1x (make bench) measures something meaningful
	const ticksPerOp = 50000
	b.ResetTimer()
	start := time.Now()
	var simulated time.Duration
	for i := 0; i < b.N*ticksPerOp; i++ {
		now = now.Add(dt)
		sv.tick(now, dt)
		simulated += dt
		if i%2000 == 1999 { // keep it flying: a new far target every 40 s
			lat := 41.3123 + float64((i/2000)%2)*0.003
			sv.Do(func(v *vehicle.Vehicle) { v.GotoGlobal(lat, 69.2716, 30) })
		}
	}
	wall := time.Since(start)
	b.ReportMetric(simulated.Seconds()/wall.Seconds(), "sim-s/wall-s")
	_, _, tx := sv.Stats()
	b.ReportMetric(float64(tx)/float64(b.N*ticksPerOp), "frames/tick")
}

func cpuTime() time.Duration { return cputime.Process() }

// BenchmarkFleetRealTime runs N vehicles in real time (speedup 1, default
// telemetry rates) for BURGUT_BENCH_SECONDS (default 10) against sink
// sockets and reports the CPU the whole process used, in cores (CPU seconds
// per wall second), and the frames sent per second.
func BenchmarkFleetRealTime(b *testing.B) {
	secs := 10.0
	if v, err := strconv.ParseFloat(os.Getenv("BURGUT_BENCH_SECONDS"), 64); err == nil && v > 0 {
		secs = v
	}
	for _, tc := range []struct {
		n      int
		flying bool
	}{{100, false}, {1000, false}, {2000, false}, {100, true}, {1000, true}, {2000, true}} {
		n := tc.n
		name := fmt.Sprintf("vehicles=%d/landed", n)
		if tc.flying {
			name = fmt.Sprintf("vehicles=%d/flying", n)
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				gcs := sinkGCS(b, (n+MaxVehiclesPerGCS-1)/MaxVehiclesPerGCS)
				s, err := New(Config{Vehicles: n, GCS: gcs, Seed: 1, Log: quietLog()})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- s.Run(ctx) }()
				time.Sleep(2 * time.Second) // warm up: sockets, first GPS fixes
				if tc.flying {
					launch(b, s)
				}
				var tx0 uint64
				for i := range n {
					_, _, tx := s.Vehicle(i).Stats()
					tx0 += tx
				}
				c0, w0 := cpuTime(), time.Now()
				time.Sleep(time.Duration(secs * float64(time.Second)))
				c1, w1 := cpuTime(), time.Now()
				var tx1 uint64
				for i := range n {
					_, _, tx := s.Vehicle(i).Stats()
					tx1 += tx
				}
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				wall := w1.Sub(w0).Seconds()
				b.ReportMetric((c1-c0).Seconds()/wall, "cores")
				b.ReportMetric(float64(tx1-tx0)/wall, "frames/s")
				b.ReportMetric(float64(tx1-tx0)/wall/float64(n), "frames/s/vehicle")
			}
		})
	}
}

// launch arms every vehicle in GUIDED and sends it up and away, so the
// measurement covers vehicles in flight.
func launch(b *testing.B, s *Sim) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < s.Len(); i++ {
		for !s.Vehicle(i).State().HomeSet {
			if time.Now().After(deadline) {
				b.Fatalf("vehicle %d has no home after 30 s", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
		s.Vehicle(i).Do(func(v *vehicle.Vehicle) {
			v.SetMode(vehicle.ModeGuided)
			if r, why := v.Arm(false); r != vehicle.ResultAccepted {
				b.Fatalf("arm vehicle %d: %d %s", i, r, why)
			}
			v.Takeoff(40)
		})
	}
	time.Sleep(time.Second)
	for i := 0; i < s.Len(); i++ {
		s.Vehicle(i).Do(func(v *vehicle.Vehicle) {
			st := v.State()
			v.GotoGlobal(st.Lat+0.004, st.Lon+0.004, 40)
		})
	}
}
