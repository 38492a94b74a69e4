package tlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/minimal"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"

	"github.com/burgut-uav/burgut/internal/testenv"
)

func readAll(t *testing.T, r io.Reader) (entries []Entry, corrupt []*CorruptError) {
	t.Helper()
	rd := NewReader(r, nil)
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		var ce *CorruptError
		if errors.As(err, &ce) {
			corrupt = append(corrupt, ce)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
}

func v2(seq, sys uint8, m message.Message) *frame.V2Frame {
	return &frame.V2Frame{SequenceNumber: seq, SystemID: sys, ComponentID: 1, Message: m}
}

func heartbeat(armed bool) *ardupilotmega.MessageHeartbeat {
	hb := &ardupilotmega.MessageHeartbeat{Type: minimal.MAV_TYPE_QUADROTOR, Autopilot: minimal.MAV_AUTOPILOT_ARDUPILOTMEGA, MavlinkVersion: 3}
	if armed {
		hb.BaseMode = minimal.MAV_MODE_FLAG_SAFETY_ARMED
	}
	return hb
}

func gpi(lat int32) *common.MessageGlobalPositionInt {
	return &common.MessageGlobalPositionInt{TimeBootMs: 1000, Lat: lat, Lon: 692797000, Alt: 455000, RelativeAlt: 10000, Hdg: 9000}
}

// Write → read round trip: times (µs), message contents, both MAVLink versions.
func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, nil)
	start := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	type in struct {
		at time.Time
		f  frame.Frame
	}
	var ins []in
	for i := 0; i < 100; i++ {
		var f frame.Frame = v2(uint8(i), 7, gpi(413111000+int32(i)))
		if i%3 == 0 {
			f = &frame.V1Frame{SequenceNumber: uint8(i), SystemID: 7, ComponentID: 1, Message: heartbeat(i%2 == 0)}
		}
		if i%10 == 5 {
			f = v2(uint8(i), 7, &ardupilotmega.MessageStatustext{Severity: common.MAV_SEVERITY_INFO, Text: "Armed 🛩"})
		}
		ins = append(ins, in{start.Add(time.Duration(i) * 250 * time.Millisecond), f})
		if _, err := w.Write(ins[i].at, ins[i].f); err != nil {
			t.Fatal(err)
		}
	}
	es, bad := readAll(t, bytes.NewReader(buf.Bytes()))
	if len(bad) != 0 || len(es) != len(ins) {
		t.Fatalf("read %d entries, %d corrupt; want %d, 0", len(es), len(bad), len(ins))
	}
	for i := range es {
		if !es[i].Time.Equal(ins[i].at) {
			t.Fatalf("entry %d time %v, want %v", i, es[i].Time, ins[i].at)
		}
		if !reflect.DeepEqual(es[i].Frame.GetMessage(), ins[i].f.GetMessage()) {
			t.Fatalf("entry %d message %+v, want %+v", i, es[i].Frame.GetMessage(), ins[i].f.GetMessage())
		}
		if es[i].Frame.GetSystemID() != 7 || es[i].Frame.GetSequenceNumber() != uint8(i) {
			t.Fatalf("entry %d header changed", i)
		}
	}
	// The written frames were not modified (they may be shared with the ground station).
	if _, raw := ins[1].f.GetMessage().(*message.MessageRaw); raw {
		t.Fatal("Writer replaced the caller's decoded message with a raw one")
	}
}

