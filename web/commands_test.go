package web_test

import (
	"fmt"
	"math"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/burgut-uav/burgut/app"
)

// clickAt clicks page coordinates with the real mouse, optionally with Shift.
func (c *console) clickAt(x, y float64, shift bool) {
	c.t.Helper()
	var opts []chromedp.MouseOption
	if shift {
		opts = append(opts, chromedp.ButtonModifiers(chromedp.ModifierShift))
	}
	c.run(chromedp.MouseClickXY(x, y, opts...))
	c.run(chromedp.Sleep(150 * time.Millisecond)) // Leaflet tells a click from a double-click
}

// clickVehicle clicks a vehicle's line in the list (shift: add to the selection).
func (c *console) clickVehicle(id string, shift bool) {
	c.t.Helper()
	r := eval[[]float64](c, fmt.Sprintf(`(() => { const li = document.querySelector('#vehicles li[data-vehicle-id=%q]'); li.scrollIntoView({block: 'nearest'});
		const r = li.getBoundingClientRect(); return [r.left + 20, r.top + r.height / 2] })()`, id))
	c.clickAt(r[0], r[1], shift)
}

// command presses a command button, answers its confirmation (checking
// it says want) and waits for n vehicles to accept; vehicles still busy
// (pre-arm checks) are asked again within a minute.
func (c *console) command(name, want string, n int) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		eval[bool](c, `(() => { document.getElementById('command-results').innerHTML = ''; document.getElementById('command-status').textContent = ''; return true })()`)
		c.run(chromedp.Click(fmt.Sprintf(`#fly-commands button[data-command=%q]`, name)))
		if want != "" {
			c.confirm(want)
		}
		c.poll(name+" answered", fmt.Sprintf(`(() => { const s = document.getElementById('command-status').textContent; return s.startsWith(%q) && !s.includes('sending') })()`, name+": "), 30*time.Second)
		ok := eval[int](c, `document.querySelectorAll('#command-results li[data-ok="true"]').length`)
		if ok == n {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: %d of %d accepted: %s %s", name, ok, n, eval[string](c, `document.getElementById('command-status').textContent`), eval[string](c, `document.getElementById('command-results').textContent`))
		}
		time.Sleep(time.Second)
	}
}

type vehicleView struct {
	Lat, Lon    float64
	RelativeAlt float64 `json:"relative_alt_m"`
	Armed       bool
	Mode        string
}

func (c *console) vehicle(id string) vehicleView {
	return eval[vehicleView](c, fmt.Sprintf(`fetch('/api/v1/vehicles/%s').then(r => r.json())`, id))
}

// distM is the flat distance in metres between two nearby points.
func distM(lat1, lon1, lat2, lon2 float64) float64 {
	dy := (lat2 - lat1) * 111320
	dx := (lon2 - lon1) * 111320 * math.Cos(lat1*math.Pi/180)
	return math.Hypot(dx, dy)
}

// confirmTarget reads the go-here confirmation's coordinates and accepts it.
func (c *console) confirmGoHere(who string) (lat, lon float64) {
	c.t.Helper()
	c.poll("the go-here confirmation", `document.getElementById('confirm').open`, 10*time.Second)
	q := eval[string](c, `document.getElementById('confirm-text').textContent`)
	if _, err := fmt.Sscanf(q, "Send "+who+" to %f, %f at 15 m?", &lat, &lon); err != nil {
		c.t.Fatalf("go-here confirmation %q: %v", q, err)
	}
	c.run(chromedp.Click("#confirm-yes"))
	return lat, lon
}

