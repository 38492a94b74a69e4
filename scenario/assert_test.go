package scenario

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/telemetry"
)

// checkerWorld is a runner with two vehicles and the assertions of
// yamlAssertions, fed by hand: each checker is tested on the events and
// states that must make it hold or fail.
func checkerWorld(t *testing.T, yamlAssertions string) (*runner, []checker) {
	t.Helper()
	src := "name: checkers\nduration: 1h\nfleet: {vehicles: 2}\nassertions:\n" + yamlAssertions
	sc, err := Parse("checkers.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{sc: sc, ids: []string{"uav-a", "uav-b"}, index: map[string]int{"uav-a": 0, "uav-b": 1},
		states: make([]vstate, 2), seen: []bool{true, true}, flights: make([]telemetry.FlightCounter, 2), flew: make([]bool, 2), res: &Result{}}
	for i := range r.states {
		r.states[i] = vstate{ID: r.ids[i], Lat: 41.3, Lon: 69.2, LandedState: "on_ground", Mode: "STABILIZE", BatteryPct: 90}
	}
	return r, newCheckers(r)
}

func ev(kind string, idx int, t time.Duration, fields map[string]any) tevent {
	e := tevent{event: event{Kind: kind, Fields: fields, Severity: "info"}, T: t, Index: idx}
	if idx >= 0 {
		e.VehicleID = []string{"uav-a", "uav-b"}[idx]
	}
	switch kind {
	case "fence_breach", "failsafe", "coverage_gap":
		e.Severity = "warning"
	}
	return e
}

func step(r *runner, cs []checker, now time.Duration, evs ...tevent) {
	r.now = now
	for _, c := range cs {
		c.observe(r, evs)
	}
}

func finish(r *runner, cs []checker) []Case {
	var out []Case
	for _, c := range cs {
		out = append(out, c.finish(context.Background(), r)...)
	}
	return out
}

func fly(r *runner, i int, mode string, alt float64) {
	v := &r.states[i]
	v.Armed, v.LandedState, v.Mode, v.RelAlt, v.AltMSL = true, "in_air", mode, alt, 455+alt
}

func TestCoverageGapChecker(t *testing.T) {
	r, cs := checkerWorld(t, "  - {kind: coverage_gap, max: 60s, ignore_initial: true}\n")
	if got := finish(r, cs); got[0].OK || !strings.Contains(got[0].Message, "no operation was started") {
		t.Fatalf("without an operation: %+v", got)
	}
	r, cs = checkerWorld(t, "  - {kind: coverage_gap, max: 60s, ignore_initial: true}\n")
	r.operations = []string{"op1"}
	slot := func(s int) map[string]any { return map[string]any{"operation_id": "op1", "slot": float64(s)} }
	ended := func(s int, gap float64) map[string]any {
		return map[string]any{"operation_id": "op1", "slot": float64(s), "action": "gap_ended", "gap_s": gap}
	}
	step(r, cs, 10*time.Second, ev("coverage_gap", 0, 10*time.Second, slot(0)), ev("coverage_gap", 1, 10*time.Second, slot(1)))
	step(r, cs, 90*time.Second, ev("operation", 0, 90*time.Second, ended(0, 80)), ev("operation", 1, 90*time.Second, ended(1, 80)))
	if got := finish(r, cs); !got[0].OK || !strings.Contains(got[0].Message, "no coverage gap (2 initial climb-outs not counted)") {
		t.Fatalf("only initial gaps: %+v", got)
	}
	r, cs = checkerWorld(t, "  - {kind: coverage_gap, max: 60s, ignore_initial: true}\n")
	r.operations = []string{"op1"}
	step(r, cs, 10*time.Second, ev("coverage_gap", 0, 10*time.Second, slot(0)))
	step(r, cs, 40*time.Second, ev("operation", 0, 40*time.Second, ended(0, 30)))
	step(r, cs, 100*time.Second, ev("coverage_gap", 0, 100*time.Second, slot(0)))
	step(r, cs, 190*time.Second, ev("operation", 0, 190*time.Second, ended(0, 90)))
	step(r, cs, 200*time.Second, ev("coverage_gap", 1, 200*time.Second, slot(1))) // never covered: open at the end
	r.now = 230 * time.Second
	got := finish(r, cs)
	if got[0].OK || !strings.Contains(got[0].Message, "slot 0 of operation op1 was uncovered for 1m30s from 01:40, longer than 1m0s (2 gaps in all)") {
		t.Fatalf("a 90 s gap: %+v", got)
	}
}

