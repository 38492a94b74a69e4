package tlog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
)

// stallOpen stands in for the disk's file creation: opens of paths
// containing match block until release is closed, the first telling
// entered. The files are real; only the stall is made. A hook rather than
// a FIFO or a read-only directory: a FIFO blocks only at a path made in
// advance (the recorder names its files from the time), and a read-only
// directory fails at once instead of stalling, which is not what a busy
// disk does.
type stallOpen struct {
	match   string
	entered chan string
	release chan struct{}
}

func newStallOpen(match string) *stallOpen {
	return &stallOpen{match: match, entered: make(chan string, 1), release: make(chan struct{})}
}

func (s *stallOpen) open(path string) (*os.File, error) {
	if strings.Contains(path, s.match) {
		select {
		case s.entered <- path:
		default:
		}
		<-s.release
	}
	return openAppend(path)
}

// waitStats polls the recorder's stats until ok: the test waits for a
// count, never for a time.
func waitStats(t *testing.T, rec *Recorder, what string, ok func(RecorderStats) bool) RecorderStats {
	t.Helper()
	for i := 0; ; i++ {
		st := rec.Stats()
		if ok(st) {
			return st
		}
		if i == 60000 {
			t.Fatalf("waited a minute for %s: %+v", what, st)
		}
		time.Sleep(time.Millisecond)
	}
}

// lats reads back the GLOBAL_POSITION_INT latitudes of every tlog of a
// vehicle, in file order.
func lats(t *testing.T, dir, vehicle string) []int32 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, vehicle, "*.tlog"))
	var out []int32
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		es, bad := readAll(t, f)
		f.Close()
		if len(bad) != 0 {
			t.Fatalf("%s damaged: %v", p, bad)
		}
		for _, e := range es {
			out = append(out, e.Frame.GetMessage().(*common.MessageGlobalPositionInt).Lat)
		}
	}
	return out
}

func seq(from, n int32) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = from + int32(i)
	}
	return out
}

func startRecorder(t *testing.T, opts RecorderOptions, open func(string) (*os.File, error)) (*Recorder, context.CancelFunc, chan error) {
	t.Helper()
	rec, err := NewRecorder(opts)
	if err != nil {
		t.Fatal(err)
	}
	rec.openFile = open
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-rec.wdone })
	return rec, cancel, done
}

// A disk that stalls on creating files loses no frame: they wait in
// memory and all reach their files, in order, once it goes on.
func TestRecorderStalledDiskLosesNothing(t *testing.T) {
	dir := t.TempDir()
	stall := newStallOpen(dir)
	rec, cancel, done := startRecorder(t, RecorderOptions{Dir: dir, FlushEvery: 5 * time.Millisecond}, stall.open)
	const vehicles, each = 20, 300
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ids := make([]string, vehicles)
	for v := range ids {
		ids[v] = "v" + string(rune('a'+v))
	}
	tapRound := func(i int) {
		for _, id := range ids {
			at = at.Add(time.Millisecond)
			rec.Tap(id, "udp:x", at, v2(0, 1, gpi(int32(i))), nil)
		}
	}
	tapRound(0)
	<-stall.entered // the writer is stuck creating the first file
	for i := 1; i < each; i++ {
		tapRound(i)
	}
	st := waitStats(t, rec, "every frame taken", func(s RecorderStats) bool { return s.Frames+s.Dropped == vehicles*each })
	if st.Dropped != 0 || st.WrittenFrames != 0 || st.BufferBytes != int64(st.Bytes) {
		t.Fatalf("while the disk stalls: %+v, want nothing dropped or written, every byte buffered", st)
	}
	close(stall.release)
	waitStats(t, rec, "every frame written", func(s RecorderStats) bool { return s.WrittenFrames == vehicles*each })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if got := lats(t, dir, id); !slices.Equal(got, seq(0, each)) {
			t.Fatalf("vehicle %s: %d frames read back, want 0..%d in order: %v", id, len(got), each-1, got)
		}
	}
	if st := rec.Stats(); st.Dropped != 0 || st.LostFrames != 0 || st.BufferBytes != 0 || st.WriteErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Past MaxBufferBytes a stalled disk costs frames: exactly those that do
