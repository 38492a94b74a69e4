package influx

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/telemetry"
	"github.com/burgut-uav/burgut/telemetry/influxtest"
	"github.com/burgut-uav/burgut/telemetry/spool"
	"github.com/burgut-uav/burgut/telemetry/sqlitestore"
	"github.com/burgut-uav/burgut/telemetry/telemetrytest"
)

// newDB creates a fresh database on the shared InfluxDB so tests never see
// each other's points.
func newDB(t testing.TB, base string) string {
	t.Helper()
	db := fmt.Sprintf("t_%d_%d", time.Now().UnixNano(), rand.IntN(1e6))
	resp, err := http.PostForm(base+"/query", url.Values{"q": {"CREATE DATABASE " + db}})
	if err != nil {
		t.Fatalf("create database: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), `"error"`) {
		t.Fatalf("create database %s: HTTP %d %s", db, resp.StatusCode, body)
	}
	t.Cleanup(func() {
		r, err := http.PostForm(base+"/query", url.Values{"q": {"DROP DATABASE " + db}})
		if err == nil {
			r.Body.Close()
		}
	})
	return db
}

func testLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(&tlogWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tlogWriter struct{ t testing.TB }

func (w *tlogWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// runSink starts s.Run in a goroutine owned by the test.
func runSink(t testing.TB, s *Sink) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.Run(ctx); err != nil {
			t.Errorf("sink run: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

func waitDelivered(t testing.TB, s *Sink, want uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := s.Stats()
		if st.Spool.PendingPoints == 0 && st.Spool.AppendedPoints >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool not drained within %v: %+v", within, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func count(t testing.TB, s *Sink, from, to time.Time) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, m := range telemetry.Measurements {
		n, err := s.Count(context.Background(), m, from, to)
		if err != nil {
			t.Fatal(err)
		}
		out[m] = n
	}
	return out
}

func assertCounts(t testing.TB, got map[string]int64, want int64) {
	t.Helper()
	for _, m := range telemetry.Measurements {
		if got[m] != want {
			t.Errorf("measurement %s: %d points stored, want exactly %d (all: %v)", m, got[m], want, got)
		}
	}
}

// Issue 5: 2,000 vehicles × 60 s of telemetry, through the real fleet and
// recorder into a real InfluxDB, all arrive (counted with Flux).
func TestFleet2000Vehicles60sAllArrive(t *testing.T) {
	base := testenv.Service(t, "BURGUT_TEST_INFLUX_URL")
	db := newDB(t, base)
	sink, err := Open(Config{URL: base, Bucket: db + "/autogen", SpoolDir: t.TempDir(),
		Spool: spool.Options{NoSync: true}}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	stop := runSink(t, sink)
	defer stop()

	const vehicles, seconds = 2000, 60
	f := fleet.New(fleet.DefaultConfig())
	rec := telemetry.NewRecorder(f, sink, telemetry.RecorderConfig{Interval: time.Second, BatchSize: 2000, MaxQueue: vehicles * seconds}, testLog(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = rec.Run(ctx) }()

	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	flights := make([][]telemetry.Sample, vehicles)
	for v := range flights {
		flights[v] = telemetrytest.Flight(telemetrytest.VehicleID(v), uint8(v%250+1), start.Add(time.Duration(v)*time.Millisecond), seconds, time.Second)
	}
	for i := 0; i < seconds; i++ { // second by second, as the fleet would see it
		for v := range flights {
			telemetrytest.Update(f, flights[v][i])
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for rec.Stats().Samples < vehicles*seconds && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	rs := rec.Stats()
	if rs.Samples != vehicles*seconds || rs.DroppedQueue != 0 || rs.Skipped != 0 {
		t.Fatalf("recorder stats %+v: want %d samples, none dropped or skipped", rs, vehicles*seconds)
	}
	waitDelivered(t, sink, vehicles*seconds*telemetry.PointsPerSample, 2*time.Minute)
	assertCounts(t, count(t, sink, start, start.Add(2*seconds*time.Second)), vehicles*seconds)

	// A spot check that values survive exactly.
	wantSamples(t, sink, "v0042", start, flights[42])
}

// wantSamples checks that the vehicle's samples from start on are exactly
// want, value for value.
func wantSamples(t *testing.T, sink *Sink, vehicle string, start time.Time, want []telemetry.Sample) {
	t.Helper()
	got, err := sink.Samples(context.Background(), vehicle, start, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d samples back, want %d", vehicle, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i].Clean() {
			t.Fatalf("%s: sample %d differs:\n got %+v\nwant %+v", vehicle, i, got[i], want[i])
		}
	}
}

// Issue 5: influxd killed mid-stream, then restarted → every point arrives,
// none twice. make test uses a 5 s outage; the 30 s one is
// BenchmarkOutage30s (make bench).
func TestOutageNothingLostNoneTwice(t *testing.T) {
	testOutage(t, 5*time.Second)
}

func testOutage(t testing.TB, outage time.Duration) {
	srv := influxtest.Start(t, "telemetry")
	sink, err := Open(Config{URL: srv.URL(), Bucket: "telemetry/autogen", SpoolDir: t.TempDir(),
		RetryMax: time.Second}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	stop := runSink(t, sink)
	defer stop()

	const vehicles, seconds = 200, 60
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	flights := make([][]telemetry.Sample, vehicles)
	for v := range flights {
		flights[v] = telemetrytest.Flight(telemetrytest.VehicleID(v), uint8(v+1), start, seconds, time.Second)
	}
	writeSecond := func(i int) {
		batch := make([]telemetry.Sample, 0, vehicles)
		for v := range flights {
			batch = append(batch, flights[v][i])
		}
		if err := sink.WriteSamples(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		writeSecond(i)
	}
	waitDelivered(t, sink, 20*vehicles*telemetry.PointsPerSample, time.Minute)
	srv.Kill()
	for i := 20; i < 40; i++ { // streaming on while the server is down
		writeSecond(i)
		time.Sleep(outage / 20)
	}
	if st := sink.Stats(); st.FailedAttempts == 0 || st.Spool.PendingPoints == 0 {
		t.Fatalf("the outage was not noticed: %+v", st)
	}
	srv.Restart()
	for i := 40; i < seconds; i++ {
		writeSecond(i)
	}
	waitDelivered(t, sink, vehicles*seconds*telemetry.PointsPerSample, 2*time.Minute)
	assertCounts(t, count(t, sink, start, start.Add(time.Hour)), vehicles*seconds)
	// None twice: InfluxDB keeps one point per series and timestamp, and
	// every sample has its own timestamp, so an exact count is exactly-once.
	got, err := sink.Samples(context.Background(), "v0007", start, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != seconds {
		t.Fatalf("v0007: %d samples, want %d", len(got), seconds)
	}
	for i := range got {
		if !got[i].Time.Equal(flights[7][i].Time) {
			t.Fatalf("v0007 sample %d at %v, want %v", i, got[i].Time, flights[7][i].Time)
		}
	}
}

// A restart of Burgut with a non-empty spool replays it.
func TestRestartReplaysSpool(t *testing.T) {
	srv := influxtest.Start(t, "telemetry")
	srv.Kill()
	dir := t.TempDir()
	cfg := Config{URL: srv.URL(), Bucket: "telemetry/autogen", SpoolDir: dir, RetryMax: 500 * time.Millisecond}
	sink, err := Open(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	stop := runSink(t, sink)
	start := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	ss := telemetrytest.Flight("v0001", 1, start, 300, 200*time.Millisecond)
	for i := 0; i < len(ss); i += 50 {
		if err := sink.WriteSamples(context.Background(), ss[i:i+50]); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	// "Burgut restarts" while InfluxDB comes back.
	srv.Restart()
	sink, err = Open(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if st := sink.Stats(); st.Spool.PendingPoints != int64(len(ss))*telemetry.PointsPerSample {
		t.Fatalf("reopened spool: %+v, want %d pending points", st.Spool, len(ss)*telemetry.PointsPerSample)
	}
	stop = runSink(t, sink)
	defer stop()
	waitDelivered(t, sink, 0, time.Minute)
	wantSamples(t, sink, "v0001", start, ss)
}

// Spool full while InfluxDB is down → the oldest data is dropped, counted
// in the metric, and everything else arrives.
func TestSpoolFullDropsOldestWithMetric(t *testing.T) {
	srv := influxtest.Start(t, "telemetry")
	srv.Kill()
	sink, err := Open(Config{URL: srv.URL(), Bucket: "telemetry/autogen", SpoolDir: t.TempDir(),
		Spool: spool.Options{MaxBytes: 256 << 10, SegmentBytes: 32 << 10}, RetryMax: 300 * time.Millisecond}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	stop := runSink(t, sink)
	defer stop()
	start := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	ss := telemetrytest.Flight("v0002", 2, start, 3000, 100*time.Millisecond)
	for i := 0; i < len(ss); i += 20 {
		if err := sink.WriteSamples(context.Background(), ss[i:i+20]); err != nil {
			t.Fatal(err)
		}
	}
	st := sink.Stats()
	if st.Spool.DroppedPoints == 0 || st.Spool.DroppedBatches == 0 {
		t.Fatalf("spool of 256 KiB took 3000 samples without dropping: %+v", st.Spool)
	}
	if st.Spool.Bytes > 256<<10 {
		t.Fatalf("spool grew to %d bytes, over its cap", st.Spool.Bytes)
	}
	droppedSamples := int(st.Spool.DroppedPoints / telemetry.PointsPerSample)
	srv.Restart()
	waitDelivered(t, sink, 0, time.Minute)
	got, err := sink.Samples(context.Background(), "v0002", start, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// Documented policy: the oldest are lost, exactly as many as counted;
	// the rest arrive, newest included.
	if len(got) != len(ss)-droppedSamples {
		t.Fatalf("%d samples arrived; %d written - %d dropped = %d", len(got), len(ss), droppedSamples, len(ss)-droppedSamples)
	}
	if !got[0].Time.Equal(ss[droppedSamples].Time) || !got[len(got)-1].Time.Equal(ss[len(ss)-1].Time) {
		t.Fatalf("kept range %v..%v, want %v..%v", got[0].Time, got[len(got)-1].Time, ss[droppedSamples].Time, ss[len(ss)-1].Time)
	}
}

func TestLatestPerVehicle(t *testing.T) {
	base := testenv.Service(t, "BURGUT_TEST_INFLUX_URL")
	db := newDB(t, base)
	sink, err := Open(Config{URL: base, Bucket: db + "/autogen", SpoolDir: t.TempDir()}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	stop := runSink(t, sink)
	defer stop()
	start := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond).UTC()
	a := telemetrytest.Flight("a", 1, start, 30, time.Second)
	b := telemetrytest.Flight("b", 2, start, 20, time.Second)
	_ = sink.WriteSamples(context.Background(), append(append([]telemetry.Sample{}, a...), b...))
	waitDelivered(t, sink, 50*telemetry.PointsPerSample, time.Minute)
	got, err := sink.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != a[29].Clean() || got[1] != b[19].Clean() {
		t.Fatalf("latest = %+v", got)
	}
}

// BenchmarkOutage30s is the full 30 s outage (make bench).
func BenchmarkOutage30s(b *testing.B) {
	for i := 0; i < b.N; i++ {
		testOutage(b, 30*time.Second)
	}
}

// Issue 5: the same flights written to InfluxDB and to the embedded store
// give identical tracks (GeoJSON), flights lists, samples and latest states.
func TestSameAnswersFromBothStores(t *testing.T) {
	base := testenv.Service(t, "BURGUT_TEST_INFLUX_URL")
	db := newDB(t, base)
	sink, err := Open(Config{URL: base, Bucket: db + "/autogen", SpoolDir: t.TempDir(), LatestWindow: 24 * time.Hour}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	stop := runSink(t, sink)
	defer stop()
	lite, err := sqlitestore.Open(filepath.Join(t.TempDir(), "telemetry.db"), sqlitestore.Options{MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()

	start := time.Now().Add(-3 * time.Hour).Truncate(time.Second).Add(123456789).UTC()
	var all []telemetry.Sample
	a1 := telemetrytest.Flight("veh-a", 1, start, 600, 333*time.Millisecond)
	a2 := telemetrytest.Flight("veh-a", 1, start.Add(time.Hour), 400, 500*time.Millisecond)
	b := telemetrytest.Flight("veh-b", 2, start.Add(time.Minute), 300, time.Second)
	b[100].Mode = "GUIDED \"quoted\", comma=1 \\"
	b[100].Link = "udp:0.0.0.0:14550 x"
	all = append(append(append(all, a1...), a2...), b...)
	for _, st := range []telemetry.SampleWriter{sink, lite} {
		if err := st.WriteSamples(context.Background(), all); err != nil {
			t.Fatal(err)
		}
	}
	waitDelivered(t, sink, uint64(len(all))*telemetry.PointsPerSample, time.Minute)

	from, to := start.Add(-time.Minute), start.Add(2*time.Hour)
	for _, v := range []string{"veh-a", "veh-b", "nobody"} {
		for _, budget := range []int{0, 50, 2} {
			ti, err := telemetry.TrackOf(context.Background(), sink, v, from, to, budget)
			if err != nil {
				t.Fatal(err)
			}
			ts, err := telemetry.TrackOf(context.Background(), lite, v, from, to, budget)
			if err != nil {
				t.Fatal(err)
			}
			ji, _ := json.Marshal(ti)
			js, _ := json.Marshal(ts)
			if string(ji) != string(js) {
				t.Fatalf("track of %s (budget %d) differs:\ninflux %s\nsqlite %s", v, budget, ji, js)
			}
			if v != "nobody" && (len(ti.Coordinates) == 0 || ti.Type != "LineString") {
				t.Fatalf("track of %s is empty", v)
			}
		}
		fi, err := telemetry.FlightsOf(context.Background(), sink, v, from, to)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := telemetry.FlightsOf(context.Background(), lite, v, from, to)
		if err != nil {
			t.Fatal(err)
		}
		ji, _ := json.Marshal(fi)
		js, _ := json.Marshal(fs)
		if string(ji) != string(js) {
			t.Fatalf("flights of %s differ:\ninflux %s\nsqlite %s", v, ji, js)
		}
		if v == "veh-a" && len(fi) != 2 {
			t.Fatalf("veh-a flew twice, got %d flights: %s", len(fi), ji)
		}
	}
	si, _ := sink.Samples(context.Background(), "veh-b", from, to)
	ss, _ := lite.Samples(context.Background(), "veh-b", from, to)
	if len(si) != len(b) || len(ss) != len(b) {
		t.Fatalf("veh-b: influx %d, sqlite %d samples, want %d", len(si), len(ss), len(b))
	}
	for i := range si {
		if si[i] != ss[i] || si[i] != b[i].Clean() {
			t.Fatalf("sample %d differs:\ninflux %+v\nsqlite %+v\nwrote  %+v", i, si[i], ss[i], b[i])
		}
	}
	li, _ := sink.Latest(context.Background())
	ls, _ := lite.Latest(context.Background())
	ji, _ := json.Marshal(li)
	js, _ := json.Marshal(ls)
	if string(ji) != string(js) || len(li) != 2 {
		t.Fatalf("latest differs:\ninflux %s\nsqlite %s", ji, js)
	}
}

// BenchmarkFleetToInflux is the end-to-end rate: fleet state updates →
// sample policy → line protocol → fsynced disk spool → InfluxDB, counted
// as InfluxDB points acknowledged per second (500 vehicles × 60 s at 1 Hz,
// 5 points per sample, per iteration).
func BenchmarkFleetToInflux(b *testing.B) {
	base := testenv.Service(b, "BURGUT_TEST_INFLUX_URL")
	const vehicles, seconds = 500, 60
	start := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	flights := make([][]telemetry.Sample, vehicles)
	for v := range flights {
		flights[v] = telemetrytest.Flight(telemetrytest.VehicleID(v), uint8(v%250+1), start, seconds, time.Second)
	}
	var points float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := newDB(b, base)
		sink, err := Open(Config{URL: base, Bucket: db + "/autogen", SpoolDir: b.TempDir()}, testLog(b))
		if err != nil {
			b.Fatal(err)
		}
		f := fleet.New(fleet.DefaultConfig())
		rec := telemetry.NewRecorder(f, sink, telemetry.RecorderConfig{Interval: time.Second, BatchSize: 2000, MaxQueue: vehicles * seconds}, testLog(b))
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _ = sink.Run(ctx) }()
		go func() { defer wg.Done(); _ = rec.Run(ctx) }()
		b.StartTimer()
		for s := 0; s < seconds; s++ {
			for v := range flights {
				telemetrytest.Update(f, flights[v][s])
			}
		}
		for sink.Stats().SentPoints < vehicles*seconds*telemetry.PointsPerSample {
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		points += vehicles * seconds * telemetry.PointsPerSample
		cancel()
		wg.Wait()
		sink.Close()
		b.StartTimer()
	}
	b.ReportMetric(points/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkInfluxTrackVehicleHour: the track query (Flux) of one vehicle-hour
// at 1 Hz among 20 vehicles.
func BenchmarkInfluxTrackVehicleHour(b *testing.B) {
	base := testenv.Service(b, "BURGUT_TEST_INFLUX_URL")
	db := newDB(b, base)
	sink, err := Open(Config{URL: base, Bucket: db + "/autogen", SpoolDir: b.TempDir(), Spool: spool.Options{NoSync: true}}, testLog(b))
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	stop := runSink(b, sink)
	defer stop()
	start := time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC)
	for v := 0; v < 20; v++ {
		_ = sink.WriteSamples(context.Background(), telemetrytest.Flight(fmt.Sprintf("v%03d", v), 1, start, 3600, time.Second))
	}
	waitDelivered(b, sink, 20*3600*telemetry.PointsPerSample, 2*time.Minute)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr, err := telemetry.TrackOf(context.Background(), sink, "v007", start, start.Add(time.Hour), 0)
		if err != nil || tr.TotalPoints != 3600 {
			b.Fatalf("track: %v, %d points", err, tr.TotalPoints)
		}
	}
}

// A missing database (a configuration error: InfluxDB answers 404) keeps
// the data in the spool and retries; once the database exists, all arrive.
func TestMissingDatabaseRetriedNotLost(t *testing.T) {
	base := testenv.Service(t, "BURGUT_TEST_INFLUX_URL")
	db := fmt.Sprintf("late_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		if r, err := http.PostForm(base+"/query", url.Values{"q": {"DROP DATABASE " + db}}); err == nil {
			r.Body.Close()
		}
	})
	sink, err := Open(Config{URL: base, Bucket: db + "/autogen", SpoolDir: t.TempDir(), RetryMax: 200 * time.Millisecond}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	stop := runSink(t, sink)
	defer stop()
	start := time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)
	ss := telemetrytest.Flight("v", 1, start, 100, time.Second)
	if err := sink.WriteSamples(context.Background(), ss); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for sink.Stats().FailedAttempts < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := sink.Stats(); st.FailedAttempts < 2 || st.Connected || st.LastError == "" || st.Spool.PendingPoints != 500 {
		t.Fatalf("writes to a missing database: %+v", st)
	}
	resp, err := http.PostForm(base+"/query", url.Values{"q": {"CREATE DATABASE " + db}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitDelivered(t, sink, 500, time.Minute)
	assertCounts(t, count(t, sink, start, start.Add(time.Hour)), 100)
}

// A batch InfluxDB refuses as malformed (HTTP 400, here a field type
// conflict) is dropped and counted instead of blocking the queue forever;
// later batches still arrive.
func TestRejectedBatchCountedNotBlocking(t *testing.T) {
	base := testenv.Service(t, "BURGUT_TEST_INFLUX_URL")
	db := newDB(t, base)
	start := time.Date(2026, 3, 6, 10, 0, 0, 0, time.UTC)
	// Someone else wrote "armed" as an integer into the same shard.
	// A database just created was once answered 404 ("database not
	// found") to this write on a busy CI runner: a 404 is retried for a
	// few seconds, anything else fails at once.
	for try := 0; ; try++ {
		req, _ := http.NewRequest("POST", base+"/write?db="+db, strings.NewReader(fmt.Sprintf("status,vehicle=other armed=1i %d", start.UnixNano())))
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode == http.StatusNotFound && try < 50 {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if r.StatusCode != 204 {
			t.Fatalf("seed write: HTTP %d %s", r.StatusCode, body)
		}
		break
	}
	sink, err := Open(Config{URL: base, Bucket: db + "/autogen", SpoolDir: t.TempDir()}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	stop := runSink(t, sink)
	defer stop()
	bad := telemetrytest.Flight("v", 1, start.Add(time.Minute), 10, time.Second)
	if err := sink.WriteSamples(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	// A batch in another shard (InfluxDB 1.8 shards by week) is fine.
	good := telemetrytest.Flight("v", 1, start.Add(30*24*time.Hour), 10, time.Second)
	if err := sink.WriteSamples(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for sink.Stats().Spool.PendingPoints > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st := sink.Stats()
	if st.RejectedPoints != 50 || st.SentPoints != 50 || st.Spool.PendingPoints != 0 {
		t.Fatalf("stats %+v: want the conflicting batch (50 points) rejected and the next one sent", st)
	}
	got, err := sink.Samples(context.Background(), "v", good[0].Time, good[9].Time.Add(time.Second))
	if err != nil || len(got) != 10 {
		t.Fatalf("good batch: %d samples, %v", len(got), err)
	}
}

// One big batch into a small spool is split into records that fit.
func TestBigBatchSmallSpool(t *testing.T) {
	base := testenv.Service(t, "BURGUT_TEST_INFLUX_URL")
	db := newDB(t, base)
	sink, err := Open(Config{URL: base, Bucket: db + "/autogen", SpoolDir: t.TempDir(),
		Spool: spool.Options{MaxBytes: 4 << 20}}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	stop := runSink(t, sink)
	defer stop()
	start := time.Date(2026, 3, 7, 10, 0, 0, 0, time.UTC)
	ss := telemetrytest.Flight("v", 1, start, 3000, 100*time.Millisecond) // ~2.5 MB of line protocol, > MaxBytes/2
	if err := sink.WriteSamples(context.Background(), ss); err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, sink, 3000*telemetry.PointsPerSample, time.Minute)
	if st := sink.Stats(); st.Spool.DroppedPoints != 0 || st.SentBatches < 4 {
		t.Fatalf("stats %+v: want the batch split into ≥ 4 records and nothing dropped", st)
	}
	assertCounts(t, count(t, sink, start, start.Add(time.Hour)), 3000)
}

// BenchmarkInfluxLatest2000: latest state of 2,000 vehicles with 60 s of
// 1 Hz samples each in the window (600,000 points scanned by Flux).
func BenchmarkInfluxLatest2000(b *testing.B) {
	base := testenv.Service(b, "BURGUT_TEST_INFLUX_URL")
	db := newDB(b, base)
	sink, err := Open(Config{URL: base, Bucket: db + "/autogen", SpoolDir: b.TempDir(), Spool: spool.Options{NoSync: true}}, testLog(b))
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	stop := runSink(b, sink)
	defer stop()
	seconds := 60
	if s := os.Getenv("BURGUT_BENCH_LATEST_SECONDS"); s != "" {
		fmt.Sscan(s, &seconds)
	}
	start := time.Now().Add(-time.Duration(seconds+60) * time.Second).UTC()
	for v := 0; v < 2000; v++ {
		_ = sink.WriteSamples(context.Background(), telemetrytest.Flight(telemetrytest.VehicleID(v), 1, start, seconds, time.Second))
	}
	waitDelivered(b, sink, uint64(2000*seconds*telemetry.PointsPerSample), 10*time.Minute)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ss, err := sink.Latest(context.Background())
		if err != nil || len(ss) != 2000 {
			b.Fatalf("latest: %v, %d vehicles", err, len(ss))
		}
	}
}
