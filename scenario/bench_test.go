package scenario

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkStadium flies the library's stadium scenario (continuous
// coverage with battery rotation, 3 drones on station) with a pool of 8
// and of 100 simulated vehicles at several speedups and reports
// simulated minutes per wall second, and how many checks failed: past
// the speed the station keeps up with, handovers come late and coverage
// and battery assertions fail, so the useful speed is the highest with
// failed=0. BURGUT_SCENARIO_BENCH_SPEEDUPS overrides the list
// (comma-separated). Run: go test -run '^$' -bench Stadium -benchtime 1x ./scenario/
func BenchmarkStadium(b *testing.B) {
	speedups := []float64{60, 200, 1000}
	if s := os.Getenv("BURGUT_SCENARIO_BENCH_SPEEDUPS"); s != "" {
		speedups = nil
		for _, f := range splitComma(s) {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				b.Fatal(err)
			}
			speedups = append(speedups, v)
		}
	}
	for _, n := range []int{8, 100} {
		for _, sp := range speedups {
			b.Run(fmt.Sprintf("vehicles=%d/speedup=%g", n, sp), func(b *testing.B) {
				for range b.N {
					sc, err := ParseFile("../scenarios/stadium-perimeter-rotation.yaml")
					if err != nil {
						b.Fatal(err)
					}
					sc.Fleet.Vehicles = FleetVehicles{Count: n}
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
					res, err := Run(ctx, sc, Options{Speedup: sp})
					cancel()
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(res.SimTime.Minutes()/res.Wall.Seconds(), "sim-min/wall-s")
					b.ReportMetric(res.SimTime.Minutes(), "sim-min")
					b.ReportMetric(res.Wall.Seconds(), "wall-s")
					b.ReportMetric(float64(res.Failed()), "failed")
				}
			})
		}
	}
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