// The real logs in ../shared parse completely; the counts are the README's.
func TestRealTlogs(t *testing.T) {
	for _, c := range []struct {
		name           string
		frames, broken int
		v1             bool
	}{
		{"arducopter-4.7-sitl-mission-fence-rally-takeoff.tlog", 7742, 0, false},
		{"arduplane-vtol-sitl.tlog", 23894, 0, true},
		{"ardusub-real.tlog", 35912, 4, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := os.Open(testenv.Shared(t, "data/tlogs/"+c.name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			es, bad := readAll(t, f)
			if len(es) != c.frames || len(bad) != c.broken {
				t.Fatalf("%d frames, %d damaged; README says %d and %d", len(es), len(bad), c.frames, c.broken)
			}
			_, isV1 := es[0].Frame.(*frame.V1Frame)
			if isV1 != c.v1 {
				t.Fatalf("first frame v1=%v, want %v", isV1, c.v1)
			}
			var hb int
			for _, e := range es {
				if _, ok := e.Frame.GetMessage().(*minimal.MessageHeartbeat); ok {
					hb++
				}
			}
			if hb == 0 {
				t.Fatal("no HEARTBEAT decoded")
			}
			for _, b := range bad {
				if b.Offset <= 0 || b.Skipped <= 0 {
					t.Fatalf("damage report without offset: %v", b)
				}
			}
		})
	}
}

// A corrupted tlog gives an error with the byte offset, and the rest is read.
func TestCorruptedTlogOffsetAndRest(t *testing.T) {
	orig, err := os.ReadFile(testenv.Shared(t, "data/tlogs/arducopter-4.7-sitl-mission-fence-rally-takeoff.tlog"))
	if err != nil {
		t.Fatal(err)
	}
	es, _ := readAll(t, bytes.NewReader(orig))
	damaged := append([]byte(nil), orig...)
	// Flip a payload byte of entry 1000 (checksum fails) and overwrite the
	// magic byte of entry 3000 (no frame start), and cut the last entry short.
	e1, e2 := es[1000], es[3000]
	damaged[e1.Offset+8+12] ^= 0x5a
	damaged[e2.Offset+8] = 0x00
	last := es[len(es)-1]
	damaged = damaged[:last.Offset+8+4]

	got, bad := readAll(t, bytes.NewReader(damaged))
	if len(bad) != 3 {
		t.Fatalf("%d damage reports, want 3: %v", len(bad), bad)
	}
	if bad[0].Offset != e1.Offset || bad[1].Offset != e2.Offset || bad[2].Offset != last.Offset {
		t.Fatalf("damage at %d, %d, %d; want %d, %d, %d", bad[0].Offset, bad[1].Offset, bad[2].Offset, e1.Offset, e2.Offset, last.Offset)
	}
	if bad[0].Skipped != int64(len(e1.Raw)+8) {
		t.Fatalf("skipped %d bytes after the flipped byte, want exactly the entry (%d)", bad[0].Skipped, len(e1.Raw)+8)
	}
	if len(got) != len(es)-3 {
		t.Fatalf("read %d entries, want all but the 3 damaged (%d)", len(got), len(es)-3)
	}
	if got[len(got)-1].Offset != es[len(es)-2].Offset {
		t.Fatal("the entries after the damage were not all read")
	}
	msg := bad[0].Error()
	if !bytes.Contains([]byte(msg), []byte("byte")) {
		t.Fatalf("error %q does not name the byte offset", msg)
	}
}

func TestGarbageOnly(t *testing.T) {
	es, bad := readAll(t, bytes.NewReader(bytes.Repeat([]byte{0xFD, 1, 2, 3}, 500)))
	if len(es) != 0 || len(bad) != 1 || bad[0].Offset != 0 || bad[0].Skipped != 2000 {
		t.Fatalf("entries %d, damage %v", len(es), bad)
	}
	es, bad = readAll(t, bytes.NewReader(nil))
	if len(es) != 0 || len(bad) != 0 {
		t.Fatal("empty input is not an empty log")
	}
}

type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

// Replay sends every frame, unchanged, to a real UDP socket, with the
// recorded gaps divided by the speed (on a fake clock: no timing in tests).
func TestReplayToUDPWithScaledTiming(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, nil)
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	gaps := []time.Duration{0, 100 * time.Millisecond, 2 * time.Second, 50 * time.Millisecond, 0, time.Second}
	at := start
	for i, g := range gaps {
		at = at.Add(g)
		if _, err := w.Write(at, v2(uint8(i), 3, gpi(int32(i)))); err != nil {
			t.Fatal(err)
		}
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	conn, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	clk := &fakeClock{now: time.Unix(0, 0)}
	st, err := Replay(context.Background(), bytes.NewReader(buf.Bytes()), func(b []byte) error { _, err := conn.Write(b); return err },
		ReplayOptions{Speed: 10, Sleep: clk.Sleep, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if st.Frames != len(gaps) || st.Logged != 3150*time.Millisecond {
		t.Fatalf("stats %+v", st)
	}
	want := []time.Duration{10 * time.Millisecond, 200 * time.Millisecond, 5 * time.Millisecond, 100 * time.Millisecond}
	if !reflect.DeepEqual(clk.waits, want) {
		t.Fatalf("waits %v, want %v (recorded gaps / 10)", clk.waits, want)
	}
	es, _ := readAll(t, bytes.NewReader(buf.Bytes()))
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range gaps {
		b := make([]byte, 600)
		n, _, err := pc.ReadFrom(b)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if !bytes.Equal(b[:n], es[i].Raw) {
			t.Fatalf("datagram %d differs from the logged frame", i)
		}
	}
}

// Replaying a real log with damage still sends the readable rest.
func TestReplayRealDamagedLog(t *testing.T) {
	f, err := os.Open(testenv.Shared(t, "data/tlogs/ardusub-real.tlog"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	st, err := Replay(context.Background(), f, func([]byte) error { n++; return nil }, ReplayOptions{Speed: 0})
	if err != nil {
		t.Fatal(err)
	}
	if st.Frames != 35912 || n != 35912 || st.Corrupt != 4 {
		t.Fatalf("stats %+v, sent %d", st, n)
	}
}

// Recorder: one file per vehicle per flight, parts by size, a total cap.
func TestRecorderFlightsPartsAndCap(t *testing.T) {
	dir := t.TempDir()
	rec, err := NewRecorder(RecorderOptions{Dir: dir, MaxFileBytes: 4000, MaxTotalBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = rec.Run(ctx) }()
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	at := start
	tap := func(id string, m message.Message) {
		at = at.Add(100 * time.Millisecond)
		rec.Tap(id, "udp:x", at, v2(0, 1, m), nil)
	}
	// Vehicle a: connect (disarmed), fly, land, fly again. Vehicle b: connects once.
	for i := 0; i < 5; i++ {
		tap("a", heartbeat(false))
		tap("b", gpi(1))
	}
	for flight := 0; flight < 2; flight++ {
		for i := 0; i < 10; i++ {
			tap("a", heartbeat(true))
			tap("a", gpi(int32(i)))
		}
		for i := 0; i < 3; i++ {
			tap("a", heartbeat(false))
		}
	}
	cancel()
	<-done
	files := func(v string) []string {
		m, _ := filepath.Glob(filepath.Join(dir, v, "*.tlog"))
		return m
	}
	if got := files("a"); len(got) != 3 { // connection, flight 1, flight 2
		t.Fatalf("vehicle a has %d tlogs, want 3: %v", len(got), got)
	}
	if got := files("b"); len(got) != 1 {
		t.Fatalf("vehicle b has %d tlogs, want 1", len(got))
	}
	var total int
	for _, p := range append(files("a"), files("b")...) {
		f, _ := os.Open(p)
		es, bad := readAll(t, f)
		f.Close()
		if len(bad) != 0 {
			t.Fatalf("%s damaged: %v", p, bad)
		}
		total += len(es)
	}
	if st := rec.Stats(); total != 5+5+2*(20+3) || st.Frames != uint64(total) || st.Dropped != 0 {
		t.Fatalf("read back %d frames; stats %+v", total, st)
	}

	// Size parts and the disk cap.
	dir2 := t.TempDir()
	rec, err = NewRecorder(RecorderOptions{Dir: dir2, MaxFileBytes: 2000, MaxTotalBytes: 10000})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { defer close(done); _ = rec.Run(ctx) }()
	for i := 0; i < 2000; i++ {
		tap("c", gpi(int32(i)))
	}
	cancel()
	<-done
	parts, _ := filepath.Glob(filepath.Join(dir2, "c", "*.tlog"))
	var size int64
	for _, p := range parts {
		st, _ := os.Stat(p)
		size += st.Size()
		if st.Size() > 2000+100 {
			t.Fatalf("part %s is %d bytes, over the 2000 limit by more than a frame", p, st.Size())
		}
	}
	st := rec.Stats()
	if size > 10000 || st.DeletedFiles == 0 || st.TotalBytes != size {
		t.Fatalf("%d bytes on disk in %d parts; stats %+v", size, len(parts), st)
	}
	// The newest frame survived the cap.
	last := parts[len(parts)-1]
	f, _ := os.Open(last)
	es, _ := readAll(t, f)
	f.Close()
	if lat := es[len(es)-1].Frame.GetMessage().(*common.MessageGlobalPositionInt).Lat; lat != 1999 {
		t.Fatalf("newest frame kept is %d, want 1999", lat)
	}
}

func BenchmarkReadRealTlog(b *testing.B) {
	data, err := os.ReadFile(testenv.Shared(b, "data/tlogs/ardusub-real.tlog"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	frames := 0
	for i := 0; i < b.N; i++ {
		rd := NewReader(bytes.NewReader(data), nil)
		for {
			_, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			frames++
		}
	}
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
}

// Re-recording frames decoded from a real log reproduces it byte for byte:
// the recorder's tlogs are what the vehicle sent.
func TestRewriteRealLogIdentical(t *testing.T) {
	orig, err := os.ReadFile(testenv.Shared(t, "data/tlogs/arducopter-4.7-sitl-mission-fence-rally-takeoff.tlog"))
	if err != nil {
		t.Fatal(err)
	}
	es, _ := readAll(t, bytes.NewReader(orig))
	var buf bytes.Buffer
	w := NewWriter(&buf, nil)
	for _, e := range es {
		if _, err := w.Write(e.Time, e.Frame); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(buf.Bytes(), orig) {
		a, b := buf.Bytes(), orig
		i := 0
		for i < len(a) && i < len(b) && a[i] == b[i] {
			i++
		}
		t.Fatalf("re-written log differs from byte %d (lengths %d vs %d)", i, len(a), len(b))
	}
}

// A frame tapped with the bytes it was received as is logged as those
// bytes with its time, exactly as Writer.WriteRaw logs it, and counted.
func TestRecorderLogsRawFramesAsReceived(t *testing.T) {
	rw := &dialect.ReadWriter{Dialect: ardupilotmega.Dialect}
	if err := rw.Initialize(); err != nil {
		t.Fatal(err)
	}
	// The raw bytes of two frames, as a vehicle would send them.
	var enc bytes.Buffer
	w := NewWriter(&enc, rw)
	at0 := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	msgs := []message.Message{heartbeat(false), gpi(7)}
	var raws [][]byte
	var frames []frame.Frame
	for i, m := range msgs {
		enc.Reset()
		f := v2(uint8(i), 1, m)
		if _, err := w.Write(at0, f); err != nil {
			t.Fatal(err)
		}
		raws = append(raws, bytes.Clone(enc.Bytes()[8:]))
		frames = append(frames, f)
	}
	var want bytes.Buffer
	wantW := NewWriter(&want, rw)
	dir := t.TempDir()
	rec, err := NewRecorder(RecorderOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = rec.Run(ctx) }()
	for i, raw := range raws {
		at := at0.Add(time.Duration(i) * time.Second)
		rec.Tap("r", "udp:x", at, frames[i], raw)
		if _, err := wantW.WriteRaw(at, raw); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-done
	files, _ := filepath.Glob(filepath.Join(dir, "r", "*.tlog"))
	if len(files) != 1 {
		t.Fatalf("%d tlogs, want 1", len(files))
	}
	got, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("logged %x, want %x", got, want.Bytes())
	}
	if st := rec.Stats(); st.Frames != 2 || st.Bytes != uint64(len(got)) {
		t.Fatalf("stats %+v for %d bytes", st, len(got))
	}
}

// vehicleOf returns the vehicle's own log whichever string carries its
// ID (the same one every time, as from the ground station, or another
// with the same bytes), for more vehicles than its cache has slots, so
// that slots are shared and overwritten, and nil for an ID with no log.
func TestRecorderVehicleOfThroughItsCache(t *testing.T) {
	rec, err := NewRecorder(RecorderOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	n := 3 * idCacheSize
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("l%d-%d", i%8, i)
		rec.vehicles[ids[i]] = &vehicleLog{part: i}
	}
	for round := 0; round < 3; round++ {
		for i, id := range ids {
			for _, s := range []string{id, strings.Clone(id)} {
				if vl := rec.vehicleOf(s); vl == nil || vl.part != i {
					t.Fatalf("round %d: vehicleOf(%q) = %+v, want the log of vehicle %d", round, s, vl, i)
				}
			}
		}
	}
	if vl := rec.vehicleOf("l0-unknown"); vl != nil {
		t.Fatalf("vehicleOf(an unknown ID) = %+v, want nil", vl)
	}
}