func TestFenceCheckers(t *testing.T) {
	r, cs := checkerWorld(t, "  - {kind: no_fence_breach, except_injected: true}\n  - {kind: breach_rtl, within: 10s}\n")
	fly(r, 0, "AUTO", 40)
	fly(r, 1, "AUTO", 50)
	gust := &Fault{Kind: FaultGust, For: Duration{10 * time.Second}}
	r.faultLog = []firedFault{{Fault: gust, Index: 0, T: 50 * time.Second}}
	step(r, cs, 65*time.Second, ev("fence_breach", 0, 65*time.Second, nil), ev("fence_breach", 1, 65*time.Second, nil))
	r.states[0].Mode = "RTL"
	step(r, cs, 70*time.Second)
	step(r, cs, 80*time.Second) // vehicle 1 still in AUTO 15 s after its breach
	got := finish(r, cs)
	want := []struct {
		ok  bool
		msg string
	}{
		{true, "1 breach(es), each after an injected fault"},
		{false, "vehicle 1 (uav-b) breached its fence at 01:05"},
		{true, "breach at 01:05, RTL by 01:10"},
		{false, "vehicle 1 (uav-b) breached its fence at 01:05 and was not in RTL within 10s (at 01:20: mode AUTO"},
	}
	if len(got) != len(want) {
		t.Fatalf("cases %+v", got)
	}
	for i, w := range want {
		if got[i].OK != w.ok || !strings.Contains(got[i].Message, w.msg) {
			t.Errorf("case %d: %+v, want ok=%v %q", i, got[i], w.ok, w.msg)
		}
	}
	// require_breach fails a run without any.
	r, cs = checkerWorld(t, "  - {kind: breach_rtl, within: 10s, require_breach: true}\n")
	if got := finish(r, cs); len(got) != 1 || got[0].OK || !strings.Contains(got[0].Message, "no fence breach happened") {
		t.Fatalf("require_breach: %+v", got)
	}
}

func TestStateCheckers(t *testing.T) {
	r, cs := checkerWorld(t, `  - {kind: all_landed, by: 100s}
  - {kind: min_separation, meters: 5}
  - {kind: vehicle_state, field: battery_pct, min: 20}
  - {kind: alert_after_fault, within: 10s}
`)
	fly(r, 0, "AUTO", 40)
	fly(r, 1, "AUTO", 40)
	r.states[1].Lat += 3 / 111320.0 // 3 m north of vehicle 0
	step(r, cs, 30*time.Second)
	r.states[0].BatteryPct = 15
	r.faultLog = []firedFault{{Fault: &Fault{Kind: FaultGPSLoss}, Index: 0, T: 40 * time.Second}, {Fault: &Fault{Kind: FaultBatteryDrop}, Index: 1, T: 40 * time.Second}}
	step(r, cs, 45*time.Second, ev("failsafe", 0, 45*time.Second, nil), ev("statustext", 1, 45*time.Second, nil))
	r.states[0] = vstate{ID: "uav-a", LandedState: "on_ground", Mode: "LAND"}
	step(r, cs, 100*time.Second)
	got := finish(r, cs)
	want := []struct {
		ok  bool
		msg string
	}{
		{true, "landed and disarmed"},
		{false, "vehicle 1 (uav-b) not landed and disarmed at 01:40 (by 01:40): mode AUTO, armed, 40.0 m above home"},
		{false, "vehicle 0 (uav-a) and vehicle 1 (uav-b) came within 3.0 m of each other at 00:30 (minimum 5 m)"},
		{false, "vehicle 0 (uav-a) at 00:45: battery_pct 15, want at least 20"},
		{true, "held while airborne"},
		{true, "alert 5s after the fault"},
		{false, "battery_drop on vehicle 1 (uav-b) at 00:40: no alert within 10s"},
	}
	if len(got) != len(want) {
		t.Fatalf("cases %+v", got)
	}
	for i, w := range want {
		if got[i].OK != w.ok || !strings.Contains(got[i].Message, w.msg) {
			t.Errorf("case %d: %+v\nwant ok=%v %q", i, got[i], w.ok, w.msg)
		}
	}
}

// alert_after_fault counts the alert rehearsal.FirstAlerts calls the
// fault's: of a kind the fault's kind raises, and before the next fault on
// the same vehicle — not any alert that happens to follow.
func TestAlertAfterFaultUsesRehearsalDefinition(t *testing.T) {
	r, cs := checkerWorld(t, "  - {kind: alert_after_fault, within: 10s}\n")
	warn := func(kind string, idx int, at time.Duration) tevent {
		e := ev(kind, idx, at, nil)
		e.Severity = "warning"
		return e
	}
	r.faultLog = []firedFault{
		{Fault: &Fault{Kind: FaultGPSLoss}, Index: 0, T: 40 * time.Second},
		{Fault: &Fault{Kind: FaultLinkDown}, Index: 1, T: 40 * time.Second},
		{Fault: &Fault{Kind: FaultLinkDown}, Index: 1, T: 60 * time.Second},
		{Fault: &Fault{Kind: FaultGust}, Index: 0, T: 70 * time.Second},
	}
	// A separation warning is no GPS-loss alert; the failsafe is.
	step(r, cs, 42*time.Second, warn("separation", 0, 42*time.Second))
	step(r, cs, 48*time.Second, warn("failsafe", 0, 48*time.Second))
	// The first link_down on vehicle 1 raised nothing before the second
	// one hit the same vehicle; the link_lost belongs to the second.
	step(r, cs, 65*time.Second, warn("link_lost", 1, 65*time.Second))
	// A gust accepts any alert.
	step(r, cs, 71*time.Second, warn("fence_breach", 0, 71*time.Second))
	got := finish(r, cs)
	want := []struct {
		ok  bool
		msg string
	}{
		{true, "failsafe alert 8s after the fault"},
		{false, "link_down on vehicle 1 (uav-b) at 00:40: no alert within 10s (none of link_lost after it, before the next fault on it)"},
		{true, "link_lost alert 5s after the fault"},
		{true, "fence_breach alert 1s after the fault"},
	}
	if len(got) != len(want) {
		t.Fatalf("cases %+v", got)
	}
	for i, w := range want {
		if got[i].OK != w.ok || !strings.Contains(got[i].Message, w.msg) {
			t.Errorf("case %d: %+v\nwant ok=%v %q", i, got[i], w.ok, w.msg)
		}
	}
}

