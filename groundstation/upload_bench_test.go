package groundstation_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/groundstation/internal/uploadbench"
	"github.com/burgut-uav/burgut/simulator"
)

// BenchmarkStationUpload runs the 700-item mission upload through the
// whole ground station — its UDP listener, gomavlib node, send gates,
// dispatcher and the session's default Options — against the bundled
// simulator at speedup 1 with the sub-benchmark's loss and 200 ms round
// trip on every vehicle's link (100 ms each way, both directions), for 1
// vehicle and for 100 uploading at once (set-up: package uploadbench,
// shared with the session package's benchmarks). ns/op is until the last
// vehicle holds its mission; the metrics are uploadbench.Report's
// (slowest-s, median-s, frames/item, shed/frame, unreceived/frame, cpu-s,
// load1). Every vehicle's list is read back, all at once with the faults
// off, and compared after the timed part. BURGUT_BENCH_UPLOAD_ITEMS
// overrides 700.
func BenchmarkStationUpload(b *testing.B) {
	for _, c := range []struct {
		vehicles int
		loss     float64
	}{{1, 20}, {1, 30}, {100, 0}, {100, 20}} {
		b.Run(fmt.Sprintf("vehicles%d_loss%.0f_rtt200ms", c.vehicles, c.loss), func(b *testing.B) {
			f := uploadbench.Start(b, uploadbench.Config{Vehicles: c.vehicles, Seed: 7,
				Faults: simulator.LinkFaults{LossPct: c.loss, Latency: 100 * time.Millisecond}})
			items := uploadbench.Mission(uploadbench.ItemCount())
			var rs []uploadbench.Result
			for b.Loop() {
				r := f.UploadAll(b, items)
				b.Log(r.Summary())
				rs = append(rs, r)
			}
			b.StopTimer()
			uploadbench.Report(b, rs)
			f.SetFaults(simulator.LinkFaults{})
			f.VerifyAll(b, items)
		})
	}
}

// BenchmarkStationDownload reads a 700-item mission back (Download, as an
// assign with read-back does) through the whole ground station, with the
// sub-benchmark's loss and 200 ms round trip on every vehicle's link, for
// 1 vehicle and for 100 at once. The missions are uploaded first with the
// faults off; the station then measures the faulty links for 5 s, as for
// the uploads. ns/op is until the last vehicle's list is read; the
// metrics are uploadbench.Report's, frames/item counting the station's
// requests (and everything else it sent) per item read.
func BenchmarkStationDownload(b *testing.B) {
	for _, c := range []struct {
		vehicles int
		loss     float64
	}{{1, 20}, {100, 0}, {100, 20}} {
		b.Run(fmt.Sprintf("vehicles%d_loss%.0f_rtt200ms", c.vehicles, c.loss), func(b *testing.B) {
			faults := simulator.LinkFaults{LossPct: c.loss, Latency: 100 * time.Millisecond}
			f := uploadbench.Start(b, uploadbench.Config{Vehicles: c.vehicles, Seed: 7})
			items := uploadbench.Mission(uploadbench.ItemCount())
			f.UploadAll(b, items)
			f.SetFaults(faults)
			f.Settle(b, faults)
			var rs []uploadbench.Result
			for b.Loop() {
				r := f.DownloadAll(b, items)
				b.Log(r.Summary())
				rs = append(rs, r)
			}
			b.StopTimer()
			uploadbench.Report(b, rs)
		})
	}
}
