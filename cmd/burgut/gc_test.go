package main

import (
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
)

// serve's GC target applies only when the environment sets none: GOGC
// given by the user wins.
func TestServeGCDefaultYieldsToGOGC(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)

	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50) // what the runtime read from GOGC=50 at start
	if got := applyGCDefault(log); got != 50 {
		t.Fatalf("with GOGC=50 in the environment: GOGC %d in force, want 50", got)
	}
	if got := debug.SetGCPercent(50); got != 50 {
		t.Fatalf("with GOGC=50 in the environment the target was changed to %d", got)
	}
}

func TestServeGCDefaultWithoutGOGC(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	t.Setenv("GOGC", "") // registers the restore
	if err := os.Unsetenv("GOGC"); err != nil {
		t.Fatal(err)
	}
	if got := applyGCDefault(log); got != serveGCPercent {
		t.Fatalf("without GOGC: %d in force, want %d", got, serveGCPercent)
	}
	if got := debug.SetGCPercent(100); got != serveGCPercent {
		t.Fatalf("without GOGC the runtime's target is %d, want %d", got, serveGCPercent)
	}
}

// serve's Go processors follow GOMAXPROCS when the user sets it, and are
// serveProcsPerCPU times Go's default otherwise.
func TestServeProcsDefault(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)

	t.Setenv("GOMAXPROCS", "3")
	runtime.GOMAXPROCS(3) // what the runtime read from GOMAXPROCS=3 at start
	if got := applyProcsDefault(log); got != 3 || runtime.GOMAXPROCS(0) != 3 {
		t.Fatalf("with GOMAXPROCS=3 in the environment: %d in force (returned %d), want 3", runtime.GOMAXPROCS(0), got)
	}

	if err := os.Unsetenv("GOMAXPROCS"); err != nil {
		t.Fatal(err)
	}
	runtime.SetDefaultGOMAXPROCS()
	want := serveProcsPerCPU * runtime.GOMAXPROCS(0) // of Go's default
	// Serve may run more than once in a process (the tests run it in
	// process): each time from Go's default, not from what the last set.
	for i := range 3 {
		if got := applyProcsDefault(log); got != want || runtime.GOMAXPROCS(0) != want {
			t.Fatalf("without GOMAXPROCS, run %d: %d in force (returned %d), want %d", i+1, runtime.GOMAXPROCS(0), got, want)
		}
	}
}
