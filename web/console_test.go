package web_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/burgut-uav/burgut/app"
	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/internal/testenv/chromium"
)

// console is one real station (app with its simulated fleet over
// MAVLink/UDP) and one headless Chromium on its page, for the operator
// console's browser tests.
type console struct {
	t    *testing.T
	app  *app.App
	ctx  context.Context
	url  string
	name string // screenshot prefix
	// browser is the Chromium binary (BURGUT_TEST_CHROMIUM).
	browser string
}

func startConsole(t *testing.T, name string, vehicles int, speedup float64, edits ...func(*app.Config)) *console {
	t.Helper()
	browser := chromium.Binary(t)
	chromium.RequireConsole(t)
	cfg := app.Default()
	cfg.HTTP = "127.0.0.1:0"
	cfg.Sim.Vehicles = vehicles
	cfg.Sim.Speedup = speedup
	cfg.GroundStation.MAVLink = []string{fmt.Sprintf("udp:127.0.0.1:%d", testenv.FreeUDPPort(t))}
	cfg.DataDir = t.TempDir()
	cfg.Relay.MQTTListen = "127.0.0.1:0"
	cfg.Relay.StaleAfter = 30 * time.Second // the machine is shared and slow under -race
	for _, edit := range edits {
		edit(&cfg)
	}
	a := startApp(t, cfg)
	for _, u := range []struct {
		name string
		role auth.Role
	}{{"pilot", auth.Operator}, {"watcher", auth.Observer}} {
		if err := a.Auth.AddUser(context.Background(), u.name, u.role, u.name+"-password"); err != nil {
			t.Fatal(err)
		}
	}
	c := &console{t: t, app: a, url: "http://" + a.HTTPAddr() + "/", name: name, browser: browser}
	c.ctx = c.openBrowser()
	c.run(chromedp.Navigate(c.url))
	return c
}

// openBrowser starts one more Chromium with its own profile (its own
// cookies: another person's session) and returns its tab's context.
func (c *console) openBrowser() context.Context {
	return chromium.Open(c.t, c.browser, chromium.Options{})
}

// other is a second person at another browser on the same station.
func (c *console) other(name string) *console {
	o := &console{t: c.t, app: c.app, url: c.url, name: name, browser: c.browser}
	o.ctx = o.openBrowser()
	o.run(chromedp.Navigate(o.url))
	return o
}

// actionTimeout bounds one browser action: chromedp's Click waits for its
// element without end, so an element that never appears hung a test until
// go test's 20-minute alarm (TestConsoleAccessibleBasics once in CI, a
// click that missed the vehicle's line) instead of failing with a
// screenshot.
const actionTimeout = 2 * time.Minute

func (c *console) run(actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	for _, a := range actions {
		// The bound is taken inside the action: cancelling a context
		// derived from c.ctx around Run would close the tab it opened.
		timed := func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			ctx, cancel := context.WithTimeout(ctx, actionTimeout)
			defer cancel()
			return a(ctx, t)
		}
		if _, err := chromedp.Run(c.ctx, chromedp.Action[chromedp.Void](timed)); err != nil {
			c.shot("failure")
			c.t.Fatal(err)
		}
	}
}

// eval runs JavaScript on the page (awaiting a promise) and returns its value.
func eval[T any](c *console, js string) T {
	c.t.Helper()
	v, err := chromedp.Run(c.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		c.shot("failure")
		c.t.Fatalf("%s: %v", js, err)
	}
	return v
}

// shot saves a screenshot to artifacts/<name>-<step>.png.
func (c *console) shot(step string) {
	chromium.Screenshot(c.ctx, c.t, c.name+"-"+step+".png")
}

func (c *console) poll(what, expr string, timeout time.Duration) {
	c.t.Helper()
	if err := chromium.Poll(c.ctx, expr, timeout); err != nil {
		c.shot("failure")
		state := eval[string](c, `[...document.querySelectorAll('#vehicles li, #command-status, #command-results li, #assign-results li, #assign-problem, #plan-errors li, #area-errors li, #plan-findings li')].map(e => (e.dataset.vehicleId||e.id) + ': ' + e.textContent + ' ' + JSON.stringify(e.dataset)).join('\n')`)
		c.t.Fatalf("waiting for %s: %v\npage:\n%s", what, err, state)
	}
}

func (c *console) login(user string) {
	c.t.Helper()
	c.poll("the login form", chromium.LoginReady, 30*time.Second)
	if err := chromium.Login(c.ctx, user, user+"-password"); err != nil {
		c.shot("failure")
		c.t.Fatalf("log in as %s: %v", user, err)
	}
	c.poll("the console after login", chromium.LoggedIn, 10*time.Second)
}

