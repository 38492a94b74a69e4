package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func appendN(t *testing.T, l *Log, n int) {
	t.Helper()
	for i := range n {
		_, err := l.Append(Entry{Actor: fmt.Sprintf("user%d", i%3), Source: "127.0.0.1:5000",
			Route: "POST /api/v1/commands/{name}", Vehicles: []string{fmt.Sprintf("v%d", i%5)},
			Body: `{"all":true,"note":"<&>"}`, Status: 200, Result: "ok"})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestChainVerifiesAndSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 10)
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second writer: got %v, want ErrLocked", err)
	}
	l.Close()
	l, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Seq() != 10 {
		t.Fatalf("reopened at seq %d, want 10", l.Seq())
	}
	appendN(t, l, 5)
	l.Close()
	n, err := VerifyFile(dir)
	if err != nil || n != 15 {
		t.Fatalf("verify: %d entries, %v; want 15, nil", n, err)
	}
}

func TestConcurrentAppendsKeepTheChain(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); appendN(t, l, 25) }()
	}
	wg.Wait()
	if n, err := VerifyFile(dir); err != nil || n != 200 {
		t.Fatalf("verify: %d entries, %v; want 200, nil", n, err)
	}
}

// Every kind of tampering is found, and the error names the entry.
func TestVerifyNamesTheFirstBadEntry(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 20)
	l.Close()
	orig, err := os.ReadFile(Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(orig, []byte("\n"))
	lines = lines[:len(lines)-1] // the empty remainder after the last newline
	join := func(ls [][]byte) []byte { return bytes.Join(ls, nil) }
	editByte := func(line int) []byte {
		b := bytes.Clone(orig)
		off := len(join(lines[:line-1])) + 20 // inside the entry's JSON
		b[off] ^= 0x01
		return b
	}
	cases := []struct {
		name     string
		file     []byte
		wantLine string
	}{
		{"one byte edited in entry 7", editByte(7), "line 7"},
		{"actor rewritten with a recomputed own hash is still caught by the next entry", rehashed(t, lines, 5, "user1", "mallory"), "line 6"},
		{"entry 12 removed", join(append(append([][]byte{}, lines[:11]...), lines[12:]...)), "line 12"},
		{"entries 3 and 4 swapped", join(append(append(append(append([][]byte{}, lines[:2]...), lines[3]), lines[2]), lines[4:]...)), "line 3"},
		{"torn last line", orig[:len(orig)-5], "line 20"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(bytes.NewReader(c.file))
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a VerifyError", err)
			}
			if !strings.Contains(err.Error(), c.wantLine) {
				t.Fatalf("got %q, want it to name %s", err, c.wantLine)
			}
		})
	}
	if n, err := Verify(bytes.NewReader(orig)); err != nil || n != 20 {
		t.Fatalf("the untouched file: %d, %v", n, err)
	}
}

// rehashed rewrites one entry and recomputes its own hash, as a forger
// without the later entries' cooperation could.
func rehashed(t *testing.T, lines [][]byte, line int, from, to string) []byte {
	t.Helper()
	e, err := parseLine(bytes.TrimSuffix(lines[line-1], []byte("\n")))
	if err != nil {
		t.Fatal(err)
	}
	if e.Actor != from {
		t.Fatalf("entry %d actor %q, want %q", line, e.Actor, from)
	}
	e.Actor, e.Hash = to, ""
	forged, _, err := encode(e)
	if err != nil {
		t.Fatal(err)
	}
	out := append([][]byte{}, lines...)
	out[line-1] = forged
	return bytes.Join(out, nil)
}

func TestTornTailIsMovedAsideAndTheChainContinues(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 3)
	l.Close()
	f, err := os.OpenFile(Path(dir), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":4,"time":"20`)
	f.Close()
	l, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 2)
	l.Close()
	if n, err := VerifyFile(dir); err != nil || n != 5 {
		t.Fatalf("verify: %d, %v; want 5 entries", n, err)
	}
	side, _ := os.ReadDir(dir + "/audit")
	found := false
	for _, d := range side {
		if strings.Contains(d.Name(), ".torn-") {
			b, _ := os.ReadFile(dir + "/audit/" + d.Name())
			found = string(b) == `{"seq":4,"time":"20`
		}
	}
	if !found {
		t.Fatal("the torn tail was not kept in a side file")
	}
}

func TestQueryFilters(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l, err := Open(dir, Options{Now: func() time.Time { now = now.Add(time.Second); return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendN(t, l, 30)
	l.Append(Entry{Actor: "bob", Route: "POST /api/v1/login", Status: 401, Result: "unauthorized"})
	got, err := l.Query(Filter{Actor: "user1"})
	if err != nil || len(got) != 10 {
		t.Fatalf("actor user1: %d entries, %v", len(got), err)
	}
	got, _ = l.Query(Filter{Vehicle: "v2", Limit: 3})
	if len(got) != 3 || got[0].Seq != 3 {
		t.Fatalf("vehicle v2 limit 3: %+v", got)
	}
	got, _ = l.Query(Filter{Result: "unauthorized"})
	if len(got) != 1 || got[0].Actor != "bob" {
		t.Fatalf("result filter: %+v", got)
	}
	got, _ = l.Query(Filter{AfterSeq: 28, Route: "commands"})
	if len(got) != 2 {
		t.Fatalf("after 28: %d", len(got))
	}
	got, _ = l.Query(Filter{Since: time.Date(2026, 12, 1, 12, 0, 10, 0, time.UTC), Until: time.Date(2026, 12, 1, 12, 0, 12, 0, time.UTC)})
	if len(got) != 2 || got[0].Seq != 10 {
		t.Fatalf("time window: %+v", got)
	}
}

func BenchmarkAppend(b *testing.B) {
	l, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := Entry{Actor: "operator1", Source: "127.0.0.1:5000", Route: "POST /api/v1/vehicles/{id}/commands/{name}",
		Vehicles: []string{"sim-1"}, Body: `{"mode":"RTL"}`, BodySHA256: strings.Repeat("a", 64), Status: 200, Result: "ok"}
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.Append(e); err != nil {
			b.Fatal(err)
		}
	}
}

// Appends from many goroutines at once (operators and scripts in
// parallel): the group commit shares fsyncs between them.
func BenchmarkAppendParallel(b *testing.B) {
	l, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := Entry{Actor: "operator1", Source: "127.0.0.1:5000", Route: "POST /api/v1/vehicles/{id}/commands/{name}",
		Vehicles: []string{"sim-1"}, Body: `{"mode":"RTL"}`, BodySHA256: strings.Repeat("a", 64), Status: 200, Result: "ok"}
	b.SetParallelism(8) // 16 appenders on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Append(e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if n, err := VerifyFile(filepath.Dir(filepath.Dir(l.path))); err != nil || uint64(n) != l.Seq() {
		b.Fatalf("chain after the parallel appends: %d entries, %v", n, err)
	}
}

// `burgut audit verify` runs while the station appends: it never reports
// a good log as broken.
func TestVerifyWhileAppending(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		appendN(t, l, 300)
	}()
	checks := 0
	for running := true; running; checks++ {
		select {
		case <-done:
			running = false
		default:
		}
		if _, err := VerifyFile(dir); err != nil {
			t.Fatalf("verify during appends: %v", err)
		}
	}
	if n, err := VerifyFile(dir); err != nil || n != 300 {
		t.Fatalf("after: %d, %v (%d checks)", n, err, checks)
	}
}
