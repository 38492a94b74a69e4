package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/telemetry"
	"github.com/burgut-uav/burgut/telemetry/telemetrytest"
)

// v1Schema is the first layout, as burgut wrote it before schema 2.
const v1Schema = `
CREATE TABLE samples (
  vehicle TEXT NOT NULL, t INTEGER NOT NULL,
  link TEXT NOT NULL, system_id INTEGER NOT NULL, type TEXT NOT NULL, mission TEXT NOT NULL, event_area TEXT NOT NULL,
  lat REAL NOT NULL, lon REAL NOT NULL, alt_msl REAL NOT NULL, relative_alt REAL NOT NULL, heading REAL NOT NULL,
  ground_speed REAL NOT NULL, air_speed REAL NOT NULL, climb REAL NOT NULL,
  roll REAL NOT NULL, pitch REAL NOT NULL, yaw REAL NOT NULL,
  battery_pct REAL NOT NULL, voltage REAL NOT NULL, current REAL NOT NULL,
  mode TEXT NOT NULL, armed INTEGER NOT NULL, gps_fix INTEGER NOT NULL, satellites INTEGER NOT NULL,
  loss_pct REAL NOT NULL, rate_hz REAL NOT NULL,
  parts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (vehicle, t)
) WITHOUT ROWID;
CREATE INDEX samples_by_time ON samples (t);
CREATE TABLE points (
  vehicle TEXT NOT NULL, t INTEGER NOT NULL, measurement TEXT NOT NULL,
  link TEXT NOT NULL, system_id INTEGER NOT NULL, type TEXT NOT NULL, mission TEXT NOT NULL, event_area TEXT NOT NULL,
  fields TEXT NOT NULL
);
`

