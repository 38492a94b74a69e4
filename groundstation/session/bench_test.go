package session

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/simulator"
)

// BenchmarkUpload700 uploads a 700-item mission (the simulator's maximum)
// to the bundled simulator over real UDP, with the link faults of each
// sub-benchmark applied in both directions, and reads it back to check it.
// Default Options (UploadWindow 0 = auto: the simulator reports ArduPilot,
// so the upload is windowed and adaptive), speedup 1. "rtt200ms" is 100 ms
// added each way. The station has measured the link's loss for a few
// seconds before the upload, as a running ground station has. ns/op is the
// upload's wall time; the read-back is reported as download-s, item frames
// sent per item as frames/item, and the share of the frames sent that the
// simulator never decoded as unreceived/frame.
//
// BURGUT_BENCH_UPLOAD_ITEMS overrides the size for a quicker look;
// BURGUT_BENCH_STRICT=1 adds the strict (window 1) rows, which take minutes.
func BenchmarkUpload700(b *testing.B) {
	n := 700
	if s := os.Getenv("BURGUT_BENCH_UPLOAD_ITEMS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 2 {
			n = v
		}
	}
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
			opts := simOpts()
			opts.MissionItemTimeout, opts.MissionRetries = 0, 0 // defaults
			opts.UploadWindow, opts.MissionWindow = c.window, 32
			if os.Getenv("BURGUT_BENCH_DEBUG") != "" { // the upload's decisions on stderr
				opts.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
			st := newSimStation(b, opts)
			sim := startSim(b, st, simulator.Config{Vehicles: 1, Speedup: 1, Seed: 21})
			v := st.vehicle(b, 1)
			waitAutopilot(b, v)
			sim.Vehicle(0).SetLinkFaults(c.f)
			st.resetLoss(1)
			time.Sleep(5 * time.Second) // the station measures the link's loss
			items := simMission(n)
			var down time.Duration
			var frames, unrx, allSent int
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
				st.resetTransferStats(1)
				rx0, _, _ := sim.Vehicle(0).Stats()
				if err := v.Upload(ctx, mavitem.TypeMission, items, nil); err != nil {
					cancel()
					b.Fatal(err)
				}
				b.StopTimer()
				rx1, _, _ := sim.Vehicle(0).Stats()
				sent := st.stats(1).sent
				frames += st.stats(1).items
				unrx += sent - int(rx1-rx0)
				allSent += sent
				t0 := time.Now()
				got, err := v.Download(ctx, mavitem.TypeMission, nil)
				down += time.Since(t0)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != n {
					b.Fatalf("read back %d items", len(got))
				}
				for i := 1; i < n; i++ {
					if got[i] != items[i] {
						b.Fatalf("item %d differs after upload", i)
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(down.Seconds()/float64(b.N), "download-s")
			b.ReportMetric(float64(frames)/float64(b.N*n), "frames/item")
			// frames the station sent that the simulator never decoded, per
			// frame sent: the link faults' LossPct plus what this harness's
			// gomavlib write queue dropped (it has no send gate; the
			// station does: groundstation's BenchmarkStationUpload)
			b.ReportMetric(float64(unrx)/float64(max(allSent, 1)), "unreceived/frame")
		})
	}
}

// BenchmarkUpload700Virtual runs the same 700-item upload in the
// deterministic world of the mission tests (virtual clock, seeded i.i.d.
// loss in both directions, an ArduPilot-like model vehicle that answers
// early and duplicate items with INVALID_SEQUENCE and re-requests after 1 s)
// over five seeds, with the station's measured loss given to the session as
// a running ground station does. virtual-s is the mean upload time on the
// virtual clock and max-virtual-s the slowest seed: the protocol's own
// cost, free of this machine's CPU contention (the simulator rows above
// include it). ns/op is only the CPU time to simulate.
func BenchmarkUpload700Virtual(b *testing.B) {
	for _, c := range []struct {
		name    string
		loss    int
		latency time.Duration
	}{
		{"loss0_rtt200ms", 0, 100 * time.Millisecond},
		{"loss20_rtt200ms", 20, 100 * time.Millisecond},
		{"loss30_rtt200ms", 30, 100 * time.Millisecond},
		{"loss20_rtt400ms", 20, 200 * time.Millisecond},
	} {
		b.Run(c.name, func(b *testing.B) {
			var sum, worst time.Duration
			var frames, runs int
			for b.Loop() {
				for seed := int64(1); seed <= 5; seed++ {
					mv := newModelVehicle()
					mv.reRequest = time.Second
					l := newWorld(b, Options{}, faults{LossPct: c.loss}, c.latency, seed, mv.handle).withModel(mv)
					l.v.SetAutopilot(uint8(common.MAV_AUTOPILOT_ARDUPILOTMEGA))
					l.v.SetLinkLoss(float64(c.loss) / 100)
					items := testItems(700, mavitem.TypeMission)
					if err := l.v.Upload(context.Background(), mavitem.TypeMission, items, nil); err != nil {
						b.Fatal(err)
					}
					d := l.elapsed()
					sum += d
					worst = max(worst, d)
					frames += len(l.sentOf(isItem))
					runs++
				}
			}
			b.ReportMetric((sum / time.Duration(runs)).Seconds(), "virtual-s")
			b.ReportMetric(worst.Seconds(), "max-virtual-s")
			b.ReportMetric(float64(frames)/float64(runs*700), "frames/item")
		})
	}
}

