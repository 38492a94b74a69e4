package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/burgut-uav/burgut/app"
	"github.com/burgut-uav/burgut/simulator"
)

// pageJS are helpers the Fly/Review test installs in the page: op sends an
// operator's API call with the session's CSRF token (as the console's own
// code does), mission builds a list around a position, and a recorder
// keeps every upload text each vehicle's list line showed.
const pageJS = `(() => {
  window.op = async (method, path, body) => {
    const s = await (await fetch('/api/v1/session')).json();
    const r = await fetch(path, {method, headers: {'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token}, body: body === undefined ? undefined : JSON.stringify(body)});
    return r.status + ' ' + await r.text();
  };
  window.mission = (lat, lon, legs) => {
    const e7 = (x) => Math.round(x * 1e7);
    const items = [{command: 16, frame: 0, x: e7(lat), y: e7(lon), z: 0, autocontinue: 1},
                   {command: 22, frame: 3, x: 0, y: 0, z: 20, autocontinue: 1}];
    const d = 0.0004;
    for (let i = 0; i < legs; i++) {
      const c = [[1, 0], [1, 1], [0, 1], [0, 0]][i % 4];
      items.push({command: 16, frame: 3, x: e7(lat + c[0] * d), y: e7(lon + c[1] * d), z: 20 + (i % 3), autocontinue: 1});
    }
    items.push({command: 20, frame: 2, x: 0, y: 0, z: 0, autocontinue: 1});
    return items.map((it, i) => ({...it, seq: i}));
  };
  window.seen = {};
  setInterval(() => document.querySelectorAll('#vehicles li[data-vehicle-id]').forEach(li => {
    (window.seen[li.dataset.vehicleId] ||= new Set()).add(li.dataset.transfer || '');
  }), 5);
  return true;
})()`

