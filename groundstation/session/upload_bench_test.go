package session_test

import (
	"os"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/groundstation/internal/uploadbench"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/simulator"
)

// BenchmarkUpload700 uploads a 700-item mission (the simulator's maximum)
// to one simulated vehicle through the product's path — a real ground
// station with its send gates and the session's default Options (set-up:
// package uploadbench, shared with groundstation's BenchmarkStationUpload)
// — with the sub-benchmark's link faults in both directions, and reads it
// back under the same faults. UploadWindow 0 = auto: the simulator reports
// ArduPilot, so the upload is windowed and adaptive. "rtt200ms" is 100 ms
// added each way. ns/op is the upload's wall time; the read-back is
// download-s; the other metrics are uploadbench.Report's.
//
// BURGUT_BENCH_UPLOAD_ITEMS overrides the size for a quicker look;
// BURGUT_BENCH_STRICT=1 adds the strict (window 1) row, which takes minutes.
func BenchmarkUpload700(b *testing.B) {
	cases := []struct {
		name   string
		window int
		f      simulator.LinkFaults
	}{
		{"auto_loss0_rtt0", 0, simulator.LinkFaults{}},
		{"auto_loss0_rtt200ms", 0, simulator.LinkFaults{Latency: 100 * time.Millisecond}},
		{"auto_loss20_rtt200ms", 0, simulator.LinkFaults{LossPct: 20, Latency: 100 * time.Millisecond}},
		{"auto_loss30_rtt200ms", 0, simulator.LinkFaults{LossPct: 30, Latency: 100 * time.Millisecond}},
		{"auto_loss20_rtt400ms", 0, simulator.LinkFaults{LossPct: 20, Latency: 200 * time.Millisecond}},
	}
	if os.Getenv("BURGUT_BENCH_STRICT") == "1" {
		cases = append(cases, struct {
			name   string
			window int
			f      simulator.LinkFaults
		}{"strict_loss20_rtt200ms", 1, simulator.LinkFaults{LossPct: 20, Latency: 100 * time.Millisecond}})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			f := uploadbench.Start(b, uploadbench.Config{Vehicles: 1, Seed: 21, Faults: c.f,
				Session: session.Options{UploadWindow: c.window}})
			items := uploadbench.Mission(uploadbench.ItemCount())
			var rs []uploadbench.Result
			var down time.Duration
			for b.Loop() {
				rs = append(rs, f.UploadAll(b, items))
				b.StopTimer()
				down += f.VerifyAll(b, items)
				b.StartTimer()
			}
			uploadbench.Report(b, rs)
			b.ReportMetric(down.Seconds()/float64(len(rs)), "download-s")
		})
	}
}
