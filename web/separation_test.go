package web_test

import (
	"testing"
	"time"

	"github.com/burgut-uav/burgut/app"
	"github.com/burgut-uav/burgut/fleet"
)

// Issue 13's "separation events … on the map": the console draws a
// dashed line between the two drones of a separation episode, amber for
// a warning, red once it is critical, and takes it away when the episode
// is cleared; an observer sees it too. The events are the monitor's
// (their fields as app/separation.go raises them), put into the real
// station's event history, so they travel the real stream; the monitor's
// own raising of them is app's TestSeparationWarnsAndBrakesConvergingDrones.
// The scheduler's pad event (`operation_id`, no episode, no end) draws
// nothing.
func TestSeparationLineOnTheMap(t *testing.T) {
	c := startConsole(t, "separation", 2, 1, func(cfg *app.Config) { cfg.Sim.Demo = false })
	c.login("watcher")
	c.poll("2 vehicles with a position", `[...document.querySelectorAll('#vehicles li[data-vehicle-id]')].filter(li => +li.dataset.lat !== 0).length === 2`, 60*time.Second)
	vs := c.app.Fleet.List()
	if len(vs) != 2 {
		t.Fatalf("%d vehicles", len(vs))
	}
	a, b := vs[0].ID, vs[1].ID
	sep := func(kind fleet.EventKind, sev fleet.Severity, f map[string]any) {
		f["other_vehicle_id"], f["yield_vehicle_id"] = a, b
		c.app.Fleet.Emit(fleet.Event{VehicleID: b, Kind: kind, Severity: sev, Message: b + " and " + a + " predicted close", Fields: f})
	}
	const lines = `document.querySelectorAll('path.sep-line').length`
	sep(fleet.EventSeparation, fleet.SeverityWarning, map[string]any{"level": "warning", "action": "alert", "predicted_distance_m": 20.0})
	c.poll("an amber line for the warning", lines+` === 1 && document.querySelector('path.sep-line').classList.contains('sep-warning')`, 20*time.Second)
	// Between the two markers: a path of two distinct points.
	if ok := eval[bool](c, `(() => { const d = document.querySelector('path.sep-line').getAttribute('d'); const n = d.match(/-?[0-9.]+/g).map(Number); return n.length === 4 && (n[0] !== n[2] || n[1] !== n[3]); })()`); !ok {
		t.Errorf("the line is not a segment between two points: %s", eval[string](c, `document.querySelector('path.sep-line').getAttribute('d')`))
	}
	sep(fleet.EventSeparation, fleet.SeverityCritical, map[string]any{"level": "critical", "action": "alert", "predicted_distance_m": 6.0})
	c.poll("the line red once critical", lines+` === 1 && document.querySelector('path.sep-line').classList.contains('sep-critical')`, 20*time.Second)
	c.shot("critical")
	sep(fleet.EventSeparationCleared, fleet.SeverityInfo, map[string]any{"previous_level": "critical"})
	c.poll("no line once cleared", lines+` === 0`, 20*time.Second)
	sep(fleet.EventSeparation, fleet.SeverityWarning, map[string]any{"level": "warning", "action": "pad_unclear", "operation_id": "op1"})
	c.poll("the pad event in the alert list", `[...document.querySelectorAll('#alerts li[data-kind="separation"]')].length === 3`, 20*time.Second)
	if n := eval[float64](c, lines); n != 0 {
		t.Errorf("a pad event drew %v line(s)", n)
	}
}
