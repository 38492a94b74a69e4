package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// burgutBinary builds the real binary once per test run, so the CLI
// contracts (exit codes, signals, files written) are tested as users see them.
func burgutBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("BURGUT_BENCH_BINARY"); bin != "" { // a bench comparing a build of another commit
		return bin
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "burgut-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "burgut")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("build burgut: %v\n%s", binErr, binPath)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