// confirm answers the console's confirmation dialog, checking its question.
func (c *console) confirm(want string) {
	c.t.Helper()
	c.poll("the confirmation dialog", `document.getElementById('confirm').open`, 10*time.Second)
	if got := eval[string](c, `document.getElementById('confirm-text').textContent`); !strings.Contains(got, want) {
		c.t.Fatalf("confirmation asks %q, want it to say %q", got, want)
	}
	c.run(chromedp.Click("#confirm-yes"))
}

func (c *console) importArea(fixture string) {
	c.t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", fixture))
	if err != nil {
		c.t.Fatal(err)
	}
	c.run(chromedp.Click(`#tabs [data-tab="plan"]`), chromedp.SetUploadFiles("#area-file", []string{p}))
	c.poll("the imported area", `document.querySelector('#area-errors li.ok') !== null && document.getElementById('plan-area').value !== ''`, 20*time.Second)
}

// makePlan fills the plan form as an operator would and submits it.
func (c *console) makePlan(pattern string, drones int, extra map[string]string) {
	c.t.Helper()
	js := fmt.Sprintf(`(() => { const f = document.getElementById('plan-form'); f.pattern.value = %q; f.drones.value = %d;`, pattern, drones)
	for k, v := range extra {
		js += fmt.Sprintf(` f[%q].value = %q;`, k, v)
	}
	js += ` document.getElementById('plan-summary').innerHTML = ''; return true })()`
	eval[bool](c, js)
	c.run(chromedp.Click("#plan-make"))
	c.poll("the plan preview", `document.getElementById('plan-summary').dataset.planId !== undefined && document.querySelector('#plan-summary p') !== null`, 30*time.Second)
}

