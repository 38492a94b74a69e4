// Package testenv gives tests the real services and shared data the
// Makefile prepares, and decides whether their absence skips or fails.
//
// `make test` starts InfluxDB, Mosquitto and finds Chromium, exports their
// addresses (BURGUT_TEST_*), and sets BURGUT_TEST_REQUIRE_SERVICES=1 so a
// missing service fails the run instead of silently skipping. A plain
// `go test ./...` without the Makefile skips those tests with a message.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Service returns the value of the environment variable that names a
// service's address (e.g. BURGUT_TEST_INFLUX_URL). When it is unset the
// test is skipped, or failed under `make test`.
func Service(t testing.TB, envVar string) string {
	t.Helper()
	if v := os.Getenv(envVar); v != "" {
		return v
	}
	if os.Getenv("BURGUT_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is not set although make test should have started that service (see scripts/services.sh)", envVar)
	}
	t.Skipf("%s not set: run through 'make test' to start the real service", envVar)
	return ""
}

// RepoRoot returns the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// Shared returns the path of a file or directory under ../shared/ (beside
// the repository), skipping the test when it is absent: a fresh clone has
// no shared/ folder.
func Shared(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "..", "shared", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared material %s not present (%v); skipping", rel, err)
	}
	return p
}

// Eventually polls cond every 20 ms until it holds, failing the test with
// what after within. The deadline only bounds a failing test; it is not a
// performance assertion. cond may call t.Fatal.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
