package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"

	"github.com/burgut-uav/burgut/telemetry/sqlitestore"
	"github.com/burgut-uav/burgut/telemetry/telemetrytest"
	"github.com/burgut-uav/burgut/telemetry/tlog"
)

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runMain(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// burgut replay FILE --to udp:HOST:PORT --speed X sends every frame to a
// real UDP socket, unchanged and in order.
func TestReplayCommandSendsFrames(t *testing.T) {
	var buf bytes.Buffer
	w := tlog.NewWriter(&buf, nil)
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	const n = 200
	for i := 0; i < n; i++ {
		f := &frame.V2Frame{SequenceNumber: uint8(i), SystemID: 1, ComponentID: 1,
			Message: &common.MessageGlobalPositionInt{TimeBootMs: uint32(i), Lat: int32(i)}}
		if _, err := w.Write(start.Add(time.Duration(i)*10*time.Millisecond), f); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "flight.tlog")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// The receiver's port is an ephemeral one, and on a busy machine an
	// ephemeral port can still be the destination of someone else's
	// traffic (RTCP sent to a closed WebRTC port was seen arriving at fresh
	// sockets every 5 s). Only datagrams from the replay's own socket — the
	// source of the first frame — count; any other is logged and ignored.
	type datagram struct {
		from string
		b    []byte
	}
	got := make(chan datagram, 4*n)
	go func() {
		b := make([]byte, 2048)
		for {
			k, from, err := pc.ReadFrom(b)
			if err != nil {
				close(got)
				return
			}
			got <- datagram{from.String(), append([]byte(nil), b[:k]...)}
		}
	}()
	code, out, errs := run("replay", path, "--to", "udp:"+pc.LocalAddr().String(), "--speed", "10")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("replayed %d frames", n)) {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	rd := tlog.NewReader(bytes.NewReader(buf.Bytes()), nil)
	want := make([][]byte, n)
	for i := range want {
		e, err := rd.Next()
		if err != nil {
			t.Fatalf("reading back frame %d: %v", i, err)
		}
		want[i] = append([]byte(nil), e.Raw...)
	}
	sender := ""
	for i := 0; i < n; {
		var d datagram
		select {
		case d = <-got:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d frames arrived", i, n)
		}
		if sender == "" && bytes.Equal(d.b, want[0]) {
			sender = d.from
		}
		if d.from != sender {
			t.Logf("ignored a datagram from %s (not the replay's socket %q): % x", d.from, sender, d.b[:min(len(d.b), 16)])
			continue
		}
		if !bytes.Equal(d.b, want[i]) {
			t.Fatalf("datagram %d differs from the logged frame", i)
		}
		i++
	}
}

func TestReplayCommandBadArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"replay"}, 2, "one tlog file"},
		{[]string{"replay", "a.tlog", "b.tlog"}, 2, "one tlog file"},
		{[]string{"replay", "a.tlog", "--to", "tcp:1.2.3.4:5"}, 2, "udp:HOST:PORT"},
		{[]string{"replay", "a.tlog", "--to", "udp:nohostport"}, 2, "--to"},
		{[]string{"replay", "a.tlog", "--speed", "-1"}, 2, "--speed"},
		{[]string{"replay", "a.tlog", "--speed", "fast"}, 2, "speed"},
		{[]string{"replay", filepath.Join(t.TempDir(), "missing.tlog"), "--to", "udp:127.0.0.1:9"}, 1, "missing.tlog"},
	} {
		code, _, errs := run(c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", c.args, code, c.code, errs, c.want)
		}
	}
}

func TestHistoryCommand(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlitestore.Open(filepath.Join(dir, "telemetry.db"), sqlitestore.Options{MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if err := st.WriteSamples(context.Background(), telemetrytest.Flight("v1", 1, start, 300, time.Second)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	rng := []string{"--data-dir", dir, "--from", start.Format(time.RFC3339), "--to", start.Add(time.Hour).Format(time.RFC3339)}

	code, out, errs := run(append([]string{"history", "track", "--vehicle", "v1", "--max-points", "50"}, rng...)...)
	var tr struct {
		Type        string       `json:"type"`
		Coordinates [][3]float64 `json:"coordinates"`
	}
	if err := json.Unmarshal([]byte(out), &tr); code != 0 || err != nil || tr.Type != "LineString" || len(tr.Coordinates) != 50 {
		t.Fatalf("track: exit %d, %v, %s %d points; stderr %s", code, err, tr.Type, len(tr.Coordinates), errs)
	}
	code, out, _ = run(append([]string{"history", "flights", "--vehicle", "v1"}, rng...)...)
	var fl []map[string]any
	if err := json.Unmarshal([]byte(out), &fl); code != 0 || err != nil || len(fl) != 1 {
		t.Fatalf("flights: exit %d %v %s", code, err, out)
	}
	code, out, _ = run(append([]string{"history", "export", "--vehicle", "v1"}, rng...)...)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) != 301 || recs[0][0] != "time" {
		t.Fatalf("export: exit %d, %d rows, %v", code, len(recs), err)
	}
	code, out, _ = run("history", "latest", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, `"vehicle_id": "v1"`) {
		t.Fatalf("latest: exit %d %s", code, out)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"history"}, 2, "track, flights, export, latest"},
		{[]string{"history", "teleport"}, 2, "teleport"},
		{[]string{"history", "track", "--data-dir", dir}, 2, "--vehicle"},
		{[]string{"history", "track", "--vehicle", "v1", "--data-dir", dir, "--from", "noon"}, 2, "--from"},
		{[]string{"history", "track", "--vehicle", "v1", "--data-dir", dir, "--to", "2020-01-01T00:00:00Z", "--from", "2021-01-01T00:00:00Z"}, 2, "after"},
		{[]string{"history", "export", "--vehicle", "v1", "--data-dir", dir, "--format", "xls"}, 2, "xls"},
		{[]string{"history", "latest", "--data-dir", filepath.Join(dir, "nope")}, 1, "no embedded telemetry store"},
		{[]string{"history", "latest", "--influx-url", "http://127.0.0.1:1"}, 2, "--influx-bucket"},
	} {
		code, _, errs := run(c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", c.args, code, c.code, errs, c.want)
		}
	}
}
