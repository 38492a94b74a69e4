package web_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/burgut-uav/burgut/app"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// opsHome is where the operation test's fleet is parked, and opsSquare
// an event area around it with the launch pad on home.
const opsHome = "41.3111,69.2797"

func opsSquare(lat, lon, halfM float64) string {
	dLat, dLon := halfM/111320, halfM/(111320*math.Cos(lat*math.Pi/180))
	ring := fmt.Sprintf("[[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f]]",
		lon-dLon, lat-dLat, lon+dLon, lat-dLat, lon+dLon, lat+dLat, lon-dLon, lat+dLat, lon-dLon, lat-dLat)
	return fmt.Sprintf(`{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"kind":"event-area","name":"Ops test square","min_alt_m":30,"max_alt_m":80},"geometry":{"type":"Polygon","coordinates":[%s]}},
 {"type":"Feature","properties":{"kind":"launch","name":"Pad","radius_m":30},"geometry":{"type":"Point","coordinates":[%.7f,%.7f]}}]}`, ring, lon, lat)
}

// Issue 13's console part in Chromium: an operator creates a patrol
// operation from the Operations tab (1 slot, a pool of 3 simulated drones
// of short endurance, the clock 60 times faster), pauses and resumes it,
// sees on the slot's timeline the drones on station one after the other
// with the handover between them, a failed drone's replacement and the
// gap it left (uncovered seconds as the station counts them); an observer
// sees the same operation read-only and its forged stop is refused; the
// crew marks the failed drone ready; the operator stops it, then schedules
// a second one an hour ahead and starts it at once. Screenshots: artifacts/ops-*.png.
func TestConsoleOperations(t *testing.T) {
	const speedup = 60
	c := startConsole(t, "ops", 3, speedup, func(cfg *app.Config) {
		cfg.Sim.Demo = false
		cfg.Sim.Home = opsHome
		cfg.Sim.EnduranceMin = 8
		cfg.Sim.SwapMin = 1
		cfg.Sim.Spread = 20
		cfg.Operations.TimeScale = speedup
	})
	c.login("pilot")
	c.poll("3 vehicles with a position", `[...document.querySelectorAll('#vehicles li[data-vehicle-id]')].filter(li => +li.dataset.lat !== 0).length === 3`, 60*time.Second)
	eval[bool](c, pageJS)
	res := eval[string](c, fmt.Sprintf(`(async () => { const s = await (await fetch('/api/v1/session')).json();
		const r = await fetch('/api/v1/areas', {method: 'POST', headers: {'Content-Type': 'application/geo+json', 'X-CSRF-Token': s.csrf_token}, body: %q});
		return r.status + ' ' + await r.text(); })()`, opsSquare(41.3111, 69.2797, 150)))
	if !strings.HasPrefix(res, "201 ") {
		t.Fatalf("create area: %s", res)
	}

	// The form: area, 1 slot, a 2-hour window (2 minutes of wall time), the
	// simulator's endurance, all three vehicles.
	c.run(chromedp.Click(`#tabs [data-tab="ops"]`))
	c.poll("no operation yet", `document.getElementById('ops-status').textContent === 'No operation yet.'`, 10*time.Second)
	c.openDetails("op-create")
	c.poll("the form filled", `document.getElementById('op-area').options.length === 1 && document.querySelectorAll('#op-pool input[name=vehicle]').length === 3`, 10*time.Second)
	// A mistake first: more slots than vehicles ticked is named before anything is sent.
	eval[bool](c, `(() => { const f = document.getElementById('op-form'); f.slots.value = 1; f.minutes.value = 120; f.endurance_min.value = 8; f.swap_min.value = 1; f.speed.value = 10; return true })()`)
	c.run(chromedp.Click("#op-create-submit"))
	c.poll("the missing pool named", `document.getElementById('op-create-status').textContent.startsWith('vehicles: 0 picked for 1 slot(s)')`, 10*time.Second)
	eval[bool](c, `(() => { document.querySelectorAll('#op-pool input[name=vehicle]').forEach(i => i.checked = true); return true })()`)
	c.run(chromedp.Click("#op-create-submit"))
	c.confirm("1 slot(s) from 3 vehicles, starting now")
	c.poll("the operation created and shown", `document.getElementById('op-create-status').dataset.ok === 'true' && document.getElementById('op-details').dataset.state === 'running' && document.querySelectorAll('#ops-list li[data-op-id]').length === 1`, 20*time.Second)
	opID := eval[string](c, `document.getElementById('op-details').dataset.opId`)

	// Pause and resume from the console.
	c.run(chromedp.Click(`#op-actions button[data-action="pause"]`))
	c.poll("paused", `document.getElementById('op-details').dataset.paused === 'true' && document.querySelector('#op-actions button[data-action="resume"]') !== null`, 10*time.Second)
	c.run(chromedp.Click(`#op-actions button[data-action="resume"]`))
	c.confirm("Resume operation " + opID)
	c.poll("resumed", `document.getElementById('op-details').dataset.paused === 'false'`, 10*time.Second)

	// The first drone on station, then relieved by the next: two segments
	// on the slot's bar with the handover mark between them.
	c.poll("a drone on station in slot 0", `document.querySelector('.op-row[data-slot="0"][data-covered="true"] .op-seg') !== null`, 90*time.Second)
	c.shot("1-on-station")
	c.poll("a handover on the timeline", `document.querySelector('.op-row[data-slot="0"] .op-mark[data-kind="handover"]') !== null &&
		new Set([...document.querySelectorAll('.op-row[data-slot="0"] .op-seg')].map(s => s.dataset.vehicleId)).size >= 2`, 120*time.Second)
	c.shot("2-handover")

	// The drone on station fails: the slot shows the failure, the gap it
	// left and the uncovered seconds, and a replacement takes over.
	c.poll("the slot covered again", `document.querySelector('.op-row[data-slot="0"]').dataset.covered === 'true'`, 60*time.Second)
	victim := eval[string](c, fmt.Sprintf(`fetch('/api/v1/operations/%s').then(r => r.json()).then(o => o.slots[0].vehicle_id)`, opID))
	idx := -1
	if v, ok := c.app.Fleet.Get(victim); ok {
		for i := 0; i < c.app.Sim.Len(); i++ {
			if c.app.Sim.Vehicle(i).UID() == v.UID {
				idx = i
			}
		}
	}
	if idx < 0 {
		t.Fatalf("slot 0's vehicle %q is not a simulated vehicle", victim)
	}
	c.app.Sim.Vehicle(idx).Do(func(v *vehicle.Vehicle) { v.InjectFailure() })
	c.poll("the failure and the gap on the timeline", fmt.Sprintf(`(() => { const row = document.querySelector('.op-row[data-slot="0"]');
		return row.querySelector('.op-mark[data-kind="failed"][data-vehicle-id=%q]') !== null && row.querySelector('.op-gap') !== null && +row.dataset.uncovered > 0 &&
			+document.getElementById('op-details').dataset.uncovered > 0 && document.querySelector('#op-vehicles li[data-vehicle-id=%q]').dataset.role === 'failed'; })()`, victim, victim), 60*time.Second)
	c.poll("the replacement on station", fmt.Sprintf(`document.querySelector('.op-row[data-slot="0"]').dataset.covered === 'true' &&
		[...document.querySelectorAll('.op-row[data-slot="0"] .op-seg')].at(-1).dataset.vehicleId !== %q`, victim), 90*time.Second)
	if got := eval[string](c, `document.querySelector('#op-slots li[data-slot="0"]').textContent`); !strings.Contains(got, "1 replacement(s)") || !strings.Contains(got, victim+" failed") {
		t.Fatalf("slot 0's history: %q", got)
	}
	c.shot("3-replaced")
	c.accessible("operations")
	// The pool's vehicle selects it for the HUD and the map.
	c.run(chromedp.Click(fmt.Sprintf(`#op-vehicles li[data-vehicle-id=%q] b`, victim)))
	c.poll("the failed vehicle selected", fmt.Sprintf(`document.getElementById('selection-count').textContent === '1 selected' && document.getElementById('details').dataset.vehicleId === %q`, victim), 5*time.Second)
	c.run(chromedp.Click(`#tabs [data-tab="alerts"]`))
	c.poll("the operation's alerts", `document.querySelector('#alerts li[data-kind="coverage_gap"]') !== null`, 10*time.Second)
	c.run(chromedp.Click(`#alerts li[data-kind="coverage_gap"] .alert-ack`))
	c.poll("acknowledged", `document.querySelector('#alerts li[data-kind="coverage_gap"][data-acked="true"]') !== null`, 10*time.Second)
	c.accessible("alerts")
	c.run(chromedp.Click(`#tabs [data-tab="ops"]`))

	// An observer sees the operation and its timeline, without controls;
	// a forged stop is refused.
	w := c.other("ops-observer")
	w.login("watcher")
	w.run(chromedp.Click(`#tabs [data-tab="ops"]`))
	w.poll("the operation listed", fmt.Sprintf(`document.querySelector('#ops-list li[data-op-id=%q]') !== null`, opID), 20*time.Second)
	w.run(chromedp.Click(fmt.Sprintf(`#ops-list li[data-op-id=%q]`, opID)))
	w.poll("its timeline, read-only", `document.querySelector('.op-row[data-slot="0"] .op-seg') !== null && document.getElementById('op-actions') === null &&
		document.getElementById('op-form') === null && document.querySelector('#op-vehicles button') === null`, 20*time.Second)
	if got := eval[string](w, fmt.Sprintf(`(async () => { const s = await (await fetch('/api/v1/session')).json();
		const r = await fetch('/api/v1/operations/%s/stop', {method: 'POST', headers: {'X-CSRF-Token': s.csrf_token}}); return String(r.status) })()`, opID)); got != "403" {
		t.Fatalf("observer's forged stop answered %s, want 403", got)
	}
	w.shot("observer")

	// The crew has fixed the failed drone: Ready puts it back into the pool.
	c.run(chromedp.Click(fmt.Sprintf(`#op-vehicles li[data-vehicle-id=%q] button[data-ready]`, victim)))
	c.confirm(victim + " swapped and fit to fly")
	c.poll("the failed drone back in the pool", fmt.Sprintf(`document.querySelector('#op-vehicles li[data-vehicle-id=%q]').dataset.role !== 'failed'`, victim), 10*time.Second)

	// Stop: every drone goes home; the operation is finished.
	c.run(chromedp.Click(`#op-actions button[data-action="stop"]`))
	c.confirm("Stop operation " + opID)
	c.poll("stopped", `document.getElementById('op-details').dataset.state === 'finished' && document.querySelectorAll('#op-actions button').length === 0 &&
		document.querySelector('#ops-list li').dataset.state === 'finished'`, 20*time.Second)
	c.shot("4-stopped")

	// A second operation scheduled an hour ahead (on the operation clock)
	// waits; Start begins it now.
	eval[bool](c, `(() => { const f = document.getElementById('op-form'); const t = new Date(Date.now() + 3600e3);
		f.start.value = new Date(t - t.getTimezoneOffset() * 60e3).toISOString().slice(0, 16); f.minutes.value = 30; return true })()`)
	c.run(chromedp.Click("#op-create-submit"))
	c.confirm("starting at ")
	c.poll("the second operation scheduled", fmt.Sprintf(`document.querySelectorAll('#ops-list li[data-op-id]').length === 2 && document.getElementById('op-details').dataset.opId !== %q &&
		document.getElementById('op-details').dataset.state === 'scheduled' && document.querySelector('#op-actions button[data-action="start"]') !== null`, opID), 20*time.Second)
	second := eval[string](c, `document.getElementById('op-details').dataset.opId`)
	c.run(chromedp.Click(`#op-actions button[data-action="start"]`))
	c.confirm("Start operation " + second + " now?")
	c.poll("the second operation running", `document.getElementById('op-details').dataset.state === 'running' && document.querySelector('#op-actions button[data-action="start"]') === null`, 20*time.Second)
	c.run(chromedp.Click(`#op-actions button[data-action="stop"]`))
	c.confirm("Stop operation " + second)
	c.poll("the second stopped", `document.getElementById('op-details').dataset.state === 'finished'`, 20*time.Second)
}
