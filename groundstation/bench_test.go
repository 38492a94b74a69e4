package groundstation

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/cputime"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator"
)

// telemetryMix is a typical stream mix the dispatcher maps into the fleet.
func telemetryMix(i int) message.Message {
	switch i % 4 {
	case 0:
		return &common.MessageGlobalPositionInt{TimeBootMs: uint32(i), Lat: 413111000 + int32(i), Lon: 692797000, Alt: 460000, RelativeAlt: 10000, Vx: 100, Vy: 50, Hdg: 9000}
	case 1:
		return &common.MessageAttitude{TimeBootMs: uint32(i), Roll: 0.1, Pitch: 0.05, Yaw: 1.5}
	case 2:
		return &common.MessageVfrHud{Airspeed: 5, Groundspeed: 5, Heading: 90, Throttle: 50, Alt: 460, Climb: 0.1}
	default:
		return &common.MessageSysStatus{VoltageBattery: 15800, CurrentBattery: 1200, BatteryRemaining: 80}
	}
}

// BenchmarkDecodeBare is gomavlib's own cost of reading one frame
// (GLOBAL_POSITION_INT/ATTITUDE/VFR_HUD/SYS_STATUS mix) from bytes: the
// baseline the dispatcher's per-frame cost is compared with.
func BenchmarkDecodeBare(b *testing.B) {
	enc := newFrameEncoder(b, 1, 1)
	var stream bytes.Buffer
	const n = 4096
	for i := 0; i < n; i++ {
		stream.Write(enc.encode(b, telemetryMix(i)))
	}
	data := stream.Bytes()
	b.ReportAllocs()
	b.ResetTimer()
	var r *frame.Reader
	for i := 0; i < b.N; i++ {
		if i%n == 0 {
			r = &frame.Reader{BufByteReader: bufio.NewReader(bytes.NewReader(data)), DialectRW: testDialect}
			if err := r.Initialize(); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := r.Read(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDispatchFrame is the station's per-frame path after decoding:
// vehicle lookup, sequence accounting, session hand-off, and the fleet
// update with its events and subscriber publication, over 2,000 vehicles,
// with no subscriber and with one coalescing subscriber (as the relays
// have; its own draining is not timed: it runs in its own goroutine).
func BenchmarkDispatchFrame(b *testing.B) {
	for _, subs := range []int{0, 1} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) { benchDispatch(b, subs) })
	}
}

func benchDispatch(b *testing.B, subs int) {
	const vehicles = 2000
	fl := fleet.New(fleet.DefaultConfig())
	var sub *fleet.Subscription
	if subs > 0 {
		sub = fl.Subscribe(fleet.SubscribeOptions{})
		defer sub.Close()
	}
	ln, stop := benchLink(b, fl, vehicles)
	defer stop()
	frames := make([]*gomavlib.EventFrame, 0, 4*vehicles)
	for i := 0; i < 4*vehicles; i++ {
		frames = append(frames, &gomavlib.EventFrame{Frame: &frame.V2Frame{
			SystemID: uint8(i%250 + 1), ComponentID: uint8(i/250%8 + 1), Message: telemetryMix(i / vehicles)}})
	}
	seqs := make([]uint8, vehicles)
	at := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := frames[i%len(frames)]
		v := i % vehicles
		seqs[v]++
		ev.Frame.(*frame.V2Frame).SequenceNumber = seqs[v]
		at = at.Add(100 * time.Nanosecond)
		ln.onFrame(ev.Frame, ev.Channel, nil, at)
		if sub != nil && i%4096 == 0 {
			b.StopTimer()
			sub.Next()
			b.StartTimer()
		}
	}
}

