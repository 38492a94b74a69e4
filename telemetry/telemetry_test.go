package telemetry_test

import (
	"context"
	"maps"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/telemetry"
	"github.com/burgut-uav/burgut/telemetry/telemetrytest"
)

func TestLineProtocol(t *testing.T) {
	s := telemetry.Sample{Time: time.Unix(1, 5), Vehicle: "v 1", Link: "udp:a,b=c", SystemID: 7, Type: "quadrotor",
		Lat: 41.25, Lon: math.NaN(), Mode: "A \"b\"\nc", Armed: true, GPSFix: 3, Satellites: 12}
	got := string(s.AppendLines(nil))
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != telemetry.PointsPerSample {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), telemetry.PointsPerSample, got)
	}
	wantPos := `position,link=udp:a\,b\=c,system_id=7,type=quadrotor,vehicle=v\ 1 lat=41.25,lon=0,alt_msl=0,relative_alt=0,heading=0,ground_speed=0,air_speed=0,climb=0 1000000005`
	if lines[0] != wantPos {
		t.Fatalf("position line\n got %s\nwant %s", lines[0], wantPos)
	}
	wantStatus := `status,link=udp:a\,b\=c,system_id=7,type=quadrotor,vehicle=v\ 1 mode="A \"b\" c",armed=true,gps_fix=3i,satellites=12i 1000000005`
	if lines[3] != wantStatus {
		t.Fatalf("status line\n got %s\nwant %s", lines[3], wantStatus)
	}
}

func TestDownsampleKeepsEndsAndBudget(t *testing.T) {
	for _, c := range []struct{ n, budget int }{{0, 10}, {5, 10}, {10, 10}, {11, 10}, {3600, 1000}, {3600, 2}, {7, 1}} {
		idx := telemetry.Downsample(c.n, c.budget)
		if len(idx) > max(c.budget, 0) && c.n > c.budget {
			t.Fatalf("n=%d budget=%d: %d points", c.n, c.budget, len(idx))
		}
		if c.n > 0 && idx[len(idx)-1] != c.n-1 {
			t.Fatalf("n=%d budget=%d: last point dropped", c.n, c.budget)
		}
		if c.n > 0 && c.budget > 1 && idx[0] != 0 {
			t.Fatalf("n=%d budget=%d: first point dropped", c.n, c.budget)
		}
		for i := 1; i < len(idx); i++ {
			if idx[i] <= idx[i-1] {
				t.Fatalf("n=%d budget=%d: indices not increasing: %v", c.n, c.budget, idx)
			}
		}
	}
}

func TestFlights(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ss := append(telemetrytest.Flight("v", 1, start, 100, time.Second), telemetrytest.Flight("v", 1, start.Add(time.Hour), 50, time.Second)...)
	// A third flight still in the air at the end of the range.
	ss = append(ss, telemetrytest.Flight("v", 1, start.Add(2*time.Hour), 40, time.Second)[:20]...)
	fl := telemetry.MakeFlights("v", ss)
	if len(fl) != 3 {
		t.Fatalf("%d flights, want 3: %+v", len(fl), fl)
	}
	if !fl[0].Start.Equal(start.Add(5*time.Second)) || fl[0].End == nil || !fl[0].End.Equal(start.Add(95*time.Second)) {
		t.Fatalf("flight 1: %+v", fl[0])
	}
	if fl[0].MaxRelAltM < 49 || fl[0].DistanceM < 500 || fl[0].MinBatteryPct >= 100 {
		t.Fatalf("flight 1 summary implausible: %+v", fl[0])
	}
	if !fl[2].InProgress || fl[2].End != nil {
		t.Fatalf("flight 3 should be in progress: %+v", fl[2])
	}
}

// TestFlightsRearmedOnTheGround: a vehicle armed for a launch that
// disarms itself on the ground (the launch was slow) and is armed again
// flew two flights by FlightCounter's definition, the first a short one
// that never left the ground; MakeFlights splits the samples the same way.
func TestFlightsRearmedOnTheGround(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	armed := []bool{false, true, true, false, false, true, true, true, false}
	var ss []telemetry.Sample
	var fc telemetry.FlightCounter
	for i, a := range armed {
		ss = append(ss, telemetry.Sample{Time: start.Add(time.Duration(i) * time.Second), Vehicle: "v", Armed: a, BatteryPct: 90})
		fc.See(a)
	}
	fl := telemetry.MakeFlights("v", ss)
	if len(fl) != 2 || fc.Flights() != 2 || fc.Armed() {
		t.Fatalf("MakeFlights %d flights, FlightCounter %d (armed %v), want 2 and 2 (disarmed): %+v", len(fl), fc.Flights(), fc.Armed(), fl)
	}
	if !fl[0].Start.Equal(start.Add(time.Second)) || fl[0].End == nil || !fl[0].End.Equal(start.Add(3*time.Second)) || fl[0].Samples != 3 {
		t.Fatalf("first (aborted) flight: %+v", fl[0])
	}
	if !fl[1].Start.Equal(start.Add(5*time.Second)) || fl[1].End == nil || !fl[1].End.Equal(start.Add(8*time.Second)) || fl[1].InProgress {
		t.Fatalf("second flight: %+v", fl[1])
	}
	// Repeated states start and end nothing.
	var c telemetry.FlightCounter
	for _, a := range []bool{false, false, true, true, true} {
		c.See(a)
	}
	if c.Flights() != 1 || !c.Armed() {
		t.Fatalf("counter after one arm: %d flights, armed %v", c.Flights(), c.Armed())
	}
}

func TestTrackBadRange(t *testing.T) {
	now := time.Now()
	if _, err := telemetry.TrackOf(context.Background(), nil, "v", now, now, 0); err == nil {
		t.Fatal("empty range accepted")
	}
}

type memWriter struct {
	mu sync.Mutex
	ss []telemetry.Sample
	ps []telemetry.Point
}

func (m *memWriter) WritePoints(_ context.Context, ps []telemetry.Point) error {
	m.mu.Lock()
	m.ps = append(m.ps, ps...)
	m.mu.Unlock()
	return nil
}

func (m *memWriter) WriteSamples(_ context.Context, ss []telemetry.Sample) error {
	m.mu.Lock()
	m.ss = append(m.ss, ss...)
	m.mu.Unlock()
	return nil
}

// The sample policy: at most one sample per Interval per vehicle, but
// every arm/disarm and mode change is stored at once.
// runRecorder runs a recorder of a new fleet into a memWriter; stop ends
// its Run and waits for it (it writes what is batched on the way out).
func runRecorder(cfg telemetry.RecorderConfig) (f *fleet.Fleet, w *memWriter, rec *telemetry.Recorder, stop func()) {
	f, w = fleet.New(fleet.DefaultConfig()), &memWriter{}
	rec = telemetry.NewRecorder(f, w, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = rec.Run(ctx) }()
	return f, w, rec, func() { cancel(); <-done }
}

func TestRecorderSamplePolicy(t *testing.T) {
	f, w, rec, stop := runRecorder(telemetry.RecorderConfig{Interval: time.Second, BatchSize: 10})
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ss := telemetrytest.Flight("v", 1, start, 200, 100*time.Millisecond) // 10 Hz for 20 s
	for _, s := range ss {
		telemetrytest.Update(f, s)
	}
	stop()
	got := w.ss
	st := rec.Stats()
	if st.Updates != 200 || st.Samples != uint64(len(got)) || st.Samples+st.Skipped != 200 {
		t.Fatalf("stats %+v, %d stored", st, len(got))
	}
	// 20 s at 1 Hz = 20, plus the arm and the disarm transitions.
	if len(got) < 20 || len(got) > 23 {
		t.Fatalf("%d samples stored, want about 22", len(got))
	}
	var armChanges int
	for i := 1; i < len(got); i++ {
		if got[i].Armed != got[i-1].Armed {
			armChanges++
			// The transition sample is the exact one that changed.
			for _, s := range ss {
				if s.Time.Equal(got[i].Time) && s.Armed != got[i].Armed {
					t.Fatal("transition stored with wrong state")
				}
			}
		}
	}
	if armChanges != 2 {
		t.Fatalf("%d arm/disarm transitions stored, want 2", armChanges)
	}
	if !got[len(got)-1].Time.After(ss[len(ss)-15].Time) {
		t.Fatal("the last second was not stored")
	}
}

// Interval 0 stores every message, as Telegraf does: each
// GLOBAL_POSITION_INT exactly one position point, each ATTITUDE one
// attitude point, each HEARTBEAT one status and one link point, other
// messages one point in their own measurement; state changes no message
// caused (a refresh of a silent vehicle) store nothing.
func TestRecorderStoresEveryMessageWithZeroInterval(t *testing.T) {
	f, w, rec, stop := runRecorder(telemetry.RecorderConfig{Interval: 0, BatchSize: 7})
	at := time.Unix(1e9, 0)
	for i := 0; i < 100; i++ {
		at = at.Add(10 * time.Millisecond)
		var m any
		switch i % 5 {
		case 0, 1:
			m = &common.MessageGlobalPositionInt{Lat: int32(i)}
		case 2:
			m = &common.MessageAttitude{Roll: 0.1}
		case 3:
			m = &common.MessageHeartbeat{}
		case 4:
			m = &common.MessageVfrHud{Airspeed: float32(i), Throttle: 50}
		}
		f.UpdateFrom("v", at, m, func(v *fleet.Vehicle) { v.Lat = float64(i) })
	}
	f.Refresh("v", at, at.Add(10*time.Second), func(v *fleet.Vehicle) { v.Connected = false })
	f.Update("v", at.Add(time.Second), func(v *fleet.Vehicle) {}) // no message: nothing stored
	stop()
	count := map[telemetry.Parts]int{}
	for _, s := range w.ss {
		count[s.Parts]++
		if s.Parts == telemetry.PartPosition && s.Lat != float64(s.Time.Sub(time.Unix(1e9, 0))/(10*time.Millisecond)-1) {
			t.Fatalf("position at %v has lat %v: not the state of its own message", s.Time, s.Lat)
		}
	}
	if count[telemetry.PartPosition] != 40 || count[telemetry.PartAttitude] != 20 ||
		count[telemetry.PartStatus|telemetry.PartLink] != 20 || len(w.ss) != 80 {
		t.Fatalf("stored %v (%d samples), want 40 position, 20 attitude, 20 status+link", count, len(w.ss))
	}
	if len(w.ps) != 20 || w.ps[0].Measurement != "mavlink_vfr_hud" {
		t.Fatalf("%d message points (%+v), want 20 mavlink_vfr_hud", len(w.ps), w.ps)
	}
	fields := map[string]telemetry.Field{}
	for _, fl := range w.ps[0].Fields {
		fields[fl.Name] = fl
	}
	if fl := fields["airspeed"]; fl.Kind != telemetry.FieldFloat || fl.Float != 4 {
		t.Errorf("airspeed field %+v, want 4", fl)
	}
	if fl := fields["throttle"]; fl.Kind != telemetry.FieldInt || fl.Int != 50 {
		t.Errorf("throttle field %+v, want 50", fl)
	}
	line := string(w.ps[0].AppendLine(nil))
	if !strings.HasPrefix(line, "mavlink_vfr_hud,system_id=0,vehicle=v airspeed=4,groundspeed=0,heading=0i,throttle=50i,alt=0,climb=0 ") {
		t.Errorf("line protocol %q", line)
	}
	var one telemetry.Sample
	for _, s := range w.ss {
		if s.Parts == telemetry.PartPosition {
			one = s
			break
		}
	}
	if lines := strings.Count(string(one.AppendLines(nil)), "\n"); lines != 1 || one.Points() != 1 {
		t.Errorf("a position sample wrote %d lines (Points %d), want 1", lines, one.Points())
	}
	if st := rec.Stats(); st.Samples != 80 || st.Points != 20 || st.Skipped != 2 {
		t.Errorf("stats %+v", st)
	}
}

// At interval 0 a message that changed no state still arrives as an
// update's cause (the ground station's Config.EveryMessage) and is one
// point of its own; a second battery's BATTERY_STATUS is one too, not a
// power sample of the vehicle's (battery 0's) state.
func TestRecorderStoresStatelessMessagesAsPoints(t *testing.T) {
	f, w, _, stop := runRecorder(telemetry.RecorderConfig{Interval: 0, BatchSize: 3})
	at := time.Unix(1e9, 0)
	msgs := []any{
		&common.MessageCommandAck{Command: common.MAV_CMD_SET_MESSAGE_INTERVAL},
		&common.MessageBatteryStatus{Id: 0, BatteryRemaining: 50},
		&common.MessageBatteryStatus{Id: 1, BatteryRemaining: 20},
		&common.MessageAutopilotVersion{Uid: 7},
		&common.MessageCommandAck{Command: common.MAV_CMD_REQUEST_MESSAGE},
	}
	for _, m := range msgs {
		at = at.Add(10 * time.Millisecond)
		f.UpdateFrom("v", at, m, func(*fleet.Vehicle) {})
	}
	stop()
	if len(w.ss) != 1 || w.ss[0].Parts != telemetry.PartPower {
		t.Errorf("samples %+v, want one power sample (battery 0)", w.ss)
	}
	count := map[string]int{}
	for _, p := range w.ps {
		count[p.Measurement]++
	}
	want := map[string]int{"mavlink_command_ack": 2, "mavlink_battery_status": 1, "mavlink_autopilot_version": 1}
	if !maps.Equal(count, want) {
		t.Errorf("message points %v, want %v", count, want)
	}
}

// BenchmarkSampleAppendLines writes a position sample (one line per
// GLOBAL_POSITION_INT at telemetry interval 0) as the InfluxDB sink does.
func BenchmarkSampleAppendLines(b *testing.B) {
	s := telemetry.Sample{Time: time.Date(2026, 12, 2, 2, 30, 0, 123456789, time.UTC), Vehicle: "l3-117", Link: "l3", SystemID: 117, Type: "quadrotor",
		Lat: float64(473977419) / 1e7, Lon: float64(85455938) / 1e7, AltMSL: float64(584123) / 1000, RelativeAlt: float64(50213) / 1000,
		Heading: float64(27345) / 100, GroundSpeed: math.Hypot(812, -305) / 100, AirSpeed: float64(float32(8.7)), Climb: 0.12,
		Parts: telemetry.PartPosition}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = s.AppendLines(buf[:0])
	}
}