// An operator plans a corridor for 2 drones from an imported area, sees
// both plans in their own colours, assigns them to 2 simulated vehicles,
// launches, watches them fly and sends RTL to all with the shortcut; both
// land. Screenshots at each step: artifacts/console-*.png.
func TestConsolePlanAssignLaunchRTL(t *testing.T) {
	// Without the demo patrols: the drones must be on their pads when
	// the operator launches, or the pad sequencing below is not tested
	// (with the demo they were already flying, about 40 m above their
	// pads, which was once read as a 39 m altitude gap on the pad).
	c := startConsole(t, "console", 2, 4, func(cfg *app.Config) { cfg.Sim.Demo = false })
	c.login("pilot")
	c.poll("2 vehicles with a GPS position", `[...document.querySelectorAll('#vehicles li[data-vehicle-id]')].filter(li => +li.dataset.lat !== 0).length === 2`, 60*time.Second)
	c.importArea("corridor.geojson")
	c.shot("1-imported")

	c.makePlan("corridor", 2, nil)
	if ok := eval[string](c, `document.getElementById('plan-summary').dataset.ok`); ok != "true" {
		t.Fatalf("corridor plan failed its checks: %s", eval[string](c, `document.getElementById('plan-findings').textContent`))
	}
	colours := eval[[]string](c, `[...new Set([...document.querySelectorAll('path.plan-leg')].map(p => p.dataset.drone + ' ' + p.getAttribute('stroke')))]`)
	if len(colours) != 2 || strings.Split(colours[0], " ")[1] == strings.Split(colours[1], " ")[1] {
		t.Fatalf("plan legs on the map: %v, want 2 drones in 2 colours", colours)
	}
	c.shot("2-planned")

	c.poll("the pickers filled and Assign enabled", `!document.getElementById('assign').disabled`, 10*time.Second)
	c.run(chromedp.Click("#assign"))
	c.poll("both uploads verified", `document.querySelectorAll('#assign-results li[data-ok="true"]').length === 2`, 120*time.Second)
	// Each line carries the vehicle's own upload state from the stream:
	// the mission's items confirmed and its read-back verdict.
	c.poll("each vehicle's read-back verdict on its line", `[...document.querySelectorAll('#assign-results li[data-ok="true"]')].every(li => li.querySelector('.transfer[data-phase="verified"]')?.textContent.startsWith('mission verified'))`, 30*time.Second)
	c.shot("3-assigned")

	c.run(chromedp.Click("#launch"))
	c.confirm("Arm + mission start for 2 vehicles")
	c.poll("both missions started", `[...document.querySelectorAll('#assign-results li[data-ok="true"]')].filter(li => li.textContent.includes('mission_start')).length === 2`, 60*time.Second)
	// The two simulated homes are about 7 m apart (the simulator's
	// default spread), one launch pad: the second went only once the
	// first was clear of its home (how long that took depends on the
	// machine, so only the sequencing is checked).
	if got := eval[string](c, `document.getElementById('assign-results').textContent`); strings.Count(got, "once its launch pad was clear") != 1 {
		t.Errorf("launch results %q: want one vehicle launched after its pad cleared", got)
	}
	start := eval[map[string][2]float64](c, `Object.fromEntries([...document.querySelectorAll('#vehicles li[data-vehicle-id]')].map(e => [e.dataset.vehicleId, [+e.dataset.lat, +e.dataset.lon]]))`)
	startJSON := "{"
	for id, p := range start {
		startJSON += fmt.Sprintf("%q:[%v,%v],", id, p[0], p[1])
	}
	startJSON = strings.TrimSuffix(startJSON, ",") + "}"
	c.poll("both vehicles flying their missions on the page", fmt.Sprintf(`(() => { const s = %s;
		const els = [...document.querySelectorAll('#vehicles li[data-vehicle-id]')];
		return els.length === 2 && els.every(e => e.dataset.armed === 'true' && e.dataset.mode === 'AUTO' &&
			Math.hypot(+e.dataset.lat - s[e.dataset.vehicleId][0], +e.dataset.lon - s[e.dataset.vehicleId][1]) > 0.0003); })()`, startJSON), 120*time.Second)
	// The selected vehicle's on-board mission, current leg highlighted.
	c.run(chromedp.Click(`#tabs [data-tab="fly"]`))
	c.selectFirstVehicle()
	c.poll("the selected vehicle's on-board mission with its current leg", `document.querySelectorAll('path.onboard-leg').length > 1 && document.querySelector('path.onboard-leg[data-current="true"]') !== null`, 30*time.Second)
	c.poll("the selected vehicle's event timeline (armed, mode changes)", `document.querySelector('#details-events li[data-kind="armed"]') !== null && document.querySelector('#details-events li[data-kind="mode_changed"]') !== null`, 30*time.Second)
	c.shot("4-flying")

	// RTL all from the keyboard, as in an emergency.
	eval[bool](c, `document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'R', shiftKey: true, bubbles: true})) || true`)
	c.confirm("RTL: 2 vehicles")
	c.poll("RTL accepted by both", `document.querySelectorAll('#command-results li[data-ok="true"]').length === 2`, 60*time.Second)
	c.poll("both in RTL", `[...document.querySelectorAll('#vehicles li[data-vehicle-id]')].every(e => e.dataset.mode === 'RTL')`, 30*time.Second)
	c.shot("5-rtl")
	c.poll("both landed and disarmed", `[...document.querySelectorAll('#vehicles li[data-vehicle-id]')].every(e => e.dataset.armed === 'false')`, 180*time.Second)
	c.shot("6-landed")

	// Review: the flight's recorded track, and the slider moves the marker.
	c.run(chromedp.Click(`#tabs [data-tab="review"]`))
	c.poll("the review vehicle list", `document.querySelectorAll('#review-vehicle option').length === 2`, 10*time.Second)
	c.run(chromedp.Click("#review-load"))
	c.poll("the track on the map", `document.querySelector('path.review-track') !== null && !document.getElementById('review-slider').disabled && document.querySelector('path.review-marker')?.dataset.lat !== undefined`, 30*time.Second)
	before := eval[string](c, `document.querySelector('path.review-marker').dataset.lat + ',' + document.querySelector('path.review-marker').dataset.lon`)
	eval[bool](c, `(() => { const s = document.getElementById('review-slider'); s.value = 500; s.dispatchEvent(new Event('input')); return true })()`)
	c.poll("the marker moved along the track", fmt.Sprintf(`document.querySelector('path.review-marker').dataset.lat + ',' + document.querySelector('path.review-marker').dataset.lon !== %q`, before), 10*time.Second)
	c.shot("7-review")
}

