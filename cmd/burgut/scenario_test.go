package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// validate names file:line:column for each problem and exits 1; a good
// file exits 0.
func TestScenarioValidateNamesTheLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: x\nduration: 1m\nfleet: {vehicles: 2}\nassertions:\n  - kind: all_landed\n    bye: 1m\n  - kind: min_separation\n    meters: -1\n"), 0o644)
	_, e, code := runBurgut(t, "scenario", "validate", bad)
	if code != 1 || !strings.Contains(e, bad+":6:5: unknown field \"bye\"") {
		t.Fatalf("exit %d, stderr:\n%s", code, e)
	}
	os.WriteFile(bad, []byte("name: x\nduration: 1m\nfleet: {vehicles: 2}\nassertions:\n  - kind: all_landed\n    by: 1m\n  - kind: min_separation\n    meters: -1\n"), 0o644)
	if _, e, code := runBurgut(t, "scenario", "validate", bad); code != 1 || !strings.Contains(e, bad+":7:5: assertion min_separation: min_separation needs meters") {
		t.Fatalf("exit %d, stderr:\n%s", code, e)
	}
	if _, e, code := runBurgut(t, "scenario", "run", bad); code != 1 || !strings.Contains(e, bad+":7:5:") {
		t.Fatalf("run of a bad file: exit %d, stderr:\n%s", code, e)
	}
	// With --junit, a bad file leaves a failing JUnit file naming the
	// line, replacing one a previous run left.
	junit := filepath.Join(dir, "out.xml")
	os.WriteFile(junit, []byte(`<testsuites failures="0"></testsuites>`), 0o644)
	if _, _, code := runBurgut(t, "scenario", "run", bad, "--junit", junit); code != 1 {
		t.Fatalf("run --junit of a bad file: exit %d", code)
	}
	if x, err := os.ReadFile(junit); err != nil || !strings.Contains(string(x), `failures="1"`) || !strings.Contains(string(x), "the scenario file is invalid: "+bad+":7:5:") {
		t.Fatalf("junit of a bad file: %v\n%s", err, x)
	}
	if o, e, code := runBurgut(t, "scenario", "validate", "../../scenario/testdata/short.yaml"); code != 0 || !strings.Contains(o, "ok") {
		t.Fatalf("good file: exit %d\n%s%s", code, o, e)
	}
	// A station_restart cannot run against a station given by URL: validate
	// --station and run --station both name the fault's line (run before
	// contacting anything).
	restart := "../../scenarios/station-restart.yaml"
	if o, e, code := runBurgut(t, "scenario", "validate", restart); code != 0 {
		t.Fatalf("station-restart.yaml without --station: exit %d\n%s%s", code, o, e)
	}
	for _, args := range [][]string{
		{"scenario", "validate", "--station", "http://127.0.0.1:1", restart},
		{"scenario", "run", restart, "--station", "http://127.0.0.1:1", "--token", "t"},
	} {
		if _, e, code := runBurgut(t, args...); code != 1 || !strings.Contains(e, restart+":34:11: fault restart: station_restart restarts the station the run started itself") {
			t.Fatalf("burgut %s: exit %d, stderr:\n%s", strings.Join(args, " "), code, e)
		}
	}
	if _, _, code := runBurgut(t, "scenario", "frobnicate"); code != 2 {
		t.Fatalf("unknown subcommand: exit %d", code)
	}
}

// A scenario whose assertion cannot hold exits 1 and its JUnit file
// carries the failure: what, which vehicle, when.
func TestScenarioRunFailingExitsNonZero(t *testing.T) {
	dir := t.TempDir()
	out, html := filepath.Join(dir, "out.xml"), filepath.Join(dir, "report.html")
	o, e, code := runBurgut(t, "scenario", "run", "../../scenario/testdata/failing.yaml", "--junit", out, "--report", html, "--speedup", "40")
	if code != 1 || !strings.Contains(e, "did not hold") || !strings.Contains(o, "FAIL stays low [") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, o, e)
	}
	x, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(x), `<failure message="stays low (line 31): vehicle 1 (uav-`) || !strings.Contains(string(x), "want below 10") {
		t.Fatalf("junit:\n%s", x)
	}
	// The HTML report (scenario/report) shows the failed assertion.
	h, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(h), "<html") || !strings.Contains(string(h), "stays low (line 31): vehicle 1 (uav-") {
		t.Fatalf("report does not show the failure (%d bytes)", len(h))
	}
}