func writeV1(t *testing.T, path string, ss []telemetry.Sample, points int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(v1Schema); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}()
	for _, c := range ss {
		if _, err := tx.Exec(`INSERT INTO samples VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			c.Vehicle, c.Time.UnixNano(), c.Link, int(c.SystemID), c.Type, c.Mission, c.EventArea,
			c.Lat, c.Lon, c.AltMSL, c.RelativeAlt, c.Heading, c.GroundSpeed, c.AirSpeed, c.Climb,
			c.Roll, c.Pitch, c.Yaw, c.BatteryPct, c.Voltage, c.Current,
			c.Mode, c.Armed, c.GPSFix, c.Satellites, c.LossPct, c.RateHz, int(c.Parts)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < points; i++ {
		c := ss[i%len(ss)]
		if _, err := tx.Exec(`INSERT INTO points VALUES (?,?,?,?,?,?,?,?,?)`, c.Vehicle, c.Time.UnixNano()+1, "mavlink_vfr_hud",
			c.Link, int(c.SystemID), c.Type, c.Mission, c.EventArea, fmt.Sprintf(`{"airspeed":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
}

// A store of the first layout is migrated at Open: every sample reads
// back as it was written, interval-0 rows keep only the measurements they
// stood for, message points move too, and the old tables are gone. More
// rows than one migration batch, so the batch loop is exercised.
func TestMigratesFirstLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telemetry.db")
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	whole := telemetrytest.Flight("v1", 1, start, migrateBatch+500, 100*time.Millisecond)
	parts := telemetrytest.Flight("v2", 2, start, 30, time.Second)
	for i := range parts {
		parts[i].Parts = []telemetry.Parts{telemetry.PartPosition, telemetry.PartAttitude, telemetry.PartStatus | telemetry.PartLink}[i%3]
	}
	writeV1(t, path, append(append([]telemetry.Sample{}, whole...), parts...), 7)

	st, err := Open(path, Options{MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.Samples(ctx, "v1", start, start.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(whole) {
		t.Fatalf("v1: %d samples after migration, want %d", len(got), len(whole))
	}
	for i := range whole {
		if got[i] != whole[i].Clean() {
			t.Fatalf("sample %d:\n got %+v\nwant %+v", i, got[i], whole[i])
		}
	}
	for _, c := range []struct {
		part telemetry.Parts
		want int64
	}{{telemetry.PartPosition, int64(len(whole)) + 10}, {telemetry.PartAttitude, int64(len(whole)) + 10},
		{telemetry.PartPower, int64(len(whole))}, {telemetry.PartStatus, int64(len(whole)) + 10}, {telemetry.PartLink, int64(len(whole)) + 10}} {
		n, err := st.CountSamples(ctx, c.part, start, start.Add(24*time.Hour))
		if err != nil || n != c.want {
			t.Errorf("part %d: %d rows (%v), want %d", c.part, n, err, c.want)
		}
	}
	v2, _ := st.Samples(ctx, "v2", start, start.Add(time.Hour))
	if len(v2) != len(parts) || v2[0].Parts != telemetry.PartPosition || v2[1].Lat != 0 || v2[1].Roll != parts[1].Roll {
		t.Fatalf("v2 samples: %d, first parts %d, second %+v", len(v2), v2[0].Parts, v2[1])
	}
	if n, _ := st.CountPoints(ctx, "mavlink_vfr_hud", start, start.Add(time.Hour)); n != 7 {
		t.Fatalf("%d message points migrated, want 7", n)
	}
	var old int
	if err := st.db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name IN ('samples', 'points')`).Scan(&old); err != nil || old != 0 {
		t.Fatalf("%d old tables left (%v)", old, err)
	}
	s, err := st.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(whole)*5 + 40 + 7); s.Samples != want {
		t.Fatalf("stats: %d rows, want %d", s.Samples, want)
	}
	// Open again: nothing left to migrate, nothing doubled.
	st.Close()
	st, err = Open(path, Options{MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := st.Stats(ctx); s.Samples != int64(len(whole)*5+40+7) {
		t.Fatalf("after reopening: %d rows", s.Samples)
	}
}

// A store written by a newer layout is refused, untouched.
func TestRefusesNewerLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telemetry.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA user_version = 3`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "newer burgut") || !strings.Contains(err.Error(), path) {
		t.Fatalf("opening a layout-3 store: %v", err)
	}
}

// A re-written point is stored once and counted as a duplicate; rows go
// through Run's writer and are read back before the next tick (readers
// commit what is pending).
func TestWriterDuplicatesAndReadYourWrites(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "t.db"), Options{MaxAge: -1, CommitEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(rctx) }()
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ss := telemetrytest.Flight("v", 1, start, 40, time.Second)
	for i := range ss[:20] {
		ss[i].Parts = telemetry.PartPosition
	}
	if err := st.WriteSamples(ctx, ss); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteSamples(ctx, ss[10:30]); err != nil { // 10 positions and 10 samples again
		t.Fatal(err)
	}
	got, err := st.Samples(ctx, "v", start, start.Add(time.Hour))
	if err != nil || len(got) != 40 {
		t.Fatalf("%d samples (%v), want 40", len(got), err)
	}
	s, _ := st.Stats(ctx)
	if want := uint64(20 + 20*5); s.Rows != want || s.Duplicates != 10+10*5 || s.Samples != int64(want) || s.PendingRows != 0 {
		t.Fatalf("stats %+v: want %d rows written, 60 duplicates", s, want)
	}
	// Latest merges the newest point of each measurement.
	lt, _ := st.Latest(ctx)
	if len(lt) != 1 || lt[0] != ss[39].Clean() {
		t.Fatalf("latest %+v, want %+v", lt, ss[39])
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A writer that cannot keep up makes callers wait once MaxPending rows
// are pending: the call ends with the caller's context, with an error the
// recorder counts, instead of the batch growing without bound.
func TestPendingIsBounded(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "t.db"), Options{MaxAge: -1, CommitEvery: time.Hour, MaxPending: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(rctx) }()
	waitRunning(t, st)
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if err := st.WriteSamples(ctx, telemetrytest.Flight("v", 1, start, 20, time.Second)); err != nil { // 100 rows
		t.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(ctx)
	wcancel()
	err = st.WriteSamples(wctx, telemetrytest.Flight("v", 1, start.Add(time.Minute), 1, time.Second))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("write past MaxPending: %v", err)
	}
	cancel()
	<-done // commits the 100 pending rows
	if n, _ := st.CountSamples(ctx, telemetry.PartPosition, start, start.Add(time.Hour)); n != 20 {
		t.Fatalf("%d positions stored, want the 20 pending", n)
	}
}

func waitRunning(t *testing.T, st *Store) {
	t.Helper()
	for i := 0; ; i++ {
		st.mu.Lock()
		r := st.running
		st.mu.Unlock()
		if r {
			return
		}
		if i > 10000 {
			t.Fatal("Run did not start")
		}
		time.Sleep(time.Millisecond)
	}
}

// The history queries seek; none scans a measurement table (SQLite's
// plan, read with EXPLAIN QUERY PLAN, on the real schema).
func TestQueriesSeek(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "t.db"), Options{MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plan := func(q string) string {
		rows, err := st.db.Query("EXPLAIN QUERY PLAN "+q, 1, 2, 3)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			out = append(out, detail)
		}
		return strings.Join(out, "; ")
	}
	for i := range tables {
		tb := &tables[i]
		for _, q := range []string{latestSQL(tb),
			`SELECT series, t, ` + selectCols(tb, "") + ` FROM ` + tb.name + ` WHERE series IN (?) AND t >= ? AND t < ?`} {
			p := plan(q)
			if strings.Contains(p, "SCAN m") || strings.Contains(p, "SCAN "+tb.name) {
				t.Errorf("%s scans %s: %s", q, tb.name, p)
			}
		}
	}
}

// A store from before telemetry interval 0 (no parts column, no points
// table) migrates too: every row was a whole sample.
func TestMigratesFirstLayoutWithoutParts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telemetry.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	schema := strings.Replace(v1Schema[:strings.Index(v1Schema, "CREATE TABLE points")], "parts INTEGER NOT NULL DEFAULT 0,\n", "", 1)
	if _, err := db.Exec(schema); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ss := telemetrytest.Flight("old", 3, start, 25, time.Second)
	for _, c := range ss {
		if _, err := db.Exec(`INSERT INTO samples VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			c.Vehicle, c.Time.UnixNano(), c.Link, int(c.SystemID), c.Type, c.Mission, c.EventArea,
			c.Lat, c.Lon, c.AltMSL, c.RelativeAlt, c.Heading, c.GroundSpeed, c.AirSpeed, c.Climb,
			c.Roll, c.Pitch, c.Yaw, c.BatteryPct, c.Voltage, c.Current,
			c.Mode, c.Armed, c.GPSFix, c.Satellites, c.LossPct, c.RateHz); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	st, err := Open(path, Options{MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.Samples(ctx, "old", start, start.Add(time.Hour))
	if err != nil || len(got) != len(ss) {
		t.Fatalf("%d samples (%v), want %d", len(got), err, len(ss))
	}
	for i := range ss {
		if got[i] != ss[i].Clean() {
			t.Fatalf("sample %d:\n got %+v\nwant %+v", i, got[i], ss[i])
		}
	}
}
