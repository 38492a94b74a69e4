package session

import (
	"context"
	"os"
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
// Default Options (1.5 s item timeout), speedup 1. ns/op is the upload's
// wall time; the read-back is reported as download-s.
//
// BURGUT_BENCH_UPLOAD_ITEMS overrides the size for a quicker look.
func BenchmarkUpload700(b *testing.B) {
	n := 700
	if s := os.Getenv("BURGUT_BENCH_UPLOAD_ITEMS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 2 {
			n = v
		}
	}
	for _, c := range []struct {
		name   string
		window int
		f      simulator.LinkFaults
	}{
		{"window1_loss0_latency0", 1, simulator.LinkFaults{}},
		{"window32_loss0_latency0", 32, simulator.LinkFaults{}},
		{"window32_loss0_latency200ms", 32, simulator.LinkFaults{Latency: 200 * time.Millisecond}},
		{"window32_loss20_latency200ms", 32, simulator.LinkFaults{LossPct: 20, Latency: 200 * time.Millisecond}},
		{"window1_loss0_latency200ms", 1, simulator.LinkFaults{Latency: 200 * time.Millisecond}},
		{"window1_loss20_latency200ms", 1, simulator.LinkFaults{LossPct: 20, Latency: 200 * time.Millisecond}},
	} {
		b.Run(c.name, func(b *testing.B) {
			opts := simOpts()
			opts.MissionItemTimeout, opts.MissionRetries = 0, 0 // defaults
			opts.UploadWindow, opts.MissionWindow = c.window, 32
			st := newSimStation(b, opts)
			sim := startSim(b, st, simulator.Config{Vehicles: 1, Speedup: 1, Seed: 21})
			v := st.vehicle(b, 1)
			sim.Vehicle(0).SetLinkFaults(c.f)
			items := simMission(n)
			var down time.Duration
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
				if err := v.Upload(ctx, mavitem.TypeMission, items, nil); err != nil {
					cancel()
					b.Fatal(err)
				}
				b.StopTimer()
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
			b.ReportMetric(float64(n), "items")
		})
	}
}

// BenchmarkUploadParallel100 uploads a 50-item mission to 100 simulated
// vehicles at once (one station, one UDP link, 100 sessions), no faults,
// speedup 1: the "100 vehicles uploading at once" row.
func BenchmarkUploadParallel100(b *testing.B) {
	const vehicles, n = 100, 50
	st := newSimStation(b, Options{Log: simOpts().Log})
	startSim(b, st, simulator.Config{Vehicles: vehicles, Speedup: 1, Seed: 31})
	vs := make([]*Vehicle, vehicles)
	for i := range vs {
		vs[i] = st.vehicle(b, uint8(i+1))
	}
	items := simMission(n)
	for b.Loop() {
		errs := make(chan error, vehicles)
		for _, v := range vs {
			go func() { // each upload's goroutine ends before the loop continues
				errs <- v.Upload(context.Background(), mavitem.TypeMission, items, nil)
			}()
		}
		for range vs {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
	}
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
