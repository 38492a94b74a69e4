package session

import (
	"context"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/simulator"
)

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

// BenchmarkDownload700Virtual reads a 700-item mission back from the
// ArduPilot-like model in the deterministic world (virtual clock, i.i.d.
// loss both ways, five seeds, the station's loss figure given): the read-
// back protocol's own cost. virtual-s is the mean, max-virtual-s the
// slowest seed, requests/item the MISSION_REQUEST_INTs sent per item.
func BenchmarkDownload700Virtual(b *testing.B) {
	for _, c := range []struct {
		name    string
		loss    int
		latency time.Duration
	}{
		{"loss0_rtt200ms", 0, 100 * time.Millisecond},
		{"loss20_rtt200ms", 20, 100 * time.Millisecond},
		{"loss30_rtt200ms", 30, 100 * time.Millisecond},
	} {
		b.Run(c.name, func(b *testing.B) {
			var sum, worst time.Duration
			var frames, runs int
			for b.Loop() {
				for seed := int64(1); seed <= 5; seed++ {
					mv := newModelVehicle()
					items := testItems(700, mavitem.TypeMission)
					mv.lists[mavitem.TypeMission] = items
					l := newWorld(b, Options{}, faults{LossPct: c.loss}, c.latency, seed, mv.handle).withModel(mv)
					l.v.SetAutopilot(uint8(common.MAV_AUTOPILOT_ARDUPILOTMEGA))
					l.v.SetLinkLoss(float64(c.loss) / 100)
					got, err := l.v.Download(context.Background(), mavitem.TypeMission, nil)
					if err != nil {
						b.Fatal(err)
					}
					if len(got) != len(items) {
						b.Fatalf("read %d items, want %d", len(got), len(items))
					}
					d := l.elapsed()
					sum += d
					worst = max(worst, d)
					frames += len(l.sentOf(func(m message.Message) bool { _, ok := m.(*common.MessageMissionRequestInt); return ok }))
					runs++
				}
			}
			b.ReportMetric((sum / time.Duration(runs)).Seconds(), "virtual-s")
			b.ReportMetric(worst.Seconds(), "max-virtual-s")
			b.ReportMetric(float64(frames)/float64(runs*700), "requests/item")
		})
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
