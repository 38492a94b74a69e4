package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/telemetry"
	"github.com/burgut-uav/burgut/telemetry/telemetrytest"
)

var ctx = context.Background()

func TestSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telemetry.db")
	st, err := Open(path, Options{MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
	ss := telemetrytest.Flight("v0001", 1, start, 200, 250*time.Millisecond)
	if err := st.WriteSamples(ctx, ss); err != nil {
		t.Fatal(err)
	}
	// Writing the same samples again (a replay) does not double them.
	if err := st.WriteSamples(ctx, ss[:50]); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = Open(path, Options{MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.Samples(ctx, "v0001", start, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ss) {
		t.Fatalf("%d samples after restart, want %d", len(got), len(ss))
	}
	for i := range ss {
		if got[i] != ss[i].Clean() {
			t.Fatalf("sample %d:\n got %+v\nwant %+v", i, got[i], ss[i])
		}
	}
	// Range is [from, to).
	got, _ = st.Samples(ctx, "v0001", ss[10].Time, ss[20].Time)
	if len(got) != 10 || !got[0].Time.Equal(ss[10].Time) {
		t.Fatalf("range query returned %d samples starting %v", len(got), got[0].Time)
	}
}

func TestLatest(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "t.db"), Options{MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	a := telemetrytest.Flight("a", 1, start, 30, time.Second)
	b := telemetrytest.Flight("b", 2, start, 20, time.Second)
	_ = st.WriteSamples(ctx, b)
	_ = st.WriteSamples(ctx, a)
	got, err := st.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != a[29] || got[1] != b[19] {
		t.Fatalf("latest = %+v", got)
	}
}

func TestRetentionByAge(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "t.db")
	st, err := Open(path, Options{MaxAge: 24 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	old := telemetrytest.Flight("v", 1, now.Add(-48*time.Hour), 10, time.Second)
	recent := telemetrytest.Flight("v", 1, now.Add(-time.Hour), 10, time.Second)
	_ = st.WriteSamples(ctx, old)
	_ = st.WriteSamples(ctx, recent)
	if err := st.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := st.Samples(ctx, "v", now.Add(-72*time.Hour), now)
	if len(got) != 10 || !got[0].Time.Equal(recent[0].Time) {
		t.Fatalf("after retention %d samples remain (first %v), want the 10 recent", len(got), got[0].Time)
	}
	s, _ := st.Stats(ctx)
	if s.PrunedSamples != 10*telemetry.PointsPerSample || s.Samples != 10*telemetry.PointsPerSample {
		t.Fatalf("stats %+v: want the 10 old samples' 50 rows pruned and 50 kept", s)
	}
	st.Close()
}

func TestRetentionBySize(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "t.db"), Options{MaxAge: -1, MaxBytes: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ss := telemetrytest.Flight("v", 1, start, 10000, 100*time.Millisecond)
	for i := 0; i < len(ss); i += 1000 {
		_ = st.WriteSamples(ctx, ss[i:i+1000])
	}
	if err := st.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	s, _ := st.Stats(ctx)
	if s.Bytes > 256<<10 || s.PrunedSamples == 0 {
		t.Fatalf("stats %+v: want under 256 KiB after pruning", s)
	}
	got, _ := st.Samples(ctx, "v", start, start.Add(24*time.Hour))
	if len(got) == 0 || !got[len(got)-1].Time.Equal(ss[len(ss)-1].Time) || int64(len(got))*telemetry.PointsPerSample != s.Samples {
		t.Fatalf("the newest samples must survive: %d kept", len(got))
	}
	if !got[0].Time.Equal(ss[len(ss)-len(got)].Time) {
		t.Fatalf("the oldest must go first: first kept %v, want %v", got[0].Time, ss[len(ss)-len(got)].Time)
	}
}

func TestBadPath(t *testing.T) {
	dir := t.TempDir()
	// A directory where the database file should be.
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("opening a directory as the store succeeded")
	}
}

// BenchmarkWrite measures the embedded store's write rate (samples/s).
func BenchmarkWrite(b *testing.B) {
	st, err := Open(filepath.Join(b.TempDir(), "t.db"), Options{MaxAge: -1, MaxBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	const batch = 2000
	ss := make([][]telemetry.Sample, 0, 100)
	for v := 0; v < 100; v++ {
		ss = append(ss, telemetrytest.Flight(fmt.Sprintf("v%03d", v), 1, start, batch, time.Second))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := st.WriteSamples(ctx, ss[i%100]); err != nil {
			b.Fatal(err)
		}
		if i%100 == 99 {
			for v := range ss { // shift time so rows are new
				for j := range ss[v] {
					ss[v][j].Time = ss[v][j].Time.Add(time.Duration(batch) * time.Second)
				}
			}
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkWriteFleet measures the write rate for the pattern of a fleet
// at telemetry interval 0: 2,000 vehicles interleaved, 16 samples each per
// batch (32,000 rows, one recorder flush), into a table already holding
// the previous batches, as `burgut serve` writes them.
func BenchmarkWriteFleet(b *testing.B) {
	st, err := Open(filepath.Join(b.TempDir(), "t.db"), Options{MaxAge: -1, MaxBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const vehicles, per = 2000, 16
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	flights := make([][]telemetry.Sample, vehicles)
	for v := range flights {
		flights[v] = telemetrytest.Flight(fmt.Sprintf("uav-%016x", v*7919), 1, start, per, 62500*time.Microsecond)
	}
	batch := make([]telemetry.Sample, 0, vehicles*per)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch = batch[:0]
		for k := 0; k < per; k++ {
			for v := range flights {
				s := flights[v][k]
				s.Time = s.Time.Add(time.Duration(i) * time.Second)
				batch = append(batch, s)
			}
		}
		if err := st.WriteSamples(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*vehicles*per)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkTrackVehicleHour: one vehicle-hour at 1 Hz among 50 vehicles,
// queried as a track with the default point budget.
func BenchmarkTrackVehicleHour(b *testing.B) {
	st, err := Open(filepath.Join(b.TempDir(), "t.db"), Options{MaxAge: -1, MaxBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for v := 0; v < 50; v++ {
		_ = st.WriteSamples(ctx, telemetrytest.Flight(fmt.Sprintf("v%03d", v), 1, start, 3600, time.Second))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr, err := telemetry.TrackOf(ctx, st, "v007", start, start.Add(time.Hour), 0)
		if err != nil || tr.TotalPoints != 3600 {
			b.Fatalf("track: %v, %d points", err, tr.TotalPoints)
		}
	}
}