// The same scenario flies external vehicles: `burgut sitl` started on its
// own, the in-process station on the scenario's links — the station's
// UDP link the simulator sends to, or (as against ArduPilot's SITL on
// tcp:127.0.0.1:5760) one TCP link per vehicle the station dials, the
// simulator serving vehicle i on base+10·i like ArduPilot's.
func TestScenarioAgainstExternalSITL(t *testing.T) {
	t.Run("udp", func(t *testing.T) {
		port := testenv.FreeUDPPort(t)
		flyExternal(t, []string{"--gcs", fmt.Sprintf("udp:127.0.0.1:%d", port)}, fmt.Sprintf("udp:127.0.0.1:%d", port))
	})
	t.Run("tcp", func(t *testing.T) {
		base := freeTCPPair(t)
		// Nothing listens on the simulator's UDP station address: the
		// vehicles are reached over TCP only.
		flyExternal(t, []string{"--gcs", fmt.Sprintf("udp:127.0.0.1:%d", testenv.FreeUDPPort(t)), "--tcp-base", fmt.Sprint(base)},
			fmt.Sprintf("tcp:127.0.0.1:%d", base), fmt.Sprintf("tcp:127.0.0.1:%d", base+10))
	})
}

// freeTCPPair is a free loopback TCP port p with p+10 free too (the
// simulator's second vehicle).
func freeTCPPair(t *testing.T) int {
	t.Helper()
	for range 50 {
		p := testenv.FreeTCPPort(t)
		if l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p+10)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free TCP ports p and p+10")
	return 0
}

