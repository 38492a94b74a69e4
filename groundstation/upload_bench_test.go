package groundstation

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator"
)

// BenchmarkStationUpload runs the 700-item mission upload through the
// whole ground station — its UDP listener, gomavlib node, dispatcher and
// the session's default Options — against the bundled simulator at
// speedup 1 with the sub-benchmark's loss and 200 ms round trip on every
// vehicle's link (100 ms each way, both directions), for 1 vehicle and for
// 100 uploading at once. The station measures each link's loss for 5 s
// first, as a running station has. ns/op is until the last vehicle holds
// its mission; slowest-s and median-s are per-vehicle upload times,
// frames/item the mission item frames the station handed to the link per
// item, shed/frame the frames its send gate shed (LinkInfo.SendShed) per
// frame sent. Every vehicle's list is read back and compared after the
// timed part. BURGUT_BENCH_UPLOAD_ITEMS overrides 700.
func BenchmarkStationUpload(b *testing.B) {
	for _, c := range []struct {
		vehicles int
		loss     float64
	}{{1, 20}, {1, 30}, {100, 0}, {100, 20}} {
		b.Run(fmt.Sprintf("vehicles%d_loss%.0f_rtt200ms", c.vehicles, c.loss), func(b *testing.B) {
			stationUpload(b, c.vehicles, c.loss)
		})
	}
}

func stationUpload(b *testing.B, vehicles int, loss float64) {
	n := 700
	if s := os.Getenv("BURGUT_BENCH_UPLOAD_ITEMS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 2 {
			n = v
		}
	}
	sendGateOff = os.Getenv("BURGUT_BENCH_NO_SEND_GATE") == "1"
	b.Cleanup(func() { sendGateOff = false })
	port := testenv.FreeUDPPort(b)
	cfg := testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port))
	cfg.Session = session.Options{} // the defaults a user gets
	st, fl := startStation(b, cfg)
	sim := startSimConfig(b, simulator.Config{Vehicles: vehicles, Seed: 7, Speedup: 1}, port)
	deadline := time.Now().Add(120 * time.Second)
	for fl.Len() < vehicles && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if fl.Len() != vehicles {
		b.Fatalf("%d of %d vehicles discovered", fl.Len(), vehicles)
	}
	for i := range vehicles {
		sim.Vehicle(i).SetLinkFaults(simulator.LinkFaults{LossPct: loss, Latency: 100 * time.Millisecond})
	}
	time.Sleep(5 * time.Second) // the station measures the links' loss
	sessions := make([]*session.Vehicle, 0, vehicles)
	for _, v := range fl.List() {
		s, err := st.Session(v.ID)
		if err != nil {
			b.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	items := patrol(fleet.Point{Lat: 41.3111, Lon: 69.2797, AltMSL: 450}, n-1)
	items = append([]mavitem.Item{items[0]}, items...) // seq 0: home
	if len(items) > n {
		items = items[:n]
	}
	sent0, shed0 := linkSendCounts(st)
	var slowest, median float64
	for b.Loop() {
		type result struct {
			d   time.Duration
			err error
		}
		res := make(chan result, vehicles)
		for _, s := range sessions {
			go func() { // each upload's goroutine ends before the loop continues
				t0 := time.Now()
				err := s.Upload(context.Background(), mavitem.TypeMission, items, nil)
				res <- result{time.Since(t0), err}
			}()
		}
		ds := make([]float64, 0, vehicles)
		for range sessions {
			r := <-res
			if r.err != nil {
				b.Fatal(r.err)
			}
			ds = append(ds, r.d.Seconds())
		}
		sort.Float64s(ds)
		slowest += ds[len(ds)-1]
		median += ds[len(ds)/2]
	}
	b.StopTimer()
	sent1, shed1 := linkSendCounts(st)
	for i, s := range sessions {
		sim.Vehicle(i).SetLinkFaults(simulator.LinkFaults{})
		got, err := s.Download(context.Background(), mavitem.TypeMission, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != len(items) || got[len(got)-1].X != items[len(items)-1].X {
			b.Fatalf("vehicle %d holds %d items", i+1, len(got))
		}
	}
	b.ReportMetric(slowest/float64(b.N), "slowest-s")
	b.ReportMetric(median/float64(b.N), "median-s")
	b.ReportMetric(float64(sent1-sent0)/float64(b.N*vehicles*len(items)), "frames/item")
	b.ReportMetric(float64(shed1-shed0)/float64(max(sent1-sent0, 1)), "shed/frame")
}

// linkSendCounts sums the station's links' frames sent and shed.
func linkSendCounts(st *Station) (sent, shed uint64) {
	for _, l := range st.Links() {
		sent += l.SendFrames
		shed += l.SendShed
	}
	return sent, shed
}