// benchLink builds a link dispatcher without sockets holding n vehicles
// (250 systems × up to 8 autopilot components), already published.
func benchLink(b *testing.B, fl *fleet.Fleet, n int) (*linkRT, func()) {
	cfg := testConfig("udp:127.0.0.1:0")
	cfg.IdentityWait = time.Millisecond
	st, err := New(cfg, fl, testLog(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // setup goroutines end at once: no sockets here
	st.runCtx = ctx
	ln := newLinkRT(st, st.links[0])
	at := time.Now()
	for i := 0; i < n; i++ {
		ln.onFrame(&frame.V2Frame{SystemID: uint8(i%250 + 1), ComponentID: uint8(i/250%8 + 1),
			Message: &common.MessageHeartbeat{Type: common.MAV_TYPE_QUADROTOR, Autopilot: common.MAV_AUTOPILOT_ARDUPILOTMEGA,
				BaseMode: common.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, CustomMode: 5}}, nil, nil, at)
	}
	ln.tick(at.Add(time.Second))
	if fl.Len() != n {
		b.Fatalf("%d vehicles published, want %d", fl.Len(), n)
	}
	return ln, func() { st.wg.Wait() }
}

// BenchmarkIngest runs N simulated vehicles (real UDP, default simulator
// stream rates plus the station's 4 Hz requests) against a Station for
// 10 s and reports frames ingested per second and the CPU seconds the
// whole process (simulator + station) used per wall second.
func BenchmarkIngest(b *testing.B) {
	for _, n := range []int{500, 1000, 2000} {
		b.Run(fmt.Sprintf("vehicles=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchIngest(b, n)
			}
		})
	}
}

func benchIngest(b *testing.B, n int) {
	links := (n + 249) / 250
	var specs []string
	var ports []int
	for i := 0; i < links; i++ {
		p := testenv.FreeUDPPort(b)
		ports = append(ports, p)
		specs = append(specs, fmt.Sprintf("udp:127.0.0.1:%d", p))
	}
	cfg := testConfig(specs...)
	cfg.IdentityWait = time.Second // as when these benchmarks were recorded
	cfg.StreamRateHz = 4
	cfg.HeartbeatTimeout = 5 * time.Second
	st, fl := startStation(b, cfg)
	startSimConfig(b, simulator.Config{Vehicles: n, Seed: 1, Speedup: 1}, ports...)
	deadline := time.Now().Add(90 * time.Second)
	for fl.Len() < n && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if fl.Len() < n {
		b.Fatalf("only %d of %d vehicles discovered", fl.Len(), n)
	}
	time.Sleep(3 * time.Second) // let the stream requests settle
	frames := func() uint64 {
		var f uint64
		for _, l := range st.Links() {
			f += l.Frames
		}
		return f
	}
	f0, c0, t0 := frames(), cpuTime(), time.Now()
	time.Sleep(10 * time.Second)
	f1, c1, t1 := frames(), cpuTime(), time.Now()
	wall := t1.Sub(t0).Seconds()
	rate := float64(f1-f0) / wall
	cpu := (c1 - c0).Seconds() / wall
	b.ReportMetric(rate, "frames/s")
	b.ReportMetric(rate/float64(n), "frames/s/vehicle")
	b.ReportMetric(cpu, "cpu-s/s")
	b.ReportMetric(rate/cpu, "frames/cpu-s")
	connected := 0
	for _, v := range fl.List() {
		if v.Connected {
			connected++
		}
	}
	b.ReportMetric(float64(connected), "connected")
}

func cpuTime() time.Duration { return cputime.Process() }

// BenchmarkUpload100Vehicles uploads a 50-item mission with verification
// to 100 simulated vehicles at once and reports the wall time of the
// whole group and the slowest vehicle.
func BenchmarkUpload100Vehicles(b *testing.B) {
	port := testenv.FreeUDPPort(b)
	cfg := testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port))
	cfg.IdentityWait = time.Second // as when this benchmark was recorded
	st, fl := startStation(b, cfg)
	sim := startSimConfig(b, simulator.Config{Vehicles: 100, Seed: 5, Speedup: 1}, port)
	deadline := time.Now().Add(60 * time.Second)
	for fl.Len() < 100 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	ids := make([]string, 0, 100)
	for _, v := range fl.List() {
		ids = append(ids, v.ID)
	}
	if len(ids) != sim.Len() {
		b.Fatalf("%d of %d vehicles discovered", len(ids), sim.Len())
	}
	items := patrol(fleet.Point{Lat: 41.3111, Lon: 69.2797, AltMSL: 450}, 48)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var mu sync.Mutex
		var slowest time.Duration
		start := time.Now()
		res := st.Group(context.Background(), ids, 100, func(ctx context.Context, id string) (any, error) {
			rep, err := st.Upload(ctx, id, mavitem.TypeMission, items, UploadOptions{Verify: true})
			mu.Lock()
			if rep.Duration > slowest {
				slowest = rep.Duration
			}
			mu.Unlock()
			return rep, err
		})
		for _, r := range res {
			if !r.OK {
				b.Fatalf("%s: %s", r.VehicleID, r.Error)
			}
		}
		b.ReportMetric(time.Since(start).Seconds(), "group-s")
		b.ReportMetric(slowest.Seconds(), "slowest-s")
	}
}
