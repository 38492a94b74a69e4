package sqlitestore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/telemetry"
	"github.com/burgut-uav/burgut/telemetry/sqlitestore"
)

// accepted counts, per kind, the rows whose WriteSamples or WritePoints
// returned nil: what the store promised to keep.
type accepted struct {
	mu                          sync.Mutex
	pos, att, status, link, hud int64
	gps                         int64
}

func (a *accepted) total() int64 { return a.pos + a.att + a.status + a.link + a.hud + a.gps }

// writeVehicleSecond writes one second of vehicle v's interval-0 load as
// the recorder hands it over: 10 positions, 2 attitudes and a heartbeat
// (status and link) as one-measurement samples, 2 VFR_HUD and a
// GPS_RAW_INT as message points; each kind's rows are counted in acc
// only when the store accepted them.
func writeVehicleSecond(ctx context.Context, st *sqlitestore.Store, acc *accepted, v, sec int) error {
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(sec) * time.Second)
	sample := func(at time.Duration, p telemetry.Parts) telemetry.Sample {
		return telemetry.Sample{Time: base.Add(at + time.Duration(v)*time.Microsecond), Vehicle: fmt.Sprintf("uav-%d", v),
			Link: "udp:0.0.0.0:14550", SystemID: uint8(1 + v), Type: "quadrotor", Lat: 41.3, Lon: 69.2 + float64(sec)*1e-5,
			Roll: 1, Mode: "AUTO", Armed: true, GPSFix: 3, RateHz: 18, Parts: p}
	}
	var ss []telemetry.Sample
	for k := 0; k < 10; k++ {
		ss = append(ss, sample(time.Duration(k)*100*time.Millisecond, telemetry.PartPosition))
	}
	ss = append(ss, sample(10*time.Millisecond, telemetry.PartAttitude), sample(510*time.Millisecond, telemetry.PartAttitude),
		sample(40*time.Millisecond, telemetry.PartStatus|telemetry.PartLink))
	// Two calls of uneven size, so a commit's batch ends inside a second.
	if err := st.WriteSamples(ctx, ss[:7]); err != nil {
		return err
	}
	acc.mu.Lock()
	acc.pos += 7
	acc.mu.Unlock()
	if err := st.WriteSamples(ctx, ss[7:]); err != nil {
		return err
	}
	acc.mu.Lock()
	acc.pos, acc.att, acc.status, acc.link = acc.pos+3, acc.att+2, acc.status+1, acc.link+1
	acc.mu.Unlock()
	tags := ss[0].Tags()
	f := []telemetry.Field{{Name: "airspeed", Kind: telemetry.FieldFloat, Float: 12.5}, {Name: "throttle", Kind: telemetry.FieldInt, Int: 48}}
	ps := []telemetry.Point{
		{Time: base.Add(20*time.Millisecond + time.Duration(v)*time.Microsecond), Measurement: "mavlink_vfr_hud", Tags: tags, Fields: f},
		{Time: base.Add(520*time.Millisecond + time.Duration(v)*time.Microsecond), Measurement: "mavlink_vfr_hud", Tags: tags, Fields: f},
		{Time: base.Add(50*time.Millisecond + time.Duration(v)*time.Microsecond), Measurement: "mavlink_gps_raw_int", Tags: tags, Fields: f},
	}
	if err := st.WritePoints(ctx, ps); err != nil {
		return err
	}
	acc.mu.Lock()
	acc.hud, acc.gps = acc.hud+2, acc.gps+1
	acc.mu.Unlock()
	return nil
}

