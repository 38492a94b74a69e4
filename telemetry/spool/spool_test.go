package spool

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func appendN(t *testing.T, s *Spool, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		at := time.Unix(int64(i), 0)
		if err := s.Append([]byte(fmt.Sprintf("batch-%06d", i)), 10, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

func take(t *testing.T, s *Spool, n int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := s.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("next %d: %v", i, err)
		}
		out = append(out, string(r.Payload))
		if err := s.Ack(r); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func want(from, n int) []string {
	var out []string
	for i := from; i < from+n; i++ {
		out = append(out, fmt.Sprintf("batch-%06d", i))
	}
	return out
}

func eq(t *testing.T, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestOrderAcrossSegmentsAndRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{MaxBytes: 1 << 20, SegmentBytes: 200})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 0, 50)
	eq(t, take(t, s, 20), want(0, 20))
	// Next without Ack returns the same record again.
	r1, _ := s.Next(context.Background())
	r2, _ := s.Next(context.Background())
	if !bytes.Equal(r1.Payload, r2.Payload) {
		t.Fatalf("unacked record changed: %q then %q", r1.Payload, r2.Payload)
	}
	if st := s.Stats(); st.PendingBatches != 30 || st.PendingPoints != 300 {
		t.Fatalf("stats %+v, want 30 pending batches / 300 points", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart: the 30 undelivered come back, in order, none of the 20 delivered.
	s, err = Open(dir, Options{MaxBytes: 1 << 20, SegmentBytes: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := s.Stats(); st.PendingBatches != 30 {
		t.Fatalf("after restart: %+v, want 30 pending", st)
	}
	appendN(t, s, 50, 5)
	eq(t, take(t, s, 35), want(20, 35))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Next(ctx); err == nil {
		t.Fatal("Next on an empty spool returned a record")
	}
	// Delivered segments are deleted: only the active one (and maybe one more) remain.
	if st := s.Stats(); st.Segments > 2 || st.PendingBatches != 0 {
		t.Fatalf("after draining: %+v", st)
	}
}

func TestNextWaitsForAppend(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make(chan string, 1)
	go func() {
		r, err := s.Next(context.Background())
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(r.Payload)
	}()
	appendN(t, s, 7, 1)
	if g := <-got; g != "batch-000007" {
		t.Fatalf("got %q", g)
	}
}

func TestFullDropsOldestAndCounts(t *testing.T) {
	dir := t.TempDir()
	// Records are 28+12 = 40 bytes; 4 per 160-byte segment; 800 bytes = 20 records.
	s, err := Open(dir, Options{MaxBytes: 800, SegmentBytes: 160})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendN(t, s, 0, 100)
	st := s.Stats()
	if st.Bytes > 800 {
		t.Fatalf("spool grew to %d bytes over its 800 cap", st.Bytes)
	}
	if st.DroppedBatches == 0 || st.DroppedPoints != st.DroppedBatches*10 {
		t.Fatalf("stats %+v: want dropped batches counted with their points", st)
	}
	if int64(st.DroppedBatches)+st.PendingBatches != 100 {
		t.Fatalf("dropped %d + pending %d != 100 appended", st.DroppedBatches, st.PendingBatches)
	}
	// What is left is the newest, in order, contiguous up to the last.
	left := take(t, s, int(st.PendingBatches))
	eq(t, left, want(100-int(st.PendingBatches), int(st.PendingBatches)))
}

func TestTornTailIsCutOff(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 0, 3)
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	var last string
	for _, p := range segs {
		if st, _ := os.Stat(p); st.Size() > 0 {
			last = p
		}
	}
	// Simulate a crash in the middle of the 4th write: half a record.
	f, _ := os.OpenFile(last, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{12, 0, 0, 0, 10, 0, 0, 0, 1, 2, 3})
	f.Close()
	// And flip a payload byte in a copy of a whole record appended after it? No:
	// the tail is cut at the first bad record, which is the torn one.
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	eq(t, take(t, s, 3), want(0, 3))
	if st := s.Stats(); st.PendingBatches != 0 {
		t.Fatalf("torn record counted as pending: %+v", st)
	}
}

func TestCorruptRecordDetected(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, Options{})
	appendN(t, s, 0, 3)
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	for _, p := range segs {
		b, _ := os.ReadFile(p)
		if len(b) == 0 {
			continue
		}
		b[40+28+3] ^= 0xff // inside the 2nd record's payload
		os.WriteFile(p, b, 0o644)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := s.Stats(); st.PendingBatches != 1 {
		t.Fatalf("want only the record before the corrupt one kept, got %+v", st)
	}
	eq(t, take(t, s, 1), want(0, 1))
}

func TestOversizedBatchRefused(t *testing.T) {
	s, _ := Open(t.TempDir(), Options{MaxBytes: 1000})
	defer s.Close()
	if err := s.Append(make([]byte, 900), 1, time.Now(), time.Now()); err == nil {
		t.Fatal("a batch larger than the spool was accepted")
	}
}

func BenchmarkSpoolAppendFsync(b *testing.B)  { benchAppend(b, false) }
func BenchmarkSpoolAppendNoSync(b *testing.B) { benchAppend(b, true) }

func benchAppend(b *testing.B, noSync bool) {
	s, err := Open(b.TempDir(), Options{MaxBytes: 4 << 30, NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := bytes.Repeat([]byte("position,vehicle=v0001 lat=41.3,lon=69.2 1700000000000000000\n"), 2000) // ~2000 points
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Append(payload, 2000, time.Now(), time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*2000/b.Elapsed().Seconds(), "points/s")
}

func BenchmarkSpoolReplay(b *testing.B) {
	s, err := Open(b.TempDir(), Options{MaxBytes: 4 << 30, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := bytes.Repeat([]byte("position,vehicle=v0001 lat=41.3,lon=69.2 1700000000000000000\n"), 2000)
	for i := 0; i < b.N; i++ {
		_ = s.Append(payload, 2000, time.Now(), time.Now())
	}
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := s.Next(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Ack(r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*2000/b.Elapsed().Seconds(), "points/s")
}

// A damaged ack file does not lose data: everything still spooled is
// delivered again (duplicates are harmless downstream).
func TestBadAckFileRedelivers(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, Options{})
	appendN(t, s, 0, 5)
	take(t, s, 2)
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, "ack"), []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	eq(t, take(t, s, 5), want(0, 5))
}

func TestUnusableDir(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := Open(f, Options{}); err == nil || !strings.Contains(err.Error(), f) {
		t.Fatalf("err = %v, want one naming %s", err, f)
	}
}

// A record whose segment is dropped while it is being delivered, and then
// acknowledged, counts as delivered, not lost.
func TestDroppedWhileInFlightThenAcked(t *testing.T) {
	s, _ := Open(t.TempDir(), Options{MaxBytes: 800, SegmentBytes: 160})
	defer s.Close()
	appendN(t, s, 0, 4)
	r, err := s.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 4, 40) // the first segment, holding r, is dropped
	before := s.Stats()
	if err := s.Ack(r); err != nil {
		t.Fatal(err)
	}
	after := s.Stats()
	if after.DroppedPoints != before.DroppedPoints-10 || after.DeliveredPoints != 10 || after.DroppedBatches != before.DroppedBatches-1 {
		t.Fatalf("before %+v\nafter %+v", before, after)
	}
	if int64(after.DroppedBatches)+after.PendingBatches+1 != 44 {
		t.Fatalf("dropped %d + pending %d + delivered 1 != 44", after.DroppedBatches, after.PendingBatches)
	}
}