// BenchmarkUploadParallel100 uploads a 700-item mission to 100 simulated
// vehicles at once (one station, one UDP socket, 100 sessions), with the
// sub-benchmark's loss and 200 ms round trip on every vehicle's link,
// default Options, speedup 1: the "100 vehicles uploading at once" row.
// ns/op is the time until the last vehicle holds its mission; slowest-s
// and median-s are per-vehicle upload times, frames/item the item frames
// sent per item. Each vehicle's list is read back once at the end.
func BenchmarkUploadParallel100(b *testing.B) {
	for _, loss := range []float64{0, 20} {
		b.Run(fmt.Sprintf("loss%.0f_rtt200ms", loss), func(b *testing.B) { uploadParallel(b, 100, loss) })
	}
}

func uploadParallel(b *testing.B, vehicles int, loss float64) {
	n := 700
	if s := os.Getenv("BURGUT_BENCH_UPLOAD_ITEMS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 2 {
			n = v
		}
	}
	opts := simOpts()
	opts.MissionItemTimeout, opts.MissionRetries = 0, 0 // defaults
	st := newSimStation(b, opts)
	sim := startSim(b, st, simulator.Config{Vehicles: vehicles, Speedup: 1, Seed: 31})
	vs := make([]*Vehicle, vehicles)
	for i := range vs {
		vs[i] = st.vehicle(b, uint8(i+1))
		waitAutopilot(b, vs[i])
		sim.Vehicle(i).SetLinkFaults(simulator.LinkFaults{LossPct: loss, Latency: 100 * time.Millisecond})
		st.resetLoss(uint8(i + 1))
	}
	time.Sleep(5 * time.Second) // the station measures the links' loss
	items := simMission(n)
	var slowest, median float64
	var frames int
	for b.Loop() {
		type result struct {
			d   time.Duration
			err error
		}
		res := make(chan result, vehicles)
		for i, v := range vs {
			st.resetTransferStats(uint8(i + 1))
			go func() { // each upload's goroutine ends before the loop continues
				t0 := time.Now()
				err := v.Upload(context.Background(), mavitem.TypeMission, items, nil)
				res <- result{time.Since(t0), err}
			}()
		}
		ds := make([]float64, 0, vehicles)
		for range vs {
			r := <-res
			if r.err != nil {
				b.Fatal(r.err)
			}
			ds = append(ds, r.d.Seconds())
		}
		sort.Float64s(ds)
		slowest += ds[len(ds)-1]
		median += ds[len(ds)/2]
		for i := range vs {
			frames += st.stats(uint8(i + 1)).items
		}
	}
	b.StopTimer()
	for i, v := range vs {
		sim.Vehicle(i).SetLinkFaults(simulator.LinkFaults{})
		got, err := v.Download(context.Background(), mavitem.TypeMission, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != n || got[n-1] != items[n-1] {
			b.Fatalf("vehicle %d holds %d items", i+1, len(got))
		}
	}
	b.ReportMetric(slowest/float64(b.N), "slowest-s")
	b.ReportMetric(median/float64(b.N), "median-s")
	b.ReportMetric(float64(frames)/float64(b.N*vehicles*n), "frames/item")
}

// BenchmarkHandleTelemetry is the session's share of ingest for the frames
// it does not care about (≈ all of a vehicle's 15 msg/s): one type switch.
func BenchmarkHandleTelemetry(b *testing.B) {
	v := New(SenderFunc(func(message.Message) error { return nil }), Target{1, 1}, Options{})
	defer v.Close()
	msg := &common.MessageGlobalPositionInt{Lat: 1}
	for b.Loop() {
		v.Handle(msg)
	}
}

// BenchmarkHandleCommandAck is the cost of routing a protocol reply to a
// waiting operation (lock, filter, channel send).
func BenchmarkHandleCommandAck(b *testing.B) {
	v := New(SenderFunc(func(message.Message) error { return nil }), Target{1, 1}, Options{})
	defer v.Close()
	w, unsubscribe, err := v.subscribe(func(m message.Message) bool { _, ok := m.(*common.MessageCommandAck); return ok })
	if err != nil {
		b.Fatal(err)
	}
	defer unsubscribe()
	msg := &common.MessageCommandAck{Command: 400}
	for b.Loop() {
		v.Handle(msg)
		<-w.ch
	}
}

// BenchmarkUnknownParam is how long reading a parameter name the vehicle
// lacks takes to fail, against the bundled simulator over real UDP with
// default Options: "table_unknown" before the station has the vehicle's
// parameter table (ParamNameTimeout of unanswered requests),
// "table_known" after a full download (ErrUnknownParam, nothing sent).
func BenchmarkUnknownParam(b *testing.B) {
	for _, known := range []bool{false, true} {
		name := "table_unknown"
		if known {
			name = "table_known"
		}
		b.Run(name, func(b *testing.B) {
			opts := simOpts()
			opts.ParamTimeout, opts.ParamRetries, opts.ParamNameTimeout = 0, 0, 0 // defaults
			st := newSimStation(b, opts)
			startSim(b, st, simulator.Config{Vehicles: 1, Speedup: 1, Seed: 41})
			v := st.vehicle(b, 1)
			waitAutopilot(b, v)
			if known {
				if _, err := v.ParamsAll(context.Background(), nil); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if _, err := v.ParamGet(context.Background(), "NO_SUCH_PARAM"); err == nil {
					b.Fatal("an unknown name was read")
				}
			}
		})
	}
}