// checkStored reopens the file (so only what was committed counts) and
// compares every table's rows with what was accepted.
func checkStored(t *testing.T, path string, acc *accepted) {
	t.Helper()
	st, err := sqlitestore.Open(path, sqlitestore.Options{MaxAge: -1, MaxBytes: -1, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := func(p telemetry.Parts) int64 {
		n, err := st.CountSamples(ctx, p, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	points := func(m string) int64 {
		n, err := st.CountPoints(ctx, m, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if acc.pos == 0 {
		t.Fatal("nothing was accepted")
	}
	for _, c := range []struct {
		what      string
		got, want int64
	}{
		{"position rows", rows(telemetry.PartPosition), acc.pos},
		{"attitude rows", rows(telemetry.PartAttitude), acc.att},
		{"status rows", rows(telemetry.PartStatus), acc.status},
		{"link rows", rows(telemetry.PartLink), acc.link},
		{"power rows", rows(telemetry.PartPower), 0},
		{"mavlink_vfr_hud points", points("mavlink_vfr_hud"), acc.hud},
		{"mavlink_gps_raw_int points", points("mavlink_gps_raw_int"), acc.gps},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d stored, %d accepted", c.what, c.got, c.want)
		}
	}
}

// Many writers through Run's batching: commits of CommitRows, writers
// held back at MaxPending (the store's bounded queue), and Run stopped
// while they still write, so one batch is cut at the shutdown and the
// later writes are synchronous. Every row a write call accepted is stored
// exactly once: per kind, rows in the file after a reopen = rows accepted.
func TestBatchedWritesKeepEveryAcceptedRow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	st, err := sqlitestore.Open(path, sqlitestore.Options{MaxAge: -1, MaxBytes: -1,
		CommitEvery: time.Hour, CommitRows: 100, MaxPending: 300, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- st.Run(rctx) }()

	const writers, vehiclesPer, seconds = 4, 5, 20
	acc := &accepted{}
	half := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sec := 0; sec < seconds; sec++ {
				if w == 0 && sec == seconds/2 {
					close(half)
				}
				for v := w * vehiclesPer; v < (w+1)*vehiclesPer; v++ {
					if err := writeVehicleSecond(context.Background(), st, acc, v, sec); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	<-half
	stop() // Run commits what is pending, then writes are synchronous
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s, err := st.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Commits < 2 || s.DroppedRows != 0 || s.WriteErrors != 0 || s.Duplicates != 0 || s.PendingRows != 0 {
		t.Fatalf("store stats %+v: want several commits, nothing dropped, doubled or pending", s)
	}
	if int64(s.Rows) != acc.total() {
		t.Fatalf("%d rows written, %d accepted", s.Rows, acc.total())
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	checkStored(t, path, acc)
}

// A batch that is still pending when Run stops (no commit was due: the
// clock's is an hour away, CommitRows far) is committed by Run on its way
// out, in one commit, and survives the store's close.
func TestShutdownCommitsThePendingBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	st, err := sqlitestore.Open(path, sqlitestore.Options{MaxAge: -1, MaxBytes: -1,
		CommitEvery: time.Hour, CommitRows: 1_000_000, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- st.Run(rctx) }()
	acc := &accepted{}
	stats := func() sqlitestore.Stats {
		s, err := st.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Until Run's writer is running a write is committed at once; the
	// first one left pending says it runs (vehicle 99, a second each).
	sec := 0
	for ; stats().PendingRows == 0; sec++ {
		if err := writeVehicleSecond(context.Background(), st, acc, 99, sec); err != nil {
			t.Fatal(err)
		}
	}
	start := stats()
	committed := int64(start.Rows)
	for ; sec < 5; sec++ {
		for v := 0; v < 7; v++ {
			if err := writeVehicleSecond(context.Background(), st, acc, v, sec); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := stats()
	if int64(before.PendingRows) != acc.total()-committed || before.Commits != start.Commits {
		t.Fatalf("before the shutdown: %d rows pending, %d commits; want %d pending, %d commits",
			before.PendingRows, before.Commits, acc.total()-committed, start.Commits)
	}
	stop()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	after := stats()
	if after.Commits != start.Commits+1 || int64(after.Rows) != acc.total() || after.PendingRows != 0 || after.DroppedRows != 0 {
		t.Fatalf("after the shutdown: %+v; want one more commit, %d rows in all", after, acc.total())
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	checkStored(t, path, acc)
}
