package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/telemetry"
	"github.com/burgut-uav/burgut/telemetry/sqlitestore"
)

// With no InfluxDB, `burgut serve --telemetry-interval 0` keeps every
// message in its embedded store, exactly once: 200 vehicles over two
// links for 10 s (36,000 messages), counted per measurement in
// telemetry.db after the station stopped, against loadgen's per-type
// counts, with /metrics agreeing (rows written = rows stored, nothing
// dropped) and `burgut history latest` reading all 200 vehicles back.
// schemaMessages are the messages stored in the schema's measurements
// (position, attitude, power, status and link), not in their own.
var schemaMessages = map[string]bool{"GLOBAL_POSITION_INT": true, "ATTITUDE": true, "SYS_STATUS": true,
	"BATTERY_STATUS": true, "HEARTBEAT": true}

func TestServeEmbeddedStoreStoresEveryMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the 200-vehicle run takes ~30 s")
	}
	const vehicles, seconds = 200, 10
	dataDir := t.TempDir()
	links := twoUDPLinks(t)
	s := startServe(t, "--data-dir", dataDir, "--mavlink", links[0], "--mavlink", links[1],
		"--telemetry-interval", "0", "--log-level", "warn")

	sent := loadAllPositions(t, links, vehicles, seconds)
	gpi := sent.Sent["GLOBAL_POSITION_INT"]

	// Wait until everything is decoded and nothing waits for the store.
	fams := waitDrained(t, "http://"+s.http+"/metrics", ingestDrained(), recorderIdle, zero("store pending rows", "burgut_store_pending_rows"))
	checkIngest(t, fams, sent)
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"frames decoded", sum(fams, "burgut_mavlink_frames_received_total"), float64(sent.SentTotal)},
		{"socket drops", sum(fams, "burgut_udp_socket_drops_total"), 0},
		{"recorder drops", sum(fams, "burgut_recorder_dropped_total"), 0},
		{"fleet subscriber drops", sum(fams, "burgut_fleet_subscriber_dropped_total"), 0},
		{"store rows dropped", value(fams, "burgut_store_dropped_rows_total"), 0},
		{"store duplicate rows", value(fams, "burgut_store_duplicate_rows_total"), 0},
		{"store rows = rows written", value(fams, "burgut_store_samples"), value(fams, "burgut_store_rows_written_total")},
	} {
		if c.got != c.want {
			t.Errorf("/metrics %s = %v, want %v", c.what, c.got, c.want)
		}
	}

	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGINT")
	}
	if s.err != nil {
		t.Fatalf("serve exited with %v; stderr:\n%s", s.err, s.stderr)
	}

	st, err := sqlitestore.Open(filepath.Join(dataDir, "telemetry.db"), sqlitestore.Options{MaxAge: -1, MaxBytes: -1,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	var total int64
	for _, c := range []struct {
		what string
		got  func() (int64, error)
		want uint64
	}{
		{"position", func() (int64, error) { return st.CountSamples(ctx, telemetry.PartPosition, from, to) }, gpi},
		{"attitude", func() (int64, error) { return st.CountSamples(ctx, telemetry.PartAttitude, from, to) }, sent.Sent["ATTITUDE"]},
		{"power", func() (int64, error) { return st.CountSamples(ctx, telemetry.PartPower, from, to) }, sent.Sent["SYS_STATUS"] + sent.Sent["BATTERY_STATUS"]},
		{"status", func() (int64, error) { return st.CountSamples(ctx, telemetry.PartStatus, from, to) }, sent.Sent["HEARTBEAT"]},
		{"link", func() (int64, error) { return st.CountSamples(ctx, telemetry.PartLink, from, to) }, sent.Sent["HEARTBEAT"]},
	} {
		n, err := c.got()
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if uint64(n) != c.want {
			t.Errorf("embedded store %s rows = %d, want %d (one per message sent)", c.what, n, c.want)
		}
	}
	// Every other kind loadgen sent — COMMAND_ACK and AUTOPILOT_VERSION
	// among them, which change no state the schema keeps — is one point
	// per message in its own measurement too.
	if sent.Sent["COMMAND_ACK"] == 0 || sent.Sent["AUTOPILOT_VERSION"] == 0 {
		t.Errorf("loadgen sent %d COMMAND_ACK and %d AUTOPILOT_VERSION: the test needs both", sent.Sent["COMMAND_ACK"], sent.Sent["AUTOPILOT_VERSION"])
	}
	for name, want := range sent.Sent {
		if schemaMessages[name] {
			continue
		}
		m := telemetry.MessagePrefix + strings.ToLower(name)
		n, err := st.CountPoints(ctx, m, from, to)
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if uint64(n) != want {
			t.Errorf("embedded store %s rows = %d, want %d (one per message sent)", m, n, want)
		}
	}
	if stats, err := st.Stats(ctx); err != nil || stats.Samples < total {
		t.Errorf("store stats %+v (%v): fewer rows than the %d counted", stats, err, total)
	}
	st.Close()

	stdout, stderr, code := runBurgut(t, "history", "latest", "--data-dir", dataDir)
	var latest []telemetry.Sample
	if code != 0 || json.Unmarshal([]byte(stdout), &latest) != nil || len(latest) != vehicles {
		t.Fatalf("history latest: exit %d, %d vehicles (want %d); stderr %s", code, len(latest), vehicles, stderr)
	}
}
