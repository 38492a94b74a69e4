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

// virtualCase is one row of the deterministic transfer benchmarks: the
// loss in each direction and the one-way latency.
type virtualCase struct {
	name    string
	loss    int
	latency time.Duration
}

// virtualRounds runs transfer over five seeds per case, each in a fresh
// deterministic world (virtual clock, seeded i.i.d. loss in both
// directions, the ArduPilot-like model vehicle, the station's loss figure
// given to the session as a running ground station does), and reports
// virtual-s (the mean transfer time on the virtual clock), max-virtual-s
// (the slowest seed) and unit (what transfer counts per item, per item of
// the 700). ns/op is only the CPU time to simulate.
func virtualRounds(b *testing.B, cases []virtualCase, unit string, transfer func(b *testing.B, mv *modelVehicle, l *world) int) {
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var sum, worst time.Duration
			var counted, runs int
			for b.Loop() {
				for seed := int64(1); seed <= 5; seed++ {
					mv := newModelVehicle()
					l := newWorld(b, Options{}, faults{LossPct: c.loss}, c.latency, seed, mv.handle).withModel(mv)
					l.v.SetAutopilot(uint8(common.MAV_AUTOPILOT_ARDUPILOTMEGA))
					l.v.SetLinkLoss(float64(c.loss) / 100)
					counted += transfer(b, mv, l)
					d := l.elapsed()
					sum += d
					worst = max(worst, d)
					runs++
				}
			}
			b.ReportMetric((sum / time.Duration(runs)).Seconds(), "virtual-s")
			b.ReportMetric(worst.Seconds(), "max-virtual-s")
			b.ReportMetric(float64(counted)/float64(runs*700), unit)
		})
	}
}

// BenchmarkUpload700Virtual is a 700-item upload in the deterministic
// world (virtualRounds), the model vehicle re-requesting after 1 s of
// silence as ArduPilot does: the protocol's own cost, free of this
// machine's CPU contention (the simulator benchmarks include it).
// frames/item counts the MISSION_ITEM_INTs sent.
func BenchmarkUpload700Virtual(b *testing.B) {
	virtualRounds(b, []virtualCase{
		{"loss0_rtt200ms", 0, 100 * time.Millisecond},
		{"loss20_rtt200ms", 20, 100 * time.Millisecond},
		{"loss30_rtt200ms", 30, 100 * time.Millisecond},
		{"loss20_rtt400ms", 20, 200 * time.Millisecond},
	}, "frames/item", func(b *testing.B, mv *modelVehicle, l *world) int {
		mv.reRequest = time.Second
		if err := l.v.Upload(context.Background(), mavitem.TypeMission, testItems(700, mavitem.TypeMission), nil); err != nil {
			b.Fatal(err)
		}
		return len(l.sentOf(isItem))
	})
}

// BenchmarkDownload700Virtual reads a 700-item mission back from the
// model vehicle in the deterministic world (virtualRounds): the read-back
// protocol's own cost. requests/item counts the MISSION_REQUEST_INTs sent.
func BenchmarkDownload700Virtual(b *testing.B) {
	virtualRounds(b, []virtualCase{
		{"loss0_rtt200ms", 0, 100 * time.Millisecond},
		{"loss20_rtt200ms", 20, 100 * time.Millisecond},
		{"loss30_rtt200ms", 30, 100 * time.Millisecond},
	}, "requests/item", func(b *testing.B, mv *modelVehicle, l *world) int {
		items := testItems(700, mavitem.TypeMission)
		mv.lists[mavitem.TypeMission] = items
		got, err := l.v.Download(context.Background(), mavitem.TypeMission, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != len(items) {
			b.Fatalf("read %d items, want %d", len(got), len(items))
		}
		return len(l.sentOf(func(m message.Message) bool { _, ok := m.(*common.MessageMissionRequestInt); return ok }))
	})
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
