package report

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// BenchmarkRender100Vehicles renders a one-hour run of 100 vehicles
// sampled at 1 Hz with 2,000 timeline entries: the size of the stadium
// scenario's 100-vehicle benchmark. It reports the page's size.
func BenchmarkRender100Vehicles(b *testing.B) {
	r := &Report{Scenario: "bench", Speedup: 50, Duration: time.Hour}
	for v := 0; v < 100; v++ {
		t := Track{Vehicle: fmt.Sprintf("v%d", v)}
		for i := 0; i < 3600; i++ {
			a := float64(i) / 600 * 2 * math.Pi
			t.Samples = append(t.Samples, Sample{At: time.Duration(i) * time.Second, Lat: 41.3 + 0.001*float64(v%10) + 0.0005*math.Sin(a),
				Lon: 69.2 + 0.001*float64(v/10) + 0.0005*math.Cos(a), AltM: 40, BatteryPct: 100 - float64(i)/40})
		}
		r.Tracks = append(r.Tracks, t)
	}
	for i := 0; i < 2000; i++ {
		r.Timeline = append(r.Timeline, Entry{At: time.Duration(i) * time.Second, Kind: KindEvent, Vehicles: []string{fmt.Sprintf("v%d", i%100)}, Text: "mission item reached"})
	}
	var size int
	b.ResetTimer()
	for b.Loop() {
		cw := &countWriter{}
		if err := Render(cw, r); err != nil {
			b.Fatal(err)
		}
		size = cw.n
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB/page")
}

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }
