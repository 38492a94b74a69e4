package sqlitestore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"

	"github.com/burgut-uav/burgut/internal/cputime"
	"github.com/burgut-uav/burgut/telemetry"
	"github.com/burgut-uav/burgut/telemetry/sqlitestore"
)

func cpuTime() time.Duration { return cputime.Process() }

// BenchmarkInterval0Fleet is the embedded store under the load at
// --telemetry-interval 0, as the recorder hands it over: every second of
// 2,000 vehicles × 18 messages (10 GLOBAL_POSITION_INT, 2 ATTITUDE,
// SYS_STATUS, BATTERY_STATUS, HEARTBEAT, 2 VFR_HUD, GPS_RAW_INT) is one
// WriteSamples of 30,000 one-measurement samples and one WritePoints of
// 6,000 message points, interleaved by time across vehicles, with Run
// active (as in burgut serve). One iteration is one second of load;
// rows/s must stay well above 38,000 (a heartbeat is a status and a link
// row) to keep up, and rows/cpu-s says what a core of this machine takes.
// Run with -benchtime 60x or more: the table grows as in a real run.
// The iterations run faster than real time, so commits are sized by
// CommitRows (BURGUT_BENCH_COMMIT_ROWS, default the store's: ~2.6 s of
// this load), not by the clock.
func BenchmarkInterval0Fleet(b *testing.B) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := sqlitestore.Options{MaxAge: -1, MaxBytes: -1, Log: log}
	if v := os.Getenv("BURGUT_BENCH_COMMIT_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("BURGUT_BENCH_COMMIT_ROWS=%q: want a positive integer", v)
		}
		opts.CommitRows, opts.MaxPending = n, max(n*3, sqlitestore.DefaultMaxPending)
	}
	st, err := sqlitestore.Open(filepath.Join(b.TempDir(), "t.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()

	const vehicles = 2000
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	hud := telemetry.AppendMessageFields(nil, &common.MessageVfrHud{Airspeed: 12.5, Groundspeed: 11.75, Heading: 271, Throttle: 48, Alt: 512.25, Climb: -0.5})
	gps := telemetry.AppendMessageFields(nil, &common.MessageGpsRawInt{TimeUsec: 123456789, FixType: 3, Lat: 413112345, Lon: 692798765,
		Alt: 512250, Eph: 90, Epv: 120, Vel: 1175, Cog: 27100, SatellitesVisible: 14})
	type msg struct {
		at    time.Duration
		parts telemetry.Parts
		point string
	}
	var second []msg // one vehicle's messages in a second, in time order
	for k := 0; k < 10; k++ {
		second = append(second, msg{at: time.Duration(k) * 100 * time.Millisecond, parts: telemetry.PartPosition})
	}
	for k := 0; k < 2; k++ {
		off := time.Duration(k) * 500 * time.Millisecond
		second = append(second, msg{at: off + 10*time.Millisecond, parts: telemetry.PartAttitude},
			msg{at: off + 20*time.Millisecond, point: "mavlink_vfr_hud"})
	}
	second = append(second, msg{at: 30 * time.Millisecond, parts: telemetry.PartPower}, msg{at: 530 * time.Millisecond, parts: telemetry.PartPower},
		msg{at: 40 * time.Millisecond, parts: telemetry.PartStatus | telemetry.PartLink}, msg{at: 50 * time.Millisecond, point: "mavlink_gps_raw_int"})
	samples := make([]telemetry.Sample, 0, vehicles*15)
	points := make([]telemetry.Point, 0, vehicles*3)
	rows := 0
	c0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		samples, points = samples[:0], points[:0]
		sec := base.Add(time.Duration(i) * time.Second)
		for _, m := range second {
			for v := 0; v < vehicles; v++ {
				s := telemetry.Sample{Time: sec.Add(m.at + time.Duration(v)*time.Microsecond), Vehicle: fmt.Sprintf("uav-%016x", v*7919),
					Link: fmt.Sprintf("udp:0.0.0.0:%d", 14550+v/250), SystemID: uint8(1 + v%250), Type: "quadrotor",
					Lat: 41.3 + float64(v)*1e-4, Lon: 69.2 + float64(i)*1e-5, AltMSL: 512.25, RelativeAlt: 50, Heading: 271,
					GroundSpeed: 11.75, AirSpeed: 12.5, Climb: -0.5, Roll: 1.25, Pitch: -2.5, Yaw: 271,
					BatteryPct: 87, Voltage: 15.9, Current: 12.25, Mode: "AUTO", Armed: true, GPSFix: 3, Satellites: 14,
					LossPct: 0, RateHz: 18, Parts: m.parts}
				if m.point == "" {
					samples = append(samples, s)
					rows += s.Points()
					continue
				}
				f := hud
				if m.point == "mavlink_gps_raw_int" {
					f = gps
				}
				points = append(points, telemetry.Point{Time: s.Time, Measurement: m.point, Tags: s.Tags(), Fields: f})
				rows++
			}
		}
		if err := st.WriteSamples(context.Background(), samples); err != nil {
			b.Fatal(err)
		}
		if err := st.WritePoints(context.Background(), points); err != nil {
			b.Fatal(err)
		}
	}
	cancel()
	<-done // Run commits what is pending before it returns
	b.StopTimer()
	cpu := cpuTime() - c0
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(rows)/cpu.Seconds(), "rows/cpu-s")
	from, to := base.Add(-time.Hour), base.Add(time.Duration(b.N+1)*time.Second)
	n, err := st.CountSamples(context.Background(), telemetry.PartPosition, from, to)
	if err != nil || n != int64(b.N*vehicles*10) {
		b.Fatalf("%d positions stored (%v), want %d", n, err, b.N*vehicles*10)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
}