// Issue 12's command paths in Chromium, by mouse and keyboard: the tab
// list by the arrow keys; a selection by click and shift-click in the list
// and on the map's markers; mode, arm, take off to an altitude and speed
// to that selection, each confirmed with what it will do and answered per
// vehicle; "go here" by clicking the map, and from the keyboard (the map
// moved with the arrow keys, Enter picks its centre); pause all by its
// shortcut, with a confirmation; land. Screenshots: artifacts/commands-*.png.
func TestConsoleCommandsToASelection(t *testing.T) {
	c := startConsole(t, "commands", 2, 4, func(cfg *app.Config) { cfg.Sim.Demo = false })
	c.login("pilot")
	c.poll("2 vehicles with a position", `[...document.querySelectorAll('#vehicles li[data-vehicle-id]')].filter(li => +li.dataset.lat !== 0).length === 2`, 60*time.Second)
	ids := eval[[]string](c, `[...document.querySelectorAll('#vehicles li[data-vehicle-id]')].map(li => li.dataset.vehicleId)`)
	a, b := ids[0], ids[1]

	// The tab list from the keyboard.
	c.run(chromedp.Focus(`#tabs [data-tab="fly"]`), chromedp.KeyEvent(kb.ArrowRight))
	c.poll("ArrowRight: the Plan tab", `document.activeElement.dataset.tab === 'plan' && !document.getElementById('tab-plan').hidden && document.getElementById('tab-fly').hidden && document.activeElement.tabIndex === 0`, 5*time.Second)
	c.run(chromedp.KeyEvent(kb.End))
	c.poll("End: the last tab", `document.activeElement.dataset.tab === 'ops' && !document.getElementById('tab-ops').hidden`, 5*time.Second)
	c.run(chromedp.KeyEvent(kb.ArrowRight))
	c.poll("ArrowRight wraps to the first", `document.activeElement.dataset.tab === 'fly' && !document.getElementById('tab-fly').hidden && document.querySelectorAll('#tabs [tabindex="0"]').length === 1`, 5*time.Second)

	// A selection of both: click one, shift-click the other.
	c.clickVehicle(a, false)
	c.clickVehicle(b, true)
	c.poll("both selected", `document.getElementById('selection-count').textContent === '2 selected' && document.getElementById('command-target').textContent === '→ 2 vehicles'`, 5*time.Second)
	// The same from the keyboard: the arrows move in the list, Enter
	// selects, Shift+Enter adds.
	c.run(chromedp.Focus(fmt.Sprintf(`#vehicles li[data-vehicle-id=%q]`, a)), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.Enter))
	c.poll("Enter on the next line selects it alone", fmt.Sprintf(`document.getElementById('selection-count').textContent === '1 selected' && document.getElementById('details').dataset.vehicleId === %q && document.activeElement.dataset.vehicleId === %q`, b, b), 5*time.Second)
	c.run(chromedp.KeyEvent(kb.Home), chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierShift)))
	c.poll("Shift+Enter on the first adds it", fmt.Sprintf(`document.getElementById('selection-count').textContent === '2 selected' && document.activeElement.dataset.vehicleId === %q`, a), 5*time.Second)

	eval[bool](c, `(() => { const s = document.getElementById('cmd-mode'); s.value = 'GUIDED'; s.dispatchEvent(new Event('change')); return true })()`)
	c.command("mode", "Switch 2 vehicles to GUIDED?", 2)
	c.command("arm", "Arm: 2 vehicles?", 2)
	eval[bool](c, `(() => { document.getElementById('cmd-alt').value = '15'; return true })()`)
	c.command("takeoff", "Take off 2 vehicles to 15 m?", 2)
	c.poll("both at 15 m", fmt.Sprintf(`Promise.all([%q, %q].map(id => fetch('/api/v1/vehicles/' + id).then(r => r.json()))).then(vs => vs.every(v => v.relative_alt_m > 12))`, a, b), 60*time.Second)
	eval[bool](c, `(() => { document.getElementById('cmd-speed').value = '6'; return true })()`)
	c.command("speed", "Set the speed of 2 vehicles to 6 m/s?", 2)
	c.shot("1-hovering")
	c.accessible("commands")

	// Go here by the mouse: one vehicle, to where the map is clicked.
	c.clickVehicle(a, false)
	// Its HUD meanwhile: what the issue lists, from the live state.
	c.poll("the HUD", fmt.Sprintf(`document.getElementById('details').dataset.vehicleId === %q`, a), 5*time.Second)
	hud := eval[map[string]string](c, `Object.fromEntries([...document.querySelectorAll('#details-fields dd')].map(d => [d.dataset.field, d.textContent]))`)
	for field, want := range map[string]string{
		"mode": `^GUIDED$`, "armed": `^yes$`, "altitude": `^1[0-9]\.\d m rel, \d+\.\d m MSL$`, "GPS": `^(3D|DGPS|RTK float|RTK fixed), \d+ sats$`,
		"link": `^.+, loss \d+\.\d %, \d+ Hz$`, "mission": `^none on board$`, "fence": `^ok$`, "signing": `^unsigned$`,
		"battery": `^\d+ %, \d+\.\d V, -?\d+\.\d A, .+ left$`, "speed": `^\d+\.\d m/s ground, .+ air, .+ climb$`, "heading": `^\d+°$`,
	} {
		if !regexp.MustCompile(want).MatchString(hud[field]) {
			t.Errorf("HUD %s: %q, want %s", field, hud[field], want)
		}
	}
	c.run(chromedp.Click(`#fly-commands button[data-command="goto"]`))
	c.poll("asked for a point", `document.getElementById('command-status').textContent.startsWith('Click the map where ')`, 5*time.Second)
	px, py := c.mapPoint(140, -90)
	c.clickAt(px, py, false)
	lat, lon := c.confirmGoHere("vehicle " + a)
	c.poll("go here accepted", `document.querySelectorAll('#command-results li[data-ok="true"]').length === 1`, 30*time.Second)
	deadline := time.Now().Add(90 * time.Second)
	for v := c.vehicle(a); distM(v.Lat, v.Lon, lat, lon) > 3; v = c.vehicle(a) {
		if time.Now().After(deadline) {
			t.Fatalf("%s at %.6f,%.6f did not reach the clicked point %.6f,%.6f", a, v.Lat, v.Lon, lat, lon)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// There now, its marker is where the map was clicked: a click there
	// selects it, a shift-click on b's line adds b, a shift-click on the
	// marker takes it out again.
	eval[bool](c, `document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true})) || true`)
	c.poll("nothing selected", `document.getElementById('selection-count').textContent === ''`, 5*time.Second)
	c.clickAt(px, py, false)
	c.poll("the marker's vehicle selected", fmt.Sprintf(`document.getElementById('selection-count').textContent === '1 selected' && document.getElementById('details').dataset.vehicleId === %q`, a), 5*time.Second)
	c.clickVehicle(b, true)
	c.poll("both selected", `document.getElementById('selection-count').textContent === '2 selected'`, 5*time.Second)
	c.clickAt(px, py, true)
	c.poll("shift-click on the marker took it out", fmt.Sprintf(`document.getElementById('selection-count').textContent === '1 selected' && document.querySelector('#vehicles li[data-vehicle-id=%q]').getAttribute('aria-selected') === 'false'`, a), 5*time.Second)
	c.shot("2-went-there")

	// Go here from the keyboard: b selected; the button by Enter, the map
	// moved by the arrow keys, Enter sends b to its centre.
	c.run(chromedp.Focus(`#fly-commands button[data-command="goto"]`), chromedp.KeyEvent(kb.Enter))
	c.poll("the map focused for the point", `document.activeElement.id === 'map' && document.getElementById('map').classList.contains('go-here')`, 5*time.Second)
	c.run(chromedp.KeyEvent(kb.ArrowLeft + kb.ArrowLeft + kb.ArrowLeft + kb.ArrowUp))
	c.run(chromedp.Sleep(500 * time.Millisecond)) // the pan's animation
	c.run(chromedp.KeyEvent(kb.Enter))
	lat2, lon2 := c.confirmGoHere("vehicle " + b)
	c.poll("keyboard go here accepted", `document.querySelectorAll('#command-results li[data-ok="true"]').length === 1 && !document.getElementById('map').classList.contains('go-here')`, 30*time.Second)
	if d := distM(lat, lon, lat2, lon2); d < 10 {
		t.Fatalf("the keyboard's point %.6f,%.6f is the mouse's (%.1f m): the map did not move", lat2, lon2, d)
	}
	deadline = time.Now().Add(90 * time.Second)
	for v := c.vehicle(b); distM(v.Lat, v.Lon, lat2, lon2) > 3; v = c.vehicle(b) {
		if time.Now().After(deadline) {
			t.Fatalf("%s at %.6f,%.6f did not reach the map's centre %.6f,%.6f", b, v.Lat, v.Lon, lat2, lon2)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Pause all by its shortcut (real keys, focus on the page), confirmed.
	c.run(chromedp.Focus(`#tabs [data-tab="fly"]`), chromedp.KeyEvent("P", chromedp.KeyModifiers(chromedp.ModifierShift)))
	c.confirm("Pause all 2 vehicles?")
	c.poll("pause accepted by both", `document.getElementById('command-status').textContent === 'pause: 2 of 2 accepted'`, 30*time.Second)
	c.shot("3-paused")

	// Land both.
	c.clickVehicle(a, false)
	c.clickVehicle(b, true)
	c.command("land", "Land: 2 vehicles?", 2)
	c.poll("both landed and disarmed", `[...document.querySelectorAll('#vehicles li[data-vehicle-id]')].every(e => e.dataset.armed === 'false')`, 120*time.Second)
	c.shot("4-landed")
}