// not fit are dropped and counted, the others are written intact, and
// once the disk goes on the buffer takes frames again.
func TestRecorderBufferCapDropsExactly(t *testing.T) {
	dir := t.TempDir()
	stall := newStallOpen(dir)
	// Each frame's entry in the tlog, as the recorder encodes it.
	var enc bytes.Buffer
	w := NewWriter(&enc, nil)
	size := func(i int32) int64 {
		n, err := w.Write(time.Now(), v2(0, 1, gpi(i)))
		if err != nil {
			t.Fatal(err)
		}
		return int64(n)
	}
	const capBytes = 1500
	rec, cancel, done := startRecorder(t, RecorderOptions{Dir: dir, FlushEvery: 5 * time.Millisecond, MaxBufferBytes: capBytes}, stall.open)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tap := func(i int32) {
		at = at.Add(time.Millisecond)
		var f frame.Frame = v2(0, 1, gpi(i))
		rec.Tap("c", "udp:x", at, f, nil)
	}
	tap(0)
	<-stall.entered
	const n = 100
	for i := int32(1); i < n; i++ {
		tap(i)
	}
	// What fits: frames in order while the buffer has room for each.
	var want []int32
	var used int64
	for i := int32(0); i < n; i++ {
		if s := size(i); used+s <= capBytes {
			want = append(want, i)
			used += s
		}
	}
	if len(want) == 0 || len(want) == n {
		t.Fatalf("the cap of %d bytes takes %d of %d frames: the test needs it to take some", capBytes, len(want), n)
	}
	st := waitStats(t, rec, "every frame taken or dropped", func(s RecorderStats) bool { return s.Frames+s.Dropped == n })
	if st.Dropped != uint64(n-len(want)) || st.Frames != uint64(len(want)) || st.BufferBytes != used {
		t.Fatalf("stats %+v, want %d frames (%d bytes) taken and %d dropped", st, len(want), used, n-len(want))
	}
	close(stall.release)
	waitStats(t, rec, "the buffered frames written", func(s RecorderStats) bool { return s.WrittenFrames == uint64(len(want)) })
	// The buffer is free again: later frames are all taken.
	for i := int32(1000); i < 1010; i++ {
		tap(i)
	}
	want = append(want, seq(1000, 10)...)
	waitStats(t, rec, "the later frames written", func(s RecorderStats) bool { return s.WrittenFrames == uint64(len(want)) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := lats(t, dir, "c"); !slices.Equal(got, want) {
		t.Fatalf("read back %v, want %v", got, want)
	}
	if st := rec.Stats(); st.Dropped != uint64(n-(len(want)-10)) || st.LostFrames != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A shutdown while the disk is stalled writes what it can, stops waiting
// after StopWait and says what it could not write: every frame is either
// in a file or counted lost.
func TestRecorderShutdownDuringStall(t *testing.T) {
	dir := t.TempDir()
	stall := newStallOpen(string(filepath.Separator) + "stuck" + string(filepath.Separator))
	rec, cancel, done := startRecorder(t, RecorderOptions{Dir: dir, FlushEvery: 5 * time.Millisecond, StopWait: 200 * time.Millisecond}, stall.open)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tap := func(id string, i int32) {
		at = at.Add(time.Millisecond)
		rec.Tap(id, "udp:x", at, v2(0, 1, gpi(i)), nil)
	}
	for i := int32(0); i < 50; i++ {
		tap("ok", i)
	}
	waitStats(t, rec, "the first frames written", func(s RecorderStats) bool { return s.WrittenFrames == 50 })
	for i := int32(0); i < 40; i++ {
		tap("stuck", i)
	}
	<-stall.entered
	for i := int32(50); i < 80; i++ {
		tap("ok", i)
	}
	waitStats(t, rec, "every frame taken", func(s RecorderStats) bool { return s.Frames == 120 })
	cancel()
	err := <-done
	if err == nil {
		t.Fatal("Run returned no error though the disk was stalled at shutdown")
	}
	st := rec.Stats()
	close(stall.release)
	<-rec.wdone
	okFrames := lats(t, dir, "ok")
	if st.Dropped != 0 || st.LostFrames < 40 || st.WrittenFrames+st.LostFrames != 120 ||
		uint64(len(okFrames)) != st.WrittenFrames || !slices.Equal(okFrames, seq(0, int32(len(okFrames)))) {
		t.Fatalf("stats %+v, vehicle ok's tlog %v; want 40 to 70 frames lost, the rest in order in ok's tlog (%v)", st, okFrames, err)
	}
	if got := lats(t, dir, "stuck"); len(got) != 0 {
		t.Fatalf("the stalled vehicle's tlog has %d frames after the recorder stopped, want none", len(got))
	}
	if st2 := rec.Stats(); st2.WrittenFrames != st.WrittenFrames || st2.LostFrames != st.LostFrames {
		t.Fatalf("stats changed after Run returned: %+v, then %+v", st, st2)
	}
	t.Logf("%d frames written, %d lost: %v", st.WrittenFrames, st.LostFrames, err)
}

// TapEach queues a batch in order, as Tap does frame by frame: what the
// queue cannot take is dropped and counted, the drain is woken once the
// queue reaches a quarter of its length, and every frame taken reaches its
// vehicle's file in order.
func TestRecorderTapEachQueuesInOrderAndCountsDrops(t *testing.T) {
	dir := t.TempDir()
	rec, err := NewRecorder(RecorderOptions{Dir: dir, FlushEvery: 5 * time.Millisecond, QueueLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	rec.TapEach(func(add func(vehicleID string, at time.Time, f frame.Frame, raw []byte)) {
		for i := range int32(12) { // not running: the queue of 8 is not drained
			at = at.Add(time.Millisecond)
			add([]string{"a", "b"}[i%2], at, v2(0, 1, gpi(i)), nil)
		}
	})
	if st := rec.Stats(); st.Queued != 8 || st.Dropped != 4 {
		t.Fatalf("queued %d, dropped %d; want 8 and 4", st.Queued, st.Dropped)
	}
	select {
	case <-rec.wake:
	default:
		t.Fatal("the drain was not woken at a quarter of the queue")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	waitStats(t, rec, "the frames written", func(s RecorderStats) bool { return s.WrittenFrames == 8 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := lats(t, dir, "a"); !slices.Equal(got, []int32{0, 2, 4, 6}) {
		t.Fatalf("a: %v", got)
	}
	if got := lats(t, dir, "b"); !slices.Equal(got, []int32{1, 3, 5, 7}) {
		t.Fatalf("b: %v", got)
	}
}