// TestFlightsCountedLikeTheStore: the runner counts flights from the
// polled states and the armed/disarmed events in the order observe takes
// them (a tick's poll, then the events since the last tick). A vehicle
// that armed, disarmed on the ground and was armed again between two
// polls looks armed-and-still-armed to the polls alone; with the events
// it flew two flights, as telemetry.MakeFlights splits the store's
// samples of the same arm states — the square-patrol-link-storm failure
// ("flew 1 flight(s); the store holds 2").
func TestFlightsCountedLikeTheStore(t *testing.T) {
	r, _ := checkerWorld(t, "  - {kind: telemetry_stored}\n")
	type tick struct {
		poll   bool   // the arm state the poll shows
		events []bool // the armed (true) / disarmed (false) events since the last tick
	}
	ticks := []tick{
		{poll: false},
		// armed before the poll, disarmed after it, armed again before the next poll
		{poll: true, events: []bool{true, false}},
		{poll: true, events: []bool{true}},
		{poll: true},
		// landed: disarmed before the poll
		{poll: false, events: []bool{false}},
	}
	var states []bool // the station's arm states in order, as the store records them
	for _, tk := range ticks {
		r.seeArmed(0, tk.poll)
		for _, a := range tk.events {
			r.seeArmed(0, a)
			states = append(states, a)
		}
	}
	var ss []telemetry.Sample
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for k, a := range append([]bool{false}, states...) {
		ss = append(ss, telemetry.Sample{Time: t0.Add(time.Duration(k) * time.Second), Vehicle: "uav-a", Armed: a})
	}
	stored := len(telemetry.MakeFlights("uav-a", ss))
	if got := r.flights[0].Flights(); got != 2 || stored != 2 || !r.flew[0] {
		t.Fatalf("runner counted %d flights (flew %v), the store's definition %d; want 2 and 2", got, r.flew[0], stored)
	}
	if r.flights[1].Flights() != 0 || r.flew[1] {
		t.Fatalf("vehicle 1 never armed but counted %d flights", r.flights[1].Flights())
	}
	// Polls alone (the old count) see one flight.
	var polls telemetry.FlightCounter
	for _, tk := range ticks {
		polls.See(tk.poll)
	}
	if polls.Flights() != 1 {
		t.Fatalf("the polls alone counted %d flights; the test no longer shows what they miss", polls.Flights())
	}
}

// TestStepsRunAtRealTime: while a step's API calls are in flight the
// simulated world runs at real time, and at the speedup again after the
// step, failed or not; a scenario with an operation (whose station-side
// clock runs at the speedup) keeps the speedup throughout.
func TestStepsRunAtRealTime(t *testing.T) {
	sim, err := simulator.New(simulator.Config{Vehicles: 1, GCS: []string{"udp:127.0.0.1:9"}, Speedup: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	r, _ := checkerWorld(t, "  - {kind: telemetry_stored}\n")
	r.sim, r.speedup = sim, 50
	var during float64
	for _, fail := range []bool{false, true} {
		_, err := r.realTime(func() (string, error) {
			during = sim.Speedup()
			if fail {
				return "", errors.New("refused")
			}
			return "ok", nil
		})
		if (err != nil) != fail || during != 1 || sim.Speedup() != 50 || r.rateNow() != 50 {
			t.Fatalf("failing step %v: err %v, speedup %g during the step and %g after, want 1 and 50", fail, err, during, sim.Speedup())
		}
	}
	r.sc.Steps = append(r.sc.Steps, Step{Name: "op", Operation: &OperationStep{}})
	_, _ = r.realTime(func() (string, error) { during = sim.Speedup(); return "", nil })
	if during != 50 {
		t.Fatalf("with an operation the step ran at speedup %g, want 50", during)
	}
	if err := sim.SetSpeedup(0); err == nil || sim.Speedup() != 50 {
		t.Fatalf("SetSpeedup(0) accepted (err %v, speedup %g)", err, sim.Speedup())
	}
}
