package sqlitestore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator/loadgen"
	"github.com/burgut-uav/burgut/telemetry"
	"github.com/burgut-uav/burgut/telemetry/sqlitestore"
)

// With telemetry interval 0 the embedded store keeps every message the
// vehicles sent, exactly once: the load generator's per-type counts equal
// the stored position, attitude, power and status rows and the message
// points of the other types. Real UDP, the real ground station, and the
// store's own writer running as in burgut serve.
func TestIntervalZeroStoresEveryMessage(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	port := testenv.FreeUDPPort(t)
	fl := fleet.New(fleet.DefaultConfig())
	st, err := groundstation.New(groundstation.Config{Links: []string{fmt.Sprintf("udp:127.0.0.1:%d", port)}, Log: log}, fl, log)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlitestore.Open(filepath.Join(t.TempDir(), "t.db"), sqlitestore.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rec := telemetry.NewRecorder(fl, store, telemetry.RecorderConfig{Interval: 0}, log)
	wctx, wcancel := context.WithCancel(context.Background())
	wDone := make(chan error, 1)
	go func() { wDone <- store.Run(wctx) }()
	defer func() { wcancel(); <-wDone }()
	ctx, cancel := context.WithCancel(context.Background())
	stDone, recDone := make(chan error, 1), make(chan error, 1)
	go func() { stDone <- st.Run(ctx) }()
	go func() { recDone <- rec.Run(ctx) }()
	<-st.Ready()

	res, err := loadgen.Run(context.Background(), loadgen.Config{Vehicles: 10,
		Targets: []string{fmt.Sprintf("udp:127.0.0.1:%d", port)}, Duration: 3 * time.Second, Log: log})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "every frame decoded", func() bool { return st.Links()[0].Frames >= res.SentTotal })
	cancel() // the recorder stores what it holds before Run returns
	if err := <-recDone; err != nil {
		t.Fatal(err)
	}
	<-stDone
	if s := rec.Stats(); s.DroppedQueue != 0 || s.DroppedWrites != 0 {
		t.Fatalf("recorder dropped: %+v", s)
	}
	wcancel() // the writer commits what is pending before Run returns
	if err := <-wDone; err != nil {
		t.Fatal(err)
	}
	wDone <- nil
	if s, err := store.Stats(context.Background()); err != nil || s.DroppedRows != 0 || s.WriteErrors != 0 || s.PendingRows != 0 {
		t.Fatalf("store stats %+v (%v)", s, err)
	}
	from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	rows := func(p telemetry.Parts) int64 {
		n, err := store.CountSamples(context.Background(), p, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	points := func(m string) int64 {
		n, err := store.CountPoints(context.Background(), m, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	sent := func(names ...string) int64 {
		var n uint64
		for _, name := range names {
			n += res.Sent[name]
		}
		return int64(n)
	}
	if sent("GLOBAL_POSITION_INT") == 0 {
		t.Fatalf("nothing sent: %v", res.Sent)
	}
	for _, c := range []struct {
		what      string
		got, want int64
	}{
		{"position rows", rows(telemetry.PartPosition), sent("GLOBAL_POSITION_INT")},
		{"attitude rows", rows(telemetry.PartAttitude), sent("ATTITUDE")},
		{"power rows", rows(telemetry.PartPower), sent("SYS_STATUS", "BATTERY_STATUS")},
		{"status rows", rows(telemetry.PartStatus), sent("HEARTBEAT")},
		{"mavlink_vfr_hud points", points("mavlink_vfr_hud"), sent("VFR_HUD")},
		{"mavlink_gps_raw_int points", points("mavlink_gps_raw_int"), sent("GPS_RAW_INT")},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d stored, %d sent (sent: %v)", c.what, c.got, c.want, res.Sent)
		}
	}
}
