package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/app"
)

func runFile(t *testing.T, path string, o Options) *Result {
	t.Helper()
	sc, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := Run(ctx, sc, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func outcome(r *Result) string {
	var b strings.Builder
	for _, c := range r.Cases {
		fmt.Fprintf(&b, "%s ok=%v\n", c.Name(), c.OK)
	}
	for _, e := range r.Timeline {
		if e.Kind == EntryFault || e.Kind == EntryStep {
			fmt.Fprintf(&b, "%s %s ok=%v\n", e.Kind, e.Name, e.OK)
		}
	}
	return b.String()
}

// A scenario whose assertion cannot hold fails, and the JUnit failure says
// what, which vehicle and when.
func TestFailingAssertionFails(t *testing.T) {
	res := runFile(t, "testdata/failing.yaml", Options{})
	if res.Passed() {
		t.Fatalf("passed:\n%s", outcome(res))
	}
	var low *Case
	for i := range res.Cases {
		c := &res.Cases[i]
		switch c.Assertion {
		case "stays low":
			low = c
		case "all_landed":
			if !c.OK {
				t.Errorf("all_landed failed: %s", c.Message)
			}
		}
		if c.Kind == "step" && !c.OK {
			t.Errorf("step failed: %s", c.Message)
		}
	}
	if !strings.Contains(outcome(res), "step rally for vehicle 0 (line 23) ok=true") {
		t.Errorf("the rally upload step did not succeed:\n%s", outcome(res))
	}
	if low == nil || low.OK || low.Vehicle != res.Vehicles[1] {
		t.Fatalf("stays low: %+v", low)
	}
	for _, want := range []string{"stays low (line 31)", "vehicle 1 (" + res.Vehicles[1] + ") at ", "relative_alt_m", "want below 10"} {
		if !strings.Contains(low.Message, want) {
			t.Errorf("message %q does not contain %q", low.Message, want)
		}
	}
	var junit bytes.Buffer
	if err := WriteJUnit(&junit, res); err != nil {
		t.Fatal(err)
	}
	x := junit.String()
	if !strings.Contains(x, `<testcase name="stays low [`+res.Vehicles[1]+`]"`) || !strings.Contains(x, `<failure message="stays low (line 31): vehicle 1 (`) ||
		!strings.Contains(x, `failures="1"`) {
		t.Fatalf("junit:\n%s", x)
	}
}

// The same seed gives the same result: the same vehicles, the same
// outcome of every assertion, the same steps and faults in the same order.
// Another seed gives other vehicles (their UIDs come from the seed).
func TestSameSeedSameResult(t *testing.T) {
	a := runFile(t, "testdata/short.yaml", Options{})
	b := runFile(t, "testdata/short.yaml", Options{})
	if !a.Passed() {
		t.Fatalf("short scenario failed:\n%s", outcome(a))
	}
	if oa, ob := outcome(a), outcome(b); oa != ob || fmt.Sprint(a.Vehicles) != fmt.Sprint(b.Vehicles) {
		t.Fatalf("two runs with seed %d differ:\n%s %v\n---\n%s %v", a.Seed, oa, a.Vehicles, ob, b.Vehicles)
	}
	for _, want := range []string{"fault gps_loss ok=true", "step slow the first up ok=true", "step raise RTL altitude of the failing one ok=true"} {
		if !strings.Contains(outcome(a), want) {
			t.Fatalf("%q missing:\n%s", want, outcome(a))
		}
	}
	// The when/after steps acted on the vehicle that fired them.
	for _, e := range a.Timeline {
		if e.Kind == EntryStep && strings.HasPrefix(e.Name, "slow") && e.Text != "command speed accepted by 1 vehicles" ||
			e.Kind == EntryStep && strings.HasPrefix(e.Name, "raise") && e.Text != "RTL_ALT=3000 set on 1 vehicles" {
			t.Errorf("step %s: %s", e.Name, e.Text)
		}
	}
	c := runFile(t, "testdata/short.yaml", Options{Seed: 99, Speedup: 60})
	if c.Seed != 99 || c.Speedup != 60 || fmt.Sprint(c.Vehicles) == fmt.Sprint(a.Vehicles) {
		t.Fatalf("seed 99 run: seed %d speedup %g vehicles %v (seed 7: %v)", c.Seed, c.Speedup, c.Vehicles, a.Vehicles)
	}
}

// Against a station that is already running (--station URL --token), the
// simulated fleet sends to its MAVLink link and every step goes through
// its API with the operator token given.
func TestRunAgainstStationURL(t *testing.T) {
	ctx := context.Background()
	st, err := startInProcess(ctx, t.TempDir(), nil, 40, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.stop()
	o := Options{StationURL: st.base, Token: st.token, SimGCS: st.cfg.GroundStation.MAVLink[0]}
	sc, err := ParseFile("testdata/short.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Signing keys need an admin: an operator's token is refused, named.
	if _, err := Run(ctx, sc, o); err == nil || !strings.Contains(err.Error(), "fleet.signing: key for vehicle 0") || !strings.Contains(err.Error(), "HTTP 403") {
		t.Fatalf("signing with an operator token: %v", err)
	}
	sc.Fleet.Signing = false
	sc.Assertions = slices.DeleteFunc(sc.Assertions, func(a Assertion) bool { return a.Name == "still signed" })
	res, err := Run(ctx, sc, o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() {
		t.Fatalf("against --station:\n%s", outcome(res))
	}
	if res.DataDir != "" {
		t.Fatalf("a run against --station reported a data dir %q", res.DataDir)
	}
	// A station restart cannot be made through a URL: refused before flying.
	sc, err = ParseFile("../scenarios/station-restart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, sc, Options{StationURL: st.base, Token: st.token}); err == nil || !strings.Contains(err.Error(), "station-restart.yaml:34:11: fault restart: station_restart restarts the station the run started itself") ||
		!strings.Contains(err.Error(), "not the run's to restart") {
		t.Fatalf("restart against --station: %v", err)
	}
}

// fleet.video makes every camera stream to the station (ffmpeg needed).
func TestFleetVideo(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed (Debian's ffmpeg package)")
	}
	res := runFile(t, "testdata/video.yaml", Options{})
	if !res.Passed() || len(res.Cases) != 2 {
		t.Fatalf("video:\n%s", outcome(res))
	}
}

// Ctrl-C while the station is restarting: the run waits for the restart
// to finish, stops everything and returns what it saw, marked interrupted.
func TestInterruptDuringRestart(t *testing.T) {
	sc, err := ParseFile("../scenarios/station-restart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := Run(ctx, sc, Options{Progress: func(p Progress) {
		if p.Restarting {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || res == nil || res.EndReason != "interrupted" || len(res.Cases) == 0 || res.Passed() {
		t.Fatalf("err %v, result %+v", err, res)
	}
	restarted := false
	for _, e := range res.Timeline {
		restarted = restarted || e.Kind == EntryFault && e.Name == FaultStationRestart
	}
	if !restarted {
		t.Fatalf("the restart's end is not in the timeline:\n%s", outcome(res))
	}
}

// The launch step sequences a shared pad at the station's own clearance
// (GET /api/v1/separation, its --separation-warn), not the default 30 m:
// two homes 40 m apart are two pads for a default station (launched
// together) and one pad for a station that warns at 50 m (the second
// waits for the first to get 50 m away).
func TestLaunchUsesTheStationsPadClearance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	area, err := filepath.Abs("../scenarios/areas/square.geojson")
	if err != nil {
		t.Fatal(err)
	}
	const lat, lon = 41.3123, 69.2716
	east := 40 / (111320 * math.Cos(lat*math.Pi/180))
	src := fmt.Sprintf(`name: pad clearance
seed: 3
duration: 2m
fleet:
  vehicles: 2
  homes: [{lat: %v, lon: %v}, {lat: %v, lon: %v}]
world:
  speedup: 40
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
assertions:
  - kind: min_separation
    meters: 3
`, lat, lon, lat, lon+east, area)
	launchText := func(o Options) string {
		t.Helper()
		sc, err := Parse("pad.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Run(ctx, sc, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Timeline {
			if e.Kind == EntryStep && e.Name == "launch" {
				if !e.OK {
					t.Fatalf("launch failed: %s", e.Text)
				}
				return e.Text
			}
		}
		t.Fatalf("no launch step:\n%s", outcome(res))
		return ""
	}
	if txt := launchText(Options{}); strings.Contains(txt, "for its pad to clear") {
		t.Fatalf("default station (30 m): homes 40 m apart were sequenced: %s", txt)
	}
	st, err := startInProcess(ctx, t.TempDir(), nil, 40, io.Discard, func(c *app.Config) { c.Separation.Warn = 50 })
	if err != nil {
		t.Fatal(err)
	}
	defer st.stop()
	txt := launchText(Options{StationURL: st.base, Token: st.token, SimGCS: st.cfg.GroundStation.MAVLink[0]})
	if strings.Count(txt, "for its pad to clear") != 1 {
		t.Fatalf("station warning at 50 m: homes 40 m apart not sequenced as one pad: %s", txt)
	}
}