// Issue 12, Fly and Review in Chromium (test 5 of the issue among them):
// every vehicle's home and on-board mission drawn at once with the current
// item highlighted; an upload's items confirmed shown live on the vehicle's
// line, then the read-back verdict, and a refusal with the vehicle's
// MISSION_ACK reason; who holds a vehicle and since when in the list and
// HUD; the battery's estimated time left; and after the flight the Review
// tab's flight list, the flight's track with a slider that moves the
// marker, altitude and battery plots, and CSV/GeoJSON exports.
// Screenshots: artifacts/flyreview-*.png.
func TestConsoleFlyAndReview(t *testing.T) {
	// Without the demo's patrols: the test's own uploads and flight are
	// the only ones.
	c := startConsole(t, "flyreview", 2, 4, func(cfg *app.Config) { cfg.Sim.Demo = false })
	c.login("pilot")
	c.poll("2 vehicles with a position", `[...document.querySelectorAll('#vehicles li[data-vehicle-id]')].filter(li => +li.dataset.lat !== 0).length === 2`, 60*time.Second)
	eval[bool](c, pageJS)
	ids := eval[[]string](c, `[...document.querySelectorAll('#vehicles li[data-vehicle-id]')].map(li => li.dataset.vehicleId)`)
	c.poll("both homes on the map", `document.querySelectorAll('path.home-point[data-vehicle-id]').length === 2`, 60*time.Second)
	// No drain measured yet: the time left is unknown, and says so.
	if got := eval[string](c, `document.querySelector('#vehicles li[data-vehicle-id]').dataset.timeLeft`); got != "—" {
		t.Fatalf("time left before any drain: %q, want —", got)
	}

	// A long upload to the first vehicle: its items confirmed advance on its
	// line, then the read-back verdict.
	a, b := ids[0], ids[1]
	c.run(chromedp.Click(fmt.Sprintf(`#vehicles li[data-vehicle-id=%q]`, a)))
	// (a few milliseconds more on each way of every link, so the upload
	// takes seconds as over a radio, not one frame of the page)
	for i := 0; i < c.app.Sim.Len(); i++ {
		c.app.Sim.Vehicle(i).SetLinkFaults(simulator.LinkFaults{Latency: 5 * time.Millisecond})
	}
	const long = 300
	res := eval[string](c, fmt.Sprintf(`(() => { const li = document.querySelector('#vehicles li[data-vehicle-id=%q]');
		return op('PUT', '/api/v1/vehicles/%s/mission', {items: mission(+li.dataset.lat, +li.dataset.lon, %d), verify: true}); })()`, a, a, long-3))
	if !strings.HasPrefix(res, "200 ") {
		t.Fatalf("upload to %s: %s", a, res)
	}
	c.poll("the verdict on the vehicle's line and in its HUD", fmt.Sprintf(`document.querySelector('#vehicles li[data-vehicle-id=%q]').dataset.transfer === 'mission verified, %d item(s)' &&
		document.querySelector('#details-fields [data-field="upload"]')?.textContent === 'mission verified, %d item(s)'`, a, long, long), 20*time.Second)
	seen := eval[[]string](c, fmt.Sprintf(`[...window.seen[%q]]`, a))
	partial := 0
	for _, s := range seen {
		var done, total int
		if n, _ := fmt.Sscanf(s, "uploading mission %d/%d", &done, &total); n == 2 && total == long && done > 0 && done < long {
			partial++
		}
	}
	if partial == 0 {
		t.Fatalf("the line never showed items confirmed part-way: %q", seen)
	}
	for i := 0; i < c.app.Sim.Len(); i++ {
		c.app.Sim.Vehicle(i).SetLinkFaults(simulator.LinkFaults{})
	}
	c.shot("1-upload-verified")

	// More than the vehicle stores: refused, with its MISSION_ACK reason.
	res = eval[string](c, fmt.Sprintf(`op('PUT', '/api/v1/vehicles/%s/mission', {items: mission(41.3, 69.28, 730), verify: true})`, a))
	if !strings.HasPrefix(res, "422 ") {
		t.Fatalf("oversized upload: %s", res)
	}
	c.poll("the refusal with the vehicle's reason", fmt.Sprintf(`(() => { const s = document.querySelector('#vehicles li[data-vehicle-id=%q] .transfer[data-phase="failed"]');
		return s !== null && s.textContent === 'mission refused: MAV_MISSION_NO_SPACE' &&
			document.querySelector('#details-fields [data-field="upload"]').textContent.includes('MAV_MISSION_NO_SPACE (mission has more items than the vehicle can store)') })()`, a), 20*time.Second)
	c.shot("2-upload-refused")

	// A short patrol on both; nothing selected, both missions are drawn.
	for _, id := range ids {
		res := eval[string](c, fmt.Sprintf(`(() => { const li = document.querySelector('#vehicles li[data-vehicle-id=%q]');
			return op('PUT', '/api/v1/vehicles/%s/mission', {items: mission(+li.dataset.lat, +li.dataset.lon, 8), verify: true}); })()`, id, id))
		if !strings.HasPrefix(res, "200 ") {
			t.Fatalf("patrol upload to %s: %s", id, res)
		}
	}
	eval[bool](c, `document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true})) || true`)
	c.poll("every vehicle's on-board mission at once", fmt.Sprintf(`document.querySelectorAll('#details:not([hidden])').length === 0 &&
		document.querySelectorAll('path.onboard-leg[data-vehicle-id=%q]').length === 9 && document.querySelectorAll('path.onboard-leg[data-vehicle-id=%q]').length === 9`, a, b), 30*time.Second)

	// Control: taken, shown in the list and the HUD with since when.
	c.run(chromedp.Click(fmt.Sprintf(`#vehicles li[data-vehicle-id=%q]`, a)))
	c.poll("the control buttons", `!document.getElementById('control-row').hidden`, 15*time.Second)
	eval[bool](c, `(() => { document.getElementById('control-take').click(); return true })()`)
	c.poll("control in the list and the HUD", fmt.Sprintf(`document.querySelector('#vehicles li[data-vehicle-id=%q]').dataset.control === 'you' &&
		/^you since \d\d:\d\d UTC/.test(document.querySelector('#details-fields [data-field="control"]')?.textContent || '')`, a), 15*time.Second)

	// Launch both; each one's current leg is highlighted as it flies.
	for _, step := range []string{`op('POST', '/api/v1/commands/mode', {vehicle_ids: %s, mode: 'GUIDED'})`, `op('POST', '/api/v1/commands/arm', {vehicle_ids: %s})`, `op('POST', '/api/v1/commands/mission_start', {vehicle_ids: %s})`} {
		js := fmt.Sprintf(step, fmt.Sprintf("[%q, %q]", a, b))
		deadline := time.Now().Add(60 * time.Second)
		for {
			r := eval[string](c, js)
			if strings.HasPrefix(r, "200 ") && strings.Contains(r, `"succeeded": 2,`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s", js, r)
			}
			time.Sleep(time.Second) // pre-arm checks may need a moment
		}
	}
	eval[bool](c, `document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true})) || true`)
	c.poll("both flying with their current legs highlighted", fmt.Sprintf(`[%q, %q].every(id => {
		const cur = document.querySelector('path.onboard-leg[data-vehicle-id="' + id + '"][data-current="true"]');
		return cur !== null && +cur.dataset.seq >= 3 })`, a, b), 120*time.Second)
	// The battery drains in flight: its time left becomes known.
	c.poll("a battery time left in the list", `[...document.querySelectorAll('#vehicles li[data-vehicle-id]')].some(li => /^\d+ min$|^\d+ h \d\d min$|^< 1 min$/.test(li.dataset.timeLeft))`, 120*time.Second)
	c.run(chromedp.Click(fmt.Sprintf(`#vehicles li[data-vehicle-id=%q]`, a)))
	c.poll("the time left in the HUD", `/ left$/.test(document.querySelector('#details-fields [data-field="battery"]').textContent)`, 10*time.Second)
	c.shot("3-flying")

	// Home again and landed.
	eval[bool](c, `document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'R', shiftKey: true, bubbles: true})) || true`)
	c.confirm("RTL: 2 vehicles")
	c.poll("both landed and disarmed", `[...document.querySelectorAll('#vehicles li[data-vehicle-id]')].every(e => e.dataset.armed === 'false')`, 240*time.Second)

	// Review: the flight from the vehicle's flight list.
	c.run(chromedp.Click(`#tabs [data-tab="review"]`))
	eval[bool](c, fmt.Sprintf(`(() => { const s = document.getElementById('review-vehicle'); s.value = %q; s.dispatchEvent(new Event('change')); return true })()`, a))
	c.poll("the vehicle's flight in its flight list", `document.querySelectorAll('#review-flight option[data-start]').length >= 1`, 30*time.Second)
	eval[bool](c, `(() => { const s = document.getElementById('review-flight'); s.value = '0'; s.dispatchEvent(new Event('change')); return true })()`)
	c.poll("the flight's track, its plots and the slider", `document.querySelector('path.review-track') !== null && !document.getElementById('review-slider').disabled &&
		document.querySelector('path.review-marker')?.dataset.lat !== undefined &&
		+document.querySelector('#review-alt-plot .plot-line').dataset.points > 10 && +document.querySelector('#review-battery-plot .plot-line').dataset.points > 10`, 30*time.Second)
	before := eval[string](c, `document.querySelector('path.review-marker').dataset.lat + ',' + document.querySelector('path.review-marker').dataset.lon + ',' + document.querySelector('#review-alt-plot .plot-cursor').getAttribute('x1')`)
	eval[bool](c, `(() => { const s = document.getElementById('review-slider'); s.value = 400; s.dispatchEvent(new Event('input')); return true })()`)
	c.poll("the marker and the plot cursor moved", fmt.Sprintf(`(() => { const m = document.querySelector('path.review-marker').dataset;
		const x = document.querySelector('#review-alt-plot .plot-cursor').getAttribute('x1');
		const [lat, lon, x0] = %q.split(',');
		return (m.lat !== lat || m.lon !== lon) && x !== x0 && /battery \d+ %%/.test(document.getElementById('review-time').textContent); })()`, before), 10*time.Second)
	// The plotted altitude rose above the ground during the flight.
	if d := eval[string](c, `document.querySelector('#review-alt-plot .plot-line').getAttribute('d')`); !strings.HasPrefix(d, "M") {
		t.Fatalf("altitude plot path %q", d)
	}
	exports := eval[string](c, `Promise.all([...document.querySelectorAll('#review-export a')].map(a => fetch(a.href).then(async r => a.dataset.format + ' ' + r.status + ' ' + (await r.text()).slice(0, 40)))).then(x => x.join('\n'))`)
	if !strings.Contains(exports, "csv 200 time,vehicle_id") || !strings.Contains(exports, "geojson 200 {") {
		t.Fatalf("exports of the flight:\n%s", exports)
	}
	c.shot("4-review")
}