// A plan that fails a check shows the finding and cannot be assigned: the
// button is disabled with the reason, and the station refuses a forged
// assignment with 409.
func TestConsoleFailedPlanCannotBeAssigned(t *testing.T) {
	c := startConsole(t, "console-failed-plan", 1, 1)
	c.login("pilot")
	// A refused area: the planner's problem is listed as it names it and
	// marked on the map at that vertex.
	bad, err := filepath.Abs(filepath.Join("testdata", "bowtie.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	c.run(chromedp.Click(`#tabs [data-tab="plan"]`), chromedp.SetUploadFiles("#area-file", []string{bad}))
	c.poll("the area's validation problem, listed and on the map", `document.getElementById('area-errors').textContent.includes('feature 0 ("Bow tie") shell vertex 0: ring intersects itself') && document.querySelector('path.area-problem') !== null`, 20*time.Second)
	c.shot("area-problem")
	c.importArea("corridor.geojson")
	// A vehicle that holds 5 mission items: the corridor does not fit.
	c.makePlan("corridor", 1, map[string]string{"mission_items": "5"})
	c.poll("the finding listed", `document.getElementById('plan-summary').dataset.ok === 'false' && document.querySelector('#plan-findings li[data-rule="items"]') !== null`, 10*time.Second)
	c.poll("Assign refused with the reason", `document.getElementById('assign').disabled && document.getElementById('assign-problem').textContent.includes('check(s): it cannot be assigned')`, 10*time.Second)
	c.shot("finding")
	// The vehicle's parameters: search, edit, verified by the station.
	c.run(chromedp.Click(`#tabs [data-tab="fly"]`))
	c.selectFirstVehicle()
	c.run(chromedp.Click("#params summary"), chromedp.Click("#params-load"))
	c.poll("the parameter list", `document.querySelectorAll('#params-list li').length > 50`, 60*time.Second)
	c.run(chromedp.SendKeys("#params-search", "wpnav speed"))
	c.poll("the search", `document.querySelectorAll('#params-list li').length >= 1 && [...document.querySelectorAll('#params-list li')].every(li => li.dataset.param.includes('WPNAV') && li.dataset.param.includes('SPEED'))`, 10*time.Second)
	c.run(chromedp.Click(`#params-list li[data-param="WPNAV_SPEED"]`))
	eval[bool](c, `(() => { document.getElementById('param-value').value = '750'; return true })()`)
	c.run(chromedp.Click("#param-set"))
	c.confirm("Set WPNAV_SPEED = 750")
	c.poll("the parameter set and verified", `document.getElementById('params-status').textContent.includes('WPNAV_SPEED = 750 (verified)') && document.querySelector('#params-list li[data-param="WPNAV_SPEED"] span').textContent === '750'`, 30*time.Second)
	c.shot("params")
	// Escape clears the selection; Ctrl+drag over the map selects what the box holds.
	eval[bool](c, `document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true})) || true`)
	c.poll("the selection cleared", `document.getElementById('selection-count').textContent === '' && document.getElementById('details').hidden`, 10*time.Second)
	eval[bool](c, `(() => { const m = document.getElementById('map'); const r = m.getBoundingClientRect();
		const ev = (type, x, y) => m.dispatchEvent(new MouseEvent(type, {clientX: r.left + x, clientY: r.top + y, ctrlKey: true, bubbles: true, button: 0}));
		ev('mousedown', 60, 20); ev('mousemove', r.width - 20, r.height - 20); ev('mouseup', r.width - 20, r.height - 20); return true })()`)
	c.poll("the box selected the vehicle", `document.getElementById('selection-count').textContent === '1 selected'`, 10*time.Second)
	c.run(chromedp.Click(`#tabs [data-tab="plan"]`))

	// Export drone 0's QGC .plan and import it back: its fence, home and
	// rally points make a valid area again.
	planFile := eval[string](c, `fetch(document.querySelector('#plan-export a[href*="format=plan"]').href).then(r => r.text())`)
	pf := filepath.Join(t.TempDir(), "drone-0.plan")
	if err := os.WriteFile(pf, []byte(planFile), 0o644); err != nil {
		t.Fatal(err)
	}
	c.run(chromedp.SetUploadFiles("#area-file", []string{pf}))
	c.poll("the area imported from the exported .plan", `document.querySelector('#area-errors li.ok')?.textContent.includes('drone-0.plan (from QGC plan)')`, 20*time.Second)
	got := eval[string](c, `(async () => {
		const s = await fetch('/api/v1/session').then(r => r.json());
		const id = document.getElementById('plan-summary').dataset.planId;
		const r = await fetch('/api/v1/plans/' + id + '/assign', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token},
			body: JSON.stringify({assignments: [{drone: 0, vehicle_id: document.querySelector('#vehicles li[data-vehicle-id]')?.dataset.vehicleId || 'x'}]})});
		return r.status + ' ' + (await r.json()).error.code; })()`)
	if got != fmt.Sprint(http.StatusConflict)+" conflict" {
		t.Fatalf("forged assignment of a failed plan answered %q, want 409 conflict", got)
	}
}