// flyExternal starts `burgut sitl` with two vehicles and sitlArgs, and
// runs a patrol scenario whose fleet is links.
func flyExternal(t *testing.T, sitlArgs []string, links ...string) {
	bin := burgutBinary(t)
	ctx, cancel := context.WithCancel(context.Background())
	sitl := exec.CommandContext(ctx, bin, append([]string{"sitl", "--vehicles", "2", "--speedup", "20", "--seed", "5", "--log-level", "error"}, sitlArgs...)...)
	sitl.Cancel = func() error { return sitl.Process.Signal(os.Interrupt) }
	sitl.WaitDelay = 10 * time.Second
	if err := sitl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		sitl.Wait()
	})
	area, err := filepath.Abs("../../scenarios/areas/square.geojson")
	if err != nil {
		t.Fatal(err)
	}
	quoted := make([]string, len(links))
	for i, l := range links {
		quoted[i] = strconv.Quote(l)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "external.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf(`name: external sitl
duration: 6m
fleet:
  links: [%s]
  expect: 2
world:
  speedup: 20
  areas:
    - {name: square, file: %q}
steps:
  - at: 0s
    plan: {area: square, as: patrol, pattern: perimeter, drones: 2, repeat: 1, speed: 8}
  - at: 1s
    name: assign
    assign: {plan: patrol, vehicles: all}
  - after: {step: assign}
    name: launch
    launch: {vehicles: all}
  - after: {step: launch, delay: 30s}
    command: {name: rtl, vehicles: all}
assertions:
  - kind: all_landed
    by: 5m
  - kind: vehicle_state
    field: battery_pct
    min: 20
    during: always
`, strings.Join(quoted, ", "), area)), 0o644)
	out := filepath.Join(dir, "out.xml")
	o, e, code := runBurgut(t, "scenario", "run", file, "--junit", out, "--progress", "on")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, o, e)
	}
	// The progress line: rewritten in place, simulated time, airborne
	// vehicles, assertions so far.
	if !strings.Contains(e, "\r\033[Kt=00:") || !strings.Contains(e, "airborne 2/2") || !strings.Contains(e, "assertions: 2 holding, 0 failed") {
		t.Fatalf("progress on stderr:\n%q", e)
	}
	x, _ := os.ReadFile(out)
	if !strings.Contains(string(x), `failures="0"`) || strings.Count(string(x), "<testcase ") != 2+2+4 {
		t.Fatalf("junit:\n%s", x)
	}
}

// A scenario that cannot be run (its external vehicles never appear)
// exits 1 and still leaves a JUnit file that says why, for CI.
func TestScenarioRunNotReadyWritesJUnit(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "nobody.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf("name: nobody home\nduration: 1m\nfleet:\n  links: [\"udp:127.0.0.1:%d\"]\n  expect: 1\n  ready_timeout: 2s\nassertions:\n  - kind: all_landed\n    by: 1m\n", testenv.FreeUDPPort(t))), 0o644)
	out := filepath.Join(dir, "out.xml")
	_, e, code := runBurgut(t, "scenario", "run", file, "--junit", out)
	if code != 1 || !strings.Contains(e, "fleet not ready after 2s: 0 of 1 vehicles") {
		t.Fatalf("exit %d, stderr:\n%s", code, e)
	}
	x, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(x), `<testcase name="run"`) || !strings.Contains(string(x), "could not be run: fleet not ready") {
		t.Fatalf("junit:\n%s", x)
	}
}

// --station takes its operator token from --token, --token-file or
// $BURGUT_TOKEN (the two last keep it out of ps and shell history): each
// reaches the station as the bearer token. The station here only
// records the credential and refuses it.
func TestScenarioRunStationTokenSources(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		http.Error(w, `{"error":{"code":"unauthorized","message":"no"}}`, http.StatusUnauthorized)
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(file, []byte("from-file\n"), 0o600)
	sc := "../../scenario/testdata/short.yaml"
	run := func(env string, args ...string) (string, int) {
		t.Helper()
		mu.Lock()
		seen = nil
		mu.Unlock()
		cmd := exec.Command(burgutBinary(t), append([]string{"scenario", "run", sc, "--station", srv.URL, "--progress", "off"}, args...)...)
		cmd.Env = append(os.Environ(), "BURGUT_TOKEN="+env)
		var e strings.Builder
		cmd.Stderr = &e
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			return "(nothing reached the station) " + e.String(), code
		}
		return seen[0], code
	}
	for _, c := range []struct {
		env  string
		args []string
		want string
	}{
		{"", []string{"--token", "flag"}, "Bearer flag"},
		{"env", []string{"--token", "flag"}, "Bearer flag"},
		{"env", []string{"--token-file", file}, "Bearer from-file"},
		{"env", nil, "Bearer env"},
	} {
		if got, code := run(c.env, c.args...); got != c.want || code != 1 {
			t.Errorf("BURGUT_TOKEN=%q %v: station saw %q (exit %d), want %q", c.env, c.args, got, code, c.want)
		}
	}
	// A refused token ends the run at once, saying so, rather than after
	// the fleet's ready timeout.
	cmd := exec.Command(burgutBinary(t), "scenario", "run", sc, "--station", srv.URL, "--token", "bad", "--progress", "off")
	var e strings.Builder
	cmd.Stderr = &e
	if err := cmd.Run(); err == nil || !strings.Contains(e.String(), "the station refused the run's token") || strings.Contains(e.String(), "not ready after") {
		t.Errorf("refused token: %v\n%s", err, e.String())
	}
	if got, code := run("", "--token-file", filepath.Join(t.TempDir(), "missing")); code != 2 && code != 1 || !strings.Contains(got, "--token-file") {
		t.Errorf("missing token file: exit %d, %s", code, got)
	}
	if got, code := run(""); code == 0 || !strings.Contains(got, "--station needs --token") {
		t.Errorf("no token at all: exit %d, %s", code, got)
	}
}
