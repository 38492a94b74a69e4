package session

import (
	"context"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/simulator"
)

// BenchmarkParamsDownload downloads ArduCopter's ~1,350 parameters from
// the bundled simulator over real UDP, as @PARAM/param.pck over MAVLink
// FTP and with PARAM_REQUEST_LIST, with the link faults of each case in
// both directions. Default Options (1.5 s timeouts), speedup 1; the
// simulator paces both the same way: 10 frames per 20 ms tick (10
// PARAM_VALUEs or 10 FTP burst packets). ns/op is one full download.
func BenchmarkParamsDownload(b *testing.B) {
	for _, c := range []struct {
		name string
		ftp  bool
		f    simulator.LinkFaults
	}{
		{"ftp_loss0", true, simulator.LinkFaults{}},
		{"list_loss0", false, simulator.LinkFaults{}},
		{"ftp_loss20", true, simulator.LinkFaults{LossPct: 20}},
		{"list_loss20", false, simulator.LinkFaults{LossPct: 20}},
		{"ftp_loss20_latency100ms", true, simulator.LinkFaults{LossPct: 20, Latency: 100 * time.Millisecond}},
		{"list_loss20_latency100ms", false, simulator.LinkFaults{LossPct: 20, Latency: 100 * time.Millisecond}},
	} {
		b.Run(c.name, func(b *testing.B) {
			opts := Options{Log: simOpts().Log}
			st := newSimStation(b, opts)
			sim := startSim(b, st, simulator.Config{Vehicles: 1, Speedup: 1, Seed: 23, ExtraParams: copterParams - 70})
			v := st.vehicle(b, 1)
			sim.Vehicle(0).SetLinkFaults(c.f)
			n := 0
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				var ps []Param
				var err error
				if c.ftp {
					ps, err = v.ParamsByFTP(ctx, nil)
				} else {
					ps, err = v.ParamsByList(ctx, nil)
				}
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				if len(ps) < copterParams-10 {
					b.Fatalf("%d parameters", len(ps))
				}
				n = len(ps)
			}
			rx, _, tx := sim.Vehicle(0).Stats()
			b.ReportMetric(float64(n), "params")
			b.ReportMetric(float64(rx)/float64(b.N), "frames-to-vehicle/op")
			b.ReportMetric(float64(tx)/float64(b.N), "frames-from-vehicle/op")
		})
	}
}
